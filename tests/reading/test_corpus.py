"""The labelled report corpus: every field's precision and recall stays at the level reached.

``scores.yaml`` holds the floors (the scores reached, rounded down to two
decimals). A change that lowers any of them fails here; a change that raises
them should raise the floor too (``python -m tests.reading.test_corpus`` prints
the current scores in that format).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from .corpus_scoring import load, score_emg, score_mri

FLOORS = yaml.safe_load((Path(__file__).parent / "corpus" / "scores.yaml").read_text())
SCORERS = {"mri": score_mri, "emg": score_emg}


def test_the_corpus_is_big_enough_and_labelled_consistently():
    reports = {k: load(k, "dev") + load(k, "holdout") for k in SCORERS}
    assert sum(len(v) for v in reports.values()) >= 80
    ids = [r["id"] for v in reports.values() for r in v]
    assert len(ids) == len(set(ids))
    negations = sum(1 for v in reports.values() for r in v if r.get("negated"))
    assert negations >= 40  # "many negations"


@pytest.mark.parametrize(("kind", "split"), [(k, s) for k in SCORERS for s in ("dev", "holdout")])
def test_scores_hold(kind, split):
    scores, diffs = SCORERS[kind](load(kind, split))
    floors = FLOORS[kind][split]
    assert set(floors) == set(scores), "scores.yaml lists exactly the scored fields"
    low = [
        f"{field}: precision {s.precision:.3f} < {floors[field]['precision']} or recall {s.recall:.3f} < {floors[field]['recall']}"
        for field, s in scores.items()
        if s.precision < floors[field]["precision"] or s.recall < floors[field]["recall"]
    ]
    assert not low, "\n".join(low + ["disagreements:"] + diffs)


def current_floors() -> dict:
    out: dict = {}
    for kind, scorer in SCORERS.items():
        for split in ("dev", "holdout"):
            scores, _ = scorer(load(kind, split))
            out.setdefault(kind, {})[split] = {
                f: {"precision": math.floor(s.precision * 100) / 100, "recall": math.floor(s.recall * 100) / 100}
                for f, s in scores.items()
            }
    return out


if __name__ == "__main__":
    print(yaml.safe_dump(current_floors(), sort_keys=False))
