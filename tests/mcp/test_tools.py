"""The MCP tools through the official SDK's client, over stdio and over HTTP alike."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chat.models import Conversation, Panel, Run, SpendBudget
from tests.mcp.conftest import call, run_client

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "Why is the sky blue?"
ANALYSIS_KEYS = {"consensus", "contradictions", "partial_coverage", "unique_insights", "blind_spots"}


@pytest.fixture
def code_review(alice) -> Panel:
    return Panel.objects.create(
        owner=alice,
        name="Code review",
        seats=["moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"],
        judge="openai/gpt-5.5",
    )


def test_list_panels_names_the_presets_and_the_users_own_panels(connect, code_review):
    result = call(connect, "list_panels", {})

    assert not result.is_error
    panels = {panel["name"]: panel for panel in result.structured_content["panels"]}
    assert set(panels) == {"Quality", "Budget", "Code review"}
    assert panels["Code review"] == {
        "name": "Code review",
        "model": "fusion/panel/code-review",
        "seats": ["moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"],
        "judge": "openai/gpt-5.5",
        "writer": "openai/gpt-5.5",
        "web_search": False,
    }
    assert panels["Budget"]["model"] == "fusion/budget"


def test_fuse_answers_with_the_fused_answer_and_reports_progress_per_step(connect, alice, sim):
    progress: list[tuple[float, float | None, str | None]] = []

    async def record(done, total, message):
        progress.append((done, total, message))

    result = call(connect, "fuse", {"question": QUESTION}, progress_callback=record)

    assert not result.is_error
    report = result.structured_content
    run = Run.objects.get(pk=report["run_id"])
    assert result.content[0].text == report["answer"] == run.fused_text != ""
    assert report["status"] == run.status == "done"
    assert set(report["analysis"]) == ANALYSIS_KEYS
    assert [seat["status"] for seat in report["seats"]] == ["done"] * len(run.answers.all())
    assert report["url"].endswith(f"/c/{run.turn.conversation_id}/")
    assert report["usage"]["total_tokens"] == run.total_tokens > 0
    messages = [message for _, _, message in progress]
    assert messages[0].startswith(f"run {run.pk} started")
    assert "seat 1 (" in messages[1] and messages[1].endswith("started")
    assert any(message.endswith("answered") for message in messages)
    assert any(message.startswith("the judge") for message in messages)
    assert any(message.endswith("is writing the answer") for message in messages)
    assert [done for done, _, _ in progress] == list(range(1, len(progress) + 1))


def test_a_fused_run_is_in_the_users_history(connect, alice, sim):
    result = call(connect, "fuse", {"question": QUESTION, "panel": "budget"})

    run = Run.objects.get(pk=result.structured_content["run_id"])
    assert run.status == Run.Status.DONE
    assert run.turn.conversation.owner == alice
    assert run.turn.prompt == QUESTION
    assert run.panel_name == "Budget"
    assert list(Conversation.objects.filter(owner=alice)) == [run.turn.conversation]


def test_fuse_takes_a_panel_by_name_in_any_case_and_the_web_switch(connect, code_review, sim):
    result = call(connect, "fuse", {"question": QUESTION, "panel": "CODE REVIEW", "web": True})

    assert not result.is_error
    run = Run.objects.get(pk=result.structured_content["run_id"])
    assert (run.panel, run.web_search) == (code_review, True)
    code_review.refresh_from_db()
    assert code_review.web_search is False  # for this call only


def test_an_unknown_panel_is_a_tool_error_naming_the_panels_there_are(connect, alice):
    result = call(connect, "fuse", {"question": QUESTION, "panel": "Nope"})

    assert result.is_error
    assert "There is no panel 'Nope'. Your panels: Quality, Budget." in result.content[0].text
    assert not Run.objects.exists()


def test_a_plain_catalog_model_is_no_panel(connect, alice):
    result = call(connect, "fuse", {"question": QUESTION, "panel": "openai/gpt-5.5"})

    assert result.is_error and "There is no panel 'openai/gpt-5.5'" in result.content[0].text
    assert not Run.objects.exists()


def test_a_run_over_the_budget_is_a_tool_error_with_the_gates_words(connect, alice, make_run):
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("1.00"))
    Run.objects.filter(pk=make_run(alice).pk).update(status=Run.Status.DONE, cost=1.0)

    result = call(connect, "fuse", {"question": QUESTION})

    assert result.is_error
    assert "would go over your daily budget of $1.00" in result.content[0].text
    assert Run.objects.count() == 1


def test_get_run_reads_a_run_of_ones_own_again(connect, alice, sim):
    async def fuse_then_get(client):
        fused = await client.call_tool("fuse", {"question": QUESTION})
        return fused, await client.call_tool("get_run", {"run_id": fused.structured_content["run_id"]})

    fused, got = run_client(connect, fuse_then_get)

    assert not got.is_error
    report = got.structured_content
    assert report["status"] == "done"
    assert report["answer"] == fused.structured_content["answer"] == got.content[0].text
    assert report["analysis"] == fused.structured_content["analysis"]
    assert report["seats"] == fused.structured_content["seats"]
    assert report["url"] == fused.structured_content["url"]


def test_get_run_of_another_users_run_is_not_found(connect, bob, make_run):
    bobs = make_run(bob)

    result = call(connect, "get_run", {"run_id": bobs.pk})

    assert result.is_error
    assert result.content[0].text.endswith(f"There is no run {bobs.pk} of yours.")
    assert result.structured_content is None


def test_a_run_whose_every_seat_fails_is_a_tool_error_that_names_the_run(connect, code_review, sim):
    for model in code_review.seats:
        sim.configure(model, fault="server_error")

    result = call(connect, "fuse", {"question": QUESTION, "panel": "Code review"})

    assert result.is_error
    run = Run.objects.get(pk=result.structured_content["run_id"])
    assert result.structured_content["status"] == run.status == Run.Status.FAILED
    text = result.content[0].text
    assert text.startswith("The run failed (all_panels_failed): Every seat failed")
    assert text.endswith(f"Run {run.pk}: {result.structured_content['url']}")
    assert [seat["status"] for seat in result.structured_content["seats"]] == ["failed", "failed"]


def test_a_seat_that_fails_is_reported_beside_the_answer(connect, code_review, sim):
    sim.configure("moonshotai/kimi-k2.6", fault="server_error")

    result = call(connect, "fuse", {"question": QUESTION, "panel": "Code review"})

    assert not result.is_error
    report = result.structured_content
    assert report["status"] == "degraded"
    failed, answered = report["seats"]
    assert (failed["model"], failed["status"]) == ("moonshotai/kimi-k2.6", "failed") and failed["error"]
    assert (answered["model"], answered["status"]) == ("deepseek/deepseek-v4-pro", "done")
    assert "deepseek/deepseek-v4-pro" in result.content[0].text  # one answer: no fusion, the answer itself


def test_fuse_takes_a_panel_by_its_api_model_id_too(connect, alice, sim):
    result = call(connect, "fuse", {"question": QUESTION, "panel": "fusion/quality"})

    assert not result.is_error
    assert Run.objects.get(pk=result.structured_content["run_id"]).panel_name == "Quality"


def test_an_empty_question_is_a_tool_error_and_starts_nothing(connect, alice):
    result = call(connect, "fuse", {"question": "  \n"})

    assert result.is_error and result.content[0].text.endswith("The question is empty.")
    assert not Run.objects.exists()
