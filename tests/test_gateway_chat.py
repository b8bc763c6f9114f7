"""POST /v1/chat/completions without streaming, through the official openai SDK: what the
gateway sends upstream, and every recorded OpenAI-family answer handed back intact, with the
providers' quirks normalised."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from conftest import (
    HELLO,
    UPSTREAM_KEY,
    Gateway,
    OpenRaw,
    add_upstream,
    http_request_bytes,
    normalised,
)
from replay import fixtures_of, recorded_reply, recorded_request

CHAT_FIXTURES = fixtures_of("openai.chat.completions", streaming=False)


@pytest.mark.parametrize("fixture", CHAT_FIXTURES)
def test_a_recorded_answer_reaches_the_client_intact(gateway: Gateway, fixture: str) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, fixture.split("/")[0])
    gateway.replay.route("POST", upstream.chat, fixture=fixture)
    asked = recorded_request(fixture)
    sent = {**asked, "model": f"{upstream.name}/{asked['model']}"}

    raw = gateway.client().chat.completions.with_raw_response.create(**sent)
    completion = raw.parse()

    expected = normalised(json.loads(recorded_reply(fixture).body))
    [call] = gateway.replay.requests_to(upstream.chat)
    assert call.json() == asked
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.http_response.json() == expected
    assert completion.to_dict() == expected
    choice, recorded_choice = completion.choices[0], expected["choices"][0]
    assert choice.message.content == recorded_choice["message"]["content"]
    assert choice.finish_reason == recorded_choice["finish_reason"]
    calls = [c.to_dict() for c in choice.message.tool_calls or []]
    assert calls == (recorded_choice["message"].get("tool_calls") or [])
    assert completion.usage is not None
    assert completion.usage.to_dict() == expected["usage"]


def test_the_upstream_gets_the_clients_json_with_the_upstream_model(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_tool_call")
    body: dict[str, Any] = {
        "model": "openai/gpt-4o-mini",
        "messages": [
            {"role": "system", "content": 'Answer in French. \u00e9\U0001f642 \\ " \n'},
            {"role": "user", "content": [{"type": "text", "text": "Can Crumpet have dragons?"}]},
        ],
        "stream": False,
        "temperature": 0.2,
        "top_p": 1,
        "n": 1,
        "seed": 9007199254740993,  # above 2**53: exact only if never held as a double
        "stop": ["\n\n"],
        "max_completion_tokens": 64,
        "logit_bias": {"50256": -100},
        "response_format": {"type": "json_object"},
        "tools": recorded_request("openai/chat_tool_call")["tools"],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "user": "end-user-42",
        "metadata": {"ticket": "T-1"},
        "a_vendor_extension": {"nested": [1, 2.5, None, True, "x"], "empty": {}},
    }

    answer = gateway.post("/v1/chat/completions", body, headers={"X-Trace": "t-1"})

    assert answer.status == 200, answer
    [call] = gateway.replay.requests_to(upstream.chat)
    assert call.method == "POST"
    assert json.loads(call.body) == {**body, "model": "gpt-4o-mini"}
    assert call.header("authorization") == f"Bearer {UPSTREAM_KEY}"
    assert call.header("content-type") == "application/json"
    secret = gateway.app.key.secret
    assert not [(n, v) for n, v in call.headers if secret in v or secret[4:16] in v]
    assert secret.encode() not in call.body


def test_the_access_key_is_never_forwarded_whatever_header_carries_it(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")
    secret = gateway.app.key.secret

    answer = gateway.post(
        "/v1/chat/completions",
        {"model": "openai/gpt-3.5-turbo", "messages": [{"role": "user", "content": "Hi"}]},
        headers={"X-Api-Key": secret, "Api-Key": secret, "Cookie": f"key={secret}"},
    )

    assert answer.status == 200, answer
    [call] = gateway.replay.requests_to(upstream.chat)
    assert call.header("authorization") == f"Bearer {UPSTREAM_KEY}"
    assert not [(n, v) for n, v in call.headers if secret in v]


def mistral_with_content(content: list[dict[str, Any]]) -> bytes:
    payload = json.loads(recorded_reply("mistral/chat_basic").body)
    payload["choices"][0]["message"]["content"] = content
    return json.dumps(payload).encode()


def test_mistral_content_parts_become_a_string_and_reasoning(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, "mistral")
    parts: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Two plus two is four."}]},
        {"type": "text", "text": "2 + 2 equals "},
        {"type": "text", "text": "**4**."},
    ]
    body = mistral_with_content(parts)
    reply = dataclasses.replace(recorded_reply("mistral/chat_basic"), body=body)
    gateway.replay.route("POST", upstream.chat, reply=reply)

    raw = gateway.client().chat.completions.with_raw_response.create(
        model="mistral/magistral-small-latest", messages=[{"role": "user", "content": "2 + 2?"}]
    )

    message = raw.parse().choices[0].message
    assert message.content == "2 + 2 equals **4**."
    assert message.to_dict()["reasoning_content"] == "Two plus two is four."
    assert raw.http_response.json() == normalised(json.loads(body))


def test_a_reasoning_field_is_also_given_as_reasoning_content(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, "ollama")
    payload = json.loads(recorded_reply("ollama/openai_compat_chat_basic").body)
    payload["choices"][0]["message"]["reasoning"] = "The user greets me."
    reply = dataclasses.replace(
        recorded_reply("ollama/openai_compat_chat_basic"), body=json.dumps(payload).encode()
    )
    gateway.replay.route("POST", upstream.chat, reply=reply)

    completion = gateway.client().chat.completions.create(
        model="ollama/llama3", messages=[{"role": "user", "content": "Hello!"}]
    )

    message = completion.choices[0].message.to_dict()
    assert message["reasoning"] == message["reasoning_content"] == "The user greets me."
    assert message["content"] == payload["choices"][0]["message"]["content"]


def test_whitespace_before_the_json_body_is_removed(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    recorded = recorded_reply("openai/chat_basic")
    # OpenRouter, for one, sends blank lines to keep a slow request's connection alive.
    padded = dataclasses.replace(recorded, body=b"\n\n   \n\t\r\n" + recorded.body)
    gateway.replay.route("POST", upstream.chat, reply=padded)

    answer = gateway.post(
        "/v1/chat/completions",
        {"model": "openai/gpt-3.5-turbo", "messages": [{"role": "user", "content": "Hi"}]},
    )

    assert answer.status == 200, answer
    assert answer.body.startswith(b"{")
    assert answer.json() == json.loads(recorded.body)


def test_pipelined_requests_behind_a_gateway_call_are_answered_in_order(
    gateway: Gateway, open_raw: OpenRaw
) -> None:
    """The client-disconnect watch must leave a request the client pipelined behind the call
    for the session, not take it for a hang-up."""
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic", gap=0.0)
    body = json.dumps({"model": "openai/gpt-4o-mini", "messages": HELLO}).encode()
    headers = {
        "Authorization": f"Bearer {gateway.app.key.secret}",
        "Content-Type": "application/json",
    }
    raw = open_raw(gateway.server)

    raw.send(
        http_request_bytes("POST", "/v1/chat/completions", headers, body)
        + http_request_bytes("GET", "/healthz")
    )
    chat = raw.read_response()
    health = raw.read_response()

    assert chat.status == 200 and json.loads(chat.body)["object"] == "chat.completion"
    assert (health.status, health.json()) == (200, {"status": "ok"})
    assert len(gateway.hub.usage.query().records) == 1
