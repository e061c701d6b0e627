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


def test_a_short_model_name_drops_the_provider_and_the_release_words() -> None:
    assert formatting.short_model_name("google/gemini-3-flash-preview") == "gemini-3-flash"
    assert formatting.short_model_name("moonshotai/kimi-k2.6") == "kimi-k2.6"
    assert formatting.short_model_name("anthropic/claude-3-5-sonnet-20241022") == "claude-3-5-sonnet"
    assert formatting.short_model_name("openai/gpt-4o-2024-08-06") == "gpt-4o"
    assert formatting.short_model_name("google/gemini-2.5-flash-preview-05-20") == "gemini-2.5-flash"


def test_a_short_model_name_keeps_what_tells_models_apart() -> None:
    assert formatting.short_model_name("deepseek/deepseek-r1-0528") == "deepseek-r1-0528"
    assert formatting.short_model_name("meta-llama/llama-4-maverick:free") == "llama-4-maverick:free"
    assert formatting.short_model_name("local-model") == "local-model"


def test_a_short_model_name_is_never_empty() -> None:
    assert formatting.short_model_name("acme/preview") == "preview"
    assert formatting.short_model_name("acme/") == "acme/"


def test_twin_seats_are_lettered_and_the_others_keep_their_short_name() -> None:
    models = ["moonshotai/kimi-k2.6", "google/gemini-3-flash-preview", "moonshotai/kimi-k2.6"]
    assert formatting.seat_labels(models) == ["kimi-k2.6 · A", "gemini-3-flash", "kimi-k2.6 · B"]


def test_two_ids_with_the_same_short_name_are_told_apart_too() -> None:
    assert formatting.seat_labels(["openai/gpt-5", "azure/gpt-5"]) == ["gpt-5 · A", "gpt-5 · B"]
