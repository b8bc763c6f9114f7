"""Usage records: one per call that passed authentication, answered or failed, durable before
the answer's last byte, readable from Python (``hub.usage.query``) and from the admin API
(``GET /api/admin/usage``), newest first, filtered and paged."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

import pytest

from aignehub import Bootstrap
from conftest import (
    HELLO,
    Gateway,
    Response,
    Someone,
    add_upstream,
    admin,
    person,
    rate_limited,
)
from replay import Fault

FIRST, SECOND = "sk-first-000001", "sk-second-00002"
FIELDS = {
    "id",
    "request_id",
    "user_id",
    "key_id",
    "app",
    "provider",
    "credential_id",
    "model_requested",
    "model_served",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "images",
    "status",
    "error_kind",
    "latency_us",
    "ttfb_us",
    "upstream_ttfb_us",
    "attempts",
    "created_at",
}
LONG_AGO, FAR_AHEAD = "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"


def chat(gateway: Gateway, model: str, key: str | None = None, **extra: Any) -> Response:
    body = {"model": model, "messages": HELLO, **extra}
    return gateway.post("/v1/chat/completions", body, key=key)


def records(gateway: Gateway, **filters: Any) -> list[Any]:
    return list(gateway.hub.usage.query(**filters).records)


def only_record(gateway: Gateway, answer: Response) -> Any:
    """The one record there is, after checking it belongs to `answer`."""
    [record] = records(gateway)
    assert record.request_id == answer.headers["x-request-id"]
    return record


def test_an_answered_call_has_a_complete_record_before_its_last_byte(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, "xai")
    gateway.replay.route("POST", upstream.chat, fixture="xai/chat_basic")

    answer = chat(gateway, "xai/grok-4.3")

    # No waiting: the answer's last byte was held until the record was committed.
    record = only_record(gateway, answer)
    assert answer.status == 200, answer
    assert set(vars(record)) >= FIELDS
    assert (record.user_id, record.key_id, record.app) == (
        gateway.app.user.id,
        gateway.app.key.id,
        "test-app",
    )
    assert (record.provider, record.credential_id) == ("xai", upstream.credential_ids[0])
    assert (record.model_requested, record.model_served) == ("xai/grok-4.3", "grok-4.3")
    # xAI reports 116 reasoning tokens beside 1 completion token (total 254): both are output.
    assert (record.prompt_tokens, record.completion_tokens) == (137, 117)
    assert (record.cached_tokens, record.reasoning_tokens, record.images) == (128, 116, 0)
    assert (record.status, record.error_kind, record.attempts) == (200, "", 1)
    assert 0 < record.upstream_ttfb_us <= record.latency_us
    assert 0 < record.ttfb_us <= record.latency_us
    created = dt.datetime.fromisoformat(record.created_at.replace("Z", "+00:00"))
    assert abs(dt.datetime.now(dt.timezone.utc) - created) < dt.timedelta(minutes=5)
    assert isinstance(record.id, int)


def test_a_stream_is_metered_from_the_usage_the_gateway_asked_for(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay)
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_stream_include_usage")

    # The client does not ask for usage; the gateway does, and keeps it for the record.
    answer = chat(gateway, "openai/gpt-5-nano", stream=True)

    record = only_record(gateway, answer)
    assert answer.status == 200
    assert (record.prompt_tokens, record.completion_tokens) == (13, 142)
    assert (record.cached_tokens, record.reasoning_tokens) == (0, 128)
    assert record.model_served == "gpt-5-nano-2025-08-07"
    assert (record.status, record.error_kind) == (200, "")
    assert 0 < record.ttfb_us <= record.latency_us


def test_groq_usage_from_x_groq_is_metered(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, "groq")
    gateway.replay.route("POST", upstream.chat, fixture="groq/chat_stream")

    answer = chat(gateway, "groq/llama3-8b-8192", stream=True)

    record = only_record(gateway, answer)
    assert (record.prompt_tokens, record.completion_tokens) == (18, 73)


def test_failover_is_recorded_once_with_its_attempts(gateway: Gateway) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND), weights=(100, 1))
    gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")
    gateway.replay.route(
        "POST",
        upstream.chat,
        fixture="xai/error_503_model_at_capacity",
        when_header=("authorization", f"Bearer {FIRST}"),
    )

    answer = chat(gateway, "openai/gpt-3.5-turbo")

    record = only_record(gateway, answer)
    assert (record.status, record.attempts) == (200, 2)
    assert record.credential_id == upstream.credential_ids[1]
    assert (record.prompt_tokens, record.completion_tokens) == (13, 31)


def failing_call(gateway: Gateway, kind: str) -> Response:
    """Sets up and makes a call that fails as `kind` says."""
    upstream = add_upstream(gateway.hub, gateway.replay, keys=(FIRST, SECOND))
    chat_path = upstream.chat
    if kind == "model_not_found":
        return chat(gateway, "gpt-9-ultra")
    if kind == "model_not_allowed":
        narrow = gateway.hub.keys.create(gateway.app.user, name="narrow", models=["openai/o1"])
        return chat(gateway, "openai/gpt-4o", key=narrow.secret)
    if kind == "invalid_request":
        return gateway.post("/v1/chat/completions", {"model": "openai/gpt-4o"})
    if kind == "upstream_unauthorized":
        gateway.replay.route("POST", chat_path, fixture="openai/error_401_invalid_api_key")
    elif kind == "upstream_rate_limited":
        gateway.replay.route("POST", chat_path, reply=rate_limited(30))
    elif kind == "upstream_error":
        gateway.replay.route("POST", chat_path, fixture="xai/error_503_model_at_capacity")
    elif kind == "upstream_unreachable":
        gateway.replay.fail("POST", chat_path, Fault.reset())
    elif kind == "upstream_stream_error":
        gateway.replay.route("POST", chat_path, fixture="openai/chat_stream_include_usage")
        gateway.replay.fail("POST", chat_path, Fault.reset_after(2))
        return chat(gateway, "openai/gpt-5-nano", stream=True)
    return chat(gateway, "openai/gpt-4o-mini")


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("model_not_found", 404),
        ("model_not_allowed", 403),
        ("invalid_request", 400),
        ("upstream_unauthorized", 502),
        ("upstream_rate_limited", 429),
        ("upstream_error", 503),
        ("upstream_unreachable", 502),
    ],
)
def test_a_failed_call_has_a_record_of_its_kind(gateway: Gateway, kind: str, status: int) -> None:
    answer = failing_call(gateway, kind)

    record = only_record(gateway, answer)
    assert answer.status == status, answer
    assert (record.status, record.error_kind) == (status, kind)
    assert (record.prompt_tokens, record.completion_tokens, record.images) == (0, 0, 0)
    assert record.user_id == gateway.app.user.id


def test_a_stream_cut_off_upstream_is_recorded_as_a_stream_error(gateway: Gateway) -> None:
    answer = failing_call(gateway, "upstream_stream_error")

    record = only_record(gateway, answer)
    assert answer.status == 200
    assert record.error_kind == "upstream_stream_error"
    assert record.attempts == 1


def test_calls_that_fail_authentication_leave_no_record(gateway: Gateway) -> None:
    add_upstream(gateway.hub, gateway.replay)
    secret = gateway.app.key.secret

    for key in ("", "ahk_nothing", secret[:-1] + ("A" if secret[-1] != "A" else "B")):
        assert chat(gateway, "openai/gpt-4o-mini", key=key).status == 401

    assert records(gateway) == []


# --- queries ---------------------------------------------------------------------------------


@pytest.fixture
def history(gateway: Gateway) -> tuple[list[Response], Someone]:
    """Five calls, oldest first: the app to alpha, to beta, to a model nobody serves (404) and
    to alpha by a bare name, then another member to beta; returns the answers and the other
    member."""
    alpha = add_upstream(gateway.hub, gateway.replay, name="alpha", models=["gpt-4o-mini"])
    beta = add_upstream(gateway.hub, gateway.replay, name="beta", models=["gpt-4o"])
    for upstream in (alpha, beta):
        gateway.replay.route("POST", upstream.chat, fixture="openai/chat_basic")
    other = person(gateway.hub, "member", "Other app", app="other-app")
    answers = [
        chat(gateway, "alpha/gpt-4o-mini"),
        chat(gateway, "beta/gpt-4o"),
        chat(gateway, "gpt-9-ultra"),
        chat(gateway, "gpt-4o-mini"),
        chat(gateway, "beta/gpt-4o", key=other.key.secret),
    ]
    return answers, other


def ids(answers: list[Response]) -> list[str]:
    """The request ids of `answers`, newest first."""
    return [a.headers["x-request-id"] for a in reversed(answers)]


def test_records_come_newest_first_and_filter(
    gateway: Gateway, history: tuple[list[Response], Someone]
) -> None:
    answers, other = history

    def found(**filters: Any) -> list[str]:
        return [r.request_id for r in records(gateway, **filters)]

    assert [a.status for a in answers] == [200, 200, 404, 200, 200], answers
    everything = ids(answers)
    assert found() == everything
    assert found(user=other.user.id) == ids(answers[4:])
    assert found(key=gateway.app.key.id) == ids(answers[:4])
    assert found(provider="alpha") == ids([answers[0], answers[3]])
    assert found(model="alpha/gpt-4o-mini") == ids(answers[:1])
    assert found(model="beta/gpt-4o") == ids([answers[1], answers[4]])
    assert found(status=200) == ids([answers[0], answers[1], answers[3], answers[4]])
    assert found(status=404) == ids(answers[2:3])
    assert found(user=other.user.id, status=404) == []
    assert found(since=LONG_AGO) == found(until=FAR_AHEAD) == everything
    assert found(since=FAR_AHEAD) == found(until=LONG_AGO) == []
    assert found(provider="beta", user=gateway.app.user.id) == ids(answers[1:2])


def test_records_come_in_pages(gateway: Gateway, history: tuple[list[Response], Someone]) -> None:
    answers, _ = history
    pages: list[list[str]] = []
    cursor: str | None = None

    while True:
        page = gateway.hub.usage.query(limit=2, cursor=cursor)
        pages.append([r.request_id for r in page.records])
        cursor = page.next_cursor
        if cursor is None or len(pages) > 5:
            break

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == ids(answers)


def usage_page(gateway: Gateway, caller: str, **query: Any) -> Response:
    """GET /api/admin/usage with `query`, as the holder of the access key `caller`."""
    return admin(gateway.server, "GET", "/usage?" + urllib.parse.urlencode(query), key=caller)


def test_the_admin_api_lists_the_same_records(
    gateway: Gateway, history: tuple[list[Response], Someone], owner: Bootstrap
) -> None:
    owner_key = owner.key.secret
    answers, _ = history

    listing = usage_page(gateway, owner_key)
    first = usage_page(gateway, owner_key, limit=3, provider="alpha")

    assert listing.status == 200, listing
    payload = listing.json()
    assert set(payload) == {"object", "data", "next_cursor"}
    assert payload["object"] == "list" and payload["next_cursor"] is None
    assert [r["request_id"] for r in payload["data"]] == ids(answers)
    assert all(set(r) >= FIELDS for r in payload["data"])
    python_view = {r.request_id: r for r in records(gateway)}
    for row in payload["data"]:
        assert {f: getattr(python_view[row["request_id"]], f) for f in FIELDS} == {
            f: row[f] for f in FIELDS
        }
    alpha = first.json()
    assert [r["request_id"] for r in alpha["data"]] == ids([answers[0], answers[3]])
    assert alpha["next_cursor"] is None


def test_the_admin_api_pages_and_filters(
    gateway: Gateway, history: tuple[list[Response], Someone], owner: Bootstrap
) -> None:
    owner_key = owner.key.secret
    answers, other = history

    page_one = usage_page(gateway, owner_key, limit=2).json()
    page_two = usage_page(gateway, owner_key, limit=2, cursor=page_one["next_cursor"]).json()
    by_user = usage_page(gateway, owner_key, user_id=other.user.id).json()
    by_key = usage_page(gateway, owner_key, key_id=gateway.app.key.id, status=200).json()
    window = usage_page(gateway, owner_key, since=LONG_AGO, until=FAR_AHEAD, model="beta/gpt-4o")

    assert [r["request_id"] for r in page_one["data"] + page_two["data"]] == ids(answers)[:4]
    assert page_two["next_cursor"] is not None
    assert [r["request_id"] for r in by_user["data"]] == ids(answers[4:])
    assert [r["request_id"] for r in by_key["data"]] == ids([answers[0], answers[1], answers[3]])
    assert [r["request_id"] for r in window.json()["data"]] == ids([answers[1], answers[4]])


def test_a_member_sees_only_their_own_records(
    gateway: Gateway, history: tuple[list[Response], Someone]
) -> None:
    answers, other = history
    an_admin = person(gateway.hub, "admin", "Auditor")

    own = usage_page(gateway, other.key.secret)
    asked_for_others = usage_page(gateway, other.key.secret, user_id=gateway.app.user.id)
    audited = usage_page(gateway, an_admin.key.secret)
    anonymous = admin(gateway.server, "GET", "/usage", key=None)

    assert [r["request_id"] for r in own.json()["data"]] == ids(answers[4:])
    assert asked_for_others.status in (200, 403)
    if asked_for_others.status == 200:
        assert asked_for_others.json()["data"] == []
    assert [r["request_id"] for r in audited.json()["data"]] == ids(answers)
    assert anonymous.status == 401
