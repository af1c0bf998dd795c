"""Conditions and MedicationRequests as recorded, for rules that match codes and words of their own table.

The reader's value sets decide what the cards' findings are; some rules (imaging appropriateness)
weigh background facts named in their own reviewed table instead (``RecordEntry``). This module only
copies what each resource states: codes, text, status and date, never a judgement.
"""

from __future__ import annotations

from typing import Any, Callable

from ..valuesets import canonical_code, canonical_system
from .dates import PartialDate, choice_date, parse_date
from .fhir_access import ODD_DATA, as_list, codings, concept_text, rid, status_codes
from .model import RecordEntry
from .text import AFFIRMED, HEDGED

_CURRENT = {"active", "recurrence", "relapse"}
_NEVER = {"refuted", "entered-in-error"}
_HEDGED = {"provisional", "differential", "unconfirmed"}
_TAKEN = {"active", "on-hold", "unknown"}


class LazyEntries:
    """``record_entries`` read on first iteration: only the lumbar-MRI appropriateness rule asks, so
    the other orders (most calls) never pay for it. One request, one thread: no lock needed."""

    __slots__ = ("_read", "_value")

    def __init__(self, read: Callable[[], tuple[RecordEntry, ...]]):
        self._read = read
        self._value: tuple[RecordEntry, ...] | None = None

    def _entries(self) -> tuple[RecordEntry, ...]:
        if self._value is None:
            self._value = tuple(self._read())
        return self._value

    def __iter__(self):
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LazyEntries, tuple)):
            return self._entries() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list: compared by value, never a dict key

    def __repr__(self) -> str:
        return f"LazyEntries({'unread' if self._value is None else len(self._value)})"


def record_entries(conditions: list[Any], medication_requests: list[Any], birth: PartialDate | None,
                   skipped: Callable[[str, Exception], None]) -> tuple[RecordEntry, ...]:
    out: list[RecordEntry] = []
    for resource_type, items, read in (("Condition", conditions, lambda c: _condition(c, birth)),
                                       ("MedicationRequest", medication_requests, _medication)):
        for item in items:
            try:
                entry = read(item)
            except ODD_DATA as exc:
                skipped(resource_type, exc)
                continue
            if entry is not None:
                out.append(entry)
    return tuple(out)


def _codes(concept: Any) -> tuple[tuple[str, str, str | None], ...]:
    out = []
    for c in codings(concept):
        system, code = getattr(c, "system", None), getattr(c, "code", None)
        if isinstance(system, str) and isinstance(code, str) and code.strip():
            system = canonical_system(system)
            out.append((system, canonical_code(system, code), getattr(c, "display", None)))
    return tuple(out)


def _condition(condition: Any, birth: PartialDate | None) -> RecordEntry | None:
    verification = status_codes(getattr(condition, "verificationStatus", None))
    if verification & _NEVER:
        return None  # refuted or entered in error: states nothing
    clinical = status_codes(getattr(condition, "clinicalStatus", None))
    abated = any(getattr(condition, "abatement" + s, None) is not None
                 for s in ("DateTime", "Age", "Period", "Range", "String", "Boolean"))
    code = getattr(condition, "code", None)
    notes = [getattr(n, "text", None) for n in as_list(getattr(condition, "note", None))]
    date = choice_date(condition, "onset", birth) or parse_date(getattr(condition, "recordedDate", None))
    return RecordEntry("Condition", rid(condition), _codes(code),
                       tuple(t for t in [concept_text(code), *notes] if isinstance(t, str) and t.strip()),
                       bool(clinical & _CURRENT) if clinical else not abated,
                       HEDGED if verification & _HEDGED else AFFIRMED, date)


def _medication(request: Any) -> RecordEntry | None:
    concept = getattr(request, "medicationCodeableConcept", None)
    status = getattr(request, "status", None)
    text = concept_text(concept)
    return RecordEntry("MedicationRequest", rid(request), _codes(concept), (text,) if text else (),
                       str(status).lower() in _TAKEN, AFFIRMED, parse_date(getattr(request, "authoredOn", None)))
