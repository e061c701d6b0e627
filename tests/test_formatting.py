"""Figures as people read them, the same on the pages, in the export and in the terminal."""

from __future__ import annotations

from chat import formatting


def test_dollars_have_four_places() -> None:
    assert formatting.dollars(0.0125) == "$0.0125"


def test_an_unknown_cost_reads_as_the_caller_says() -> None:
    assert formatting.dollars(None) == "—"
    assert formatting.dollars(None, unknown="cost unknown") == "cost unknown"


def test_a_tiny_cost_is_marked_unless_the_caller_rounds_it() -> None:
    assert formatting.dollars(0.00004) == "<$0.0001"
    assert formatting.dollars(0.00004, mark_tiny=False) == "$0.0000"
    assert formatting.dollars(0.0) == "$0.0000"


def test_seconds_come_from_milliseconds() -> None:
    assert formatting.seconds(9100.5) == "9.1 s"
    assert formatting.seconds(2100.25, places=2, spaced=False) == "2.10s"
    assert formatting.seconds(None) == "—"


def test_thousands_are_grouped() -> None:
    assert formatting.thousands(1234567) == "1,234,567"
    assert formatting.thousands(None) == "—"
