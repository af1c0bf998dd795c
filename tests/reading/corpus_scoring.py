"""Scoring the report reader against the labelled corpus: precision and recall per field.

Each field is scored as sets of facts over the whole corpus (micro-averaged):
a fact is e.g. (report id, level, kind) for "finding", (report id, level,
kind, side) for "side". Used by test_corpus.py and bench/report_reader.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from cds_service.reading.emg_text import read_emg_text
from cds_service.reading.mri_text import read_mri_text

CORPUS = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load(kind: str, split: str) -> list[dict]:
    """Labelled reports of ``kind`` (mri/emg) in ``split`` (dev/holdout)."""
    path = CORPUS / f"{kind}-{split}.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else []


def _score(expected: set, predicted: set) -> Score:
    return Score(len(expected & predicted), len(predicted - expected), len(expected - predicted))


def _add(acc: dict, field: str, expected: set, predicted: set) -> None:
    e, p = acc.setdefault(field, (set(), set()))
    e |= expected
    p |= predicted


def score_mri(reports: list[dict]) -> tuple[dict[str, Score], list[str]]:
    """Scores per field, and one line per disagreement (for debugging a regression)."""
    acc: dict = {}
    diffs: list[str] = []
    for rep in reports:
        rid = rep["id"]
        reading = read_mri_text(rep["text"])
        exp = [_mri_label(f) for f in rep.get("findings") or []]
        got = [(f.level, f.kind, f.side, f.severity, tuple(f.roots), f.certainty) for f in reading.findings]
        fields = {
            "finding": (lambda x: (x[0], x[1]), lambda x: True),
            "side": (lambda x: (x[0], x[1], x[2]), lambda x: x[2] is not None),
            "severity": (lambda x: (x[0], x[1], x[3]), lambda x: x[3] is not None),
            "hedged": (lambda x: (x[0], x[1]), lambda x: x[5] == "hedged"),
        }
        for name, (key, keep) in fields.items():
            e = {(rid, *key(x)) for x in exp if keep(x)}
            p = {(rid, *key(x)) for x in got if keep(x)}
            _add(acc, name, e, p)
            diffs += [f"{rid} {name} missed {k[1:]}" for k in e - p] + [f"{rid} {name} extra {k[1:]}" for k in p - e]
        e = {(rid, x[0], x[1], r) for x in exp for r in x[4]}
        p = {(rid, x[0], x[1], r) for x in got for r in x[4]}
        _add(acc, "roots", e, p)
        e = {(rid, k) for k in rep.get("negated") or []}
        p = {(rid, f.kind) for f in reading.negated}
        _add(acc, "negated", e, p)
        diffs += [f"{rid} negated missed {k[1]}" for k in e - p] + [f"{rid} negated extra {k[1]}" for k in p - e]
        for name, value in (("normal", reading.normal), ("multilevel", reading.multilevel)):
            _binary(acc, name, rid, rep.get(name), value, diffs)
    return {k: _score(*v) for k, v in acc.items()}, diffs


def _mri_label(f: dict) -> tuple:
    return (f.get("level"), f["kind"], f.get("side"), f.get("severity"), tuple(f.get("roots") or ()), f.get("certainty", "affirmed"))


def score_emg(reports: list[dict]) -> tuple[dict[str, Score], list[str]]:
    acc: dict = {}
    diffs: list[str] = []
    for rep in reports:
        rid = rep["id"]
        reading = read_emg_text(rep["text"])
        exp_r = [(r.get("region"), tuple(r.get("roots") or ()), r.get("side"), r.get("certainty", "affirmed")) for r in rep.get("radiculopathy") or []]
        got_r = [(r.region, r.roots, r.side, r.certainty) for r in reading.radiculopathies]
        exp_n = [(n["kind"], n.get("side"), n.get("severity"), n.get("certainty", "affirmed")) for n in rep.get("neuropathies") or []]
        got_n = [(n.kind, n.side, n.severity, n.certainty) for n in reading.neuropathies]
        sets = {
            "radiculopathy": ({(rid, x[0]) for x in exp_r}, {(rid, x[0]) for x in got_r}),
            "radic_roots": ({(rid, r) for x in exp_r for r in x[1]}, {(rid, r) for x in got_r for r in x[1]}),
            "radic_side": ({(rid, x[2]) for x in exp_r if x[2]}, {(rid, x[2]) for x in got_r if x[2]}),
            "radic_hedged": ({(rid, x[0]) for x in exp_r if x[3] == "hedged"}, {(rid, x[0]) for x in got_r if x[3] == "hedged"}),
            "neuropathy": ({(rid, x[0]) for x in exp_n}, {(rid, x[0]) for x in got_n}),
            "neuro_side": ({(rid, x[0], x[1]) for x in exp_n if x[1]}, {(rid, x[0], x[1]) for x in got_n if x[1]}),
            "neuro_severity": ({(rid, x[0], x[2]) for x in exp_n if x[2]}, {(rid, x[0], x[2]) for x in got_n if x[2]}),
            "neuro_hedged": ({(rid, x[0]) for x in exp_n if x[3] == "hedged"}, {(rid, x[0]) for x in got_n if x[3] == "hedged"}),
            "negated": ({(rid, k) for k in rep.get("negated") or []}, set((rid, k) for k in reading.negated)),
        }
        for name, (e, p) in sets.items():
            _add(acc, name, e, p)
            diffs += [f"{rid} {name} missed {k[1:]}" for k in e - p] + [f"{rid} {name} extra {k[1:]}" for k in p - e]
        _binary(acc, "normal", rid, rep.get("normal"), reading.normal, diffs)
        for name, value in (("active", reading.active_denervation), ("chronic", reading.chronic_reinnervation)):
            # Tri-state: scored as two facts, "found" (True) and "said absent" (False).
            exp, got = rep.get(name), value
            _add(acc, f"{name}_found", {(rid,)} if exp is True else set(), {(rid,)} if got is True else set())
            _add(acc, f"{name}_absent", {(rid,)} if exp is False else set(), {(rid,)} if got is False else set())
            if exp != got:
                diffs.append(f"{rid} {name} expected {exp} got {got}")
    return {k: _score(*v) for k, v in acc.items()}, diffs


def _binary(acc: dict, name: str, rid: str, expected, got, diffs: list[str]) -> None:
    if name == "normal":
        # Two facts: "normal" (True) and "abnormal" (False); None is neither.
        _add(acc, "normal", {(rid,)} if expected is True else set(), {(rid,)} if got is True else set())
        _add(acc, "abnormal", {(rid,)} if expected is False else set(), {(rid,)} if got is False else set())
    else:
        _add(acc, name, {(rid,)} if expected else set(), {(rid,)} if got else set())
    if expected != got:
        diffs.append(f"{rid} {name} expected {expected} got {got}")


def table(scores: dict[str, Score]) -> str:
    """A Markdown table of the scores."""
    lines = ["| field | precision | recall | tp | fp | fn |", "|---|---|---|---|---|---|"]
    for name, s in scores.items():
        lines.append(f"| {name} | {s.precision:.2f} | {s.recall:.2f} | {s.tp} | {s.fp} | {s.fn} |")
    return "\n".join(lines)
