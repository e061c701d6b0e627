"""The panel builder: the catalog, building by clicking, saving, and the list of saved panels."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from chat.endpoints import resolve as endpoints
from chat.endpoints.catalog import Catalog, load_catalog
from chat.endpoints.crypto import KeyUnavailable
from chat.fusion.options import MAX_INSTRUCTION_CHARS, MAX_TEMPERATURE, REASONING_EFFORTS
from chat.fusion.request import MAX_SEATS
from chat.models import Panel
from chat.panels import Draft
from chat.runs.toolbox import search_configured
from chat.views.requests import AuthenticatedHttpRequest, HtmxHttpRequest

BUILDER = "chat/builder.html"


async def _catalog_for(request: AuthenticatedHttpRequest, *, refresh: bool = False) -> Catalog:
    user = await request.auser()
    try:
        available = await sync_to_async(endpoints.endpoints_for)(user)
    except KeyUnavailable as error:
        # Without the user's own key there is no honest catalog to show: say what to do.
        return Catalog(
            [], down={error.endpoint or "your endpoint": f"{error.user_message} (Settings → keys)"}
        )
    return await load_catalog(available, refresh=refresh)


async def _presets_with_estimates(
    request: AuthenticatedHttpRequest, catalog: Catalog
) -> list[dict[str, Any]]:
    user = await request.auser()
    panels = [panel async for panel in Panel.objects.for_user(user)]
    rows = []
    for panel in panels:
        draft = Draft.from_panel(panel)
        rows.append({"panel": panel, "estimate": draft.estimate(catalog)})
    return rows


def _filters(request: HtmxHttpRequest) -> dict[str, Any]:
    raw_price = request.GET.get("max_price", "").strip()
    try:
        max_price = float(raw_price) if raw_price else None
    except ValueError:
        max_price = None
    sort = "price" if request.GET.get("sort") == "price" else "name"
    return {
        "q": request.GET.get("q", "").strip(),
        "provider": request.GET.get("provider", ""),
        "max_price": max_price,
        "tools": request.GET.get("tools") == "on",
        "sort": sort,
    }


def _catalog_context(catalog: Catalog, filters: dict[str, Any]) -> dict[str, Any]:
    return {
        "catalog": catalog,
        "filters": filters,
        "entries": catalog.search(
            filters["q"],
            provider=filters["provider"],
            max_price=filters["max_price"],
            tools_only=filters["tools"],
            sort=filters["sort"],
        ),
    }


async def _render_builder(
    request: AuthenticatedHttpRequest, draft: Draft, catalog: Catalog, *, status: int = 200
) -> HttpResponse:
    context = {
        **_catalog_context(catalog, _filters(request)),
        "draft": draft,
        "seats": draft.seat_list(catalog),
        "estimate": draft.estimate(catalog),
        "presets": await _presets_with_estimates(request, catalog),
        "max_seats": MAX_SEATS,
        "search_configured": search_configured(),
        "waiting": draft.waiting,
        "reasoning_efforts": REASONING_EFFORTS,
        "max_temperature": MAX_TEMPERATURE,
        "max_instruction_chars": f"{MAX_INSTRUCTION_CHARS:,}",
    }
    template = f"{BUILDER}#builder" if request.htmx else BUILDER
    return await sync_to_async(render)(request, template, context, status=status)


@login_required
@require_GET
async def panel_builder(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    draft = Draft()
    if pk is not None:
        user = await request.auser()
        panel = await Panel.objects.filter(owner=user, pk=pk).afirst()
        if panel is None:
            raise Http404("No such panel.")
        draft = Draft.from_panel(panel)
    return await _render_builder(
        request, draft, await _catalog_for(request, refresh="refresh" in request.GET)
    )


@login_required
@require_POST
async def builder_update(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A click in the builder (add, remove, move, pick): the builder again, with the change."""
    draft = Draft.from_post(request.POST)
    draft.apply(request.POST)
    return await _render_builder(request, draft, await _catalog_for(request))


@login_required
@require_GET
async def catalog_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    catalog = await _catalog_for(request, refresh="refresh" in request.GET)
    context = _catalog_context(catalog, _filters(request))
    return await sync_to_async(render)(request, f"{BUILDER}#catalog", context)


@login_required
@require_POST
async def panel_save(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    draft = Draft.from_post(request.POST)
    catalog = await _catalog_for(request)
    if not draft.validate(catalog, need_name=True):
        # 422 keeps htmx swapping the form with its messages; nothing is saved.
        return await _render_builder(request, draft, catalog, status=422)
    user = await request.auser()
    panel = await sync_to_async(draft.save)(user)
    await sync_to_async(messages.success)(request, f"Saved the panel “{panel.name}”.")
    url = f"{reverse('home')}?panel={panel.pk}"
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@login_required
@require_GET
def panel_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    panels = Panel.objects.filter(owner=request.user).order_by("name")
    presets = Panel.objects.filter(owner__isnull=True).order_by("position", "name")
    return render(request, "chat/panels.html", {"panels": panels, "presets": presets})


@login_required
@require_POST
def panel_rename(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    panel = get_object_or_404(Panel, owner=request.user, pk=pk)
    name = request.POST.get("name", "").strip()
    if not name or len(name) > 80:
        messages.error(request, "A panel name needs 1 to 80 characters.")
    else:
        panel.name = name
        panel.save(update_fields=["name"])
        messages.success(request, f"Renamed to “{name}”.")
    return redirect("panel_list")


@login_required
@require_POST
def panel_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    panel = get_object_or_404(Panel, owner=request.user, pk=pk)
    name = panel.name
    # Runs keep their copy of the panel's models; they only lose the link to it.
    panel.delete()
    messages.success(request, f"Deleted the panel “{name}”.")
    return redirect("panel_list")
