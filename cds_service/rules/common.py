"""What every card rule shares: the order as the rules see it, its region and limb, evidence lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from ..draft_orders import DraftOrder
from ..reading.model import (
    ClinicalPicture,
    Evidence,
    OrderInfo,
    RootProblem,
)
from ..reading.certainty import Certainty
from ..reading.levels import LIMB_REGION, REGION_LIMB  # noqa: F401  (the rules import them from here)

#: Which mimic separates from which root, by limb (the article's examples; clinical-codes.md section 5).
MIMIC_ROOTS = {
    "carpal-tunnel-syndrome": ("upper", "C6"),
    "ulnar-neuropathy": ("upper", "C8"),
    "radial-neuropathy": ("upper", "C7"),
    "peroneal-neuropathy": ("lower", "L5"),
    "tarsal-tunnel-syndrome": ("lower", "S1"),
    "meralgia-paresthetica": ("lower", "L2-L3"),
    "plexopathy": (None, "a root"),
    "myopathy": (None, "a root"),
}


@dataclass(frozen=True)
class OrderInput:
    order: DraftOrder
    info: OrderInfo
    #: context.patientId: suggested orders are for this patient, whatever the draft's subject says.
    patient_id: str


def evidence_lines(items: Iterable[Evidence]) -> list[dict]:
    seen, out = set(), []
    for e in items:
        # One line per coded resource (its codings may name it twice); text matches keep their quote.
        key = (e.resource_type, e.resource_id, e.text if e.matched_by == "text" else "coded")
        if key in seen:
            continue
        seen.add(key)
        out.append({"type": e.resource_type, "id": e.resource_id, "date": e.date, "text": e.text.rstrip(" ;,:"),
                    "how": e.matched_by})
    # A quote another line of the same resource already contains ("Abnormal gait" beside "Abnormal gait:
    # wide-based") says nothing new.
    # Compared within a resource's own lines only (all lines with all lines was quadratic in the record).
    same: dict[tuple, list[dict]] = {}
    for x in out:
        same.setdefault((x["type"], x["id"], x["how"]), []).append(x)
    out = [x for x in out if not any(y is not x and len(y["text"]) > len(x["text"]) and x["text"].lower() in y["text"].lower()
                                     for y in same[(x["type"], x["id"], x["how"])])]
    return out[:8]  # the detail stays short; the first items are coded and newest


def order_fact(o: OrderInput) -> dict:
    default = "spine MRI" if o.info.kind == "spine-mri" else "EMG/NCS"
    label = " ".join(o.order.text.split("; ")[0].split()) or default
    limb = o.info.limbs[0] if len(o.info.limbs) == 1 else REGION_LIMB.get(o.info.region or "")
    return {"label": label, "reference": o.order.reference or "draft order", "kind": o.info.kind,
            "region": o.info.region, "limb": limb}


def order_limb(o: OrderInput, picture: ClinicalPicture) -> str | None:
    if len(o.info.limbs) == 1:
        return o.info.limbs[0]
    regions = {p.region for p in picture.root_problems if p.region}
    if len(regions) == 1:
        return REGION_LIMB.get(next(iter(regions)))
    return None


def order_region(o: OrderInput, picture: ClinicalPicture) -> str | None:
    """The spine region the order is about: its own, else the limb's, else the root problem's."""
    if o.info.region:
        return o.info.region
    if len(o.info.limbs) == 1:
        return LIMB_REGION[o.info.limbs[0]]
    regions = {p.region for p in picture.root_problems if p.region}
    return next(iter(regions)) if len(regions) == 1 else None


def root_problems_in(picture: ClinicalPicture, region: str | None) -> list[RootProblem]:
    return [p for p in picture.root_problems
            if p.certainty in (Certainty.AFFIRMED, Certainty.HEDGED) and (region is None or p.region in (None, region))]


def days_ago(d, now: datetime) -> int:
    return (now.date() - d).days


def is_recent(report_date, now: datetime, days: int) -> bool:
    return report_date is not None and days_ago(report_date.latest, now) <= days


