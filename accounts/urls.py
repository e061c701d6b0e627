"""Sign-up, sign-in (rate-limited), sign-out and the password change, under /accounts/."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.forms import PasswordChange
from accounts.views import SignInView, sign_up

urlpatterns = [
    path("signup/", sign_up, name="signup"),
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(form_class=PasswordChange),
        name="password_change",
    ),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]
