"""Tool calls: a search first when tools are offered, then an answer that cites the results."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .helpers import stream_answer

QUESTION = "  What changed in the EU AI Act in 2026?  "


def tool(name: str, **properties: Any) -> dict[str, Any]:
    parameters = {"type": "object", "properties": properties, "required": list(properties)}
    return {"type": "function", "function": {"name": name, "description": name, "parameters": parameters}}


TOOLS = [tool("web_fetch", url={"type": "string"}), tool("web_search", query={"type": "string"})]


def with_tools(model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": model, "messages": messages, "tools": TOOLS}


def tool_call_of(deltas: list[dict[str, Any]]) -> tuple[str, str, str]:
    calls = [call for delta in deltas for call in delta.get("tool_calls") or []]
    head = calls[0]
    arguments = "".join(call["function"].get("arguments", "") for call in calls)
    return head["id"], head["function"]["name"], arguments


@pytest.mark.asyncio
async def test_a_model_offered_tools_calls_web_search_first(client: httpx.AsyncClient) -> None:
    body = with_tools("moonshotai/kimi-k2.6", [{"role": "user", "content": QUESTION}])

    stream = await stream_answer(client, body)

    _, name, arguments = tool_call_of(stream.deltas)
    assert name == "web_search"
    assert json.loads(arguments) == {"query": QUESTION.strip()}
    assert stream.finish_reason == "tool_calls"
    assert stream.text == ""
    assert stream.done


@pytest.mark.asyncio
async def test_the_model_answers_once_the_tool_result_is_in(client: httpx.AsyncClient) -> None:
    model = "moonshotai/kimi-k2.6"
    first = await stream_answer(client, with_tools(model, [{"role": "user", "content": QUESTION}]))
    call_id, name, arguments = tool_call_of(first.deltas)
    result = json.dumps(
        [
            {"title": "AI Act overview", "url": "https://example.eu/ai-act/overview"},
            {"title": "Timeline", "url": "https://news.example.com/2026/ai-act-timeline"},
        ]
    )
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": result},
    ]

    second = await stream_answer(client, with_tools(model, messages))

    assert second.finish_reason == "stop"
    assert "search results" in second.text
    assert "### Sources" in second.text
    assert "](https://example.eu/ai-act/overview)" in second.text
    assert "](https://news.example.com/2026/ai-act-timeline)" in second.text


@pytest.mark.asyncio
async def test_a_model_without_tool_support_answers_directly(client: httpx.AsyncClient) -> None:
    body = with_tools("meta-llama/llama-4-maverick", [{"role": "user", "content": QUESTION}])

    stream = await stream_answer(client, body)

    assert stream.finish_reason == "stop"
    assert stream.text.startswith("## ")


@pytest.mark.asyncio
async def test_without_a_search_tool_the_first_tool_is_called(client: httpx.AsyncClient) -> None:
    body = {
        "model": "openai/gpt-5.5",
        "messages": [{"role": "user", "content": QUESTION}],
        "tools": [tool("web_fetch", url={"type": "string", "format": "uri"})],
    }

    stream = await stream_answer(client, body)

    _, name, arguments = tool_call_of(stream.deltas)
    assert name == "web_fetch"
    assert json.loads(arguments)["url"].startswith("https://")


@pytest.mark.asyncio
async def test_a_whole_answer_carries_the_tool_call_in_its_message(client: httpx.AsyncClient) -> None:
    body = with_tools("moonshotai/kimi-k2.6", [{"role": "user", "content": QUESTION}])

    completion = (await client.post("/chat/completions", json=body)).json()

    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "web_search"
    assert json.loads(call["function"]["arguments"]) == {"query": QUESTION.strip()}


# Whether a model calls a tool other than web search (fusion, a client's): tool_use and tool_choice.

FUSION = tool("fusion", query={"type": "string"})
WEATHER = tool("get_weather", city={"type": "string"})


def offered(question: str, *tools: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "model": "openai/gpt-5.5",
        "messages": [{"role": "user", "content": question}],
        "tools": list(tools),
        **fields,
    }


def names_called(deltas: list[dict[str, Any]]) -> list[str]:
    return [
        call["function"]["name"] for delta in deltas for call in delta.get("tool_calls") or [] if "id" in call
    ]


@pytest.mark.asyncio
async def test_on_auto_a_real_question_calls_fusion_and_small_talk_does_not(
    client: httpx.AsyncClient,
) -> None:
    worth_it = await stream_answer(client, offered("Should a team of twelve use a monorepo?", FUSION))
    small_talk = await stream_answer(client, offered("What is 2+2?", FUSION))

    assert names_called(worth_it.deltas) == ["fusion"]
    assert names_called(small_talk.deltas) == [] and small_talk.finish_reason == "stop"


@pytest.mark.asyncio
async def test_tool_choice_forces_a_call_or_names_the_tool(client: httpx.AsyncClient) -> None:
    required = await stream_answer(client, offered("Hi", FUSION, tool_choice="required"))
    named = {"type": "function", "function": {"name": "get_weather"}}
    chosen = await stream_answer(
        client, offered("Should a team of twelve use a monorepo?", FUSION, WEATHER, tool_choice=named)
    )
    refused = await stream_answer(
        client, offered("Should a team of twelve use a monorepo?", FUSION, tool_choice="none")
    )

    assert names_called(required.deltas) == ["fusion"]
    assert names_called(chosen.deltas) == ["get_weather"]
    assert names_called(refused.deltas) == []


@pytest.mark.asyncio
async def test_tool_use_settings_never_always_all_and_a_preamble(sim: Any, client: httpx.AsyncClient) -> None:
    question = "Should a team of twelve use a monorepo?"
    sim.configure("openai/gpt-5.5", tool_use="never")
    never = await stream_answer(client, offered(question, FUSION))
    sim.configure("openai/gpt-5.5", tool_use="always")
    always = await stream_answer(client, offered("Hi", FUSION))
    sim.configure("openai/gpt-5.5", tool_use="all", tool_preamble="Checking two things.")
    both = await stream_answer(client, offered(question, FUSION, WEATHER))
    whole = (await client.post("/chat/completions", json=offered(question, FUSION, WEATHER))).json()

    assert names_called(never.deltas) == []
    assert names_called(always.deltas) == ["fusion"]
    assert names_called(both.deltas) == ["fusion", "get_weather"]
    assert both.text == "Checking two things." and both.finish_reason == "tool_calls"
    message = whole["choices"][0]["message"]
    assert [call["function"]["name"] for call in message["tool_calls"]] == ["fusion", "get_weather"]
    assert json.loads(message["tool_calls"][1]["function"]["arguments"]).keys() == {"city"}
    assert message["content"] == "Checking two things."
