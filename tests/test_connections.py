"""Connection handling: keep-alive reuse, idle timeout and graceful shutdown."""

from __future__ import annotations

import http.client
import threading

import pytest

from aignehub import Server
from conftest import (
    HANG_GUARD,
    OpenRaw,
    StartServer,
    assert_json_error,
    connection_refused,
    from_http_client,
    http_request_bytes,
    request,
    wait_until,
)


def test_keep_alive_serves_several_requests_on_one_connection(server: Server) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HANG_GUARD)
    conn.connect()
    sock = conn.sock
    try:
        statuses = []
        for path in ["/healthz", "/readyz", "/nope", "/healthz", "/readyz"]:
            conn.request("GET", path)
            response = from_http_client(conn.getresponse())
            statuses.append(response.status)
            assert response.headers.get("connection", "keep-alive").lower() != "close"
            # http.client drops its socket when the server closes; the same object means reuse.
            assert conn.sock is sock
    finally:
        conn.close()

    assert statuses == [200, 200, 404, 200, 200]


def test_pipelined_requests_are_answered_in_order(server: Server, open_raw: OpenRaw) -> None:
    conn = open_raw(server)
    ids = ["first", "second", "third"]

    conn.send(b"".join(http_request_bytes("GET", "/healthz", {"X-Request-Id": i}) for i in ids))
    responses = [conn.read_response() for _ in ids]

    assert [r.headers["x-request-id"] for r in responses] == ids
    assert all(r.status == 200 for r in responses)


def test_connection_close_request_is_answered_then_closed(
    server: Server, open_raw: OpenRaw
) -> None:
    conn = open_raw(server)

    conn.send(http_request_bytes("GET", "/healthz", {"Connection": "close"}))
    response = conn.read_response()

    assert response.status == 200
    assert response.headers.get("connection") == "close"
    assert conn.closed_by_server()


def test_http_1_0_without_keep_alive_is_closed(server: Server, open_raw: OpenRaw) -> None:
    conn = open_raw(server)

    conn.send(b"GET /healthz HTTP/1.0\r\n\r\n")

    assert conn.closed_by_server()
    assert conn.unread.startswith(b"HTTP/1.")
    assert conn.unread.endswith(b'{"status":"ok"}')


def test_idle_keep_alive_connection_is_closed_after_idle_timeout(
    start_server: StartServer, open_raw: OpenRaw
) -> None:
    server = start_server(idle_timeout=0.5)
    conn = open_raw(server)
    conn.send(http_request_bytes("GET", "/healthz"))
    assert conn.read_response().status == 200

    # The default idle timeout is 75 s: closing within the guard shows the setting applies.
    assert conn.closed_by_server(within=HANG_GUARD / 2)


def stop_in_background(server: Server) -> threading.Thread:
    """Calls server.stop() on a thread and returns once the server no longer accepts."""
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    assert wait_until(lambda: connection_refused(server.port)), "the server kept accepting"
    return stopper


@pytest.mark.parametrize("expect_continue", [False, True], ids=["plain", "expect-100-continue"])
def test_stop_lets_an_in_flight_request_finish(
    start_server: StartServer, open_raw: OpenRaw, expect_continue: bool
) -> None:
    server = start_server(shutdown_grace=HANG_GUARD)
    conn = open_raw(server)
    headers = {"Content-Length": "10"}
    if expect_continue:
        headers["Expect"] = "100-continue"
    conn.send(http_request_bytes("POST", "/healthz", headers))
    if expect_continue:
        assert conn.read_response().status == 100
    conn.send(b"12345")
    # The request is in flight, not waiting in a socket buffer, once the server has read it.
    assert wait_until(conn.server_has_read_all)

    stopper = stop_in_background(server)
    conn.send(b"67890")
    response = conn.read_response()

    assert_json_error(response, 405, "method_not_allowed")
    assert response.headers.get("connection") == "close"
    assert conn.closed_by_server()
    stopper.join(HANG_GUARD)
    assert not stopper.is_alive()
    assert not server.running


def test_stop_closes_idle_connections_without_waiting_for_the_grace(
    start_server: StartServer, open_raw: OpenRaw
) -> None:
    # A grace far longer than the guard: stop() returning within the guard shows that idle
    # connections were closed at once rather than waited for.
    server = start_server(shutdown_grace=600)
    kept_alive = open_raw(server)
    kept_alive.send(http_request_bytes("GET", "/healthz"))
    assert kept_alive.read_response().status == 200
    silent = open_raw(server)  # connected, never sent a byte
    assert wait_until(lambda: server._core.connections == 2)

    stopper = stop_in_background(server)

    assert kept_alive.closed_by_server()
    assert silent.closed_by_server()
    assert kept_alive.unread == silent.unread == b""
    stopper.join(HANG_GUARD)
    assert not stopper.is_alive()
    assert not server.running


def test_no_new_connections_after_stop(server: Server) -> None:
    assert request(server, "GET", "/healthz").status == 200

    server.stop()

    assert connection_refused(server.port)
