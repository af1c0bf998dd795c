"""Prior results: how to read the patient's last EMG/NCS and spine MRI."""

from __future__ import annotations

import re

from ..cardbuilder import CardSpec
from ..reading.levels import level_sort_key
from ..reading.model import (
    ClinicalPicture,
    EmgReport,
    MriFinding,
)
from .common import OrderInput, evidence_lines, order_fact, order_region
from .config import RuleConfig
from ..reading.certainty import Certainty

# --- prior results ----------------------------------------------------------------------

#: DiagnosticReport.status values that are a finished result (anything else is said on the card).
FINAL_STATUSES = frozenset({"final", "amended", "corrected", "appended"})


def _status(status: str | None) -> dict:
    status = (status or "").lower() or None
    return {"status": status, "final": status is None or status in FINAL_STATUSES}


def _diagnosis(x, kind: str) -> dict:
    return {"kind": kind, "side": x.side, "site": getattr(x, "site", None), "roots": list(getattr(x, "roots", ()) or ()),
            "region": getattr(x, "region", None), "severity": x.severity, "certainty": x.certainty,
            "active": getattr(x, "active", None), "chronic": getattr(x, "chronic", None)}


def emg_fact(emg: EmgReport) -> dict:
    """What the card says of a prior EMG/NCS report.

    ``known`` is False when the report says nothing specific (only "abnormal study", or no
    statement at all): then no card shows it as a result.
    """
    r = emg.reading
    affirmed_roots = [x for x in r.radiculopathies if x.certainty == Certainty.AFFIRMED]
    affirmed_other = [x for x in r.neuropathies if x.certainty == Certainty.AFFIRMED]
    # Stated as possible (not merely "cannot be excluded" / "not assessed by this study").
    possible = [x for x in (*r.radiculopathies, *r.neuropathies) if x.certainty == Certainty.HEDGED and not x.not_excluded]
    normal = bool(r.normal) or (r.normal is None and not affirmed_roots and not affirmed_other and bool(r.negated))
    active = bool(r.active_denervation) or any(x.active for x in affirmed_roots)
    chronic = bool(r.chronic_reinnervation) or any(x.chronic for x in affirmed_roots)
    diagnoses = ([_diagnosis(x, "radiculopathy") for x in affirmed_roots] + [_diagnosis(x, x.kind) for x in affirmed_other]
                 + [_diagnosis(x, getattr(x, "kind", "radiculopathy")) for x in possible])
    if normal:
        diagnoses = []
        findings = [s.rstrip(" ;,") for s in r.normal_sentences] or ["Reported normal."]
    else:
        findings = [x.sentence for x in (*affirmed_roots, *affirmed_other, *possible)]
    findings = list(dict.fromkeys(findings))[:5]
    levels = list(dict.fromkeys(root for x in affirmed_roots for root in x.roots))
    known = normal or bool(diagnoses) or (r.normal is False and (active or chronic))
    first = (findings[0] if findings else "").rstrip(".")
    return {
        "date": emg.date.text if emg.date else "undated",
        "reference": emg.evidence[0].reference if emg.evidence else "DiagnosticReport",
        **_status(emg.status),
        "normal": normal,
        "result": "normal" if normal else ("abnormal" if known else "unclear"),
        "active": active,
        "chronic": chronic,
        "result_short": first,
        "findings": findings,
        #: Structured, for display names (cards/_macros/names.md emg_diagnosis): kind is a reader
        #: concept (radiculopathy, ulnar_neuropathy, ...), never shown as such.
        "diagnoses": diagnoses[:4],
        "possible_only": bool(diagnoses) and not affirmed_roots and not affirmed_other,
        "negated": [k for k in r.negated if not (normal is False and any(d["kind"] == k for d in diagnoses))][:4],
        "scope_notes": [s.rstrip(" ;,") for s in r.scope_notes][:2],
        "levels": levels,
        "known": known,
    }


def prior_emg_card(o: OrderInput, picture: ClinicalPicture) -> CardSpec | None:
    emg = picture.latest_emg
    if emg is None or not emg.text_available:
        return None
    fact = emg_fact(emg)
    if not fact["known"]:
        return None  # the report says nothing this service can read: no card
    reasons = ["prior-emg-normal" if fact["normal"] else "prior-emg-abnormal"]
    if not fact["final"]:
        reasons.append("prior-report-not-final")
    return CardSpec("prior-emg-reading", {"order": order_fact(o), "emg": fact, "evidence": evidence_lines(emg.evidence)},
                    reasons=tuple(reasons))


#: MRI finding kind -> the Brinjikji 2015 row (config/guidelines/asymptomatic-mri-prevalence.yaml)
#: that measured it: only these are said to be common without symptoms.
COMMON_WITHOUT_SYMPTOMS = {
    "disc_degeneration": "disc degeneration",
    "bulge": "disc bulge",
    "protrusion": "disc protrusion",
    "annular_fissure": "annular fissure",
    "facet_arthropathy": "facet degeneration",
    "spondylolisthesis": "spondylolisthesis",
}
#: Disc degeneration said as signal or height loss: Brinjikji counted those apart.
_DISC_SIGNAL = re.compile(r"desiccat|(?:loss of|decreased|reduced|diminished) (?:normal )?(?:dis[ck] )?(?:t2 )?signal|dis[ck] signal", re.I)
_DISC_HEIGHT = re.compile(r"(?:loss of|decreased|reduced|diminished) (?:normal )?(?:dis[ck] )?(?:space )?height|dis[ck] (?:space )?(?:height loss|narrowing|loss)|dis[ck] height is", re.I)
_STENOSIS = frozenset({"central_stenosis", "foraminal_stenosis", "lateral_recess_stenosis"})
_SEVERE = frozenset({"severe", "moderate-severe"})
#: Shown first, in this order: the cord, then a compressed root, then severe stenosis, then an extrusion.
_NOT_COMMON_ORDER = ("cord_signal", "cord_compression", "root_compression", "central_stenosis",
                     "lateral_recess_stenosis", "foraminal_stenosis", "extrusion")


def not_common_without_symptoms(f: MriFinding) -> bool:
    """Cord signal change or compression, a compressed root, severe stenosis, a disc extrusion
    (1% of people without back pain in Jensen 1994): never "common without symptoms"."""
    return (f.kind in ("cord_signal", "cord_compression", "root_compression", "extrusion")
            or (f.kind in _STENOSIS and f.severity in _SEVERE))


def _rows(f: MriFinding) -> list[str]:
    """The Brinjikji rows a finding is counted under (none for findings that study did not measure)."""
    row = COMMON_WITHOUT_SYMPTOMS.get(f.kind)
    if row != "disc degeneration":
        return [row] if row else []
    rows = [name for name, rx in (("disc signal loss", _DISC_SIGNAL), ("disc height loss", _DISC_HEIGHT)) if rx.search(f.sentence)]
    return rows or [row]


def _finding(f: MriFinding) -> dict:
    return {"kind": f.kind, "level": f.level, "side": f.side, "severity": f.severity, "zone": f.zone,
            "roots": list(f.roots), "certainty": f.certainty}


def prior_mri_card(o: OrderInput, picture: ClinicalPicture, cfg: RuleConfig) -> CardSpec | None:
    mri = picture.latest_mri(order_region(o, picture))
    if mri is None or picture.age_years is None or mri.reading.normal or not mri.reading.findings:
        return None
    affirmed = [f for f in mri.reading.findings if f.certainty == Certainty.AFFIRMED]
    # A possible cord or root finding is named too ("possible ..."): the card must not read as "all common".
    not_common = sorted((f for f in mri.reading.findings if f.certainty in (Certainty.AFFIRMED, Certainty.HEDGED)
                         and not_common_without_symptoms(f) and not (f.certainty == Certainty.HEDGED and f.kind == "extrusion")),
                        key=lambda f: (f.certainty != Certainty.AFFIRMED, _NOT_COMMON_ORDER.index(f.kind)))
    # The reader scopes "L3-4: bulge. ..." lists: put the level back where the sentence lost it.
    sentences = list(dict.fromkeys(
        (f.sentence if not f.level or re.match(r"^\s*[CTLS]\d", f.sentence) else f"{f.level}: {f.sentence}")
        .rstrip(" ;,")
        for f in [*affirmed, *(f for f in not_common if f.certainty != Certainty.AFFIRMED)]))
    if not sentences:
        return None
    levels = list(mri.reading.levels_with_findings)
    # Brinjikji's age figures come from lumbar studies: quote them for a lumbar MRI only.
    lumbar = "lumbar" in mri.regions if mri.regions else bool(levels) and all(lv[0] in "LS" for lv in levels)
    decade, rows = cfg.prevalence_at(picture.age_years)
    percent = {row["finding"]: row["percent"] for row in rows}
    common: dict[str, list[str]] = {}
    for f in affirmed:
        for row in _rows(f):
            if row not in percent:
                continue
            at_levels = common.setdefault(row, [])
            if f.level and f.level not in at_levels:
                at_levels.append(f.level)
    common_rows = [{"finding": row, "levels": lv, "percent": percent[row]} for row, lv in common.items()]
    fact = {"date": mri.date.text if mri.date else "undated",
            "reference": mri.evidence[0].reference if mri.evidence else "DiagnosticReport",
            **_status(mri.status),
            "findings": sentences[:6], "levels": levels, "lumbar": lumbar,
            #: Structured (kind, level, side, severity, zone, roots), for display names.
            "not_common": [_finding(f) for f in not_common][:5],
            "cord": any(f.kind in ("cord_signal", "cord_compression") for f in not_common),
            "root_compression": any(f.kind == "root_compression" for f in not_common),
            #: Brinjikji rows of the findings this MRI shows (not the whole table), and their levels.
            "common": common_rows,
            "common_levels": sorted({lv for row in common_rows for lv in row["levels"]}, key=level_sort_key)}
    reasons = ["prior-mri-findings"]
    if not_common:
        reasons.append("prior-mri-not-common-without-symptoms")
    if not fact["final"]:
        reasons.append("prior-report-not-final")
    return CardSpec("prior-mri-reading", {"order": order_fact(o), "mri": fact, "age": picture.age_years,
                                          "decade": decade, "prevalence": common_rows if lumbar else [],
                                          "evidence": evidence_lines(mri.evidence)},
                    reasons=tuple(reasons))
