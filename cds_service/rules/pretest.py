"""Practical pre-test notes for the ordered study: EMG/NCS bleeding and device notes (spine MRI: ``mri_pretest``).

What counts and for how long is the pre-test table's (``config/guidelines/pretest.yaml``): a result past
its threshold is a note on its own (a warning); a result within range is only worth saying beside an
anticoagulant. Which notes apply follows the parts of the study the order names (``o.info.studies``):
the needle part has the bleeding notes, nerve conduction the device notes; none named means both.
"""

from __future__ import annotations

from datetime import datetime

from ..cardbuilder import CardSpec
from ..reading.model import ClinicalPicture, LabValue
from .common import OrderInput, evidence_lines, order_fact
from .config import RuleConfig
from .mri_pretest import mri_pretest_card
from .pretest_table import PretestTable, is_above, is_below, within_days


def pretest_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig, now: datetime) -> CardSpec | None:
    """The pre-test note for this order (EMG/NCS or spine MRI), or None when the record gives nothing to say."""
    if o.info.kind == "electrodiagnostic":
        return edx_pretest_card(o, picture, cfg.pretest, now)
    return mri_pretest_card(o, picture, cfg.pretest, now)


def _lab(lab: LabValue | None, t: PretestTable, now: datetime, past) -> dict | None:
    if lab is None or not within_days(lab.date, now, t.lab_recent_days):
        return None
    return {"value": lab.value, "comparator": lab.comparator or "", "date": lab.date, "past": past(lab),
            "evidence": lab.evidence}


def edx_pretest_card(o: OrderInput, picture: ClinicalPicture, t: PretestTable, now: datetime) -> CardSpec | None:
    studies = set(o.info.studies) or {"emg", "ncs"}
    needle, ncs = "emg" in studies, "ncs" in studies
    anticoag = list(picture.anticoagulants) if needle else []
    bleeding = list(picture.bleeding_disorders) if needle else []
    lymph = list(picture.lymphedema) if needle else []
    devices = list(picture.cardiac_devices) if ncs else []
    inr = _lab(picture.inr, t, now, lambda lab: is_above(lab, t.inr_caution_above)) if needle else None
    plt = _lab(picture.platelets, t, now, lambda lab: is_below(lab, t.platelets_caution_below)) if needle else None
    # Say less: a value within range is news only beside an anticoagulant.
    labs = {k: v for k, v in (("inr", inr), ("platelets", plt)) if v and (v["past"] or anticoag)}
    if not (anticoag or bleeding or lymph or devices or any(v["past"] for v in labs.values())):
        return None  # an antiplatelet alone is no note (no threshold, no hematoma needing care in the studies)
    antiplt = list(picture.antiplatelets) if needle else []
    names = list(dict.fromkeys(m.ingredient or "" for m in anticoag))
    past = [k for k, v in labs.items() if v["past"]]
    reasons = (["anticoagulant"] * bool(anticoag) + ["antiplatelet"] * bool(antiplt)
               + ["bleeding-disorder"] * bool(bleeding)
               + [f"{k}-{'past-threshold' if v['past'] else 'in-range'}" for k, v in labs.items()]
               + ["lymphedema"] * bool(lymph) + ["cardiac-device"] * bool(devices))
    evidence = ([e for k in past for e in labs[k]["evidence"]] + [e for m in anticoag for e in m.evidence]
                + [e for b in bleeding for e in b.evidence] + [e for k, v in labs.items() if not v["past"] for e in v["evidence"]]
                + [e for d in devices for e in d.evidence] + [e for x in lymph for e in x.evidence]
                + [e for m in antiplt for e in m.evidence])
    return CardSpec("edx-pretest-notes", {
        "order": order_fact(o),
        "anticoagulants": [{"name": n or "an anticoagulant",
                            "data": "warfarin" if n in t.warfarin_drugs else "none" if n in t.no_data_drugs else "other"}
                           for n in names],
        "antiplatelets": [{"name": n} for n in dict.fromkeys(m.ingredient or "an antiplatelet drug" for m in antiplt)],
        "bleeding_disorder": bool(bleeding),
        "lymphedema": bool(lymph),
        "inr": {k: v for k, v in labs["inr"].items() if k != "evidence"} if "inr" in labs else None,
        "platelets": {k: v for k, v in labs["platelets"].items() if k != "evidence"} if "platelets" in labs else None,
        "inr_threshold": t.inr_caution_above,
        "platelets_threshold": t.platelets_caution_below,
        "devices": [{"kind": k} for k in dict.fromkeys(d.kind for d in devices)],
        "needle": needle,
        "evidence": evidence_lines(evidence),
    }, reasons=tuple(reasons), indicator="warning" if past else None)
