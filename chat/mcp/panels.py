"""The panels an MCP caller may fuse with: the user's presets and saved panels, named as the API
names them (chat.fusion_models), and the one a `fuse` call asks for."""

from __future__ import annotations

import copy

from chat.fusion_models import FUSION, fusion_models, is_fusion_model, resolve_fusion_model
from chat.mcp.caller import Caller
from chat.models import Panel


class UnknownPanel(Exception):
    """The panel asked for is none of the caller's; the message names the ones there are."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def callers_panels(caller: Caller) -> list[tuple[str, Panel]]:
    """Each panel the caller may use once, by its model id, in /v1/models' order. Sync.

    `fusion` is the default panel under another name: it is listed only when the caller may use
    that panel by no name of its own (a token allowed `fusion` alone)."""
    models = fusion_models(caller.user)
    allowed = [(model_id, panel) for model_id, panel in models if caller.may_use(model_id)]
    named = {panel.pk for model_id, panel in allowed if model_id != FUSION}
    return [(model_id, panel) for model_id, panel in allowed if model_id != FUSION or panel.pk not in named]


def find_panel(caller: Caller, asked: str | None) -> Panel:
    """The panel `asked` names (a name, any case, or a fusion model id); the first of the
    caller's panels when nothing is asked. Raises UnknownPanel. Sync."""
    panels = callers_panels(caller)
    if not panels:
        raise UnknownPanel("There is no panel you may use (the token's allowed models name none).")
    if asked is None or not asked.strip():
        return panels[0][1]
    wanted = asked.strip()
    for _, panel in panels:
        if panel.name.casefold() == wanted.casefold():
            return panel
    # The API's ids (fusion/quality, fusion/panel/<slug>) name panels too; no plain model ever does.
    if is_fusion_model(wanted) and caller.may_use(wanted):
        found = resolve_fusion_model(caller.user, wanted)
        if found is not None:
            return found
    names = ", ".join(panel.name for _, panel in panels)
    raise UnknownPanel(f"There is no panel {wanted!r}. Your panels: {names}.")


def with_web_search(panel: Panel, web: bool | None) -> Panel:
    """The panel with web search turned on or off for one run (None: as the panel has it); the
    run still names the saved panel, which is not changed."""
    if web is None or web == panel.web_search:
        return panel
    changed = copy.copy(panel)
    changed.web_search = web
    return changed
