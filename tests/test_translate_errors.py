"""Failures through the translating front doors, each in its client's own shape. The OpenAI door
refuses what Claude cannot do with a 400 naming the field, and hands Claude's and Gemini's
errors back as OpenAI errors; the Anthropic door answers every failure as Anthropic does,
``{"type":"error","error":{"type","message"}}`` with the matching status, and ends a stream that
fails midway with ``event: error``. No error body ever holds the upstream credential."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import anthropic
import openai
import pytest

from conftest import (
    HELLO,
    UPSTREAM_KEY,
    Gateway,
    Response,
    assert_openai_error,
    parse_sse,
    rate_limited,
)
from replay import Fault, Reply, recorded_reply
from translate_helpers import (
    CLAUDE,
    GEMINI,
    add_claude,
    add_gemini,
    anthropic_client,
    assert_anthropic_error,
    assert_only_record,
    gemini_path,
    messages_path,
    only_record,
    post_messages,
    posts,
    recorded_events,
    route_claude,
    route_gemini,
    route_openai,
    user,
)

PROMPT_TOO_LONG = "prompt is too long: 3333404 tokens > 200000 maximum"


def chat(gateway: Gateway, model: str, **extra: Any) -> Response:
    return gateway.post("/v1/chat/completions", {"model": model, "messages": HELLO, **extra})


def message(gateway: Gateway, model: str, **extra: Any) -> Response:
    """A Messages API call with the app's key in x-api-key."""
    return post_messages(
        gateway, {"model": model, "max_tokens": 64, "messages": [user("Hello")], **extra}
    )


def names(param: str | None, message: str, field: str) -> bool:
    """Whether an error names `field`: as its param, or as a word of its message."""
    word = re.compile(rf"(?<![\w.]){re.escape(field)}(?!\w)")
    return param == field or word.search(message) is not None


def assert_no_credential(answer: Response) -> None:
    assert UPSTREAM_KEY.encode() not in answer.body, answer
    assert not [(n, v) for n, v in answer.headers.items() if UPSTREAM_KEY in v], answer


def echoing(reply: Reply) -> Reply:
    """`reply` with the upstream credential put into its error message, as some providers
    echo the key they refused."""
    payload = json.loads(reply.body)
    payload["error"]["message"] += f" (key {UPSTREAM_KEY})"
    return dataclasses.replace(reply, body=json.dumps(payload).encode())


def claude_and_path(gateway: Gateway, fixture: str | None = None) -> str:
    """A Claude provider, answering with the recording `fixture` when there is one, and the
    replay server's requests so far forgotten; the path its calls arrive at."""
    path = messages_path(add_claude(gateway))
    if fixture is not None:
        gateway.replay.route("POST", path, fixture=fixture)
    gateway.replay.clear_requests()
    return path


def refusing(gateway: Gateway, kind: str, fixture: str) -> tuple[str, str]:
    """A provider of `kind` answering every call with `fixture`; the model to ask for and the
    path the calls arrive at."""
    if kind == "anthropic":
        model, path = f"claude/{CLAUDE}", route_claude(gateway, fixture)
    elif kind == "google":
        model, path = f"gemini/{GEMINI}", route_gemini(gateway, fixture)
    else:
        model, path = "openai/gpt-4o-mini", route_openai(gateway, fixture)
    gateway.replay.clear_requests()
    return model, path


# --- the OpenAI door: what Claude cannot do --------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"n": 2}, "n"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "answer",
                        "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                    },
                }
            },
            "response_format",
        ),
    ],
    ids=["logprobs", "n", "logit_bias", "json_schema"],
)
def test_what_claude_cannot_do_is_refused_naming_the_field(
    gateway: Gateway, extra: dict[str, Any], field: str
) -> None:
    claude_and_path(gateway)

    answer = chat(gateway, f"claude/{CLAUDE}", **extra)

    error = assert_openai_error(answer, 400, answer.json()["error"]["code"])
    assert names(error["param"], error["message"], field), error
    assert posts(gateway.replay) == []
    assert only_record(gateway)["status"] == 400


def test_the_sdk_sees_an_unsupported_field_as_a_bad_request(gateway: Gateway) -> None:
    claude_and_path(gateway)

    with pytest.raises(openai.BadRequestError) as refused:
        gateway.client().chat.completions.create(model=f"claude/{CLAUDE}", messages=HELLO, n=2)

    assert refused.value.status_code == 400
    assert names(refused.value.param, refused.value.message, "n"), refused.value
    assert posts(gateway.replay) == []


# --- the OpenAI door: errors of Claude and Gemini --------------------------------------------


def test_a_claude_4xx_comes_back_as_an_openai_error_with_its_message(gateway: Gateway) -> None:
    path = claude_and_path(gateway, "anthropic/error_400_prompt_too_long")

    answer = chat(gateway, f"claude/{CLAUDE}")

    error = assert_openai_error(answer, 400, answer.json()["error"]["code"])
    assert PROMPT_TOO_LONG in error["message"]
    assert posts(gateway.replay) == [path]


@pytest.mark.parametrize(
    ("provider", "kind", "fixture"),
    [
        ("claude", "anthropic", "anthropic/error_401_authentication"),
        ("gemini", "google", "gemini/error_400_api_key_invalid"),
    ],
    ids=["claude", "gemini"],
)
def test_a_refused_credential_is_502_upstream_unauthorized(
    gateway: Gateway, provider: str, kind: str, fixture: str
) -> None:
    model, path = refusing(gateway, kind, fixture)

    answer = chat(gateway, model)

    assert_openai_error(answer, 502, "upstream_unauthorized")
    assert_no_credential(answer)
    assert posts(gateway.replay) == [path]
    assert_only_record(gateway, status=502, error_kind="upstream_unauthorized", provider=provider)


def test_a_rate_limited_claude_is_429_with_its_retry_after(gateway: Gateway) -> None:
    path = claude_and_path(gateway, "anthropic/error_429_rate_limit")

    with pytest.raises(openai.RateLimitError) as limited:
        gateway.client().chat.completions.create(model=f"claude/{CLAUDE}", messages=HELLO)
    answer = chat(gateway, f"claude/{CLAUDE}")

    assert limited.value.code == "upstream_rate_limited"
    assert_openai_error(answer, 429, "upstream_rate_limited")
    assert 1 <= int(answer.headers["retry-after"]) <= 47, answer.headers
    assert posts(gateway.replay)[:1] == [path]


def test_a_claude_stream_cut_midway_ends_with_an_openai_error_chunk(gateway: Gateway) -> None:
    path = claude_and_path(gateway, "anthropic/messages_stream")
    # message_start, content_block_start, ping, then the first text delta: "-".
    gateway.replay.fail("POST", path, Fault.reset_after(4))

    answer = chat(gateway, "claude/claude-sonnet-4-5", stream=True)
    stream = gateway.client().chat.completions.create(
        model="claude/claude-sonnet-4-5", messages=HELLO, stream=True
    )
    with pytest.raises(openai.APIError):
        list(stream)

    assert answer.status == 200, answer
    events = parse_sse(answer.body)
    assert all(e.data != "[DONE]" for e in events)
    chunks = [e.json() for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "-"
    error = events[-1].json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert len(gateway.replay.requests_to(path)) == 2, "retried after the first byte"
    kinds = [r.error_kind for r in gateway.hub.usage.query().records]
    assert kinds == ["upstream_stream_error"] * 2


def test_a_gemini_stream_cut_midway_ends_with_an_openai_error_chunk(gateway: Gateway) -> None:
    path = route_gemini(
        gateway, "gemini/stream_sse", model="gemini-2.0-flash-exp", method="streamGenerateContent"
    )
    gateway.replay.fail("POST", path, Fault.reset_after(1))

    answer = chat(gateway, "gemini/gemini-2.0-flash-exp", stream=True)

    assert answer.status == 200, answer
    events = parse_sse(answer.body)
    assert all(e.data != "[DONE]" for e in events)
    chunks = [e.json() for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "The"
    assert set(events[-1].json()["error"]) == {"message", "type", "param", "code"}
    assert only_record(gateway)["error_kind"] == "upstream_stream_error"


# --- the Anthropic door ----------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["x-api-key", "bearer", "none"])
def test_a_bad_access_key_is_401_authentication_error(gateway: Gateway, auth: str) -> None:
    claude_and_path(gateway, "anthropic/messages_basic")
    wrong = gateway.app.key.secret[:-1] + ("A" if gateway.app.key.secret[-1] != "A" else "B")

    answer = post_messages(
        gateway,
        {"model": f"claude/{CLAUDE}", "max_tokens": 64, "messages": [user("Hello")]},
        key=wrong,
        auth=auth,
    )

    assert_anthropic_error(answer, 401, "authentication_error")
    assert posts(gateway.replay) == []


def test_the_sdk_sees_a_bad_access_key_as_an_authentication_error(gateway: Gateway) -> None:
    claude_and_path(gateway)

    with pytest.raises(anthropic.AuthenticationError) as refused:
        anthropic_client(gateway, key="ahk_not_a_key").messages.create(
            model=f"claude/{CLAUDE}", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
        )

    assert refused.value.status_code == 401
    assert refused.value.type == "authentication_error"
    assert posts(gateway.replay) == []


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (b'{"model": "openai/gpt-4o-mini", "max_tokens": 64', ""),
        (b'["not", "an", "object"]', ""),
        ({"model": "openai/gpt-4o-mini", "messages": [user("Hi")]}, "max_tokens"),
        ({"model": f"gemini/{GEMINI}", "messages": [user("Hi")]}, "max_tokens"),
        ({"model": "openai/gpt-4o-mini", "max_tokens": 64}, "messages"),
        ({"max_tokens": 64, "messages": [user("Hi")]}, "model"),
        ({"model": "openai/gpt-4o-mini", "max_tokens": "many", "messages": [user("Hi")]}, ""),
        ({"model": "openai/gpt-4o-mini", "max_tokens": 64, "messages": "Hi"}, "messages"),
    ],
    ids=[
        "truncated-json",
        "not-an-object",
        "no-max_tokens-openai",
        "no-max_tokens-gemini",
        "no-messages",
        "no-model",
        "max_tokens-string",
        "messages-string",
    ],
)
def test_a_bad_body_is_400_invalid_request_error(
    gateway: Gateway, body: Any, mentions: str
) -> None:
    route_openai(gateway, "openai/chat_basic")
    add_gemini(gateway)
    gateway.replay.clear_requests()

    answer = post_messages(gateway, body)

    text = assert_anthropic_error(answer, 400, "invalid_request_error")
    assert mentions in text
    assert posts(gateway.replay) == []


@pytest.mark.parametrize("model", ["nobody/claude-9-opus", "claude-9-opus"])
def test_an_unknown_model_is_404_not_found_error(gateway: Gateway, model: str) -> None:
    claude_and_path(gateway)

    answer = message(gateway, model)
    counted = post_messages(
        gateway,
        {"model": model, "messages": [user("Hello")]},
        path="/v1/messages/count_tokens",
    )

    assert_anthropic_error(answer, 404, "not_found_error")
    assert_anthropic_error(counted, 404, "not_found_error")
    assert posts(gateway.replay) == []


def test_the_sdk_sees_an_unknown_model_as_not_found(gateway: Gateway) -> None:
    claude_and_path(gateway)

    with pytest.raises(anthropic.NotFoundError) as missing:
        anthropic_client(gateway).messages.create(
            model="claude-9-opus", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
        )

    assert missing.value.type == "not_found_error"


def test_a_model_outside_the_keys_allowlist_is_403_permission_error(gateway: Gateway) -> None:
    claude_and_path(gateway)
    add_gemini(gateway)
    gateway.replay.clear_requests()
    narrow = gateway.hub.keys.create(gateway.app.user, name="narrow", models=[f"claude/{CLAUDE}"])

    answer = post_messages(
        gateway,
        {"model": f"gemini/{GEMINI}", "max_tokens": 64, "messages": [user("Hello")]},
        key=narrow.secret,
    )

    assert_anthropic_error(answer, 403, "permission_error")
    assert posts(gateway.replay) == []


def test_a_rate_limited_claude_is_429_rate_limit_error(gateway: Gateway) -> None:
    path = claude_and_path(gateway, "anthropic/error_429_rate_limit")

    answer = message(gateway, f"claude/{CLAUDE}")
    with pytest.raises(anthropic.RateLimitError) as limited:
        anthropic_client(gateway).messages.create(
            model=f"claude/{CLAUDE}", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
        )

    assert_anthropic_error(answer, 429, "rate_limit_error")
    assert 1 <= int(answer.headers["retry-after"]) <= 47, answer.headers
    assert limited.value.type == "rate_limit_error"
    assert posts(gateway.replay)[:1] == [path]


def test_a_rate_limited_openai_provider_is_429_rate_limit_error(gateway: Gateway) -> None:
    route_openai(gateway, reply=rate_limited(30))

    answer = message(gateway, "openai/gpt-4o-mini")

    assert_anthropic_error(answer, 429, "rate_limit_error")
    assert 1 <= int(answer.headers["retry-after"]) <= 30, answer.headers


@pytest.mark.parametrize(
    ("kind", "fixture"),
    [
        ("anthropic", "anthropic/error_401_authentication"),
        ("google", "gemini/error_400_api_key_invalid"),
    ],
    ids=["claude-401", "gemini-api-key-invalid"],
)
def test_a_refused_credential_is_disabled_and_the_next_one_tried(
    gateway: Gateway, kind: str, fixture: str
) -> None:
    first, second = "sk-first-000001", "sk-second-00002"
    if kind == "anthropic":
        upstream = add_claude(gateway, keys=(first, second), weights=(100, 1))
        path, header, answered = messages_path(upstream), "x-api-key", "anthropic/messages_basic"
        model = f"claude/{CLAUDE}"
    else:
        upstream = add_gemini(gateway, keys=(first, second), weights=(100, 1))
        path = gemini_path(upstream, GEMINI, "generateContent")
        header, answered, model = "x-goog-api-key", "gemini/generate_basic", f"gemini/{GEMINI}"
    gateway.replay.route(
        "POST", path, fixture=fixture, when_header=(header, first), otherwise=answered
    )
    gateway.replay.clear_requests()

    answers = [chat(gateway, model), message(gateway, model), chat(gateway, model)]

    assert [a.status for a in answers] == [200, 200, 200], answers
    assert [r.header(header) for r in gateway.replay.requests_to(path)] == [
        first,
        second,
        second,
        second,
    ]


@pytest.mark.parametrize(
    ("kind", "fixture"),
    [
        ("anthropic", "anthropic/error_401_authentication"),
        ("openai", "openai/error_401_invalid_api_key"),
        ("google", "gemini/error_400_api_key_invalid"),
    ],
    ids=["claude-passthrough", "openai-translated", "gemini-translated"],
)
def test_a_refused_upstream_credential_is_502_api_error(
    gateway: Gateway, kind: str, fixture: str
) -> None:
    model, path = refusing(gateway, kind, fixture)

    answer = message(gateway, model)
    with pytest.raises(anthropic.APIStatusError) as failed:
        anthropic_client(gateway).messages.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
        )

    assert_anthropic_error(answer, 502, "api_error")
    assert_no_credential(answer)
    assert (failed.value.status_code, failed.value.type) == (502, "api_error")
    assert posts(gateway.replay)[:1] == [path]
    first = gateway.hub.usage.query().records[-1]
    assert (first.status, first.error_kind) == (502, "upstream_unauthorized")


@pytest.mark.parametrize(
    ("fixture", "status"),
    [("anthropic/error_401_authentication", 502), ("anthropic/error_400_prompt_too_long", 400)],
    ids=["401", "400"],
)
def test_an_echoed_credential_never_reaches_either_client(
    gateway: Gateway, fixture: str, status: int
) -> None:
    # One provider per door: a refused credential is not tried again.
    paths = [messages_path(add_claude(gateway, name=name)) for name in ("claude", "claude2")]
    for path in paths:
        gateway.replay.route("POST", path, reply=echoing(recorded_reply(fixture)))
    gateway.replay.clear_requests()

    from_openai = chat(gateway, f"claude/{CLAUDE}")
    from_anthropic = message(gateway, f"claude2/{CLAUDE}")

    assert (from_openai.status, from_anthropic.status) == (status, status)
    assert_no_credential(from_openai)
    assert_no_credential(from_anthropic)
    assert posts(gateway.replay) == paths


def test_a_claude_4xx_keeps_its_type_and_message(gateway: Gateway) -> None:
    path = claude_and_path(gateway, "anthropic/error_400_prompt_too_long")

    answer = message(gateway, f"claude/{CLAUDE}")

    assert PROMPT_TOO_LONG in assert_anthropic_error(answer, 400, "invalid_request_error")
    assert posts(gateway.replay) == [path]


def test_an_openai_404_comes_back_as_not_found_error(gateway: Gateway) -> None:
    route_openai(gateway, "openai/error_404_model_not_found")

    answer = message(gateway, "openai/gpt-4.1-nano-wrong")

    text = assert_anthropic_error(answer, 404, "not_found_error")
    assert "The model `gpt-4.1-nano-wrong` does not exist" in text


def test_an_unreachable_upstream_is_502_api_error(gateway: Gateway) -> None:
    path = claude_and_path(gateway)
    gateway.replay.fail("POST", path, Fault.reset())

    answer = message(gateway, f"claude/{CLAUDE}")

    assert_anthropic_error(answer, 502, "api_error")


def assert_ends_with_an_error_event(events: list[Any]) -> dict[str, Any]:
    """The last event is ``event: error`` in Anthropic's shape, and no message_stop came."""
    assert events, "the stream had no events"
    last = events[-1]
    assert last.event == "error", events
    payload: dict[str, Any] = last.json()
    assert payload["type"] == "error", payload
    assert isinstance(payload["error"]["type"], str) and payload["error"]["type"]
    assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
    assert "message_stop" not in [e.event for e in events]
    return payload


def test_a_passthrough_stream_cut_midway_ends_with_an_error_event(gateway: Gateway) -> None:
    path = claude_and_path(gateway)
    fixture = "anthropic/messages_stream"
    gateway.replay.route("POST", path, fixture=fixture)
    gateway.replay.fail("POST", path, Fault.reset_after(4))
    body: dict[str, Any] = {
        "model": "claude/claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [user("Two names for a pet pelican, be brief")],
    }

    answer = post_messages(gateway, {**body, "stream": True})
    with (
        pytest.raises(anthropic.APIError),
        anthropic_client(gateway).messages.stream(**body) as stream,
    ):
        list(stream.text_stream)

    assert answer.status == 200, answer
    events = parse_sse(answer.body)
    got = [(e.event, e.json()) for e in events[:-1]]
    assert got == [(e.event, e.json()) for e in recorded_events(fixture)[:4]]
    assert_ends_with_an_error_event(events)
    assert len(gateway.replay.requests_to(path)) == 2, "retried after the first byte"
    kinds = [r.error_kind for r in gateway.hub.usage.query().records]
    assert kinds == ["upstream_stream_error"] * 2


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_a_translated_stream_cut_midway_ends_with_an_error_event(
    gateway: Gateway, provider: str
) -> None:
    if provider == "openai":
        path = route_openai(gateway, "openai/chat_stream_include_usage")
        gateway.replay.fail("POST", path, Fault.reset_after(3))
        model, text = "openai/gpt-5-nano", "1\n"
    else:
        path = route_gemini(
            gateway,
            "gemini/stream_sse",
            model="gemini-2.0-flash-exp",
            method="streamGenerateContent",
        )
        gateway.replay.fail("POST", path, Fault.reset_after(2))
        model, text = "gemini/gemini-2.0-flash-exp", "The capital of France"

    answer = post_messages(
        gateway,
        {"model": model, "max_tokens": 64, "stream": True, "messages": [user("Go")]},
    )

    assert answer.status == 200, answer
    events = parse_sse(answer.body)
    assert_ends_with_an_error_event(events)
    assert events[0].event == "message_start"
    deltas = [e.json()["delta"] for e in events if e.event == "content_block_delta"]
    assert "".join(d.get("text", "") for d in deltas) == text
    assert only_record(gateway)["error_kind"] == "upstream_stream_error"


def test_an_error_event_from_claude_midway_is_relayed_as_an_error_event(
    gateway: Gateway,
) -> None:
    path = claude_and_path(gateway)
    recorded = recorded_reply("anthropic/messages_stream")
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    cut = b"".join(recorded.events()[:4]) + (
        b"event: error\ndata: " + json.dumps(overloaded).encode() + b"\n\n"
    )
    gateway.replay.route("POST", path, reply=dataclasses.replace(recorded, body=cut))
    body: dict[str, Any] = {
        "model": "claude/claude-sonnet-4-5",
        "max_tokens": 64,
        "stream": True,
        "messages": [user("Two names for a pet pelican, be brief")],
    }

    from_anthropic = post_messages(gateway, body)
    from_openai = gateway.post("/v1/chat/completions", body)

    payload = assert_ends_with_an_error_event(parse_sse(from_anthropic.body))
    assert payload["error"]["message"] == "Overloaded"
    last = parse_sse(from_openai.body)[-1].json()
    assert "Overloaded" in last["error"]["message"]
