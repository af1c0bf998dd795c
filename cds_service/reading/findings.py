"""Grouping facts into the findings cards use: red flags, root problems, mimics, symptoms."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from .attributes import merge_sides
from .dates import PartialDate
from .facts import Fact
from .levels import level_sort_key
from .model import ConditionFinding, RedFlag, RootProblem, Symptom, sort_evidence
from .policy import ReadingPolicy
from .text import AFFIRMED, HEDGED

#: Fact key -> red-flag category. The sign is the fact key, refined by a value-set subtype for cancer.
RED_FLAG_SIGNS = {
    "cauda-equina-syndrome": "cauda-equina",
    "urinary-retention": "cauda-equina",
    "urinary-incontinence": "cauda-equina",
    "bladder-dysfunction": "cauda-equina",
    "fecal-incontinence": "cauda-equina",
    "saddle-anesthesia": "cauda-equina",
    "progressive-weakness": "motor-deficit",
    "severe-weakness": "motor-deficit",
    "foot-drop": "motor-deficit",
    "myelopathy": "myelopathy",
    "gait-disturbance": "myelopathy",
    "balance-disturbance": "myelopathy",
    "hand-clumsiness": "myelopathy",
    "hyperreflexia": "myelopathy",
    "hoffmann-sign": "myelopathy",
    "clonus": "myelopathy",
    "babinski-sign": "myelopathy",
    "lhermitte-sign": "myelopathy",
    "fever": "infection",
    "spinal-infection": "infection",
    "iv-drug-use": "infection",
    "cancer": "cancer",
    "spine-fracture": "trauma",
    "significant-trauma": "trauma",
}
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


def _window(category: str, policy: ReadingPolicy) -> int | None:
    return {
        "trauma": policy.recent_trauma_days,
        "infection": policy.recent_fever_days,
        "cauda-equina": policy.recent_neuro_days,
        "motor-deficit": policy.recent_neuro_days,
    }.get(category)


def red_flags(facts: list[Fact], now: datetime, policy: ReadingPolicy) -> tuple[RedFlag, ...]:
    """Red flags from current facts; cancer history counts whatever its status; trauma when current or recent."""
    groups: dict[tuple[str, str], list[Fact]] = {}
    for f in facts:
        category = RED_FLAG_SIGNS.get(f.key)
        if category is None:
            continue
        window = _window(category, policy)
        recent = _recent(f.onset, now, window)
        if category == "cancer":
            pass  # a past cancer is the red flag (ACP/APS: "history of cancer")
        elif category == "trauma":
            if not (f.current or recent):
                continue
        elif not f.current:
            continue
        if category == "infection" and f.key == "fever" and f.onset is not None and recent is False:
            continue  # an old fever is not a current infection sign
        sign = _sign(f)
        groups.setdefault((category, sign), []).append(f)
    out = []
    for (category, sign), group in groups.items():
        onset, _ = _earliest(group)
        window = _window(category, policy)
        recents = [_recent(f.onset, now, window) for f in group]
        recent = True if True in recents else (False if False in recents else None)
        out.append(
            RedFlag(
                category=category,
                sign=sign,
                certainty=_best_certainty(group),
                onset=onset,
                recent=recent,
                current=any(f.current for f in group),
                evidence=sort_evidence(f.evidence for f in group),
            )
        )
    out.sort(key=lambda r: (list(dict.fromkeys(RED_FLAG_SIGNS.values())).index(r.category), r.sign))
    return tuple(out)


def _sign(f: Fact) -> str:
    if f.key == "cancer":
        return {
            "history": "cancer-history",
            "malignancy": "malignancy",
            "bone-metastasis": "bone-metastasis",
            "metastasis": "metastasis",
            "spine-tumour": "spine-tumour",
            "pathological-fracture": "pathological-fracture",
        }.get(f.subtype or "", "cancer-history" if not f.current else "malignancy")
    return f.key


def _recent(onset: PartialDate | None, now: datetime, window: int | None) -> bool | None:
    if onset is None or window is None:
        return None
    fewest, most = onset.days_before(now)
    if most <= window:
        return True
    if fewest > window:
        return False
    return None  # the partial date straddles the window


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
