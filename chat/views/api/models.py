"""Which models the API offers a token: fusion models (presets, saved panels) and the plain catalog."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from django.utils.text import slugify

from chat.endpoints.catalog import Catalog, CatalogEntry, load_catalog
from chat.endpoints.crypto import KeyUnavailable
from chat.endpoints.resolve import endpoints_for
from chat.models import ApiToken, Panel
from chat.views.api.decorators import api_view
from chat.views.api.errors import ApiError

FUSION = "fusion"
PRESET_PREFIX = "fusion/"
SAVED_PANEL_PREFIX = "fusion/panel/"
# Code written for OpenRouter's Fusion works by changing only the base URL and the key.
ALIASES = {"openrouter/fusion": FUSION}
OWNER = "fusionroom"


def canonical_model_id(model_id: str) -> str:
    """The model id with aliases resolved: openrouter/fusion is fusion."""
    return ALIASES.get(model_id, model_id)


def is_fusion_model(model_id: str) -> bool:
    """Whether the id names a fusion model (known or not): such an id never passes through."""
    canonical = canonical_model_id(model_id)
    return canonical == FUSION or canonical.startswith(PRESET_PREFIX)


def same_model_ids(model_id: str) -> set[str]:
    """The id and every other name of the same model (fusion and openrouter/fusion)."""
    canonical = canonical_model_id(model_id)
    return {model_id, canonical} | {alias for alias, target in ALIASES.items() if target == canonical}


def token_may_use(token: ApiToken, model_id: str) -> bool:
    """The token's allowed models, aliases included: a token allowed fusion may call
    openrouter/fusion, and one allowed openrouter/fusion may call fusion."""
    return any(token.may_use(name) for name in same_model_ids(model_id))


def panel_slug(panel: Panel) -> str:
    # Saved panels have no slug of their own: their name gives one.
    return panel.slug or slugify(panel.name) or "panel"


def saved_panels(user: Any) -> dict[str, Panel]:
    """The user's own panels by their model id, fusion/panel/<slug>; two panels whose names
    give the same slug are told apart by their number (fusion/panel/<slug>-<pk>). Sync."""
    panels = list(Panel.objects.filter(owner=user).order_by("position", "name", "pk"))
    counts: dict[str, int] = {}
    for panel in panels:
        counts[panel_slug(panel)] = counts.get(panel_slug(panel), 0) + 1
    by_id: dict[str, Panel] = {}
    for panel in panels:
        slug = panel_slug(panel)
        model_id = SAVED_PANEL_PREFIX + (slug if counts[slug] == 1 else f"{slug}-{panel.pk}")
        by_id.setdefault(model_id, panel)
    return by_id


def fusion_models(user: Any) -> list[tuple[str, Panel]]:
    """Every fusion model of the user, in the listing's order: fusion (the chatroom's default
    panel, the first of Panel.objects.for_user), fusion/<preset slug>, fusion/panel/<slug>. Sync."""
    panels = list(Panel.objects.for_user(user))
    found: list[tuple[str, Panel]] = []
    if panels:
        found.append((FUSION, panels[0]))
    presets = [panel for panel in panels if panel.owner_id is None and panel.slug]
    found += [(PRESET_PREFIX + panel.slug, panel) for panel in presets]
    found += list(saved_panels(user).items())
    return found


def resolve_fusion_model(user: Any, model_id: str) -> Panel | None:
    """The panel a fusion model id names for this user (openrouter/fusion is fusion), or None
    when the id names no panel of theirs. Sync (database): await it through sync_to_async."""
    model_id = canonical_model_id(model_id)
    if model_id == FUSION:
        return Panel.objects.for_user(user).first()
    if model_id.startswith(SAVED_PANEL_PREFIX):
        return saved_panels(user).get(model_id)
    if model_id.startswith(PRESET_PREFIX):
        slug = model_id.removeprefix(PRESET_PREFIX)
        return Panel.objects.for_user(user).filter(owner__isnull=True, slug=slug).first() if slug else None
    return None


def panel_named(user: Any, name: str) -> Panel | None:
    """The user's panel a request names: by its fusion model id (fusion/quality,
    fusion/panel/<slug>), else by a preset's or saved panel's name (case aside), else None. Sync."""
    if is_fusion_model(name):
        return resolve_fusion_model(user, name)
    panels = Panel.objects.for_user(user)
    return panels.filter(name__iexact=name.strip()).first() or panels.filter(slug=name.strip()).first()


def fusion_object(panel: Panel) -> dict[str, Any]:
    """A fusion model's panel, judge and writer as /v1/models describes them."""
    return {
        "name": panel.name,
        "panel": list(panel.seats),
        "judge": panel.judge,
        "writer": panel.writer_model,
        "web_search": panel.web_search,
        "max_tool_calls": panel.max_tool_calls,
    }


def fusion_entry(model_id: str, panel: Panel) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": int(panel.created_at.timestamp()),
        "owned_by": OWNER,
        "fusion": fusion_object(panel),
    }


def catalog_entry(entry: CatalogEntry) -> dict[str, Any]:
    # Catalogs say nothing of when a model was made; 0 keeps the field an integer, as SDKs expect.
    return {"id": entry.ref, "object": "model", "created": 0, "owned_by": entry.info.provider}


async def user_catalog(user: Any) -> Catalog:
    """The plain models the user's runs can call; endpoints that are down are left out."""
    try:
        endpoints = await sync_to_async(endpoints_for)(user)
    except KeyUnavailable:
        # A key of theirs can no longer be read: their endpoints are not called (Settings says why).
        return Catalog([])
    return await load_catalog(endpoints)


async def available_models(token: ApiToken) -> list[dict[str, Any]]:
    """What /v1/models lists for the token: fusion models, then the plain catalog, each allowed."""
    fusion = await sync_to_async(fusion_models)(token.user)
    catalog = await user_catalog(token.user)
    fusion_ids = {model_id for model_id, _ in fusion}
    entries = [fusion_entry(model_id, panel) for model_id, panel in fusion]
    entries += [
        catalog_entry(entry)
        for entry in sorted(catalog.entries, key=lambda entry: entry.ref)
        if entry.ref not in fusion_ids
    ]
    return [entry for entry in entries if token_may_use(token, entry["id"])]


def model_not_found(model_id: str) -> ApiError:
    """One answer for an unknown model and one the token may not use: nothing to learn by probing."""
    return ApiError(
        404,
        f"The model {model_id!r} does not exist or this token may not use it (GET /v1/models lists them).",
        code="model_not_found",
        param="model",
    )


async def find_model(token: ApiToken, model_id: str) -> dict[str, Any]:
    """The /v1/models entry of one model the token may use; ApiError 404 otherwise."""
    if not token_may_use(token, model_id):
        raise model_not_found(model_id)
    if is_fusion_model(model_id):
        panel = await sync_to_async(resolve_fusion_model)(token.user, model_id)
        if panel is None:
            raise model_not_found(model_id)
        return fusion_entry(model_id, panel)
    entry = (await user_catalog(token.user)).get(model_id)
    if entry is None:
        raise model_not_found(model_id)
    return catalog_entry(entry)


@api_view("GET")
async def list_models(request: HttpRequest, token: ApiToken) -> JsonResponse:
    return JsonResponse({"object": "list", "data": await available_models(token)})


@api_view("GET")
async def retrieve_model(request: HttpRequest, token: ApiToken, model_id: str) -> JsonResponse:
    return JsonResponse(await find_model(token, model_id))
