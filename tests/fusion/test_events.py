"""Every event the pipeline says survives a trip through JSON unchanged."""

from __future__ import annotations

import asyncio
import typing

import pytest

from chat.fusion import events as fusion_events
from chat.fusion.events import CallStats, Event, event_adapter
from chat.fusion.options import RunOptions
from chat.fusion.pipeline import run_fusion
from chat.fusion.request import FusionRequest, ReusedAnswer
from chat.providers.errors import ProviderError
from chat.providers.types import ModelInfo, ReasoningDelta, TextDelta, ToolCallDelta
from tests.fakes import SEATS, FakeModelClient, analysis_json, answer

from .conftest import collect, make_request
from .test_tools import FakeToolbox


async def events_of_three_runs(fake: FakeModelClient) -> list[Event]:
    # A run with a failed seat and reasoning, one whose judge fails, one whose writer fails:
    # between them they say every kind of event.
    fake.script("alpha/one", [ReasoningDelta(text="hmm"), *answer("a")])
    fake.script("beta/two", answer("b", cost=0.01))
    fake.script("gamma/three", ProviderError("Down."))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))
    everything = await collect(run_fusion(make_request(SEATS), fake))

    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer("no json"))
    fake.script("judge/j", answer("still none"))
    everything += await collect(run_fusion(make_request(SEATS[:2]), fake))

    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", [TextDelta(text="part"), ProviderError("Broke.")])
    everything += await collect(run_fusion(make_request(SEATS[:2]), fake))

    # A retry that keeps one seat's answer, on a thread too long for the smallest window.
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))
    everything += await collect(run_fusion(retry_on_a_long_thread(), fake))

    # A seat that searches before it answers.
    fake.script("alpha/one", [ToolCallDelta(index=0, id="c1", name="web_search", arguments='{"query": "q"}')])
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))
    everything += await collect(
        run_fusion(make_request(SEATS[:2], web_search=True), fake, toolbox=FakeToolbox())
    )
    # Auto-fuse: the answering model consults the panel once, and once answers alone.
    fake.script("judge/j", [ToolCallDelta(index=0, id="f1", name="fusion", arguments='{"query": "q?"}')])
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Final."))
    everything += await collect(run_fusion(make_request(SEATS[:2], auto=True), fake))
    fake.script("judge/j", answer("Alone."))
    everything += await collect(run_fusion(make_request(SEATS[:2], auto=True), fake))
    # A panel judged at its quorum, its late seat stopped.
    fake.script("alpha/one", answer("a"))
    fake.script("beta/two", answer("b"))
    fake.script("gamma/three", [TextDelta(text="slow"), asyncio.Event()])
    fake.script("judge/j", answer(analysis_json()))
    fake.script("judge/j", answer("Fused."))
    quorum = RunOptions(quorum=2, late_seats="stop")
    everything += await collect(run_fusion(make_request(SEATS, options=quorum), fake))
    return everything


def retry_on_a_long_thread() -> FusionRequest:
    small = ModelInfo(id="beta/two", name="Two", endpoint="e", context_length=1000)
    kept = ReusedAnswer(text="a", stats=CallStats(model="alpha/one"))
    thread = [{"role": "user", "content": "x" * 8000}, {"role": "assistant", "content": "y" * 8000}]
    return make_request(
        SEATS[:2],
        messages=[*thread, {"role": "user", "content": "And now?"}],
        max_tokens=100,
        catalog={"beta/two": small},
        reuse={0: kept},
    )


@pytest.mark.asyncio
async def test_every_kind_of_event_round_trips_through_json(fake: FakeModelClient) -> None:
    events = await events_of_three_runs(fake)

    assert {type(e) for e in events} == set(typing.get_args(typing.get_args(Event)[0]))
    assert all(event_adapter.validate_json(event_adapter.dump_json(e)) == e for e in events)


@pytest.mark.asyncio
async def test_every_event_round_trips_through_plain_python_data(fake: FakeModelClient) -> None:
    events = await events_of_three_runs(fake)

    assert all(event_adapter.validate_python(event_adapter.dump_python(e, mode="json")) == e for e in events)


def test_every_event_class_is_in_the_union() -> None:
    classes = {
        value
        for value in vars(fusion_events).values()
        if isinstance(value, type)
        and issubclass(value, fusion_events._Event)
        and value is not fusion_events._Event
    }

    assert classes == set(typing.get_args(typing.get_args(Event)[0]))
