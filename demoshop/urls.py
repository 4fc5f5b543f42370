from django.urls import path

from demoshop import api

urlpatterns = [
    path("customers/<str:customer_id>", api.customer_detail),
    path("customers/<str:customer_id>/orders", api.customer_orders),
    path("customers/<str:customer_id>/address", api.customer_address),
    path("orders/<str:number>", api.order_detail),
    path("orders/<str:number>/cancel", api.order_cancel),
    path("orders/<str:number>/returns", api.order_return),
    path("orders/<str:number>/shipping-address", api.order_shipping_address),
    path("verifications", api.verification),
]
