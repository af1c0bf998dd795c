"""The pre-test table (``config/guidelines/pretest.yaml``): thresholds, windows and drug groups, loaded once.

Comparisons against a threshold live here, so that a bound ("<15", a Quantity comparator) is weighed
the same way everywhere: a value is past a threshold only when it certainly is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml

from ..reading.model import LabValue

_NUMBERS = {"edx": ("inr_caution_above", "platelets_caution_below", "lab_recent_days"),
            "mri": ("egfr_caution_below", "egfr_recent_days", "pregnancy_test_recent_days", "pregnancy_condition_max_days")}
_LISTS = {"edx": ("no_data_drugs", "warfarin_drugs")}


@dataclass(frozen=True)
class PretestTable:
    inr_caution_above: float
    #: 10*3/uL, as the reader gives platelet counts.
    platelets_caution_below: float
    lab_recent_days: int
    no_data_drugs: frozenset[str]
    warfarin_drugs: frozenset[str]
    #: mL/min/1.73 m2.
    egfr_caution_below: float
    egfr_recent_days: int
    pregnancy_test_recent_days: int
    pregnancy_condition_max_days: int


def load_pretest_table(path: Path) -> PretestTable:
    """:raise ValueError: naming the entry that lacks a number (or list) and a source."""
    data = yaml.safe_load(path.read_text()) or {}
    values: dict = {}
    for section, names in (*_NUMBERS.items(), *_LISTS.items()):
        for name in names:
            entry = (data.get(section) or {}).get(name)
            value = entry.get("value") if isinstance(entry, dict) else None
            ok = isinstance(value, list) if name in _LISTS.get(section, ()) else (
                isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0)
            if not ok or not entry.get("source"):
                raise ValueError(f"{section}.{name} needs a value and a source")
            values[name] = frozenset(str(v).lower() for v in value) if isinstance(value, list) else value
    return PretestTable(**values)


def is_above(lab: LabValue, threshold: float) -> bool:
    """Certainly above: 2.1 or ">2" over 1.5; "<2" is not (it may be 1.2)."""
    if lab.comparator in ("<", "<="):
        return False
    return lab.value > threshold or (lab.comparator in (">", ">=") and lab.value >= threshold)


def is_below(lab: LabValue, threshold: float) -> bool:
    """Certainly below: 29 or "<15" under 30; ">20" is not (it may be 60)."""
    if lab.comparator in (">", ">="):
        return False
    return lab.value < threshold or (lab.comparator in ("<", "<=") and lab.value <= threshold)


def within_days(when: str | None, now: datetime, days: int) -> bool:
    """A lab's date (ISO, maybe partial) is within ``days`` of ``now``, counting from its latest possible day."""
    if not when:
        return False
    from ..reading.dates import parse_date

    d = parse_date(when)
    return d is not None and (now.date() - d.latest).days <= days and d.earliest <= now.date()


def days_since(d: date, now: datetime) -> int:
    return (now.date() - d).days
