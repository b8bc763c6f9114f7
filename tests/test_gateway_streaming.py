"""Streamed chat completions: every recorded OpenAI-family stream relayed intact, usage asked
for upstream and hidden again from clients that did not ask, failures after the first byte,
and a client that leaves in the middle."""

from __future__ import annotations

import dataclasses
import http.client
import json
from typing import Any

import openai
import pytest

from conftest import (
    HANG_GUARD,
    HELLO,
    Gateway,
    SseEvent,
    add_upstream,
    is_usage_chunk,
    normalised,
    parse_sse,
    recorded_chunks,
    wait_until,
)
from replay import Fault, Reply, fixtures_of, recorded_reply, recorded_request

STREAM_FIXTURES = fixtures_of("openai.chat.completions", streaming=True)
USAGE = [pytest.param(True, id="include_usage"), pytest.param(False, id="no_usage")]


def stream_request(fixture: str, provider: str, include_usage: bool) -> dict[str, Any]:
    """The recorded request of `fixture`, addressed to `provider`, asking for usage or not."""
    asked = recorded_request(fixture)
    body = {key: value for key, value in asked.items() if key != "stream_options"}
    body.update(model=f"{provider}/{asked['model']}", stream=True)
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return body


def expected_chunks(fixture: str, include_usage: bool) -> list[Any]:
    chunks = [normalised(c) for c in recorded_chunks(fixture)]
    return chunks if include_usage else [c for c in chunks if not is_usage_chunk(c)]


@dataclasses.dataclass
class Summary:
    """What a client makes of a stream: the text, the reasoning, the tool calls (index -> id,
    name, arguments), the finish reasons and the reported usage."""

    content: str = ""
    reasoning: str = ""
    tool_calls: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    finish_reasons: list[str] = dataclasses.field(default_factory=list)
    usage: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def summarise(chunks: list[dict[str, Any]]) -> Summary:
    summary = Summary()
    for chunk in chunks:
        if chunk.get("usage"):
            summary.usage.append(chunk["usage"])
        for choice in chunk["choices"]:
            delta = choice.get("delta") or {}
            summary.content += delta.get("content") or ""
            summary.reasoning += delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls") or []:
                known = summary.tool_calls.setdefault(call["index"], ["", "", ""])
                function = call.get("function") or {}
                known[0] += call.get("id") or ""
                known[1] += function.get("name") or ""
                known[2] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                summary.finish_reasons.append(choice["finish_reason"])
    return summary


@pytest.mark.parametrize("include_usage", USAGE)
@pytest.mark.parametrize("fixture", STREAM_FIXTURES)
def test_a_recorded_stream_reaches_the_sdk_intact(
    gateway: Gateway, fixture: str, include_usage: bool
) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, fixture.split("/")[0])
    gateway.replay.route("POST", upstream.chat, fixture=fixture)
    body = stream_request(fixture, upstream.name, include_usage)

    stream = gateway.client().chat.completions.create(**body)
    chunks = [chunk.to_dict() for chunk in stream]

    expected = expected_chunks(fixture, include_usage)
    assert chunks == expected
    seen, recorded = summarise(chunks), summarise(expected)
    assert seen.content == recorded.content
    assert seen.reasoning == recorded.reasoning
    assert seen.tool_calls == recorded.tool_calls
    assert seen.finish_reasons == recorded.finish_reasons and seen.finish_reasons
    if include_usage:
        assert seen.usage == recorded.usage and seen.usage
    assert not any(is_usage_chunk(c) for c in chunks) or include_usage


@pytest.mark.parametrize("include_usage", USAGE)
@pytest.mark.parametrize("fixture", STREAM_FIXTURES)
def test_a_recorded_stream_on_the_wire(gateway: Gateway, fixture: str, include_usage: bool) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, fixture.split("/")[0])
    gateway.replay.route("POST", upstream.chat, fixture=fixture)
    asked = recorded_request(fixture)

    answer = gateway.post(
        "/v1/chat/completions", stream_request(fixture, upstream.name, include_usage)
    )

    assert answer.status == 200, answer
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers.get("transfer-encoding") == "chunked"
    events = parse_sse(answer.body)
    assert events[-1] == SseEvent(None, "[DONE]")
    assert [e.json() for e in events[:-1]] == expected_chunks(fixture, include_usage)
    [call] = gateway.replay.requests_to(upstream.chat)
    forced = {**asked, "stream": True, "stream_options": {"include_usage": True}}
    assert call.json() == forced


def test_stream_options_are_forced_on_and_the_rest_kept(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    fixture = "openai/chat_stream_include_usage"
    gateway.replay.route("POST", upstream.chat, fixture=fixture)
    body = {
        "model": "openai/gpt-5-nano",
        "messages": [{"role": "user", "content": "Count from 1 to 3"}],
        "stream": True,
        "stream_options": {"include_usage": False, "include_obfuscation": True},
        "temperature": 1,
    }

    answer = gateway.post("/v1/chat/completions", body)

    [call] = gateway.replay.requests_to(upstream.chat)
    assert call.json() == {
        **body,
        "model": "gpt-5-nano",
        "stream_options": {"include_usage": True, "include_obfuscation": True},
    }
    events = parse_sse(answer.body)
    assert events[-1].data == "[DONE]"
    assert [e.json() for e in events[:-1]] == expected_chunks(fixture, include_usage=False)


def test_groq_usage_in_x_groq_also_comes_as_usage(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, "groq")
    gateway.replay.route("POST", upstream.chat, fixture="groq/chat_stream")

    chunks = list(
        gateway.client().chat.completions.create(
            **stream_request("groq/chat_stream", "groq", include_usage=True)
        )
    )

    [last] = [c for c in chunks if c.usage is not None]
    x_groq = last.to_dict()["x_groq"]
    assert last.usage.to_dict() == x_groq["usage"]
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (18, 73)


def test_mistral_content_parts_in_a_stream_become_text_and_reasoning(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, "mistral")
    recorded = recorded_reply("mistral/chat_stream")
    events = recorded.events()
    first = json.loads(events[1].removeprefix(b"data: "))
    first["choices"][0]["delta"]["content"] = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Counting is easy."}]},
        {"type": "text", "text": "1"},
        {"type": "text", "text": ", 2"},
    ]
    body = events[0] + b"data: " + json.dumps(first).encode() + b"\n\n" + b"".join(events[2:])
    gateway.replay.route("POST", upstream.chat, reply=dataclasses.replace(recorded, body=body))

    chunks = list(
        gateway.client().chat.completions.create(
            model="mistral/magistral-small-latest",
            messages=[{"role": "user", "content": "Count from 1 to 3"}],
            stream=True,
        )
    )

    deltas = [c.choices[0].delta.to_dict() for c in chunks if c.choices]
    assert deltas[1]["content"] == "1, 2"
    assert deltas[1]["reasoning_content"] == "Counting is easy."
    assert all(isinstance(d.get("content", ""), str) for d in deltas)


def test_chunks_are_relayed_as_they_arrive(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    fixture = "openai/chat_stream_include_usage"
    gateway.replay.route("POST", upstream.chat, fixture=fixture, gap=HANG_GUARD)
    first = recorded_chunks(fixture)[0]

    conn, response = open_stream(gateway, stream_request(fixture, "openai", True))
    try:
        event = read_event(response)
        [call] = gateway.replay.requests_to(upstream.chat)
        # The second event is not due for a long while: the first was not held back.
        assert call.events_sent == 1 and not call.finished
    finally:
        conn.close()

    assert event.json() == normalised(first)


def open_stream(
    gateway: Gateway, body: dict[str, Any]
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", gateway.server.port, timeout=HANG_GUARD)
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=json.dumps(body),
        headers={
            "Authorization": f"Bearer {gateway.app.key.secret}",
            "Content-Type": "application/json",
        },
    )
    response = conn.getresponse()
    assert response.status == 200, response.read()
    return conn, response


def read_event(response: http.client.HTTPResponse) -> SseEvent:
    """Reads the response up to the end of the next event that has data."""
    block = b""
    while True:
        line = response.readline()
        assert line, f"the stream ended; got {block!r}"
        block += line
        if line in (b"\n", b"\r\n") and (events := parse_sse(block)):
            return events[0]


def test_a_client_leaving_mid_stream_cancels_the_upstream_call(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, "groq")
    fixture = "groq/chat_stream"
    gateway.replay.route("POST", upstream.chat, fixture=fixture, gap=0.25)
    total = len(recorded_reply(fixture).events())

    conn, response = open_stream(gateway, stream_request(fixture, "groq", False))
    request_id = response.getheader("x-request-id")
    read_event(response)
    response.close()
    conn.close()

    [call] = gateway.replay.requests_to(upstream.chat)
    assert wait_until(lambda: call.finished)
    assert call.client_disconnected
    assert call.events_sent < total
    assert wait_until(lambda: len(gateway.hub.usage.query(status=499).records) == 1)
    [record] = gateway.hub.usage.query(status=499).records
    assert (record.request_id, record.status) == (request_id, 499)
    assert record.error_kind == "client_disconnected"
    assert record.key_id == gateway.app.key.id


# --- failures after the first byte -----------------------------------------------------------


def error_stream(*extra: bytes) -> Reply:
    """The first two events of a recorded OpenAI stream, then `extra` events."""
    recorded = recorded_reply("openai/chat_stream_include_usage")
    return dataclasses.replace(recorded, body=b"".join(recorded.events()[:2]) + b"".join(extra))


def assert_ends_with_one_error(answer_body: bytes, before: int) -> dict[str, Any]:
    """The stream holds `before` chunks of the recording, then one error event, no [DONE]."""
    events = parse_sse(answer_body)
    chunks = expected_chunks("openai/chat_stream_include_usage", include_usage=True)
    assert [e.json() for e in events[:-1]] == chunks[:before]
    payload = events[-1].json()
    assert set(payload) == {"error"}, payload
    error: dict[str, Any] = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert all(e.data != "[DONE]" for e in events)
    return error


def two_keys(gateway: Gateway) -> str:
    """An openai provider with two credentials; returns its chat path."""
    return add_upstream(gateway.hub, gateway.replay, keys=("sk-first-0001", "sk-second-0002")).chat


def test_a_reset_after_the_first_byte_ends_the_stream_with_an_error(gateway: Gateway) -> None:
    chat = two_keys(gateway)
    fixture = "openai/chat_stream_include_usage"
    gateway.replay.route("POST", chat, fixture=fixture)
    gateway.replay.fail("POST", chat, Fault.reset_after(3), times=1)
    body = stream_request(fixture, "openai", include_usage=True)

    # http.client raises IncompleteRead unless the chunked body ends properly.
    answer = gateway.post("/v1/chat/completions", body)

    assert answer.status == 200
    assert_ends_with_one_error(answer.body, before=3)
    assert len(gateway.replay.requests_to(chat)) == 1, "retried after the first byte"


def test_the_sdk_raises_when_the_upstream_fails_mid_stream(gateway: Gateway) -> None:
    chat = two_keys(gateway)
    gateway.replay.route("POST", chat, fixture="openai/chat_stream_include_usage")
    gateway.replay.fail("POST", chat, Fault.reset_after(2), times=1)
    received: list[str] = []

    stream = gateway.client().chat.completions.create(
        model="openai/gpt-5-nano", messages=[{"role": "user", "content": "Count"}], stream=True
    )
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")

    assert received == ["", "1"]
    assert len(gateway.replay.requests_to(chat)) == 1


def test_an_error_object_in_a_data_chunk_ends_the_stream(gateway: Gateway) -> None:
    chat = two_keys(gateway)
    message = "The server had an error while processing your request. Sorry about that!"
    failure = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    gateway.replay.route(
        "POST", chat, reply=error_stream(b"data: " + json.dumps(failure).encode() + b"\n\n")
    )

    answer = gateway.post(
        "/v1/chat/completions",
        stream_request("openai/chat_stream_include_usage", "openai", include_usage=True),
    )

    error = assert_ends_with_one_error(answer.body, before=2)
    assert message in error["message"]
    assert len(gateway.replay.requests_to(chat)) == 1


def test_an_error_event_ends_the_stream(gateway: Gateway) -> None:
    chat = two_keys(gateway)
    failure = {"error": {"message": "Upstream overloaded", "type": "overloaded_error"}}
    gateway.replay.route(
        "POST",
        chat,
        reply=error_stream(b"event: error\ndata: " + json.dumps(failure).encode() + b"\n\n"),
    )

    stream = gateway.client().chat.completions.create(
        model="openai/gpt-5-nano", messages=[{"role": "user", "content": "Count"}], stream=True
    )
    with pytest.raises(openai.APIError) as raised:
        list(stream)
    answer = gateway.post(
        "/v1/chat/completions",
        stream_request("openai/chat_stream_include_usage", "openai", include_usage=True),
    )

    assert "Upstream overloaded" in raised.value.message
    error = assert_ends_with_one_error(answer.body, before=2)
    assert "Upstream overloaded" in error["message"]
    assert len(gateway.replay.requests_to(chat)) == 2  # one per call, none retried


def test_a_stream_cut_before_its_first_event_is_retried(gateway: Gateway) -> None:
    # Nothing reached the client yet, so another credential may still answer.
    chat = two_keys(gateway)
    fixture = "openai/chat_stream_include_usage"
    gateway.replay.route("POST", chat, fixture=fixture)
    gateway.replay.fail("POST", chat, Fault.reset_after(0), times=1)

    chunks = [
        c.to_dict()
        for c in gateway.client().chat.completions.create(**stream_request(fixture, "openai", True))
    ]

    assert chunks == expected_chunks(fixture, include_usage=True)
    first, second = gateway.replay.requests_to(chat)
    assert first.fault == Fault.reset_after(0) and second.fault is None
    assert first.header("authorization") != second.header("authorization")


def test_a_client_giving_up_on_a_hung_upstream_cancels_it(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.fail("POST", upstream.chat, Fault.hang())
    conn = http.client.HTTPConnection("127.0.0.1", gateway.server.port, timeout=HANG_GUARD)
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=json.dumps({"model": "openai/gpt-4o-mini", "messages": HELLO}),
        headers={
            "Authorization": f"Bearer {gateway.app.key.secret}",
            "Content-Type": "application/json",
        },
    )

    assert wait_until(lambda: len(gateway.replay.requests_to(upstream.chat)) == 1)
    [held] = gateway.replay.requests_to(upstream.chat)
    conn.close()

    assert wait_until(lambda: held.finished)
    assert held.client_disconnected
    assert wait_until(lambda: len(gateway.hub.usage.query(status=499).records) == 1)
    [record] = gateway.hub.usage.query().records
    assert (record.error_kind, record.provider) == ("client_disconnected", "openai")
