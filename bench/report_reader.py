"""Speed of the report reader, as ratios against a baseline measured in the same run.

    .venv/bin/python bench/report_reader.py [--repeat N] [--medspacy-python PATH]

Baseline: one pass of ``re.findall(r"\\w+")`` over the same text -- the cheapest
reading a text can get, so "reader / baseline" says how many plain scans of the
text the reader costs, independent of the machine.

1. the labelled corpus (MRI and EMG impressions and short reports): time per report;
2. hostile and long texts: the ratio must stay flat as the text grows (linear time);
3. a whole heavy record (300 Conditions, 200 Observations, 5 spine reports of ~3 kB,
   20 medications, 3 devices) through ``read_record``, against parsing the same
   resources into fhir.resources models (what the service pays before reading);
4. with ``--medspacy-python``, a Python that has medspaCy installed (kept out of the
   project's dependencies): medspaCy (PyRuSH sentences, our concept patterns as target
   rules, its default ConText rules) on the same corpus, in a subprocess -- load time,
   time per report, and how often its default cues agree with the labels' negations.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_WORD = re.compile(r"\w+")


def _time(fn, texts, repeat: int) -> float:
    """Best-of-``repeat`` seconds for one pass of ``fn`` over ``texts``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for t in texts:
            fn(t)
        best = min(best, time.perf_counter() - t0)
    return best


def _baseline(text: str) -> int:
    return len(_WORD.findall(text))


def _corpus() -> list[dict]:
    from tests.reading.corpus_scoring import load

    out = []
    for kind in ("mri", "emg"):
        for split in ("dev", "holdout"):
            out += [{"id": r["id"], "kind": kind, "text": r["text"], "negated": r.get("negated") or []} for r in load(kind, split)]
    return out


def bench_corpus(repeat: int) -> float:
    from cds_service.reading import read_emg_text, read_mri_text

    reports = _corpus()
    mri = [r["text"] for r in reports if r["kind"] == "mri"]
    emg = [r["text"] for r in reports if r["kind"] == "emg"]
    base = _time(_baseline, mri + emg, repeat)
    ours = _time(read_mri_text, mri, repeat) + _time(read_emg_text, emg, repeat)
    n = len(mri) + len(emg)
    chars = statistics.mean(len(t) for t in mri + emg)
    print(f"corpus: {n} reports, mean {chars:.0f} chars")
    print(f"  baseline (regex word scan): {base / n * 1e6:8.1f} us/report")
    print(f"  reader:                     {ours / n * 1e6:8.1f} us/report   ratio {ours / base:6.1f}x")
    return ours / n


def bench_hostile(repeat: int) -> None:
    from cds_service.reading import read_mri_text

    sample = "L4-5: Moderate left foraminal stenosis and a small protrusion contacting the left L5 nerve root; no canal stenosis. "
    cases = {
        "typical report x1 (110 chars)": sample,
        "typical report x30 (3.3 kB)": sample * 30,
        "typical report x290 (32 kB, the cap)": sample * 290,
        "1 MB of report text (cut at 32 kB)": sample * 9500,
        "'no ' x 200k (600 kB, one sentence)": "no " * 200_000,
        "'L4-5 ' x 100k": "L4-5 " * 100_000,
        "'protrusion, ' x 5k + long root phrase": ("protrusion, " * 5000) + "contacting the " + ("left " * 5000) + "nerve root",
        "one 1 MB word": "a" * 1_000_000,
    }
    print("hostile / long texts (reader time / baseline time on the same text):")
    for name, text in cases.items():
        r = max(1, repeat // 3)
        base = _time(_baseline, [text], r)
        ours = _time(read_mri_text, [text], r)
        print(f"  {name:42s} reader {ours * 1e3:8.2f} ms   ratio {ours / base:7.1f}x")


_WORKER = r'''
import json, sys, time, importlib.util
from loguru import logger
logger.remove()  # PyRuSH logs every token at DEBUG
spec = importlib.util.spec_from_file_location("lexicon", sys.argv[1])
lx = importlib.util.module_from_spec(spec); spec.loader.exec_module(lx)
reports = json.load(sys.stdin)
t0 = time.perf_counter()
import medspacy
from medspacy.ner import TargetRule
t1 = time.perf_counter()
pipes = {}
for kind, concepts in (("mri", lx.MRI_CONCEPTS), ("emg", lx.EMG_CONCEPTS)):
    nlp = medspacy.load()
    rules = [TargetRule(name, name.upper(), pattern="(?i)(?:" + "|".join(alts) + ")") for name, alts in concepts.items()]
    nlp.get_pipe("medspacy_target_matcher").add(rules)
    pipes[kind] = nlp
t2 = time.perf_counter()
out = []
for r in reports:
    nlp = pipes[r["kind"]]
    s = time.perf_counter()
    doc = nlp(r["text"])
    e = time.perf_counter() - s
    out.append({"id": r["id"], "seconds": e,
                "negated": sorted({ent.label_.lower() for ent in doc.ents if ent._.is_negated}),
                "hedged": sorted({ent.label_.lower() for ent in doc.ents if ent._.is_uncertain})})
json.dump({"import": t1 - t0, "load": t2 - t1, "reports": out}, sys.stdout)
'''


def bench_medspacy(python: str, our_per_report: float) -> None:
    from cds_service.reading import read_emg_text, read_mri_text

    reports = _corpus()
    proc = subprocess.run(
        [python, "-c", _WORKER, str(ROOT / "cds_service" / "reading" / "lexicon.py")],
        input=json.dumps(reports), capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        print("medspaCy worker failed:", proc.stderr.strip().splitlines()[-1:] or proc.returncode)
        return
    result = json.loads(proc.stdout)
    per_report = statistics.mean(r["seconds"] for r in result["reports"])
    print("medspaCy 1.3 (default ConText rules, our concept patterns as target rules):")
    print(f"  import {result['import']:.2f} s, pipeline load {result['load']:.2f} s (two pipelines)")
    print(f"  {per_report * 1e6:8.1f} us/report   ratio to our reader {per_report / our_per_report:6.1f}x")
    # Negation agreement: which labelled "negated" kinds each reader finds negated.
    ours_tp = theirs_tp = total = their_extra = our_extra = 0
    by_id = {r["id"]: r for r in result["reports"]}
    for rep in reports:
        labelled = set(rep["negated"])
        total += len(labelled)
        if rep["kind"] == "mri":
            mine = {f.kind for f in read_mri_text(rep["text"]).negated}
            theirs = {k if k != "stenosis_unspecified" else "central_stenosis" for k in by_id[rep["id"]]["negated"]}
        else:
            mine = set(read_emg_text(rep["text"]).negated)
            theirs = set(by_id[rep["id"]]["negated"]) - {"active_denervation", "chronic_reinnervation", "normal_study"}
        ours_tp += len(labelled & mine)
        theirs_tp += len(labelled & theirs)
        our_extra += len(mine - labelled)
        their_extra += len(theirs - labelled)
    print(f"  labelled negations found: ours {ours_tp}/{total} (+{our_extra} unlabelled), "
          f"medspaCy default ConText {theirs_tp}/{total} (+{their_extra} unlabelled)")


def _heavy_record_json() -> list[dict]:
    import base64

    labels = ["Lumbar radiculopathy, left", "Essential hypertension", "Type 2 diabetes mellitus",
              "Carpal tunnel syndrome, right", "Low back pain", "Hyperlipidemia", "History of breast cancer",
              "Numbness of the left foot, intermittent", "Osteoarthritis of knee", "GERD"]
    out: list[dict] = [{"resourceType": "Patient", "id": "p", "birthDate": "1961-03-02", "gender": "female"}]
    for i in range(300):
        out.append({"resourceType": "Condition", "id": f"c{i}", "subject": {"reference": "Patient/p"},
                    "clinicalStatus": {"coding": [{"code": "active"}]}, "onsetDateTime": "2025-0%d" % (1 + i % 9),
                    "code": {"text": labels[i % len(labels)],
                             "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": ["M54.16", "I10", "E11.9", "G56.01", "M54.50"][i % 5]}]}})
    for i in range(200):
        out.append({"resourceType": "Observation", "id": f"o{i}", "status": "final", "effectiveDateTime": "2026-10-01",
                    "code": {"text": ["Pain score", "Reflexes", "Gait", "Body temperature"][i % 4]},
                    "valueString": ["6/10", "2+ symmetric, no clonus, Hoffmann negative", "normal gait", "37.1"][i % 4]})
    report = ("EXAM: MRI LUMBAR SPINE WITHOUT CONTRAST\nHISTORY: left leg pain\nFINDINGS:\n"
              + "L4-5: Moderate left foraminal stenosis and a small protrusion contacting the left L5 nerve root; no canal stenosis.\n" * 25
              + "IMPRESSION: Left L4-5 protrusion contacting the left L5 root.")
    for i in range(5):
        out.append({"resourceType": "DiagnosticReport", "id": f"r{i}", "status": "final", "code": {"text": "MRI lumbar spine"},
                    "effectiveDateTime": "2026-0%d-01" % (i + 1),
                    "presentedForm": [{"contentType": "text/plain", "data": base64.b64encode(report.encode()).decode()}]})
    for i in range(20):
        out.append({"resourceType": "MedicationRequest", "id": f"m{i}", "status": "active", "intent": "order",
                    "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": ["Apixaban 5 mg", "Metformin 500 mg", "Lisinopril 10 mg", "Aspirin 81 mg"][i % 4]}})
    for i in range(3):
        out.append({"resourceType": "Device", "id": f"d{i}", "status": "active", "type": {"text": "Dual chamber pacemaker"}})
    return out


def bench_record(repeat: int) -> None:
    from datetime import datetime, timezone

    from fhir.resources.R4B import get_fhir_model_class

    from cds_service.reading import read_record
    from cds_service.record import PatientRecord
    from cds_service.valuesets import load_valuesets

    vs = load_valuesets(ROOT / "config" / "valuesets")
    raw = _heavy_record_json()
    now = datetime(2026, 11, 26, tzinfo=timezone.utc)

    def parse():
        rec = PatientRecord()
        for r in raw:
            rec.add(get_fhir_model_class(r["resourceType"]).model_validate(r))
        return rec

    rec = parse()
    r = max(1, repeat // 2)
    t_parse = _time(lambda _: parse(), [None], r)
    def read_all(_):
        picture = read_record(rec, vs, now)
        # Report texts are read on first use (the rules look at the newest only): read them all here.
        for report in picture.mri_reports + picture.emg_reports:
            report.reading  # noqa: B018

    t_read = _time(read_all, [None], r)
    size = next(len(r["presentedForm"][0]["data"]) * 3 // 4 for r in raw if r["resourceType"] == "DiagnosticReport")
    print(f"heavy record ({len(raw)} resources, 5 spine MRI reports of {size} bytes each):")
    print(f"  parse into R4B models: {t_parse * 1e3:7.1f} ms")
    print(f"  read_record:           {t_read * 1e3:7.1f} ms   ratio {t_read / t_parse:5.2f}x of parsing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--medspacy-python", help="a Python with medspacy installed, for the comparison")
    args = parser.parse_args()
    per_report = bench_corpus(args.repeat)
    bench_hostile(args.repeat)
    bench_record(args.repeat)
    if args.medspacy_python:
        bench_medspacy(args.medspacy_python, per_report)


if __name__ == "__main__":
    main()
