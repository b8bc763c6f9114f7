"""Providers configured by environment variables (OPENAI_API_KEY, OLLAMA_BASE_URL, ...): brought
up to date each time a Hub opens, read-only through the APIs, testable like any other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import aignehub
from aignehub import Hub, Provider
from conftest import admin, assert_json_error, openai_upstream, serve
from replay import ReplayServer

KEY_1, KEY_2, KEY_3 = "sk-env-one-1111111111", "sk-env-two-2222222222", "sk-env-new-3333333333"


def opened(data_dir: Path) -> Provider:
    """Opens the hub once, as a restart would, and returns its "openai" provider."""
    with Hub(data_dir) as hub:
        return hub.providers.get("openai")


@pytest.fixture
def openai_env(replay: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """OPENAI_BASE_URL points at the replay server, which accepts KEY_1, KEY_2 and KEY_3."""
    monkeypatch.setenv("OPENAI_BASE_URL", openai_upstream(replay, KEY_1, KEY_2, KEY_3))


@pytest.mark.usefixtures("openai_env")
def test_comma_separated_keys_become_env_credentials(
    data_dir: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", f"{KEY_1},{KEY_2}")

    with Hub(data_dir) as hub:
        provider = hub.providers.get("openai")
        assert (provider.source, provider.kind, provider.status) == ("env", "openai", "Untested")
        assert provider.base_url == replay.url + "/v1"
        assert provider.local, "an http:// base URL from the environment is a local server"
        assert replay.requests == [], "opening a hub checks nothing"
        credentials = provider.credentials
        assert [(c.name, c.source, c.status) for c in credentials] == [
            ("env-1", "env", "untested"),
            ("env-2", "env", "untested"),
        ]
        assert [c.key_hint for c in credentials] == ["sk-e...1111", "sk-e...2222"]

        for credential, key in zip(credentials, (KEY_1, KEY_2), strict=True):
            assert hub.credentials.test("openai", credential.id).status == "connected"
            assert replay.requests[-1].header("authorization") == f"Bearer {key}"
        assert hub.providers.get("openai").status == "Connected"


def test_a_single_key_uses_the_default_base_url(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY_1)

    with Hub(data_dir) as hub:
        [provider] = hub.providers.list()

    assert (provider.name, provider.source, provider.local) == ("anthropic", "env", False)
    assert (provider.base_url, provider.base_url_is_default) == ("https://api.anthropic.com", True)
    [credential] = provider.credentials
    assert (credential.source, credential.status, credential.key_hint) == (
        "env",
        "untested",
        "sk-e...1111",
    )


@pytest.mark.usefixtures("openai_env")
def test_a_changed_key_is_sealed_again(
    data_dir: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY_1)
    with Hub(data_dir) as hub:
        [credential] = hub.providers.get("openai").credentials
        tested = hub.credentials.test("openai", credential.id)
    assert tested.status == "connected"

    # The same value again leaves the credential alone (its last check included)...
    assert opened(data_dir).credentials == [tested]

    # ...a new one replaces the key and forgets the old check.
    monkeypatch.setenv("OPENAI_API_KEY", KEY_3)
    with Hub(data_dir) as hub:
        [changed] = hub.providers.get("openai").credentials
        assert changed.id == credential.id
        assert changed.key_hint == "sk-e...3333" != credential.key_hint
        assert (changed.status, changed.checked_at, changed.status_code) == ("untested", None, None)
        hub.credentials.test("openai", changed.id)
    assert replay.requests[-1].header("authorization") == f"Bearer {KEY_3}"


@pytest.mark.usefixtures("openai_env")
def test_an_unset_variable_removes_its_provider(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", f"{KEY_1},{KEY_2}")
    assert len(opened(data_dir).credentials) == 2

    monkeypatch.setenv("OPENAI_API_KEY", KEY_1)
    assert [c.key_hint for c in opened(data_dir).credentials] == ["sk-e...1111"]

    monkeypatch.delenv("OPENAI_API_KEY")
    with Hub(data_dir) as hub:
        assert hub.providers.list() == []


@pytest.mark.usefixtures("openai_env")
def test_env_rows_are_read_only_but_testable(
    data_dir: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY_1)
    with Hub(data_dir) as hub:
        [credential] = hub.providers.get("openai").credentials
        one = f"/providers/openai/credentials/{credential.id}"
        refused: list[Callable[[], object]] = [
            lambda: hub.providers.update("openai", display_name="Mine"),
            lambda: hub.providers.remove("openai"),
            lambda: hub.credentials.update("openai", credential.id, weight=5),
            lambda: hub.credentials.update("openai", credential.id, api_key=KEY_2),
            lambda: hub.credentials.remove("openai", credential.id),
        ]
        for call in refused:
            with pytest.raises(aignehub.ConflictError, match="environment"):
                call()
        server = serve(hub)
        for method, path, body in [
            ("PATCH", "/providers/openai", {"display_name": "Mine"}),
            ("DELETE", "/providers/openai", None),
            ("PATCH", one, {"enabled": False}),
            ("DELETE", one, None),
        ]:
            assert_json_error(admin(server, method, path, body), 409, "conflict")

        assert hub.providers.test("openai").status == "Connected"
        tested = admin(server, "POST", f"{one}/test")
        assert tested.status == 200 and tested.json()["status"] == "connected"
        assert hub.providers.get("openai").credentials[0].key_hint == "sk-e...1111"
    assert [r.header("authorization") for r in replay.requests] == [f"Bearer {KEY_1}"] * 2


def test_ollama_base_url_makes_a_keyless_local_provider(
    data_dir: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", replay.url)

    with Hub(data_dir) as hub:
        provider = hub.providers.get("ollama")
        assert (provider.source, provider.local, provider.base_url) == ("env", True, replay.url)
        [credential] = provider.credentials
        assert (credential.key_hint, credential.status) == ("", "untested")

        tested = hub.providers.test("ollama")

    [check] = replay.requests
    assert (check.method, check.path) == ("GET", "/api/tags")
    assert check.header("authorization") is None
    # Nothing was recorded for /api/tags: the replay server's own 404 is an error, not a key
    # problem.
    assert tested.status == "Error"
    assert (tested.credentials[0].status, tested.credentials[0].status_code) == ("error", 404)

    monkeypatch.delenv("OLLAMA_BASE_URL")
    with Hub(data_dir) as hub:
        assert hub.providers.list() == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OPENAI_API_KEY", "sk-one\nsk-two"),
        ("OPENAI_API_KEY", "sk-\x7f"),
        ("OPENAI_API_KEY", "x" * 4097),
        ("ANTHROPIC_BASE_URL", "ftp://example.com"),
        ("OLLAMA_BASE_URL", "127.0.0.1:11434"),
    ],
    ids=repr,
)
def test_a_bad_variable_is_named(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY_1)
    monkeypatch.setenv(variable, value)

    with pytest.raises(aignehub.InvalidInput) as raised:
        Hub(data_dir)

    assert raised.value.field == variable
    assert value not in str(raised.value)


def test_a_changed_base_url_is_applied(
    data_dir: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY_1)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    opened(data_dir)

    monkeypatch.setenv("OPENAI_BASE_URL", openai_upstream(replay, KEY_1))

    assert opened(data_dir).base_url == replay.url + "/v1"


@pytest.mark.usefixtures("openai_env")
def test_an_env_provider_with_api_credentials_is_released_when_unset(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY_1)
    with Hub(data_dir) as hub:
        hub.credentials.add("openai", KEY_2, name="mine")

    monkeypatch.delenv("OPENAI_API_KEY")
    with Hub(data_dir) as hub:
        [credential] = hub.providers.get("openai").credentials
        assert (credential.name, credential.source) == ("mine", "api")
        hub.providers.update("openai", display_name="Mine")
        hub.providers.remove("openai")
