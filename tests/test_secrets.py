"""Provider keys stay secret: sealed in the database (and its WAL), never in an answer, a log or
an error, shown only as a short hint, redacted from providers' messages, and bound to their
own row."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import aignehub
from aignehub import Hub
from conftest import (
    Response,
    StartServer,
    admin,
    assert_json_error,
    openai_upstream,
    serve,
)
from replay import ReplayServer

CANARY = "sk-canary-7f3a9c1e5b2d40687f3a"
CANARY_2 = "sk-canary-two-0e4b8d2f6a1c9357"


def leaks(data: bytes | str, *secrets: str) -> list[str]:
    """The secrets, or the parts of them that no hint shows (all but 4 characters at each end),
    that `data` holds."""
    text = data if isinstance(data, bytes) else data.encode()
    found = []
    for secret in secrets:
        for piece in (secret, secret[4:-4]):
            if piece.encode() in text:
                found.append(piece)
    return found


def database_files(hub_dir: Path) -> list[Path]:
    return sorted(hub_dir.glob("*.db*"))


def test_keys_are_never_stored_answered_or_logged_in_clear(
    hub: Hub, replay: ReplayServer, start_server: StartServer, tmp_path: Path
) -> None:
    base_url = openai_upstream(replay, CANARY, CANARY_2)
    log = tmp_path / "access.log"
    server = start_server(access_log=log)
    answers: list[Response] = []

    def expect(status: int, method: str, path: str, body: object = None) -> Any:
        answers.append(answer := admin(server, method, path, body))
        assert answer.status == status, answer
        return answer.json() if answer.body else None

    hub.providers.add("openai", api_key=CANARY, base_url=base_url, local=True)
    second = {"kind": "openai", "name": "second", "base_url": base_url, "local": True}
    expect(201, "POST", "/providers", {**second, "api_key": CANARY_2})
    added = expect(201, "POST", "/providers/second/credentials", {"api_key": CANARY, "name": "b"})
    one = f"/providers/second/credentials/{added['id']}"
    expect(200, "PATCH", one, {"api_key": CANARY_2})
    expect(200, "POST", "/providers/second/test")
    expect(200, "GET", "/providers")
    expect(200, "GET", one)
    # Requests that fail while carrying a key.
    expect(400, "POST", "/providers", b'{"kind": "openai", "api_key": "' + CANARY.encode())
    expect(400, "POST", "/providers", {**second, "api_key": CANARY + "\n"})
    expect(400, "POST", "/providers", {**second, "api_key": CANARY, "colour": 1})
    expect(409, "POST", "/providers", {**second, "api_key": CANARY})
    revoked = {"api_key": CANARY + "-revoked", "name": "revoked"}
    expect(422, "POST", "/providers/second/credentials", revoked)
    expect(404, "PATCH", "/providers/second/credentials/999", {"api_key": CANARY})

    in_use = database_files(hub.data_dir)
    assert {p.name for p in in_use} >= {"aignehub.db", "aignehub.db-wal"}, in_use
    for path in in_use:
        assert leaks(path.read_bytes(), CANARY, CANARY_2) == [], path
    for answer in answers:
        assert leaks(answer.body, CANARY, CANARY_2) == [], answer
    python_answers = repr([hub.providers.list(), hub.credentials.list("second")])
    assert leaks(python_answers, CANARY, CANARY_2) == []

    hub.close()

    for path in hub_files(tmp_path):
        assert leaks(path.read_bytes(), CANARY, CANARY_2) == [], path
    assert len(log.read_text().splitlines()) >= len(answers), "every request was logged"
    # The keys did reach the provider: the checks above were real.
    sent = {r.header("authorization") for r in replay.requests}
    assert {f"Bearer {CANARY}", f"Bearer {CANARY_2}"} <= sent


def hub_files(root: Path) -> list[Path]:
    """Every file under `root`: the data directory (database, WAL, key file) and the log."""
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("length", [1, 3, 7, 8, 12, 16, 40, 200])
def test_key_hint_shows_at_most_four_characters_at_each_end(
    hub: Hub, replay: ReplayServer, length: int
) -> None:
    key = "".join(chr(ord("a") + i % 26) for i in range(length))
    base_url = openai_upstream(replay)
    hub.providers.add("openai", base_url=base_url, local=True)

    hint = hub.credentials.add("openai", key, validate=False).key_hint

    head, dots, tail = hint.partition("...")
    if dots:
        assert key.startswith(head) and key.endswith(tail)
        assert len(head) <= 4 and len(tail) <= 4
        assert len(head) + len(tail) <= length // 2, "a hint shows at most half of the key"
    else:
        assert set(hint) == {"*"}, hint


def test_a_provider_message_echoing_the_key_is_redacted(
    hub: Hub, replay: ReplayServer, start_server: StartServer
) -> None:
    # OpenAI's recorded 401 says "Incorrect API key provided: invalid-key. ...".
    key = "invalid-key"
    base_url = openai_upstream(replay)
    hub.providers.add("openai", base_url=base_url, local=True)

    with pytest.raises(aignehub.CredentialRejected) as raised:
        hub.credentials.add("openai", key)
    stored = hub.credentials.add("openai", key, validate=False)
    over_http = admin(
        start_server(), "POST", "/providers/openai/credentials", {"api_key": key, "name": "http"}
    )

    assert "Incorrect API key provided" in str(raised.value)
    assert key not in str(raised.value)
    assert stored.status_message.startswith("Incorrect API key provided: [redacted]")
    assert key not in repr(stored)
    assert_json_error(over_http, 422, "invalid_key", param="api_key")
    assert b"[redacted]" in over_http.body
    assert key.encode() not in over_http.body


def test_a_secret_moved_to_another_row_does_not_open(
    data_dir: Path, replay: ReplayServer, start_server: StartServer
) -> None:
    key_a, key_b = "sk-row-a-4444444444444444", "sk-row-b-5555555555555555"
    base_url = openai_upstream(replay, key_a, key_b)
    with Hub(data_dir) as hub:
        [a] = hub.providers.add("openai", api_key=key_a, base_url=base_url, local=True).credentials
        b = hub.credentials.add("openai", key_b, name="b")
        database = hub.database_path
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE credentials SET (secret_ciphertext, wrapped_key) ="
            " (SELECT secret_ciphertext, wrapped_key FROM credentials WHERE id = ?) WHERE id = ?",
            (a.id, b.id),
        )
    db.close()
    checks_before = len(replay.requests)

    with Hub(data_dir) as hub:
        with pytest.raises(aignehub.CryptoError):
            hub.credentials.test("openai", b.id)
        answer = admin(serve(hub), "POST", f"/providers/openai/credentials/{b.id}/test")

        assert_json_error(answer, 500, "internal_error")
        assert leaks(answer.body, key_a, key_b) == []
        assert len(replay.requests) == checks_before, "no key went upstream for row b"
        # Row a is untouched and row b keeps its last known state.
        assert hub.credentials.test("openai", a.id).status == "connected"
        assert replay.requests[-1].header("authorization") == f"Bearer {key_a}"
        assert hub.credentials.get("openai", b.id) == b
