"""Move a demo record through time: every FHIR date, dateTime and instant by whole days.

Demo bundles are written against a reference date. Served on another day, each
date moves by (today - reference date) days, so "sciatica began 10 days ago"
stays true a year later and the timing cards (EMG within 3 weeks, lumbar MRI
under 6 weeks) give the same answer.

Which strings are dates: an element whose name FHIR gives a date type
(``birthDate``, ``onsetDateTime``, ``authoredOn``, a Period's ``start``/``end``,
...) and whose value has FHIR's date/dateTime/instant form. Both must hold, so a
code such as RxNorm "5224" or a year in report text is never touched. Dates
inside narrative text (``conclusion``, ``note``) are not moved: demo text says
"since yesterday", never a calendar date.

How each form moves:

- ``YYYY-MM-DD`` and ``YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm)``: the calendar date
  moves; the clock time, fraction and written offset stay as written (a whole
  number of days never changes the time of day; a fixed offset is kept even if
  daylight saving time would differ on the new day);
- ``YYYY-MM`` and ``YYYY`` (partial dates): they keep their precision. The
  middle of the month (the 15th) or of the year (2 July) moves, and the month or
  year it lands in is written. So a shift of 0 leaves them alone, a year's shift
  moves them a year, and a few days' shift leaves them alone.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

#: FHIR's date / dateTime / instant lexical forms (R4 datatypes), split into date and time parts.
_DATE_VALUE = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>0[1-9]|1[0-2])(?:-(?P<day>0[1-9]|[12]\d|3[01])"
    r"(?P<time>T(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d+)?(?:Z|[+-](?:0\d|1[0-3]):[0-5]\d|[+-]14:00))?)?)?"
)

#: Element names FHIR types as date, dateTime or instant that carry no type suffix.
_DATE_ELEMENTS = frozenset({
    "date", "issued", "authoredOn", "recorded", "lastUpdated", "start", "end", "created", "timestamp",
    "dateAsserted", "sent", "received", "whenHandedOver", "whenPrepared",
})
#: Suffixes of choice-type and other date elements: onsetDateTime, birthDate, valueInstant, ...
_DATE_SUFFIXES = ("DateTime", "Date", "Instant")


def is_date_element(name: str) -> bool:
    """True when FHIR types the element ``name`` as date, dateTime or instant."""
    return name in _DATE_ELEMENTS or name.endswith(_DATE_SUFFIXES)


def shift_value(value: str, days: int) -> str:
    """``value`` moved by ``days`` whole days if it is a FHIR date/dateTime/instant, else unchanged."""
    match = _DATE_VALUE.fullmatch(value)
    if match is None or days == 0:
        return value
    year = int(match["year"])
    if match["month"] is None:
        middle = date(year, 7, 2) + timedelta(days=days)
        return f"{middle.year:04d}"
    month = int(match["month"])
    if match["day"] is None:
        middle = date(year, month, 15) + timedelta(days=days)
        return f"{middle.year:04d}-{middle.month:02d}"
    try:
        moved = date(year, month, int(match["day"])) + timedelta(days=days)
    except ValueError:  # 2026-02-30 and the like: not a date, leave it to the validators
        return value
    return moved.isoformat() + (match["time"] or "")


def shift_dates(node: Any, days: int) -> Any:
    """A copy of the JSON ``node`` with every FHIR date element moved by ``days`` whole days."""
    if isinstance(node, dict):
        return {
            key: shift_value(value, days) if isinstance(value, str) and is_date_element(key)
            else shift_dates(value, days)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [shift_dates(item, days) for item in node]
    return node


def days_since(reference: date, now: datetime | None = None) -> int:
    """Whole days from ``reference`` to today (UTC, the clock the hook calls use)."""
    now = now or datetime.now(timezone.utc)
    today = now.astimezone(timezone.utc).date() if now.tzinfo else now.date()
    return (today - reference).days
