"""Which provider and credential a chat call goes to, and what happens when they fail before
the first byte: other credentials, other providers (bare model names only), at most three
attempts, and a precise error when everything failed."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from conftest import (
    HELLO,
    Gateway,
    Response,
    add_upstream,
    assert_json_error,
    assert_openai_error,
    rate_limited,
    wait_until,
)
from replay import Fault, Reply, json_reply, recorded_reply

FIRST, SECOND, THIRD, FOURTH = (
    "sk-first-000001",
    "sk-second-00002",
    "sk-third-000003",
    "sk-fourth-0004",
)


def chat(gateway: Gateway, model: str, **extra: Any) -> Response:
    return gateway.post("/v1/chat/completions", {"model": model, "messages": HELLO, **extra})


def keys_seen(gateway: Gateway, path: str) -> list[str]:
    """The credential of each call that reached `path`, in order."""
    return [
        (r.header("authorization") or "").removeprefix("Bearer ")
        for r in gateway.replay.requests_to(path)
    ]


def models_sent(gateway: Gateway, path: str) -> list[str]:
    return [json.loads(r.body)["model"] for r in gateway.replay.requests_to(path)]


def server_error(status: int) -> Reply:
    body = {"error": {"message": f"upstream failed with {status}", "type": "server_error"}}
    return json_reply(body, status, "Server Error")


UNAVAILABLE = recorded_reply("xai/error_503_model_at_capacity")


# --- model names -----------------------------------------------------------------------------


def test_a_provider_prefix_picks_that_provider(gateway: Gateway) -> None:
    alpha = add_upstream(gateway.hub, gateway.replay, name="alpha", models=["gpt-4o-mini"])
    beta = add_upstream(gateway.hub, gateway.replay, name="beta", models=["gpt-4o-mini"])
    for upstream in (alpha, beta):
        gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")

    completion = gateway.client().chat.completions.create(model="beta/gpt-4o-mini", messages=HELLO)

    assert completion.model == "gpt-3.5-turbo-0125"
    assert models_sent(gateway, beta.chat) == ["gpt-4o-mini"]
    assert models_sent(gateway, alpha.chat) == []


def test_a_bare_name_goes_to_the_first_provider_by_name_that_lists_it(gateway: Gateway) -> None:
    # Added in the other order, so that the order of names is what decides.
    zeta = add_upstream(
        gateway.hub, gateway.replay, name="zeta", models=["gpt-4o-mini", "gpt-4.1-nano"]
    )
    alpha = add_upstream(gateway.hub, gateway.replay, name="alpha", models=["gpt-4o-mini"])
    for upstream in (alpha, zeta):
        gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")
    sdk = gateway.client()

    sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    sdk.chat.completions.create(model="gpt-4.1-nano", messages=HELLO)

    assert models_sent(gateway, alpha.chat) == ["gpt-4o-mini"]
    assert models_sent(gateway, zeta.chat) == ["gpt-4.1-nano"]


def test_a_disabled_provider_serves_nothing(gateway: Gateway) -> None:
    alpha = add_upstream(gateway.hub, gateway.replay, name="alpha", models=["gpt-4o-mini"])
    beta = add_upstream(gateway.hub, gateway.replay, name="beta", models=["gpt-4o-mini"])
    for upstream in (alpha, beta):
        gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")

    gateway.hub.providers.update("alpha", enabled=False)
    bare = chat(gateway, "gpt-4o-mini")
    prefixed = chat(gateway, "alpha/gpt-4o-mini")

    assert bare.status == 200, bare
    assert models_sent(gateway, beta.chat) == ["gpt-4o-mini"]
    assert_json_error(prefixed, 404, "model_not_found", param="model")
    assert "alpha/gpt-4o-mini" in prefixed.json()["error"]["message"]
    assert models_sent(gateway, alpha.chat) == []


def test_a_model_id_may_contain_slashes(gateway: Gateway) -> None:
    openrouter = add_upstream(gateway.hub, gateway.replay, "openrouter")
    gateway.replay.route("POST", openrouter.chat, fixture="openrouter/chat_stream_include_usage")

    stream = gateway.client().chat.completions.create(
        model="openrouter/anthropic/claude-3.5-sonnet", messages=HELLO, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert text == "1\n2\n3"
    assert models_sent(gateway, openrouter.chat) == ["anthropic/claude-3.5-sonnet"]


def test_a_bare_name_with_a_slash_is_looked_up_in_the_listings(gateway: Gateway) -> None:
    # "meta-llama" is no provider, so the whole name is a model some provider may list.
    router = add_upstream(
        gateway.hub, gateway.replay, name="router", models=["meta-llama/llama-3-8b"]
    )
    gateway.replay.route("POST", router.chat, fixture="groq/chat_basic")

    answer = chat(gateway, "meta-llama/llama-3-8b")

    assert answer.status == 200, answer
    assert models_sent(gateway, router.chat) == ["meta-llama/llama-3-8b"]


def test_a_model_nothing_serves_is_404(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, models=["gpt-4o-mini"])
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")

    for model in ("gpt-9-ultra", "nosuch/gpt-4o-mini", "meta-llama/llama-3-8b"):
        answer = chat(gateway, model)
        assert_json_error(answer, 404, "model_not_found", param="model")
        assert model in answer.json()["error"]["message"]
    with pytest.raises(openai.NotFoundError) as missing:
        gateway.client().chat.completions.create(model="gpt-9-ultra", messages=HELLO)

    assert missing.value.code == "model_not_found"
    assert gateway.replay.requests_to(upstream.chat) == []


def test_a_key_allowlist_refuses_other_models(gateway: Gateway) -> None:
    alpha = add_upstream(gateway.hub, gateway.replay, name="alpha", models=["gpt-4o-mini"])
    beta = add_upstream(gateway.hub, gateway.replay, name="beta", models=["gpt-4o"])
    for upstream in (alpha, beta):
        gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")
    exact = gateway.hub.keys.create(gateway.app.user, name="exact", models=["alpha/gpt-4o-mini"])
    wildcard = gateway.hub.keys.create(gateway.app.user, name="wildcard", models=["beta/*"])

    allowed = [
        gateway.post("/v1/chat/completions", {"model": model, "messages": HELLO}, key=key.secret)
        for key, model in [(exact, "alpha/gpt-4o-mini"), (wildcard, "beta/gpt-4o")]
    ]
    refused = [
        gateway.post("/v1/chat/completions", {"model": model, "messages": HELLO}, key=key.secret)
        for key, model in [
            (exact, "alpha/gpt-4o"),
            (exact, "beta/gpt-4o"),
            (wildcard, "alpha/gpt-4o-mini"),
        ]
    ]
    with pytest.raises(openai.PermissionDeniedError) as denied:
        gateway.client(exact.secret).chat.completions.create(model="beta/gpt-4o", messages=HELLO)

    assert [a.status for a in allowed] == [200, 200], allowed
    for answer in refused:
        assert_json_error(answer, 403, "model_not_allowed", param="model")
    assert denied.value.code == "model_not_allowed"
    assert models_sent(gateway, alpha.chat) == ["gpt-4o-mini"]
    assert models_sent(gateway, beta.chat) == ["gpt-4o"]


# --- failover before the first byte ----------------------------------------------------------
# Weights make the balancer's first pick certain: smooth weighted round-robin starts with the
# heaviest credential.


FORBIDDEN = json_reply(
    {
        "error": {
            "message": "Project proj_x does not have access to model gpt-4o-mini",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    },
    403,
    "Forbidden",
)


@pytest.mark.parametrize(
    "refusal",
    [
        recorded_reply("openai/error_401_invalid_api_key"),
        recorded_reply("deepseek/error_401_authentication"),
        recorded_reply("mistral/error_401"),
        recorded_reply("openrouter/error_401_missing_auth"),
        FORBIDDEN,
    ],
    ids=["openai-401", "deepseek-401", "mistral-401", "openrouter-401", "403"],
)
def test_a_refused_credential_is_disabled_and_the_next_one_tried(
    gateway: Gateway, refusal: Reply
) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND), weights=(100, 1))
    gateway.replay.route(
        "POST",
        upstream.chat,
        reply=refusal,
        when_header=("authorization", f"Bearer {FIRST}"),
        otherwise="openai/chat_basic",
    )

    answers = [chat(gateway, "openai/gpt-4o-mini") for _ in range(3)]

    assert [a.status for a in answers] == [200, 200, 200], answers
    assert answers[0].json() == json.loads(recorded_reply("openai/chat_basic").body)
    # The refused key is not tried again: it waits for a re-test.
    assert keys_seen(gateway, upstream.chat) == [FIRST, SECOND, SECOND, SECOND]


def test_when_every_credential_is_refused_the_client_gets_502(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND))
    gateway.replay.route("POST", upstream.chat, fixture="openai/error_401_invalid_api_key")

    first = chat(gateway, "openai/gpt-4o-mini")
    tried = sorted(keys_seen(gateway, upstream.chat))
    again = chat(gateway, "openai/gpt-4o-mini")

    assert_openai_error(first, 502, "upstream_unauthorized")
    assert_openai_error(again, 502, "upstream_unauthorized")
    assert tried == sorted([FIRST, SECOND])
    assert len(gateway.replay.requests_to(upstream.chat)) == 2, "disabled keys were tried again"


def test_a_rate_limited_credential_cools_down_and_the_next_is_tried(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND), weights=(100, 1))
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")
    gateway.replay.route(
        "POST",
        upstream.chat,
        reply=rate_limited(60),
        when_header=("authorization", f"Bearer {FIRST}"),
    )

    answers = [chat(gateway, "openai/gpt-4o-mini") for _ in range(2)]

    assert [a.status for a in answers] == [200, 200], answers
    assert keys_seen(gateway, upstream.chat) == [FIRST, SECOND, SECOND]


def test_a_cooled_down_credential_is_used_again_after_retry_after(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND), weights=(100, 1))
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")
    gateway.replay.route(
        "POST",
        upstream.chat,
        reply=rate_limited(1),
        when_header=("authorization", f"Bearer {FIRST}"),
        times=1,
    )

    assert chat(gateway, "openai/gpt-4o-mini").status == 200
    assert chat(gateway, "openai/gpt-4o-mini").status == 200
    cooling = keys_seen(gateway, upstream.chat)
    # Once its second is over, the heavier key takes its turns again.
    assert wait_until(
        lambda: (
            chat(gateway, "openai/gpt-4o-mini").status == 200
            and keys_seen(gateway, upstream.chat)[-1] == FIRST
        )
    )

    assert cooling == [FIRST, SECOND, SECOND]


def test_when_every_credential_cools_down_the_client_gets_429(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND))
    gateway.replay.route("POST", upstream.chat, reply=rate_limited(30))

    first = chat(gateway, "openai/gpt-4o-mini")
    again = chat(gateway, "openai/gpt-4o-mini")
    with pytest.raises(openai.RateLimitError) as limited:
        gateway.client().chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO)

    for answer in (first, again):
        assert_openai_error(answer, 429, "upstream_rate_limited")
        assert 1 <= int(answer.headers["retry-after"]) <= 30, answer.headers
    assert limited.value.code == "upstream_rate_limited"
    assert sorted(keys_seen(gateway, upstream.chat)) == sorted([FIRST, SECOND])


def test_a_server_error_is_retried_on_another_credential(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND), weights=(100, 1))
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")
    gateway.replay.route(
        "POST", upstream.chat, reply=UNAVAILABLE, when_header=("authorization", f"Bearer {FIRST}")
    )

    answer = chat(gateway, "openai/gpt-4o-mini")

    assert answer.status == 200, answer
    assert keys_seen(gateway, upstream.chat) == [FIRST, SECOND]


def test_a_reset_connection_is_retried_on_another_credential(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND), weights=(100, 1))
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")
    gateway.replay.fail("POST", upstream.chat, Fault.reset(), times=1)

    completion = gateway.client().chat.completions.create(
        model="openai/gpt-4o-mini", messages=HELLO
    )

    assert completion.id == "chatcmpl-C6bhxDl79vlojU2DYKbzyDh0FmLZY"
    assert keys_seen(gateway, upstream.chat) == [FIRST, SECOND]
    assert gateway.replay.requests_to(upstream.chat)[0].fault == Fault.reset()


def test_a_failing_provider_hands_a_bare_name_to_the_next(gateway: Gateway) -> None:
    alpha = add_upstream(gateway.hub, gateway.replay, name="alpha", models=["gpt-4o-mini"])
    beta = add_upstream(gateway.hub, gateway.replay, name="beta", models=["gpt-4o-mini"])
    gateway.replay.route("POST", alpha.chat, reply=UNAVAILABLE)
    gateway.replay.route("POST", beta.chat, fixture="openai/chat_basic")

    bare = chat(gateway, "gpt-4o-mini")
    alpha_calls = len(gateway.replay.requests_to(alpha.chat))
    prefixed = chat(gateway, "alpha/gpt-4o-mini")

    assert bare.status == 200, bare
    assert alpha_calls >= 1
    assert models_sent(gateway, beta.chat) == ["gpt-4o-mini"], "a prefixed name changed provider"
    assert prefixed.status == 503, prefixed
    assert_openai_error(prefixed, 503, prefixed.json()["error"]["code"])


def test_at_most_three_attempts_on_one_provider(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND, THIRD, FOURTH))
    gateway.replay.route("POST", upstream.chat, reply=UNAVAILABLE)

    answer = chat(gateway, "openai/gpt-4o-mini")

    assert answer.status == 503, answer
    assert len(gateway.replay.requests_to(upstream.chat)) == 3


def test_at_most_three_attempts_across_providers(gateway: Gateway) -> None:
    names = ["p1", "p2", "p3", "p4"]
    upstreams = [
        add_upstream(gateway.hub, gateway.replay, name=n, models=["gpt-4o-mini"]) for n in names
    ]
    for upstream in upstreams:
        gateway.replay.fail("POST", upstream.chat, Fault.reset())

    answer = chat(gateway, "gpt-4o-mini")

    assert_openai_error(answer, 502, "upstream_unreachable")
    calls = [len(gateway.replay.requests_to(u.chat)) for u in upstreams]
    assert sum(calls) == 3, calls


def test_the_last_server_error_status_reaches_the_client(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND), weights=(100, 1))
    gateway.replay.route("POST", upstream.chat, reply=server_error(500))
    gateway.replay.route(
        "POST", upstream.chat, reply=UNAVAILABLE, when_header=("authorization", f"Bearer {FIRST}")
    )

    answer = chat(gateway, "openai/gpt-4o-mini")

    assert keys_seen(gateway, upstream.chat) == [FIRST, SECOND]
    assert answer.status == 500, answer
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_connection_failures_end_in_502(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND))
    gateway.replay.fail("POST", upstream.chat, Fault.reset())
    gateway.replay.fail(
        "POST", upstream.chat, Fault.close(), when_header=("authorization", f"Bearer {SECOND}")
    )

    answer = chat(gateway, "openai/gpt-4o-mini")

    assert_openai_error(answer, 502, "upstream_unreachable")
    assert 2 <= len(gateway.replay.requests_to(upstream.chat)) <= 3


def test_a_provider_that_refuses_connections_is_unreachable(
    gateway: Gateway, closed_port: int
) -> None:
    gateway.hub.providers.add(
        "openai",
        api_key=FIRST,
        base_url=f"http://127.0.0.1:{closed_port}/v1",
        local=True,
        validate=False,
    )

    answer = chat(gateway, "openai/gpt-4o-mini")

    assert_openai_error(answer, 502, "upstream_unreachable")
