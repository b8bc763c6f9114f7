"""Bad input to providers and credentials, refused alike by the Python API (InvalidInput naming
the field) and the admin API (400 invalid_value with the field as param); unknown names and ids
(404) and duplicates (409)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import aignehub
from aignehub import Hub, Server
from conftest import Response, StartServer, admin, assert_json_error

Body = dict[str, Any]
# For input refused before anything is contacted; tests that do contact use `dead_url`.
LOCAL = "http://127.0.0.1:9/v1"

# Credential fields given with the first key of a new provider, each wrong.
CREDENTIAL_EXTRAS: list[tuple[Body, str]] = [
    ({"weight": 0}, "weight"),
    ({"weight": 10001}, "weight"),
    ({"weight": -5}, "weight"),
    ({"weight": 1.5}, "weight"),
    ({"weight": "100"}, "weight"),
    ({"weight": True}, "weight"),
    ({"credential_name": "Bad Name"}, "credential_name"),
    ({"validate": "no"}, "validate"),
]
# (body, field) for POST /providers and hub.providers.add(**body).
PROVIDER_CASES: list[tuple[Body, str]] = [
    ({"kind": "nope"}, "kind"),
    ({"kind": 5}, "kind"),
    *(
        ({"kind": "openai", "name": name}, "name")
        for name in ["Bad Name", "-lead", "", "UPPER", "a/b", "x" * 65, "caf\u00e9", "a\nb"]
    ),
    ({"kind": "openai", "display_name": "two\nlines"}, "display_name"),
    ({"kind": "openai", "display_name": ["x"]}, "display_name"),
    *(
        ({"kind": "openai", "base_url": url, "local": True}, "base_url")
        for url in [
            "api.example.com/v1",
            "ftp://example.com/v1",
            "file:///etc/passwd",
            "https://user:pw@example.com/v1",
            "https://example.com/v1\r\nX-Injected: 1",
            "https://example.com/v1\n",
            "https://exa\x00mple.com",
            "https://exa mple.com/v1",
            "https://example.com/v1\t",
            "https://example.com/v1?key=1",
            "https://example.com/v1#frag",
            "https://",
            "https://example.com:99999",
            "https://[::1/v1",
            "",
            5,
        ]
    ),
    ({"kind": "openai", "local": "yes"}, "local"),
    ({"kind": "openai", "enabled": 1}, "enabled"),
    ({"kind": "openai", "settings": [1]}, "settings"),
    ({"kind": "openai", "settings": {"header": "a\r\nb"}}, "settings"),
    ({"kind": "openai", "settings": {"a\nb": 1}}, "settings"),
    ({"kind": "openai-compatible"}, "base_url"),
    ({"kind": "ollama", "local": False}, "local"),
    *(
        ({"kind": "openai", "base_url": LOCAL, "local": True, "api_key": key}, "api_key")
        for key in ["sk-abc\ndef", "sk-abc\r\n", "sk abc", "sk-\x00abc", 123]
    ),
    *(
        ({"kind": "openai", "base_url": LOCAL, "local": True, "api_key": "sk-x", **more}, field)
        for more, field in CREDENTIAL_EXTRAS
    ),
    ({"kind": "openai", "base_url": LOCAL, "local": True, "weight": 5}, "api_key"),
]
PRIVATE_URLS = [
    "https://127.0.0.1",
    "https://localhost/v1",
    "https://10.1.2.3/v1",
    "https://172.16.0.1",
    "https://192.168.1.10:8443/v1",
    "https://169.254.169.254",
    "https://[::1]",
    "https://[fd00::1]/v1",
    "https://[fe80::1]",
    "http://127.0.0.1:11434",
    "http://198.51.100.7/v1",  # public, but plain http
]
# (body, field) for POST /providers/openai/credentials and hub.credentials.add("openai", ...).
CREDENTIAL_CASES: list[tuple[Body, str]] = [
    ({"api_key": "sk-abc\ndef"}, "api_key"),
    ({"api_key": "sk abc"}, "api_key"),
    ({"api_key": 42}, "api_key"),
    ({"api_key": "x" * 4097}, "api_key"),
    ({"api_key": "sk-x", "name": "Bad"}, "name"),
    ({"api_key": "sk-x", "weight": 0}, "weight"),
    ({"api_key": "sk-x", "weight": 10_001}, "weight"),
    ({"api_key": "sk-x", "enabled": "yes"}, "enabled"),
    ({"api_key": "sk-x", "validate": 0}, "validate"),
]
# Fields that only the admin API can carry (the Python API has no way to send them).
API_ONLY_CASES: list[tuple[str, str, Body, str]] = [
    ("POST", "/providers", {"kind": "openai", "colour": "red"}, "colour"),
    ("POST", "/providers", {}, "kind"),
    ("POST", "/providers", {"kind": "openai", "new_name": "x"}, "new_name"),
    ("POST", "/providers/openai/credentials", {}, "api_key"),
    ("POST", "/providers/openai/credentials", {"api_key": "sk-x", "provider": "x"}, "provider"),
    ("PATCH", "/providers/openai", {"kind": "anthropic"}, "kind"),
    ("PATCH", "/providers/openai", {"api_key": "sk-x"}, "api_key"),
    ("PATCH", "/providers/openai/credentials/1", {"source": "env"}, "source"),
]
BAD_JSON = [
    b'{"kind": "openai", "api_key": "sk-body-secret-0123456789',
    b"kind=openai&api_key=sk-body-secret-0123456789",
    b'{"kind": "openai", "api_key": "sk-body-secret-0123456789",}',
]


def case_id(case: Any) -> str:
    return repr(case)[:60]


def assert_invalid(call: Callable[[], object], field: str) -> None:
    with pytest.raises(aignehub.InvalidInput) as raised:
        call()
    assert raised.value.field == field
    assert isinstance(raised.value, aignehub.ConfigError)
    assert isinstance(raised.value, ValueError)


def assert_refused(answer: Response, field: str) -> None:
    assert_json_error(answer, 400, "invalid_value", param=field)


@pytest.fixture
def dead_url(closed_port: int) -> str:
    """A local base URL where nothing answers: keys checked there are "unreachable"."""
    return f"http://127.0.0.1:{closed_port}/v1"


@pytest.fixture
def admin_server(hub: Hub, start_server: StartServer, dead_url: str) -> Server:
    """A server whose hub has a keyless OpenAI provider, "openai", at `dead_url`."""
    hub.providers.add("openai", base_url=dead_url, local=True)
    return start_server()


@pytest.mark.parametrize(("body", "field"), PROVIDER_CASES, ids=case_id)
def test_bad_provider_is_refused(hub: Hub, admin_server: Server, body: Body, field: str) -> None:
    assert_invalid(lambda: hub.providers.add(**{"name": "new", **body}), field)
    assert_refused(admin(admin_server, "POST", "/providers", {"name": "new", **body}), field)
    assert [p.name for p in hub.providers.list()] == ["openai"]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_base_url_needs_local(hub: Hub, admin_server: Server, url: str) -> None:
    body: Body = {"kind": "openai", "name": "private", "base_url": url}

    assert_invalid(lambda: hub.providers.add(**body), "base_url")
    assert_refused(admin(admin_server, "POST", "/providers", body), "base_url")
    assert_invalid(lambda: hub.providers.update("openai", base_url=url, local=False), "base_url")
    assert_refused(
        admin(admin_server, "PATCH", "/providers/openai", {"base_url": url, "local": False}),
        "base_url",
    )

    added = hub.providers.add(**body, local=True)
    over_http = admin(admin_server, "POST", "/providers", {**body, "name": "p2", "local": True})
    assert (added.base_url, added.local) == (url.removesuffix("/"), True)
    assert over_http.status == 201, over_http
    assert over_http.json()["base_url"] == added.base_url
    # Clearing `local` later is refused too: the URL is checked against the final flag.
    assert_invalid(lambda: hub.providers.update("private", local=False), "base_url")
    assert_refused(admin(admin_server, "PATCH", "/providers/p2", {"local": False}), "base_url")
    assert hub.providers.get("private").local


@pytest.mark.parametrize(("body", "field"), CREDENTIAL_CASES, ids=case_id)
def test_bad_credential_is_refused(hub: Hub, admin_server: Server, body: Body, field: str) -> None:
    assert_invalid(lambda: hub.credentials.add("openai", **body), field)
    assert_refused(admin(admin_server, "POST", "/providers/openai/credentials", body), field)
    assert hub.credentials.list("openai") == []


@pytest.mark.parametrize(("body", "field"), CREDENTIAL_CASES, ids=case_id)
def test_bad_credential_change_is_refused(
    hub: Hub, admin_server: Server, body: Body, field: str
) -> None:
    credential = hub.credentials.add("openai", "sk-stored-key-0000", validate=False)
    path = f"/providers/openai/credentials/{credential.id}"

    assert_invalid(lambda: hub.credentials.update("openai", credential.id, **body), field)
    assert_refused(admin(admin_server, "PATCH", path, body), field)
    assert hub.credentials.get("openai", credential.id) == credential


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Bad Name"}, "name"),
        ({"display_name": "a\x00b"}, "display_name"),
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"base_url": "https://example.com/v1\r\n"}, "base_url"),
        ({"local": "no"}, "local"),
        ({"settings": "x"}, "settings"),
        ({"base_url": None}, "base_url"),  # openai-compatible has no default to return to
    ],
    ids=case_id,
)
def test_bad_provider_change_is_refused(
    hub: Hub, admin_server: Server, dead_url: str, body: Body, field: str
) -> None:
    # Keyless (an OpenAI-compatible server may need none), so it is checked when added.
    hub.providers.add(
        "openai-compatible", name="compat", base_url=dead_url, local=True, validate=False
    )
    before = hub.providers.get("compat")
    kwargs = {"new_name" if k == "name" else k: v for k, v in body.items()}
    if body == {"base_url": None}:
        kwargs = {"reset_base_url": True}

    assert_invalid(lambda: hub.providers.update("compat", **kwargs), field)
    assert_refused(admin(admin_server, "PATCH", "/providers/compat", body), field)
    assert hub.providers.get("compat") == before


@pytest.mark.parametrize(("method", "path", "body", "field"), API_ONLY_CASES, ids=case_id)
def test_unknown_or_missing_fields_are_named(
    hub: Hub, admin_server: Server, method: str, path: str, body: Body, field: str
) -> None:
    hub.credentials.add("openai", "sk-stored-key-0000", validate=False)

    assert_refused(admin(admin_server, method, path, body), field)


@pytest.mark.parametrize("body", BAD_JSON, ids=case_id)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/providers"),
        ("PATCH", "/providers/openai"),
        ("POST", "/providers/openai/credentials"),
        ("PATCH", "/providers/openai/credentials/1"),
    ],
)
def test_invalid_json_is_refused_without_echo(
    hub: Hub, admin_server: Server, method: str, path: str, body: bytes
) -> None:
    hub.credentials.add("openai", "sk-stored-key-0000", validate=False)

    answer = admin(admin_server, method, path, body)

    assert_refused(answer, "body")
    assert b"sk-body" not in answer.body
    assert b"api_key" not in answer.body


@pytest.mark.parametrize("body", [b"[1, 2]", b'"openai"', b"null", b"17"], ids=case_id)
def test_a_body_that_is_not_an_object_is_refused(admin_server: Server, body: bytes) -> None:
    assert_refused(admin(admin_server, "POST", "/providers", body), "body")


def test_duplicates_conflict(hub: Hub, admin_server: Server) -> None:
    hub.providers.add("openai", name="second", base_url=LOCAL, local=True)
    hub.credentials.add("openai", "sk-stored-key-0000", name="main", validate=False)
    second: Body = {"api_key": "sk-other-key-1111", "name": "main", "validate": False}

    with pytest.raises(aignehub.ConflictError):
        hub.providers.add("openai", base_url=LOCAL, local=True)
    with pytest.raises(aignehub.ConflictError):
        hub.providers.update("second", new_name="openai")
    with pytest.raises(aignehub.ConflictError):
        hub.credentials.add("openai", **second)
    for method, path, body in [
        ("POST", "/providers", {"kind": "openai", "base_url": LOCAL, "local": True}),
        ("POST", "/providers", {"kind": "anthropic", "name": "openai"}),
        ("PATCH", "/providers/second", {"name": "openai"}),
        ("POST", "/providers/openai/credentials", second),
    ]:
        assert_json_error(admin(admin_server, method, path, body), 409, "conflict")
    assert [p.name for p in hub.providers.list()] == ["openai", "second"]
    assert [c.name for c in hub.credentials.list("openai")] == ["main"]


def test_unknown_provider_is_not_found(hub: Hub, admin_server: Server) -> None:
    calls: list[Callable[[], object]] = [
        lambda: hub.providers.get("nope"),
        lambda: hub.providers.update("nope", display_name="x"),
        lambda: hub.providers.remove("nope"),
        lambda: hub.providers.test("nope"),
        lambda: hub.credentials.list("nope"),
        lambda: hub.credentials.add("nope", "sk-x"),
        lambda: hub.credentials.get("nope", 1),
        lambda: hub.credentials.test("nope", 1),
    ]
    for call in calls:
        with pytest.raises(aignehub.NotFoundError):
            call()
    assert issubclass(aignehub.NotFoundError, LookupError)
    for method, path, body in [
        ("GET", "/providers/nope", None),
        ("PATCH", "/providers/nope", {"display_name": "x"}),
        ("DELETE", "/providers/nope", None),
        ("POST", "/providers/nope/test", None),
        ("GET", "/providers/nope/credentials", None),
        ("POST", "/providers/nope/credentials", {"api_key": "sk-x"}),
        ("GET", "/providers/nope/credentials/1", None),
    ]:
        assert_json_error(admin(admin_server, method, path, body), 404, "not_found")


@pytest.mark.parametrize("id_text", ["999", "abc", "1x", "0", "-1", "1.0", "+1", "9" * 30])
def test_unknown_credential_is_not_found(hub: Hub, admin_server: Server, id_text: str) -> None:
    hub.credentials.add("openai", "sk-stored-key-0000", validate=False)
    path = f"/providers/openai/credentials/{id_text}"

    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"weight": 5}),
        ("DELETE", "", None),
        ("POST", "/test", None),
    ]:
        assert_json_error(admin(admin_server, method, path + suffix, body), 404, "not_found")
    if id_text in ("999", "0"):
        with pytest.raises(aignehub.NotFoundError):
            hub.credentials.get("openai", int(id_text))
    assert len(hub.credentials.list("openai")) == 1


def test_empty_key_is_refused_where_a_key_is_required(
    hub: Hub, admin_server: Server, dead_url: str
) -> None:
    assert_invalid(
        lambda: hub.providers.add(
            "openai", name="empty", base_url=dead_url, local=True, api_key="", validate=False
        ),
        "api_key",
    )
    assert_invalid(lambda: hub.credentials.add("openai", "", validate=False), "api_key")
    answer = admin(
        admin_server, "POST", "/providers/openai/credentials", {"api_key": "", "validate": False}
    )
    assert_refused(answer, "api_key")
