"""The one status table: what each HTTP status means, wherever a status is read."""

from __future__ import annotations

import json

import pytest

from chat.providers.chunks import ChunkReader
from chat.providers.errors import ProviderError, meaning_of_status

CONTEXT_BODY = '{"error": {"message": "This model\'s maximum context length is 8192 tokens"}}'


@pytest.mark.parametrize(
    ("status", "kind", "retryable", "message"),
    [
        (100, "bad_request", False, "The provider answered HTTP 100: slow down"),
        (302, "bad_request", False, "The provider answered HTTP 302: slow down"),
        (400, "bad_request", False, "The provider rejected the request: slow down"),
        (401, "auth", False, "The provider rejected the API key."),
        (402, "credits", False, "The provider account is out of credits."),
        (403, "forbidden", False, "The provider refused the request: slow down"),
        (404, "not_found", False, "The provider has nothing at this address: slow down"),
        (405, "bad_request", False, "The provider answered HTTP 405: slow down"),
        (408, "server_error", True, "The provider timed out before it read the request."),
        (409, "server_error", True, "The provider reported a conflict with another request."),
        (413, "bad_request", False, "The request is too large for the provider."),
        (422, "bad_request", False, "The provider rejected the request: slow down"),
        (429, "rate_limited", True, "The provider is rate-limiting requests: slow down"),
        (500, "server_error", True, "The provider had a server error (HTTP 500): slow down"),
        (503, "server_error", True, "The provider had a server error (HTTP 503): slow down"),
        (599, "server_error", True, "The provider had a server error (HTTP 599): slow down"),
    ],
)
def test_each_status_has_its_kind_retry_decision_and_wording(
    status: int, kind: str, retryable: bool, message: str
) -> None:
    meaning = meaning_of_status(status)

    assert (meaning.kind, meaning.retryable, meaning.message(status=status, detail="slow down")) == (
        kind,
        retryable,
        message,
    )


def test_only_408_409_429_and_5xx_and_up_are_retried() -> None:
    retried = {status for status in range(100, 1000) if meaning_of_status(status).retryable}

    assert retried == {408, 409, 429, *range(500, 1000)}


def test_every_retried_status_but_429_is_a_server_error() -> None:
    server_errors = {
        status for status in range(100, 1000) if meaning_of_status(status).kind == "server_error"
    }

    assert server_errors == {408, 409, *range(500, 1000)}


def test_a_status_without_the_providers_words_ends_its_sentence() -> None:
    assert meaning_of_status(503).message(status=503) == "The provider had a server error (HTTP 503)."


def test_a_404_for_a_known_model_names_the_model() -> None:
    message = meaning_of_status(404).message(status=404, detail="no such model", model="gpt-9")

    assert message == "The provider does not know the model 'gpt-9'."


@pytest.mark.parametrize("status", [400, 413, 422])
def test_a_rejection_about_the_context_window_is_a_context_length_error(status: int) -> None:
    meaning = meaning_of_status(status, body=CONTEXT_BODY)

    assert (meaning.kind, meaning.retryable, meaning.message(status=status, detail="x")) == (
        "context_length",
        False,
        "The conversation is too long for this model's context window.",
    )


@pytest.mark.parametrize("status", [401, 404, 429, 500])
def test_other_statuses_keep_their_kind_whatever_the_body_says(status: int) -> None:
    assert meaning_of_status(status, body=CONTEXT_BODY) == meaning_of_status(status)


@pytest.mark.parametrize("status", [400, 401, 404, 405, 408, 409, 429, 500, 502, 503])
def test_an_in_band_status_is_retried_as_the_same_http_status_would_be(status: int) -> None:
    payload = json.dumps({"error": {"code": status, "message": "upstream said no"}})

    with pytest.raises(ProviderError) as raised:
        ChunkReader().read(payload)

    assert (raised.value.status, raised.value.retryable) == (status, meaning_of_status(status).retryable)
