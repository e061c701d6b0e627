"""Settings → API tokens: make a token (its secret shown once), and revoke one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from chat.api_tokens import FORM_PREFIX, TokenSection, token_section
from chat.forms import ApiTokenForm
from chat.models import ApiToken
from chat.views import settings as settings_views
from chat.views.requests import AuthenticatedHttpRequest

SECTION = "chat/settings_api_tokens.html"


def _show(request: AuthenticatedHttpRequest, section: TokenSection, *, status: int = 200) -> HttpResponse:
    """The section alone for htmx, else the whole Settings page with it."""
    if request.htmx:
        return render(request, SECTION, {"section": section}, status=status)
    context = {**settings_views._settings_context(request), "api_tokens": section}
    return render(request, settings_views.SETTINGS, context, status=status)


# never_cache: the page with the secret must stay in no cache, the browser's back-forward one included.
@never_cache
@sensitive_variables("secret")
@login_required
@require_POST
def create_api_token(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST, user=request.user, prefix=FORM_PREFIX)
    if not form.is_valid():
        return _show(request, token_section(request, request.user, form=form), status=422)
    token, secret = form.issue()
    # Rendered here, never redirected to: the secret is in this one response and nowhere else.
    return _show(request, token_section(request, request.user, created=token, secret=secret))


@login_required
@require_POST
def revoke_api_token(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
    token.revoke()
    if request.htmx:
        return _show(request, token_section(request, request.user))
    messages.success(request, f"The API token {token.name!r} is revoked: it no longer opens the API.")
    return redirect("settings")
