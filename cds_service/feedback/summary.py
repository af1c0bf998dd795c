"""The feedback summary: per card kind, shown / accepted / overridden and the top override reasons.

Counted over the cards a service *issued* in the date range (UTC days, both
ends included), with whatever feedback they got, whenever it came. Outcomes
count distinct cards, so a client that re-sends an outcome with a new
timestamp does not inflate them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping

from cds_service.cardbuilder import CardLibrary
from cds_service.errors import InvalidRequest
from cds_service.store import SummaryCounts

#: Longest range one summary may cover (a bound on the work one request can ask for).
MAX_RANGE_DAYS = 366


def _date(args: Mapping[str, str], name: str) -> date | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest("Dates are YYYY-MM-DD.", {name: ["Must be a date, YYYY-MM-DD."]}) from None


def parse_range(args: Mapping[str, str], today: date, default_days: int) -> tuple[date, date]:
    """The (from, to) days of the query string, both included; default: the last ``default_days`` days.

    :raise InvalidRequest: a date is malformed, ``from`` is after ``to``, or the
        range is longer than MAX_RANGE_DAYS (400, naming the parameter).
    """
    end = _date(args, "to") or today
    if end == date.max:  # the range ends at the start of the next day, which does not exist
        raise InvalidRequest("Dates are YYYY-MM-DD.", {"to": ["Must be before 9999-12-31."]})
    # From the ordinal: `end - timedelta` overflows for days near 0001-01-01.
    start = _date(args, "from") or date.fromordinal(max(1, end.toordinal() - (default_days - 1)))
    if start > end:
        raise InvalidRequest("The range is empty: from is after to.", {"from": ["Must not be after 'to'."]})
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidRequest(f"The range is longer than {MAX_RANGE_DAYS} days.",
                             {"from": [f"At most {MAX_RANGE_DAYS} days before 'to'."]})
    return start, end


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in UTC."""
    return (datetime.combine(start, time.min, timezone.utc),
            datetime.combine(end + timedelta(days=1), time.min, timezone.utc))


def summary_body(service_id: str, start: date, end: date, counts: SummaryCounts, cards: CardLibrary) -> dict[str, Any]:
    """The JSON answer. Every card kind of the library is listed (zeros included), then any
    kind the store knows that the library no longer has."""
    displays = {kind: cards.template(kind) for kind in cards.kinds}
    by_kind = {k.kind: k for k in counts.kinds}
    kinds = []
    for kind in [*cards.kinds, *sorted(set(by_kind) - set(cards.kinds))]:
        figures = by_kind.get(kind)
        reasons = []
        for (system, code), count in (figures.reasons if figures else ()):
            reason: dict[str, Any] = {"system": system, "code": code, "count": count}
            template = displays.get(kind)
            display = template.reason_display(system, code) if template and system and code else None
            reason["display"] = display if display else ("No reason given" if code is None else None)
            reasons.append(reason)
        kinds.append({
            "kind": kind,
            "shown": figures.shown if figures else 0,
            "accepted": figures.accepted if figures else 0,
            "overridden": figures.overridden if figures else 0,
            "topOverrideReasons": reasons,
        })
    return {
        "service": service_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "kinds": kinds,
        "unmatchedFeedback": counts.unmatched_feedback,
    }
