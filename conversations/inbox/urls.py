from django.contrib.auth import views as auth_views
from django.urls import path

from conversations.inbox import export_views, handoff_views, panels, supervisor, views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox_home, name="home"),
    path("c/<uuid:public_id>/", views.inbox_home, name="conversation"),
    path("c/<uuid:public_id>/reply", views.inbox_reply, name="reply"),
    path("c/<uuid:public_id>/resolve", views.inbox_resolve, name="resolve"),
    path("c/<uuid:public_id>/claim", handoff_views.inbox_claim, name="claim"),
    path("c/<uuid:public_id>/assign", handoff_views.inbox_assign, name="assign"),
    path("c/<uuid:public_id>/hand-back", handoff_views.inbox_hand_back, name="hand_back"),
    path("c/<uuid:public_id>/orders", panels.inbox_orders, name="orders"),
    path("c/<uuid:public_id>/suggestions", panels.inbox_suggestions, name="suggestions"),
    path("presence", handoff_views.inbox_presence, name="presence"),
    path("team/", supervisor.team_view, name="team"),
    path("metrics/", supervisor.metrics_view, name="metrics"),
    path("metrics/export", export_views.metrics_export_view, name="metrics_export"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
