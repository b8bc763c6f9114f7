"""Providers and their credentials, from Python. Every rule lives in the C++ core; this module
turns keyword arguments into the core's JSON and its answers into typed objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aignehub import _core
from aignehub._json import Json as _Json
from aignehub._json import given as _given


@dataclass(frozen=True)
class Credential:
    """One key of a provider. The key itself is never returned: `key_hint` shows at most its
    first and last four characters."""

    id: int
    provider: str
    name: str
    weight: int
    enabled: bool
    source: str
    key_hint: str
    status: str
    status_message: str
    status_code: int | None
    checked_at: str | None
    created_at: str
    updated_at: str

    @classmethod
    def _from(cls, data: _Json) -> Credential:
        return cls(**data)


@dataclass(frozen=True)
class Provider:
    """A configured upstream provider. `status` is derived from its credentials: "Connected",
    "n of N invalid", "Not configured", ..."""

    id: int
    name: str
    kind: str
    display_name: str
    wire: str
    base_url: str
    base_url_is_default: bool
    local: bool
    enabled: bool
    settings: dict[str, Any]
    source: str
    status: str
    created_at: str
    updated_at: str
    credentials: list[Credential] = field(default_factory=list)

    @classmethod
    def _from(cls, data: _Json) -> Provider:
        creds = [Credential._from(c) for c in data.pop("credentials")]
        return cls(credentials=creds, **data)


@dataclass(frozen=True)
class ProviderKind:
    """An entry of the provider catalogue: what aignehub knows about a kind of provider."""

    kind: str
    display_name: str
    wire: str
    default_base_url: str | None
    auth: str
    key_required: bool
    local_by_default: bool
    models_path: str
    check_path: str
    env_key: str | None
    env_base_url: str | None


class Providers:
    """``hub.providers``: add, list, change, remove and test providers."""

    def __init__(self, core: Callable[[], _core.Hub]) -> None:
        self._core = core

    def catalogue(self) -> list[ProviderKind]:
        """The kinds of provider aignehub knows."""
        return [ProviderKind(**k) for k in json.loads(self._core().catalogue())]

    def add(
        self,
        kind: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        name: str | None = None,
        display_name: str | None = None,
        local: bool | None = None,
        enabled: bool | None = None,
        settings: dict[str, Any] | None = None,
        credential_name: str | None = None,
        weight: int | None = None,
        validate: bool | None = None,
    ) -> Provider:
        """Adds a provider of `kind` (see :meth:`catalogue`), named `name` (default: the kind).

        With `api_key`, its first credential is added too, after a live check against the
        provider; a refused key raises :class:`CredentialRejected` and nothing is saved, unless
        ``validate=False``. Base URLs on loopback or private addresses need ``local=True``."""
        body = _given(
            kind=kind,
            api_key=api_key,
            base_url=base_url,
            name=name,
            display_name=display_name,
            local=local,
            enabled=enabled,
            settings=settings,
            credential_name=credential_name,
            weight=weight,
            validate=validate,
        )
        return Provider._from(json.loads(self._core().provider_add(json.dumps(body))))

    def list(self) -> list[Provider]:
        """Every configured provider, by name."""
        return [Provider._from(p) for p in json.loads(self._core().providers_list())]

    def get(self, name: str) -> Provider:
        """The provider called `name`; raises :class:`NotFoundError` when there is none."""
        return Provider._from(json.loads(self._core().provider_get(name)))

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        display_name: str | None = None,
        base_url: str | None = None,
        reset_base_url: bool = False,
        local: bool | None = None,
        enabled: bool | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Provider:
        """Changes the given fields; ``reset_base_url=True`` returns to the catalogue's URL."""
        body = _given(
            name=new_name,
            display_name=display_name,
            base_url=base_url,
            local=local,
            enabled=enabled,
            settings=settings,
        )
        if reset_base_url:
            body["base_url"] = None
        return Provider._from(json.loads(self._core().provider_update(name, json.dumps(body))))

    def remove(self, name: str) -> None:
        """Removes the provider and its credentials."""
        self._core().provider_remove(name)

    def test(self, name: str) -> Provider:
        """Re-tests every credential of the provider live and returns it with the outcomes."""
        return Provider._from(json.loads(self._core().provider_test(name)))


class Credentials:
    """``hub.credentials``: the keys of each provider."""

    def __init__(self, core: Callable[[], _core.Hub]) -> None:
        self._core = core

    def add(
        self,
        provider: str,
        api_key: str,
        *,
        name: str | None = None,
        weight: int | None = None,
        enabled: bool | None = None,
        validate: bool | None = None,
    ) -> Credential:
        """Adds a key to `provider` after a live check (see :meth:`Providers.add`)."""
        body = _given(api_key=api_key, name=name, weight=weight, enabled=enabled, validate=validate)
        return Credential._from(json.loads(self._core().credential_add(provider, json.dumps(body))))

    def list(self, provider: str) -> list[Credential]:
        """The credentials of `provider`."""
        return [Credential._from(c) for c in json.loads(self._core().credentials_list(provider))]

    def get(self, provider: str, id: int) -> Credential:
        """One credential of `provider`."""
        return Credential._from(json.loads(self._core().credential_get(provider, id)))

    def update(
        self,
        provider: str,
        id: int,
        *,
        api_key: str | None = None,
        name: str | None = None,
        weight: int | None = None,
        enabled: bool | None = None,
        validate: bool | None = None,
    ) -> Credential:
        """Changes the given fields; a new `api_key` is checked live first."""
        body = _given(api_key=api_key, name=name, weight=weight, enabled=enabled, validate=validate)
        return Credential._from(
            json.loads(self._core().credential_update(provider, id, json.dumps(body)))
        )

    def remove(self, provider: str, id: int) -> None:
        """Removes one credential."""
        self._core().credential_remove(provider, id)

    def test(self, provider: str, id: int) -> Credential:
        """Re-tests one credential live and returns it with the outcome."""
        return Credential._from(json.loads(self._core().credential_test(provider, id)))


class Aliases:
    """``hub.aliases``: names clients may send instead of a model name, e.g. ``fast`` for
    ``openai/gpt-4o-mini``. Aliases do not chain; a running server picks changes up within a
    second."""

    def __init__(self, core: Callable[[], _core.Hub]) -> None:
        self._core = core

    def list(self) -> dict[str, str]:
        """Every alias and the model name it stands for."""
        table: dict[str, str] = json.loads(self._core().aliases())
        return table

    def set(self, alias: str, target: str) -> None:
        """Points `alias` at `target` (a model name as clients send it), replacing an earlier
        target."""
        self._core().alias_set(alias, target)

    def remove(self, alias: str) -> None:
        """Removes `alias`; raises :class:`NotFoundError` when there is none."""
        self._core().alias_remove(alias)
