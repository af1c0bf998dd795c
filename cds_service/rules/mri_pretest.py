"""The note before a spine MRI: an implant whose MR conditions need checking, and, for a contrast study only,
the gadolinium cautions (a low recent eGFR or dialysis; a current pregnancy). Thresholds and windows are the
pre-test table's (``config/guidelines/pretest.yaml``); one info note per order at most.
"""

from __future__ import annotations

from datetime import datetime

from ..cardbuilder import CardSpec
from ..reading.model import ClinicalPicture, ConditionFinding
from .common import OrderInput, evidence_lines, order_fact
from .pretest_table import PretestTable, days_since, is_below, within_days

#: Contrast values (reading.order_kinds) that mean gadolinium is given.
CONTRAST = frozenset({"with", "without-and-with"})
#: Cardiac device kinds whose MR conditions must be checked (an "other cardiac implant" -- a graft -- is not one).
MR_DEVICES = frozenset({"pacemaker", "defibrillator"})


def mri_pretest_card(o: OrderInput, picture: ClinicalPicture, t: PretestTable, now: datetime) -> CardSpec | None:
    contrast = o.info.contrast in CONTRAST  # an order that does not say is not taken as a contrast study
    cardiac = [d for d in picture.cardiac_devices if d.kind in MR_DEVICES]
    stimulators = list(picture.neurostimulators)
    egfr = picture.egfr if contrast else None
    if egfr is not None and not (within_days(egfr.date, now, t.egfr_recent_days) and is_below(egfr, t.egfr_caution_below)):
        egfr = None
    dialysis = list(picture.dialysis) if contrast else []
    pregnant = [p for p in picture.pregnancy if _current_pregnancy(p, t, now)] if contrast else []
    if not (cardiac or stimulators or egfr or dialysis or pregnant):
        return None
    reasons = (["cardiac-device"] * bool(cardiac) + ["neurostimulator"] * bool(stimulators)
               + ["egfr-below-threshold"] * bool(egfr) + ["dialysis"] * bool(dialysis) + ["pregnancy"] * bool(pregnant))
    evidence = ([e for d in cardiac for e in d.evidence] + [e for s in stimulators for e in s.evidence]
                + (list(egfr.evidence) if egfr else []) + [e for d in dialysis for e in d.evidence]
                + [e for p in pregnant for e in p.evidence])
    return CardSpec("mri-pretest-notes", {
        "order": order_fact(o),
        "contrast": contrast,
        "devices": [{"kind": k} for k in dict.fromkeys([d.kind for d in cardiac] + [s.kind for s in stimulators])],
        "egfr": {"value": egfr.value, "comparator": egfr.comparator or "", "date": egfr.date} if egfr else None,
        "egfr_threshold": t.egfr_caution_below,
        "dialysis": bool(dialysis),
        "pregnancy": {"date": pregnant[0].onset.text if pregnant[0].onset else None,
                      "test": pregnant[0].subtype == "positive-test"} if pregnant else None,
        "evidence": evidence_lines(evidence),
    }, reasons=tuple(reasons))


def _current_pregnancy(p: ConditionFinding, t: PretestTable, now: datetime) -> bool:
    if p.subtype == "positive-test":
        return p.onset is not None and days_since(p.onset.latest, now) <= t.pregnancy_test_recent_days
    # An active Condition counts unless its date says it is long past any pregnancy.
    return p.onset is None or days_since(p.onset.latest, now) <= t.pregnancy_condition_max_days
