"""The admin HTTP API on a running server: the provider and credential lifecycle with its
statuses and shapes, refused keys, and an owner's access key required from every address."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import ipaddress
import socket
from typing import Any

import pytest

from aignehub import Credential, Hub, Provider, ProviderKind, Server
from conftest import (
    HANG_GUARD,
    Response,
    StartServer,
    admin,
    assert_json_error,
    from_http_client,
    key_of,
    listing,
    ok,
    openai_upstream,
)
from replay import ReplayServer

GOOD_KEY = "sk-admin-good-1111111111"
SECOND_KEY = "sk-admin-second-22222222"
PROVIDER_FIELDS = {f.name for f in dataclasses.fields(Provider)}
CREDENTIAL_FIELDS = {f.name for f in dataclasses.fields(Credential)}


def assert_provider_shape(provider: dict[str, Any]) -> None:
    assert set(provider) == PROVIDER_FIELDS
    for credential in provider["credentials"]:
        assert set(credential) == CREDENTIAL_FIELDS


def test_catalogue(hub: Hub, server: Server) -> None:
    kinds = listing(admin(server, "GET", "/catalogue"))

    assert [ProviderKind(**k) for k in kinds] == hub.providers.catalogue()
    by_kind = {k["kind"]: k for k in kinds}
    assert {"openai", "anthropic", "google", "ollama", "openai-compatible"} <= set(by_kind)
    assert by_kind["openai"]["check_path"] == "/models"
    assert by_kind["openrouter"]["check_path"] == "/key"
    assert by_kind["ollama"]["key_required"] is False


def test_provider_and_credential_lifecycle(hub: Hub, server: Server, replay: ReplayServer) -> None:
    base_url = openai_upstream(replay, GOOD_KEY, SECOND_KEY)
    assert listing(admin(server, "GET", "/providers")) == []

    created = ok(
        admin(
            server,
            "POST",
            "/providers",
            {
                "kind": "openai",
                "name": "main",
                "display_name": "Main",
                "base_url": base_url,
                "local": True,
                "api_key": GOOD_KEY,
                "credential_name": "first",
                "weight": 7,
            },
        ),
        201,
    )
    assert_provider_shape(created)
    assert (created["name"], created["display_name"], created["status"]) == (
        "main",
        "Main",
        "Connected",
    )
    [first] = created["credentials"]
    assert (first["name"], first["weight"], first["status"]) == ("first", 7, "connected")
    assert listing(admin(server, "GET", "/providers")) == [created]
    assert ok(admin(server, "GET", "/providers/main")) == created
    assert dataclasses.asdict(hub.providers.get("main")) == created

    second = ok(
        admin(
            server, "POST", "/providers/main/credentials", {"api_key": SECOND_KEY, "name": "2nd"}
        ),
        201,
    )
    assert set(second) == CREDENTIAL_FIELDS
    assert (second["provider"], second["status"], second["weight"]) == ("main", "connected", 100)
    assert listing(admin(server, "GET", "/providers/main/credentials")) == [first, second]
    one = f"/providers/main/credentials/{second['id']}"

    patched = ok(admin(server, "PATCH", one, {"weight": 50, "enabled": False}))
    assert (patched["weight"], patched["enabled"]) == (50, False)
    assert ok(admin(server, "GET", one)) == patched
    assert ok(admin(server, "POST", f"{one}/test"))["status"] == "connected"
    assert replay.requests[-1].header("authorization") == f"Bearer {SECOND_KEY}"

    renamed = ok(
        admin(
            server,
            "PATCH",
            "/providers/main",
            {"name": "renamed", "display_name": "Renamed", "settings": {"organization": "x"}},
        )
    )
    assert (renamed["name"], renamed["settings"]) == ("renamed", {"organization": "x"})
    assert {c["provider"] for c in renamed["credentials"]} == {"renamed"}
    assert_json_error(admin(server, "GET", "/providers/main"), 404, "not_found")
    tested = ok(admin(server, "POST", "/providers/renamed/test"))
    assert [c["status"] for c in tested["credentials"]] == ["connected", "connected"]

    removed = admin(server, "DELETE", f"/providers/renamed/credentials/{second['id']}")
    assert (removed.status, removed.body) == (204, b"")
    assert_json_error(
        admin(server, "GET", f"/providers/renamed/credentials/{second['id']}"), 404, "not_found"
    )
    removed = admin(server, "DELETE", "/providers/renamed")
    assert (removed.status, removed.body) == (204, b"")
    assert listing(admin(server, "GET", "/providers")) == []
    assert hub.providers.list() == []
    sent = [r.header("authorization") for r in replay.requests]
    assert sent == [f"Bearer {k}" for k in (GOOD_KEY, SECOND_KEY, SECOND_KEY, GOOD_KEY, SECOND_KEY)]


def test_null_base_url_returns_to_the_default(server: Server, replay: ReplayServer) -> None:
    body = {"kind": "ollama", "base_url": replay.url, "validate": False}
    created = ok(admin(server, "POST", "/providers", body), 201)
    assert (created["base_url"], created["base_url_is_default"]) == (replay.url, False)

    reset = ok(admin(server, "PATCH", "/providers/ollama", {"base_url": None}))

    assert (reset["base_url"], reset["base_url_is_default"]) == ("http://127.0.0.1:11434", True)


@pytest.mark.parametrize(
    ("fixture", "outcome"),
    [
        ("openai/error_401_invalid_api_key", "invalid_key"),
        ("xai/error_503_model_at_capacity", "error"),
        (None, "unreachable"),
    ],
)
def test_a_refused_key_answers_422_and_saves_nothing(
    hub: Hub,
    server: Server,
    replay: ReplayServer,
    closed_port: int,
    fixture: str | None,
    outcome: str,
) -> None:
    base_url = f"http://127.0.0.1:{closed_port}/v1"
    if fixture is not None:
        replay.route("GET", "/v1/models", fixture=fixture)
        base_url = replay.url + "/v1"
    body = {"kind": "openai", "base_url": base_url, "local": True, "api_key": GOOD_KEY}

    assert_json_error(admin(server, "POST", "/providers", body), 422, outcome, param="api_key")
    assert_json_error(admin(server, "GET", "/providers/openai"), 404, "not_found")

    hub.providers.add("openai", base_url=base_url, local=True)
    answer = admin(server, "POST", "/providers/openai/credentials", {"api_key": GOOD_KEY})
    assert_json_error(answer, 422, outcome, param="api_key")
    assert listing(admin(server, "GET", "/providers/openai/credentials")) == []


def test_wrong_method_is_405(server: Server) -> None:
    answer = admin(server, "PUT", "/providers", {"kind": "openai"})

    assert_json_error(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == "GET, HEAD, POST"


def own_non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, if it has one."""
    candidates = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, contextlib.suppress(OSError):
        probe.connect(("192.0.2.1", 9))  # UDP: picks a source address, sends nothing
        candidates.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        candidates += socket.gethostbyname_ex(socket.gethostname())[2]
    return next((a for a in candidates if not ipaddress.ip_address(a).is_loopback), None)


def request_from(
    address: str, server: Server, method: str, path: str, key: str | None = None
) -> Response:
    conn = http.client.HTTPConnection(address, server.port, timeout=HANG_GUARD)
    try:
        body = b'{"kind": "openai"}' if method == "POST" else None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        conn.request(method, path, body=body, headers=headers)
        return from_http_client(conn.getresponse())
    finally:
        conn.close()


def test_admin_api_needs_a_key_from_any_address(hub: Hub, start_server: StartServer) -> None:
    address = own_non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    server = start_server(host="0.0.0.0")
    routes = [
        ("GET", "/api/admin/providers"),
        ("POST", "/api/admin/providers"),
        ("GET", "/api/admin/catalogue"),
        ("DELETE", "/api/admin/providers/openai"),
    ]

    for from_address in (address, "127.0.0.1"):
        for method, path in routes:
            answer = request_from(from_address, server, method, path)
            assert_json_error(answer, 401, "missing_api_key")
            assert answer.headers["www-authenticate"] == 'Bearer realm="aignehub"'

    assert request_from(address, server, "GET", "/healthz").status == 200
    assert hub.providers.list() == []
    key = key_of(server)
    assert listing(request_from(address, server, "GET", "/api/admin/providers", key)) == []
    assert len(listing(request_from(address, server, "GET", "/api/admin/catalogue", key))) > 0
