"""POST /v1/embeddings and /v1/images/generations through the official openai SDK: the same
routing, request rewriting and failover as chat, the recorded answers handed back intact."""

from __future__ import annotations

import json

import openai
import pytest

from conftest import UPSTREAM_KEY, Gateway, add_upstream, assert_json_error
from replay import Fault, recorded_reply, recorded_request

FIRST, SECOND = "sk-first-000001", "sk-second-00002"


def test_embeddings_are_relayed_intact(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.embeddings, fixture="openai/embeddings")
    recorded = json.loads(recorded_reply("openai/embeddings").body)

    raw = gateway.client().embeddings.with_raw_response.create(
        model="openai/text-embedding-3-small",
        input=["Hello world"],
        dimensions=256,
        encoding_format="float",
    )
    result = raw.parse()

    assert raw.http_response.json() == recorded
    assert result.data[0].embedding == recorded["data"][0]["embedding"]
    assert len(result.data[0].embedding) == 256
    assert result.usage.prompt_tokens == recorded["usage"]["prompt_tokens"]
    [call] = gateway.replay.requests_to(upstream.embeddings)
    assert call.json() == {**recorded_request("openai/embeddings"), "encoding_format": "float"}
    assert call.header("authorization") == f"Bearer {UPSTREAM_KEY}"
    assert call.header("content-type") == "application/json"
    [record] = gateway.hub.usage.query().records
    assert record.request_id == raw.headers["x-request-id"]
    assert (record.model_requested, record.model_served) == (
        "openai/text-embedding-3-small",
        "text-embedding-3-small",
    )
    assert (record.prompt_tokens, record.completion_tokens, record.images) == (2, 0, 0)


def test_a_bare_embedding_model_is_found_in_the_listing(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.embeddings, fixture="openai/embeddings")

    result = gateway.client().embeddings.create(
        model="text-embedding-3-small", input="Hello world", encoding_format="float"
    )

    assert result.model == "text-embedding-3-small"
    [call] = gateway.replay.requests_to(upstream.embeddings)
    assert call.json() == {
        "model": "text-embedding-3-small",
        "input": "Hello world",
        "encoding_format": "float",
    }


def test_images_are_relayed_intact(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.images, fixture="openai/images_generations")
    recorded = json.loads(recorded_reply("openai/images_generations").body)
    asked = recorded_request("openai/images_generations")

    raw = gateway.client().images.with_raw_response.generate(
        model="openai/dall-e-2", prompt=asked["prompt"], size="256x256"
    )

    assert raw.http_response.json() == recorded
    images = raw.parse().data or []
    assert [i.url for i in images] == [recorded["data"][0]["url"]]
    [call] = gateway.replay.requests_to(upstream.images)
    assert call.json() == asked
    assert call.header("authorization") == f"Bearer {UPSTREAM_KEY}"


def test_an_image_call_is_metered_by_images(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.images, fixture="openai/images_generations")

    raw = gateway.client().images.with_raw_response.generate(
        model="openai/dall-e-2", prompt="A baby sea otter", size="256x256"
    )

    [record] = gateway.hub.usage.query().records
    assert record.request_id == raw.headers["x-request-id"]
    assert (record.images, record.status, record.error_kind) == (1, 200, "")
    assert record.model_requested == "openai/dall-e-2"


@pytest.mark.parametrize("path", ["/v1/embeddings", "/v1/images/generations"])
def test_model_problems_are_refused_before_the_upstream(gateway: Gateway, path: str) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.clear_requests()
    field = {"input": "Hello"} if path == "/v1/embeddings" else {"prompt": "An otter"}

    missing = gateway.post(path, field)
    unknown = gateway.post(path, {"model": "no-such-model", **field})
    bad_json = gateway.post(path, b"{")

    assert_json_error(missing, 400, missing.json()["error"]["code"], param="model")
    assert_json_error(unknown, 404, "model_not_found", param="model")
    assert_json_error(bad_json, 400, "invalid_json")
    assert gateway.replay.requests == []
    assert upstream.name == "openai"


def test_embeddings_fail_over_to_another_credential(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND), weights=(100, 1))
    gateway.replay.route("POST", upstream.embeddings, fixture="openai/embeddings")
    gateway.replay.fail("POST", upstream.embeddings, Fault.reset(), times=1)

    result = gateway.client().embeddings.create(
        model="openai/text-embedding-3-small", input="Hello world", encoding_format="float"
    )

    assert len(result.data[0].embedding) == 256
    sent = [r.header("authorization") for r in gateway.replay.requests_to(upstream.embeddings)]
    assert sent == [f"Bearer {FIRST}", f"Bearer {SECOND}"]


def test_an_upstream_400_on_images_reaches_the_client(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.images, fixture="openai/error_400_invalid_image_url")

    with pytest.raises(openai.BadRequestError) as refused:
        gateway.client().images.generate(model="openai/dall-e-3", prompt="An otter")

    assert refused.value.status_code == 400
    assert "Error while downloading" in refused.value.message
