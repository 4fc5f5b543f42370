from django.contrib import admin
from django.urls import include, path

from conversations.widget import demo_views
from conversations.widget import views as widget_views
from supportbot.health import healthz

admin.site.site_header = "supportbot admin"
admin.site.site_title = "supportbot"

urlpatterns = [
    path("", demo_views.demo_host_page, name="demo-host"),
    path("healthz", healthz, name="healthz"),
    path("api/widget/conversations", widget_views.widget_conversations, name="widget-conversations"),
    path("api/widget/config", widget_views.widget_config, name="widget-config"),
    path("inbox/", include("conversations.inbox.urls")),
    path("admin/", admin.site.urls),
    path("demoshop/api/", include("demoshop.urls")),
]
