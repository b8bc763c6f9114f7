"""Upstream deadlines: a provider that never answers gets 504 after the first-byte deadline,
a stream that stalls between events ends with an error event after the gap deadline, and both
leave a usage record saying so. Also the server settings that set them, and usage_sync."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aignehub import ConfigError, Hub
from conftest import (
    HELLO,
    Gateway,
    StartServer,
    add_upstream,
    assert_json_error,
    parse_sse,
    person,
    wait_until,
)
from replay import Fault, ReplayServer


@pytest.fixture
def impatient(hub: Hub, start_server: StartServer, replay: ReplayServer) -> Gateway:
    """A gateway whose upstream deadlines are a fraction of a second."""
    server = start_server(upstream_first_byte_timeout=0.3, upstream_gap_timeout=0.3)
    return Gateway(hub, server, replay, person(hub, "member", "Test app", app="test-app"))


def test_a_provider_that_never_answers_times_out_with_504(impatient: Gateway) -> None:
    upstream = add_upstream(impatient.hub, impatient.replay, keys=("sk-a-0123456789",))
    impatient.replay.fail("POST", upstream.chat, Fault.hang())

    answer = impatient.post("/v1/chat/completions", {"model": "openai/gpt-4o", "messages": HELLO})

    assert_json_error(answer, 504, "upstream_timeout")
    [record] = impatient.hub.usage.query().records
    assert (record.status, record.error_kind) == (504, "upstream_timeout")


def test_a_stream_that_stalls_ends_with_an_error_event(impatient: Gateway) -> None:
    upstream = add_upstream(impatient.hub, impatient.replay)
    impatient.replay.route(
        "POST", upstream.chat, fixture="openai/chat_stream_include_usage", gap=2.0
    )

    answer = impatient.post(
        "/v1/chat/completions", {"model": "openai/gpt-5-nano", "messages": HELLO, "stream": True}
    )

    events = parse_sse(answer.body)
    assert answer.status == 200
    assert len(events) == 2  # the first recorded event, then the gateway's error
    assert "error" in json.loads(events[-1].data)
    assert all(e.data != "[DONE]" for e in events)
    [record] = impatient.hub.usage.query().records
    assert (record.status, record.error_kind) == (200, "upstream_timeout")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("usage_sync", "sometimes"),
        ("upstream_first_byte_timeout", 0),
        ("upstream_gap_timeout", -1),
        ("upstream_timeout", 100000),
    ],
)
def test_bad_gateway_settings_are_refused(hub: Hub, setting: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=setting):
        hub.serve(port=0, **{setting: value})


def test_usage_sync_normal_records_reach_the_database_soon_after(
    hub: Hub, start_server: StartServer, replay: ReplayServer
) -> None:
    server = start_server(usage_sync="normal")
    gateway = Gateway(hub, server, replay, person(hub, "member", "Test app", app="test-app"))
    upstream = add_upstream(hub, replay)
    replay.route("POST", upstream.chat, fixture="openai/chat_basic")

    answer = gateway.post("/v1/chat/completions", {"model": "openai/gpt-4o", "messages": HELLO})

    assert answer.status == 200
    # The record is in the journal before the answer ends; the database has it within ~50 ms.
    assert wait_until(lambda: len(hub.usage.query().records) == 1)
    [record] = hub.usage.query().records
    assert record.request_id == answer.headers["x-request-id"]
    assert list(hub.data_dir.glob("usage-*.journal"))
