"""Rules at the edges of the user and key API: ranks over other users' keys, query filters and
fields that cannot be cleared."""

from __future__ import annotations

from aignehub import Server
from conftest import Someone, api, assert_json_error, listing


def test_an_admin_cannot_change_or_revoke_an_owners_keys(
    server: Server, people: dict[str, Someone]
) -> None:
    owner_key = people["owner"].key
    admin = people["admin"].key.secret

    patched = api(server, "PATCH", f"/api/admin/keys/{owner_key.id}", {"rpm": 1}, key=admin)
    revoked = api(server, "DELETE", f"/api/admin/keys/{owner_key.id}", key=admin)
    still = api(server, "GET", "/api/me", key=owner_key.secret)

    assert_json_error(patched, 403, "forbidden")
    assert_json_error(revoked, 403, "forbidden")
    assert still.status == 200


def test_the_user_filter_is_read_wherever_it_stands_in_the_query(
    server: Server, people: dict[str, Someone]
) -> None:
    member = people["member"]

    filtered = listing(api(server, "GET", f"/api/admin/keys?x=1&user_id={member.user.id}"))
    unknown = api(server, "GET", "/api/admin/keys?user_id=999999")

    assert [k["user_id"] for k in filtered] == [member.user.id]
    assert_json_error(unknown, 404, "not_found")


def test_fields_that_cannot_be_cleared_refuse_null(
    server: Server, people: dict[str, Someone]
) -> None:
    member = people["member"]

    user = api(server, "PATCH", f"/api/admin/users/{member.user.id}", {"display_name": None})
    key = api(server, "PATCH", f"/api/admin/keys/{member.key.id}", {"name": None})
    cleared = api(server, "PATCH", f"/api/admin/keys/{member.key.id}", {"rpm": None})

    assert_json_error(user, 400, "invalid_value", param="display_name")
    assert_json_error(key, 400, "invalid_value", param="name")
    assert cleared.status == 200
