from django.contrib.auth import views as auth_views
from django.urls import path

from conversations.inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox_home, name="home"),
    path("c/<uuid:public_id>/", views.inbox_home, name="conversation"),
    path("c/<uuid:public_id>/reply", views.inbox_reply, name="reply"),
    path("c/<uuid:public_id>/resolve", views.inbox_resolve, name="resolve"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
