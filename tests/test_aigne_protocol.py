"""The AIGNE Hub front door (docs/aigne-protocol.md) at the protocol level, with raw HTTP: the
discovery document, POST /api/v2/chat (assembled and streamed) against OpenAI-family, Claude
and Gemini upstreams, the AIGNE message format as each provider receives it, images,
embeddings, model status and listings, and the errors before and after a stream begins.

Requests are shaped as `@aigne/aigne-hub` sends them (its BaseClient): ``{"input": {...,
"modelOptions": {"model"}, "outputFileType": "url"}, "agent": "$CHAT_MODEL", "options":
{"userContext": {}, "memories": [], "streaming"?}}`` with ``Authorization: Bearer`` and
``x-aigne-hub-client-did``.

Providers are named after their kind (a Claude provider is "anthropic", a Gemini one "google"),
so that ``modelWithProvider`` and the listings' ``provider`` read the same whether they name
the provider or its kind."""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

import pytest

from conftest import (
    HANG_GUARD,
    Gateway,
    Response,
    SseEvent,
    add_upstream,
    api,
    parse_sse,
    wait_until,
)
from replay import Fault, Reply, recorded_reply, recorded_request
from translate_helpers import (
    BERLIN,
    BERLIN_ARGS,
    CACHED_ANSWER,
    CLAUDE,
    CLAUDE_FUNCTION_TOOLS,
    CLAUDE_MODELS,
    CLAUDE_TOOLS,
    GEMINI,
    GEMINI_EMBEDDING,
    GEMINI_MODELS,
    LANGUAGE_SCHEMA,
    WEATHER_SCHEMA,
    add_claude,
    add_gemini,
    anthropic_canonical,
    claude_reply,
    declared_functions,
    gemini_path,
    messages_path,
    openai_canonical,
    posts,
    record_fields,
    recorded_json,
    vision_png,
)

HUB_DID = "z8ia3xzq2tMq8CRHfaXj1BTYJyYnEcHbqP8cJ"
# The calling application, as the client sends it in x-aigne-hub-client-did.
CLIENT_DID = "zNKjT5VBGNEmCswY4yXrTxQXmvWJpShXsRNp"
IMAGE_URL = "https://example.com/pelican.png"
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n").decode()

TOOLS = CLAUDE_FUNCTION_TOOLS

# The fields of a chat answer's usage, as the contract lists them.
CHAT_USAGE_FIELDS = (
    "inputTokens",
    "outputTokens",
    "cacheCreationInputTokens",
    "cacheReadInputTokens",
    "aigneHubCredits",
    "modelCallId",
)


# --- requests --------------------------------------------------------------------------------


def chat_body(
    model: str | None,
    messages: Any,
    *,
    streaming: bool = False,
    model_options: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A /api/v2/chat body as AIGNEHubChatModel sends it; `extra` goes into `input`."""
    options: dict[str, Any] = {**(model_options or {})}
    if model is not None:
        options["model"] = model
    body: dict[str, Any] = {
        "input": {"messages": messages, **extra, "modelOptions": options, "outputFileType": "url"},
        "agent": "$CHAT_MODEL",
        "options": {"userContext": {}, "memories": []},
    }
    if streaming:
        body["options"]["streaming"] = True
    return body


def hello(model: str | None, **options: Any) -> dict[str, Any]:
    return chat_body(model, [{"role": "user", "content": "Hello"}], **options)


def post(
    gateway: Gateway,
    path: str,
    body: Any,
    *,
    key: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """POSTs as the client does: bearer key (default: the app's), JSON, the client's DID."""
    return gateway.post(
        path, body, key=key, headers={"x-aigne-hub-client-did": CLIENT_DID, **(headers or {})}
    )


def chat(gateway: Gateway, body: Any, **options: Any) -> Response:
    return post(gateway, "/api/v2/chat", body, **options)


def assembled(answer: Response) -> dict[str, Any]:
    """The JSON of a non-streamed answer after checking its status and content type."""
    assert answer.status == 200, answer
    assert (answer.headers.get("content-type") or "").startswith("application/json"), answer
    payload: dict[str, Any] = answer.json()
    return payload


def chat_usage(
    answer: Response, inputs: int, outputs: int, *, written: int = 0, read: int = 0
) -> dict[str, Any]:
    """The usage a chat answer should carry: the provider's tokens, no credits (no prices),
    and the request id as modelCallId. `inputs` counts the prompt tokens neither read from
    nor written to a cache, so that the three input counts add up to the prompt (as
    Anthropic counts them; the contract leaves this open, the implementation does so)."""
    return {
        "inputTokens": inputs,
        "outputTokens": outputs,
        "cacheCreationInputTokens": written,
        "cacheReadInputTokens": read,
        "aigneHubCredits": 0,
        "modelCallId": answer.headers["x-request-id"],
    }


def usage_fields(usage: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The listed fields of `usage` (extra fields would not break the client)."""
    missing = [f for f in fields if f not in usage]
    assert not missing, f"usage lacks {missing}: {usage}"
    return {f: usage[f] for f in fields}


def assert_aigne_error(answer: Response, status: int, *, mentions: str = "") -> str:
    """An error before any stream: `status`, JSON ``{"error": {"message", "type", "code"}}``;
    returns the message."""
    assert answer.status == status, answer
    assert (answer.headers.get("content-type") or "").startswith("application/json"), answer
    payload = answer.json()
    assert set(payload) == {"error"}, payload
    error = payload["error"]
    assert isinstance(error, dict), payload
    assert {"message", "type", "code"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"], error
    assert mentions in error["message"], error
    return str(error["message"])


def record_of(gateway: Gateway, request_id: str, status: int | None = None) -> dict[str, Any]:
    """The usage record of the request `request_id` (waited for, within the hang guard)."""

    def found() -> list[Any]:
        return [
            r for r in gateway.hub.usage.query(status=status).records if r.request_id == request_id
        ]

    assert wait_until(lambda: len(found()) == 1), gateway.hub.usage.query().records
    return record_fields(found()[0])


# --- streams ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Frames:
    """What an AIGNE stream carried: the text and thoughts deltas (empty ones left out), the
    json deltas, the error frame's data, and the kind of every frame in order."""

    text: list[str] = dataclasses.field(default_factory=list)
    thoughts: list[str] = dataclasses.field(default_factory=list)
    json: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    error: dict[str, Any] | None = None
    kinds: list[str] = dataclasses.field(default_factory=list)


def frames_of(events: list[SseEvent]) -> Frames:
    """Sorts the frames of a stream, checking each is one the contract names."""
    frames = Frames()
    for event in events:
        assert event.data != "[DONE]", events
        payload = event.json()
        if event.event == "error":
            assert frames.error is None, events
            assert isinstance(payload, dict) and isinstance(payload.get("message"), str)
            assert payload["message"], payload
            frames.error = payload
            frames.kinds.append("error")
            continue
        assert event.event is None, event
        assert set(payload) == {"delta"}, payload
        delta = payload["delta"]
        assert len(delta) == 1 and set(delta) <= {"text", "json"}, payload
        if "text" in delta:
            assert len(delta["text"]) == 1 and set(delta["text"]) <= {"text", "thoughts"}
            [(key, value)] = delta["text"].items()
            assert isinstance(value, str), payload
            if value:
                getattr(frames, key).append(value)
                frames.kinds.append(key)
        else:
            assert isinstance(delta["json"], dict), payload
            frames.json.append(delta["json"])
            frames.kinds.append("json")
    return frames


def streamed(answer: Response) -> Frames:
    """The frames of a streamed answer after checking its status and content type."""
    assert answer.status == 200, answer
    assert answer.headers["content-type"].startswith("text/event-stream"), answer
    return frames_of(parse_sse(answer.body))


def assert_finished(frames: Frames, final: dict[str, Any]) -> None:
    """The stream ended well: no error, its last frame is the json delta `final` (model, usage,
    modelWithProvider) and no other frame carries usage."""
    assert frames.error is None, frames
    assert frames.kinds and frames.kinds[-1] == "json", frames.kinds
    last = frames.json[-1]
    assert set(last) == {"model", "usage", "modelWithProvider"}, last
    assert last["model"] == final["model"]
    assert last["modelWithProvider"] == final["modelWithProvider"]
    assert usage_fields(last["usage"], CHAT_USAGE_FIELDS) == final["usage"]
    assert [j for j in frames.json[:-1] if "usage" in j] == []


def read_frame(response: http.client.HTTPResponse) -> SseEvent:
    """Reads a streamed answer up to the end of its next frame."""
    block = b""
    while True:
        line = response.readline()
        assert line, f"the stream ended; got {block!r}"
        block += line
        if line in (b"\n", b"\r\n") and (events := parse_sse(block)):
            return events[0]


# --- tool calls ------------------------------------------------------------------------------


def calls_of(tool_calls: Any) -> list[tuple[str, str, str, Any]]:
    """(id, type, name, arguments) of each AIGNE tool call, checking arguments are objects."""
    assert isinstance(tool_calls, list) and tool_calls, tool_calls
    result = []
    for call in tool_calls:
        function = call["function"]
        assert isinstance(function["arguments"], dict), call
        result.append((call["id"], call["type"], function["name"], function["arguments"]))
    return result


def assert_calls(tool_calls: Any, expected: list[tuple[str | None, str, Any]]) -> None:
    """The calls are `expected` (id, name, arguments); an id of None is one the gateway makes
    up (Gemini names none): any non-empty string, no two alike."""
    got = calls_of(tool_calls)
    assert [(t, n, a) for _, t, n, a in got] == [("function", n, a) for _, n, a in expected]
    ids = [i for i, *_ in got]
    assert all(isinstance(i, str) and i for i in ids), ids
    assert len(set(ids)) == len(ids), ids
    for (got_id, *_), (want_id, *_) in zip(got, expected, strict=True):
        if want_id is not None:
            assert got_id == want_id


# --- upstreams -------------------------------------------------------------------------------


def upstream_path(gateway: Gateway, kind: str, model: str, *, stream: bool = False) -> str:
    """A provider of `kind` named after it; where its chat calls for `model` arrive."""
    if kind == "anthropic":
        return messages_path(add_claude(gateway, name="anthropic"))
    if kind == "google":
        method = "streamGenerateContent" if stream else "generateContent"
        return gemini_path(add_gemini(gateway, name="google"), model, method)
    return add_upstream(gateway.hub, gateway.replay, kind).chat


def answering(
    gateway: Gateway,
    kind: str,
    model: str,
    fixture: str | None = None,
    *,
    stream: bool = False,
    reply: Reply | None = None,
) -> str:
    """A provider of `kind` whose chat calls for `model` are answered with `fixture` (or
    `reply`); the requests made so far are forgotten. Returns the path of its calls."""
    path = upstream_path(gateway, kind, model, stream=stream)
    gateway.replay.route("POST", path, fixture=fixture, reply=reply)
    gateway.replay.clear_requests()
    return path


def openai_answer(content: str, *, model: str = "gpt-4o-mini") -> Reply:
    """The recorded plain chat completion with `content` and `model` instead."""
    payload = recorded_json("openai/chat_basic")
    payload["model"] = model
    payload["choices"][0]["message"]["content"] = content
    return dataclasses.replace(
        recorded_reply("openai/chat_basic"), body=json.dumps(payload).encode()
    )


def openai_stream(pieces: list[str], *, model: str = "gpt-4o-mini") -> Reply:
    """A chat completion stream of `pieces` of content, with a usage chunk (13 in, 9 out) and
    [DONE], in the head of the recorded stream."""
    base = {"id": "chatcmpl-aigne", "object": "chat.completion.chunk", "created": 1, "model": model}
    chunks: list[dict[str, Any]] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    ]
    chunks += [
        {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        for p in pieces
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 13, "completion_tokens": 9, "total_tokens": 22}
    chunks.append({**base, "choices": [], "usage": usage})
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    recorded = recorded_reply("openai/chat_stream_include_usage")
    return dataclasses.replace(recorded, body=body + b"data: [DONE]\n\n")


def sent(gateway: Gateway, path: str) -> Any:
    """The body of the one call that reached `path`."""
    [call] = gateway.replay.requests_to(path)
    return call.json()


# --- discovery -------------------------------------------------------------------------------


def assert_discovery_document(document: Any, gateway: Gateway) -> None:
    assert document["appName"] == "aignehub"
    assert document["appUrl"] == gateway.server.url
    assert isinstance(document["version"], str) and document["version"]
    hub = [c for c in document["componentMountPoints"] if c["did"] == HUB_DID]
    fields = ("did", "name", "title", "mountPoint", "status")
    assert [{f: c.get(f) for f in fields} for c in hub] == [
        {
            "did": HUB_DID,
            "name": "ai-kit",
            "title": "AIGNE Hub",
            "mountPoint": "/",
            "status": "running",
        }
    ]


def test_the_discovery_document_names_the_hub_at_the_root(gateway: Gateway) -> None:
    answer = api(gateway.server, "GET", "/__blocklet__.js?type=json", key=None)

    assert answer.status == 200, answer
    assert (answer.headers.get("content-type") or "").startswith("application/json"), answer
    assert_discovery_document(answer.json(), gateway)


def test_the_discovery_document_is_also_served_as_javascript(gateway: Gateway) -> None:
    as_json = api(gateway.server, "GET", "/__blocklet__.js?type=json", key=None).json()

    answer = api(gateway.server, "GET", "/__blocklet__.js", key=None)

    assert answer.status == 200, answer
    media_type = (answer.headers.get("content-type") or "").split(";")[0].strip()
    assert media_type in ("application/javascript", "text/javascript"), answer
    script = answer.body.decode().strip()
    prefix = "window.blocklet = "
    assert script.startswith(prefix) and script.endswith(";"), script
    document = json.loads(script[len(prefix) : -1])
    assert document == as_json
    assert_discovery_document(document, gateway)


# --- chat: assembled answers -----------------------------------------------------------------


PLAIN = [
    pytest.param(
        "openai",
        "openai/chat_basic",
        "gpt-3.5-turbo-0125",
        recorded_json("openai/chat_basic")["choices"][0]["message"]["content"],
        (13, 31),
        id="openai",
    ),
    pytest.param(
        "anthropic", "anthropic/messages_basic", CLAUDE, "2 + 2 = 4", (16, 13), id="claude"
    ),
    # Gemini's thoughts count as output: 8 candidates + 23 thoughts.
    pytest.param("google", "gemini/generate_basic", GEMINI, "2 + 2 = **4**", (10, 31), id="gemini"),
]


@pytest.mark.parametrize(("kind", "fixture", "model", "text", "tokens"), PLAIN)
def test_a_plain_answer_is_assembled_with_usage(
    gateway: Gateway, kind: str, fixture: str, model: str, text: str, tokens: tuple[int, int]
) -> None:
    path = answering(gateway, kind, model, fixture)

    answer = chat(gateway, hello(f"{kind}/{model}"))

    payload = assembled(answer)
    assert payload["text"] == text
    assert not payload.get("toolCalls"), payload
    assert "json" not in payload, payload
    assert payload["model"] == model
    assert payload["modelWithProvider"] == f"{kind}/{model}"
    assert usage_fields(payload["usage"], CHAT_USAGE_FIELDS) == chat_usage(answer, *tokens)
    assert posts(gateway.replay) == [path]
    record = record_of(gateway, answer.headers["x-request-id"])
    assert (record["provider"], record["status"], record["error_kind"]) == (kind, 200, "")
    assert (record["prompt_tokens"], record["completion_tokens"]) == tokens


TOOL_ANSWERS = [
    pytest.param(
        "openai",
        "openai/chat_tool_call",
        "gpt-4o-mini-2024-07-18",
        [("call_TTY8UFNo7rNCaOBUNtlRSvMG", "lookup_population", {"country": "Crumpet"})],
        (92, 17),
        id="openai",
    ),
    pytest.param(
        "anthropic",
        "anthropic/messages_tool_use",
        CLAUDE,
        [
            ("toolu_01TjHdHxyQNDy4DipRieJU5n", "weather", BERLIN_ARGS),
            ("toolu_01QHFWAkMuVLb3VgS4EDGUGY", "best_language_to_learn", {}),
        ],
        (701, 98),
        id="claude",
    ),
    pytest.param(
        "google",
        "gemini/function_call",
        GEMINI,
        [(None, "weather", BERLIN_ARGS), (None, "best_language_to_learn", {})],
        (143, 44 + 109),
        id="gemini",
    ),
]


@pytest.mark.parametrize(("kind", "fixture", "model", "calls", "tokens"), TOOL_ANSWERS)
def test_tool_calls_are_assembled_with_arguments_as_objects(
    gateway: Gateway,
    kind: str,
    fixture: str,
    model: str,
    calls: list[tuple[str | None, str, Any]],
    tokens: tuple[int, int],
) -> None:
    answering(gateway, kind, model, fixture)
    tools = recorded_request(fixture)["tools"] if kind == "openai" else TOOLS

    answer = chat(
        gateway, chat_body(f"{kind}/{model}", [{"role": "user", "content": BERLIN}], tools=tools)
    )

    payload = assembled(answer)
    assert_calls(payload["toolCalls"], calls)
    assert not payload.get("text"), payload
    assert payload["model"] == model
    assert payload["modelWithProvider"] == f"{kind}/{model}"
    assert usage_fields(payload["usage"], CHAT_USAGE_FIELDS) == chat_usage(answer, *tokens)


def test_reasoning_comes_back_as_thoughts(gateway: Gateway) -> None:
    answering(gateway, "xai", "grok-4.3", "xai/chat_basic")

    answer = chat(gateway, hello("xai/grok-4.3"))

    payload = assembled(answer)
    recorded = recorded_json("xai/chat_basic")["choices"][0]["message"]
    assert (payload["text"], payload["thoughts"]) == ("4", recorded["reasoning_content"])
    # xAI counts 116 reasoning tokens beside 1 completion token, and read 128 of its 137
    # prompt tokens from its cache.
    assert usage_fields(payload["usage"], CHAT_USAGE_FIELDS) == chat_usage(
        answer, 137 - 128, 117, read=128
    )
    assert payload["modelWithProvider"] == "xai/grok-4.3"


def test_cache_reads_and_writes_are_reported(gateway: Gateway) -> None:
    answering(gateway, "anthropic", CLAUDE, reply=claude_reply(CACHED_ANSWER))

    answer = chat(gateway, hello(f"anthropic/{CLAUDE}"))

    payload = assembled(answer)
    assert payload["text"] == "From the cache."
    usage = usage_fields(payload["usage"], CHAT_USAGE_FIELDS)
    # 100 uncached, 2000 read, 300 written (200 for five minutes, 100 for an hour).
    assert usage == chat_usage(answer, 100, 50, written=300, read=2000)
    record = record_of(gateway, answer.headers["x-request-id"])
    assert record["prompt_tokens"] == 100 + 2000 + 300
    assert (record["cache_write_5m_tokens"], record["cache_write_1h_tokens"]) == (200, 100)


# --- chat: streams ---------------------------------------------------------------------------


STREAMS = [
    pytest.param(
        "openai",
        "openai/chat_stream_include_usage",
        "gpt-5-nano-2025-08-07",
        ["1", "\n", "2", "\n", "3"],
        None,
        (13, 142),
        id="openai-text",
    ),
    pytest.param(
        "openai",
        "openai/chat_stream_tool_call",
        "gpt-4o-mini-2024-07-18",
        [],
        [("call_1EYWDzueHEp8OsB8jJSEp7WB", "multiply", {"a": 1231, "b": 2331})],
        (54, 20),
        id="openai-tool-call",
    ),
    pytest.param(
        "anthropic",
        "anthropic/messages_stream",
        "claude-sonnet-4-5-20250929",
        ["-", " Captain", "\n- Sc", "oop"],
        None,
        (17, 10),
        id="claude-text",
    ),
    pytest.param(
        "anthropic",
        "anthropic/messages_stream_tool_use",
        CLAUDE,
        [],
        [("toolu_01CzN6riCPqw4pVSuTd9Dwn7", "pelican_name_generator", {})],
        (543, 40),
        id="claude-tool-use",
    ),
    pytest.param(
        "google",
        "gemini/stream_sse",
        "gemini-2.0-flash-exp",
        ["The", " capital of France", " is Paris.\n"],
        None,
        (13, 8),
        id="gemini-text",
    ),
    pytest.param(
        "google",
        "gemini/stream_function_call",
        GEMINI,
        [],
        [(None, "weather", BERLIN_ARGS)],
        (103, 30 + 43),
        id="gemini-function-call",
    ),
]


@pytest.mark.parametrize(("kind", "fixture", "model", "texts", "calls", "tokens"), STREAMS)
def test_a_stream_carries_deltas_then_the_usage_frame(
    gateway: Gateway,
    kind: str,
    fixture: str,
    model: str,
    texts: list[str],
    calls: list[tuple[str | None, str, Any]] | None,
    tokens: tuple[int, int],
) -> None:
    path = answering(gateway, kind, model, fixture, stream=True)
    body = chat_body(
        f"{kind}/{model}", [{"role": "user", "content": "Go"}], streaming=True, tools=TOOLS
    )

    answer = chat(gateway, body)

    frames = streamed(answer)
    assert frames.text == texts
    assert frames.thoughts == []
    if calls is None:
        assert frames.kinds == ["text"] * len(texts) + ["json"]
    else:
        assert frames.kinds == ["text"] * len(texts) + ["json", "json"]
        assert set(frames.json[0]) == {"toolCalls"}, frames.json
        assert_calls(frames.json[0]["toolCalls"], calls)
    final = {
        "model": model,
        "usage": chat_usage(answer, *tokens),
        "modelWithProvider": f"{kind}/{model}",
    }
    assert_finished(frames, final)
    assert posts(gateway.replay) == [path]
    # The final frame follows the usage record's commit: no waiting.
    [record] = [
        r
        for r in gateway.hub.usage.query().records
        if r.request_id == answer.headers["x-request-id"]
    ]
    assert (record.status, record.prompt_tokens, record.completion_tokens) == (200, *tokens)


def test_a_stream_carries_thoughts_before_text(gateway: Gateway) -> None:
    answering(gateway, "xai", "grok-4.3", "xai/chat_stream_include_usage")

    answer = chat(gateway, hello("xai/grok-4.3", streaming=True))

    frames = streamed(answer)
    assert "".join(frames.thoughts) == 'The user said: "Count from 1 to 3"\n'
    assert frames.text == ["1", ",", " ", "2", ",", " ", "3"]
    assert frames.kinds == ["thoughts"] * len(frames.thoughts) + ["text"] * 7 + ["json"]
    # 7 completion and 126 reasoning tokens; 128 of the 137 prompt tokens read from the cache.
    final = {
        "model": "grok-4.3",
        "usage": chat_usage(answer, 137 - 128, 7 + 126, read=128),
        "modelWithProvider": "xai/grok-4.3",
    }
    assert_finished(frames, final)


# --- chat: the AIGNE message format upstream -------------------------------------------------


def test_messages_tools_and_options_reach_openai_translated(gateway: Gateway) -> None:
    fixture = "openai/chat_tool_call"
    path = answering(gateway, "openai", "gpt-4o-mini", fixture)
    png = vision_png()
    call = {
        "id": "call_TTY8UFNo7rNCaOBUNtlRSvMG",
        "type": "function",
        "function": {"name": "lookup_population", "arguments": {"country": "Crumpet"}},
    }
    tools = recorded_request(fixture)["tools"]
    body = chat_body(
        "openai/gpt-4o-mini",
        [
            {"role": "system", "content": "You are terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "url", "url": IMAGE_URL, "mimeType": "image/png"},
                    {"type": "file", "data": png, "mimeType": "image/png", "filename": "p.png"},
                ],
            },
            {"role": "agent", "toolCalls": [call]},
            {"role": "tool", "toolCallId": call["id"], "content": "1000"},
        ],
        tools=tools,
        toolChoice="required",
        model_options={
            "temperature": 0.5,
            "topP": 0.9,
            "frequencyPenalty": 0.1,
            "presencePenalty": 0.2,
            "parallelToolCalls": False,
            "reasoningEffort": "low",
        },
    )

    assembled(chat(gateway, body))

    upstream = openai_canonical(sent(gateway, path))
    assert upstream["model"] == "gpt-4o-mini"
    assert upstream["messages"] == [
        {"role": "system", "content": [{"type": "text", "text": "You are terse."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {"type": "image_url", "image_url": {"url": IMAGE_URL}},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": "lookup_population", "arguments": {"country": "Crumpet"}},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": call["id"],
            "content": [{"type": "text", "text": "1000"}],
        },
    ]
    assert upstream["tools"] == tools
    options = {
        k: upstream.get(k)
        for k in (
            "tool_choice",
            "temperature",
            "top_p",
            "frequency_penalty",
            "presence_penalty",
            "parallel_tool_calls",
            "reasoning_effort",
        )
    }
    assert options == {
        "tool_choice": "required",
        "temperature": 0.5,
        "top_p": 0.9,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "parallel_tool_calls": False,
        "reasoning_effort": "low",
    }
    for field in ("input", "modelOptions", "outputFileType", "agent", "options"):
        assert field not in upstream, field


def default_ttl(body: Any) -> Any:
    """A Messages API body with ``cache_control: {"type": "ephemeral"}`` spelt with its default
    ttl (5m), so that either spelling compares equal."""
    if isinstance(body, dict):
        result = {k: default_ttl(v) for k, v in body.items()}
        if result.get("cache_control") == {"type": "ephemeral"}:
            result["cache_control"] = {"type": "ephemeral", "ttl": "5m"}
        return result
    if isinstance(body, list):
        return [default_ttl(v) for v in body]
    return body


def test_messages_parts_and_cache_control_reach_claude_translated(gateway: Gateway) -> None:
    path = answering(gateway, "anthropic", CLAUDE, "anthropic/messages_basic")
    png = vision_png()
    hour = {"type": "ephemeral", "ttl": "1h"}
    five = {"type": "ephemeral", "ttl": "5m"}
    calls: list[dict[str, Any]] = [
        {
            "id": "toolu_01TjHdHxyQNDy4DipRieJU5n",
            "type": "function",
            "function": {"name": "weather", "arguments": BERLIN_ARGS},
        },
        {
            "id": "toolu_01QHFWAkMuVLb3VgS4EDGUGY",
            "type": "function",
            "function": {"name": "best_language_to_learn", "arguments": {}},
        },
    ]
    body = chat_body(
        f"anthropic/{CLAUDE}",
        [
            {"role": "system", "content": "You are terse.", "cacheControl": hour},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What do you see?", "cacheControl": five},
                    {"type": "url", "url": IMAGE_URL, "mimeType": "image/png"},
                    {"type": "file", "data": png, "mimeType": "image/png"},
                    {"type": "file", "data": PDF, "mimeType": "application/pdf"},
                ],
            },
            {"role": "agent", "content": "A pelican.", "cacheControl": five},
            {"role": "user", "content": BERLIN},
            {"role": "agent", "toolCalls": calls},
            {"role": "tool", "toolCallId": calls[0]["id"], "content": "Sunny, 24 \u00b0C"},
            {"role": "tool", "toolCallId": calls[1]["id"], "content": "Python"},
        ],
        tools=TOOLS,
        toolChoice={"type": "function", "function": {"name": "weather"}},
        model_options={"temperature": 0.2, "topP": 0.9},
    )

    payload = assembled(chat(gateway, body))

    assert payload["text"] == "2 + 2 = 4"
    upstream = default_ttl(anthropic_canonical(sent(gateway, path)))
    assert upstream["model"] == CLAUDE
    assert upstream["system"] == [{"type": "text", "text": "You are terse.", "cache_control": hour}]
    assert upstream["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What do you see?", "cache_control": five},
                {"type": "image", "source": {"type": "url", "url": IMAGE_URL}},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": png},
                },
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "A pelican.", "cache_control": five}],
        },
        {"role": "user", "content": [{"type": "text", "text": BERLIN}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": c["id"], "name": c["function"]["name"], "input": args}
                for c, args in zip(calls, (BERLIN_ARGS, {}), strict=True)
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": calls[0]["id"],
                    "content": [{"type": "text", "text": "Sunny, 24 \u00b0C"}],
                },
                {
                    "type": "tool_result",
                    "tool_use_id": calls[1]["id"],
                    "content": [{"type": "text", "text": "Python"}],
                },
            ],
        },
    ]
    assert upstream["tools"] == CLAUDE_TOOLS
    assert upstream["tool_choice"] == {"type": "tool", "name": "weather"}
    assert (upstream["temperature"], upstream["top_p"]) == (0.2, 0.9)
    assert isinstance(upstream["max_tokens"], int) and upstream["max_tokens"] > 0


def test_messages_and_tools_reach_gemini_translated(gateway: Gateway) -> None:
    path = answering(gateway, "google", GEMINI, "gemini/generate_basic")
    png = vision_png()
    call = {
        "id": "call_weather_1",
        "type": "function",
        "function": {"name": "weather", "arguments": BERLIN_ARGS},
    }
    body = chat_body(
        f"google/{GEMINI}",
        [
            {"role": "system", "content": "You are terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": BERLIN},
                    {"type": "file", "data": png, "mimeType": "image/png"},
                ],
            },
            {"role": "agent", "toolCalls": [call]},
            {"role": "tool", "toolCallId": call["id"], "content": "Sunny, 24 degrees"},
        ],
        tools=TOOLS,
        toolChoice="required",
        model_options={"temperature": 0.5, "topP": 0.9},
    )

    payload = assembled(chat(gateway, body))

    assert payload["text"] == "2 + 2 = **4**"
    upstream = sent(gateway, path)
    assert upstream["systemInstruction"]["parts"] == [{"text": "You are terse."}]
    contents = upstream["contents"]
    assert len(contents) == 3, contents
    assert contents[0] == {
        "role": "user",
        "parts": [{"text": BERLIN}, {"inlineData": {"mimeType": "image/png", "data": png}}],
    }
    assert contents[1]["role"] == "model"
    assert [without_ids(p) for p in contents[1]["parts"]] == [
        {"functionCall": {"name": "weather", "args": BERLIN_ARGS}}
    ]
    assert contents[2]["role"] in ("user", "function"), contents[2]
    [response] = [p["functionResponse"] for p in contents[2]["parts"]]
    assert response["name"] == "weather"
    assert isinstance(response["response"], dict)
    assert "Sunny, 24 degrees" in json.dumps(response["response"])
    assert declared_functions(upstream) == [
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
    assert upstream["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    config = upstream["generationConfig"]
    assert (config["temperature"], config["topP"]) == (0.5, 0.9)


def without_ids(part: dict[str, Any]) -> dict[str, Any]:
    """A Gemini part without the optional ids of functionCall and functionResponse."""
    result = dict(part)
    for field in ("functionCall", "functionResponse"):
        if field in result:
            result[field] = {k: v for k, v in result[field].items() if k != "id"}
    return result


# --- chat: json_schema -----------------------------------------------------------------------

CITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
CITY = {"city": "Paris", "population": 2102650}
JSON_FORMAT = {
    "type": "json_schema",
    "jsonSchema": {"name": "city", "schema": CITY_SCHEMA, "strict": True},
}


def test_a_json_schema_answer_comes_back_as_json(gateway: Gateway) -> None:
    path = answering(gateway, "openai", "gpt-4o-mini", reply=openai_answer(json.dumps(CITY)))

    answer = chat(gateway, hello("openai/gpt-4o-mini", responseFormat=JSON_FORMAT))

    payload = assembled(answer)
    assert payload["json"] == CITY
    assert "text" not in payload, payload
    assert sent(gateway, path)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city", "schema": CITY_SCHEMA, "strict": True},
    }
    assert payload["modelWithProvider"] == "openai/gpt-4o-mini"


def test_a_streamed_json_schema_answer_ends_with_one_json_frame(gateway: Gateway) -> None:
    document = json.dumps(CITY)
    pieces = [document[:9], document[9:20], document[20:]]
    answering(gateway, "openai", "gpt-4o-mini", reply=openai_stream(pieces), stream=True)

    answer = chat(gateway, hello("openai/gpt-4o-mini", streaming=True, responseFormat=JSON_FORMAT))

    frames = streamed(answer)
    assert frames.text == []
    assert frames.kinds == ["json", "json"]
    assert frames.json[0] == {"json": CITY}
    final = {
        "model": "gpt-4o-mini",
        "usage": chat_usage(answer, 13, 9),
        "modelWithProvider": "openai/gpt-4o-mini",
    }
    assert_finished(frames, final)


# --- chat: model names -----------------------------------------------------------------------


# Every way a client may name OpenAI's gpt-4o-mini ("fast" is an alias of the hub).
SPELLINGS = [
    "gpt-4o-mini",
    "openai/gpt-4o-mini",
    "aignehub/openai/gpt-4o-mini",
    "aignehub:openai/gpt-4o-mini",
    "aignehub/gpt-4o-mini",
    "fast",
]


@pytest.mark.parametrize("where", ["modelOptions", "input", "body"])
def test_every_spelling_of_a_model_reaches_the_same_provider(gateway: Gateway, where: str) -> None:
    path = answering(gateway, "openai", "gpt-4o-mini", reply=openai_answer("Hi!"))
    gateway.hub.aliases.set("fast", "openai/gpt-4o-mini")
    seen: dict[str, Any] = {}

    for model in SPELLINGS:
        body = hello(model if where == "modelOptions" else None)
        if where == "input":
            body["input"]["model"] = model
        elif where == "body":
            body["model"] = model
        answer = chat(gateway, body)
        payload = answer.json() if answer.status == 200 else {}
        seen[model] = (
            answer.status,
            payload.get("text"),
            payload.get("model"),
            payload.get("modelWithProvider"),
        )

    assert seen == {m: (200, "Hi!", "gpt-4o-mini", "openai/gpt-4o-mini") for m in SPELLINGS}
    models = [json.loads(r.body)["model"] for r in gateway.replay.requests_to(path)]
    assert models == ["gpt-4o-mini"] * len(SPELLINGS)


# --- chat: usage records ---------------------------------------------------------------------


def test_the_usage_record_names_the_client_when_the_key_has_no_app(gateway: Gateway) -> None:
    answering(gateway, "openai", "gpt-4o-mini", reply=openai_answer("Hi!"))
    bare = gateway.hub.keys.create(gateway.app.user, name="no app label")
    assert not bare.app

    unlabelled = chat(gateway, hello("openai/gpt-4o-mini"), key=bare.secret)
    labelled = chat(gateway, hello("openai/gpt-4o-mini"))

    first = record_of(gateway, unlabelled.headers["x-request-id"])
    second = record_of(gateway, labelled.headers["x-request-id"])
    assert (first["app"], first["key_id"], first["status"]) == (CLIENT_DID, bare.id, 200)
    assert (second["app"], second["key_id"]) == ("test-app", gateway.app.key.id)
    assert (first["provider"], first["model_served"]) == ("openai", "gpt-4o-mini")
    assert (first["prompt_tokens"], first["completion_tokens"]) == (13, 31)


def test_the_client_did_is_recorded_for_images_and_embeddings(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.images, fixture="openai/images_generations")
    gateway.replay.route("POST", upstream.embeddings, fixture="openai/embeddings")
    bare = gateway.hub.keys.create(gateway.app.user, name="no app label")

    image = post(gateway, "/api/v2/image", image_body(), key=bare.secret)
    embedded = post(gateway, "/api/v2/embeddings", embeddings_body(), key=bare.secret)

    for answer in (image, embedded):
        assert answer.status == 200, answer
        assert record_of(gateway, answer.headers["x-request-id"])["app"] == CLIENT_DID


# --- images ----------------------------------------------------------------------------------


def image_body(**extra: Any) -> dict[str, Any]:
    prompt = recorded_request("openai/images_generations")["prompt"]
    return {
        "input": {
            "prompt": prompt,
            "size": "256x256",
            **extra,
            "outputFileType": "url",
            "modelOptions": {"model": "openai/dall-e-2"},
        },
        "agent": "$CHAT_MODEL",
        "options": {"userContext": {}, "memories": [], "streaming": False},
    }


def test_an_image_is_generated_through_the_openai_images_endpoint(gateway: Gateway) -> None:
    fixture = "openai/images_generations"
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.images, fixture=fixture)
    gateway.replay.clear_requests()

    answer = post(gateway, "/api/v2/image", image_body())

    payload = assembled(answer)
    upstream_body = sent(gateway, upstream.images)
    recorded = recorded_request(fixture)
    assert {k: upstream_body.get(k) for k in recorded} == recorded
    for field in ("modelOptions", "outputFileType", "input"):
        assert field not in upstream_body, field
    [image] = payload["images"]
    assert (image["type"], image["url"]) == ("url", recorded_json(fixture)["data"][0]["url"])
    assert set(image) <= {"type", "url", "mimeType"}, image
    assert str(image.get("mimeType", "image/")).startswith("image/"), image
    usage = usage_fields(
        payload["usage"], ("inputTokens", "outputTokens", "aigneHubCredits", "modelCallId")
    )
    assert usage == {
        "inputTokens": 0,
        "outputTokens": 0,
        "aigneHubCredits": 0,
        "modelCallId": answer.headers["x-request-id"],
    }
    assert (payload["model"], payload["modelWithProvider"]) == ("dall-e-2", "openai/dall-e-2")
    record = record_of(gateway, answer.headers["x-request-id"])
    assert (record["provider"], record["images"], record["status"]) == ("openai", 1, 200)


# --- embeddings ------------------------------------------------------------------------------


def embeddings_body(
    text: str | list[str] = "Hello world",
    model: str = "openai/text-embedding-3-small",
    dimensions: int = 256,
) -> dict[str, Any]:
    return {
        "input": {"input": text, "modelOptions": {"model": model, "dimensions": dimensions}},
        "options": {"userContext": {}, "memories": []},
    }


@pytest.mark.parametrize("text", ["Hello world", ["Hello world"]], ids=["string", "list"])
def test_embeddings_come_from_openai(gateway: Gateway, text: str | list[str]) -> None:
    fixture = "openai/embeddings"
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.embeddings, fixture=fixture)
    gateway.replay.clear_requests()

    answer = post(gateway, "/api/v2/embeddings", embeddings_body(text))

    payload = assembled(answer)
    upstream_body = sent(gateway, upstream.embeddings)
    assert upstream_body["model"] == "text-embedding-3-small"
    assert upstream_body["input"] in (text, [text] if isinstance(text, str) else text)
    assert upstream_body["dimensions"] == 256
    values = recorded_json(fixture)["data"][0]["embedding"]
    assert payload["embeddings"] == [values]
    assert usage_fields(
        payload["usage"], ("inputTokens", "outputTokens", "aigneHubCredits", "modelCallId")
    ) == {
        "inputTokens": 2,
        "outputTokens": 0,
        "aigneHubCredits": 0,
        "modelCallId": answer.headers["x-request-id"],
    }
    assert payload["model"] == "text-embedding-3-small"
    assert payload["modelWithProvider"] == "openai/text-embedding-3-small"


def test_embeddings_come_from_gemini_batch_embed_contents(gateway: Gateway) -> None:
    fixture = "gemini/batch_embed_contents"
    path = gemini_path(add_gemini(gateway, name="google"), GEMINI_EMBEDDING, "batchEmbedContents")
    gateway.replay.route("POST", path, fixture=fixture)
    gateway.replay.clear_requests()
    body = embeddings_body(["Some text goes here"], f"google/{GEMINI_EMBEDDING}", 768)

    answer = post(gateway, "/api/v2/embeddings", body)

    payload = assembled(answer)
    assert sent(gateway, path) == recorded_request(fixture)
    assert payload["embeddings"] == [recorded_json(fixture)["embeddings"][0]["values"]]
    usage = payload["usage"]
    assert (usage["outputTokens"], usage["aigneHubCredits"]) == (0, 0)
    assert isinstance(usage["inputTokens"], int)
    assert usage["modelCallId"] == answer.headers["x-request-id"]
    assert payload["model"] == GEMINI_EMBEDDING
    assert payload["modelWithProvider"] == f"google/{GEMINI_EMBEDDING}"


# --- status ----------------------------------------------------------------------------------


def status_of(gateway: Gateway, model: str, *, key: str | None = None) -> Response:
    query = urllib.parse.quote(model, safe="/:")
    chosen = gateway.app.key.secret if key is None else key
    return api(gateway.server, "GET", f"/api/v2/status?model={query}", key=chosen)


def test_a_model_with_a_usable_credential_is_available(gateway: Gateway) -> None:
    add_upstream(gateway.hub, gateway.replay)

    seen = {m: assembled(status_of(gateway, m)) for m in SPELLINGS[:5]}

    assert seen == {m: {"available": True} for m in SPELLINGS[:5]}


def test_an_unknown_model_is_not_available(gateway: Gateway) -> None:
    add_upstream(gateway.hub, gateway.replay)

    for model in ("nobody/gpt-4o-mini", "gpt-9-imaginary"):
        payload = assembled(status_of(gateway, model))
        assert set(payload) == {"available", "error", "code"}, payload
        assert (payload["available"], payload["code"]) == (False, "model_not_found")
        assert isinstance(payload["error"], str) and payload["error"]


def test_a_model_whose_only_credential_was_refused_is_not_available(gateway: Gateway) -> None:
    answering(gateway, "openai", "gpt-4o-mini", "openai/error_401_invalid_api_key")
    before = assembled(status_of(gateway, "openai/gpt-4o-mini"))

    refused = chat(gateway, hello("openai/gpt-4o-mini"))
    after = assembled(status_of(gateway, "openai/gpt-4o-mini"))

    assert before == {"available": True}
    assert_aigne_error(refused, 502)
    assert set(after) == {"available", "error", "code"}, after
    assert (after["available"], after["code"]) == (False, "no_usable_credential")
    assert isinstance(after["error"], str) and after["error"]


def test_the_status_needs_a_key(gateway: Gateway) -> None:
    add_upstream(gateway.hub, gateway.replay)

    answer = api(gateway.server, "GET", "/api/v2/status?model=openai/gpt-4o-mini", key=None)

    assert_aigne_error(answer, 401)


# --- model listings --------------------------------------------------------------------------


def type_of(model: str) -> str:
    """A model's type as the contract reads it from the name."""
    if any(m in model for m in ("dall-e", "gpt-image", "imagen", "-image")):
        return "image"
    if "embed" in model:
        return "embedding"
    if any(m in model for m in ("sora", "veo")):
        return "video"
    return "chat"


def listed(fixture: str) -> list[str]:
    return [m["id"] for m in recorded_json(fixture)["data"]]


# The fields the client's schema reads from each listed model.
LISTING_FIELDS = (
    "model",
    "type",
    "provider",
    "providerDisplayName",
    "input_credits_per_token",
    "output_credits_per_token",
    "modelMetadata",
    "status",
)


def test_models_are_listed_by_type_without_a_key(gateway: Gateway) -> None:
    add_upstream(gateway.hub, gateway.replay)
    add_claude(gateway, name="anthropic")
    add_gemini(gateway, name="google")
    served = {
        "openai": listed("openai/models_list"),
        "anthropic": CLAUDE_MODELS,
        "google": GEMINI_MODELS,
    }
    displayed = {p: gateway.hub.providers.get(p).display_name for p in served}
    assert displayed["openai"] == "OpenAI"

    for kind in ("chat", "image", "embedding", "video"):
        answer = api(gateway.server, "GET", f"/api/ai/models?type={kind}", key=None)
        payload = assembled(answer)
        assert isinstance(payload, list), payload
        got = sorted(
            tuple(json.dumps(entry.get(f, "<absent>")) for f in LISTING_FIELDS) for entry in payload
        )
        expected = sorted(
            tuple(
                json.dumps(v)
                for v in (m, kind, p, displayed[p], "0", "0", None, {"available": True})
            )
            for p, models in served.items()
            for m in models
            if type_of(m) == kind
        )
        assert got == expected, kind
    # The rule reads these as images, embeddings and videos, not chat models.
    assert {type_of(m) for m in ("dall-e-2", "gpt-image-1", "chatgpt-image-latest")} == {"image"}
    assert (type_of("text-embedding-3-small"), type_of("sora-2")) == ("embedding", "video")


# --- errors before a stream ------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["wrong-bearer", "wrong-x-api-key", "none"])
def test_a_bad_or_missing_key_is_401(gateway: Gateway, auth: str) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    for path in (upstream.chat, upstream.images, upstream.embeddings):
        gateway.replay.route("POST", path, fixture="openai/chat_basic")
    gateway.replay.clear_requests()
    secret = gateway.app.key.secret
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    headers = {"x-aigne-hub-client-did": CLIENT_DID}
    if auth == "wrong-bearer":
        headers["Authorization"] = f"Bearer {wrong}"
    elif auth == "wrong-x-api-key":
        headers["x-api-key"] = wrong

    for path, body in (
        ("/api/v2/chat", hello("openai/gpt-4o-mini")),
        ("/api/v2/chat", hello("openai/gpt-4o-mini", streaming=True)),
        ("/api/v2/image", image_body()),
        ("/api/v2/embeddings", embeddings_body()),
    ):
        answer = api(gateway.server, "POST", path, body, key=None, headers=headers)
        assert_aigne_error(answer, 401)

    assert posts(gateway.replay) == []


def test_the_key_may_come_as_x_api_key(gateway: Gateway) -> None:
    answering(gateway, "openai", "gpt-4o-mini", reply=openai_answer("Hi!"))

    answer = api(
        gateway.server,
        "POST",
        "/api/v2/chat",
        hello("openai/gpt-4o-mini"),
        key=None,
        headers={"x-api-key": gateway.app.key.secret},
    )

    assert assembled(answer)["text"] == "Hi!"


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (b'{"input": {"messages": [', ""),
        (b'["not", "an", "object"]', ""),
        (hello(None), "model"),
        (chat_body("openai/gpt-4o-mini", None), "messages"),
        ({"input": {"modelOptions": {"model": "openai/gpt-4o-mini"}}}, "messages"),
        (chat_body("openai/gpt-4o-mini", "Hello"), "messages"),
    ],
    ids=[
        "truncated-json",
        "not-an-object",
        "no-model",
        "messages-null",
        "no-messages",
        "messages-string",
    ],
)
def test_a_bad_body_is_400_naming_the_field(gateway: Gateway, body: Any, mentions: str) -> None:
    answering(gateway, "openai", "gpt-4o-mini", "openai/chat_basic")
    bodies = [body]
    if isinstance(body, dict):
        streaming = {"userContext": {}, "memories": [], "streaming": True}
        bodies.append({**body, "options": streaming})

    for sent_body in bodies:
        assert_aigne_error(chat(gateway, sent_body), 400, mentions=mentions)

    assert posts(gateway.replay) == []


@pytest.mark.parametrize("model", ["nobody/gpt-4o-mini", "gpt-9-imaginary"])
def test_an_unknown_model_is_404(gateway: Gateway, model: str) -> None:
    answering(gateway, "openai", "gpt-4o-mini", "openai/chat_basic")

    assembled_answer = chat(gateway, hello(model))
    streamed_answer = chat(gateway, hello(model, streaming=True))

    assert_aigne_error(assembled_answer, 404, mentions=model)
    assert_aigne_error(streamed_answer, 404, mentions=model)
    assert posts(gateway.replay) == []


@pytest.mark.parametrize("streaming", [False, True], ids=["assembled", "streamed"])
def test_a_rate_limited_upstream_is_429(gateway: Gateway, streaming: bool) -> None:
    path = answering(gateway, "anthropic", CLAUDE, "anthropic/error_429_rate_limit")

    answer = chat(gateway, hello(f"anthropic/{CLAUDE}", streaming=streaming))

    assert_aigne_error(answer, 429)
    assert posts(gateway.replay)[:1] == [path]


# --- failures after the stream began ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fixture", "model", "events", "texts"),
    [
        ("openai", "openai/chat_stream_include_usage", "gpt-5-nano-2025-08-07", 3, ["1", "\n"]),
        (
            "anthropic",
            "anthropic/messages_stream",
            "claude-sonnet-4-5-20250929",
            5,
            ["-", " Captain"],
        ),
    ],
    ids=["openai", "claude"],
)
def test_a_stream_cut_midway_ends_with_an_error_frame(
    gateway: Gateway, kind: str, fixture: str, model: str, events: int, texts: list[str]
) -> None:
    path = answering(gateway, kind, model, fixture, stream=True)
    gateway.replay.fail("POST", path, Fault.reset_after(events))

    answer = chat(gateway, hello(f"{kind}/{model}", streaming=True))

    frames = streamed(answer)
    assert frames.text == texts
    assert frames.kinds == ["text"] * len(texts) + ["error"], frames.kinds
    assert frames.json == []
    [event] = [e for e in parse_sse(answer.body) if e.event == "error"]
    assert set(event.json()) == {"message"}, event
    record = record_of(gateway, answer.headers["x-request-id"])
    assert record["error_kind"] == "upstream_stream_error", record


def test_a_client_leaving_mid_stream_cancels_the_upstream_call(gateway: Gateway) -> None:
    fixture = "openai/chat_stream_include_usage"
    path = add_upstream(gateway.hub, gateway.replay).chat
    gateway.replay.route("POST", path, fixture=fixture, gap=0.25)
    total = len(recorded_reply(fixture).events())
    conn = http.client.HTTPConnection("127.0.0.1", gateway.server.port, timeout=HANG_GUARD)
    conn.request(
        "POST",
        "/api/v2/chat",
        body=json.dumps(hello("openai/gpt-5-nano", streaming=True)),
        headers={
            "Authorization": f"Bearer {gateway.app.key.secret}",
            "Content-Type": "application/json",
            "x-aigne-hub-client-did": CLIENT_DID,
        },
    )
    response = conn.getresponse()
    assert response.status == 200, response.read()
    request_id = response.getheader("x-request-id")

    first = read_frame(response)
    while first.json() == {"delta": {"text": {"text": ""}}}:
        first = read_frame(response)
    response.close()
    conn.close()

    assert first.json() == {"delta": {"text": {"text": "1"}}}
    [call] = gateway.replay.requests_to(path)
    assert wait_until(lambda: call.finished)
    assert call.client_disconnected
    assert call.events_sent < total
    assert request_id is not None
    record = record_of(gateway, request_id, status=499)
    assert (record["status"], record["error_kind"]) == (499, "client_disconnected")
    assert (record["key_id"], record["provider"]) == (gateway.app.key.id, "openai")
