"""The Content Security Policy on every page, the nonce on our scripts, templates that need no exception."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from chat import sharing
from chat.models import Run

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
EXPECTED = {
    "default-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


def policy(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.fixture
def finished_run(alice: User, make_run: Callable[..., Run]) -> Run:
    run = make_run(alice)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.DONE, stage=Run.Stage.FINISHED)
    run.refresh_from_db()
    return run


def test_every_kind_of_page_carries_the_policy(as_alice: Client, finished_run: Run) -> None:
    link = sharing.create_link(finished_run.turn.conversation)
    pages = [
        (as_alice, "/"),
        (as_alice, finished_run.turn.conversation.get_absolute_url()),
        (as_alice, "/settings/"),
        (as_alice, "/panels/new/"),
        (Client(), "/accounts/login/"),
        (Client(), "/accounts/signup/"),
        (Client(), link.get_absolute_url()),
    ]
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        found = policy(response)
        for directive, values in EXPECTED.items():
            assert found.get(directive) == values, (url, directive, found.get(directive))
        assert "'unsafe-inline'" not in response["Content-Security-Policy"], url
        assert "'unsafe-eval'" not in response["Content-Security-Policy"], url
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_every_script_of_the_chatroom_carries_the_nonce_of_its_response(as_alice: Client) -> None:
    response = as_alice.get("/")
    script_src = policy(response)["script-src"]
    (nonce_source,) = [value for value in script_src if value.startswith("'nonce-")]
    nonce = nonce_source.removeprefix("'nonce-").removesuffix("'")
    assert script_src == ["'self'", nonce_source] and len(nonce) >= 16
    scripts = SCRIPT_TAG.findall(response.content.decode())
    assert len(scripts) >= 3  # htmx, its websocket extension, our own app.js
    for tag in scripts:
        assert f'nonce="{nonce}"' in tag, tag
        assert " src=" in tag, f"an inline script needs a nonce exception: {tag}"


def test_each_response_gets_a_new_nonce(as_alice: Client) -> None:
    first, second = (policy(as_alice.get("/"))["script-src"] for _ in range(2))
    assert first != second


def test_the_shared_page_has_only_the_copy_script(alice: User, finished_run: Run) -> None:
    response = Client().get(sharing.create_link(finished_run.turn.conversation).get_absolute_url())
    (nonce_source,) = [value for value in policy(response)["script-src"] if value.startswith("'nonce-")]
    nonce = nonce_source.removeprefix("'nonce-").removesuffix("'")
    # The Copy buttons' own file (static/chat/tools.js): no htmx, nothing inline.
    scripts = SCRIPT_TAG.findall(response.content.decode())
    assert scripts == [f'<script src="/static/chat/tools.js" defer nonce="{nonce}">']


def test_htmx_is_told_not_to_inject_its_indicator_style(as_alice: Client) -> None:
    page = as_alice.get("/").content.decode()
    found = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page)
    assert found is not None
    config = json.loads(found.group(1))
    assert config["includeIndicatorStyles"] is False
    assert config["selfRequestsOnly"] is True
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False


@pytest.mark.parametrize(
    "path", sorted(TEMPLATES.rglob("*.html")), ids=lambda path: str(path.relative_to(TEMPLATES))
)
def test_no_template_needs_inline_style_or_script(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"\sstyle\s*=", text), "inline style= attribute"
    assert not re.search(r"<style\b", text, re.IGNORECASE), "<style> element"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert not re.search(r"\shx-on[:-]", text), "hx-on handler (eval, which htmx is told not to do)"
    for tag in SCRIPT_TAG.findall(text):
        assert " src=" in tag and "nonce=" in tag, tag
