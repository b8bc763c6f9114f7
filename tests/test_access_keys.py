"""Access keys on the wire: how a key is presented and refused (401 with WWW-Authenticate),
never in a URL, revocation, disabling and expiry on the very next request, per-key request rates,
last use written off the request path, and no key ever in an answer, the log or the database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from aignehub import Bootstrap, Hub, Server
from conftest import (
    HANG_GUARD,
    KEY_FORMAT,
    OWNER,
    KeyChoice,
    Response,
    Someone,
    StartServer,
    admin,
    api,
    assert_json_error,
    from_http_client,
    ok,
    person,
    serve,
    wait_until,
)

# Well formed, but no installation issued it.
UNKNOWN_KEY = "ahk_aaaaaaaaaaaa_" + "A" * 43
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Where a key opens something: any holder, and owners and admins only.
KEYED_ROUTES = ["/api/me", "/api/admin/keys", "/api/admin/users/1", "/api/admin/providers"]


def refused(answer: Response, code: str) -> None:
    """A 401 with the error shape, the given code and the Bearer challenge."""
    assert_json_error(answer, 401, code)
    assert answer.headers.get("www-authenticate") == 'Bearer realm="aignehub"'


def me(server: Server, key: KeyChoice = OWNER, **headers: str) -> Response:
    return api(server, "GET", "/api/me", key=key, headers=headers)


def unseen(secret: str) -> str:
    """The part of a key that neither its prefix nor its hint shows."""
    return secret[len("ahk_") + 13 : -4]


def exposed(data: bytes | str, secrets: list[str]) -> list[str]:
    """The keys among `secrets` whose hidden part `data` holds."""
    text = data if isinstance(data, str) else data.decode("latin-1")
    return [s for s in secrets if unseen(s) in text]


def altered(secret: str, at: int) -> str:
    """`secret` with the character at `at` changed to another one of the same alphabet, so that
    the result is still well formed."""
    i = at % len(secret)
    alphabet = BASE32 if i < len("ahk_") + 12 else BASE64URL
    return secret[:i] + alphabet[(alphabet.index(secret[i]) + 1) % len(alphabet)] + secret[i + 1 :]


class KeptAlive:
    """One kept-alive connection that sends the same key on every request."""

    def __init__(self, server: Server, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HANG_GUARD)
        self.key = key

    def get(self, path: str) -> Response:
        self.conn.request("GET", path, headers={"Authorization": f"Bearer {self.key}"})
        return from_http_client(self.conn.getresponse())

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def member(people: dict[str, Someone]) -> Someone:
    return people["member"]


# --- presenting a key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"x-api-key": ""}, "missing_api_key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_api_key"),
        ({"Authorization": "Bearer"}, "invalid_api_key"),
        ({"Authorization": "Bearer sk-proj-0123456789abcdefghij"}, "invalid_api_key"),
        ({"Authorization": "Bearer ahk_short"}, "invalid_api_key"),
        ({"Authorization": "Bearer ahk_" + "a" * 10_240}, "invalid_api_key"),
        ({"Authorization": "Bearer ahk_' OR 1=1 --"}, "invalid_api_key"),
        ({"Authorization": "Bearer ahk_aaaaaaaaaaaa_' OR ''='"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {UNKNOWN_KEY}"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {UNKNOWN_KEY[:-1]}"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {UNKNOWN_KEY}A"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {UNKNOWN_KEY.upper()}"}, "invalid_api_key"),
        ({"x-api-key": UNKNOWN_KEY}, "invalid_api_key"),
        ({"x-api-key": "ahk_' OR '1'='1"}, "invalid_api_key"),
    ],
    ids=lambda value: repr(value)[:60],
)
def test_refused_keys_open_nothing(server: Server, headers: dict[str, str], code: str) -> None:
    for path in KEYED_ROUTES:
        answer = api(server, "GET", path, key=None, headers=headers)

        refused(answer, code)
        assert len(answer.body) < 300, "the answer does not echo the key"
    assert ok(me(server))["role"] == "owner"


def test_a_key_of_another_installation_is_refused(tmp_path: Path, server: Server) -> None:
    with Hub(tmp_path / "elsewhere") as elsewhere:
        first = elsewhere.bootstrap()
        assert first is not None
        assert ok(me(serve(elsewhere), first.key.secret))["role"] == "owner"

    refused(me(server, first.key.secret), "invalid_api_key")


@pytest.mark.parametrize("at", [4, 15, 17, 40, -1])
def test_an_altered_key_takes_the_path_of_an_unknown_key(
    server: Server, member: Someone, at: int
) -> None:
    # Comparing digests in constant time cannot be measured reliably here; what can be checked
    # is that a near miss is treated exactly like any unknown key.
    changed = altered(member.key.secret, at)
    assert KEY_FORMAT.fullmatch(changed) and changed != member.key.secret

    answer = me(server, changed)

    refused(answer, "invalid_api_key")
    assert answer.json() == me(server, UNKNOWN_KEY).json()
    assert ok(me(server, member.key.secret))["user"]["id"] == member.user.id


def test_x_api_key_works_like_a_bearer_token(server: Server, member: Someone) -> None:
    secret = member.key.secret

    assert ok(me(server, None, **{"x-api-key": secret}))["user"]["id"] == member.user.id
    assert ok(me(server, secret, **{"x-api-key": secret}))["user"]["id"] == member.user.id
    assert ok(me(server, None, Authorization=f"bearer  {secret}"))["key"]["id"] == member.key.id


def test_two_different_keys_in_one_request_are_refused(
    server: Server, people: dict[str, Someone]
) -> None:
    member, owner = people["member"].key.secret, people["owner"].key.secret

    for bearer, api_key in [(member, owner), (owner, member), (owner, UNKNOWN_KEY)]:
        for path in KEYED_ROUTES:
            answer = api(server, "GET", path, key=bearer, headers={"x-api-key": api_key})
            refused(answer, "invalid_api_key")


@pytest.mark.parametrize("name", ["key", "api_key", "access_token", "token"])
def test_a_key_in_the_query_string_is_refused_and_not_logged(
    start_server: StartServer, owner: Bootstrap, tmp_path: Path, name: str
) -> None:
    log = tmp_path / "access.log"
    server = start_server(access_log=log)
    secret = owner.key.secret
    paths = [
        f"{route}{query}"
        for route in ["/api/me", "/api/admin/providers"]
        for query in [f"?{name}={secret}", f"?limit=5&{name}={secret}"]
    ]

    for path in paths:
        refused(api(server, "GET", path), "invalid_api_key")
        refused(api(server, "GET", path, key=None), "invalid_api_key")
    server.stop()

    text = log.read_text(encoding="utf-8")
    assert exposed(text, [secret]) == []
    assert "?" not in text
    assert text.count('"msg":"access"') == 2 * len(paths)


# --- changes on the very next request --------------------------------------------------------


@pytest.mark.parametrize("by", ["owner over http", "python", "itself over http"])
def test_a_revoked_key_is_refused_on_the_next_request(
    hub: Hub, server: Server, member: Someone, by: str
) -> None:
    spare = hub.keys.create(member.user, name="spare")
    client = KeptAlive(server, member.key.secret)
    try:
        assert client.get("/api/me").status == 200
        if by == "python":
            revoked = dataclasses.asdict(hub.keys.revoke(member.key))
        else:
            key: KeyChoice = OWNER if by == "owner over http" else member.key.secret
            revoked = ok(admin(server, "DELETE", f"/keys/{member.key.id}", key=key))

        assert revoked["active"] is False and revoked["revoked_at"] is not None
        refused(client.get("/api/me"), "invalid_api_key")
        refused(client.get("/api/admin/keys"), "invalid_api_key")
    finally:
        client.close()
    refused(me(server, member.key.secret, **{"x-api-key": member.key.secret}), "invalid_api_key")
    assert ok(me(server, spare.secret))["user"]["id"] == member.user.id


def test_disabling_a_user_refuses_all_their_keys_at_once(
    hub: Hub, server: Server, people: dict[str, Someone]
) -> None:
    member = people["member"]
    spare = hub.keys.create(member.user, name="spare")
    client = KeptAlive(server, member.key.secret)
    try:
        assert client.get("/api/me").status == 200
        disable = {"disabled": True}
        path = f"/users/{member.user.id}"
        assert ok(admin(server, "PATCH", path, disable, key=people["admin"].key.secret))["disabled"]

        refused(client.get("/api/me"), "invalid_api_key")
        refused(me(server, spare.secret), "invalid_api_key")
        assert ok(me(server, people["other"].key.secret))["role"] == "member"

        hub.users.update(member.user, disabled=False)
        assert client.get("/api/me").status == 200
        assert me(server, spare.secret).status == 200
    finally:
        client.close()


def test_a_role_change_applies_to_the_next_request(
    hub: Hub, server: Server, people: dict[str, Someone]
) -> None:
    key = people["admin"].key.secret
    user = people["admin"].user
    assert admin(server, "GET", "/providers", key=key).status == 200

    ok(admin(server, "PATCH", f"/users/{user.id}", {"role": "member"}))

    assert_json_error(admin(server, "GET", "/providers", key=key), 403, "forbidden")
    assert_json_error(admin(server, "GET", "/users", key=key), 403, "forbidden")
    assert ok(me(server, key))["role"] == "member"
    hub.users.update(user, role="admin")
    assert admin(server, "GET", "/providers", key=key).status == 200


@pytest.mark.slow
def test_an_expired_key_is_refused(hub: Hub, server: Server, member: Someone) -> None:
    brief = hub.keys.create(member.user, name="brief", expires=dt.timedelta(seconds=2))
    assert ok(me(server, brief.secret))["key"]["active"] is True

    assert wait_until(lambda: me(server, brief.secret).status == 401, within=HANG_GUARD)

    refused(me(server, brief.secret), "expired_api_key")
    assert hub.keys.get(brief.id).active is False
    assert ok(me(server, member.key.secret))["key"]["active"] is True


# --- request rates ---------------------------------------------------------------------------


def test_a_key_over_its_rpm_gets_429_with_retry_after(hub: Hub, server: Server) -> None:
    limited = person(hub, "admin", rpm=3)
    spare = hub.keys.create(limited.user, name="spare")
    assert [me(server, limited.key.secret).status for _ in range(3)] == [200] * 3

    for answer in [
        me(server, limited.key.secret),
        admin(server, "GET", "/providers", key=limited.key.secret),
    ]:
        assert_json_error(answer, 429, "rate_limit_exceeded")
        assert answer.json()["error"]["type"] == "rate_limit_error"
        assert 1 <= int(answer.headers["retry-after"]) <= 20, answer.headers
        assert "www-authenticate" not in answer.headers

    assert me(server, spare.secret).status == 200, "the limit is the key's, not the user's"
    assert me(server).status == 200


@pytest.mark.slow
def test_a_spent_rpm_bucket_refills(hub: Hub, server: Server) -> None:
    limited = person(hub, "member", rpm=60)  # one request back every second
    spent = 0
    while (answer := me(server, limited.key.secret)).status == 200 and spent < 1000:
        spent += 1

    assert_json_error(answer, 429, "rate_limit_exceeded")
    assert spent >= 60, "the bucket starts full"
    assert answer.headers["retry-after"] == "1"
    assert wait_until(lambda: me(server, limited.key.secret).status == 200, within=HANG_GUARD)


# --- last use --------------------------------------------------------------------------------


def test_last_use_is_written_when_the_server_stops(
    hub: Hub, start_server: StartServer, people: dict[str, Someone]
) -> None:
    used, unused = people["member"], people["other"]
    server = start_server()
    assert me(server, used.key.secret).status == 200
    refused(me(server, altered(unused.key.secret, -1)), "invalid_api_key")

    server.stop()

    key = hub.keys.get(used.key.id)
    assert key.last_used_at is not None
    assert key.created_at <= key.last_used_at
    assert hub.keys.get(unused.key.id).last_used_at is None
    with Hub(hub.data_dir) as reopened:
        assert reopened.keys.get(used.key.id).last_used_at == key.last_used_at


# --- keys across restarts and other hubs ------------------------------------------------------


def test_keys_survive_a_reopen_and_a_master_key_rotation(data_dir: Path) -> None:
    with Hub(data_dir) as hub:
        first = hub.bootstrap()
        assert first is not None
        member = person(hub, "member")
        server = serve(hub)
        hub.rotate_master_key()
        assert ok(me(server, member.key.secret))["role"] == "member"
        hub.rotate_master_key()

    with Hub(data_dir) as hub:
        server = serve(hub)
        assert ok(me(server, member.key.secret))["role"] == "member"
        assert ok(me(server, first.key.secret))["role"] == "owner"


@pytest.mark.parametrize("change", ["revoke", "disable", "create"])
def test_changes_through_another_hub_reach_a_running_server(
    data_dir: Path, server: Server, member: Someone, change: str
) -> None:
    assert me(server, member.key.secret).status == 200
    with Hub(data_dir) as other:
        if change == "revoke":
            other.keys.revoke(member.key)
        elif change == "disable":
            other.users.update(member.user, disabled=True)
        else:
            created = other.keys.create(member.user, name="from the cli")

    # A running server polls for such changes every second; this waits for at most the guard.
    if change == "create":
        assert wait_until(lambda: me(server, created.secret).status == 200)
    else:
        assert wait_until(lambda: me(server, member.key.secret).status == 401)
        refused(me(server, member.key.secret), "invalid_api_key")


# --- the canary ------------------------------------------------------------------------------


def test_keys_never_leak(
    hub: Hub, start_server: StartServer, owner: Bootstrap, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    server = start_server(access_log=log)
    secrets = [owner.key.secret]
    answers: list[Response] = []  # every answer but the creations'
    creations: list[Response] = []

    def call(
        method: str, path: str, body: Any = None, key: KeyChoice = OWNER, **headers: str
    ) -> Response:
        answer = api(server, method, path, body, key=key, headers=headers)
        answers.append(answer)
        return answer

    def new_key(body: Mapping[str, Any], key: KeyChoice = OWNER) -> str:
        answer = api(server, "POST", "/api/admin/keys", dict(body), key=key)
        assert answer.status == 201, answer
        creations.append(answer)
        secrets.append(answer.json()["secret"])
        return secrets[-1]

    user = ok(call("POST", "/api/admin/users", {"display_name": "Canary"}), 201)
    first = new_key({"user_id": user["id"], "name": "first"})
    second = new_key({"name": "second"}, key=first)
    limited = new_key({"user_id": user["id"], "name": "limited", "rpm": 1})
    secrets.append(hub.keys.create(user["id"], name="python").secret)
    third = secrets[-1]
    # Normal use.
    for key in secrets:
        call("GET", "/api/me", key=key)
    second_id = creations[1].json()["id"]
    call("GET", "/api/admin/keys", key=first)
    call("GET", f"/api/admin/keys/{second_id}", key=second)
    call("PATCH", f"/api/admin/keys/{second_id}", {"app": "canary"}, key=second)
    call("GET", "/api/admin/keys")
    call("GET", "/api/admin/users")
    assert call("GET", "/api/me", key=limited).status == 429
    # Refusals that carry a key.
    for name in ["key", "api_key", "access_token", "token"]:
        assert call("GET", f"/api/me?{name}={first}", key=first).status == 401
    assert call("GET", "/api/me", key=first, **{"x-api-key": second}).status == 401
    assert call("GET", "/api/me", key=None, Authorization=f"Basic {first}").status == 401
    assert call("GET", "/api/me", key=first + "x").status == 401
    assert call("GET", "/api/me", key=altered(first, 30)).status == 401
    assert call("GET", "/api/admin/providers", key=first).status == 403
    assert call("GET", "/api/admin/users", key=first).status == 403
    for body in [
        {"name": "k", "colour": first},
        {"name": "k", "expires_at": first},
        {"name": "k", "models": [first + " x"]},
        {"name": first + "\n"},
        {"name": "k", "rpm": first},
        {"name": "k", "app": first * 2},
    ]:
        assert call("POST", "/api/admin/keys", body).status == 400
    bad_json = b'{"name": "' + first.encode()
    assert call("POST", "/api/admin/keys", bad_json).status == 400
    assert call("PATCH", f"/api/admin/keys/{owner.key.id}", {"name": "x"}, key=third).status == 404
    call("DELETE", f"/api/admin/keys/{creations[0].json()['id']}")
    assert call("GET", "/api/me", key=first).status == 401
    server.stop()
    data_dir = hub.data_dir
    hub.close()

    assert exposed(creations[0].body, secrets) == [first], "the scan finds a key where it is"
    for answer in creations:
        made = answer.json()
        assert answer.body.count(made.pop("secret").encode()) == 1
        assert exposed(json.dumps(made), secrets) == []
    for answer in answers:
        assert exposed(answer.body, secrets) == [], answer
    text = log.read_text(encoding="utf-8")
    assert exposed(text, secrets) == []
    assert text.count('"msg":"access"') == len(answers) + len(creations)
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert exposed(path.read_bytes(), secrets) == [], path
