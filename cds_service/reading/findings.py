"""Grouping facts into the findings cards use: root problems, mimics, symptoms (red flags: ``.red_flags``)."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from .attributes import merge_sides
from .dates import PartialDate
from .facts import Fact
from .levels import level_sort_key
from .model import ConditionFinding, RootProblem, Symptom, sort_evidence
from .red_flags import RED_FLAG_SIGNS, red_flags  # noqa: F401  (the reader's red-flag signs live there)
from .text import AFFIRMED, HEDGED

ROOT_KINDS = ("radiculopathy", "sciatica", "spinal-stenosis", "disc-herniation")
MIMIC_KINDS = (
    "carpal-tunnel-syndrome", "ulnar-neuropathy", "peroneal-neuropathy", "tarsal-tunnel-syndrome",
    "radial-neuropathy", "meralgia-paresthetica", "polyneuropathy", "plexopathy", "myopathy",
    "motor-neuron-disease", "myasthenia",
)  # fmt: skip
SYMPTOM_KINDS = ("sensory", "weakness", "intermittent", "radiating-pain", "limb-pain")
_CERTAINTY_RANK = {AFFIRMED: 0, HEDGED: 1}


def _best_certainty(facts: Iterable[Fact]) -> str:
    return min((f.certainty for f in facts), key=lambda c: _CERTAINTY_RANK.get(c, 9))


def _earliest(facts: Iterable[Fact]) -> tuple[PartialDate | None, str | None]:
    dated = [f for f in facts if f.onset is not None]
    if not dated:
        return None, None
    first = min(dated, key=lambda f: (f.onset.earliest, f.onset_basis != "onset"))
    return first.onset, first.onset_basis


def root_problems(facts: list[Fact], now: datetime) -> tuple[RootProblem, ...]:
    """Current root problems grouped by region; a region-less one joins the only region present."""
    current = [f for f in facts if f.key in ROOT_KINDS and f.current]
    regions = {f.region for f in current if f.region}
    groups: dict[str | None, list[Fact]] = {}
    for f in current:
        region = f.region or (next(iter(regions)) if len(regions) == 1 else None)
        groups.setdefault(region, []).append(f)
    out = []
    for region, group in groups.items():
        onset, basis = _earliest(group)
        duration = onset.days_before(now) if onset else None
        out.append(
            RootProblem(
                region=region,
                kinds=tuple(k for k in ROOT_KINDS if any(f.key == k for f in group)),
                levels=tuple(sorted({lv for f in group for lv in f.levels}, key=level_sort_key)),
                roots=tuple(sorted({r for f in group for r in f.roots}, key=level_sort_key)),
                side=merge_sides(*(f.side for f in group)),
                certainty=_best_certainty(group),
                onset=onset,
                onset_basis=basis,
                duration_days=duration,
                evidence=sort_evidence(f.evidence for f in group),
            )
        )
    out.sort(key=lambda p: (p.region is None, p.region or ""))
    return tuple(out)


def condition_findings(facts: list[Fact], kinds: Iterable[str], by_region: bool = False) -> tuple[ConditionFinding, ...]:
    """Current facts of ``kinds`` grouped by kind (and region), sides merged."""
    groups: dict[tuple, list[Fact]] = {}
    for f in facts:
        if f.key in kinds and f.current:
            key = (f.key, f.region if by_region else None)
            groups.setdefault(key, []).append(f)
    out = []
    for (kind, region), group in groups.items():
        onset, _ = _earliest(group)
        subtypes = [f.subtype for f in group if f.subtype]
        limb_regions = [f.limb for f in group if f.limb]
        out.append(
            ConditionFinding(
                kind=kind,
                side=merge_sides(*(f.side for f in group)),
                subtype=subtypes[0] if subtypes else None,
                certainty=_best_certainty(group),
                onset=onset,
                evidence=sort_evidence(f.evidence for f in group),
                region=region if by_region else (limb_regions[0] if limb_regions else None),
            )
        )
    order = list(kinds)
    out.sort(key=lambda c: (order.index(c.kind), c.region or ""))
    return tuple(out)


def symptoms(facts: list[Fact]) -> tuple[Symptom, ...]:
    groups: dict[tuple[str, str | None], list[Fact]] = {}
    for f in facts:
        if f.key in SYMPTOM_KINDS and f.current:
            groups.setdefault((f.key, f.limb), []).append(f)
    out = [
        Symptom(
            kind=kind,
            limb=limb,
            side=merge_sides(*(f.side for f in group)),
            certainty=_best_certainty(group),
            evidence=sort_evidence(f.evidence for f in group),
        )
        for (kind, limb), group in groups.items()
    ]
    out.sort(key=lambda s: (SYMPTOM_KINDS.index(s.kind), s.limb or ""))
    return tuple(out)
