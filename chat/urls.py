"""URL routes of the chat app."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from chat import views

urlpatterns = [
    path("", views.home, name="home"),
    path("send/", views.send_message, name="send_first_message"),
    path("c/<int:pk>/", views.conversation_detail, name="conversation"),
    path("c/<int:pk>/send/", views.send_message, name="send_message"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/stop/", views.stop_run, name="stop_run"),
    path("accounts/signup/", views.sign_up, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]
