"""Users, roles and access keys, from Python. The local operator acts with full rights; every
rule (who may do what, key format, limits) lives in the C++ core."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aignehub import _core
from aignehub._json import given as _given


@dataclass(frozen=True)
class User:
    """A person or application that calls the gateway; `role` is owner, admin or member."""

    id: int
    display_name: str
    email: str | None
    external_subject: str | None
    role: str
    disabled: bool
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class AccessKey:
    """An access key's metadata. The key itself exists only in :attr:`CreatedKey.secret`."""

    id: int
    user_id: int
    name: str
    prefix: str
    hint: str
    app: str
    models: list[str] | None
    rpm: int | None
    tpm: int | None
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None
    created_at: str
    active: bool


@dataclass(frozen=True)
class CreatedKey(AccessKey):
    """A key just created: `secret` (``ahk_...``) is shown this once and never again."""

    secret: str = ""

    def __repr__(self) -> str:
        return f"CreatedKey(id={self.id}, name={self.name!r}, hint={self.hint!r}, secret=...)"


@dataclass(frozen=True)
class Bootstrap:
    """The owner created on first start and its one-time key."""

    user: User
    key: CreatedKey


def _expiry(expires: dt.datetime | dt.timedelta | str | None) -> str | None:
    """An RFC 3339 UTC time from a datetime (naive means UTC), a delay from now, or a string."""
    if expires is None or isinstance(expires, str):
        return expires
    if isinstance(expires, dt.timedelta):
        expires = dt.datetime.now(dt.timezone.utc) + expires
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.timezone.utc)
    return expires.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _models(models: Sequence[str] | None) -> list[str] | None:
    if isinstance(models, str):
        error = _core.InvalidInput("models: must be a list of model names, not one string")
        error.field = "models"
        raise error
    return None if models is None else list(models)


def _user_id(user: User | int) -> int:
    return user.id if isinstance(user, User) else user


class Users:
    """``hub.users``: add, list and change users."""

    def __init__(self, core: Callable[[], _core.Hub]) -> None:
        self._core = core

    def add(
        self,
        display_name: str,
        *,
        email: str | None = None,
        external_subject: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Adds a user (role ``member`` unless given)."""
        body = _given(
            display_name=display_name,
            email=email,
            external_subject=external_subject,
            role=role,
            disabled=disabled,
        )
        return User(**json.loads(self._core().user_add(json.dumps(body))))

    def list(self) -> list[User]:
        """Every user, by id."""
        return [User(**u) for u in json.loads(self._core().users_list())]

    def get(self, id: int) -> User:
        """One user; raises :class:`NotFoundError` when there is none."""
        return User(**json.loads(self._core().user_get(id)))

    def update(
        self,
        user: User | int,
        *,
        display_name: str | None = None,
        email: str | None = None,
        external_subject: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Changes the given fields. The last owner cannot be demoted or disabled."""
        body = _given(
            display_name=display_name,
            email=email,
            external_subject=external_subject,
            role=role,
            disabled=disabled,
        )
        return User(**json.loads(self._core().user_update(_user_id(user), json.dumps(body))))


class Keys:
    """``hub.keys``: create, list, change and revoke access keys."""

    def __init__(self, core: Callable[[], _core.Hub]) -> None:
        self._core = core

    def create(
        self,
        user: User | int,
        *,
        name: str,
        app: str | None = None,
        models: Sequence[str] | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        expires: dt.datetime | dt.timedelta | str | None = None,
    ) -> CreatedKey:
        """Creates a key for `user`; its ``secret`` is returned this once and never stored.

        `models` allows only those models (exact names or ``"provider/*"``), `rpm` and `tpm`
        cap requests and tokens per minute, `expires` ends it (a datetime, a timedelta from now,
        or an RFC 3339 string)."""
        body = _given(
            user_id=_user_id(user),
            name=name,
            app=app,
            models=_models(models),
            rpm=rpm,
            tpm=tpm,
            expires_at=_expiry(expires),
        )
        return CreatedKey(**json.loads(self._core().key_create(json.dumps(body))))

    def list(self, user: User | int | None = None) -> list[AccessKey]:
        """Every key, or the keys of `user`."""
        owner = None if user is None else _user_id(user)
        return [AccessKey(**k) for k in json.loads(self._core().keys_list(owner))]

    def get(self, id: int) -> AccessKey:
        """One key's metadata."""
        return AccessKey(**json.loads(self._core().key_get(id)))

    def update(
        self,
        key: AccessKey | int,
        *,
        name: str | None = None,
        app: str | None = None,
        models: Sequence[str] | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        expires: dt.datetime | dt.timedelta | str | None = None,
    ) -> AccessKey:
        """Changes the given fields."""
        body = _given(
            name=name,
            app=app,
            models=_models(models),
            rpm=rpm,
            tpm=tpm,
            expires_at=_expiry(expires),
        )
        key_id = key.id if isinstance(key, AccessKey) else key
        return AccessKey(**json.loads(self._core().key_update(key_id, json.dumps(body))))

    def revoke(self, key: AccessKey | int) -> AccessKey:
        """Revokes a key; it stops working on the next request."""
        key_id = key.id if isinstance(key, AccessKey) else key
        return AccessKey(**json.loads(self._core().key_revoke(key_id)))


def bootstrap(core: _core.Hub) -> Bootstrap | None:
    """See :meth:`aignehub.Hub.bootstrap`."""
    text = core.bootstrap()
    if text is None:
        return None
    data = json.loads(text)
    return Bootstrap(user=User(**data["user"]), key=CreatedKey(**data["key"]))
