"""Red-flag signs as the record states them: one RedFlag per category and sign, with its evidence.

The reader says what the record states (current or past, dated or not, affirmed or hedged, where);
whether a sign is a red flag *now* for an order (new or stable, explained or not, with which study)
is decided by the rules from ``config/guidelines/red-flags.yaml`` (``cds_service.rules.red_flags``).

What the reader keeps:

- cauda equina, motor, myelopathy and infection signs: current facts only (an active Condition, an
  Observation within the look-back);
- cancer: current and past (a resolved cancer Condition or a Z85 code is a cancer *history*, which the
  rules weigh); a cancer code that is also a non-melanoma skin cancer (value set
  ``non-melanoma-skin-cancer``) is kept as the sign ``non-melanoma-skin-cancer``, which never counts;
- trauma: current facts, and past ones within the recent-trauma window (thresholds.py) (a healed fracture
  years ago is not a finding); an osteoporotic or collapsed vertebra (value-set subtype ``fragility``)
  is the sign ``fragility-fracture``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from .attributes import merge_sides
from .dates import PartialDate
from .facts import CONCEPTS, Fact
from .model import RedFlag, sort_evidence
from .thresholds import ReadingThresholds
from .text import AFFIRMED, HEDGED

#: The red-flag table. Each sign is written once, in the category whose clauses name it; the reader
#: takes the category from there (the rules load the same file at start-up and check they agree).
RED_FLAG_TABLE = Path(__file__).resolve().parents[2] / "config" / "guidelines" / "red-flags.yaml"
#: The table's ``with:`` contexts, which are not signs.
CONTEXTS = frozenset({"spine-pain", "neuro-deficit", "lumbar-root-problem"})


def table_signs(data: dict) -> Iterator[tuple[str, str]]:
    """(category, sign) for each sign a red-flag table's clauses (``counts_when``, ``not_critical_when``)
    name; a malformed entry is passed over (the rules' loader says what is wrong with it)."""
    for category, entry in (data.get("categories") or {}).items():
        if not isinstance(entry, dict):
            continue
        clauses = [c for key in ("counts_when", "not_critical_when") for c in entry.get(key) or ()]
        for clause in (c for c in clauses if isinstance(c, dict)):
            for sign in [*(clause.get("any") or ()), *(clause.get("with") or ())]:
                if sign not in CONTEXTS:
                    yield category, sign


def table_categories(data: dict) -> dict[str, str]:
    """Sign -> the category whose clauses name it first."""
    out: dict[str, str] = {}
    for category, sign in table_signs(data):
        out.setdefault(sign, category)
    return out


_TABLE = yaml.safe_load(RED_FLAG_TABLE.read_text()) or {}
#: Fact key -> red-flag category. The sign is the fact key, refined by a value-set subtype
#: (cancer kinds, fragility fractures): the fact "cancer" stands for the table's cancer signs.
RED_FLAG_SIGNS = {sign: category for sign, category in table_categories(_TABLE).items()
                  if sign in {c.key for c in CONCEPTS}} | {"cancer": "cancer"}
CATEGORIES = tuple(_TABLE.get("categories") or ())
#: Cancer signs by value-set subtype (text: "metastasis"); a past cancer of any kind is a history.
CANCER_SIGNS = {
    "history": "cancer-history",
    "malignancy": "malignancy",
    "bone-metastasis": "bone-metastasis",
    "metastasis": "metastasis",
    "spine-tumour": "spine-tumour",
    "pathological-fracture": "pathological-fracture",
}
#: Every sign the reader can give (the table's vocabulary; it is checked against this at start-up).
#: The fact keys the reader gives (facts.CONCEPTS), not only those the table names: a table sign
#: that is none of these (a typo) stops start-up instead of never matching.
SIGNS = frozenset(c.key for c in CONCEPTS if c.key != "cancer") | frozenset(CANCER_SIGNS.values()) \
    | {"fragility-fracture"}
_NON_MELANOMA = "non-melanoma-skin-cancer"
_CERTAINTY_RANK = {AFFIRMED: 0, HEDGED: 1}


def red_flags(facts: list[Fact], now: datetime, thresholds: ReadingThresholds) -> tuple[RedFlag, ...]:
    """Red-flag signs the record states, grouped by category and sign (see the module's docstring)."""
    skin = {(f.evidence.resource_type, f.evidence.resource_id, f.evidence.code) for f in facts if f.key == _NON_MELANOMA}
    groups: dict[tuple[str, str], list[Fact]] = {}
    for f in facts:
        category = RED_FLAG_SIGNS.get(f.key)
        if category is None:
            continue
        if category == "trauma":
            if not (f.current or _recent(f.onset, now, thresholds.recent_trauma_days)):
                continue
        elif category != "cancer" and not f.current:
            continue
        sign = _sign(f, skin)
        groups.setdefault((category, sign), []).append(f)
    out = []
    for (category, sign), group in groups.items():
        onset = _earliest(group)
        window = _window(category, thresholds)
        recents = [_recent(f.onset, now, window) for f in group]
        regions = {f.region for f in group if f.region}
        limbs = {f.limb for f in group if f.limb}
        out.append(RedFlag(
            category=category,
            sign=sign,
            certainty=min((f.certainty for f in group), key=lambda c: _CERTAINTY_RANK.get(c, 9)),
            onset=onset,
            recent=True if True in recents else (False if False in recents else None),
            # A cancer history is a current fact about the patient, whatever the Condition's status.
            current=sign == "cancer-history" or any(f.current for f in group),
            evidence=sort_evidence(f.evidence for f in group),
            region=next(iter(regions)) if len(regions) == 1 else None,
            limb=next(iter(limbs)) if len(limbs) == 1 else None,
            side=merge_sides(*(f.side for f in group)),
        ))
    out.sort(key=lambda r: (CATEGORIES.index(r.category), r.sign))
    return tuple(out)


def _sign(f: Fact, skin: set) -> str:
    if f.key == "cancer":
        if (f.evidence.resource_type, f.evidence.resource_id, f.evidence.code) in skin and f.evidence.code:
            return _NON_MELANOMA
        sign = CANCER_SIGNS.get(f.subtype or "", "malignancy")
        return sign if f.current else "cancer-history"
    if f.key == "spine-fracture" and f.subtype == "fragility":
        return "fragility-fracture"
    return f.key


def _window(category: str, thresholds: ReadingThresholds) -> int | None:
    return {
        "trauma": thresholds.recent_trauma_days,
        "infection": thresholds.recent_fever_days,
        "cauda-equina": thresholds.recent_neuro_days,
        "motor-deficit": thresholds.recent_neuro_days,
    }.get(category)


def _earliest(facts: Iterable[Fact]) -> PartialDate | None:
    dated = [f for f in facts if f.onset is not None]
    if not dated:
        return None
    return min(dated, key=lambda f: (f.onset.earliest, f.onset_basis != "onset")).onset


def _recent(onset: PartialDate | None, now: datetime, window: int | None) -> bool | None:
    if onset is None or window is None:
        return None
    fewest, most = onset.days_before(now)
    if most <= window:
        return True
    if fewest > window:
        return False
    return None  # the partial date straddles the window
