"""An edited prompt in the exports: the JSON keeps which run asked what, the Markdown shows it."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Conversation, Run, Turn
from tests.sharing_data import build_conversation
from tests.test_export import exported, upload

EDITED = "Plan it for a team of three instead."


@pytest.fixture
def conversation(alice: User) -> Conversation:
    """The shared test conversation, its last prompt edited and asked again."""
    conversation = build_conversation(alice)
    last = Turn.objects.filter(conversation=conversation).order_by("-position").first()
    assert last is not None
    earlier = last.latest_run()
    assert earlier is not None
    edited = Run.objects.get(pk=earlier.pk)
    edited.pk = None
    edited.prompt = EDITED
    edited.retry_of = earlier
    edited.save()
    return conversation


def test_the_json_export_keeps_the_prompt_each_run_asked(
    as_alice: Client, conversation: Conversation
) -> None:
    runs = exported(as_alice, conversation)["turns"][-1]["runs"]

    assert [run["prompt"] for run in runs][-2:] == [None, EDITED]


def test_an_imported_copy_asks_its_follow_ups_with_the_edited_prompt(
    as_alice: Client, as_bob: Client, bob: User, conversation: Conversation
) -> None:
    response = as_bob.post("/import/", {"file": upload(json.dumps(exported(as_alice, conversation)))})

    copy = Conversation.objects.get(owner=bob)
    assert response.status_code == 302
    assert copy.thread_messages()[-2]["content"] == EDITED
    assert exported(as_bob, copy)["turns"] == exported(as_alice, conversation)["turns"]


def test_the_markdown_export_shows_the_edited_prompt_with_its_run(
    as_alice: Client, conversation: Conversation
) -> None:
    markdown = as_alice.get(f"/c/{conversation.pk}/export.md").content.decode()

    assert f"Asked with an edited prompt:\n\n> {EDITED}" in markdown
    assert markdown.count("Asked with an edited prompt") == 1
