"""The Python API: Hub and Server lifecycles, settings validation, data directories and the
schema guard."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

import aignehub
from aignehub import Hub, Server
from aignehub._core import latest_schema_version
from conftest import StartServer, connection_refused, listening_socket, request


def test_exception_tree() -> None:
    assert issubclass(aignehub.ConfigError, ValueError)
    assert issubclass(aignehub.BindError, OSError)
    assert issubclass(aignehub.SchemaVersionError, aignehub.StoreError)
    for error in (aignehub.ConfigError, aignehub.BindError, aignehub.StoreError):
        assert issubclass(error, aignehub.AignehubError)


def test_hub_and_server_as_context_managers(data_dir: Path) -> None:
    with Hub(data_dir) as hub, hub.serve(port=0, threads=1, access_log="") as server:
        assert server.running
        assert server.port > 0
        assert server.host == "127.0.0.1"
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert request(server, "GET", "/healthz").status == 200

    assert not server.running
    assert server.wait(0)
    assert connection_refused(server.port)
    with pytest.raises(aignehub.AignehubError):
        hub.ping()


def test_closing_the_hub_stops_its_servers(data_dir: Path) -> None:
    hub = Hub(data_dir)
    server = hub.serve(port=0, threads=1, access_log="")

    hub.close()
    hub.close()

    assert not server.running
    assert connection_refused(server.port)


def test_stop_twice_is_harmless(server: Server) -> None:
    assert not server.wait(0)

    server.stop()
    server.stop()

    assert not server.running
    assert server.wait(0)
    assert "stopped" in repr(server)


def test_two_servers_from_one_hub(start_server: StartServer) -> None:
    first, second = start_server(), start_server()

    assert first.port != second.port
    assert request(first, "GET", "/readyz").status == 200
    assert request(second, "GET", "/readyz").status == 200


def test_port_in_use_raises_bind_error_with_errno(hub: Hub) -> None:
    with listening_socket() as busy:
        port = busy.getsockname()[1]

        with pytest.raises(aignehub.BindError) as raised:
            hub.serve(port=port, threads=1, access_log="")

    assert isinstance(raised.value, OSError)
    assert raised.value.errno == errno.EADDRINUSE


def test_port_of_a_running_server_cannot_be_bound_again(
    server: Server, start_server: StartServer
) -> None:
    with pytest.raises(OSError) as raised:
        start_server(port=server.port)

    assert raised.value.errno == errno.EADDRINUSE
    assert request(server, "GET", "/healthz").status == 200


@pytest.mark.parametrize(
    "settings",
    [
        {"port": 70000},
        {"port": -1},
        {"threads": -1},
        {"threads": 100_000},
        {"header_timeout": -1},
        {"header_timeout": 0},
        {"body_timeout": float("nan")},
        {"idle_timeout": float("inf")},
        {"write_timeout": 86401},
        {"shutdown_grace": -0.5},
        {"max_header_bytes": 10},
        {"max_body_bytes": 0},
        {"max_connections": 0},
        {"host": ""},
        {"host": "no-such-host.invalid"},
    ],
    ids=repr,
)
def test_bad_setting_raises_config_error(hub: Hub, settings: dict[str, Any]) -> None:
    with pytest.raises(aignehub.ConfigError) as raised:
        hub.serve(**{"port": 0, "access_log": "", **settings})

    assert isinstance(raised.value, ValueError)
    assert str(raised.value)


def test_unwritable_access_log_raises_config_error(hub: Hub, tmp_path: Path) -> None:
    with pytest.raises(aignehub.ConfigError):
        hub.serve(port=0, access_log=str(tmp_path / "missing-dir" / "access.log"))


def test_hub_creates_its_data_dir_private(data_dir: Path) -> None:
    with Hub(data_dir) as hub:
        assert hub.data_dir == data_dir.resolve()
        assert hub.database_path.parent == hub.data_dir
        assert hub.database_path.is_file()
        assert hub.schema_version == latest_schema_version()
        hub.ping()

    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_default_data_dir_honours_aignehub_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home-from-env"
    monkeypatch.setenv("AIGNEHUB_HOME", str(home))

    assert aignehub.default_data_dir() == home
    with Hub() as hub:
        assert hub.data_dir == home.resolve()
        assert hub.database_path.is_file()


def test_default_data_dir_without_aignehub_home_is_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIGNEHUB_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    with Hub() as hub:
        assert hub.data_dir == (tmp_path / ".aignehub").resolve()


def migrations(database: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def test_reopening_a_data_dir_keeps_schema_and_data(data_dir: Path) -> None:
    with Hub(data_dir) as hub:
        database = hub.database_path
        version = hub.schema_version
    applied = migrations(database)
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO settings (key, value) VALUES ('canary', 'kept')")

    with Hub(data_dir) as reopened:
        assert reopened.schema_version == version
        assert reopened.database_path == database

    assert migrations(database) == applied
    assert [v for v, _ in applied] == list(range(1, latest_schema_version() + 1))
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT value FROM settings WHERE key = 'canary'").fetchall() == [
            ("kept",)
        ]


def snapshot(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def test_newer_schema_raises_and_leaves_the_database_untouched(data_dir: Path) -> None:
    with Hub(data_dir) as hub:
        database = hub.database_path
    newer = latest_schema_version() + 1
    db = sqlite3.connect(database)
    with db:
        db.execute("INSERT INTO schema_migrations (version, name) VALUES (?, 'future')", (newer,))
    db.close()
    before = snapshot(data_dir)

    with pytest.raises(aignehub.SchemaVersionError) as raised:
        Hub(data_dir)

    assert isinstance(raised.value, aignehub.StoreError)
    assert str(newer) in str(raised.value)
    assert snapshot(data_dir) == before
    assert migrations(database)[-1] == (newer, "future")


def test_data_dir_that_is_a_file_raises(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_bytes(b"not a directory")

    with pytest.raises(aignehub.ConfigError, match="not a directory"):
        Hub(not_a_dir)

    assert not_a_dir.read_bytes() == b"not a directory"


def test_data_dir_below_a_file_raises(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_bytes(b"")

    with pytest.raises(aignehub.AignehubError):
        Hub(tmp_path / "plain-file" / "data")


def test_closed_hub_refuses_to_serve(data_dir: Path) -> None:
    hub = Hub(data_dir)
    hub.close()

    with pytest.raises(aignehub.AignehubError):
        hub.serve(port=0)
    assert "closed" in repr(hub)


def test_data_dir_accepts_str_and_expands_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    with Hub("~/tilde-data") as hub:
        assert hub.data_dir == (tmp_path / "tilde-data").resolve()
    assert os.path.isdir(tmp_path / "tilde-data")
