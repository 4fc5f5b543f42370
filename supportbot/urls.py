from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from conversations.widget import attachments as attachment_views
from conversations.widget import views as widget_views
from demoshop import host_page as demo_views
from knowledge import views as help_views
from supportbot.health import healthz

admin.site.site_header = "supportbot admin"
admin.site.site_title = "supportbot"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/widget/conversations", widget_views.widget_conversations, name="widget-conversations"),
    path("api/widget/config", widget_views.widget_config, name="widget-config"),
    path("api/widget/attachments", attachment_views.widget_attachment_upload, name="widget-attachments"),
    path("attachments/<uuid:public_id>/", attachment_views.attachment_file, name="attachment-file"),
    path("attachments/<uuid:public_id>/thumbnail", attachment_views.attachment_thumbnail, name="attachment-thumbnail"),
    path("inbox/", include("conversations.inbox.urls")),
    path("help/<slug:slug>/", help_views.help_article, name="help-article"),
    path("admin/", admin.site.urls),
]

# The demo host page and the demo shop's order API exist only in demo mode: outside it there is
# no URL to probe (their views also refuse, should this list ever be built differently).
if settings.DEMO_MODE:
    urlpatterns += [
        path("", demo_views.demo_host_page, name="demo-host"),
        path("demoshop/api/", include("demoshop.urls")),
    ]
