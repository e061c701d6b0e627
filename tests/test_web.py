"""The Django side of web tools: which backend a run gets, and whose domain lists apply."""

from __future__ import annotations

import asyncio
from typing import Any

from chat.models import Run
from chat.runs.toolbox import search_configured, toolbox_for


def test_demo_mode_searches_the_simulators_own_little_web(settings: Any) -> None:
    settings.FUSIONROOM_DEMO = True
    settings.FUSIONROOM_SEARCH_BACKEND = ""
    settings.FUSIONROOM_SIMULATOR_URL = "http://127.0.0.1:4567/v1"
    assert search_configured()

    async def build() -> Any:
        return toolbox_for(Run(excluded_domains=[], blocked_domains=[]).web_tools)

    tools = asyncio.run(build())
    assert tools.can_search


def test_without_a_backend_outside_demo_mode_search_is_not_configured(settings: Any) -> None:
    settings.FUSIONROOM_DEMO = False
    settings.FUSIONROOM_SEARCH_BACKEND = ""
    assert not search_configured()

    async def build() -> Any:
        return toolbox_for(Run(excluded_domains=[], blocked_domains=[]).web_tools)

    assert not asyncio.run(build()).can_search


def test_a_runs_domain_lists_add_to_the_servers_and_cannot_lift_them(settings: Any) -> None:
    settings.FUSIONROOM_DEMO = False
    settings.FUSIONROOM_EXCLUDED_DOMAINS = ["answers.example"]
    settings.FUSIONROOM_BLOCKED_DOMAINS = ["internal.example"]

    async def build() -> Any:
        return toolbox_for(Run(excluded_domains=["leak.example"], blocked_domains=["key.example"]).web_tools)

    policy = asyncio.run(build()).policy
    assert policy.excluded_search_domains == ["answers.example", "leak.example"]
    assert policy.blocked_fetch_domains == ["internal.example", "key.example"]
