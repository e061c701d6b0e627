"""Follow-ups on long threads, and retries that keep the seats that already answered."""

from __future__ import annotations

import pytest

from chat.fusion.context import fit_thread
from chat.fusion.events import CallStats, RunDone, SeatDone, ThreadTrimmed
from chat.fusion.pipeline import run_fusion
from chat.fusion.request import ReusedAnswer
from chat.providers.types import ModelInfo
from tests.fakes import FakeModelClient, analysis_json, answer

from .conftest import collect, make_request

QUESTION = {"role": "user", "content": "And the follow-up?"}


def turn(size: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": "q" * size}, {"role": "assistant", "content": "a" * size}]


def window(model: str, tokens: int) -> ModelInfo:
    return ModelInfo(id=model, name=model, endpoint="e", context_length=tokens)


def test_a_thread_that_fits_is_left_alone() -> None:
    request = make_request(
        messages=[*turn(400), QUESTION], catalog={"alpha/one": window("alpha/one", 100_000)}
    )
    fitted, trimmed = fit_thread(request)
    assert trimmed is None and fitted.messages == request.messages


def test_the_oldest_turns_go_first_and_whole_until_the_thread_fits_the_smallest_window() -> None:
    catalog = {"alpha/one": window("alpha/one", 100_000), "beta/two": window("beta/two", 3_000)}
    old, middle, recent = turn(4000), turn(4000), turn(400)
    request = make_request(messages=[*old, *middle, *recent, QUESTION], max_tokens=500, catalog=catalog)
    fitted, trimmed = fit_thread(request)
    assert fitted.messages == [*recent, QUESTION]
    assert trimmed == ThreadTrimmed(dropped_turns=2, context_length=3_000, model="beta/two")


def test_the_question_is_kept_even_when_it_alone_is_too_long() -> None:
    request = make_request(
        messages=[{"role": "user", "content": "q" * 50_000}],
        catalog={"alpha/one": window("alpha/one", 1_000)},
    )
    fitted, trimmed = fit_thread(request)
    assert fitted.messages == request.messages and trimmed is None


@pytest.mark.asyncio
async def test_the_seats_read_the_trimmed_thread_and_the_run_says_so(fake: FakeModelClient) -> None:
    for model in ("alpha/one", "beta/two"):
        fake.script(model, answer(f"{model} says"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))
    request = make_request(
        ("alpha/one", "beta/two"),
        messages=[*turn(20_000), *turn(100), QUESTION],
        max_tokens=100,
        catalog={"beta/two": window("beta/two", 2_000)},
    )
    events = await collect(run_fusion(request, fake))
    assert any(isinstance(event, ThreadTrimmed) and event.dropped_turns == 1 for event in events)
    seat_call = next(call for call in fake.requests if call.model == "alpha/one")
    assert seat_call.messages == [*turn(100), QUESTION]


@pytest.mark.asyncio
async def test_a_retry_asks_only_the_seats_without_a_kept_answer(fake: FakeModelClient) -> None:
    fake.script("beta/two", answer("fresh"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))
    kept = ReusedAnswer(text="kept answer", stats=CallStats(model="alpha/one", completion_tokens=7, cost=0.5))
    events = await collect(run_fusion(make_request(("alpha/one", "beta/two"), reuse={0: kept}), fake))
    assert [call.model for call in fake.requests] == ["beta/two", "judge/j", "judge/j"]
    seat_one = next(e for e in events if isinstance(e, SeatDone) and e.seat == 0)
    assert seat_one.reused and seat_one.text == "kept answer"
    judge_prompt = str(fake.requests[1].messages)
    assert "kept answer" in judge_prompt and "fresh" in judge_prompt


@pytest.mark.asyncio
async def test_a_kept_answer_is_not_billed_again(fake: FakeModelClient) -> None:
    fake.script("beta/two", answer("fresh", cost=0.01))
    fake.script("judge/j", answer(analysis_json(), cost=0.01))
    fake.script("judge/j", answer("Fused.", cost=0.01))
    kept = ReusedAnswer(text="kept", stats=CallStats(model="alpha/one", cost=5.0, completion_tokens=1000))
    events = await collect(run_fusion(make_request(("alpha/one", "beta/two"), reuse={0: kept}), fake))
    done = events[-1]
    assert isinstance(done, RunDone) and done.totals.cost == pytest.approx(0.03)
