"""POST /v1/chat/completions of plain catalog models: passed through with the user's endpoints."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import openai
import pytest

from chat.models import ApiCall, Run, SpendBudget
from chat.runs import gate

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]
MODEL = "moonshotai/kimi-k2.6"


def test_a_plain_model_passes_through(sdk, sim):
    response = sdk.chat.completions.create(model=MODEL, messages=QUESTION)

    sent = [r for r in sim.requests if r.model == MODEL][-1]
    assert sent.body["messages"] == QUESTION
    assert response.choices[0].message.content
    assert response.usage.completion_tokens == sent.completion_tokens
    assert Run.objects.count() == 0


def test_a_plain_model_streams_through_with_its_usage(sdk, sim):
    chunks = list(
        sdk.chat.completions.create(
            model=MODEL, messages=QUESTION, stream=True, stream_options={"include_usage": True}
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    sent = [r for r in sim.requests if r.model == MODEL][-1]
    assert len(text) > 20
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == sent.completion_tokens


def test_a_plain_model_a_provider_refuses_is_that_error(sdk, sim):
    sim.configure(MODEL, fault="rate_limit", retry_after_s=0)

    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model=MODEL, messages=QUESTION)


def test_a_model_outside_the_catalog_is_not_found(sdk, sim):
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="nobody/nothing", messages=QUESTION)


def test_a_plain_model_ignores_the_depth_header(sdk, sim):
    # Only fusion models recurse: a fusion run of another FusionRoom may call this one's catalog.
    response = sdk.chat.completions.create(
        model=MODEL, messages=QUESTION, extra_headers={"X-FusionRoom-Depth": "1"}
    )

    assert response.choices[0].message.content


# -- a pass-through spends the same keys: it is counted, and the budgets and limits hold -----------


def test_a_plain_models_call_is_counted_with_what_it_used(sdk, sim, alice, token):
    response = sdk.chat.completions.create(model=MODEL, messages=QUESTION)

    (call,) = ApiCall.objects.all()
    assert (call.user, call.token, call.model, call.status) == (alice, token[0], MODEL, ApiCall.Status.DONE)
    assert call.completion_tokens == response.usage.completion_tokens > 0
    assert call.cost == pytest.approx(response.usage.model_extra["cost"])
    assert gate.committed_since(alice, call.started_at) == Decimal(str(call.cost))


def test_a_streamed_plain_model_call_is_counted_too(sdk, sim, token):
    chunks = list(
        sdk.chat.completions.create(
            model=MODEL, messages=QUESTION, stream=True, stream_options={"include_usage": True}
        )
    )

    (call,) = ApiCall.objects.all()
    assert call.status == ApiCall.Status.DONE
    assert call.completion_tokens == chunks[-1].usage.completion_tokens > 0


def test_a_plain_model_over_the_users_budget_is_refused_402_and_not_called(sdk, sim, alice):
    SpendBudget.objects.create(user=alice, period="day", limit_usd=0)
    asked_before = len(sim.requests)

    with pytest.raises(openai.APIStatusError) as refused:
        sdk.chat.completions.create(model=MODEL, messages=QUESTION)

    assert refused.value.status_code == 402 and refused.value.code == "budget_exceeded"
    assert len(sim.requests) == asked_before and ApiCall.objects.count() == 0


def test_a_call_its_reservation_refuses_is_hung_up_before_the_caller_hears_a_word(sdk, sim, alice):
    # Some budget is left, so the check before the call passes, but not the call's estimate (its
    # max_tokens of answer): the reservation, made while the request goes out, refuses it.
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("0.001"))
    sim.hold(MODEL)  # the model says nothing until released: only the refusal can end the call
    question = [{"role": "user", "content": "Why is the sky blue? (reservation refused)"}]

    with pytest.raises(openai.APIStatusError) as refused:
        sdk.chat.completions.create(model=MODEL, messages=question, stream=True)

    assert refused.value.status_code == 402 and refused.value.code == "budget_exceeded"
    assert ApiCall.objects.count() == 0
    asked = [r for r in sim.requests if "reservation refused" in json.dumps(r.body)]
    deadline = time.monotonic() + 10
    while not all(r.finished for r in asked):
        assert time.monotonic() < deadline, "the model's request was never hung up"
        time.sleep(0.02)
    assert all(r.outcome == "disconnected" and r.completion_tokens == 0 for r in asked)


def test_a_plain_model_over_the_tokens_budget_is_refused_402(sdk, sim, token):
    token[0].budget_usd = Decimal("0")
    token[0].save()

    with pytest.raises(openai.APIStatusError) as refused:
        sdk.chat.completions.create(model=MODEL, messages=QUESTION)

    assert refused.value.status_code == 402 and "laptop" in refused.value.message


def test_calls_going_at_once_are_limited(alice, settings):
    settings.FUSIONROOM_MAX_CONCURRENT_CALLS = 1
    gate.open_passthrough(alice, None, MODEL, 0.001)

    with pytest.raises(gate.RunLimitReached, match="1 model calls going"):
        gate.open_passthrough(alice, None, MODEL, 0.001)


def test_calls_per_minute_are_limited_even_when_each_has_ended(alice, settings):
    settings.FUSIONROOM_MAX_CALLS_PER_MINUTE = 2
    for _ in range(2):
        gate.open_passthrough(alice, None, MODEL, None).settle(
            ok=True, prompt_tokens=1, completion_tokens=1, cost=0.0
        )

    with pytest.raises(gate.RunLimitReached, match="last minute"):
        gate.open_passthrough(alice, None, MODEL, None)


def test_a_call_going_reserves_its_estimate_against_the_budget(alice):
    SpendBudget.objects.create(user=alice, period="day", limit_usd=Decimal("0.05"))
    gate.open_passthrough(alice, None, MODEL, 0.04)

    with pytest.raises(gate.BudgetExceeded, match="call would go over your daily budget"):
        gate.open_passthrough(alice, None, MODEL, 0.02)
