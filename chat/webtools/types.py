"""What the web tools return and the one error they raise."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SearchResult(BaseModel):
    """One hit of a web search, with its snippet as plain text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    url: str
    snippet: str


class FetchedPage(BaseModel):
    """A fetched page's readable text.

    `url` is the final URL after redirects; `text` is already cut to the token budget and
    `truncated` says whether anything was left out (by the budget or the body size cap).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    title: str
    text: str
    truncated: bool


class WebToolsError(Exception):
    """A search or fetch that did not happen or failed.

    `message` is written for the model and the person reading the run, e.g.
    "Refused: 10.0.0.5 is a private address"; it never contains a key.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"WebToolsError({self.message!r})"
