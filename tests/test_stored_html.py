"""Finished answers are rendered once and kept: pages show the kept HTML, imports render again."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

import chat.rendering
from chat import export, sharing
from chat.models import Conversation, Run, SeatAnswer
from chat.rendering import render_answer
from tests.sharing_data import build_conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def conversation(alice: User) -> Conversation:
    return build_conversation(alice)


@pytest.fixture
def markdown_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = chat.rendering.render_markdown

    def counting(text: str) -> str:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(chat.rendering, "render_markdown", counting)
    return calls


def keep_html(conversation: Conversation) -> None:
    for answer in SeatAnswer.objects.filter(run__turn__conversation=conversation):
        SeatAnswer.objects.filter(pk=answer.pk).update(html=render_answer(answer.text))
    for run in Run.objects.filter(turn__conversation=conversation):
        Run.objects.filter(pk=run.pk).update(fused_html=render_answer(run.fused_text))


def test_a_shared_page_of_kept_answers_renders_no_markdown(
    client: Client, conversation: Conversation, markdown_calls: list[str]
) -> None:
    keep_html(conversation)
    link = sharing.create_link(conversation)
    markdown_calls.clear()

    response = client.get(f"/s/{link.token}/")

    assert response.status_code == 200
    assert "Plan in <strong>small steps</strong>" in response.content.decode()
    assert [text for text in markdown_calls if text.strip()] == []


def test_the_page_shows_the_kept_html_not_the_text_rendered_again(
    client: Client, conversation: Conversation
) -> None:
    run = Run.objects.filter(turn__conversation=conversation).exclude(fused_text="").first()
    assert run is not None
    Run.objects.filter(pk=run.pk).update(fused_html="<p>kept rendering</p>")
    link = sharing.create_link(conversation)

    assert "<p>kept rendering</p>" in client.get(f"/s/{link.token}/").content.decode()


def test_an_import_keeps_html_rendered_from_the_text(
    alice: User, conversation: Conversation, django_user_model: type[User]
) -> None:
    bob = django_user_model.objects.create_user("bob")
    document = export.ConversationDocument.model_validate_json(export.export_json(conversation))

    copy = export.import_document(document, bob)

    answers = SeatAnswer.objects.filter(run__turn__conversation=copy).exclude(text="")
    runs = Run.objects.filter(turn__conversation=copy).exclude(fused_text="")
    assert answers and runs
    assert all(answer.html == render_answer(answer.text) for answer in answers)
    assert all(run.fused_html == render_answer(run.fused_text) for run in runs)
