from django.contrib import admin

from demoshop.models import Order, OrderItem, Product, ShopCustomer


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "status", "placed_at"]
    list_filter = ["status"]
    search_fields = ["number", "customer__external_id"]
    inlines = [OrderItemInline]


admin.site.register(ShopCustomer)
admin.site.register(Product)
