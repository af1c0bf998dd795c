"""Times in the store: always UTC; in SQLite as fixed-width text so that text order is time order."""

from __future__ import annotations

from datetime import datetime, timezone

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc(value: datetime) -> datetime:
    """``value`` in UTC.

    :raise ValueError: for a naive datetime (its zone would be a guess).
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime: the store needs an aware one")
    return value.astimezone(timezone.utc)


def to_text(value: datetime) -> str:
    """:raise ValueError: for a naive datetime."""
    # isoformat, not strftime: strftime does not pad years before 1000 on glibc.
    return utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_text(text: str) -> datetime:
    """:raise ValueError: if ``text`` is not in the store's format."""
    return datetime.strptime(text, _FORMAT).replace(tzinfo=timezone.utc)
