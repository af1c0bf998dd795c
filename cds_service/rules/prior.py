"""Prior results: how to read the patient's last EMG/NCS and spine MRI."""

from __future__ import annotations

import re

from ..cardbuilder import CardSpec
from ..reading.model import (
    ClinicalPicture,
    EmgReport,
)
from .common import OrderInput, evidence_lines, order_fact, order_region
from .config import RuleConfig

# --- prior results ----------------------------------------------------------------------


def emg_fact(emg: EmgReport) -> dict:
    r = emg.reading
    affirmed_roots = [x for x in r.radiculopathies if x.certainty == "affirmed"]
    affirmed_other = [x for x in r.neuropathies if x.certainty == "affirmed"]
    normal = bool(r.normal) or (r.normal is None and not affirmed_roots and not affirmed_other and bool(r.negated))
    findings = [x.sentence for x in affirmed_roots] + [x.sentence for x in affirmed_other]
    if normal and not findings:
        findings = ["Reported normal" + (f"; no evidence of {', '.join(r.negated[:3])}" if r.negated else "") + "."]
    levels = list(dict.fromkeys(root for x in affirmed_roots for root in x.roots))
    first = (findings[0] if findings else "abnormal study").rstrip(".")
    return {
        "date": emg.date.text if emg.date else "undated",
        "reference": emg.evidence[0].reference if emg.evidence else "DiagnosticReport",
        "normal": normal,
        "active": bool(r.active_denervation) or any(x.active for x in affirmed_roots),
        "chronic": bool(r.chronic_reinnervation) or any(x.chronic for x in affirmed_roots),
        "result_short": first,
        "findings": list(dict.fromkeys(findings))[:5],
        "levels": levels,
        "known": normal or bool(findings) or r.normal is False,
    }


def prior_emg_card(o: OrderInput, picture: ClinicalPicture) -> CardSpec | None:
    emg = picture.latest_emg
    if emg is None or not emg.text_available:
        return None
    fact = emg_fact(emg)
    if not fact["known"]:
        return None  # the report says nothing this service can read: no card
    return CardSpec("prior-emg-reading", {"order": order_fact(o), "emg": fact, "evidence": evidence_lines(emg.evidence)},
                    reasons=("prior-emg-normal" if fact["normal"] else "prior-emg-abnormal",))


def prior_mri_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig) -> CardSpec | None:
    mri = picture.latest_mri(order_region(o, picture))
    if mri is None or picture.age_years is None or mri.reading.normal or not mri.reading.findings:
        return None
    decade, rows = cfg.prevalence_at(picture.age_years)
    # The reader scopes "L3-4: bulge. ..." lists: put the level back where the sentence lost it.
    sentences = list(dict.fromkeys(
        (f.sentence if not f.level or re.match(r"^\s*[CTLS]\d", f.sentence) else f"{f.level}: {f.sentence}")
        .rstrip(" ;,")
        for f in mri.reading.findings if f.certainty == "affirmed"))
    if not sentences:
        return None
    levels = list(mri.reading.levels_with_findings)
    # Brinjikji's age figures come from lumbar studies: quote them for a lumbar MRI only.
    lumbar = "lumbar" in mri.regions if mri.regions else bool(levels) and all(lv[0] in "LS" for lv in levels)
    fact = {"date": mri.date.text if mri.date else "undated",
            "reference": mri.evidence[0].reference if mri.evidence else "DiagnosticReport",
            "findings": sentences[:6], "levels": levels, "lumbar": lumbar}
    return CardSpec("prior-mri-reading", {"order": order_fact(o), "mri": fact, "age": picture.age_years,
                                          "decade": decade, "prevalence": rows, "evidence": evidence_lines(mri.evidence)},
                    reasons=("prior-mri-findings",))


