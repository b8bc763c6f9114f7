"""Helpers for the translation suites: providers of the Anthropic and Gemini wires on the replay
server, their request paths, replies of our own making in their formats, the Anthropic SDK as a
client of the gateway, and the few normalisations that make two spellings of one request equal
(a string content and a one-text-block content, say) so that upstream bodies can be compared
whole."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import anthropic

from aignehub import Hub
from conftest import (
    HANG_GUARD,
    UPSTREAM_KEY,
    Gateway,
    Response,
    SseEvent,
    Upstream,
    add_upstream,
    parse_sse,
    request,
)
from replay import FIXTURES, ReplayServer, Reply, recorded_reply, recorded_request

ANTHROPIC_VERSION = "2023-06-01"
CLAUDE = "claude-haiku-4-5-20251001"
GEMINI = "gemini-2.5-flash"
GEMINI_EMBEDDING = "gemini-embedding-001"

# Every model a recording of the two wires names, so that bare names resolve too.
CLAUDE_MODELS = [CLAUDE, "claude-haiku-4-5", "claude-sonnet-4-5", "claude-3-haiku-20240307"]
GEMINI_MODELS = [GEMINI, "gemini-2.0-flash-exp", GEMINI_EMBEDDING]

# The question of the recorded tool calls of both wires, and the weather call's arguments.
BERLIN = "What's the weather in Berlin (52.5200, 13.4050) and what's the best language to learn?"
BERLIN_ARGS = {"latitude": "52.5200", "longitude": "13.4050"}

# What a thinking model of Anthropic's signs its thinking with: opaque base64.
SIGNATURE = (
    "EqQBCkgIBxABGAIiQFsRgR0mlZQ0b7vXz3cBq6gWq1Uo8ZmQ0s4yVdQF0n3Zm8rH2dXl0qJ2rO1v5q9mVf0n"
    "Ll8WkC1tE8Yx6pD4SGgyq3x2Zl5qR0bYv1p0aDGp2QmZ0vL3c5b8wYyIwJ1zS0kV2rM8q9n7x4aT6uH2vB5"
)
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ"


# The tools of the recorded tool calls: the weather call's and the language call's.
WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "latitude": {"type": "string", "description": "Latitude (e.g., 52.5200)"},
        "longitude": {"type": "string", "description": "Longitude (e.g., 13.4050)"},
    },
    "required": ["latitude", "longitude"],
}
LANGUAGE_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
# As Anthropic's Messages API declares them.
CLAUDE_TOOLS: list[dict[str, Any]] = [
    {
        "name": "weather",
        "description": "Gets current weather for a location",
        "input_schema": WEATHER_SCHEMA,
    },
    {
        "name": "best_language_to_learn",
        "description": "Gets the best language to learn",
        "input_schema": LANGUAGE_SCHEMA,
    },
]

# CLAUDE_TOOLS as OpenAI function tools (chat completions and AIGNE declare them alike).
CLAUDE_FUNCTION_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": t["name"],
            "description": t["description"],
            "parameters": t["input_schema"],
        },
    }
    for t in CLAUDE_TOOLS
]

# The question of the recorded vision calls of both wires.
VISION_QUESTION = "What do you see in this image?"


def user(text: str) -> dict[str, Any]:
    """A user turn of `text`, as both wires spell it."""
    return {"role": "user", "content": text}


# --- providers -------------------------------------------------------------------------------


def add_claude(gateway: Gateway, **options: Any) -> Upstream:
    """A provider of kind "anthropic" at ``<replay>/claude`` listing CLAUDE_MODELS; `options`
    (name, keys, models, weights) as add_upstream takes them."""
    return add_upstream(
        gateway.hub,
        gateway.replay,
        "anthropic",
        **{"name": "claude", "models": CLAUDE_MODELS, **options},
    )


def add_gemini(gateway: Gateway, **options: Any) -> Upstream:
    """A provider of kind "google" (Gemini's wire) at ``<replay>/gemini`` listing
    GEMINI_MODELS; `options` as add_upstream takes them."""
    return add_upstream(
        gateway.hub,
        gateway.replay,
        "google",
        **{"name": "gemini", "models": GEMINI_MODELS, **options},
    )


def route_claude(gateway: Gateway, fixture: str | None = None, **answer: Any) -> str:
    """A Claude provider whose Messages API answers with the recording `fixture` (or with
    `answer`: reply=, times= as ReplayServer.route takes them); the path its calls arrive at."""
    path = messages_path(add_claude(gateway))
    gateway.replay.route("POST", path, fixture=fixture, **answer)
    return path


def route_gemini(
    gateway: Gateway,
    fixture: str | None = None,
    *,
    model: str = GEMINI,
    method: str = "generateContent",
    **answer: Any,
) -> str:
    """A Gemini provider whose `method` of `model` answers with the recording `fixture` (or
    with `answer`, as route_claude); the path its calls arrive at."""
    path = gemini_path(add_gemini(gateway), model, method)
    gateway.replay.route("POST", path, fixture=fixture, **answer)
    return path


def route_openai(
    gateway: Gateway, fixture: str | None = None, *, kind: str = "openai", **answer: Any
) -> str:
    """A provider of the OpenAI family whose chat completions answer with the recording
    `fixture` (or with `answer`, as route_claude); the path its calls arrive at."""
    path = add_upstream(gateway.hub, gateway.replay, kind).chat
    gateway.replay.route("POST", path, fixture=fixture, **answer)
    return path


def add_with_recorded_listing(
    hub: Hub, replay: ReplayServer, kind: str, name: str, listing: str
) -> Upstream:
    """A provider of `kind` whose check is answered with the recorded listing `listing`."""
    catalogue = {k.kind: k for k in hub.providers.catalogue()}[kind]
    replay.route("GET", f"/{name}{catalogue.check_path}", fixture=listing)
    provider = hub.providers.add(
        kind,
        name=name,
        api_key=UPSTREAM_KEY,
        base_url=f"{replay.url}/{name}",
        local=True,
        credential_name="key-1",
    )
    return Upstream(name, kind, (UPSTREAM_KEY,), (provider.credentials[0].id,))


def add_listed_claude_and_gemini(gateway: Gateway) -> tuple[str, str]:
    """Claude and Gemini providers whose checks are answered with the recorded model listings
    and whose calls with the recorded basic answers, the replay server's requests so far
    forgotten; the paths of Claude's Messages API and Gemini's generateContent."""
    hub, replay = gateway.hub, gateway.replay
    claude = add_with_recorded_listing(hub, replay, "anthropic", "claude", "anthropic/models_list")
    gemini = add_with_recorded_listing(hub, replay, "google", "gemini", "gemini/models_list")
    messages = messages_path(claude)
    generate = gemini_path(gemini, GEMINI, "generateContent")
    replay.route("POST", messages, fixture="anthropic/messages_basic")
    replay.route("POST", generate, fixture="gemini/generate_basic")
    replay.clear_requests()
    return messages, generate


def messages_path(upstream: Upstream) -> str:
    """Where the gateway's Messages API calls to `upstream` arrive."""
    return f"/{upstream.name}/v1/messages"


def count_tokens_path(upstream: Upstream) -> str:
    return f"/{upstream.name}/v1/messages/count_tokens"


def gemini_path(upstream: Upstream, model: str, method: str) -> str:
    """``/<name>/v1beta/models/<model>:<method>`` (streamGenerateContent gets ``?alt=sse``)."""
    query = "?alt=sse" if method == "streamGenerateContent" else ""
    return f"/{upstream.name}/v1beta/models/{model}:{method}{query}"


def posts(replay: ReplayServer) -> list[str]:
    """The paths of every POST the replay server received, in order."""
    return [r.path for r in replay.requests if r.method == "POST"]


# --- replies ---------------------------------------------------------------------------------


def recorded_json(fixture: str) -> Any:
    """The recorded response body of `fixture`, parsed."""
    return json.loads(recorded_reply(fixture).body)


def recorded_events(fixture: str) -> list[SseEvent]:
    """The events of a recorded SSE stream."""
    return parse_sse(recorded_reply(fixture).body)


def sse_reply(events: Iterable[tuple[str | None, Any]], template: str) -> Reply:
    """A stream of `events` ((event name or None, JSON payload)), with the head of the
    recording `template`."""
    body = b""
    for name, payload in events:
        head = f"event: {name}\n" if name is not None else ""
        body += f"{head}data: {json.dumps(payload)}\n\n".encode()
    return dataclasses.replace(recorded_reply(template), body=body)


def claude_message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    usage: Mapping[str, Any] | None = None,
    model: str = CLAUDE,
    message_id: str = "msg_01XFDUDYJgAACzvnptvVoYEL",
) -> dict[str, Any]:
    """A Messages API answer, shaped as Anthropic's answers are."""
    return {
        "model": model,
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": dict(usage or claude_usage(input_tokens=21, output_tokens=9)),
    }


def claude_usage(
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read: int = 0,
    cache_5m: int = 0,
    cache_1h: int = 0,
) -> dict[str, Any]:
    """Anthropic's usage object with its cache fields."""
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_5m + cache_1h,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_5m,
            "ephemeral_1h_input_tokens": cache_1h,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def claude_reply(payload: Any) -> Reply:
    """`payload` as Anthropic sends an answer: the head of a recorded answer, its JSON."""
    return dataclasses.replace(
        recorded_reply("anthropic/messages_basic"), body=json.dumps(payload).encode()
    )


def claude_stream(message: Mapping[str, Any]) -> Reply:
    """The Messages API stream Anthropic would send for the whole answer `message`: each text
    and thinking block in two deltas, tool inputs in fragments, thinking signatures last."""
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**message["usage"], "output_tokens": 1}
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        opening = {"type": kind, **{k: "" for k in ("text", "thinking") if k == kind}}
        if kind == "thinking":
            opening["signature"] = ""
        if kind == "tool_use":
            opening = {"type": kind, "id": block["id"], "name": block["name"], "input": {}}
        if kind == "redacted_thinking":
            opening = dict(block)
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": opening},
            )
        )
        for delta in _deltas(block):
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    usage = message["usage"]
    final = {k: usage[k] for k in usage if k != "cache_creation" and k != "service_tier"}
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": final,
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return sse_reply(events, "anthropic/messages_stream")


def _deltas(block: Mapping[str, Any]) -> list[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        text = block["text"]
        half = len(text) // 2
        return [{"type": "text_delta", "text": part} for part in (text[:half], text[half:])]
    if kind == "thinking":
        text = block["thinking"]
        half = len(text) // 2
        parts = [{"type": "thinking_delta", "thinking": p} for p in (text[:half], text[half:])]
        return [*parts, {"type": "signature_delta", "signature": block["signature"]}]
    if kind == "tool_use":
        arguments = json.dumps(block["input"])
        cuts = [arguments[:5], arguments[5:12], arguments[12:]]
        return [{"type": "input_json_delta", "partial_json": c} for c in cuts if c]
    return []


def gemini_reply(payload: Any) -> Reply:
    """`payload` as Gemini sends an answer: the head of a recorded answer, its JSON."""
    return dataclasses.replace(
        recorded_reply("gemini/generate_basic"), body=json.dumps(payload).encode()
    )


# --- the Anthropic SDK and the Messages front door -------------------------------------------


def anthropic_client(gateway: Gateway, key: str | None = None) -> anthropic.Anthropic:
    """The official Anthropic SDK calling the gateway with `key` (default: the app's), no
    retries."""
    return anthropic.Anthropic(
        base_url=gateway.server.url,
        api_key=key if key is not None else gateway.app.key.secret,
        max_retries=0,
        timeout=HANG_GUARD,
    )


def post_messages(
    gateway: Gateway,
    body: Any,
    *,
    path: str = "/v1/messages",
    key: str | None = None,
    auth: str = "x-api-key",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """POSTs `body` (JSON unless bytes) to the Anthropic front door as Anthropic's clients do:
    the key in x-api-key (or, with auth="bearer", as Authorization: Bearer; "none": no key)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    chosen = gateway.app.key.secret if key is None else key
    fields = {"content-type": "application/json", "anthropic-version": ANTHROPIC_VERSION}
    if auth == "x-api-key":
        fields["x-api-key"] = chosen
    elif auth == "bearer":
        fields["authorization"] = f"Bearer {chosen}"
    return request(gateway.server, "POST", path, headers={**fields, **(headers or {})}, body=data)


def assert_anthropic_error(response: Response, status: int, kind: str) -> str:
    """Asserts Anthropic's error shape ``{"type":"error","error":{"type","message"}}`` with
    `status` and error type `kind`; returns the message."""
    assert response.status == status, response
    assert (response.headers.get("content-type") or "").startswith("application/json"), response
    payload = response.json()
    assert payload.get("type") == "error", payload
    error = payload["error"]
    assert error["type"] == kind, payload
    assert isinstance(error["message"], str) and error["message"], payload
    return str(error["message"])


def event_names(events: list[SseEvent]) -> list[str | None]:
    """The event names of a stream, pings left out (a server may send them at any time)."""
    return [e.event for e in events if e.event != "ping"]


def assert_anthropic_event_order(events: list[SseEvent]) -> None:
    """message_start, then blocks each opened, delta'd and closed with increasing indexes,
    then message_delta and message_stop, and every event's data naming its event."""
    names = event_names(events)
    assert names[0] == "message_start", names
    assert names[-2:] == ["message_delta", "message_stop"], names
    open_index: int | None = None
    next_index = 0
    for event in events:
        if event.event == "ping":
            continue
        payload = event.json()
        assert payload["type"] == event.event, event
        if event.event == "content_block_start":
            assert open_index is None and payload["index"] == next_index, names
            open_index = payload["index"]
        elif event.event == "content_block_delta":
            assert payload["index"] == open_index, names
        elif event.event == "content_block_stop":
            assert payload["index"] == open_index, names
            open_index, next_index = None, next_index + 1
        elif event.event in ("message_delta", "message_stop"):
            assert open_index is None, names


# --- normalising request bodies --------------------------------------------------------------


def _text_blocks(content: Any) -> Any:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def anthropic_canonical(body: Any) -> Any:
    """A Messages API request with equivalent spellings made one: string contents, system and
    tool_result contents as one text block; ``"stream": false`` left out."""
    result = copy.deepcopy(body)
    if "system" in result:
        result["system"] = _text_blocks(result["system"])
    if result.get("stream") is False:
        del result["stream"]
    for message in result.get("messages", []):
        message["content"] = _text_blocks(message["content"])
        for block in message["content"]:
            if block.get("type") == "tool_result" and "content" in block:
                block["content"] = _text_blocks(block["content"])
    return result


def openai_canonical(body: Any) -> Any:
    """A chat completions request with equivalent spellings made one: max_completion_tokens as
    max_tokens, string contents as one text part, an empty assistant content left out, tool
    call arguments parsed, ``"stream": false`` left out."""
    result = copy.deepcopy(body)
    if "max_completion_tokens" in result:
        result["max_tokens"] = result.pop("max_completion_tokens")
    if result.get("stream") is False:
        del result["stream"]
    for message in result.get("messages", []):
        if message.get("content") in (None, "", []) and message.get("tool_calls"):
            message.pop("content", None)
        elif "content" in message:
            message["content"] = _text_blocks(message["content"])
        for call in message.get("tool_calls") or []:
            call["function"]["arguments"] = json.loads(call["function"]["arguments"] or "{}")
    return result


def lower_types(schema: Any) -> Any:
    """A JSON schema with its "type" values in lower case (Gemini's OpenAPI schemas spell them
    in upper case)."""
    if isinstance(schema, dict):
        return {
            k: (v.lower() if k == "type" and isinstance(v, str) else lower_types(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [lower_types(v) for v in schema]
    return schema


def declared_functions(body: Any) -> list[dict[str, Any]]:
    """The function declarations of a Gemini request: name, description and the schema of the
    parameters (given as ``parameters`` or ``parametersJsonSchema``; none at all is a function
    without parameters), types in lower case."""
    declared = []
    for tool in body.get("tools", []):
        for function in tool.get("functionDeclarations", []):
            schema = function.get(
                "parametersJsonSchema",
                function.get("parameters", {"type": "object", "properties": {}}),
            )
            declared.append(
                {
                    "name": function["name"],
                    "description": function.get("description", ""),
                    "parameters": lower_types(schema),
                }
            )
    return declared


def gemini_contents_of_count(body: Any) -> Any:
    """The contents a countTokens body counts: ``contents`` or those of its
    ``generateContentRequest``."""
    if "generateContentRequest" in body:
        return body["generateContentRequest"]["contents"]
    return body["contents"]


# --- Gemini tool-call ids --------------------------------------------------------------------

# Ids Gemini's function calls get: call_<index>_<a few characters>[_sig_<thoughtSignature>].
GEMINI_CALL_ID = re.compile(r"call_(?P<index>\d+)_[A-Za-z0-9]+(_sig_[A-Za-z0-9_-]+)?")


def signature_in_id(call_id: str) -> bytes | None:
    """The thoughtSignature bytes a gateway tool-call id carries after ``_sig_`` (base64url,
    padding optional); None when it carries none."""
    _, marker, encoded = call_id.partition("_sig_")
    if not marker:
        return None
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def assert_gemini_call_ids(ids: list[str], signatures: list[str | None]) -> None:
    """Each id is ``call_<its index>_...``, carries the thoughtSignature (base64) of its call
    or none, and no two are the same."""
    assert len(set(ids)) == len(ids), ids
    for index, (call_id, signature) in enumerate(zip(ids, signatures, strict=True)):
        match = GEMINI_CALL_ID.fullmatch(call_id)
        assert match and int(match["index"]) == index, call_id
        expected = base64.b64decode(signature) if signature is not None else None
        assert signature_in_id(call_id) == expected, call_id


def thought_signature(fixture: str, index: int = 0) -> str:
    """The thoughtSignature of the `index`-th functionCall part of a recorded Gemini answer
    (streamed or not)."""
    reply = recorded_reply(fixture)
    if reply.streamed:
        payloads = [e.json() for e in parse_sse(reply.body)]
    else:
        payloads = [json.loads(reply.body)]
    parts = [p for body in payloads for p in body["candidates"][0]["content"]["parts"]]
    calls = [p for p in parts if "functionCall" in p]
    return str(calls[index]["thoughtSignature"])


# --- usage -----------------------------------------------------------------------------------


# A Claude answer that read 2000 prompt tokens from the cache and wrote 300 (200 for five
# minutes, 100 for an hour) besides the 100 it did not cache.
CACHED_USAGE = claude_usage(
    input_tokens=100, output_tokens=50, cache_read=2000, cache_5m=200, cache_1h=100
)
CACHED_ANSWER = claude_message([{"type": "text", "text": "From the cache."}], usage=CACHED_USAGE)


def assert_cached_record(gateway: Gateway) -> None:
    """The one usage record holds CACHED_USAGE: reads and writes counted as prompt tokens."""
    assert_only_record(
        gateway,
        prompt_tokens=2400,
        completion_tokens=50,
        cached_tokens=2000,
        reasoning_tokens=0,
        cache_write_5m_tokens=200,
        cache_write_1h_tokens=100,
        provider="claude",
        model_served=CLAUDE,
    )


def record_fields(record: Any) -> dict[str, Any]:
    """A usage record as a dict (fields added later read the same way as the first ones)."""
    return dict(vars(record))


def only_record(gateway: Gateway) -> dict[str, Any]:
    [record] = gateway.hub.usage.query().records
    return record_fields(record)


def assert_only_record(gateway: Gateway, **expected: Any) -> None:
    """The one usage record has the `expected` fields (others are not looked at)."""
    record = only_record(gateway)
    assert {field: record[field] for field in expected} == expected, record


def recorded_request_bytes(fixture: str) -> bytes:
    """The recorded request body of `fixture`, byte for byte."""
    recording = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
    return str(recording["request"]["body"]).encode()


def vision_png() -> str:
    """The base64 PNG of the recorded vision requests (the same picture for both wires)."""
    for block in recorded_request("anthropic/messages_vision_base64")["messages"][0]["content"]:
        if block["type"] == "image":
            return str(block["source"]["data"])
    raise AssertionError("the recording has no image")


def claude_vision_turn() -> dict[str, Any]:
    """The user turn of the recorded vision calls as Anthropic's Messages API spells it: the
    question, and the PNG as a base64 image block."""
    image = {"type": "base64", "media_type": "image/png", "data": vision_png()}
    return {
        "role": "user",
        "content": [{"type": "text", "text": VISION_QUESTION}, {"type": "image", "source": image}],
    }


def openai_vision_turn() -> dict[str, Any]:
    """The same turn as chat completions spell it: the PNG as a data URL."""
    url = f"data:image/png;base64,{vision_png()}"
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": VISION_QUESTION},
            {"type": "image_url", "image_url": {"url": url}},
        ],
    }


def gemini_vision_contents() -> list[dict[str, Any]]:
    """What Gemini is sent for either spelling: the question, and the PNG as inline data."""
    png = {"mimeType": "image/png", "data": vision_png()}
    return [{"role": "user", "parts": [{"text": VISION_QUESTION}, {"inlineData": png}]}]
