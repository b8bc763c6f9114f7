"""Checking keys against the providers: each provider's check request, and what aignehub makes of
the recorded answers (a listing, a refused key, rate limiting, an outage, no answer at all)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

import aignehub
from aignehub import Hub, Provider
from conftest import openai_upstream, wait_until
from replay import ReplayServer, recorded_reply

GOOD_KEY = "sk-good-1111111111111111"
BAD_KEY = "sk-bad-22222222222222222"
AUTH_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")


@dataclass(frozen=True)
class Upstream:
    """How one kind of provider checks a key, and its recorded answers."""

    kind: str
    prefix: str  # what the provider's base URL adds to the replay server's URL
    check_path: str
    auth: str  # the header carrying the key
    refused: str  # the recording of a refused key
    refused_status: int
    refused_message: str  # the provider's own words in it
    listing: str | None = None  # the recording of a model listing, where there is one
    extra: tuple[tuple[str, str], ...] = ()  # other headers the check must send

    def auth_value(self, key: str) -> str:
        return f"Bearer {key}" if self.auth == "authorization" else key

    def base_url(self, replay: ReplayServer) -> str:
        return replay.url + self.prefix


UPSTREAMS = [
    Upstream(
        "openai",
        "/v1",
        "/v1/models",
        "authorization",
        "openai/error_401_invalid_api_key",
        401,
        "Incorrect API key provided: invalid-key. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        listing="openai/models_list",
    ),
    Upstream(
        "anthropic",
        "",
        "/v1/models",
        "x-api-key",
        "anthropic/error_401_authentication",
        401,
        "invalid x-api-key",
        listing="anthropic/models_list",
        extra=(("anthropic-version", "2023-06-01"),),
    ),
    Upstream(
        "google",
        "",
        "/v1beta/models",
        "x-goog-api-key",
        "gemini/error_400_api_key_invalid",
        400,
        "API key not valid. Please pass a valid API key.",
        listing="gemini/models_list",
    ),
    Upstream(
        "deepseek",
        "",
        "/models",
        "authorization",
        "deepseek/error_401_authentication",
        401,
        "Authentication Fails, Your api key: ****-key is invalid",
    ),
    Upstream(
        "mistral", "/v1", "/v1/models", "authorization", "mistral/error_401", 401, "Invalid API Key"
    ),
    Upstream(
        "openrouter",
        "/api/v1",
        "/api/v1/key",
        "authorization",
        "openrouter/error_401_missing_auth",
        401,
        "Missing Authentication header",
    ),
]
LISTING_UPSTREAMS = [u for u in UPSTREAMS if u.listing is not None]
BY_KIND = {u.kind: u for u in UPSTREAMS}


def serve(replay: ReplayServer, upstream: Upstream) -> None:
    """Answers the check: the listing for GOOD_KEY (where one was recorded), else the refusal."""
    if upstream.listing is None:
        replay.route("GET", upstream.check_path, fixture=upstream.refused)
    else:
        replay.route(
            "GET",
            upstream.check_path,
            fixture=upstream.listing,
            when_header=(upstream.auth, upstream.auth_value(GOOD_KEY)),
            otherwise=upstream.refused,
        )


def add(hub: Hub, replay: ReplayServer, upstream: Upstream, key: str, **more: Any) -> Provider:
    return hub.providers.add(
        upstream.kind, api_key=key, base_url=upstream.base_url(replay), local=True, **more
    )


def assert_checked_with(replay: ReplayServer, upstream: Upstream, key: str) -> None:
    """The replay server got exactly one check: the right path, the key in the provider's own
    header and in no other, and the provider's extra headers."""
    [check] = replay.requests
    assert (check.method, check.path) == ("GET", upstream.check_path)
    assert check.header("host") == f"127.0.0.1:{replay.port}"
    assert check.header("user-agent") == f"aignehub/{aignehub.__version__}"
    assert check.header(upstream.auth) == upstream.auth_value(key)
    for other in AUTH_HEADERS:
        if other != upstream.auth:
            assert check.header(other) is None, other
    for name, value in upstream.extra:
        assert check.header(name) == value
    assert check.body == b""


def models_in(fixture: str) -> int:
    listing = json.loads(recorded_reply(fixture).body)
    return len(listing["data"] if "data" in listing else listing["models"])


def utc_now() -> str:
    """The time as the core writes it (ISO 8601, milliseconds, Z)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wait_past(timestamp: str | None) -> None:
    """Waits until the clock has moved past `timestamp`, so that a later check gets a later
    checked_at even on a fast machine."""
    assert timestamp is not None
    assert wait_until(lambda: utc_now() > timestamp)


@pytest.mark.parametrize("upstream", LISTING_UPSTREAMS, ids=lambda u: u.kind)
def test_good_key_connects(hub: Hub, replay: ReplayServer, upstream: Upstream) -> None:
    serve(replay, upstream)

    provider = add(hub, replay, upstream, GOOD_KEY)

    assert provider.status == "Connected"
    assert provider.source == "api"
    [credential] = provider.credentials
    assert credential.status == "connected"
    assert credential.status_code == 200
    assert upstream.listing is not None
    assert credential.status_message == f"OK: {models_in(upstream.listing)} models listed"
    assert credential.checked_at is not None
    assert hub.providers.get(upstream.kind) == provider
    assert_checked_with(replay, upstream, GOOD_KEY)


@pytest.mark.parametrize("upstream", UPSTREAMS, ids=lambda u: u.kind)
def test_refused_key_raises_and_saves_nothing(
    hub: Hub, replay: ReplayServer, upstream: Upstream
) -> None:
    serve(replay, upstream)

    with pytest.raises(aignehub.CredentialRejected) as raised:
        add(hub, replay, upstream, BAD_KEY)

    assert raised.value.outcome == "invalid_key"
    assert upstream.refused_message in str(raised.value)
    assert hub.providers.list() == []
    with pytest.raises(aignehub.NotFoundError):
        hub.providers.get(upstream.kind)
    assert_checked_with(replay, upstream, BAD_KEY)


@pytest.mark.parametrize("upstream", UPSTREAMS, ids=lambda u: u.kind)
def test_refused_key_is_kept_without_validation(
    hub: Hub, replay: ReplayServer, upstream: Upstream
) -> None:
    serve(replay, upstream)

    provider = add(hub, replay, upstream, BAD_KEY, validate=False)

    assert provider.status == "1 of 1 invalid"
    [credential] = provider.credentials
    assert credential.status == "invalid_key"
    assert credential.status_code == upstream.refused_status
    assert credential.status_message == upstream.refused_message
    assert hub.providers.list() == [provider]


def test_keys_added_to_a_provider_are_checked_one_by_one(hub: Hub, replay: ReplayServer) -> None:
    base_url = openai_upstream(replay, GOOD_KEY)
    provider = hub.providers.add("openai", base_url=base_url, local=True)
    assert provider.status == "Not configured"
    assert provider.credentials == []
    assert replay.requests == []

    good = hub.credentials.add("openai", GOOD_KEY, name="good", weight=5)
    with pytest.raises(aignehub.CredentialRejected) as raised:
        hub.credentials.add("openai", BAD_KEY, name="bad")
    kept = hub.credentials.add("openai", BAD_KEY, name="bad", validate=False)

    assert raised.value.outcome == "invalid_key"
    assert (good.status, good.weight, good.enabled) == ("connected", 5, True)
    assert kept.status == "invalid_key"
    assert hub.credentials.list("openai") == [good, kept]
    assert hub.providers.get("openai").status == "1 of 2 invalid"
    sent = [r.header("authorization") for r in replay.requests]
    assert sent == [f"Bearer {GOOD_KEY}", f"Bearer {BAD_KEY}", f"Bearer {BAD_KEY}"]


def test_provider_status_counts_enabled_credentials(hub: Hub, replay: ReplayServer) -> None:
    base_url = openai_upstream(replay, GOOD_KEY)
    hub.providers.add("openai", base_url=base_url, local=True, api_key=GOOD_KEY)
    bad = hub.credentials.add("openai", BAD_KEY, name="bad", validate=False)
    assert hub.providers.get("openai").status == "1 of 2 invalid"

    hub.credentials.update("openai", bad.id, enabled=False)
    assert hub.providers.get("openai").status == "Connected"

    hub.providers.update("openai", enabled=False)
    assert hub.providers.get("openai").status == "Disabled"


def test_rate_limited_key_is_saved(hub: Hub, replay: ReplayServer) -> None:
    replay.route("GET", "/v1/models", fixture="anthropic/error_429_rate_limit")

    provider = add(hub, replay, BY_KIND["anthropic"], GOOD_KEY)

    assert provider.status == "Rate limited"
    [credential] = provider.credentials
    assert credential.status == "rate_limited"
    assert credential.status_code == 429
    assert credential.status_message.startswith("This request would exceed your organization")


def test_partly_connected_provider(hub: Hub, replay: ReplayServer) -> None:
    anthropic = BY_KIND["anthropic"]
    serve(replay, anthropic)
    replay.route(
        "GET",
        "/v1/models",
        fixture="anthropic/error_429_rate_limit",
        when_header=("x-api-key", BAD_KEY),
    )

    add(hub, replay, anthropic, GOOD_KEY)
    hub.credentials.add("anthropic", BAD_KEY, name="busy")

    assert hub.providers.get("anthropic").status == "Connected (1 of 2)"


def test_unreachable_provider(hub: Hub, closed_port: int) -> None:
    base_url = f"http://127.0.0.1:{closed_port}/v1"

    with pytest.raises(aignehub.CredentialRejected) as raised:
        hub.providers.add("openai", api_key=GOOD_KEY, base_url=base_url, local=True)
    assert raised.value.outcome == "unreachable"
    assert hub.providers.list() == []

    provider = hub.providers.add(
        "openai", api_key=GOOD_KEY, base_url=base_url, local=True, validate=False
    )
    assert provider.status == "Unreachable"
    [credential] = provider.credentials
    assert credential.status == "unreachable"
    assert credential.status_code is None
    assert str(closed_port) in credential.status_message


def test_provider_outage_is_an_error(hub: Hub, replay: ReplayServer) -> None:
    replay.route("GET", "/v1/models", fixture="xai/error_503_model_at_capacity")
    base_url = replay.url + "/v1"

    with pytest.raises(aignehub.CredentialRejected) as raised:
        hub.providers.add("xai", api_key=GOOD_KEY, base_url=base_url, local=True)
    assert raised.value.outcome == "error"
    assert hub.providers.list() == []

    provider = hub.providers.add(
        "xai", api_key=GOOD_KEY, base_url=base_url, local=True, validate=False
    )
    assert provider.status == "Error"
    [credential] = provider.credentials
    assert credential.status == "error"
    assert credential.status_code == 503
    assert credential.status_message == (
        "HTTP 503: Service temporarily unavailable. The model is at capacity and currently "
        "cannot serve this request. Please try again later."
    )


def test_retesting_updates_status_and_time(hub: Hub, replay: ReplayServer) -> None:
    openai_upstream(replay, GOOD_KEY)
    [first] = add(hub, replay, BY_KIND["openai"], GOOD_KEY).credentials

    # The provider revokes the key...
    replay.route("GET", "/v1/models", fixture="openai/error_401_invalid_api_key")
    wait_past(first.checked_at)
    revoked = hub.credentials.test("openai", first.id)

    assert revoked.status == "invalid_key"
    assert revoked.status_code == 401
    assert revoked.checked_at is not None and first.checked_at is not None
    assert revoked.checked_at > first.checked_at
    assert hub.credentials.get("openai", first.id) == revoked
    assert hub.providers.get("openai").status == "1 of 1 invalid"

    # ...and takes it back.
    replay.route("GET", "/v1/models", fixture="openai/models_list")
    wait_past(revoked.checked_at)
    provider = hub.providers.test("openai")

    assert provider.status == "Connected"
    [again] = provider.credentials
    assert again.status == "connected"
    assert again.checked_at is not None and again.checked_at > revoked.checked_at
    assert [r.header("authorization") for r in replay.requests] == [f"Bearer {GOOD_KEY}"] * 3


def test_replacing_a_key_checks_the_new_one(hub: Hub, replay: ReplayServer) -> None:
    openai_upstream(replay, GOOD_KEY)
    [credential] = add(hub, replay, BY_KIND["openai"], BAD_KEY, validate=False).credentials

    with pytest.raises(aignehub.CredentialRejected):
        hub.credentials.update("openai", credential.id, api_key="sk-also-bad-3333333333")
    assert hub.credentials.get("openai", credential.id) == credential

    updated = hub.credentials.update("openai", credential.id, api_key=GOOD_KEY)
    assert updated.status == "connected"
    assert updated.key_hint != credential.key_hint
    hub.credentials.test("openai", credential.id)
    assert replay.requests[-1].header("authorization") == f"Bearer {GOOD_KEY}"
