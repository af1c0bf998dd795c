"""Prior MRI and EMG report texts are read on first use: the same reading, only when the rules look."""

from __future__ import annotations

from datetime import datetime, timezone

from cds_service.reading import mri_text, read_emg_text, read_mri_text, read_record
from cds_service.reading.model import MriReport

from .fhir import LOINC, cc, record, report

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
MRI_CODE = cc("MR Lumbar spine", (LOINC, "30679-5", "MR Lumbar spine WO contrast"))
EMG_CODE = cc("EMG", (LOINC, "18749-2", "Electromyogram study"))


def _mri(date: str, level: str):
    return report(MRI_CODE, conclusion=f"{level}: moderate left foraminal stenosis contacting the left nerve root.",
                  effectiveDateTime=date)


def test_only_the_reports_looked_at_are_read(vs, monkeypatch):
    calls = []
    real = mri_text.read_mri_text
    monkeypatch.setattr(mri_text, "read_mri_text", lambda text: calls.append(text) or real(text))
    reports = [_mri(f"20{10 + i}-01-01", level) for i, level in enumerate(["L3-4", "L4-5", "L5-S1"])]
    picture = read_record(record(*reports), vs, NOW)
    assert [r.date.text for r in picture.mri_reports] == ["2012-01-01", "2011-01-01", "2010-01-01"]
    assert calls == []  # nothing read yet
    newest = picture.latest_mri("lumbar")
    assert {f.level for f in newest.reading.findings} == {"L5-S1"}
    assert newest.reading is newest.reading and len(calls) == 1  # read once, kept
    # An older report is still there to read, with the same result as reading its text directly.
    older = picture.mri_reports[2]
    assert older.reading == real(older.text) and {f.level for f in older.reading.findings} == {"L3-L4"}


def test_emg_reports_read_on_use_too(vs):
    text = "IMPRESSION: Electrodiagnostic evidence of an active left L5 radiculopathy."
    picture = read_record(record(report(EMG_CODE, conclusion=text, effectiveDateTime="2026-01-01")), vs, NOW)
    assert picture.latest_emg.reading == read_emg_text(text)


def test_a_reader_failure_reads_as_an_empty_report_not_a_failed_call(vs, monkeypatch, caplog):
    def broken(text):
        if text:
            raise ValueError("Jane Secretname")
        return read_mri_text(text)

    monkeypatch.setattr(mri_text, "read_mri_text", broken)
    picture = read_record(record(_mri("2026-01-01", "L4-5")), vs, NOW)
    reading = picture.latest_mri().reading
    assert reading == read_mri_text("") and reading.findings == ()
    assert "Secretname" not in caplog.text and "ValueError" in caplog.text


def test_reports_compare_by_their_text():
    a = MriReport((), None, "final", ("lumbar",), "L4-5: protrusion.")
    b = MriReport((), None, "final", ("lumbar",), "L4-5: protrusion.")
    assert a == b and hash(a) == hash(b) and a.reading == b.reading
    assert a != MriReport((), None, "final", ("lumbar",), "L5-S1: protrusion.")
