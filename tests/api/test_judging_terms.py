"""The judging terms over the API (the fusion plugin, the `fusion` object, the server tool's
parameters), driven by the official openai SDK against a live server and the simulator."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from chat.fusion.options import RunOptions
from chat.models import Panel, Run, SeatAnswer

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]
FAST = ["google/gemini-3-flash-preview", "moonshotai/kimi-k2.6"]
SLOW = "deepseek/deepseek-v4-pro"  # the Budget panel's third seat, held back by the simulator
REVIEW_SEATS = ["moonshotai/kimi-k2.6", "deepseek/deepseek-v4-pro"]
REVIEW_JUDGE = "openai/gpt-5.5"


def run_of(fusion: dict) -> Run:
    """The response's run, once it has saved its end (the answer goes out before its save)."""
    deadline = time.monotonic() + 10
    while (run := Run.objects.get(pk=fusion["run_id"])).status == Run.Status.RUNNING:
        assert time.monotonic() < deadline, "the run never saved its end"
        time.sleep(0.02)
    return run


@pytest.fixture
def code_review(alice) -> Panel:
    return Panel.objects.create(owner=alice, name="Code review", seats=REVIEW_SEATS, judge=REVIEW_JUDGE)


def requests_since(sim, before: int, model: str) -> list:
    return [r for r in sim.requests[before:] if r.model == model]


def judge_and_writer(sim, before: int, model: str) -> tuple:
    """The judge's request (structured output) and the writer's, of one run."""
    calls = requests_since(sim, before, model)
    judge = next(r for r in calls if "response_format" in r.body)
    writer = next(r for r in calls if "response_format" not in r.body and r.seat is None)
    return judge, writer


def text_of(record) -> str:
    return "\n".join(str(message.get("content")) for message in record.body["messages"])


# --- quorum and late seats ---------------------------------------------------------------------


def test_a_quorum_judges_without_the_slow_seat_and_marks_its_answer_late(sdk, sim):
    sim.hold(SLOW)
    before = len(sim.requests)
    judge_model_before = len(requests_since(sim, 0, FAST[0]))
    plugin = {"id": "fusion", "quorum": 2, "include_responses": True}
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(
            sdk.chat.completions.create,
            model="fusion/budget",
            messages=QUESTION,
            extra_body={"plugins": [plugin]},
        )
        # The first seat, the judge and the writer are all the panel's judge model: at its third
        # request the fused answer is being written while the slow seat still waits.
        sim.wait_for_requests(judge_model_before + 3, model=FAST[0], timeout=30)
        sim.release(SLOW)
        response = asked.result(timeout=30)

    fusion = response.model_extra["fusion"]
    assert fusion["status"] == "ok"
    assert {k: fusion["judged_on"][k] for k in ("seats", "late", "cause")} == {
        "seats": FAST,
        "late": [SLOW],
        "cause": "quorum",
    }
    assert [(r["model"], r.get("late", False)) for r in fusion["responses"]] == [
        (FAST[0], False),
        (FAST[1], False),
        (SLOW, True),
    ]
    run = run_of(fusion)
    late = run.answers.get(index=2)
    assert late.late and late.status == SeatAnswer.Status.DONE and late.text
    assert run.judged_at_ms is not None and run.note.startswith("Judged on 2 of 3 seats")
    judge, _ = judge_and_writer(sim, before, FAST[0])
    assert late.text not in text_of(judge)
    assert response.choices[0].message.content == run.fused_text


def test_late_seats_stopped_at_the_quorum_leave_the_status_ok(sdk, sim):
    sim.hold(SLOW)

    response = sdk.chat.completions.create(
        model="fusion/budget", messages=QUESTION, extra_body={"fusion": {"quorum": 2, "late_seats": "stop"}}
    )

    fusion = response.model_extra["fusion"]
    assert fusion["status"] == "ok" and fusion["failure_reason"] is None
    assert [(f["model"], f["late"]) for f in fusion["failed_models"]] == [(SLOW, True)]
    assert fusion["judged_on"]["late"] == [SLOW]
    run = run_of(fusion)
    assert run.run_options.late_seats == "stop"
    assert run.answers.get(index=2).status == SeatAnswer.Status.STOPPED  # stopped at the quorum: not an error
    assert response.choices[0].message.content


def test_a_stream_with_fusion_events_says_when_the_panel_is_judged(sdk, sim):
    sim.hold(SLOW)

    stream = sdk.chat.completions.create(
        model="fusion/budget",
        messages=QUESTION,
        stream=True,
        stream_options={"include_fusion_events": True},
        extra_body={"fusion": {"quorum": 2, "late_seats": "stop"}},
    )

    chunks = list(stream)
    said = [c.model_extra["fusion_event"] for c in chunks if "fusion_event" in c.model_extra]
    judged = [event for event in said if event["type"] == "panel.judged"]
    assert [(e["seats"], e["late"], e["cause"]) for e in judged] == [(FAST, [SLOW], "quorum")]
    kinds = [event["type"] for event in said]
    assert kinds.index("panel.judged") < kinds.index("analysis.started")
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_a_deadline_passed_judges_once_two_seats_have_answered(sdk, sim):
    sim.hold(SLOW)

    # A deadline that passes before any seat answers: the judge waits for a second answer.
    response = sdk.chat.completions.create(
        model="fusion/budget",
        messages=QUESTION,
        extra_body={"fusion": {"deadline": 0.001, "late_seats": "stop"}},
    )

    judged_on = response.model_extra["fusion"]["judged_on"]
    assert (judged_on["seats"], judged_on["late"], judged_on["cause"]) == (FAST, [SLOW], "deadline")
    assert run_of(response.model_extra["fusion"]).analysis is not None


def test_a_panel_that_waits_for_every_seat_says_judged_on_null(sdk, sim):
    response = sdk.chat.completions.create(model="fusion/budget", messages=QUESTION)

    assert response.model_extra["fusion"]["judged_on"] is None


# --- instructions and seat settings ------------------------------------------------------------


def test_instructions_reach_the_judge_the_writer_and_the_seats(sdk, sim, code_review):
    before = len(sim.requests)
    terms = {
        "judge_instructions": "Scrutinise every number and date.",
        "writer_instructions": "Write for a ten-year-old.",
        "system_prompt": "You are a patient physics teacher.",
    }

    response = sdk.chat.completions.create(
        model="fusion/panel/code-review", messages=QUESTION, extra_body={"fusion": terms}
    )

    judge, writer = judge_and_writer(sim, before, REVIEW_JUDGE)
    assert terms["judge_instructions"] in text_of(judge)
    assert terms["writer_instructions"] in text_of(writer)
    assert terms["judge_instructions"] not in text_of(writer)
    seats = [r for r in sim.requests[before:] if r.seat is not None]
    assert len(seats) == 2
    assert all(r.body["messages"][0] == {"role": "system", "content": terms["system_prompt"]} for r in seats)
    run = run_of(response.model_extra["fusion"])
    assert run.run_options.judge_instructions == terms["judge_instructions"]


def test_each_seat_gets_its_own_temperature_and_seed(sdk, sim, code_review):
    before = len(sim.requests)
    settings = [{"temperature": 0.2}, {"temperature": 1.1, "seed": 7, "max_tokens": 300}]

    sdk.chat.completions.create(
        model="fusion/panel/code-review",
        messages=QUESTION,
        extra_body={"plugins": [{"id": "fusion", "seat_settings": settings}]},
    )

    seats = {r.seat: r.body for r in sim.requests[before:] if r.seat is not None}
    assert seats[0]["temperature"] == 0.2 and seats[0].get("seed") is None
    assert (seats[1]["temperature"], seats[1]["seed"], seats[1]["max_tokens"]) == (1.1, 7, 300)


def test_a_request_overrides_only_the_terms_it_names_over_the_panels_own(sdk, sim, code_review):
    code_review.options = RunOptions(
        judge_instructions="Legal risk first.", system_prompt="Be terse.", quorum=2
    ).stored()
    code_review.save()
    terms = {"writer_instructions": "Use bullet points.", "quorum": None}

    response = sdk.chat.completions.create(
        model="fusion/panel/code-review", messages=QUESTION, extra_body={"fusion": terms}
    )

    options = run_of(response.model_extra["fusion"]).run_options
    assert (options.judge_instructions, options.system_prompt) == ("Legal risk first.", "Be terse.")
    assert options.writer_instructions == "Use bullet points." and options.quorum is None


def test_the_panels_seat_settings_apply_to_its_seats_but_not_to_seats_a_plugin_names(sdk, sim, code_review):
    code_review.options = RunOptions.model_validate(
        {"seats": [{"temperature": 0.3}, {"temperature": 1.5}]}
    ).stored()
    code_review.save()
    before = len(sim.requests)

    sdk.chat.completions.create(model="fusion/panel/code-review", messages=QUESTION)
    own = {r.seat: r.body["temperature"] for r in sim.requests[before:] if r.seat is not None}
    middle = len(sim.requests)
    plugin = {"id": "fusion", "analysis_models": ["openai/gpt-5.5", "moonshotai/kimi-k2.6"]}
    sdk.chat.completions.create(
        model="fusion/panel/code-review", messages=QUESTION, extra_body={"plugins": [plugin]}
    )
    others = {r.seat: r.body.get("temperature") for r in sim.requests[middle:] if r.seat is not None}

    assert own == {0: 0.3, 1: 1.5}
    assert 0.3 not in others.values() and 1.5 not in others.values()


# --- compare only ------------------------------------------------------------------------------


def test_compare_only_returns_the_answers_side_by_side_and_asks_no_judge(sdk, sim, code_review):
    before = len(sim.requests)

    response = sdk.chat.completions.create(
        model="fusion/panel/code-review", messages=QUESTION, extra_body={"fusion": {"compare_only": True}}
    )

    fusion = response.model_extra["fusion"]
    assert fusion["compare_only"] is True and fusion["status"] == "ok"
    assert fusion["analysis"] is None and fusion["failure_reason"] is None
    assert [r["model"] for r in fusion["responses"]] == REVIEW_SEATS
    content = response.choices[0].message.content
    for answer in fusion["responses"]:
        assert f"## {answer['model']}\n\n{answer['content']}" in content
    assert requests_since(sim, before, REVIEW_JUDGE) == []


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"plugins": [{"id": "fusion", "quorum": 1}]}, "plugins.fusion.quorum"),
        ({"fusion": {"quorum": 4}}, "fusion.quorum"),  # the panel has three seats
        ({"fusion": {"quorum": "2"}}, "fusion.quorum"),
        ({"fusion": {"deadline": 0}}, "fusion.deadline"),
        ({"fusion": {"deadline": 3601}}, "fusion.deadline"),
        ({"fusion": {"late_seats": "wait"}}, "fusion.late_seats"),
        ({"fusion": {"judge_instructions": "x" * 4001}}, "fusion.judge_instructions"),
        ({"fusion": {"compare_only": "yes"}}, "fusion.compare_only"),
        ({"fusion": {"seat_settings": [{"temperature": 3}]}}, "fusion.seat_settings.0.temperature"),
        (
            {"fusion": {"seat_settings": [{"reasoning_effort": "max"}]}},
            "fusion.seat_settings.0.reasoning_effort",
        ),
        ({"fusion": {"seat_settings": [{}, {}, {}, {}]}}, "fusion.seat_settings"),
        ({"fusion": {"quorom": 2}}, "fusion.quorom"),
        (
            {"fusion": {"quorum": 2}, "plugins": [{"id": "fusion", "quorum": 3}]},
            "plugins.fusion.quorum",
        ),
    ],
)
def test_a_bad_term_is_a_400_naming_its_parameter(sdk, sim, extra, param):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="fusion/budget", messages=QUESTION, extra_body=extra)

    assert refused.value.body["param"] == param
    assert Run.objects.count() == 0


def test_the_same_term_in_the_plugin_and_the_fusion_object_is_fine_when_they_agree(sdk, sim):
    extra = {
        "fusion": {"judge_instructions": "Dates."},
        "plugins": [{"id": "fusion", "judge_instructions": "Dates."}],
    }

    response = sdk.chat.completions.create(model="fusion/budget", messages=QUESTION, extra_body=extra)

    assert run_of(response.model_extra["fusion"]).run_options.judge_instructions == "Dates."


def test_judging_terms_for_a_plain_model_are_refused(sdk, sim):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model="openai/gpt-5.5", messages=QUESTION, extra_body={"fusion": {"quorum": 2}}
        )

    assert refused.value.body["param"] == "fusion"


# --- the server tool ---------------------------------------------------------------------------


def test_the_server_tools_parameters_take_the_judging_terms(sdk, sim):
    before = len(sim.requests)
    outer = "google/gemini-3-flash-preview"
    tool = {
        "type": "fusion",
        "parameters": {
            "analysis_models": REVIEW_SEATS,
            "judge_instructions": "Weigh the cost of each option.",
            "seat_settings": [{"temperature": 0.3}, {"temperature": 1.3}],
        },
    }

    response = sdk.chat.completions.create(
        model=outer,
        messages=[{"role": "user", "content": "Which database should a small team pick for analytics?"}],
        tools=[tool],
        tool_choice={"type": "fusion"},
    )

    assert response.model_extra["fusion"]["invoked"] is True
    judge = next(r for r in requests_since(sim, before, outer) if "response_format" in r.body)
    assert "Weigh the cost of each option." in text_of(judge)
    seats = {r.seat: r.body["temperature"] for r in sim.requests[before:] if r.seat is not None}
    assert seats == {0: 0.3, 1: 1.3}


def test_a_bad_term_in_the_server_tools_parameters_names_it(sdk, sim):
    tool = {"type": "fusion", "parameters": {"quorum": 9}}

    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="google/gemini-3-flash-preview", messages=QUESTION, tools=[tool])

    assert refused.value.body["param"] == "tools[0].parameters.quorum"
