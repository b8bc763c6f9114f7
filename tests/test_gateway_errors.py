"""Calls that fail before any upstream answer is relayed: bad input, refused at the door with a
precise 4xx and never sent upstream, and the provider's own 4xx handed back in OpenAI's shape,
message kept, without trying another credential."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from conftest import (
    HELLO,
    Gateway,
    Response,
    StartServer,
    add_upstream,
    api,
    assert_json_error,
    assert_openai_error,
)
from replay import Reply, json_reply, recorded_reply

FIRST, SECOND = "sk-first-000001", "sk-second-00002"


def assert_bad_request(answer: Response, param: str | None) -> None:
    """A 400 in OpenAI's shape naming `param`."""
    error = assert_openai_error(answer, 400, answer.json()["error"]["code"])
    assert error["param"] == param, error


@pytest.fixture
def chat_path(gateway: Gateway) -> str:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")
    gateway.replay.clear_requests()
    return upstream.chat


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{not json", b'{"model": "openai/gpt-4o"', b"", b"\xff\xfe"])
def test_a_body_that_is_not_json_is_400(gateway: Gateway, chat_path: str, body: bytes) -> None:
    answer = gateway.post("/v1/chat/completions", body)

    assert_json_error(answer, 400, "invalid_json")
    assert gateway.replay.requests == []


@pytest.mark.parametrize("body", [[], [{"model": "openai/gpt-4o"}], "text", 42, None, True])
def test_json_that_is_not_an_object_is_400(gateway: Gateway, chat_path: str, body: Any) -> None:
    answer = gateway.post("/v1/chat/completions", json.dumps(body).encode())

    assert_bad_request(answer, None)
    assert gateway.replay.requests == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HELLO}, "model"),
        ({"model": 42, "messages": HELLO}, "model"),
        ({"model": None, "messages": HELLO}, "model"),
        ({"model": "openai/gpt-4o"}, "messages"),
        ({"model": "openai/gpt-4o", "messages": "Hello"}, "messages"),
        ({"model": "openai/gpt-4o", "messages": {"role": "user"}}, "messages"),
        ({"model": "openai/gpt-4o", "messages": None}, "messages"),
        ({"model": "openai/gpt-4o", "messages": HELLO, "stream": "true"}, "stream"),
        ({"model": "openai/gpt-4o", "messages": HELLO, "stream": 1}, "stream"),
    ],
    ids=[
        "no-model",
        "model-number",
        "model-null",
        "no-messages",
        "messages-string",
        "messages-object",
        "messages-null",
        "stream-string",
        "stream-number",
    ],
)
def test_a_missing_or_mistyped_field_is_400_naming_it(
    gateway: Gateway, chat_path: str, body: dict[str, Any], param: str
) -> None:
    answer = gateway.post("/v1/chat/completions", body)

    assert_bad_request(answer, param)
    assert gateway.replay.requests == []


def test_the_sdk_sees_bad_input_as_a_bad_request(gateway: Gateway, chat_path: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        gateway.client().chat.completions.create(
            model="openai/gpt-4o", messages=HELLO, extra_body={"stream": "yes"}
        )

    assert refused.value.status_code == 400
    assert refused.value.param == "stream"
    assert gateway.replay.requests == []


def test_a_body_over_the_limit_is_413(
    gateway: Gateway, chat_path: str, start_server: StartServer
) -> None:
    small = start_server(max_body_bytes=1024)
    body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x" * 2000}]}

    answer = api(small, "POST", "/v1/chat/completions", body, key=gateway.app.key.secret)
    fits = api(
        small,
        "POST",
        "/v1/chat/completions",
        {"model": "openai/gpt-4o", "messages": HELLO},
        key=gateway.app.key.secret,
    )

    assert_openai_error(answer, 413, answer.json()["error"]["code"])
    assert fits.status == 200, fits
    assert len(gateway.replay.requests_to(chat_path)) == 1


# --- the provider's own 4xx ------------------------------------------------------------------


def two_keys(gateway: Gateway) -> str:
    """A provider "openai" with two credentials, the first picked first; its chat path."""
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND), weights=(100, 1))
    return upstream.chat


UNPROCESSABLE = json_reply(
    {
        "object": "error",
        "message": "temperature: Input should be less than or equal to 1.5",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    },
    422,
    "Unprocessable Entity",
)
DETAIL_ONLY = json_reply({"detail": "Invalid model: mistral-huge-latest"}, 400, "Bad Request")


@pytest.mark.parametrize(
    ("reply", "status", "message"),
    [
        (
            recorded_reply("openai/error_400_invalid_image_url"),
            400,
            "Error while downloading https://source.unsplash.com/8xznAGy4HcY/800x400.",
        ),
        (
            recorded_reply("openai/error_404_model_not_found"),
            404,
            "The model `gpt-4.1-nano-wrong` does not exist or you do not have access to it.",
        ),
        (UNPROCESSABLE, 422, "temperature: Input should be less than or equal to 1.5"),
        (DETAIL_ONLY, 400, "Invalid model: mistral-huge-latest"),
    ],
    ids=["400", "404", "422", "400-detail"],
)
def test_an_upstream_4xx_reaches_the_client_unretried(
    gateway: Gateway, reply: Any, status: int, message: str
) -> None:
    chat = two_keys(gateway)
    gateway.replay.route("POST", chat, reply=reply)

    answer = gateway.post(
        "/v1/chat/completions", {"model": "openai/gpt-4.1-nano-wrong", "messages": HELLO}
    )

    error = assert_openai_error(answer, status, answer.json()["error"]["code"])
    assert message in error["message"]
    [call] = gateway.replay.requests_to(chat)
    assert call.header("authorization") == f"Bearer {FIRST}"


def test_an_upstream_4xx_does_not_disable_the_credential(gateway: Gateway) -> None:
    chat = two_keys(gateway)
    gateway.replay.route("POST", chat, fixture="openai/chat_basic")
    gateway.replay.route("POST", chat, fixture="openai/error_400_invalid_image_url", times=1)

    with pytest.raises(openai.BadRequestError) as refused:
        gateway.client().chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO)
    gateway.client().chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO)

    assert "Error while downloading" in refused.value.message
    assert [r.header("authorization") for r in gateway.replay.requests_to(chat)] == [
        f"Bearer {FIRST}",
        f"Bearer {FIRST}",
    ]


def test_a_redirect_from_the_provider_is_never_followed(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    moved = Reply(302, "Found", (("location", "http://169.254.169.254/latest/meta-data"),), b"")
    gateway.replay.route("POST", upstream.chat, reply=moved)

    answer = gateway.post("/v1/chat/completions", {"model": "openai/gpt-4o", "messages": HELLO})

    assert_json_error(answer, 502, "upstream_error")
    assert "redirects are not followed" in answer.json()["error"]["message"]
    assert [r.path for r in gateway.replay.requests if r.method == "POST"] == [upstream.chat]
