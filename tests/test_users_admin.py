"""Users, roles and access keys as the admin API and the Python API manage them: the one-time
bootstrap, the shapes, who may do what (owners and admins everything, members their own keys),
no way above one's own role, and the errors (400 naming the field, 404, 409)."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import aignehub
from aignehub import AccessKey, Bootstrap, Hub, Server, User
from conftest import (
    KEY_FORMAT,
    Someone,
    admin,
    api,
    assert_json_error,
    listing,
    ok,
    serve,
)

Body = dict[str, Any]
USER_FIELDS = {f.name for f in dataclasses.fields(User)}
KEY_FIELDS = {f.name for f in dataclasses.fields(AccessKey)}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def ids_of(people: Mapping[str, Someone]) -> dict[str, int]:
    """Each person's user id by name, and their key's id as NAME_key."""
    ids = {name: p.user.id for name, p in people.items()}
    return ids | {f"{name}_key": p.key.id for name, p in people.items()}


def fill(template: Any, ids: Mapping[str, int]) -> Any:
    """`template` with "{name}" placeholders replaced by ids: a whole "{name}" value becomes the
    number, a placeholder inside a longer string is formatted in."""
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    if isinstance(template, str):
        whole = re.fullmatch(r"\{(\w+)\}", template)
        return ids[whole[1]] if whole else template.format(**ids)
    return template


def assert_key_metadata(key: Mapping[str, Any], secret: str) -> None:
    """The metadata of the key `secret`: every field, a prefix and hint that show only the
    prefix and the last four characters, and the key itself nowhere."""
    assert set(key) == KEY_FIELDS
    prefix = KEY_FORMAT.fullmatch(secret)
    assert prefix is not None, secret
    assert key["prefix"] == f"ahk_{prefix['prefix']}"
    assert key["hint"] == f"ahk_{prefix['prefix']}_...{secret[-4:]}"
    assert secret[len("ahk_") + 13 : -4] not in repr(key)
    assert TIME.fullmatch(key["created_at"])


def snapshot(hub: Hub) -> tuple[list[User], list[AccessKey]]:
    """Everything a refused request must leave as it was."""
    return hub.users.list(), hub.keys.list()


# --- bootstrap -------------------------------------------------------------------------------


def test_bootstrap_makes_one_owner_and_one_key_once(data_dir: Path) -> None:
    with Hub(data_dir) as hub:
        first = hub.bootstrap()
        assert first is not None
        assert hub.bootstrap() is None
        server = serve(hub)

        assert (first.user.role, first.user.disabled) == ("owner", False)
        assert first.key.user_id == first.user.id and first.key.active
        assert first.key.secret not in repr(first)
        assert hub.users.list() == [first.user]
        [stored] = hub.keys.list()
        assert_key_metadata(dataclasses.asdict(stored), first.key.secret)
        assert dataclasses.asdict(stored) == {
            k: v for k, v in dataclasses.asdict(first.key).items() if k != "secret"
        }
        me = ok(api(server, "GET", "/api/me", key=first.key.secret))
        assert (me["role"], me["user"]["id"]) == ("owner", first.user.id)
        assert me["key"]["id"] == first.key.id

    with Hub(data_dir) as hub:
        assert hub.bootstrap() is None
        assert hub.users.list() == [first.user]
        assert ok(api(serve(hub), "GET", "/api/me", key=first.key.secret))["role"] == "owner"


def test_no_bootstrap_once_a_user_exists(hub: Hub) -> None:
    hub.users.add("Early")

    assert hub.bootstrap() is None
    assert [u.role for u in hub.users.list()] == ["member"]
    assert hub.keys.list() == []


@pytest.mark.parametrize("hubs", [1, 2], ids=["one hub", "two hubs"])
def test_concurrent_bootstraps_make_one_owner(data_dir: Path, hubs: int) -> None:
    with Hub(data_dir) as first, Hub(data_dir) as second:
        racers = [first, second if hubs == 2 else first]
        start = threading.Barrier(len(racers))
        results: list[Bootstrap | BaseException | None] = []

        def race(hub: Hub) -> None:
            start.wait()
            try:
                results.append(hub.bootstrap())
            except BaseException as error:
                results.append(error)

        threads = [threading.Thread(target=race, args=(hub,)) for hub in racers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        made = [r for r in results if isinstance(r, Bootstrap)]
        assert len(made) == 1 and results.count(None) == 1, results
        assert second.users.list() == [made[0].user]
        assert [k.id for k in second.keys.list()] == [made[0].key.id]


def test_keys_have_the_documented_format_and_differ(hub: Hub, owner: Bootstrap) -> None:
    created = [hub.keys.create(owner.user, name=f"k{i}") for i in range(20)]

    for key in created:
        assert KEY_FORMAT.fullmatch(key.secret), key.secret
        assert_key_metadata(dataclasses.asdict(hub.keys.get(key.id)), key.secret)
        assert key.secret not in repr(key)
    secrets = [k.secret for k in created]
    assert len(set(secrets)) == len(secrets)
    assert len({k.prefix for k in created}) == len(created)


# --- users -----------------------------------------------------------------------------------


def test_user_lifecycle_over_http(hub: Hub, server: Server) -> None:
    body = {
        "display_name": "Ada",
        "email": "Ada@Example.com",
        "external_subject": "https://idp.example.com|ada",
        "role": "admin",
    }
    created = ok(admin(server, "POST", "/users", body), 201)
    one = f"/users/{created['id']}"

    assert set(created) == USER_FIELDS
    assert created["email"] == "ada@example.com"
    assert (created["role"], created["disabled"]) == ("admin", False)
    assert ok(admin(server, "GET", one)) == created
    assert User(**created) == hub.users.get(created["id"])
    assert listing(admin(server, "GET", "/users")) == [
        dataclasses.asdict(u) for u in hub.users.list()
    ]
    patched = ok(
        admin(
            server,
            "PATCH",
            one,
            {"display_name": "Ada L.", "email": None, "external_subject": None, "disabled": True},
        )
    )
    assert (patched["display_name"], patched["email"], patched["external_subject"]) == (
        "Ada L.",
        None,
        None,
    )
    assert patched["disabled"] is True
    assert patched["updated_at"] >= created["updated_at"]
    hub.users.update(created["id"], role="member", disabled=False)
    assert ok(admin(server, "GET", one))["role"] == "member"


def test_a_new_user_is_a_member(hub: Hub, server: Server) -> None:
    assert ok(admin(server, "POST", "/users", {"display_name": "Bo"}), 201)["role"] == "member"
    assert hub.users.add("Cy").role == "member"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": ""}, "display_name"),
        ({"display_name": "two\nlines"}, "display_name"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"display_name": 5}, "display_name"),
        ({"display_name": "x", "role": "system"}, "role"),
        ({"display_name": "x", "role": "superuser"}, "role"),
        ({"display_name": "x", "role": "Owner"}, "role"),
        ({"display_name": "x", "email": "nobody"}, "email"),
        ({"display_name": "x", "email": "a b@example.com"}, "email"),
        ({"display_name": "x", "email": "@example.com"}, "email"),
        ({"display_name": "x", "disabled": "yes"}, "disabled"),
    ],
    ids=repr,
)
def test_bad_users_are_refused(hub: Hub, server: Server, body: Body, field: str) -> None:
    before = snapshot(hub)

    with pytest.raises(aignehub.InvalidInput) as raised:
        hub.users.add(**body)
    answer = admin(server, "POST", "/users", body)

    assert raised.value.field == field
    assert_json_error(answer, 400, "invalid_value", param=field)
    assert snapshot(hub) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/users", {}, "display_name"),
        ("POST", "/users", {"display_name": "x", "id": 1}, "id"),
        ("POST", "/users", {"display_name": "x", "is_admin": True}, "is_admin"),
        ("PATCH", "/users/{member}", {"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ("PATCH", "/users/{member}", {"keys": []}, "keys"),
        ("PATCH", "/users/{member}", {"role": "system"}, "role"),
        ("POST", "/keys", {"name": "k", "role": "owner"}, "role"),
        ("POST", "/keys", {"name": "k", "secret": "ahk_chosen"}, "secret"),
        ("POST", "/keys", {"name": "k", "active": True}, "active"),
        ("POST", "/keys", {"user_id": "{member}"}, "name"),
        ("POST", "/keys", {"user_id": "{member}", "name": ""}, "name"),
        ("POST", "/keys", {"user_id": "1", "name": "k"}, "user_id"),
        ("PATCH", "/keys/{member_key}", {"user_id": "{owner}"}, "user_id"),
        ("PATCH", "/keys/{member_key}", {"revoked_at": None}, "revoked_at"),
        ("PATCH", "/keys/{member_key}", {"prefix": "ahk_aaaaaaaaaaaa"}, "prefix"),
        ("PATCH", "/keys/{member_key}", {"last_used_at": None}, "last_used_at"),
        ("POST", "/users", b"[]", "body"),
        ("POST", "/keys", b'{"name": ', "body"),
        ("PATCH", "/keys/{member_key}", b'"name"', "body"),
    ],
    ids=repr,
)
def test_unknown_or_bad_fields_are_named(
    hub: Hub,
    server: Server,
    people: dict[str, Someone],
    method: str,
    path: str,
    body: Body | bytes,
    field: str,
) -> None:
    ids = ids_of(people)
    before = snapshot(hub)

    answer = admin(server, method, fill(path, ids), fill(body, ids))

    assert_json_error(answer, 400, "invalid_value", param=field)
    assert snapshot(hub) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "k", "app": "x" * 101}, "app"),
        ({"name": "k", "rpm": 0}, "rpm"),
        ({"name": "k", "rpm": 1.5}, "rpm"),
        ({"name": "k", "rpm": "60"}, "rpm"),
        ({"name": "k", "tpm": -1}, "tpm"),
        ({"name": "k", "tpm": 10**12}, "tpm"),
        ({"name": "k", "models": ["gpt 4o"]}, "models"),
        ({"name": "k", "models": [""]}, "models"),
        ({"name": "k", "models": ["m"] * 101}, "models"),
        ({"name": "k", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "k", "expires_at": "2099-01-01T00:00:00+02:00"}, "expires_at"),
    ],
    ids=repr,
)
def test_bad_keys_are_refused(
    hub: Hub, server: Server, people: dict[str, Someone], body: Body, field: str
) -> None:
    member = people["member"].user
    before = snapshot(hub)
    python_body = {("expires" if k == "expires_at" else k): v for k, v in body.items()}

    with pytest.raises(aignehub.InvalidInput) as raised:
        hub.keys.create(member, **python_body)
    answer = admin(server, "POST", "/keys", {"user_id": member.id, **body})
    patched = admin(server, "PATCH", f"/keys/{people['member'].key.id}", body)

    assert raised.value.field == field
    assert_json_error(answer, 400, "invalid_value", param=field)
    assert_json_error(patched, 400, "invalid_value", param=field)
    assert snapshot(hub) == before


def test_a_bare_string_is_not_a_model_list(hub: Hub, owner: Bootstrap) -> None:
    with pytest.raises(aignehub.InvalidInput) as raised:
        hub.keys.create(owner.user, name="k", models="gpt-4o")
    assert raised.value.field == "models"


def test_duplicate_email_or_subject_conflicts(hub: Hub, server: Server) -> None:
    ada = hub.users.add("Ada", email="ada@example.com", external_subject="idp|ada")
    before = snapshot(hub)

    with pytest.raises(aignehub.ConflictError):
        hub.users.add("Ada 2", email="ADA@example.com")
    with pytest.raises(aignehub.ConflictError):
        hub.users.add("Ada 3", external_subject="idp|ada")
    other = hub.users.add("Bo", email="bo@example.com")
    for method, path, body in [
        ("POST", "/users", {"display_name": "Ada 2", "email": "Ada@Example.COM"}),
        ("POST", "/users", {"display_name": "Ada 3", "external_subject": "idp|ada"}),
        ("PATCH", f"/users/{other.id}", {"email": "ada@example.com"}),
        ("PATCH", f"/users/{other.id}", {"external_subject": "idp|ada"}),
    ]:
        assert_json_error(admin(server, method, path, body), 409, "conflict")

    assert hub.users.list() == [*before[0], other]
    assert hub.users.get(ada.id) == ada


def test_the_last_owner_stays(hub: Hub, server: Server, people: dict[str, Someone]) -> None:
    first = people["owner"].user
    for change in ({"role": "admin"}, {"role": "member"}, {"disabled": True}):
        with pytest.raises(aignehub.ConflictError):
            hub.users.update(first, **change)
        assert_json_error(admin(server, "PATCH", f"/users/{first.id}", change), 409, "conflict")
    assert hub.users.get(first.id) == first

    second = hub.users.add("Second owner", role="owner")
    hub.users.update(second, disabled=True)
    assert_json_error(
        admin(server, "PATCH", f"/users/{first.id}", {"role": "admin"}), 409, "conflict"
    )

    hub.users.update(second, disabled=False)
    demoted = ok(admin(server, "PATCH", f"/users/{first.id}", {"role": "admin"}))
    assert demoted["role"] == "admin"
    with pytest.raises(aignehub.ConflictError):
        hub.users.update(second, role="member")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users/999", None),
        ("PATCH", "/users/999", {"display_name": "x"}),
        ("GET", "/users/abc", None),
        ("GET", "/users/0", None),
        ("GET", "/users/-1", None),
        ("GET", "/keys/999", None),
        ("PATCH", "/keys/999", {"name": "x"}),
        ("DELETE", "/keys/999", None),
        ("GET", "/keys/1x", None),
        ("GET", "/keys?user_id=x", None),
        ("POST", "/keys", {"user_id": 999, "name": "k"}),
    ],
)
def test_unknown_ids_are_not_found(
    hub: Hub, server: Server, method: str, path: str, body: Body | None
) -> None:
    before = snapshot(hub)

    assert_json_error(admin(server, method, path, body), 404, "not_found")
    assert snapshot(hub) == before


def test_error_classes() -> None:
    assert issubclass(aignehub.NotFoundError, LookupError)
    assert issubclass(aignehub.ForbiddenError, PermissionError)
    assert issubclass(aignehub.ConflictError, aignehub.AignehubError)


@pytest.mark.parametrize(
    "call",
    [
        lambda hub: hub.users.get(999),
        lambda hub: hub.users.update(999, display_name="x"),
        lambda hub: hub.keys.get(999),
        lambda hub: hub.keys.update(999, name="x"),
        lambda hub: hub.keys.revoke(999),
        lambda hub: hub.keys.create(999, name="x"),
    ],
)
def test_unknown_ids_raise_not_found(
    hub: Hub, owner: Bootstrap, call: Callable[[Hub], object]
) -> None:
    with pytest.raises(aignehub.NotFoundError):
        call(hub)


# --- keys ------------------------------------------------------------------------------------


def test_key_lifecycle_over_http(hub: Hub, server: Server) -> None:
    user = hub.users.add("Dee")
    body = {
        "user_id": user.id,
        "name": "ci",
        "app": "ci-bot",
        "models": ["openai/*", "gpt-4o"],
        "rpm": 100,
        "tpm": 5000,
        "expires_at": "2099-01-31T00:00:00Z",
    }
    created = ok(admin(server, "POST", "/keys", body), 201)
    secret = created.pop("secret")
    one = f"/keys/{created['id']}"

    assert_key_metadata(created, secret)
    assert {k: created[k] for k in body} == {**body, "expires_at": "2099-01-31T00:00:00.000Z"}
    assert (created["active"], created["revoked_at"], created["last_used_at"]) == (True, None, None)
    assert ok(admin(server, "GET", one)) == created
    assert AccessKey(**created) == hub.keys.get(created["id"])
    assert listing(admin(server, "GET", f"/keys?user_id={user.id}")) == [created]
    everyone = listing(admin(server, "GET", "/keys"))
    assert [k["id"] for k in everyone] == [k.id for k in hub.keys.list()]

    patched = ok(admin(server, "PATCH", one, {"name": "ci-2", "rpm": None, "models": None}))
    assert (patched["name"], patched["rpm"], patched["models"], patched["tpm"]) == (
        "ci-2",
        None,
        None,
        5000,
    )
    revoked = ok(admin(server, "DELETE", one))
    assert revoked["active"] is False and TIME.fullmatch(revoked["revoked_at"])
    assert ok(admin(server, "DELETE", one)) == revoked, "revoking again changes nothing"
    assert hub.keys.get(created["id"]) == AccessKey(**revoked)


def test_a_key_without_user_id_is_the_callers(
    hub: Hub, server: Server, people: dict[str, Someone]
) -> None:
    for name in ("owner", "admin", "member"):
        created = ok(
            admin(server, "POST", "/keys", {"name": "mine"}, key=people[name].key.secret), 201
        )
        assert created["user_id"] == people[name].user.id


def test_keys_through_python(hub: Hub, owner: Bootstrap) -> None:
    key = hub.keys.create(
        owner.user,
        name="py",
        app="nb",
        models=["anthropic/*"],
        rpm=5,
        tpm=50,
        expires="2099-06-01T12:00:00Z",
    )

    updated = hub.keys.update(key, name="py-2", tpm=60)
    revoked = hub.keys.revoke(key.id)

    assert (updated.name, updated.app, updated.models, updated.rpm, updated.tpm) == (
        "py-2",
        "nb",
        ["anthropic/*"],
        5,
        60,
    )
    assert updated.expires_at == "2099-06-01T12:00:00.000Z"
    assert revoked.revoked_at is not None and not revoked.active
    assert hub.keys.get(key.id) == revoked
    assert [k.id for k in hub.keys.list(owner.user)] == [owner.key.id, key.id]


# --- who may do what -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["owner", "admin", "member"])
def test_me_describes_the_caller(
    hub: Hub, server: Server, people: dict[str, Someone], name: str
) -> None:
    someone = people[name]
    second = hub.keys.create(someone.user, name="second")

    me = ok(api(server, "GET", "/api/me", key=someone.key.secret))

    assert set(me) == {"user", "role", "key", "keys"}
    assert me["user"] == dataclasses.asdict(hub.users.get(someone.user.id))
    assert me["role"] == someone.user.role == name
    assert [k["id"] for k in me["keys"]] == [someone.key.id, second.id]
    assert me["key"] == me["keys"][0]
    for key, secret in zip(me["keys"], [someone.key.secret, second.secret], strict=True):
        assert_key_metadata(key, secret)
    assert b"secret" not in api(server, "GET", "/api/me", key=someone.key.secret).body


# (method, path, body, status, code) for a member; "{name}" is that person's id.
MEMBER_REFUSED = [
    ("GET", "/users", None, 403, "forbidden"),
    ("POST", "/users", {"display_name": "x"}, 403, "forbidden"),
    ("GET", "/users/{other}", None, 404, "not_found"),
    ("GET", "/users/{owner}", None, 404, "not_found"),
    ("PATCH", "/users/{member}", {"role": "owner"}, 403, "forbidden"),
    ("PATCH", "/users/{member}", {"role": "admin"}, 403, "forbidden"),
    ("PATCH", "/users/{member}", {"disabled": False}, 403, "forbidden"),
    ("PATCH", "/users/{other}", {"disabled": True}, 403, "forbidden"),
    ("GET", "/keys?user_id={other}", None, 404, "not_found"),
    ("GET", "/keys/{other_key}", None, 404, "not_found"),
    ("GET", "/keys/{owner_key}", None, 404, "not_found"),
    ("PATCH", "/keys/{other_key}", {"rpm": 1}, 404, "not_found"),
    ("DELETE", "/keys/{other_key}", None, 404, "not_found"),
    ("DELETE", "/keys/{owner_key}", None, 404, "not_found"),
    ("POST", "/keys", {"user_id": "{other}", "name": "k"}, 403, "forbidden"),
    ("POST", "/keys", {"user_id": "{owner}", "name": "k"}, 403, "forbidden"),
    ("GET", "/catalogue", None, 403, "forbidden"),
    ("GET", "/providers", None, 403, "forbidden"),
    ("POST", "/providers", {"kind": "ollama", "validate": False}, 403, "forbidden"),
]
# The same for an admin: nothing that reaches or makes an owner.
ADMIN_REFUSED = [
    ("POST", "/users", {"display_name": "x", "role": "owner"}, 403, "forbidden"),
    ("PATCH", "/users/{admin}", {"role": "owner"}, 403, "forbidden"),
    ("PATCH", "/users/{member}", {"role": "owner"}, 403, "forbidden"),
    ("PATCH", "/users/{owner}", {"display_name": "x"}, 403, "forbidden"),
    ("PATCH", "/users/{owner}", {"role": "member"}, 403, "forbidden"),
    ("PATCH", "/users/{owner}", {"disabled": True}, 403, "forbidden"),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "status", "code"),
    [("member", *case) for case in MEMBER_REFUSED] + [("admin", *case) for case in ADMIN_REFUSED],
    ids=repr,
)
def test_refused_actions_change_nothing(
    hub: Hub,
    server: Server,
    people: dict[str, Someone],
    name: str,
    method: str,
    path: str,
    body: Body | None,
    status: int,
    code: str,
) -> None:
    ids = ids_of(people)
    before = snapshot(hub)

    answer = admin(server, method, fill(path, ids), fill(body, ids), key=people[name].key.secret)

    assert_json_error(answer, status, code)
    assert snapshot(hub) == before
    assert hub.providers.list() == []
    for someone in people.values():
        assert (
            ok(api(server, "GET", "/api/me", key=someone.key.secret))["role"] == someone.user.role
        )


def test_a_member_manages_only_their_own_keys(server: Server, people: dict[str, Someone]) -> None:
    member, mine = people["member"], people["member"].key.secret

    created = ok(admin(server, "POST", "/keys", {"name": "laptop", "rpm": 10}, key=mine), 201)
    assert created["user_id"] == member.user.id
    assert ok(admin(server, "GET", f"/users/{member.user.id}", key=mine)) == dataclasses.asdict(
        member.user
    )
    own = [member.key.id, created["id"]]
    assert [k["id"] for k in listing(admin(server, "GET", "/keys", key=mine))] == own
    path = f"/keys?user_id={member.user.id}"
    assert [k["id"] for k in listing(admin(server, "GET", path, key=mine))] == own
    one = f"/keys/{created['id']}"
    assert ok(admin(server, "PATCH", one, {"name": "phone"}, key=mine))["name"] == "phone"
    assert ok(admin(server, "DELETE", one, key=mine))["active"] is False
    assert_json_error(api(server, "GET", "/api/me", key=created["secret"]), 401, "invalid_api_key")


def test_an_admin_manages_members_and_admins(
    hub: Hub, server: Server, people: dict[str, Someone]
) -> None:
    key = people["admin"].key.secret
    member = people["member"].user

    added = ok(
        admin(server, "POST", "/users", {"display_name": "A2", "role": "admin"}, key=key), 201
    )
    promoted = ok(admin(server, "PATCH", f"/users/{member.id}", {"role": "admin"}, key=key))
    created = ok(
        admin(server, "POST", "/keys", {"user_id": added["id"], "name": "k"}, key=key), 201
    )
    revoked = ok(admin(server, "DELETE", f"/keys/{people['other'].key.id}", key=key))

    assert (added["role"], promoted["role"]) == ("admin", "admin")
    assert created["user_id"] == added["id"]
    assert revoked["active"] is False
    assert len(listing(admin(server, "GET", "/users", key=key))) == len(hub.users.list())
    assert listing(admin(server, "GET", "/providers", key=key)) == []


def test_an_admin_cannot_make_a_key_for_an_owner(
    hub: Hub, server: Server, people: dict[str, Someone]
) -> None:
    body = {"user_id": people["owner"].user.id, "name": "borrowed"}

    answer = admin(server, "POST", "/keys", body, key=people["admin"].key.secret)

    assert_json_error(answer, 403, "forbidden")
    assert [k.id for k in hub.keys.list(people["owner"].user)] == [people["owner"].key.id]
