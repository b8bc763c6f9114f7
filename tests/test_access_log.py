"""The access log: one JSON object a line, the documented fields, and no secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from aignehub import Server
from conftest import (
    GENERATED_REQUEST_ID,
    RawConnection,
    StartServer,
    chunked,
    http_request_bytes,
    request,
)

ACCESS_FIELDS = {
    "time",
    "level",
    "msg",
    "method",
    "path",
    "status",
    "duration_ms",
    "bytes_in",
    "bytes",
    "request_id",
    "remote",
}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CANARY = "canary-secret-8d1f0c2b"


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every line of the log, parsed; fails on a line that is not one JSON object."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        records.append(record)
    return records


def access_records(path: Path) -> list[dict[str, Any]]:
    return [r for r in read_log(path) if r["msg"] == "access"]


def answer_status(server: Server, data: bytes) -> int:
    """Sends `data` on a connection of its own and returns the status of the answer."""
    conn = RawConnection(server.port)
    try:
        conn.send(data)
        return conn.read_response().status
    finally:
        conn.close()  # at once, so that stop() need not wait out the server's lingering close


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "access.log"


@pytest.fixture
def logging_server(start_server: StartServer, log_path: Path) -> StartServer:
    """Starts servers that log to `log_path` (small limits, so that errors are cheap)."""
    log_path.parent.mkdir()

    def start(**settings: Any) -> Any:
        return start_server(
            access_log=str(log_path), max_header_bytes=1024, max_body_bytes=1024, **settings
        )

    return start


def test_access_line_has_the_documented_fields(logging_server: StartServer, log_path: Path) -> None:
    server = logging_server()
    request(server, "GET", "/healthz?verbose=1", headers={"X-Request-Id": "log-fields-1"})
    request(server, "POST", "/nope", body=b"hello", headers={"X-Request-Id": "log-fields-2"})
    server.stop()

    records = {r["request_id"]: r for r in access_records(log_path)}

    assert set(records) == {"log-fields-1", "log-fields-2"}
    for record in records.values():
        assert set(record) == ACCESS_FIELDS
        assert TIMESTAMP.fullmatch(record["time"])
        assert record["level"] == "info"
        assert record["remote"] == "127.0.0.1"
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
    get, post = records["log-fields-1"], records["log-fields-2"]
    assert (get["method"], get["path"], get["status"]) == ("GET", "/healthz", 200)
    assert (get["bytes_in"], get["bytes"]) == (0, len(b'{"status":"ok"}'))
    assert (post["method"], post["path"], post["status"]) == ("POST", "/nope", 404)
    assert post["bytes_in"] == 5
    assert post["bytes"] > 0


def test_lifecycle_events_are_json_lines_too(logging_server: StartServer, log_path: Path) -> None:
    server = logging_server()
    server.stop()

    messages = [r["msg"] for r in read_log(log_path)]

    assert messages[0] == "listening"
    assert messages[-2:] == ["stopping", "stopped"]


def test_error_answers_are_logged(logging_server: StartServer, log_path: Path) -> None:
    server = logging_server()
    too_large = http_request_bytes("POST", "/healthz?x=1", {"Transfer-Encoding": "chunked"})
    assert answer_status(server, too_large + chunked(b"b" * 5000)) == 413
    assert answer_status(server, b"NOT HTTP AT ALL\r\n\r\n") == 400
    server.stop()

    records = access_records(log_path)

    by_status = {r["status"]: r for r in records}
    assert set(by_status) == {413, 400}
    assert (by_status[413]["method"], by_status[413]["path"]) == ("POST", "/healthz")
    for record in records:
        assert set(record) == ACCESS_FIELDS
        assert GENERATED_REQUEST_ID.fullmatch(record["request_id"])


def test_secrets_never_reach_the_log(logging_server: StartServer, log_path: Path) -> None:
    server = logging_server()
    secret_headers = {
        "Authorization": f"Bearer {CANARY}",
        "Cookie": f"session={CANARY}",
        "X-Api-Key": CANARY,
    }
    secret_query = f"?key={CANARY}&api_key={CANARY}"
    for path in ["/healthz", "/readyz", "/nope"]:
        request(server, "GET", path + secret_query, headers=secret_headers)
    request(server, "POST", "/healthz" + secret_query, headers=secret_headers, body=b"{}")
    # Error answers too: a body over the limit, a header over it, and a malformed header.
    chunked_post = {**secret_headers, "Transfer-Encoding": "chunked"}
    too_large = http_request_bytes("POST", "/healthz" + secret_query, chunked_post)
    assert answer_status(server, too_large + chunked(b"b" * 5000)) == 413
    padded = {**secret_headers, "X-Pad": "p" * 2000}
    assert answer_status(server, http_request_bytes("GET", "/" + secret_query, padded)) == 431
    malformed = f"GET /healthz{secret_query} HTTP/1.1\r\nCookie {CANARY}\r\n\r\n"
    assert answer_status(server, malformed.encode()) == 400
    server.stop()

    text = log_path.read_text(encoding="utf-8")

    assert len(access_records(log_path)) == 7
    assert CANARY not in text
    assert "key=" not in text
    assert "Bearer" not in text
