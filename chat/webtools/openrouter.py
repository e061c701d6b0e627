"""OpenRouter's own web search, as the fragment to add to a chat completion request body."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

OPENROUTER_MAX_RESULTS = 25


def openrouter_web_plugin(
    *, max_results: int = 5, exclude_domains: Sequence[str] = (), engine: str | None = None
) -> dict[str, Any]:
    """``{"plugins": [{"id": "web", ...}]}`` to merge into an OpenRouter request body.

    OpenRouter then searches once per request (Exa, or the model provider's native search;
    `engine` forces "native" or "exa") and puts the results before the last user message;
    it bills about $4 per 1,000 results on the caller's key. `exclude_domains` takes
    DomainPolicy.excluded_search_domains as they are. Only for OpenRouter endpoints: other
    OpenAI-compatible servers reject or ignore `plugins`. OpenRouter now documents this
    plugin as superseded by its `openrouter:web_search` server tool (beta), which lets the
    model decide when to search; the plugin still works and needs no tool loop.
    """
    if not 1 <= max_results <= OPENROUTER_MAX_RESULTS:
        raise ValueError(f"max_results must be between 1 and {OPENROUTER_MAX_RESULTS}, not {max_results}")
    plugin: dict[str, Any] = {"id": "web", "max_results": max_results}
    if exclude_domains:
        plugin["exclude_domains"] = list(exclude_domains)
    if engine is not None:
        plugin["engine"] = engine
    return {"plugins": [plugin]}
