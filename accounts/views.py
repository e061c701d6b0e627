"""Sign-up, and sign-in: Django's LoginView, saying so when failed attempts pause it (signin_limit)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import signin_limit
from accounts.forms import SignUpForm


def _refused_form(form_class: type[AuthenticationForm]) -> type[AuthenticationForm]:
    class Refused(form_class):  # type: ignore[valid-type,misc]
        """The sign-in form that never authenticates: its only error is the refusal."""

        def clean(self) -> dict[str, Any]:
            raise ValidationError(signin_limit.refusal_message(), code="signin_paused")

    return Refused


class SignInView(LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        if signin_limit.is_refused(username, signin_limit.client_address(request)):
            # Refused before the password is checked: a guess made now teaches nothing.
            return self._refused(username)
        return super().post(request, *args, **kwargs)

    def _refused(self, username: str) -> HttpResponse:
        form = _refused_form(self.get_form_class())(self.request, data={"username": username})
        form.is_valid()
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(signin_limit.window_seconds())
        return response


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})
