"""FHIR dates as the reader needs them: possibly partial, possibly missing, never guessed.

FHIR allows ``2024``, ``2024-03``, ``2024-03-05`` and full date-times. The
record's reader (``fhir/reader.py``) keeps them as the text sent, checked against
FHIR's syntax; ``fhir.resources`` models (in tests) hand back a ``str`` for
partial values, a ``date`` or a timezone-aware ``datetime`` otherwise. Both read
alike here (``tests/fhir/test_reader.py``). A :class:`PartialDate` keeps the
text as written and the first and last day it can mean, so a duration is a
range, not a guess.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from . import memo

_DATE_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True)
class PartialDate:
    """A calendar date known to the day, the month or the year."""

    text: str  # ISO as written, at its precision: "2024", "2024-03", "2024-03-05"
    earliest: date
    latest: date

    @property
    def precision(self) -> str:
        """year, month, day, or range (an ISO interval "start/end", e.g. from onsetAge)."""
        if "/" in self.text:
            return "range"
        return {4: "year", 7: "month"}.get(len(self.text), "day")

    def days_before(self, now: datetime) -> tuple[int, int]:
        """(fewest, most) whole days from this date to ``now``.

        A date that may still include today counts from 0 ("2026-11" seen on 26 November);
        a date wholly in the future gives negative numbers (a data error the caller can see).
        """
        today = now.astimezone(timezone.utc).date()
        most = (today - self.earliest).days
        fewest = (today - self.latest).days
        return (max(fewest, 0) if most >= 0 else fewest), most

    def shifted(self, low: "AgeSpan", high: "AgeSpan | None" = None) -> "PartialDate":
        """The dates at which someone born on this date had an age from ``low`` to ``high`` (for onsetAge/onsetRange)."""
        high = high or low
        lo = _add(self.earliest, low.value, low.unit)
        hi = _add(self.latest, high.value + 1, high.unit) - timedelta(days=1)
        if hi < lo:
            hi = lo
        return PartialDate(text=lo.isoformat() if lo == hi else f"{lo.isoformat()}/{hi.isoformat()}", earliest=lo, latest=hi)


@dataclass(frozen=True)
class AgeSpan:
    """An age as a whole number of calendar units: a (years), mo (months), wk, d."""

    value: int
    unit: str


def _add(d: date, value: int, unit: str) -> date:
    if unit == "a":
        return _add_months(d, 12 * value)
    if unit == "mo":
        return _add_months(d, value)
    return d + timedelta(days=value * (7 if unit == "wk" else 1))


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + (d.month - 1) + months
    year, month = divmod(total, 12)
    if year < 1 or year > 9999:
        raise ValueError("date out of range")
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def parse_date(value: Any) -> PartialDate | None:
    """A FHIR date/dateTime/instant (str, date or datetime) as a PartialDate; None if absent or unreadable.

    Date-times are read as their UTC calendar day.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        d = value.date()
        return PartialDate(d.isoformat(), d, d)
    if isinstance(value, date):
        return PartialDate(value.isoformat(), value, value)
    if not isinstance(value, str):
        return None
    # A record repeats its dates (each read by several readers): parsed once per call.
    return memo.within_call("date", value, _parse_text)


def _parse_text(value: str) -> PartialDate | None:
    text = value.strip()
    if len(text) == 10:  # the common full date, in C; anything odd goes the long way below
        try:
            d = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            if _DATE_RE.fullmatch(text):  # fromisoformat takes forms FHIR does not ("2026W481")
                return PartialDate(text, d, d)
    if "T" in text:
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            text = text.split("T", 1)[0]
        else:
            return parse_date(dt)
    m = _DATE_RE.fullmatch(text)
    if not m:
        return None
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if day:
            d = date(year, int(month), int(day))
            return PartialDate(d.isoformat(), d, d)
        if month:
            mo = int(month)
            last = calendar.monthrange(year, mo)[1]
            return PartialDate(f"{year:04d}-{mo:02d}", date(year, mo, 1), date(year, mo, last))
        return PartialDate(f"{year:04d}", date(year, 1, 1), date(year, 12, 31))
    except ValueError:
        return None


#: UCUM age units, and words EHRs put in Age.unit instead.
_AGE_UNITS = frozenset({"a", "mo", "wk", "d"})
_AGE_WORDS = {"year": "a", "years": "a", "yr": "a", "yrs": "a", "y": "a", "month": "mo", "months": "mo",
              "week": "wk", "weeks": "wk", "wks": "wk", "day": "d", "days": "d"}  # fmt: skip


def age_span(age: Any) -> AgeSpan | None:
    """An R4 Age/Quantity as whole calendar units; None for an unknown unit, a missing or negative value."""
    value = getattr(age, "value", None)
    if value is None:
        return None
    unit = str(getattr(age, "code", None) or getattr(age, "unit", None) or "").strip()
    unit = _AGE_WORDS.get(unit.lower(), unit)
    if unit not in _AGE_UNITS:
        return None
    v = Decimal(str(value))
    if v < 0 or v > 200 * 366:
        return None
    # "52 a" means from the 52nd birthday until the day before the 53rd.
    return AgeSpan(int(v), unit)


def choice_date(resource: Any, prefix: str, birth: PartialDate | None = None) -> PartialDate | None:
    """The date of an R4 ``[x]`` choice element: ``prefix`` + DateTime, Period (start), Age, Range, String, Instant.

    ``onsetAge``/``onsetRange`` need the patient's birth date; without one the
    date is unknown (None). ``onsetString`` is read only when it holds an ISO date.
    """
    dt = getattr(resource, prefix + "DateTime", None)
    if dt is not None:
        return parse_date(dt)
    instant = getattr(resource, prefix + "Instant", None)
    if instant is not None:
        return parse_date(instant)
    period = getattr(resource, prefix + "Period", None)
    if period is not None:
        return parse_date(getattr(period, "start", None)) or parse_date(getattr(period, "end", None))
    age = getattr(resource, prefix + "Age", None)
    if age is not None:
        span = age_span(age)
        return birth.shifted(span) if birth and span else None
    rng = getattr(resource, prefix + "Range", None)
    if rng is not None:
        low = age_span(getattr(rng, "low", None)) if getattr(rng, "low", None) else None
        high = age_span(getattr(rng, "high", None)) if getattr(rng, "high", None) else None
        if birth and low and high and low.unit == high.unit:
            return birth.shifted(low, high)
        return None
    text = getattr(resource, prefix + "String", None)
    if isinstance(text, str):
        m = re.search(r"\b\d{4}(?:-\d{2}(?:-\d{2})?)?\b", text[:200])
        return parse_date(m.group(0)) if m else None
    return None


def age_in_years(birth: PartialDate | None, now: datetime) -> int | None:
    """Whole years of age at ``now``; with a partial birth date, the lower bound (conservative for age cut-offs)."""
    if birth is None:
        return None
    today = now.astimezone(timezone.utc).date()
    b = birth.latest
    years = today.year - b.year - ((today.month, today.day) < (b.month, b.day))
    return years if years >= 0 else None
