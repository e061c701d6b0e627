"""POST /v1/chat/completions of fusion models, driven by the official openai SDK against a live server."""

from __future__ import annotations

import io
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
import openai
import pytest
from django.core import management
from django.utils import timezone

from chat.models import ApiToken, Conversation, Panel, Run, SpendBudget, Turn
from chat.providers import FUSION_DEPTH_HEADER
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]
ANALYSIS_KEYS = {"consensus", "contradictions", "partial_coverage", "unique_insights", "blind_spots"}
BUDGET_SEATS = ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"]


def run_of(fusion: dict) -> Run:
    """The response's run, once it has saved its end: the answer goes out at the pipeline's last
    event, the run's own save follows within moments."""
    deadline = time.monotonic() + 10
    while (run := Run.objects.get(pk=fusion["run_id"])).status == Run.Status.RUNNING:
        assert time.monotonic() < deadline, "the run never saved its end"
        time.sleep(0.02)
    return run


def streamed(stream) -> tuple[str, list]:
    """The content of a stream's chunks, and the chunks."""
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


def last_request(sim, model: str):
    """The simulator's newest request for `model` (its log spans the session)."""
    return [r for r in sim.requests if r.model == model][-1]


def fusion_of(chunks) -> dict:
    return next(c.model_extra["fusion"] for c in chunks if c.model_extra.get("fusion"))


@pytest.fixture
def code_review(alice) -> Panel:
    return Panel.objects.create(
        owner=alice,
        name="Code review",
        seats=["moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"],
        judge="openai/gpt-5.5",
    )


# --- fusion models, not streamed -----------------------------------------------------------------


def test_a_fusion_completion_is_the_fused_answer_with_its_analysis(sdk, sim):
    response = sdk.chat.completions.create(model="fusion", messages=QUESTION)

    fusion = response.model_extra["fusion"]
    assert response.choices[0].message.content == run_of(fusion).fused_text != ""
    assert fusion["status"] == "ok"
    assert set(fusion["analysis"]) == ANALYSIS_KEYS


def test_the_usage_is_the_runs_with_a_call_by_call_breakdown(sdk, sim):
    response = sdk.chat.completions.create(model="fusion/budget", messages=QUESTION)

    run = run_of(response.model_extra["fusion"])
    usage = response.usage
    assert (
        (usage.prompt_tokens, usage.completion_tokens) == (run.prompt_tokens, run.completion_tokens) != (0, 0)
    )
    assert usage.model_extra["cost"] == pytest.approx(run.cost)
    roles = [call["role"] for call in usage.model_extra["calls"]]
    assert roles == ["panel", "panel", "panel", "judge", "writer"]


def test_fusion_budget_runs_the_budget_panel(sdk, sim, presets):
    response = sdk.chat.completions.create(model="fusion/budget", messages=QUESTION)

    run = run_of(response.model_extra["fusion"])
    assert run.panel == presets["Budget"]
    assert [answer.model for answer in run.answers.order_by("index")] == BUDGET_SEATS


def test_a_saved_panel_is_called_by_its_model_id(sdk, sim, code_review):
    response = sdk.chat.completions.create(model="fusion/panel/code-review", messages=QUESTION)

    fusion = response.model_extra["fusion"]
    assert run_of(fusion).panel == code_review
    assert set(fusion["analysis"]) == ANALYSIS_KEYS
    assert fusion["judge"] == "openai/gpt-5.5"


def test_openrouter_fusion_is_fusion(sdk, sim, presets):
    response = sdk.chat.completions.create(model="openrouter/fusion", messages=QUESTION)

    assert (
        run_of(response.model_extra["fusion"]).panel
        == Panel.objects.for_user(response and presets["Quality"].owner).first()
    )


def test_the_messages_are_the_thread_the_panel_reads(sdk, sim):
    messages = [
        {"role": "system", "content": "Answer like a pirate."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Ahoy"},
        {"role": "user", "content": "Why is the sky blue?"},
    ]

    sdk.chat.completions.create(model="fusion/budget", messages=messages)

    assert last_request(sim, "moonshotai/kimi-k2.6").body["messages"] == messages


def test_an_api_run_is_in_its_owners_history_marked_with_the_token(sdk, sim, alice, token):
    response = sdk.chat.completions.create(model="fusion/budget", messages=QUESTION)

    run = run_of(response.model_extra["fusion"])
    assert run.api_token == token[0]
    assert run.turn.conversation.owner == alice
    assert response.model_extra["fusion"]["url"].endswith(run.turn.conversation.get_absolute_url())


def test_the_database_never_holds_the_token_in_clear(sdk, sim, token):
    sdk.chat.completions.create(model="fusion/budget", messages=QUESTION)

    dump = io.StringIO()
    management.call_command("dumpdata", "chat", "auth", stdout=dump)
    assert token[1] not in dump.getvalue()


# --- streamed -------------------------------------------------------------------------------------


def test_a_streamed_fusion_completion_streams_the_fused_answer(sdk, sim):
    text, chunks = streamed(
        sdk.chat.completions.create(model="fusion/budget", messages=QUESTION, stream=True)
    )

    fusion = fusion_of(chunks)
    assert text == run_of(fusion).fused_text != ""
    assert set(fusion["analysis"]) == ANALYSIS_KEYS
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_streamed_saved_panel_answers_like_the_unstreamed_one(sdk, sim, code_review):
    text, chunks = streamed(
        sdk.chat.completions.create(model="fusion/panel/code-review", messages=QUESTION, stream=True)
    )

    assert run_of(fusion_of(chunks)).panel == code_review
    assert text


def test_include_usage_ends_the_stream_with_a_usage_chunk_without_choices(sdk, sim):
    _, chunks = streamed(
        sdk.chat.completions.create(
            model="fusion", messages=QUESTION, stream=True, stream_options={"include_usage": True}
        )
    )

    last = chunks[-1]
    run = run_of(fusion_of(chunks))
    assert last.choices == []
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (
        run.prompt_tokens,
        run.completion_tokens,
    )


def test_without_include_usage_no_chunk_carries_usage(sdk, sim):
    _, chunks = streamed(sdk.chat.completions.create(model="fusion/budget", messages=QUESTION, stream=True))

    assert all(chunk.usage is None for chunk in chunks)


def test_fusion_events_draw_the_panel_live_on_request(sdk, sim):
    _, chunks = streamed(
        sdk.chat.completions.create(
            model="fusion/budget",
            messages=QUESTION,
            stream=True,
            stream_options={"include_fusion_events": True},
        )
    )

    said = [c.model_extra["fusion_event"] for c in chunks if "fusion_event" in c.model_extra]
    assert all(not c.choices for c in chunks if "fusion_event" in c.model_extra)
    kinds = {event["type"] for event in said}
    assert {"seat.started", "seat.delta", "seat.done", "analysis.started", "analysis.ready"} <= kinds


def test_the_stream_keeps_alive_with_comments_while_the_panel_works(api, token, sim):
    body = {"model": "fusion/budget", "messages": QUESTION, "stream": True}
    headers = {"Authorization": f"Bearer {token[1]}"}

    with httpx.stream("POST", f"{api}/chat/completions", json=body, headers=headers, timeout=60) as response:
        lines = list(response.iter_lines())

    assert response.headers["content-type"].startswith("text/event-stream")
    assert any(line.startswith(": fusion") for line in lines)
    assert [line for line in lines if line][-1] == "data: [DONE]"


# --- the plugin form ------------------------------------------------------------------------------


def test_the_fusion_plugin_picks_the_panel_and_the_judge(sdk, sim):
    plugin = {
        "id": "fusion",
        "analysis_models": ["moonshotai/kimi-k2.6", "openai/gpt-5.5"],
        "model": "deepseek/deepseek-v4-pro",
    }

    response = sdk.chat.completions.create(
        model="openrouter/fusion", messages=QUESTION, extra_body={"plugins": [plugin]}
    )

    run = run_of(response.model_extra["fusion"])
    assert [answer.model for answer in run.answers.order_by("index")] == plugin["analysis_models"]
    assert (run.judge, run.writer) == ("deepseek/deepseek-v4-pro", "deepseek/deepseek-v4-pro")
    assert response.model_extra["fusion"]["status"] == "ok"


@pytest.mark.parametrize(
    "plugin",
    [
        {"id": "fusion", "analysis_models": []},
        {"id": "fusion", "analysis_models": ["openai/gpt-5.5"] * 9},
        {"id": "fusion", "max_tool_calls": 0},
        {"id": "fusion", "max_tool_calls": 17},
    ],
)
def test_the_plugin_limits_are_openrouters(sdk, sim, plugin):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="fusion", messages=QUESTION, extra_body={"plugins": [plugin]})

    assert refused.value.body["param"].startswith("plugins.fusion")
    assert Run.objects.count() == 0


def test_a_plugin_model_outside_the_catalog_is_refused(sdk, sim):
    plugin = {"id": "fusion", "analysis_models": ["nobody/nothing"]}

    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="fusion", messages=QUESTION, extra_body={"plugins": [plugin]})


def test_include_responses_returns_each_seats_answer(sdk, sim):
    plugin = {"id": "fusion", "include_responses": True}

    response = sdk.chat.completions.create(
        model="fusion/budget", messages=QUESTION, extra_body={"plugins": [plugin]}
    )

    run = run_of(response.model_extra["fusion"])
    responses = response.model_extra["fusion"]["responses"]
    assert [(r["model"], r["content"]) for r in responses] == [
        (a.model, a.text) for a in run.answers.order_by("index")
    ]


def test_sampling_reaches_the_panel_and_the_judge_stays_at_zero(sdk, sim):
    sdk.chat.completions.create(
        model="fusion/budget", messages=QUESTION, temperature=0.9, max_completion_tokens=500
    )

    seat = last_request(sim, "moonshotai/kimi-k2.6")
    judge, writer = [r for r in sim.requests if r.model == "google/gemini-3-flash-preview"][-2:]
    assert (seat.body["temperature"], seat.body["max_tokens"]) == (0.9, 500)
    assert (writer.body["temperature"], writer.body["max_tokens"]) == (0.9, 500)
    assert judge.body["temperature"] == 0 and judge.body["response_format"]


# --- degradation and failure ----------------------------------------------------------------------


def test_a_seat_answering_429_degrades_the_run_and_is_named(sdk, sim):
    sim.configure("moonshotai/kimi-k2.6", fault="rate_limit", retry_after_s=0)

    response = sdk.chat.completions.create(model="fusion/budget", messages=QUESTION)

    fusion = response.model_extra["fusion"]
    assert fusion["status"] == "degraded"
    assert [(f["model"], f["status_code"]) for f in fusion["failed_models"]] == [
        ("moonshotai/kimi-k2.6", 429)
    ]
    assert response.choices[0].message.content


def test_a_failing_judge_degrades_the_run_without_analysis_and_returns_the_panels_answers(
    sdk, sim, code_review
):
    sim.configure("openai/gpt-5.5", fault="server_error")

    response = sdk.chat.completions.create(model="fusion/panel/code-review", messages=QUESTION)

    fusion = response.model_extra["fusion"]
    assert (fusion["status"], fusion["analysis"], fusion["failure_reason"]) == (
        "degraded",
        None,
        "judge_upstream_error",
    )
    assert [r["model"] for r in fusion["responses"]] == code_review.seats
    assert all(r["content"] in response.choices[0].message.content for r in fusion["responses"])


def test_every_seat_failing_is_an_error(sdk, sim, code_review):
    for model in code_review.seats:
        sim.configure(model, fault="server_error")

    with pytest.raises(openai.APIStatusError) as failed:
        sdk.chat.completions.create(model="fusion/panel/code-review", messages=QUESTION)

    assert failed.value.status_code == 502
    assert failed.value.body["code"] == "all_panels_failed"


def test_every_seat_rate_limited_is_a_429(sdk, sim, code_review):
    for model in code_review.seats:
        sim.configure(model, fault="rate_limit", retry_after_s=0)

    with pytest.raises(openai.RateLimitError) as failed:
        sdk.chat.completions.create(model="fusion/panel/code-review", messages=QUESTION)

    assert failed.value.response.headers["Retry-After"]


def test_a_failure_after_the_stream_began_raises_an_api_error(sdk, sim, code_review):
    for model in code_review.seats:
        sim.configure(model, fault="server_error")
    stream = sdk.chat.completions.create(model="fusion/panel/code-review", messages=QUESTION, stream=True)

    with pytest.raises(openai.APIError) as failed:
        list(stream)

    assert "Every seat failed" in failed.value.message


# --- refusals -------------------------------------------------------------------------------------


def test_the_depth_header_is_refused_as_fusion_recursion(sdk, sim):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model="fusion", messages=QUESTION, extra_headers={FUSION_DEPTH_HEADER: "1"}
        )

    assert refused.value.body["code"] == "fusion_recursion"
    assert Run.objects.count() == 0


def test_n_above_one_is_refused(sdk, sim):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="fusion", messages=QUESTION, n=2)

    assert refused.value.body["param"] == "n"


def test_a_thread_that_does_not_end_with_the_users_message_is_refused(sdk, sim):
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(
            model="fusion", messages=[*QUESTION, {"role": "assistant", "content": "Hm"}]
        )


def test_a_model_the_token_may_not_use_is_not_found(api, alice, sim):
    _, secret = ApiToken.objects.issue(alice, "narrow", allowed_models=["fusion/budget"])

    with (
        openai.OpenAI(base_url=api, api_key=secret, max_retries=0) as client,
        pytest.raises(openai.NotFoundError),
    ):
        client.chat.completions.create(model="fusion/quality", messages=QUESTION)


def test_a_plugin_model_the_token_may_not_use_is_forbidden(api, alice, sim):
    _, secret = ApiToken.objects.issue(alice, "narrow", allowed_models=["fusion"])
    plugin = {"id": "fusion", "analysis_models": ["openai/gpt-5.5"]}

    with (
        openai.OpenAI(base_url=api, api_key=secret, max_retries=0) as client,
        pytest.raises(openai.PermissionDeniedError),
    ):
        client.chat.completions.create(model="fusion", messages=QUESTION, extra_body={"plugins": [plugin]})


def refused_with(api: str, secret: str) -> openai.APIStatusError:
    with openai.OpenAI(base_url=api, api_key=secret, max_retries=0) as client:
        try:
            client.chat.completions.create(model="fusion", messages=QUESTION)
        except openai.APIStatusError as error:
            return error
    raise AssertionError("the call was not refused")


def test_a_bad_token_is_401(api, sim):
    assert isinstance(refused_with(api, "fr-not-a-token"), openai.AuthenticationError)


def test_a_revoked_token_is_401(api, token, sim):
    token[0].revoke()

    assert isinstance(refused_with(api, token[1]), openai.AuthenticationError)


def test_an_expired_token_is_401(api, alice, sim):
    _, secret = ApiToken.objects.issue(alice, "old", expires_at=timezone.now() - timedelta(seconds=1))

    assert isinstance(refused_with(api, secret), openai.AuthenticationError)


def test_a_user_at_the_run_limit_gets_429_with_retry_after(sdk, sim, alice, settings):
    conversation = Conversation.objects.create(owner=alice)
    turn = Turn.objects.create(conversation=conversation, position=0, prompt="earlier")
    Run.objects.bulk_create(Run(turn=turn, judge="j", writer="w", status=Run.Status.DONE) for _ in range(10))

    with pytest.raises(openai.RateLimitError) as refused:
        sdk.chat.completions.create(model="fusion", messages=QUESTION)

    assert Decimal(refused.value.response.headers["Retry-After"]) > 0


def test_a_token_over_its_budget_gets_402(api, alice, sim):
    _, secret = ApiToken.objects.issue(alice, "capped", budget_usd=Decimal("0"))

    refused = refused_with(api, secret)

    assert (refused.status_code, refused.body["code"]) == (402, "budget_exceeded")
    assert Run.objects.count() == 0


def test_a_user_over_their_budget_gets_402(api, alice, token, sim):
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("0"))

    refused = refused_with(api, token[1])

    assert (refused.status_code, refused.body["code"]) == (402, "budget_exceeded")


def test_a_body_that_is_not_json_is_a_400_in_openais_shape(api, token, sim):
    response = httpx.post(
        f"{api}/chat/completions", content=b"{nope", headers={"Authorization": f"Bearer {token[1]}"}
    )

    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "code", "param"}


def test_an_api_run_can_be_opened_in_the_chatroom(sdk, sim, alice):
    response = sdk.chat.completions.create(model="fusion/budget", messages=QUESTION)

    page = signed_in_client(alice).get(urlsplit(response.model_extra["fusion"]["url"]).path)
    assert page.status_code == 200
    assert "Why is the sky blue?" in page.content.decode()
