"""``aignehub users``, ``aignehub keys`` and the owner key that ``aignehub serve`` prints once."""

from __future__ import annotations

import http.client
import json
import re
import signal
from collections.abc import Callable
from pathlib import Path

from conftest import HANG_GUARD, CliProcess, cli_env, run_cli

SERVING = r"^aignehub \S+ serving http://127\.0\.0\.1:(?P<port>\d+) "
OWNER_KEY = r"^  (?P<key>ahk_[a-z2-7]{12}_[A-Za-z0-9_-]{43})$"
StartCli = Callable[..., CliProcess]


def me(port: int, key: str) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
    try:
        conn.request("GET", "/api/me", headers={"Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def serve_once(start_cli: StartCli, data_dir: Path) -> tuple[int, str]:
    """Runs ``aignehub serve`` until it listens; returns its port and what it printed before."""
    cli = start_cli("serve", "--port", "0", "--data-dir", str(data_dir), "--access-log", "")
    port = int(cli.wait_for_line(SERVING)["port"])
    cli.proc.send_signal(signal.SIGTERM)
    _, stdout, _ = cli.finish()
    return port, stdout


def test_first_serve_prints_a_working_owner_key_once(start_cli: StartCli, tmp_path: Path) -> None:
    data_dir = tmp_path / "hub"
    cli = start_cli("serve", "--port", "0", "--data-dir", str(data_dir), "--access-log", "")
    key = cli.wait_for_line(OWNER_KEY)["key"]
    port = int(cli.wait_for_line(SERVING)["port"])
    status, body = me(port, key)
    cli.proc.send_signal(signal.SIGTERM)
    returncode, _, _ = cli.finish()

    _, second_stdout = serve_once(start_cli, data_dir)

    assert returncode == 0
    assert status == 200
    assert body["role"] == "owner"
    assert "ahk_" not in second_stdout


def test_users_and_keys_commands(cli_home: Path) -> None:
    env = cli_env(cli_home)

    added = run_cli("users", "add", "Ann", "--email", "Ann@Example.com", "--role", "admin", env=env)
    created = run_cli(
        "keys",
        "create",
        "--user",
        "1",
        "--name",
        "ci",
        "--model",
        "openai/*",
        "--rpm",
        "60",
        env=env,
    )
    listed = run_cli("keys", "list", "--json", env=env)
    revoked = run_cli("keys", "revoke", "1", env=env)
    users = run_cli("users", "list", "--json", env=env)

    assert added.returncode == 0, added.stderr
    assert created.returncode == 0, created.stderr
    secret = created.stdout.splitlines()[-1]
    assert re.fullmatch(r"ahk_[a-z2-7]{12}_[A-Za-z0-9_-]{43}", secret)
    keys = json.loads(listed.stdout)
    assert [(k["name"], k["models"], k["rpm"], k["active"]) for k in keys] == [
        ("ci", ["openai/*"], 60, True)
    ]
    assert secret not in listed.stdout
    assert "revoked" in revoked.stdout
    assert json.loads(users.stdout)[0]["email"] == "ann@example.com"


def test_bad_user_input_exits_2(cli_home: Path) -> None:
    env = cli_env(cli_home)

    bad_email = run_cli("users", "add", "Bob", "--email", "not-an-email", env=env)
    no_user = run_cli("keys", "create", "--user", "42", "--name", "x", env=env)

    assert bad_email.returncode == 2
    assert bad_email.stderr.startswith("aignehub: email:")
    assert no_user.returncode == 1
    assert "no user 42" in no_user.stderr
