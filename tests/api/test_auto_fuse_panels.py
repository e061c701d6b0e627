"""An Auto-fuse panel called as a model over the API: its writer answers, and the response says
whether it consulted the panel, and with which query."""

from __future__ import annotations

import pytest

from chat.models import Panel

from .test_server_tool import SEATS, SIMPLE, WORTH_A_PANEL, seat_requests

pytestmark = pytest.mark.django_db(transaction=True)

WRITER = "google/gemini-3-flash-preview"


@pytest.fixture
def auto_panel(alice) -> str:
    Panel.objects.create(owner=alice, name="Auto", seats=SEATS, judge=WRITER, auto_fuse=True)
    return "fusion/panel/auto"


def test_a_simple_question_is_answered_by_the_writer_alone(sdk, sim, auto_panel):
    since = len(sim.requests)

    reply = sdk.chat.completions.create(model=auto_panel, messages=SIMPLE)

    assert reply.choices[0].message.content, "the writer's answer is the answer, analysis or not"
    fusion = reply.model_extra["fusion"]
    assert fusion["status"] == "ok" and fusion["failure_reason"] is None
    assert fusion["auto_fuse"] == {"consulted": False, "query": None}
    assert seat_requests(sim, since) == []


def test_a_real_question_consults_the_panel_and_says_with_which_query(sdk, sim, auto_panel):
    since = len(sim.requests)

    stream = sdk.chat.completions.create(model=auto_panel, messages=WORTH_A_PANEL, stream=True)
    chunks = list(stream)

    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    fusion = next(c.model_extra["fusion"] for c in chunks if c.model_extra.get("fusion"))
    assert content and fusion["status"] == "ok"
    assert fusion["auto_fuse"] == {"consulted": True, "query": WORTH_A_PANEL[0]["content"]}
    assert fusion["analysis"] is not None
    assert len(seat_requests(sim, since)) == len(SEATS)
