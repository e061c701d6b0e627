"""The default simulated catalog and its listing in OpenRouter's /models shape."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chat.simulator.config import SimulatedModel

_PER_MILLION = 1e-6

DEFAULT_MODELS: tuple[SimulatedModel, ...] = (
    SimulatedModel(
        id="anthropic/claude-opus-4.8",
        name="Anthropic: Claude Opus 4.8 (simulated)",
        description="Frontier reasoning and writing; careful, hedged answers.",
        context_length=200_000,
        prompt_price=5 * _PER_MILLION,
        completion_price=25 * _PER_MILLION,
        ttft_s=1.6,
        tokens_per_second=55,
        answer_tokens=520,
    ),
    SimulatedModel(
        id="openai/gpt-5.5",
        name="OpenAI: GPT-5.5 (simulated)",
        description="Frontier general model that thinks before answering; direct and structured.",
        context_length=400_000,
        prompt_price=1.75 * _PER_MILLION,
        completion_price=14 * _PER_MILLION,
        ttft_s=2.4,
        tokens_per_second=80,
        answer_tokens=480,
    ),
    SimulatedModel(
        id="google/gemini-3.1-pro-preview",
        name="Google: Gemini 3.1 Pro Preview (simulated)",
        description="Long-context frontier model; broad coverage.",
        context_length=1_048_576,
        prompt_price=2 * _PER_MILLION,
        completion_price=12 * _PER_MILLION,
        ttft_s=2.8,
        tokens_per_second=95,
        answer_tokens=560,
    ),
    SimulatedModel(
        id="google/gemini-3-flash-preview",
        name="Google: Gemini 3 Flash Preview (simulated)",
        description="Fast, inexpensive model; a good budget judge.",
        context_length=1_048_576,
        prompt_price=0.5 * _PER_MILLION,
        completion_price=3 * _PER_MILLION,
        ttft_s=0.6,
        tokens_per_second=190,
        answer_tokens=380,
    ),
    SimulatedModel(
        id="moonshotai/kimi-k2.6",
        name="MoonshotAI: Kimi K2.6 (simulated)",
        description="Open-weights agentic model with strong tool use.",
        context_length=262_144,
        prompt_price=0.6 * _PER_MILLION,
        completion_price=2.5 * _PER_MILLION,
        ttft_s=1.2,
        tokens_per_second=45,
        answer_tokens=420,
    ),
    SimulatedModel(
        id="deepseek/deepseek-v4-pro",
        name="DeepSeek: DeepSeek V4 Pro (simulated)",
        description="Open-weights reasoning model; streams its reasoning before the answer.",
        context_length=163_840,
        prompt_price=0.55 * _PER_MILLION,
        completion_price=2.2 * _PER_MILLION,
        sends_reasoning=True,
        ttft_s=1.5,
        tokens_per_second=38,
        answer_tokens=450,
    ),
    SimulatedModel(
        id="qwen/qwen3-235b-a22b",
        name="Qwen: Qwen3 235B A22B (simulated)",
        description="Open-weights mixture-of-experts model; no structured output here.",
        context_length=262_144,
        prompt_price=0.13 * _PER_MILLION,
        completion_price=0.6 * _PER_MILLION,
        supports_structured_output=False,
        ttft_s=0.8,
        tokens_per_second=70,
        answer_tokens=400,
    ),
    SimulatedModel(
        id="meta-llama/llama-4-maverick",
        name="Meta: Llama 4 Maverick (simulated)",
        description="Open-weights multimodal model; neither tools nor structured output here.",
        context_length=1_048_576,
        prompt_price=0.15 * _PER_MILLION,
        completion_price=0.6 * _PER_MILLION,
        supports_tools=False,
        supports_structured_output=False,
        ttft_s=0.4,
        tokens_per_second=120,
        answer_tokens=360,
    ),
    SimulatedModel(
        id="mistralai/mistral-medium-3",
        name="Mistral: Mistral Medium 3 (simulated)",
        description="Mid-sized European model; concise answers.",
        context_length=131_072,
        prompt_price=0.4 * _PER_MILLION,
        completion_price=2 * _PER_MILLION,
        ttft_s=0.5,
        tokens_per_second=90,
        answer_tokens=340,
    ),
)


def openrouter_listing(models: Iterable[SimulatedModel]) -> dict[str, Any]:
    """The body of GET /models as OpenRouter returns it."""
    return {"data": [_entry(model) for model in models]}


def _entry(model: SimulatedModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "canonical_slug": model.id,
        "name": model.name,
        "created": 1_767_225_600,
        "description": model.description,
        "context_length": model.context_length,
        "architecture": {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": "Other",
        },
        "pricing": {
            "prompt": price_string(model.prompt_price),
            "completion": price_string(model.completion_price),
            "request": "0",
            "image": "0",
        },
        "top_provider": {
            "context_length": model.context_length,
            "max_completion_tokens": min(model.context_length // 4, 64_000),
            "is_moderated": False,
        },
        "supported_parameters": _supported_parameters(model),
    }


def price_string(dollars_per_token: float) -> str:
    # OpenRouter writes prices as plain decimals, never in exponent notation.
    text = f"{dollars_per_token:.12f}".rstrip("0").rstrip(".")
    return text or "0"


def _supported_parameters(model: SimulatedModel) -> list[str]:
    parameters = ["max_tokens", "temperature", "top_p", "stop", "seed"]
    if model.supports_tools:
        parameters += ["tools", "tool_choice"]
    if model.supports_structured_output:
        parameters += ["response_format", "structured_outputs"]
    if model.sends_reasoning:
        parameters += ["reasoning", "include_reasoning"]
    return parameters
