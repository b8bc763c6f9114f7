"""Every answered call has a durable usage record: ``aignehub serve`` is killed with SIGKILL in
the middle of a load of concurrent calls, restarted on the same data directory, and must hold a
record of every call whose answer a client read to the end."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from aignehub import Hub
from conftest import HANG_GUARD, HELLO, CliProcess, add_upstream, wait_until
from replay import ReplayServer

SERVING = r"serving http://127\.0\.0\.1:(?P<port>\d+) "
CLIENTS = 8
# Enough answers that the kill falls among many calls in flight; few enough to stay quick.
ANSWERS_BEFORE_KILL = 400


class Load:
    """Threads that call the gateway in a loop, each on its own kept-alive connection, and
    remember the x-request-id of every answer they read to the end."""

    def __init__(self, port: int, key: str, models: list[tuple[str, bool]]) -> None:
        self.port = port
        self.key = key
        self.models = models
        self.answered: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(CLIENTS)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(HANG_GUARD)
            assert not thread.is_alive()

    def count(self) -> int:
        with self.lock:
            return len(self.answered)

    def _run(self, number: int) -> None:
        model, stream = self.models[number % len(self.models)]
        body = json.dumps({"model": model, "messages": HELLO, "stream": stream})
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HANG_GUARD)
        try:
            while not self.stop.is_set():
                conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()  # raises IncompleteRead on a cut-off body
                assert response.status == 200, payload
                if stream:
                    assert payload.endswith(b"data: [DONE]\n\n"), payload[-100:]
                else:
                    assert json.loads(payload)["object"] == "chat.completion"
                request_id = response.getheader("x-request-id")
                assert request_id
                with self.lock:
                    self.answered.append(request_id)
        except (OSError, http.client.HTTPException):
            pass  # the server was killed
        finally:
            conn.close()


def recorded_ids(port: int, owner_key: str) -> set[str]:
    """The request ids of every usage record, read page by page from the admin API."""
    found: set[str] = set()
    cursor: str | None = None
    for _ in range(1000):
        query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
        try:
            conn.request(
                "GET",
                "/api/admin/usage?" + urllib.parse.urlencode(query),
                headers={"Authorization": f"Bearer {owner_key}"},
            )
            response = conn.getresponse()
            page = json.loads(response.read())
        finally:
            conn.close()
        assert response.status == 200, page
        found.update(r["request_id"] for r in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("the usage listing never ended")


@pytest.mark.parametrize("usage_sync", ["full", "normal"])
def test_every_answered_call_survives_a_kill_9(
    start_cli: Callable[..., CliProcess], tmp_path: Path, replay: ReplayServer, usage_sync: str
) -> None:
    """'full' fsyncs each batch before the answers it covers end; 'normal' appends each record
    to a journal first, which the restarted process imports."""
    data_dir = tmp_path / "durable"
    with Hub(data_dir) as hub:
        first = hub.bootstrap()
        assert first is not None
        plain = add_upstream(hub, replay, "openai")
        streamed = add_upstream(hub, replay, "deepseek")
        app = hub.keys.create(hub.users.add("Load test"), name="load")
    replay.route("POST", plain.chat, fixture="openai/chat_basic")
    replay.route("POST", streamed.chat, fixture="deepseek/chat_stream_include_usage")
    serve = ["serve", "--port", "0", "--data-dir", str(data_dir), "--access-log", ""]
    serve += ["--usage-sync", usage_sync]

    server = start_cli(*serve)
    port = int(server.wait_for_line(SERVING)["port"])
    load = Load(port, app.secret, [("openai/gpt-3.5-turbo", False), ("deepseek/chat", True)])
    load.start()
    assert wait_until(lambda: load.count() >= ANSWERS_BEFORE_KILL), load.count()
    server.proc.kill()  # SIGKILL: no shutdown, no flush
    server.proc.wait(HANG_GUARD)
    load.join()
    answered = set(load.answered)

    restarted = start_cli(*serve)
    recorded = recorded_ids(int(restarted.wait_for_line(SERVING)["port"]), first.key.secret)

    assert len(answered) == len(load.answered) >= ANSWERS_BEFORE_KILL
    assert answered - recorded == set()
