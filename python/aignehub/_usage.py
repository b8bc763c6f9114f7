"""Usage records from Python: what every call through the gateway asked, got and cost in
tokens. The records are written by the C++ core; this module reads them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

from aignehub import _core
from aignehub._json import given as _given


@dataclass(frozen=True)
class UsageRecord:
    """One call: who made it, where it went, the tokens the provider reported and how it
    ended (`status` is the HTTP status the client got; `error_kind` is empty on success)."""

    id: int
    request_id: str
    user_id: int | None
    key_id: int | None
    app: str
    provider: str
    credential_id: int | None
    model_requested: str
    model_served: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int
    images: int
    status: int
    error_kind: str
    latency_us: int
    ttfb_us: int | None
    upstream_ttfb_us: int | None
    attempts: int
    created_at: str


@dataclass(frozen=True)
class UsagePage:
    """One page of records, newest first; pass `next_cursor` as `cursor` for the next page
    (None when this is the last)."""

    records: list[UsageRecord]
    next_cursor: str | None


def _time(value: dt.datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("since/until must be timezone-aware datetimes")
    utc = value.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class Usage:
    """``hub.usage``: read the usage records."""

    def __init__(self, core: Callable[[], _core.Hub]) -> None:
        self._core = core

    def query(
        self,
        *,
        since: dt.datetime | str | None = None,
        until: dt.datetime | str | None = None,
        user: int | None = None,
        key: int | None = None,
        model: str | None = None,
        provider: str | None = None,
        status: int | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> UsagePage:
        """Records matching every given filter (`model` matches the model asked for or the one
        served), at most `limit` (1 to 1,000), newest first."""
        body = _given(
            since=_time(since),
            until=_time(until),
            user_id=user,
            key_id=key,
            model=model,
            provider=provider,
            status=status,
            limit=limit,
            cursor=cursor,
        )
        page = json.loads(self._core().usage_query(json.dumps(body)))
        return UsagePage(
            records=[UsageRecord(**r) for r in page["data"]], next_cursor=page["next_cursor"]
        )
