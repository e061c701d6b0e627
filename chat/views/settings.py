"""The Settings page: the endpoints a user may call, their own keys, and their own endpoints.

Keys are write-only here: no page ever renders one back, a blank key field keeps the stored key,
and removing a key is its own action. Every POST hides its parameters from error reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat.api_tokens import token_section
from chat.endpoints import guard
from chat.endpoints.crypto import KeyUnavailable
from chat.endpoints.resolve import server_endpoints
from chat.forms import BudgetForm, OwnEndpointForm, ProviderKeyForm
from chat.models import ProviderEndpoint, SpendBudget, UserProviderKey
from chat.providers.types import Endpoint
from chat.runs.gate import period_start, spent_since
from chat.views.requests import AuthenticatedHttpRequest

SETTINGS = "chat/settings.html"
ENDPOINT_PAGE = "chat/settings_endpoint.html"


@dataclass
class ServerEndpointRow:
    """One server endpoint as a user sees it: where it is, and whose key their runs use."""

    # Without its key: the page needs to know that the server has one, never what it is.
    endpoint: Endpoint
    server_has_key: bool
    user_key: UserProviderKey | None
    form: ProviderKeyForm | None

    @property
    def name(self) -> str:
        return self.endpoint.name

    @property
    def user_key_unreadable(self) -> bool:
        return self.user_key is not None and not self.user_key.key_is_readable()

    @property
    def status(self) -> str:
        if self.endpoint.simulated:
            return "Simulated on this server: no key needed"
        if self.user_key is not None:
            return KeyUnavailable.user_message if self.user_key_unreadable else "Your key is set"
        if self.server_has_key:
            return "Key set by the server"
        return "No key"


@dataclass
class OwnEndpointRow:
    endpoint: ProviderEndpoint
    # A server endpoint of the same name, added after this one, takes precedence over it.
    shadowed: bool
    # Why the server's rules keep it from being called (FUSIONROOM_USER_ENDPOINTS), if they do.
    refused: str | None = None

    @property
    def key_unreadable(self) -> bool:
        return self.endpoint.has_api_key and not self.endpoint.key_is_readable()

    @property
    def status(self) -> str:
        if not self.endpoint.has_api_key:
            return "No key"
        return KeyUnavailable.user_message if self.key_unreadable else "Your key is set"


def _key_endpoints() -> dict[str, Endpoint]:
    """The server endpoints a user may set their own key for (all but the simulator)."""
    return {endpoint.name: endpoint for endpoint in server_endpoints() if not endpoint.simulated}


def _settings_context(
    request: AuthenticatedHttpRequest,
    *,
    bound_key_form: ProviderKeyForm | None = None,
    add_form: OwnEndpointForm | None = None,
    budget_form: BudgetForm | None = None,
) -> dict[str, Any]:
    user = request.user
    keys = {row.endpoint: row for row in UserProviderKey.objects.filter(user=user)}
    server = server_endpoints()
    rows = []
    for endpoint in server:
        form = None
        if not endpoint.simulated:
            if bound_key_form is not None and bound_key_form.endpoint == endpoint.name:
                form = bound_key_form
            else:
                form = ProviderKeyForm(endpoint=endpoint.name, has_key=endpoint.name in keys)
        rows.append(
            ServerEndpointRow(
                endpoint=endpoint.model_copy(update={"api_key": ""}),
                server_has_key=bool(endpoint.api_key),
                user_key=keys.get(endpoint.name),
                form=form,
            )
        )
    server_names = {endpoint.name for endpoint in server}
    own = [
        OwnEndpointRow(
            endpoint=row,
            shadowed=row.name in server_names,
            refused=None if guard.mode() == "off" else guard.url_problem(row.base_url),
        )
        for row in ProviderEndpoint.objects.owned_by(user)
    ]
    budget = SpendBudget.objects.filter(user=user).first()
    return {
        "server_rows": rows,
        # Where the operator's endpoints are is the operator's business: names only, but staff.
        "show_server_urls": user.is_staff,
        "own_rows": own,
        "own_endpoints_off": guard.mode() == "off",
        "own_endpoints_off_message": guard.OFF_MESSAGE,
        "add_form": add_form or OwnEndpointForm(),
        "budget": budget,
        "budget_form": budget_form or BudgetForm(instance=budget),
        "spent": spent_since(user, period_start(budget.period)) if budget else None,
        "api_tokens": token_section(request, user),
    }


@login_required
@require_GET
def settings_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, SETTINGS, _settings_context(request))


@sensitive_post_parameters()
@sensitive_variables()
@login_required
@require_POST
def set_key(request: AuthenticatedHttpRequest, endpoint: str) -> HttpResponse:
    if endpoint not in _key_endpoints():
        raise Http404("No such server endpoint.")
    stored = UserProviderKey.objects.filter(user=request.user, endpoint=endpoint).first()
    form = ProviderKeyForm(request.POST, endpoint=endpoint, has_key=stored is not None)
    if not form.is_valid():
        return render(request, SETTINGS, _settings_context(request, bound_key_form=form), status=422)
    if not form.cleaned_data["api_key"]:
        messages.info(request, f"Your key for {endpoint} is unchanged.")
        return redirect("settings")
    row = stored or UserProviderKey(user=request.user, endpoint=endpoint)
    row.set_api_key(form.cleaned_data["api_key"])
    row.save()
    messages.success(request, f"Your key for {endpoint} is saved; your runs on {endpoint} use it.")
    return redirect("settings")


@sensitive_post_parameters()
@login_required
@require_POST
def remove_key(request: AuthenticatedHttpRequest, endpoint: str) -> HttpResponse:
    deleted, _ = UserProviderKey.objects.filter(user=request.user, endpoint=endpoint).delete()
    if not deleted:
        raise Http404("You have no key for this endpoint.")
    messages.success(request, f"Your key for {endpoint} is removed.")
    return redirect("settings")


@sensitive_post_parameters()
@sensitive_variables()
@login_required
@require_POST
def add_endpoint(request: AuthenticatedHttpRequest) -> HttpResponse:
    if guard.mode() == "off":
        messages.error(request, guard.OFF_MESSAGE)
        return render(request, SETTINGS, _settings_context(request), status=403)
    form = OwnEndpointForm(request.POST, instance=ProviderEndpoint(owner=request.user))
    if not form.is_valid():
        return render(request, SETTINGS, _settings_context(request, add_form=form), status=422)
    endpoint = form.save()
    messages.success(
        request, f"Endpoint {endpoint.name} is added: pick its models as {endpoint.name}::model."
    )
    return redirect("settings")


def _own_endpoint(request: AuthenticatedHttpRequest, pk: int) -> ProviderEndpoint:
    return get_object_or_404(ProviderEndpoint.objects.owned_by(request.user), pk=pk)


@sensitive_post_parameters()
@sensitive_variables()
@login_required
@require_http_methods(["GET", "POST"])
def edit_endpoint(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    if request.method == "POST" and guard.mode() == "off":
        messages.error(request, guard.OFF_MESSAGE)
        return redirect("settings")
    # Validation writes the submitted values onto the instance: the page keeps the saved name.
    context: dict[str, Any] = {"endpoint": endpoint, "saved_name": endpoint.name}
    form = OwnEndpointForm(request.POST or None, instance=endpoint)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, f"Endpoint {endpoint.name} is saved.")
            return redirect("settings")
        return render(request, ENDPOINT_PAGE, {**context, "form": form}, status=422)
    return render(request, ENDPOINT_PAGE, {**context, "form": form})


@login_required
@require_POST
def delete_endpoint(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    endpoint.delete()
    messages.success(request, f"Endpoint {endpoint.name} is deleted.")
    return redirect("settings")


@login_required
@require_POST
def remove_endpoint_key(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    endpoint.set_api_key("")
    endpoint.save(update_fields=["encrypted_api_key"])
    messages.success(request, f"The key of endpoint {endpoint.name} is removed.")
    return redirect("settings")


@login_required
@require_POST
def set_budget(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Set, change or (with an empty limit) remove the user's spend budget."""
    budget = SpendBudget.objects.filter(user=request.user).first()
    form = BudgetForm(request.POST, instance=budget)
    if not form.is_valid():
        return render(request, SETTINGS, _settings_context(request, budget_form=form), status=422)
    if form.cleaned_data["limit_usd"] is None:
        SpendBudget.objects.filter(user=request.user).delete()
        messages.success(request, "Your spend budget is removed.")
    else:
        saved = form.save(commit=False)
        saved.user = request.user
        saved.save()
        messages.success(request, f"Your budget is ${saved.limit_usd} a {saved.period}.")
    return redirect("settings")
