"""Fusion models: a user's presets and saved panels by the model ids the API (/v1/models) and the
MCP server name them with, and which of them an API token may use."""

from __future__ import annotations

from typing import Any

from django.utils.text import slugify

from chat.models import ApiToken, Panel

FUSION = "fusion"
PRESET_PREFIX = "fusion/"
SAVED_PANEL_PREFIX = "fusion/panel/"
# Code written for OpenRouter's Fusion works by changing only the base URL and the key.
ALIASES = {"openrouter/fusion": FUSION}


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
