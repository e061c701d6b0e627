"""POST /v1/chat/completions of plain catalog models: passed through with the user's endpoints."""

from __future__ import annotations

import openai
import pytest

from chat.models import Run

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
