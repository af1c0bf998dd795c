"""Practical pre-test notes for the ordered study."""

from __future__ import annotations

from ..cardbuilder import CardSpec
from ..reading.model import (
    ClinicalPicture,
)
from .common import OrderInput, evidence_lines, order_fact


def pretest_card(o: OrderInput, picture: ClinicalPicture) -> CardSpec | None:
    studies = set(o.info.studies) or {"emg", "ncs"}
    anticoag = list(picture.anticoagulants) if "emg" in studies else []
    devices = list(picture.cardiac_devices) if "ncs" in studies else []
    if not anticoag and not devices:
        return None
    names = list(dict.fromkeys((m.ingredient or "an anticoagulant") for m in anticoag))
    kinds = list(dict.fromkeys(d.kind for d in devices))
    return CardSpec("edx-pretest-notes", {
        "order": order_fact(o),
        "anticoagulants": [{"name": n} for n in names],
        "devices": [{"kind": k} for k in kinds],
        "needle": "emg" in studies,
        "evidence": evidence_lines([e for m in anticoag for e in m.evidence] + [e for d in devices for e in d.evidence]),
    }, reasons=tuple(["anticoagulant"] * bool(names) + ["cardiac-device"] * bool(kinds)))


