"""The ``aignehub`` command, run as ``python -m aignehub`` in a subprocess."""

from __future__ import annotations

import http.client
import importlib.metadata
import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

import aignehub
from conftest import HANG_GUARD, CliProcess, cli_env, listening_socket, run_cli

SERVING = (
    r"^aignehub (?P<version>\S+) serving http://(?P<host>[^:]+):(?P<port>\d+) "
    r"\(data directory (?P<data_dir>.+)\); Ctrl-C stops it$"
)
StartCli = Callable[..., CliProcess]


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_version(cli_home: Path) -> None:
    result = run_cli("--version", env=cli_env(cli_home))

    assert result.returncode == 0
    assert result.stdout.strip() == "aignehub 0.1.0"
    assert aignehub.__version__ == importlib.metadata.version("aignehub") == "0.1.0"


def test_no_command_prints_help_and_exits_2(cli_home: Path) -> None:
    result = run_cli(env=cli_env(cli_home))

    assert result.returncode == 2
    assert "serve" in result.stdout


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_serve_answers_then_stops_gracefully_on_signal(
    start_cli: StartCli, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    data_dir = tmp_path / "served-data"
    cli = start_cli("serve", "--port", "0", "--data-dir", str(data_dir), "--access-log", "")

    serving = cli.wait_for_line(SERVING)
    port = int(serving["port"])
    status, body = get(port, "/healthz")
    cli.proc.send_signal(stop_signal)
    returncode, stdout, stderr = cli.finish()

    assert serving["version"] == aignehub.__version__
    assert serving["host"] == "127.0.0.1"
    assert Path(serving["data_dir"]) == data_dir.resolve()
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert returncode == 0, stderr
    assert stdout.splitlines()[-1] == "aignehub: stopped"
    assert (data_dir / "aignehub.db").is_file()


def test_serve_uses_aignehub_home_by_default(start_cli: StartCli, cli_home: Path) -> None:
    cli = start_cli("serve", "--port", "0", "--access-log", "")

    serving = cli.wait_for_line(SERVING)
    cli.proc.send_signal(signal.SIGTERM)
    returncode, _, stderr = cli.finish()

    assert Path(serving["data_dir"]) == cli_home.resolve()
    assert returncode == 0, stderr


def test_serve_writes_the_access_log_file(start_cli: StartCli, tmp_path: Path) -> None:
    log = tmp_path / "cli-access.log"
    cli = start_cli("serve", "--port", "0", "--access-log", str(log), "--shutdown-grace", "1")

    port = int(cli.wait_for_line(SERVING)["port"])
    get(port, "/healthz")
    cli.proc.send_signal(signal.SIGTERM)
    returncode, _, stderr = cli.finish()

    assert returncode == 0, stderr
    access = [r for r in map(json.loads, log.read_text().splitlines()) if r["msg"] == "access"]
    assert [(r["method"], r["path"], r["status"]) for r in access] == [("GET", "/healthz", 200)]


def test_serve_on_a_port_in_use_exits_1(cli_home: Path) -> None:
    with listening_socket() as busy:
        port = busy.getsockname()[1]

        result = run_cli("serve", "--port", str(port), "--access-log", "", env=cli_env(cli_home))

    assert result.returncode == 1
    assert result.stderr.startswith("aignehub: ")
    assert str(port) in result.stderr
    assert "serving" not in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "70000"],
        ["--threads", "-1"],
        ["--shutdown-grace", "-1"],
        ["--host", "no-such-host.invalid"],
    ],
    ids=" ".join,
)
def test_serve_with_a_bad_setting_exits_2(cli_home: Path, args: list[str]) -> None:
    result = run_cli("serve", "--access-log", "", *args, env=cli_env(cli_home))

    assert result.returncode == 2
    assert result.stderr.startswith("aignehub: ")
    assert "serving" not in result.stdout


def test_serve_with_a_data_dir_that_is_a_file_exits_2(cli_home: Path, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_text("")

    result = run_cli("serve", "--port", "0", "--data-dir", str(not_a_dir), env=cli_env(cli_home))

    assert result.returncode == 2
    assert "not a directory" in result.stderr
