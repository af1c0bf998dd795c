"""Prior spine MRI and EMG/NCS reports: which DiagnosticReports they are, and what their text says.

A report is a spine MRI or an EMG/NCS by its code (the order value sets, or
LOINC 18749-2 for an EMG document); a generic or local code falls back to the
code's text, then to the report's first line ("EXAM: MRI LUMBAR SPINE WO").
Its text is the ``conclusion`` (the impression) plus text/plain or text/html
``presentedForm`` attachments; PDFs and URL-only attachments are not read.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from ..valuesets import ValueSets
from .attributes import clip
from .dates import PartialDate, choice_date, parse_date
from .fhir_access import ODD_DATA, as_list, attachment_text, coded_evidence, codings, concept_text, match_coded, rid, rtype
from .model import TEXT, EmgReport, Evidence, MriReport
from .order_kinds import EDX_NOT_SPINE, ELECTRODIAGNOSTIC, ORDER_VALUESETS, SPINE_MRI, kind_from_text, names_edx_not_spine, regions_from_text

_SKIP_STATUS = {"entered-in-error", "cancelled"}
REPORT_VALUESETS = ("report-electrodiagnostic", "report-generic-imaging")


def read_reports(
    reports: list[Any], vs: ValueSets, skipped: Callable[[str, Exception], None] | None = None
) -> tuple[tuple[MriReport, ...], tuple[EmgReport, ...]]:
    """(spine MRI reports, EMG/NCS reports), newest first; other reports are ignored.

    A report that cannot be read is passed to ``skipped`` (or re-raised without one).
    """
    mri: list[MriReport] = []
    emg: list[EmgReport] = []
    for report in reports:
        try:
            _read_one(report, vs, mri, emg)
        except ODD_DATA as exc:
            if skipped is None:
                raise
            skipped("DiagnosticReport", exc)
    mri.sort(key=lambda r: _newest_first(r.date))
    emg.sort(key=lambda r: _newest_first(r.date))
    return tuple(mri), tuple(emg)


def _read_one(report: Any, vs: ValueSets, mri: list[MriReport], emg: list[EmgReport]) -> None:
    status = (getattr(report, "status", None) or "").lower()
    if status in _SKIP_STATUS:
        return
    kind, regions, code_ev = _classify(report, vs)
    text = _report_text(report)
    if kind is None and text:
        # A generic or missing code: the report's own title line may say what it is.
        kind = kind_from_text(text.strip().split("\n", 1)[0])
        regions = regions_from_text(text[:300]) if kind == SPINE_MRI else ()
        code_ev = None
    if kind is None or kind == EDX_NOT_SPINE:
        return
    if kind == ELECTRODIAGNOSTIC and names_edx_not_spine(concept_text(getattr(report, "code", None)) or ""):
        # A facial, laryngeal, single-fibre or junction study by its title (not by its text: a limb
        # study may say "no evidence of myasthenia"): not a prior spine EMG.
        return
    date = choice_date(report, "effective") or parse_date(getattr(report, "issued", None))
    date_text = date.text if date else None
    if code_ev is not None:
        evidence = (dataclasses.replace(code_ev, date=date_text),)
    else:
        title = concept_text(getattr(report, "code", None)) or (text or "").strip().split("\n", 1)[0]
        evidence = (Evidence(rtype(report), rid(report), date_text, clip(title or kind), TEXT),)
    # The text is read when the rules first look at the report (MriReport.reading).
    if kind == SPINE_MRI:
        mri.append(MriReport(evidence, date, status or None, regions, text or "", text_available=bool(text)))
    else:
        emg.append(EmgReport(evidence, date, status or None, text or "", text_available=bool(text)))


def _newest_first(d: PartialDate | None):
    return (d is None, -(d.latest.toordinal()) if d else 0)


def _classify(report: Any, vs: ValueSets) -> tuple[str | None, tuple[str, ...], Evidence | None]:
    code = getattr(report, "code", None)
    regions: list[str] = []
    kind = None
    evidence = None
    for name, (vs_kind, detail) in ORDER_VALUESETS.items():
        for _, entry, coding in match_coded(vs, (name,), code):
            if vs_kind == EDX_NOT_SPINE:
                return EDX_NOT_SPINE, (), None
            if kind is None:
                kind = vs_kind
                evidence = _ev(report, entry, coding)
            if vs_kind == SPINE_MRI and detail:
                regions.append(detail)
    if kind is None:
        for _, entry, coding in match_coded(vs, ("report-electrodiagnostic",), code):
            kind, evidence = ELECTRODIAGNOSTIC, _ev(report, entry, coding)
    if kind is None:
        text = concept_text(code)
        kind = kind_from_text(text) if text else None
        if kind == SPINE_MRI:
            regions = list(regions_from_text(text))
        if kind is not None:
            evidence = Evidence(rtype(report), rid(report), None, clip(text), TEXT)
    return kind, tuple(r for r in ("cervical", "thoracic", "lumbar") if r in regions), evidence


def _ev(report: Any, entry, coding) -> Evidence:
    return coded_evidence(report, None, entry, coding)


def _report_text(report: Any) -> str:
    parts: list[str] = []
    conclusion = getattr(report, "conclusion", None)
    if isinstance(conclusion, str) and conclusion.strip():
        parts.append(conclusion.strip())
    coded = "; ".join(
        getattr(c, "display", None) or "" for c in codings(getattr(report, "conclusionCode", None)) if getattr(c, "display", None)
    )
    if coded and not parts:
        parts.append(coded + ".")
    for att in as_list(getattr(report, "presentedForm", None)):
        text = attachment_text(att)
        if text and text.strip():
            body = text.strip()
            # The impression usually repeats inside the full report: read it once.
            if parts and " ".join(parts[0].split()) in " ".join(body.split()):
                parts[0] = body
            else:
                parts.append(body)
    return "\n\n".join(parts)
