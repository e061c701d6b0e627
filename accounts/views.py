"""Sign-up, and sign-in: Django's LoginView, saying so when failed attempts pause it (signin_limit)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import signin_limit, signup_limit
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


# never_cache: a refused sign-up page holds the passwords typed (accounts/forms.py).
@never_cache
@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    """Sign-up while FUSIONROOM_SIGNUP is open, at most so many attempts an address; when closed,
    a page saying staff create accounts, and every POST refused."""
    if request.user.is_authenticated:
        return redirect("home")
    if settings.FUSIONROOM_SIGNUP != "open":
        status = 403 if request.method == "POST" else 200
        return render(request, "registration/signup_closed.html", status=status)
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        address = signin_limit.client_address(request)
        if signup_limit.is_refused(address):
            # Refused before the form is read: an attempt now says nothing about the username.
            context = {"form": SignUpForm(), "refusal": signup_limit.refusal_message()}
            response = render(request, "registration/signup.html", context, status=429)
            response["Retry-After"] = str(signup_limit.window_seconds())
            return response
        signup_limit.record_attempt(address)
        if form.is_valid():
            user = form.save()
            login(request, user)
            return redirect("home")
    return render(request, "registration/signup.html", {"form": form})
