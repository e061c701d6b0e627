"""The request-body fragment that turns on OpenRouter's own web search."""

from __future__ import annotations

import pytest

from chat.webtools import DomainPolicy, openrouter_web_plugin


def test_the_plugin_asks_for_web_results():
    assert openrouter_web_plugin() == {"plugins": [{"id": "web", "max_results": 5}]}


def test_the_plugin_carries_the_excluded_domains_and_engine():
    policy = DomainPolicy(excluded_search_domains=["Pinterest.com", "spam.example"])

    fragment = openrouter_web_plugin(
        max_results=3, exclude_domains=policy.excluded_search_domains, engine="exa"
    )

    assert fragment == {
        "plugins": [
            {
                "id": "web",
                "max_results": 3,
                "exclude_domains": ["pinterest.com", "spam.example"],
                "engine": "exa",
            }
        ]
    }


@pytest.mark.parametrize("max_results", [0, 26])
def test_the_plugin_refuses_result_counts_openrouter_does_not_take(max_results):
    with pytest.raises(ValueError, match="between 1 and 25"):
        openrouter_web_plugin(max_results=max_results)
