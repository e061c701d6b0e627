"""A panel's web-tool settings as one value: on or off, calls per seat, its two domain lists.

A panel holds them, a run copies them when it starts (the panel may change later), the builder
edits them, the export carries them and the pipeline and the toolbox read them: all as this.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Calls of web_search and web_fetch per seat, like OpenRouter's max_tool_calls.
MIN_TOOL_CALLS = 1
MAX_TOOL_CALLS = 16
DEFAULT_TOOL_CALLS = 8

FIELDS = ("web_search", "max_tool_calls", "excluded_domains", "blocked_domains")


class WebToolOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    web_search: bool = False
    max_tool_calls: int = Field(default=DEFAULT_TOOL_CALLS, ge=MIN_TOOL_CALLS, le=MAX_TOOL_CALLS)
    # Dropped from search results / never fetched (the server's own lists apply too).
    excluded_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: Any) -> WebToolOptions:
        """The options held in a row's (a Panel's or a Run's) fields of the same names."""
        return cls(**{name: getattr(row, name) for name in FIELDS})

    def fields(self) -> dict[str, Any]:
        """The options as a row's fields (lists, as the JSON fields hold them)."""
        return {
            "web_search": self.web_search,
            "max_tool_calls": self.max_tool_calls,
            "excluded_domains": list(self.excluded_domains),
            "blocked_domains": list(self.blocked_domains),
        }
