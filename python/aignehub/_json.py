"""What the Python layer sends to the core: JSON objects built from keyword arguments."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def given(**values: Any) -> Json:
    """The keyword arguments that were given; None means "leave it as it is"."""
    return {k: v for k, v in values.items() if v is not None}
