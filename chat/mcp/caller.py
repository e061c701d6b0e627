"""Who calls the MCP tools: a user, with the API token of an HTTP request (none over stdio)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User

from chat.fusion_models import token_may_use
from chat.models import ApiToken


@dataclass(frozen=True)
class Caller:
    user: User
    # The token an HTTP request came with: its allowed models and budget apply to the calls.
    token: ApiToken | None
    # Where the user opens their runs ("https://fusion.example.org"): the run's URL is built on it.
    site_url: str

    def may_use(self, model_id: str) -> bool:
        """Whether the caller may use a fusion model: any over stdio, the token's own over HTTP."""
        return self.token is None or token_may_use(self.token, model_id)

    def url(self, path: str) -> str:
        return self.site_url.rstrip("/") + path
