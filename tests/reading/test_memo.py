"""The engine's memo of text readings: the same pictures as reading afresh, bounded, thread-safe."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
import yaml

from cds_service.fhir.parse import entries
from cds_service.fhir.reader import read_resource
from cds_service.reading import memo, read_record
from cds_service.reading.fhir_access import is_code_wording, value_wording
from cds_service.reading.memo import TextMemo
from cds_service.record import PatientRecord
from cds_service.settings import PROJECT_ROOT
from tests.scenarios.build import build

SCENARIOS = yaml.safe_load((PROJECT_ROOT / "tests" / "scenarios" / "scenarios.yaml").read_text())


def _picture(request: dict, vs, now):
    record = PatientRecord()
    for value in request["prefetch"].values():
        for entry in entries(value):
            record.add(read_resource(entry.resource))
    picture = read_record(record, vs, now)
    # Report texts are read on first use: read them all, so the comparison covers them.
    readings = [r.reading for r in picture.mri_reports] + [r.reading for r in picture.emg_reports]
    return picture, readings


def test_every_scenario_reads_the_same_with_the_memo_off_cold_and_warm(vs):
    for scenario in SCENARIOS:
        request = build(scenario, patient_id="p-1")
        now = datetime.fromisoformat(str(scenario.get("now", "2026-11-26"))).replace(tzinfo=timezone.utc)
        off_memo = TextMemo(0)
        with memo.using(off_memo):
            off = _picture(request, vs, now)
        assert len(off_memo) == 0
        none_lent = _picture(request, vs, now)  # outside a call: read afresh
        lent = TextMemo(2_000_000, keep_patient_text=True)
        with memo.using(lent):
            cold = _picture(request, vs, now)
        misses = lent.misses
        with memo.using(lent):  # the next call
            warm = _picture(request, vs, now)
        codes_only = TextMemo(2_000_000)  # the default: code-system wording only across calls
        with memo.using(codes_only):
            _picture(request, vs, now)
        with memo.using(codes_only):
            codes_warm = _picture(request, vs, now)
        assert off == none_lent == cold == warm == codes_warm, scenario["name"]
        assert lent.misses == misses and lent.hits > 0, scenario["name"]  # warm: nothing read again


def test_each_engine_has_its_own_memo_lent_only_during_its_calls(app):
    """No module keeps a memo: the engine's serves its calls, and nothing is kept outside one."""
    from cds_service.pipeline import call_service
    from cds_service.settings import Settings

    engine = app.extensions["cds_engine"]
    assert engine.memo.max_chars == Settings.load(env={}, yaml_path=None).text_cache_chars
    scenario = next(s for s in SCENARIOS if s.get("hook", "order-sign") == "order-sign")
    body = build(scenario, patient_id="p-memo")
    now = datetime.fromisoformat(str(scenario.get("now", "2026-11-26"))).replace(tzinfo=timezone.utc)
    before = engine.memo.misses + engine.memo.hits
    call_service(engine, engine.registry.get("spine-order-sign"), body, now=now)
    assert engine.memo.misses + engine.memo.hits > before
    assert memo._current.get() is None  # returned after the call


def test_a_text_seen_again_is_not_read_again_and_readers_are_kept_apart():
    m = TextMemo(100_000)
    calls: list[str] = []

    def reader(tag):
        def read(text):
            calls.append(tag)
            return (tag, text.upper())

        return read

    assert m.read("mri", "disc bulge", reader("mri")) == ("mri", "DISC BULGE")
    assert m.read("mri", "disc bulge", reader("mri")) == ("mri", "DISC BULGE")
    assert m.read("emg", "disc bulge", reader("emg")) == ("emg", "DISC BULGE")
    assert calls == ["mri", "emg"] and (m.hits, m.misses) == (1, 2)


def test_the_memo_stays_within_its_budget_and_drops_the_least_recently_used():
    m = TextMemo(16 * 1000)  # texts over 1,000 characters (with overhead) are never kept
    read = lambda text: len(text)  # noqa: E731
    for i in range(200):
        m.read("clinical", f"text number {i} " + "x" * 300, read)
        assert m.chars <= m.max_chars
    assert 0 < len(m) < 200
    newest = "text number 199 " + "x" * 300
    oldest = "text number 0 " + "x" * 300
    hits = m.hits
    m.read("clinical", newest, read)
    assert m.hits == hits + 1
    m.read("clinical", oldest, read)
    assert m.hits == hits + 1  # long gone


def test_long_texts_and_a_zero_budget_are_read_every_time():
    calls = []

    def read(text):
        calls.append(text)
        return len(text)

    big = TextMemo(16_000)
    big.read("mri", "y" * 2_000, read)
    big.read("mri", "y" * 2_000, read)
    off = TextMemo(0)
    off.read("mri", "short", read)
    off.read("mri", "short", read)
    assert len(calls) == 4 and len(big) == 0 and len(off) == 0


def test_threads_reading_the_same_texts_agree():
    m = TextMemo(50_000)
    texts = [f"sentence {i} " * (i % 7 + 1) for i in range(300)]
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(5):
                for t in texts:
                    assert m.read("clinical", t, str.upper) == t.upper()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and m.chars <= m.max_chars


def _record(*resources: dict) -> PatientRecord:
    record = PatientRecord()
    for resource in resources:
        record.add(read_resource({"subject": {"reference": "Patient/p-phi"}, **resource}))
    record.add(read_resource({"resourceType": "Patient", "id": "p-phi", "birthDate": "1970-01-01"}))
    return record


_LUMBAR = {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.16", "display": "Radiculopathy, lumbar region"}
_PATIENT_WORDS = ("Mrs Doe", "gardening", "since her fall", "Zebra")


def _phi_record() -> PatientRecord:
    return _record(
        # code-system wording only: may be kept across calls
        {"resourceType": "Condition", "id": "c1", "code": {"coding": [_LUMBAR], "text": "Radiculopathy, lumbar region"}},
        # a text typed for this patient, and a note
        {"resourceType": "Condition", "id": "c2", "code": {"coding": [_LUMBAR], "text": "Left leg numbness since her fall"},
         "note": [{"text": "Mrs Doe says the pain started gardening"}]},
        {"resourceType": "Observation", "id": "o1", "status": "final", "effectiveDateTime": "2026-11-20",
         "code": {"text": "Numbness"}, "valueString": "Zebra stripes of numbness down the left shin"},
        {"resourceType": "DiagnosticReport", "id": "r1", "status": "final", "effectiveDateTime": "2026-10-01",
         "code": {"coding": [{"system": "http://loinc.org", "code": "30679-5", "display": "MR Lumbar spine WO contrast"}]},
         "conclusion": "Mrs Doe: L4-5 disc protrusion contacting the left L5 nerve root."},
    )


def _read_in_one_call(worker: TextMemo, record: PatientRecord, vs):
    with memo.using(worker):
        picture = read_record(record, vs, datetime(2026, 12, 1, tzinfo=timezone.utc))
        return picture, [r.reading for r in picture.mri_reports]


def test_patient_text_is_not_kept_across_calls_by_default_and_code_wording_is(vs):
    worker = TextMemo(2_000_000)
    picture, readings = _read_in_one_call(worker, _phi_record(), vs)
    assert readings and readings[0].findings  # the report was read
    kept = [text for _, text in worker._items]
    assert kept, "code-system wording is kept"
    assert any(text == "Radiculopathy, lumbar region" for text in kept)
    for text in kept:
        assert not any(word in text for word in _PATIENT_WORDS), text
    # The same record read again afresh gives the same picture.
    assert _read_in_one_call(worker, _phi_record(), vs)[0] == picture


def test_patient_text_is_kept_across_calls_only_when_asked(vs):
    worker = TextMemo(2_000_000, keep_patient_text=True)
    _read_in_one_call(worker, _phi_record(), vs)
    kept = [text for _, text in worker._items]
    assert any("Mrs Doe" in text for text in kept) and any("Zebra" in text for text in kept)
    misses = worker.misses
    _read_in_one_call(worker, _phi_record(), vs)
    assert worker.misses == misses  # nothing read again


def test_within_one_call_a_text_is_read_once_and_nothing_is_kept_after_it():
    calls: list[str] = []

    def read(text):
        calls.append(text)
        return len(text)

    worker = TextMemo(2_000_000)
    with memo.using(worker):
        for _ in range(5):
            assert memo.read("clinical", "Ankle reflex: 1+ left", read) == 21
    assert calls == ["Ankle reflex: 1+ left"] and len(worker) == 0
    with memo.using(worker):  # the next call reads it again
        memo.read("clinical", "Ankle reflex: 1+ left", read)
    assert len(calls) == 2
    with memo.using(worker):  # code-system wording is kept for the next call
        memo.read("clinical", "Radiculopathy, lumbar region", read, code_wording=True)
    with memo.using(worker):
        memo.read("clinical", "Radiculopathy, lumbar region", read, code_wording=True)
    assert calls.count("Radiculopathy, lumbar region") == 1 and len(worker) == 1
    assert memo._current.get() is None


def test_code_wording_is_text_that_is_blank_or_a_display_of_its_own_codings():
    record = _record(
        {"resourceType": "Observation", "id": "a", "status": "final", "code": {"coding": [_LUMBAR]},
         "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "24028007", "display": "Right"}],
                                  "text": "Right"}},
        {"resourceType": "Observation", "id": "b", "status": "final", "code": {"coding": [_LUMBAR], "text": "Lumbar  radiculopathy"},
         "valueString": "worse at night"},
        {"resourceType": "Observation", "id": "c", "status": "final", "code": {"text": "Straight leg raise"},
         "valueCodeableConcept": {"text": "positive on the left"}},
        {"resourceType": "Observation", "id": "d", "status": "final", "code": {"coding": [_LUMBAR]}, "valueBoolean": True},
    )
    a, b, c, d = sorted(record.observations, key=lambda o: o.id)
    assert is_code_wording(a.code, a.valueCodeableConcept) and value_wording(a) == ("Right", True)
    assert not is_code_wording(b.code) and value_wording(b) == ("worse at night", False)
    assert not is_code_wording(c.code) and value_wording(c) == ("positive on the left", False)
    assert is_code_wording(d.code) and value_wording(d) == ("", True)
    assert is_code_wording(None) and is_code_wording([a.code, d.code]) and not is_code_wording([a.code, b.code])
