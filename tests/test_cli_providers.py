"""``aignehub providers ...`` and ``aignehub master-key rotate`` against a replayed OpenAI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import HANG_GUARD, cli_env, openai_upstream, run_cli
from replay import ReplayServer

GOOD_KEY = "sk-cli-canary-0123456789abcdef"


def cli(
    home: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = cli_env(home) | env
    if stdin is None:
        return run_cli(*args, env=environment)
    return subprocess.run(
        [sys.executable, "-m", "aignehub", *args],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )


def add_openai(
    home: Path, base_url: str, *extra: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return cli(
        home,
        "providers",
        "add",
        "openai",
        "--base-url",
        base_url,
        "--local",
        *extra,
        stdin=stdin,
        **env,
    )


def test_add_reads_the_key_from_stdin_checks_it_and_never_prints_it(
    cli_home: Path, replay: ReplayServer
) -> None:
    base_url = openai_upstream(replay, GOOD_KEY)

    added = add_openai(cli_home, base_url, "--api-key-stdin", stdin=GOOD_KEY + "\n")
    listed = cli(cli_home, "providers", "list", "--json")

    assert added.returncode == 0, added.stderr
    assert "Connected" in added.stdout
    assert [r.header("authorization") for r in replay.requests] == [f"Bearer {GOOD_KEY}"]
    providers = json.loads(listed.stdout)
    assert providers[0]["status"] == "Connected"
    assert providers[0]["credentials"][0]["key_hint"] == "sk-c...cdef"
    for output in (added.stdout, added.stderr, listed.stdout, listed.stderr):
        assert GOOD_KEY not in output


def test_a_refused_key_exits_1_and_saves_nothing(cli_home: Path, replay: ReplayServer) -> None:
    base_url = openai_upstream(replay, GOOD_KEY)

    refused = add_openai(cli_home, base_url, "--api-key-env", "THE_KEY", THE_KEY="sk-wrong-key-1")
    listed = cli(cli_home, "providers", "list", "--json")

    assert refused.returncode == 1
    assert "refused the key" in refused.stderr
    assert "sk-wrong-key-1" not in refused.stderr + refused.stdout
    assert json.loads(listed.stdout) == []


def test_no_validate_saves_the_failure_and_test_exits_1_until_fixed(
    cli_home: Path, replay: ReplayServer
) -> None:
    base_url = openai_upstream(replay, GOOD_KEY)

    saved = add_openai(cli_home, base_url, "--api-key", "sk-wrong-key-2", "--no-validate")
    tested = cli(cli_home, "providers", "test", "openai")

    assert saved.returncode == 0, saved.stderr
    assert "1 of 1 invalid" in saved.stdout
    assert tested.returncode == 1
    assert "invalid_key" in tested.stdout


def test_remove_and_unknown_names(cli_home: Path, replay: ReplayServer) -> None:
    base_url = openai_upstream(replay, GOOD_KEY)
    add_openai(cli_home, base_url, "--api-key", GOOD_KEY)

    removed = cli(cli_home, "providers", "remove", "openai")
    again = cli(cli_home, "providers", "remove", "openai")

    assert removed.returncode == 0
    assert again.returncode == 1
    assert "no provider named 'openai'" in again.stderr


def test_bad_input_exits_2_naming_the_field(cli_home: Path) -> None:
    private = cli(
        cli_home, "providers", "add", "openai-compatible", "--base-url", "https://10.0.0.8/v1"
    )
    unknown = cli(cli_home, "providers", "add", "nope")

    assert private.returncode == 2
    assert private.stderr.startswith("aignehub: base_url:")
    assert unknown.returncode == 2
    assert "kind: unknown provider kind 'nope'" in unknown.stderr


def test_kinds_lists_the_catalogue(cli_home: Path) -> None:
    kinds = cli(cli_home, "providers", "kinds")

    names = [line.split()[0] for line in kinds.stdout.splitlines()]
    assert names == [
        "openai",
        "anthropic",
        "google",
        "deepseek",
        "xai",
        "openrouter",
        "mistral",
        "groq",
        "ollama",
        "doubao",
        "openai-compatible",
    ]


def test_master_key_rotate_keeps_the_key_usable(cli_home: Path, replay: ReplayServer) -> None:
    base_url = openai_upstream(replay, GOOD_KEY)
    add_openai(cli_home, base_url, "--api-key", GOOD_KEY)
    key_file = cli_home / "master.key"
    before = key_file.read_text()

    rotated = cli(cli_home, "master-key", "rotate")
    tested = cli(cli_home, "providers", "test", "openai")

    assert rotated.returncode == 0, rotated.stderr
    assert "1 credential(s) re-wrapped" in rotated.stdout
    assert key_file.read_text() != before
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert replay.requests[-1].header("authorization") == f"Bearer {GOOD_KEY}"
