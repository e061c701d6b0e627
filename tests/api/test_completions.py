"""POST /v1/chat/completions of fusion models, driven by the official openai SDK."""

from __future__ import annotations

import pytest

from chat.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]
ANALYSIS_KEYS = {"consensus", "contradictions", "partial_coverage", "unique_insights", "blind_spots"}


def test_a_fusion_completion_is_the_fused_answer_with_its_analysis(sdk, sim):
    response = sdk.chat.completions.create(model="fusion", messages=QUESTION)

    fusion = response.model_extra["fusion"]
    run = Run.objects.get(pk=fusion["run_id"])
    assert response.choices[0].message.content == run.fused_text != ""
    assert fusion["status"] == "ok"
    assert set(fusion["analysis"]) == ANALYSIS_KEYS
