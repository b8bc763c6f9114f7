"""POST /v1/chat/completions (and /v1/embeddings) through the official openai SDK to providers
of other wires: Claude (Anthropic's Messages API) and Gemini. The request is translated, the
answer comes back as chat.completion or chat.completion.chunk, usage is mapped, and every call
leaves a usage record with the provider's numbers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import (
    UPSTREAM_KEY,
    Gateway,
    Response,
    SseEvent,
    is_usage_chunk,
    parse_sse,
)
from replay import recorded_request
from translate_helpers import (
    BERLIN,
    BERLIN_ARGS,
    CACHED_ANSWER,
    CLAUDE,
    CLAUDE_FUNCTION_TOOLS,
    CLAUDE_TOOLS,
    GEMINI,
    GEMINI_EMBEDDING,
    LANGUAGE_SCHEMA,
    REDACTED,
    SIGNATURE,
    WEATHER_SCHEMA,
    add_listed_claude_and_gemini,
    anthropic_canonical,
    assert_cached_record,
    assert_gemini_call_ids,
    assert_only_record,
    claude_message,
    claude_reply,
    claude_stream,
    claude_usage,
    declared_functions,
    gemini_reply,
    gemini_vision_contents,
    openai_vision_turn,
    posts,
    recorded_json,
    route_claude,
    route_gemini,
    thought_signature,
    user,
)

INCLUDE_USAGE = [pytest.param(True, id="include_usage"), pytest.param(False, id="no_usage")]
# A usage record's cache fields when the provider read no cache and wrote none.
NO_CACHE = {"cached_tokens": 0, "cache_write_5m_tokens": 0, "cache_write_1h_tokens": 0}

TOOLS = CLAUDE_FUNCTION_TOOLS


def chat_json(gateway: Gateway, body: dict[str, Any]) -> dict[str, Any]:
    """Calls the chat completions endpoint through the SDK; returns the answer's JSON after
    checking the SDK parses it into the same thing."""
    raw = gateway.client().chat.completions.with_raw_response.create(**body)
    payload: dict[str, Any] = raw.http_response.json()
    assert raw.status_code == 200
    assert raw.parse().to_dict() == payload
    return payload


def stream_chunks(gateway: Gateway, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunks the SDK yields for a streamed call."""
    return [chunk.to_dict() for chunk in gateway.client().chat.completions.create(**body)]


def joined(chunks: list[dict[str, Any]], field: str) -> str:
    """The text of `field` (content, reasoning_content) over every delta."""
    return "".join(
        choice["delta"].get(field) or "" for chunk in chunks for choice in chunk["choices"]
    )


def finish_reasons(chunks: list[dict[str, Any]]) -> list[str]:
    return [c["finish_reason"] for chunk in chunks for c in chunk["choices"] if c["finish_reason"]]


def streamed_calls(chunks: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The tool calls a stream builds, by index: id, name, arguments (joined), fragments (how
    many deltas carried arguments)."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            for call in choice["delta"].get("tool_calls") or []:
                known = calls.setdefault(
                    call["index"], {"id": "", "name": "", "arguments": "", "fragments": 0}
                )
                function = call.get("function") or {}
                known["id"] += call.get("id") or ""
                known["name"] += function.get("name") or ""
                if function.get("arguments"):
                    known["arguments"] += function["arguments"]
                    known["fragments"] += 1
    return calls


def usage_chunks(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["usage"] for c in chunks if is_usage_chunk(c)]


def tool_calls_of(payload: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(id, name, parsed arguments) of each tool call of a chat.completion."""
    calls = payload["choices"][0]["message"].get("tool_calls") or []
    assert all(c["type"] == "function" for c in calls), calls
    return [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"] or "{}"))
        for c in calls
    ]


def chunks_on_the_wire(answer: Response) -> list[dict[str, Any]]:
    """The chunks of a streamed answer as the gateway sent them, after checking they came as an
    event stream of chat.completion.chunk events ending with one [DONE]."""
    assert answer.status == 200, answer
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(answer.body)
    assert events[-1] == SseEvent(None, "[DONE]")
    assert all(e.json()["object"] == "chat.completion.chunk" for e in events[:-1])
    assert [e for e in events[:-1] if e.data == "[DONE]"] == []
    return [e.json() for e in events[:-1]]


# --- Claude: plain answers -------------------------------------------------------------------


def test_a_plain_claude_answer_comes_back_as_a_chat_completion(gateway: Gateway) -> None:
    path = route_claude(gateway, "anthropic/messages_basic")
    gateway.replay.clear_requests()

    payload = chat_json(gateway, {"model": f"claude/{CLAUDE}", "messages": [user("What's 2 + 2?")]})

    [call] = gateway.replay.requests
    assert (call.method, call.path) == ("POST", path)
    assert anthropic_canonical(call.json()) == {
        "model": CLAUDE,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What's 2 + 2?"}]}],
        "max_tokens": 32000,
    }
    assert call.header("x-api-key") == UPSTREAM_KEY
    assert call.header("anthropic-version") == "2023-06-01"
    assert call.header("authorization") is None
    assert call.header("content-type") == "application/json"
    secret = gateway.app.key.secret
    assert not [(n, v) for n, v in call.headers if secret in v]
    assert payload["object"] == "chat.completion"
    assert payload["model"] == CLAUDE
    [choice] = payload["choices"]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "2 + 2 = 4"
    assert not choice["message"].get("tool_calls")
    assert choice["finish_reason"] == "stop"
    usage = payload["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        16,
        13,
        29,
    )
    assert_only_record(
        gateway,
        provider="claude",
        model_requested=f"claude/{CLAUDE}",
        model_served=CLAUDE,
        prompt_tokens=16,
        completion_tokens=13,
        reasoning_tokens=0,
        **NO_CACHE,
        status=200,
        error_kind="",
    )


@pytest.mark.parametrize(
    ("model", "extra", "max_tokens"),
    [
        (CLAUDE, {}, 32000),
        ("claude-3-haiku-20240307", {}, 4096),
        (CLAUDE, {"max_tokens": 100}, 100),
        (CLAUDE, {"max_completion_tokens": 200}, 200),
    ],
    ids=["haiku-4-5-default", "claude-3-haiku-default", "max_tokens", "max_completion_tokens"],
)
def test_max_tokens_is_filled_in_when_absent(
    gateway: Gateway, model: str, extra: dict[str, Any], max_tokens: int
) -> None:
    path = route_claude(gateway, "anthropic/messages_basic")

    chat_json(gateway, {"model": f"claude/{model}", "messages": [user("Hi")], **extra})

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert sent["max_tokens"] == max_tokens
    assert "max_completion_tokens" not in sent
    assert sent["model"] == model


@pytest.mark.parametrize(
    ("stop", "sequences"), [(["\n\n", "END"], ["\n\n", "END"]), ("END", ["END"])]
)
def test_system_sampling_and_stop_are_translated_and_hints_left_out(
    gateway: Gateway, stop: Any, sequences: list[str]
) -> None:
    path = route_claude(gateway, "anthropic/messages_basic")

    payload = chat_json(
        gateway,
        {
            "model": f"claude/{CLAUDE}",
            "messages": [
                {"role": "system", "content": "Answer in French."},
                user("What's 2 + 2?"),
            ],
            "max_completion_tokens": 64,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": stop,
            # Hints Claude has no use for: accepted, never forwarded.
            "store": True,
            "metadata": {"ticket": "T-1"},
            "service_tier": "auto",
            "seed": 7,
            "n": 1,
        },
    )

    [call] = gateway.replay.requests_to(path)
    assert anthropic_canonical(call.json()) == {
        "model": CLAUDE,
        "system": [{"type": "text", "text": "Answer in French."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What's 2 + 2?"}]}],
        "max_tokens": 64,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop_sequences": sequences,
    }
    assert payload["choices"][0]["message"]["content"] == "2 + 2 = 4"


def test_a_data_url_image_becomes_a_base64_image_block(gateway: Gateway) -> None:
    fixture = "anthropic/messages_vision_base64"
    path = route_claude(gateway, fixture)

    payload = chat_json(
        gateway,
        {
            "model": f"claude/{CLAUDE}",
            "messages": [openai_vision_turn()],
            "max_tokens": 64000,
        },
    )

    [call] = gateway.replay.requests_to(path)
    assert anthropic_canonical(call.json()) == anthropic_canonical(recorded_request(fixture))
    recorded = recorded_json(fixture)
    assert payload["choices"][0]["message"]["content"] == recorded["content"][0]["text"]
    assert payload["choices"][0]["finish_reason"] == "stop"
    assert (payload["usage"]["prompt_tokens"], payload["usage"]["completion_tokens"]) == (43, 132)


# --- Claude: tools ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool_choice", "upstream_choice"),
    [
        (None, None),
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        (
            {"type": "function", "function": {"name": "weather"}},
            {"type": "tool", "name": "weather"},
        ),
    ],
    ids=["unset", "auto", "required", "none", "named"],
)
def test_tools_go_up_as_claude_tools_and_tool_use_comes_back_as_tool_calls(
    gateway: Gateway, tool_choice: Any, upstream_choice: Any
) -> None:
    path = route_claude(gateway, "anthropic/messages_tool_use")
    body: dict[str, Any] = {
        "model": f"claude/{CLAUDE}",
        "messages": [user(BERLIN)],
        "tools": TOOLS,
    }
    if tool_choice is not None:
        body["tool_choice"] = tool_choice

    payload = chat_json(gateway, body)

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert sent["tools"] == CLAUDE_TOOLS
    assert sent.get("tool_choice") == upstream_choice
    message = payload["choices"][0]["message"]
    assert message["content"] is None
    assert tool_calls_of(payload) == [
        ("toolu_01TjHdHxyQNDy4DipRieJU5n", "weather", BERLIN_ARGS),
        ("toolu_01QHFWAkMuVLb3VgS4EDGUGY", "best_language_to_learn", {}),
    ]
    assert payload["choices"][0]["finish_reason"] == "tool_calls"
    assert (payload["usage"]["prompt_tokens"], payload["usage"]["completion_tokens"]) == (701, 98)


def test_tool_results_go_back_as_one_user_turn_of_tool_result_blocks(gateway: Gateway) -> None:
    path = route_claude(gateway, "anthropic/messages_basic")
    calls = [
        {
            "id": "toolu_01TjHdHxyQNDy4DipRieJU5n",
            "type": "function",
            "function": {"name": "weather", "arguments": json.dumps(BERLIN_ARGS)},
        },
        {
            "id": "toolu_01QHFWAkMuVLb3VgS4EDGUGY",
            "type": "function",
            "function": {"name": "best_language_to_learn", "arguments": "{}"},
        },
    ]

    chat_json(
        gateway,
        {
            "model": f"claude/{CLAUDE}",
            "tools": TOOLS,
            "messages": [
                user(BERLIN),
                {"role": "assistant", "content": None, "tool_calls": calls},
                {
                    "role": "tool",
                    "tool_call_id": "toolu_01TjHdHxyQNDy4DipRieJU5n",
                    "content": "Sunny, 24 \u00b0C",
                },
                {
                    "role": "tool",
                    "tool_call_id": "toolu_01QHFWAkMuVLb3VgS4EDGUGY",
                    "content": "Python",
                },
            ],
        },
    )

    [call] = gateway.replay.requests_to(path)
    sent = anthropic_canonical(call.json())
    assert sent["tools"] == CLAUDE_TOOLS
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": BERLIN}]},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_01TjHdHxyQNDy4DipRieJU5n",
                    "name": "weather",
                    "input": BERLIN_ARGS,
                },
                {
                    "type": "tool_use",
                    "id": "toolu_01QHFWAkMuVLb3VgS4EDGUGY",
                    "name": "best_language_to_learn",
                    "input": {},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01TjHdHxyQNDy4DipRieJU5n",
                    "content": [{"type": "text", "text": "Sunny, 24 \u00b0C"}],
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01QHFWAkMuVLb3VgS4EDGUGY",
                    "content": [{"type": "text", "text": "Python"}],
                },
            ],
        },
    ]


# --- Claude: thinking ------------------------------------------------------------------------

THOUGHT = (
    "The user wants the weather in Berlin. I have a weather tool that takes a latitude and a "
    "longitude, and the user gave both, so I will call it with 52.5200 and 13.4050."
)
THINKING_ANSWER = claude_message(
    [
        {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE},
        {"type": "text", "text": "I'll look up the weather in Berlin."},
        {
            "type": "tool_use",
            "id": "toolu_01D7FLrfh4GYq7yT1ULFeyMV",
            "name": "weather",
            "input": BERLIN_ARGS,
        },
    ],
    stop_reason="tool_use",
    usage=claude_usage(input_tokens=612, output_tokens=143),
    model="claude-sonnet-4-5-20250929",
    message_id="msg_01Aq9w938a90dw8q",
)


def test_thinking_comes_back_with_its_signature_and_goes_up_again(gateway: Gateway) -> None:
    path = route_claude(gateway, reply=claude_reply(THINKING_ANSWER), times=1)
    question = user("What's the weather in Berlin? (52.5200, 13.4050)")
    first: dict[str, Any] = {
        "model": "claude/claude-sonnet-4-5",
        "messages": [question],
        "tools": TOOLS[:1],
        "reasoning_effort": "low",
    }

    answer = chat_json(gateway, first)

    message = answer["choices"][0]["message"]
    assert message["reasoning_content"] == THOUGHT
    assert message["thinking_blocks"] == [
        {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}
    ]
    assert message["content"] == "I'll look up the weather in Berlin."
    assert tool_calls_of(answer) == [("toolu_01D7FLrfh4GYq7yT1ULFeyMV", "weather", BERLIN_ARGS)]
    assert answer["choices"][0]["finish_reason"] == "tool_calls"

    # The next turn sends the assistant message back as the client got it.
    gateway.replay.route("POST", path, fixture="anthropic/messages_basic")
    echoed = {k: message[k] for k in ("role", "content", "tool_calls", "thinking_blocks")}
    tool_result = {
        "role": "tool",
        "tool_call_id": "toolu_01D7FLrfh4GYq7yT1ULFeyMV",
        "content": "Sunny",
    }
    chat_json(gateway, {**first, "messages": [question, echoed, tool_result]})

    asked, followed = (anthropic_canonical(r.json()) for r in gateway.replay.requests_to(path))
    for sent in (asked, followed):
        assert sent["thinking"]["type"] == "enabled", sent
        assert 1024 <= sent["thinking"]["budget_tokens"] < sent["max_tokens"], sent
    assert followed["messages"][1] == {"role": "assistant", "content": THINKING_ANSWER["content"]}
    assert followed["messages"][2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_01D7FLrfh4GYq7yT1ULFeyMV",
                "content": [{"type": "text", "text": "Sunny"}],
            }
        ],
    }


def test_redacted_thinking_comes_back_and_goes_up_as_it_was(gateway: Gateway) -> None:
    redacted = claude_message(
        [
            {"type": "redacted_thinking", "data": REDACTED},
            {"type": "text", "text": "Berlin is sunny today."},
        ],
        model="claude-sonnet-4-5-20250929",
    )
    path = route_claude(gateway, reply=claude_reply(redacted), times=1)
    body: dict[str, Any] = {
        "model": "claude/claude-sonnet-4-5",
        "messages": [user("Weather in Berlin?")],
        "reasoning_effort": "medium",
    }

    answer = chat_json(gateway, body)

    message = answer["choices"][0]["message"]
    assert message["content"] == "Berlin is sunny today."
    assert message["thinking_blocks"] == [{"type": "redacted_thinking", "data": REDACTED}]

    gateway.replay.route("POST", path, fixture="anthropic/messages_basic")
    echoed = {k: message[k] for k in ("role", "content", "thinking_blocks")}
    chat_json(gateway, {**body, "messages": [*body["messages"], echoed, user("Thanks!")]})

    _, followed = (anthropic_canonical(r.json()) for r in gateway.replay.requests_to(path))
    assert followed["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "redacted_thinking", "data": REDACTED},
                {"type": "text", "text": "Berlin is sunny today."},
            ],
        },
        {"role": "user", "content": [{"type": "text", "text": "Thanks!"}]},
    ]


def test_streamed_thinking_comes_as_reasoning_content_deltas(gateway: Gateway) -> None:
    route_claude(gateway, reply=claude_stream(THINKING_ANSWER))

    chunks = stream_chunks(
        gateway,
        {
            "model": "claude/claude-sonnet-4-5",
            "messages": [user("What's the weather in Berlin? (52.5200, 13.4050)")],
            "tools": TOOLS[:1],
            "reasoning_effort": "low",
            "stream": True,
        },
    )

    assert joined(chunks, "reasoning_content") == THOUGHT
    assert joined(chunks, "content") == "I'll look up the weather in Berlin."
    [call] = streamed_calls(chunks).values()
    assert (call["id"], call["name"]) == ("toolu_01D7FLrfh4GYq7yT1ULFeyMV", "weather")
    assert json.loads(call["arguments"]) == BERLIN_ARGS
    assert finish_reasons(chunks) == ["tool_calls"]


# --- Claude: streams -------------------------------------------------------------------------


@pytest.mark.parametrize("include_usage", INCLUDE_USAGE)
def test_a_claude_stream_comes_back_as_chunks(gateway: Gateway, include_usage: bool) -> None:
    fixture = "anthropic/messages_stream"
    path = route_claude(gateway, fixture)
    body: dict[str, Any] = {
        "model": "claude/claude-sonnet-4-5",
        "messages": [user("Two names for a pet pelican, be brief")],
        "max_tokens": 8192,
        "temperature": 1.0,
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}

    chunks = stream_chunks(gateway, body)

    [call] = gateway.replay.requests_to(path)
    assert anthropic_canonical(call.json()) == anthropic_canonical(recorded_request(fixture))
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert {c["model"] for c in chunks} == {"claude-sonnet-4-5-20250929"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert joined(chunks, "content") == "- Captain\n- Scoop"
    assert finish_reasons(chunks) == ["stop"]
    usage = usage_chunks(chunks)
    if include_usage:
        [only] = usage
        assert (only["prompt_tokens"], only["completion_tokens"], only["total_tokens"]) == (
            17,
            10,
            27,
        )
    else:
        assert usage == []
    assert_only_record(
        gateway, prompt_tokens=17, completion_tokens=10, model_served="claude-sonnet-4-5-20250929"
    )


def test_a_claude_stream_on_the_wire_ends_with_done(gateway: Gateway) -> None:
    route_claude(gateway, "anthropic/messages_stream")

    answer = gateway.post(
        "/v1/chat/completions",
        {
            "model": "claude/claude-sonnet-4-5",
            "messages": [user("Two names for a pet pelican, be brief")],
            "stream": True,
        },
    )

    chunks = chunks_on_the_wire(answer)
    assert joined(chunks, "content") == "- Captain\n- Scoop"
    assert usage_chunks(chunks) == []


@pytest.mark.parametrize("include_usage", INCLUDE_USAGE)
def test_a_claude_tool_use_stream_comes_back_as_tool_call_chunks(
    gateway: Gateway, include_usage: bool
) -> None:
    fixture = "anthropic/messages_stream_tool_use"
    path = route_claude(gateway, fixture)
    body: dict[str, Any] = {
        "model": f"claude/{CLAUDE}",
        "messages": [user("Generate one name for a pet pelican")],
        "max_tokens": 8192,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "pelican_name_generator",
                    "description": "Generates a name",
                    "parameters": {"properties": {}, "type": "object"},
                },
            }
        ],
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}

    chunks = stream_chunks(gateway, body)

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert sent["stream"] is True
    assert sent["tools"] == [
        {
            "name": "pelican_name_generator",
            "description": "Generates a name",
            "input_schema": {"properties": {}, "type": "object"},
        }
    ]
    calls = streamed_calls(chunks)
    assert list(calls) == [0]
    assert (calls[0]["id"], calls[0]["name"]) == (
        "toolu_01CzN6riCPqw4pVSuTd9Dwn7",
        "pelican_name_generator",
    )
    assert json.loads(calls[0]["arguments"] or "{}") == {}
    assert finish_reasons(chunks) == ["tool_calls"]
    assert joined(chunks, "content") == ""
    if include_usage:
        [usage] = usage_chunks(chunks)
        assert (usage["prompt_tokens"], usage["completion_tokens"]) == (543, 40)
    else:
        assert usage_chunks(chunks) == []


def test_tool_arguments_are_streamed_as_they_come(gateway: Gateway) -> None:
    answer = claude_message(
        [
            {"type": "text", "text": "Checking the weather."},
            {"type": "tool_use", "id": "toolu_01Weather", "name": "weather", "input": BERLIN_ARGS},
            {
                "type": "tool_use",
                "id": "toolu_02Language",
                "name": "best_language_to_learn",
                "input": {"audience": "beginners"},
            },
        ],
        stop_reason="tool_use",
    )
    route_claude(gateway, reply=claude_stream(answer))

    chunks = stream_chunks(
        gateway,
        {"model": f"claude/{CLAUDE}", "messages": [user(BERLIN)], "tools": TOOLS, "stream": True},
    )

    calls = streamed_calls(chunks)
    assert list(calls) == [0, 1]
    assert (calls[0]["id"], calls[0]["name"]) == ("toolu_01Weather", "weather")
    assert calls[0]["arguments"] == json.dumps(BERLIN_ARGS)
    assert calls[0]["fragments"] >= 2, "the arguments came in one piece, not as streamed"
    assert (calls[1]["id"], calls[1]["name"]) == ("toolu_02Language", "best_language_to_learn")
    assert calls[1]["arguments"] == json.dumps({"audience": "beginners"})
    assert joined(chunks, "content") == "Checking the weather."
    assert finish_reasons(chunks) == ["tool_calls"]


# --- Claude: cache usage ---------------------------------------------------------------------


def test_cache_reads_and_writes_count_as_prompt_tokens(gateway: Gateway) -> None:
    route_claude(gateway, reply=claude_reply(CACHED_ANSWER))

    payload = chat_json(gateway, {"model": f"claude/{CLAUDE}", "messages": [user("Again?")]})

    usage = payload["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        2400,
        50,
        2450,
    )
    assert usage["prompt_tokens_details"]["cached_tokens"] == 2000
    assert payload["choices"][0]["message"]["content"] == "From the cache."
    assert_cached_record(gateway)


def test_cache_usage_of_a_stream(gateway: Gateway) -> None:
    route_claude(gateway, reply=claude_stream(CACHED_ANSWER))

    chunks = stream_chunks(
        gateway,
        {
            "model": f"claude/{CLAUDE}",
            "messages": [user("Again?")],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )

    [usage] = usage_chunks(chunks)
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        2400,
        50,
        2450,
    )
    assert usage["prompt_tokens_details"]["cached_tokens"] == 2000
    assert joined(chunks, "content") == "From the cache."
    assert_cached_record(gateway)


# --- Gemini ----------------------------------------------------------------------------------


def test_a_plain_gemini_answer_comes_back_as_a_chat_completion(gateway: Gateway) -> None:
    path = route_gemini(gateway, "gemini/generate_basic")
    gateway.replay.clear_requests()

    payload = chat_json(gateway, {"model": f"gemini/{GEMINI}", "messages": [user("What's 2 + 2?")]})

    [call] = gateway.replay.requests
    assert (call.method, call.path) == ("POST", path)
    assert call.header("x-goog-api-key") == UPSTREAM_KEY
    assert call.header("authorization") is None
    assert call.header("content-type") == "application/json"
    sent: Any = call.json()
    assert sent["contents"] == recorded_request("gemini/generate_basic")["contents"]
    assert "systemInstruction" not in sent and "tools" not in sent
    assert payload["object"] == "chat.completion"
    assert payload["model"] == GEMINI
    message = payload["choices"][0]["message"]
    assert (message["role"], message["content"]) == ("assistant", "2 + 2 = **4**")
    assert payload["choices"][0]["finish_reason"] == "stop"
    usage = payload["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        10,
        31,
        41,
    )
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 23
    assert_only_record(
        gateway,
        provider="gemini",
        model_requested=f"gemini/{GEMINI}",
        model_served=GEMINI,
        prompt_tokens=10,
        completion_tokens=31,
        reasoning_tokens=23,
        **NO_CACHE,
    )


def test_system_and_generation_settings_go_into_gemini_fields(gateway: Gateway) -> None:
    path = route_gemini(gateway, "gemini/generate_basic")

    chat_json(
        gateway,
        {
            "model": f"gemini/{GEMINI}",
            "messages": [
                {"role": "system", "content": "Answer in French."},
                user("What's 2 + 2?"),
            ],
            "max_tokens": 64,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": ["END"],
        },
    )

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert sent["systemInstruction"]["parts"] == [{"text": "Answer in French."}]
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "What's 2 + 2?"}]}]
    config = sent["generationConfig"]
    assert (config["maxOutputTokens"], config["temperature"], config["topP"]) == (64, 0.2, 0.9)
    assert config["stopSequences"] == ["END"]


def test_reasoning_effort_becomes_a_gemini_thinking_budget(gateway: Gateway) -> None:
    path = route_gemini(gateway, "gemini/generate_basic")

    chat_json(
        gateway,
        {"model": f"gemini/{GEMINI}", "messages": [user("2 + 2?")], "reasoning_effort": "high"},
    )

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    thinking = sent["generationConfig"]["thinkingConfig"]
    assert isinstance(thinking["thinkingBudget"], int) and thinking["thinkingBudget"] > 0


def test_a_data_url_image_becomes_inline_data(gateway: Gateway) -> None:
    fixture = "gemini/vision_inline_data"
    path = route_gemini(gateway, fixture)

    payload = chat_json(
        gateway,
        {
            "model": f"gemini/{GEMINI}",
            "messages": [openai_vision_turn()],
        },
    )

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert sent["contents"] == gemini_vision_contents()
    recorded = recorded_json(fixture)
    text = recorded["candidates"][0]["content"]["parts"][0]["text"]
    assert payload["choices"][0]["message"]["content"] == text
    usage = payload["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (267, 47 + 373)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 373


@pytest.mark.parametrize(
    ("tool_choice", "config"),
    [
        ("auto", {"functionCallingConfig": {"mode": "AUTO"}}),
        ("required", {"functionCallingConfig": {"mode": "ANY"}}),
        ("none", {"functionCallingConfig": {"mode": "NONE"}}),
        (
            {"type": "function", "function": {"name": "weather"}},
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}},
        ),
    ],
    ids=["auto", "required", "none", "named"],
)
def test_tools_go_up_as_function_declarations_and_calls_come_back(
    gateway: Gateway, tool_choice: Any, config: Any
) -> None:
    fixture = "gemini/function_call"
    path = route_gemini(gateway, fixture)

    payload = chat_json(
        gateway,
        {
            "model": f"gemini/{GEMINI}",
            "messages": [user(BERLIN)],
            "tools": TOOLS,
            "tool_choice": tool_choice,
        },
    )

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert sent["contents"] == recorded_request(fixture)["contents"]
    assert declared_functions(sent) == [
        {
            "name": "weather",
            "description": "Gets current weather for a location",
            "parameters": WEATHER_SCHEMA,
        },
        {
            "name": "best_language_to_learn",
            "description": "Gets the best language to learn",
            "parameters": LANGUAGE_SCHEMA,
        },
    ]
    assert sent["toolConfig"] == config
    calls = tool_calls_of(payload)
    assert [(name, args) for _, name, args in calls] == [
        ("weather", BERLIN_ARGS),
        ("best_language_to_learn", {}),
    ]
    assert_gemini_call_ids([i for i, _, _ in calls], [thought_signature(fixture), None])
    assert payload["choices"][0]["message"]["content"] is None
    assert payload["choices"][0]["finish_reason"] == "tool_calls"
    usage = payload["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (143, 44 + 109)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 109


def without_ids(part: dict[str, Any]) -> dict[str, Any]:
    """A Gemini part without the optional ids of functionCall and functionResponse."""
    result = dict(part)
    for field in ("functionCall", "functionResponse"):
        if field in result:
            result[field] = {k: v for k, v in result[field].items() if k != "id"}
    return result


def test_a_tool_call_sent_back_carries_its_thought_signature(gateway: Gateway) -> None:
    fixture = "gemini/function_call"
    path = route_gemini(gateway, fixture, times=1)
    first: dict[str, Any] = {
        "model": f"gemini/{GEMINI}",
        "messages": [user(BERLIN)],
        "tools": TOOLS,
    }

    answer = chat_json(gateway, first)
    calls = answer["choices"][0]["message"]["tool_calls"]
    gateway.replay.route("POST", path, fixture="gemini/generate_basic")
    chat_json(
        gateway,
        {
            **first,
            "messages": [
                user(BERLIN),
                {"role": "assistant", "content": None, "tool_calls": calls},
                {"role": "tool", "tool_call_id": calls[0]["id"], "content": "Sunny, 24 degrees"},
                {"role": "tool", "tool_call_id": calls[1]["id"], "content": "Python"},
            ],
        },
    )

    followed: Any = gateway.replay.requests_to(path)[1].json()
    contents = followed["contents"]
    assert len(contents) == 3, contents
    assert contents[0] == {"role": "user", "parts": [{"text": BERLIN}]}
    assert contents[1]["role"] == "model"
    assert [without_ids(p) for p in contents[1]["parts"]] == [
        {
            "functionCall": {"name": "weather", "args": BERLIN_ARGS},
            "thoughtSignature": thought_signature(fixture),
        },
        {"functionCall": {"name": "best_language_to_learn", "args": {}}},
    ]
    assert contents[2]["role"] in ("user", "function"), contents[2]
    responses = [p["functionResponse"] for p in contents[2]["parts"]]
    assert [r["name"] for r in responses] == ["weather", "best_language_to_learn"]
    assert "Sunny, 24 degrees" in json.dumps(responses[0]["response"])
    assert "Python" in json.dumps(responses[1]["response"])
    assert all(isinstance(r["response"], dict) for r in responses)


@pytest.mark.parametrize("include_usage", INCLUDE_USAGE)
def test_a_gemini_stream_comes_back_as_chunks(gateway: Gateway, include_usage: bool) -> None:
    fixture = "gemini/stream_sse"
    path = route_gemini(
        gateway, fixture, model="gemini-2.0-flash-exp", method="streamGenerateContent"
    )
    body: dict[str, Any] = {
        "model": "gemini/gemini-2.0-flash-exp",
        "messages": [
            {"role": "system", "content": "You are a helpful chatbot."},
            user("What is the capital of France?"),
        ],
        "temperature": 0.0,
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}

    chunks = stream_chunks(gateway, body)

    [call] = gateway.replay.requests_to(path)
    assert call.header("x-goog-api-key") == UPSTREAM_KEY
    sent: Any = call.json()
    recorded = recorded_request(fixture)
    assert sent["contents"] == recorded["contents"]
    assert sent["systemInstruction"]["parts"] == recorded["systemInstruction"]["parts"]
    assert sent["generationConfig"]["temperature"] == 0.0
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert joined(chunks, "content") == "The capital of France is Paris.\n"
    assert finish_reasons(chunks) == ["stop"]
    if include_usage:
        [usage] = usage_chunks(chunks)
        assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
            13,
            8,
            21,
        )
    else:
        assert usage_chunks(chunks) == []
    assert_only_record(
        gateway, prompt_tokens=13, completion_tokens=8, model_served="gemini-2.0-flash-exp"
    )


def test_a_gemini_stream_on_the_wire_ends_with_done(gateway: Gateway) -> None:
    route_gemini(
        gateway, "gemini/stream_sse", model="gemini-2.0-flash-exp", method="streamGenerateContent"
    )

    answer = gateway.post(
        "/v1/chat/completions",
        {
            "model": "gemini/gemini-2.0-flash-exp",
            "messages": [user("What is the capital of France?")],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )

    chunks = chunks_on_the_wire(answer)
    assert is_usage_chunk(chunks[-1])
    assert [c for c in chunks[:-1] if is_usage_chunk(c)] == []


@pytest.mark.parametrize("include_usage", INCLUDE_USAGE)
def test_a_gemini_function_call_stream_comes_back_as_tool_call_chunks(
    gateway: Gateway, include_usage: bool
) -> None:
    fixture = "gemini/stream_function_call"
    path = route_gemini(gateway, fixture, method="streamGenerateContent")
    body: dict[str, Any] = {
        "model": f"gemini/{GEMINI}",
        "messages": [user("What's the weather in Berlin? (52.5200, 13.4050)")],
        "tools": TOOLS[:1],
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}

    chunks = stream_chunks(gateway, body)

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert sent["contents"] == recorded_request(fixture)["contents"]
    calls = streamed_calls(chunks)
    assert list(calls) == [0]
    assert calls[0]["name"] == "weather"
    assert json.loads(calls[0]["arguments"]) == BERLIN_ARGS
    assert_gemini_call_ids([calls[0]["id"]], [thought_signature(fixture)])
    assert finish_reasons(chunks) == ["tool_calls"]
    if include_usage:
        [usage] = usage_chunks(chunks)
        assert (usage["prompt_tokens"], usage["completion_tokens"]) == (103, 30 + 43)
        assert usage["completion_tokens_details"]["reasoning_tokens"] == 43
    else:
        assert usage_chunks(chunks) == []
    assert_only_record(gateway, prompt_tokens=103, completion_tokens=73, reasoning_tokens=43)


# --- Gemini embeddings -----------------------------------------------------------------------


def test_embeddings_of_a_list_go_to_batch_embed_contents(gateway: Gateway) -> None:
    fixture = "gemini/batch_embed_contents"
    path = route_gemini(gateway, fixture, model=GEMINI_EMBEDDING, method="batchEmbedContents")
    gateway.replay.clear_requests()

    raw = gateway.client().embeddings.with_raw_response.create(
        model=f"gemini/{GEMINI_EMBEDDING}",
        input=["Some text goes here"],
        dimensions=768,
        encoding_format="float",
    )
    result = raw.parse()

    [call] = gateway.replay.requests
    assert (call.method, call.path) == ("POST", path)
    assert call.json() == recorded_request(fixture)
    assert call.header("x-goog-api-key") == UPSTREAM_KEY
    values = recorded_json(fixture)["embeddings"][0]["values"]
    payload = raw.http_response.json()
    assert payload["object"] == "list"
    assert [(d["object"], d["index"]) for d in payload["data"]] == [("embedding", 0)]
    assert result.data[0].embedding == values
    assert len(values) == 768
    assert_only_record(gateway, provider="gemini", model_served=GEMINI_EMBEDDING, status=200)


def test_embeddings_of_one_string_go_to_embed_content(gateway: Gateway) -> None:
    embedded = gemini_reply({"embedding": {"values": [0.25, -0.5, 0.125]}})
    path = route_gemini(gateway, model=GEMINI_EMBEDDING, method="embedContent", reply=embedded)

    result = gateway.client().embeddings.create(
        model=f"gemini/{GEMINI_EMBEDDING}", input="Hello world", encoding_format="float"
    )

    [call] = gateway.replay.requests_to(path)
    sent: Any = call.json()
    assert sent["content"] == {"parts": [{"text": "Hello world"}]}
    assert sent.get("model", f"models/{GEMINI_EMBEDDING}") == f"models/{GEMINI_EMBEDDING}"
    assert [d.embedding for d in result.data] == [[0.25, -0.5, 0.125]]


# --- model listings --------------------------------------------------------------------------


def listed_ids(fixture: str) -> list[str]:
    listing = recorded_json(fixture)
    if "models" in listing:
        return [m["name"].removeprefix("models/") for m in listing["models"]]
    return [m["id"] for m in listing["data"]]


def test_bare_names_resolve_through_the_recorded_listings(gateway: Gateway) -> None:
    messages, generate = add_listed_claude_and_gemini(gateway)

    listed = sorted(m.id for m in gateway.client().models.list())
    to_claude = chat_json(gateway, {"model": CLAUDE, "messages": [user("What's 2 + 2?")]})
    to_gemini = chat_json(gateway, {"model": GEMINI, "messages": [user("What's 2 + 2?")]})

    assert listed == sorted(
        [f"claude/{i}" for i in listed_ids("anthropic/models_list")]
        + [f"gemini/{i}" for i in listed_ids("gemini/models_list")]
    )
    assert to_claude["choices"][0]["message"]["content"] == "2 + 2 = 4"
    assert to_gemini["choices"][0]["message"]["content"] == "2 + 2 = **4**"
    assert posts(gateway.replay) == [messages, generate]
    providers = [r.provider for r in reversed(gateway.hub.usage.query().records)]
    assert providers == ["claude", "gemini"]
