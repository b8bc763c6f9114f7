"""The Anthropic front door, POST /v1/messages and /v1/messages/count_tokens, through the official
anthropic SDK: to Claude the client's bytes pass through with only the model replaced; to the
OpenAI family and to Gemini the request is translated and the answer, streamed or not, comes
back in Anthropic's shape. Every call leaves a usage record."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from conftest import UPSTREAM_KEY, Gateway, parse_sse
from replay import fixtures_of, json_reply, recorded_reply, recorded_request
from translate_helpers import (
    BERLIN,
    BERLIN_ARGS,
    CACHED_ANSWER,
    CACHED_USAGE,
    CLAUDE,
    CLAUDE_TOOLS,
    GEMINI,
    add_claude,
    add_listed_claude_and_gemini,
    anthropic_client,
    assert_anthropic_event_order,
    assert_cached_record,
    assert_gemini_call_ids,
    assert_only_record,
    claude_reply,
    claude_stream,
    claude_vision_turn,
    count_tokens_path,
    declared_functions,
    event_names,
    gemini_contents_of_count,
    gemini_reply,
    gemini_vision_contents,
    only_record,
    openai_canonical,
    openai_vision_turn,
    post_messages,
    recorded_events,
    recorded_json,
    recorded_request_bytes,
    route_claude,
    route_gemini,
    route_openai,
    thought_signature,
    user,
)

PASSTHROUGH_FIXTURES = fixtures_of("anthropic.messages")
# The tokens each recording reports (input, output).
RECORDED_USAGE = {
    "anthropic/messages_basic": (16, 13),
    "anthropic/messages_stream": (17, 10),
    "anthropic/messages_stream_tool_use": (543, 40),
    "anthropic/messages_tool_use": (701, 98),
    "anthropic/messages_vision_base64": (43, 132),
}
FIRST_MODEL = re.compile(rb'"model"\s*:\s*"([^"]*)"')

WEATHER_TOOL, LANGUAGE_TOOL = CLAUDE_TOOLS


def prefixed(body: bytes, provider: str) -> bytes:
    """`body` with its model named ``<provider>/<model>``, every other byte kept."""
    return FIRST_MODEL.sub(lambda m: b'"model":"' + provider.encode() + b"/" + m[1] + b'"', body, 1)


# Sampling fields the SDK no longer takes as arguments; it sends them as extra_body.
SAMPLING = ("temperature", "top_p", "top_k")


def sdk_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """`body` as the SDK's keyword arguments: the sampling fields go into extra_body, which the
    SDK merges into the JSON it sends."""
    arguments = {k: v for k, v in body.items() if k not in SAMPLING}
    extra = {k: body[k] for k in SAMPLING if k in body}
    return {**arguments, "extra_body": extra} if extra else arguments


def create(gateway: Gateway, body: dict[str, Any]) -> dict[str, Any]:
    """messages.create through the SDK; the answer's JSON, after checking the SDK reads the
    same thing from it."""
    raw = anthropic_client(gateway).messages.with_raw_response.create(**sdk_arguments(body))
    payload: dict[str, Any] = raw.http_response.json()
    assert raw.http_response.status_code == 200
    assert raw.parse().to_dict() == payload
    return payload


def stream_final(gateway: Gateway, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """messages.stream through the SDK: the text it streamed and the final message."""
    with anthropic_client(gateway).messages.stream(**sdk_arguments(body)) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    return text, final.to_dict()


def assert_message(payload: dict[str, Any], model: str) -> None:
    """The frame of a Messages API answer."""
    assert payload["type"] == "message"
    assert payload["role"] == "assistant"
    assert payload["model"] == model
    assert isinstance(payload["id"], str) and payload["id"]


def tool_uses(payload: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return [(b["id"], b["name"], b["input"]) for b in payload["content"] if b["type"] == "tool_use"]


# --- Claude: passthrough ---------------------------------------------------------------------


@pytest.mark.parametrize("fixture", PASSTHROUGH_FIXTURES)
def test_a_recorded_call_passes_through_byte_for_byte(gateway: Gateway, fixture: str) -> None:
    path = route_claude(gateway, fixture)
    recorded = recorded_request_bytes(fixture)

    answer = post_messages(gateway, prefixed(recorded, "claude"))

    [call] = gateway.replay.requests_to(path)
    assert call.body == recorded
    assert call.header("x-api-key") == UPSTREAM_KEY
    assert call.header("anthropic-version") == "2023-06-01"
    assert call.header("authorization") is None
    assert answer.status == 200, answer
    reply = recorded_reply(fixture)
    if reply.streamed:
        assert answer.headers["content-type"].startswith("text/event-stream")
        got = [(e.event, e.json()) for e in parse_sse(answer.body)]
        assert got == [(e.event, e.json()) for e in recorded_events(fixture)]
    else:
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json() == json.loads(reply.body)
    record = only_record(gateway)
    assert (record["prompt_tokens"], record["completion_tokens"]) == RECORDED_USAGE[fixture]
    assert (record["provider"], record["status"]) == ("claude", 200)
    assert record["model_requested"] == "claude/" + recorded_request(fixture)["model"]


def test_odd_bytes_and_unknown_fields_pass_through_untouched(gateway: Gateway) -> None:
    path = route_claude(gateway, "anthropic/messages_basic")
    body = (
        b'{ "max_tokens" :64,\n  "model" : "claude/claude-haiku-4-5-20251001",'
        b'"messages":[{"role":"user","content":"Caf\\u00e9 \xf0\x9f\x99\x82 \\"quoted\\""}],'
        b'"metadata":{"user_id":"u-1"},"x_future_field":[1,2.50,null,true,{}],'
        b'"top_k":5,"a_big_number":9007199254740993 }'
    )

    answer = post_messages(gateway, body)

    assert answer.status == 200, answer
    [call] = gateway.replay.requests_to(path)
    assert call.body == body.replace(b'"claude/claude-haiku-4-5', b'"claude-haiku-4-5')


def test_a_bare_model_name_passes_through_unchanged(gateway: Gateway) -> None:
    path = route_claude(gateway, "anthropic/messages_basic")
    body = recorded_request_bytes("anthropic/messages_basic")

    answer = post_messages(gateway, body, auth="bearer")

    assert answer.status == 200, answer
    [call] = gateway.replay.requests_to(path)
    assert call.body == body
    assert call.header("x-api-key") == UPSTREAM_KEY
    secret = gateway.app.key.secret
    assert not [(n, v) for n, v in call.headers if secret in v]


def test_the_sdk_talks_to_claude_through_the_gateway(gateway: Gateway) -> None:
    path = route_claude(gateway, "anthropic/messages_basic")
    body: dict[str, Any] = {
        "model": f"claude/{CLAUDE}",
        "max_tokens": 1024,
        "messages": [user("What's 2 + 2?")],
    }

    payload = create(gateway, body)

    [call] = gateway.replay.requests_to(path)
    assert call.json() == {**body, "model": CLAUDE}
    assert payload == recorded_json("anthropic/messages_basic")
    secret = gateway.app.key.secret
    assert not [(n, v) for n, v in call.headers if secret in v]


def test_the_sdk_streams_from_claude_through_the_gateway(gateway: Gateway) -> None:
    path = route_claude(gateway, "anthropic/messages_stream")
    body: dict[str, Any] = {
        "model": "claude/claude-sonnet-4-5",
        "max_tokens": 8192,
        "temperature": 1.0,
        "messages": [user("Two names for a pet pelican, be brief")],
    }

    text, final = stream_final(gateway, body)

    [call] = gateway.replay.requests_to(path)
    assert call.json() == {**body, "model": "claude-sonnet-4-5", "stream": True}
    assert text == "- Captain\n- Scoop"
    assert final["content"] == [{"type": "text", "text": "- Captain\n- Scoop"}]
    assert final["stop_reason"] == "end_turn"
    assert final["model"] == "claude-sonnet-4-5-20250929"
    assert (final["usage"]["input_tokens"], final["usage"]["output_tokens"]) == (17, 10)


def test_cache_usage_passes_through_and_is_recorded(gateway: Gateway) -> None:
    route_claude(gateway, reply=claude_reply(CACHED_ANSWER))

    payload = create(
        gateway, {"model": f"claude/{CLAUDE}", "max_tokens": 64, "messages": [user("Again?")]}
    )

    assert payload["usage"] == CACHED_USAGE
    assert_cached_record(gateway)


def test_cache_usage_of_a_passthrough_stream_is_recorded(gateway: Gateway) -> None:
    route_claude(gateway, reply=claude_stream(CACHED_ANSWER))

    text, final = stream_final(
        gateway, {"model": f"claude/{CLAUDE}", "max_tokens": 64, "messages": [user("Again?")]}
    )

    assert text == "From the cache."
    usage = final["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (100, 50)
    assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (2000, 300)
    assert_cached_record(gateway)


# --- the OpenAI family, translated -----------------------------------------------------------


def test_a_call_to_an_openai_provider_is_translated_both_ways(gateway: Gateway) -> None:
    chat = route_openai(gateway, "openai/chat_basic")

    payload = create(
        gateway,
        {
            "model": "openai/gpt-3.5-turbo",
            "max_tokens": 50,
            "temperature": 0,
            "messages": [user("Hello, how are you?")],
        },
    )

    [call] = gateway.replay.requests_to(chat)
    assert openai_canonical(call.json()) == openai_canonical(recorded_request("openai/chat_basic"))
    assert call.header("authorization") == f"Bearer {UPSTREAM_KEY}"
    assert call.header("x-api-key") is None
    assert_message(payload, "gpt-3.5-turbo-0125")
    recorded = recorded_json("openai/chat_basic")["choices"][0]["message"]["content"]
    assert payload["content"] == [{"type": "text", "text": recorded}]
    assert payload["stop_reason"] == "end_turn"
    assert (payload["usage"]["input_tokens"], payload["usage"]["output_tokens"]) == (13, 31)
    assert_only_record(
        gateway,
        provider="openai",
        model_requested="openai/gpt-3.5-turbo",
        model_served="gpt-3.5-turbo-0125",
        prompt_tokens=13,
        completion_tokens=31,
    )


def test_system_stop_sequences_and_sampling_go_into_openai_fields(gateway: Gateway) -> None:
    chat = route_openai(gateway, "openai/chat_basic")

    create(
        gateway,
        {
            "model": "openai/gpt-4o-mini",
            "max_tokens": 64,
            "system": [{"type": "text", "text": "Answer in French."}],
            "messages": [user("Hello, how are you?")],
            "temperature": 0.5,
            "top_p": 0.9,
            "stop_sequences": ["END"],
        },
    )

    [call] = gateway.replay.requests_to(chat)
    assert openai_canonical(call.json()) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": [{"type": "text", "text": "Hello, how are you?"}]},
        ],
        "max_tokens": 64,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["END"],
    }


@pytest.mark.parametrize(
    ("tool_choice", "upstream_choice"),
    [
        (None, None),
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "lookup_population"},
            {"type": "function", "function": {"name": "lookup_population"}},
        ),
    ],
    ids=["unset", "auto", "any", "none", "tool"],
)
def test_tools_go_up_as_functions_and_tool_calls_come_back_as_tool_use(
    gateway: Gateway, tool_choice: Any, upstream_choice: Any
) -> None:
    fixture = "openai/chat_tool_call"
    chat = route_openai(gateway, fixture)
    asked = recorded_request(fixture)
    tools = [
        {
            "name": t["function"]["name"],
            "description": t["function"]["description"],
            "input_schema": t["function"]["parameters"],
        }
        for t in asked["tools"]
    ]
    body: dict[str, Any] = {
        "model": "openai/gpt-4o-mini",
        "max_tokens": 256,
        "messages": asked["messages"],
        "tools": tools,
    }
    if tool_choice is not None:
        body["tool_choice"] = tool_choice

    payload = create(gateway, body)

    [call] = gateway.replay.requests_to(chat)
    sent: Any = call.json()
    assert sent["tools"] == asked["tools"]
    assert sent.get("tool_choice") == upstream_choice
    assert payload["content"] == [
        {
            "type": "tool_use",
            "id": "call_TTY8UFNo7rNCaOBUNtlRSvMG",
            "name": "lookup_population",
            "input": {"country": "Crumpet"},
        }
    ]
    assert payload["stop_reason"] == "tool_use"
    assert (payload["usage"]["input_tokens"], payload["usage"]["output_tokens"]) == (92, 17)


def test_text_and_two_tool_calls_become_three_blocks_in_order(gateway: Gateway) -> None:
    route_openai(gateway, "deepseek/chat_tool_call", kind="deepseek")

    payload = create(
        gateway,
        {
            "model": "deepseek/deepseek-chat",
            "max_tokens": 256,
            "messages": [user(BERLIN)],
            "tools": [WEATHER_TOOL, LANGUAGE_TOOL],
        },
    )

    assert_message(payload, "deepseek-v4-flash")
    assert payload["content"] == [
        {"type": "text", "text": "Let me look up both pieces of information for you!"},
        {
            "type": "tool_use",
            "id": "call_00_PY4jZerU5C9MoO3wQIwi1346",
            "name": "weather",
            "input": BERLIN_ARGS,
        },
        {
            "type": "tool_use",
            "id": "call_01_TyBfcy9ufcThybwyvzrZ6553",
            "name": "best_language_to_learn",
            "input": {},
        },
    ]
    assert payload["stop_reason"] == "tool_use"
    assert (payload["usage"]["input_tokens"], payload["usage"]["output_tokens"]) == (407, 94)


def test_tool_use_and_tool_results_go_up_as_tool_calls_and_tool_messages(
    gateway: Gateway,
) -> None:
    chat = route_openai(gateway, "openai/chat_basic")
    call_id = "call_TTY8UFNo7rNCaOBUNtlRSvMG"
    question = "Can the country of Crumpet have dragons? Answer with only YES or NO"

    create(
        gateway,
        {
            "model": "openai/gpt-4o-mini",
            "max_tokens": 64,
            "tools": [WEATHER_TOOL],
            "messages": [
                user(question),
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Let me check."},
                        {
                            "type": "tool_use",
                            "id": call_id,
                            "name": "lookup_population",
                            "input": {"country": "Crumpet"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": call_id, "content": "1,234"},
                        {"type": "text", "text": "Now decide."},
                    ],
                },
            ],
        },
    )

    [call] = gateway.replay.requests_to(chat)
    assert openai_canonical(call.json())["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": question}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Let me check."}],
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "lookup_population", "arguments": {"country": "Crumpet"}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": [{"type": "text", "text": "1,234"}]},
        {"role": "user", "content": [{"type": "text", "text": "Now decide."}]},
    ]


def test_a_base64_image_becomes_a_data_url(gateway: Gateway) -> None:
    chat = route_openai(gateway, "openai/chat_vision_image_url")

    payload = create(
        gateway,
        {
            "model": "openai/gpt-4o",
            "max_tokens": 300,
            "messages": [claude_vision_turn()],
        },
    )

    [call] = gateway.replay.requests_to(chat)
    assert openai_canonical(call.json())["messages"] == [openai_vision_turn()]
    recorded = recorded_json("openai/chat_vision_image_url")
    text = recorded["choices"][0]["message"]["content"]
    assert payload["content"] == [{"type": "text", "text": text}]
    usage = recorded["usage"]
    assert (payload["usage"]["input_tokens"], payload["usage"]["output_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )


def test_an_openai_stream_comes_back_as_anthropic_events(gateway: Gateway) -> None:
    chat = route_openai(gateway, "openai/chat_stream_include_usage")
    body: dict[str, Any] = {
        "model": "openai/gpt-5-nano",
        "max_tokens": 1024,
        "messages": [user("Count from 1 to 3")],
    }

    text, final = stream_final(gateway, body)

    [call] = gateway.replay.requests_to(chat)
    sent = openai_canonical(call.json())
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Count from 1 to 3"}]}
    ]
    assert text == "1\n2\n3"
    assert final["content"] == [{"type": "text", "text": "1\n2\n3"}]
    assert final["stop_reason"] == "end_turn"
    assert final["model"] == "gpt-5-nano-2025-08-07"
    assert (final["usage"]["input_tokens"], final["usage"]["output_tokens"]) == (13, 142)
    assert_only_record(gateway, prompt_tokens=13, completion_tokens=142, reasoning_tokens=128)


def test_an_openai_stream_on_the_wire_has_anthropics_event_order(gateway: Gateway) -> None:
    route_openai(gateway, "openai/chat_stream_include_usage")

    answer = post_messages(
        gateway,
        {
            "model": "openai/gpt-5-nano",
            "max_tokens": 1024,
            "stream": True,
            "messages": [user("Count from 1 to 3")],
        },
    )

    assert answer.status == 200, answer
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(answer.body)
    assert_anthropic_event_order(events)
    names = event_names(events)
    assert names == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * (len(names) - 5),
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0].json()["message"]
    assert (start["type"], start["role"], start["content"]) == ("message", "assistant", [])
    blocks = [e.json() for e in events if e.event == "content_block_start"]
    assert blocks[0]["content_block"] == {"type": "text", "text": ""}
    deltas = [e.json()["delta"] for e in events if e.event == "content_block_delta"]
    assert all(d["type"] == "text_delta" for d in deltas)
    assert "".join(d["text"] for d in deltas) == "1\n2\n3"
    [delta] = [e.json() for e in events if e.event == "message_delta"]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == 142


def test_an_openai_tool_call_stream_comes_back_as_tool_use_events(gateway: Gateway) -> None:
    fixture = "openai/chat_stream_tool_call"
    chat = route_openai(gateway, fixture)
    asked = recorded_request(fixture)
    body: dict[str, Any] = {
        "model": "openai/gpt-4o-mini",
        "max_tokens": 256,
        "messages": asked["messages"],
        "tools": [
            {
                "name": "multiply",
                "description": "Multiply two numbers.",
                "input_schema": asked["tools"][0]["function"]["parameters"],
            }
        ],
    }

    _, final = stream_final(gateway, body)
    answer = post_messages(gateway, {**body, "stream": True})

    assert final["content"] == [
        {
            "type": "tool_use",
            "id": "call_1EYWDzueHEp8OsB8jJSEp7WB",
            "name": "multiply",
            "input": {"a": 1231, "b": 2331},
        }
    ]
    assert final["stop_reason"] == "tool_use"
    assert (final["usage"]["input_tokens"], final["usage"]["output_tokens"]) == (54, 20)
    events = parse_sse(answer.body)
    assert_anthropic_event_order(events)
    [block] = [e.json()["content_block"] for e in events if e.event == "content_block_start"]
    assert (block["type"], block["id"], block["name"]) == (
        "tool_use",
        "call_1EYWDzueHEp8OsB8jJSEp7WB",
        "multiply",
    )
    pieces = [
        e.json()["delta"]["partial_json"]
        for e in events
        if e.event == "content_block_delta" and e.json()["delta"]["type"] == "input_json_delta"
    ]
    assert "".join(pieces) == '{"a":1231,"b":2331}'
    assert len([p for p in pieces if p]) > 1, "the arguments were not streamed as they came"
    [call, _] = gateway.replay.requests_to(chat)
    assert call.json()["tools"] == asked["tools"]  # type: ignore[index]


def test_a_whole_tool_call_in_one_mistral_chunk(gateway: Gateway) -> None:
    route_openai(gateway, "mistral/chat_stream_tool_call", kind="mistral")

    _, final = stream_final(
        gateway,
        {
            "model": "mistral/mistral-small-latest",
            "max_tokens": 256,
            "messages": [user("What's the weather in Berlin? (52.5200, 13.4050)")],
            "tools": [WEATHER_TOOL],
        },
    )

    assert final["content"] == [
        {"type": "tool_use", "id": "g6fVbXS8K", "name": "weather", "input": BERLIN_ARGS}
    ]
    assert final["stop_reason"] == "tool_use"
    usage = final["usage"]
    # 159 prompt tokens, 128 of them read from the cache.
    assert (usage["input_tokens"], usage["cache_read_input_tokens"]) == (31, 128)
    assert usage["output_tokens"] == 28
    assert_only_record(gateway, prompt_tokens=159, cached_tokens=128)


# --- Gemini, translated ----------------------------------------------------------------------


def test_a_call_to_gemini_is_translated_both_ways(gateway: Gateway) -> None:
    path = route_gemini(gateway, "gemini/generate_basic")

    payload = create(
        gateway,
        {"model": f"gemini/{GEMINI}", "max_tokens": 1024, "messages": [user("What's 2 + 2?")]},
    )

    [call] = gateway.replay.requests_to(path)
    assert call.header("x-goog-api-key") == UPSTREAM_KEY
    assert call.header("authorization") is None and call.header("x-api-key") is None
    sent: Any = call.json()
    assert sent["contents"] == recorded_request("gemini/generate_basic")["contents"]
    assert sent["generationConfig"]["maxOutputTokens"] == 1024
    assert_message(payload, GEMINI)
    assert payload["content"] == [{"type": "text", "text": "2 + 2 = **4**"}]
    assert payload["stop_reason"] == "end_turn"
    assert (payload["usage"]["input_tokens"], payload["usage"]["output_tokens"]) == (10, 31)
    assert_only_record(
        gateway,
        provider="gemini",
        model_served=GEMINI,
        prompt_tokens=10,
        completion_tokens=31,
        reasoning_tokens=23,
    )


def test_system_sampling_and_thinking_go_into_gemini_fields(gateway: Gateway) -> None:
    path = route_gemini(gateway, "gemini/generate_basic")

    create(
        gateway,
        {
            "model": f"gemini/{GEMINI}",
            "max_tokens": 4096,
            "system": "Answer in French.",
            "messages": [user("What's 2 + 2?")],
            "temperature": 1.0,
            "top_k": 40,
            "stop_sequences": ["END"],
            "thinking": {"type": "enabled", "budget_tokens": 2048},
        },
    )

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert sent["systemInstruction"]["parts"] == [{"text": "Answer in French."}]
    config = sent["generationConfig"]
    assert (config["maxOutputTokens"], config["temperature"], config["topK"]) == (4096, 1.0, 40)
    assert config["stopSequences"] == ["END"]
    assert config["thinkingConfig"]["thinkingBudget"] == 2048


def test_a_base64_image_becomes_inline_data(gateway: Gateway) -> None:
    fixture = "gemini/vision_inline_data"
    path = route_gemini(gateway, fixture)

    payload = create(
        gateway,
        {
            "model": f"gemini/{GEMINI}",
            "max_tokens": 1024,
            "messages": [claude_vision_turn()],
        },
    )

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert sent["contents"] == gemini_vision_contents()
    text = recorded_json(fixture)["candidates"][0]["content"]["parts"][0]["text"]
    assert payload["content"] == [{"type": "text", "text": text}]
    assert (payload["usage"]["input_tokens"], payload["usage"]["output_tokens"]) == (267, 420)


def test_gemini_function_calls_come_back_as_tool_use_blocks(gateway: Gateway) -> None:
    fixture = "gemini/function_call"
    path = route_gemini(gateway, fixture)

    payload = create(
        gateway,
        {
            "model": f"gemini/{GEMINI}",
            "max_tokens": 1024,
            "messages": [user(BERLIN)],
            "tools": [WEATHER_TOOL, LANGUAGE_TOOL],
            "tool_choice": {"type": "any"},
        },
    )

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert declared_functions(sent) == [
        {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]}
        for t in (WEATHER_TOOL, LANGUAGE_TOOL)
    ]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    uses = tool_uses(payload)
    assert [(name, args) for _, name, args in uses] == [
        ("weather", BERLIN_ARGS),
        ("best_language_to_learn", {}),
    ]
    assert_gemini_call_ids([i for i, _, _ in uses], [thought_signature(fixture), None])
    assert payload["stop_reason"] == "tool_use"
    assert (payload["usage"]["input_tokens"], payload["usage"]["output_tokens"]) == (143, 153)


def test_a_tool_use_sent_back_to_gemini_carries_its_thought_signature(gateway: Gateway) -> None:
    fixture = "gemini/function_call"
    path = route_gemini(gateway, fixture, times=1)
    first: dict[str, Any] = {
        "model": f"gemini/{GEMINI}",
        "max_tokens": 1024,
        "messages": [user(BERLIN)],
        "tools": [WEATHER_TOOL, LANGUAGE_TOOL],
    }

    answer = create(gateway, first)
    gateway.replay.route("POST", path, fixture="gemini/generate_basic")
    (weather_id, _, _), (language_id, _, _) = tool_uses(answer)
    create(
        gateway,
        {
            **first,
            "messages": [
                user(BERLIN),
                {"role": "assistant", "content": answer["content"]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": weather_id, "content": "Sunny"},
                        {"type": "tool_result", "tool_use_id": language_id, "content": "Python"},
                    ],
                },
            ],
        },
    )

    followed: Any = gateway.replay.requests_to(path)[1].json()
    contents = followed["contents"]
    assert len(contents) == 3, contents
    assert contents[1]["role"] == "model"
    calls = [
        {**p, "functionCall": {k: v for k, v in p["functionCall"].items() if k != "id"}}
        for p in contents[1]["parts"]
    ]
    assert calls == [
        {
            "functionCall": {"name": "weather", "args": BERLIN_ARGS},
            "thoughtSignature": thought_signature(fixture),
        },
        {"functionCall": {"name": "best_language_to_learn", "args": {}}},
    ]
    responses = [p["functionResponse"] for p in contents[2]["parts"]]
    assert [r["name"] for r in responses] == ["weather", "best_language_to_learn"]
    assert "Sunny" in json.dumps(responses[0]["response"])
    assert "Python" in json.dumps(responses[1]["response"])


def test_a_gemini_stream_comes_back_as_anthropic_events(gateway: Gateway) -> None:
    path = route_gemini(
        gateway, "gemini/stream_sse", model="gemini-2.0-flash-exp", method="streamGenerateContent"
    )
    body: dict[str, Any] = {
        "model": "gemini/gemini-2.0-flash-exp",
        "max_tokens": 1024,
        "system": "You are a helpful chatbot.",
        "temperature": 0.0,
        "messages": [user("What is the capital of France?")],
    }

    text, final = stream_final(gateway, body)
    answer = post_messages(gateway, {**body, "stream": True})

    first, _ = gateway.replay.requests_to(path)
    sent: Any = first.json()
    recorded = recorded_request("gemini/stream_sse")
    assert sent["contents"] == recorded["contents"]
    assert sent["systemInstruction"]["parts"] == recorded["systemInstruction"]["parts"]
    assert text == "The capital of France is Paris.\n"
    assert final["content"] == [{"type": "text", "text": "The capital of France is Paris.\n"}]
    assert final["stop_reason"] == "end_turn"
    assert final["model"] == "gemini-2.0-flash-exp"
    assert (final["usage"]["input_tokens"], final["usage"]["output_tokens"]) == (13, 8)
    assert answer.status == 200, answer
    events = parse_sse(answer.body)
    assert_anthropic_event_order(events)
    assert event_names(events)[:2] == ["message_start", "content_block_start"]


def test_a_gemini_function_call_stream_comes_back_as_tool_use(gateway: Gateway) -> None:
    fixture = "gemini/stream_function_call"
    route_gemini(gateway, fixture, method="streamGenerateContent")
    body: dict[str, Any] = {
        "model": f"gemini/{GEMINI}",
        "max_tokens": 1024,
        "messages": [user("What's the weather in Berlin? (52.5200, 13.4050)")],
        "tools": [WEATHER_TOOL],
    }

    _, final = stream_final(gateway, body)
    answer = post_messages(gateway, {**body, "stream": True})

    uses = tool_uses(final)
    assert [(name, args) for _, name, args in uses] == [("weather", BERLIN_ARGS)]
    assert_gemini_call_ids([uses[0][0]], [thought_signature(fixture)])
    assert final["stop_reason"] == "tool_use"
    assert (final["usage"]["input_tokens"], final["usage"]["output_tokens"]) == (103, 73)
    events = parse_sse(answer.body)
    assert_anthropic_event_order(events)
    starts = [e.json()["content_block"] for e in events if e.event == "content_block_start"]
    assert [(b["type"], b["name"]) for b in starts] == [("tool_use", "weather")]
    pieces = [
        e.json()["delta"]["partial_json"]
        for e in events
        if e.event == "content_block_delta" and e.json()["delta"]["type"] == "input_json_delta"
    ]
    assert json.loads("".join(pieces)) == BERLIN_ARGS
    for record in gateway.hub.usage.query().records:
        assert (record.prompt_tokens, record.completion_tokens) == (103, 73)
        assert (record.reasoning_tokens, record.provider) == (43, "gemini")


# --- model listings --------------------------------------------------------------------------


def test_bare_names_from_the_recorded_listings_reach_claude_and_gemini(gateway: Gateway) -> None:
    messages, generate = add_listed_claude_and_gemini(gateway)
    asked = [user("What's 2 + 2?")]

    to_claude = create(gateway, {"model": CLAUDE, "max_tokens": 64, "messages": asked})
    to_gemini = create(gateway, {"model": GEMINI, "max_tokens": 64, "messages": asked})

    assert to_claude == recorded_json("anthropic/messages_basic")
    assert to_gemini["content"] == [{"type": "text", "text": "2 + 2 = **4**"}]
    assert [r.path for r in gateway.replay.requests] == [messages, generate]
    assert gateway.replay.requests[0].json() == {
        "model": CLAUDE,
        "max_tokens": 64,
        "messages": asked,
    }


# --- count_tokens ----------------------------------------------------------------------------


def test_count_tokens_passes_through_to_claude(gateway: Gateway) -> None:
    claude = add_claude(gateway)
    gateway.replay.route("POST", count_tokens_path(claude), reply=json_reply({"input_tokens": 14}))
    body: dict[str, Any] = {
        "model": f"claude/{CLAUDE}",
        "system": "Answer in French.",
        "messages": [user("What's 2 + 2?")],
    }

    odd = b'{"messages":[{"role":"user","content":"Hi"}], "model" : "claude/%s"}' % CLAUDE.encode()

    counted = anthropic_client(gateway).messages.count_tokens(**body)
    raw = post_messages(gateway, odd, path="/v1/messages/count_tokens")

    assert counted.input_tokens == 14
    assert (raw.status, raw.json()) == (200, {"input_tokens": 14})
    first, second = gateway.replay.requests_to(count_tokens_path(claude))
    assert first.json() == {**body, "model": CLAUDE}
    assert second.body == odd.replace(b'"claude/claude-', b'"claude-')
    for call in (first, second):
        assert call.header("x-api-key") == UPSTREAM_KEY
        assert call.header("anthropic-version") == "2023-06-01"
    assert [r.path for r in gateway.replay.requests if r.method == "POST"] == [
        count_tokens_path(claude)
    ] * 2


def test_count_tokens_asks_gemini(gateway: Gateway) -> None:
    counted_reply = {
        "totalTokens": 31,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}],
    }
    path = route_gemini(gateway, method="countTokens", reply=gemini_reply(counted_reply))

    counted = anthropic_client(gateway).messages.count_tokens(
        model=f"gemini/{GEMINI}", messages=[{"role": "user", "content": "What's 2 + 2?"}]
    )

    assert counted.input_tokens == 31
    [call] = gateway.replay.requests_to(path)
    assert call.header("x-goog-api-key") == UPSTREAM_KEY
    assert gemini_contents_of_count(call.json()) == [
        {"role": "user", "parts": [{"text": "What's 2 + 2?"}]}
    ]
