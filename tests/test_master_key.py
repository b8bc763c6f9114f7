"""The master key that seals provider keys: its file, the environment variable, refusing a
missing or wrong key, and rotation that keeps every secret usable."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

import pytest

import aignehub
from aignehub import Hub
from conftest import admin, openai_upstream, serve
from replay import ReplayServer

KEYS = {"default": "sk-first-6666666666666666", "second": "sk-second-777777777777777"}


def key_file(data_dir: Path) -> Path:
    return data_dir / "master.key"


def key_lines(data_dir: Path) -> list[str]:
    """The keys in the key file (comments and blank lines left out)."""
    lines = key_file(data_dir).read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def restore_key_file(data_dir: Path, content: bytes) -> None:
    key_file(data_dir).write_bytes(content)
    key_file(data_dir).chmod(0o600)


def new_master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def seed(data_dir: Path, replay: ReplayServer) -> str:
    """Creates a hub with an OpenAI provider holding both KEYS; returns its master key id."""
    base_url = openai_upstream(replay, *KEYS.values())
    with Hub(data_dir) as hub:
        hub.providers.add("openai", api_key=KEYS["default"], base_url=base_url, local=True)
        hub.credentials.add("openai", KEYS["second"], name="second")
        return hub.master_key_id


def assert_keys_open(hub: Hub, replay: ReplayServer) -> None:
    """Testing each credential sends exactly the key it was given: the hub decrypts them all."""
    for credential in hub.credentials.list("openai"):
        assert hub.credentials.test("openai", credential.id).status == "connected"
        sent = replay.requests[-1].header("authorization")
        assert sent == f"Bearer {KEYS[credential.name]}", credential


def test_key_file_is_created_private_on_first_start(data_dir: Path) -> None:
    with Hub(data_dir) as hub:
        key_id = hub.master_key_id

    mode = key_file(data_dir).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    [line] = key_lines(data_dir)
    assert len(base64.b64decode(line, validate=True)) == 32
    assert re.fullmatch(r"[0-9a-f]{16}", key_id)
    assert line not in key_id
    content = key_file(data_dir).read_bytes()

    with Hub(data_dir) as hub:
        assert hub.master_key_id == key_id
    assert key_file(data_dir).read_bytes() == content


def test_credentials_open_after_reopening(data_dir: Path, replay: ReplayServer) -> None:
    key_id = seed(data_dir, replay)

    with Hub(data_dir) as hub:
        assert hub.master_key_id == key_id
        assert_keys_open(hub, replay)


def test_missing_key_file_is_refused_while_credentials_exist(
    data_dir: Path, replay: ReplayServer
) -> None:
    seed(data_dir, replay)
    saved = key_file(data_dir).read_bytes()
    key_file(data_dir).unlink()

    with pytest.raises(aignehub.ConfigError, match="master key"):
        Hub(data_dir)

    assert not key_file(data_dir).exists(), "a new key would strand the sealed credentials"
    restore_key_file(data_dir, saved)
    with Hub(data_dir) as hub:
        assert_keys_open(hub, replay)


def test_key_file_readable_by_others_is_refused(data_dir: Path) -> None:
    Hub(data_dir).close()
    key_file(data_dir).chmod(0o644)

    with pytest.raises(aignehub.ConfigError, match="chmod 600"):
        Hub(data_dir)


@pytest.mark.parametrize("value", ["another key", "not-base64!", "c2hvcnQ="])
def test_wrong_environment_key_is_refused(
    data_dir: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    seed(data_dir, replay)
    monkeypatch.setenv("AIGNEHUB_MASTER_KEY", new_master_key() if value == "another key" else value)

    with pytest.raises(aignehub.ConfigError):
        Hub(data_dir)


def test_environment_key_needs_no_file(
    data_dir: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIGNEHUB_MASTER_KEY", new_master_key())
    key_id = seed(data_dir, replay)

    with Hub(data_dir) as hub:
        assert hub.master_key_id == key_id
        assert_keys_open(hub, replay)
    assert not key_file(data_dir).exists()

    monkeypatch.delenv("AIGNEHUB_MASTER_KEY")
    with pytest.raises(aignehub.ConfigError):
        Hub(data_dir)
    assert not key_file(data_dir).exists()


def test_rotation_with_the_key_file(data_dir: Path, replay: ReplayServer) -> None:
    old_id = seed(data_dir, replay)
    [old_key] = key_lines(data_dir)

    with Hub(data_dir) as hub:
        server = serve(hub)
        rotated = hub.rotate_master_key()

        new_id = hub.master_key_id
        assert rotated == (old_id, new_id, 2)
        assert new_id != old_id
        assert_keys_open(hub, replay)
        second = next(c for c in hub.credentials.list("openai") if c.name == "second")
        answer = admin(server, "POST", f"/providers/openai/credentials/{second.id}/test")
        assert answer.status == 200 and answer.json()["status"] == "connected"
        assert replay.requests[-1].header("authorization") == f"Bearer {KEYS['second']}"

    [new_key] = key_lines(data_dir)
    assert new_key != old_key
    assert stat.S_IMODE(key_file(data_dir).stat().st_mode) == 0o600
    with Hub(data_dir) as hub:
        assert hub.master_key_id == new_id
        assert_keys_open(hub, replay)

    restore_key_file(data_dir, f"{old_key}\n".encode())
    with pytest.raises(aignehub.ConfigError):
        Hub(data_dir)


def test_rotation_with_environment_keys(
    data_dir: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = new_master_key(), new_master_key()
    monkeypatch.setenv("AIGNEHUB_MASTER_KEY", old)
    old_id = seed(data_dir, replay)

    monkeypatch.setenv("AIGNEHUB_MASTER_KEY", f"{new},{old}")
    with Hub(data_dir) as hub:
        new_id = hub.master_key_id
        assert new_id != old_id
        assert hub.rotate_master_key()[1:] == (new_id, 2)
        assert_keys_open(hub, replay)

    monkeypatch.setenv("AIGNEHUB_MASTER_KEY", new)
    with Hub(data_dir) as hub:
        assert hub.master_key_id == new_id
        assert_keys_open(hub, replay)
    monkeypatch.setenv("AIGNEHUB_MASTER_KEY", old)
    with pytest.raises(aignehub.ConfigError):
        Hub(data_dir)
    assert not key_file(data_dir).exists()


def test_environment_rotation_reports_the_key_it_rotated_from(
    data_dir: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = new_master_key(), new_master_key()
    monkeypatch.setenv("AIGNEHUB_MASTER_KEY", old)
    old_id = seed(data_dir, replay)

    monkeypatch.setenv("AIGNEHUB_MASTER_KEY", f"{new},{old}")
    with Hub(data_dir) as hub:
        assert hub.rotate_master_key()[0] == old_id
