"""The localiser on labelled patients, the anatomy tables' integrity, and the exam-text reader."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from cds_service.localisation import localise_request
from cds_service.localisation.anatomy import anatomy
from cds_service.localisation.reader import read_text
from cds_service.pipeline import load_engine
from tests.conftest import make_settings
from tests.scenarios.build import build

PATIENTS = yaml.safe_load((Path(__file__).parent / "patients.yaml").read_text())
NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def engine():
    return load_engine(make_settings())


@pytest.mark.parametrize("patient", PATIENTS, ids=[p["name"] for p in PATIENTS])
def test_labelled_patient(engine, patient):
    got = localise_request(engine, build(patient), NOW)[0]
    assert got["verdict"] == patient["label"]["verdict"], got
    assert set(got["candidates"]) == set(patient["label"]["candidates"]), got


def test_every_table_entry_has_a_source_and_known_ids():
    a = anatomy()
    assert {f"root:{r}" for r in ("C5", "C6", "C7", "C8", "T1", "L2", "L3", "L4", "L5", "S1")} <= set(a.sites)
    assert all(s.source for s in a.sites.values())
    # The article's discriminators: the peroneal nerve spares what L5 supplies.
    fibular, l5 = a.sites["nerve:common-fibular@fibular-head"], a.sites["root:L5"]
    assert {"tibialis-posterior", "gluteus-medius"} <= fibular.spares["muscles"] <= l5.muscles | {"hamstrings"}
    assert a.sites["root:S1"].reflexes == {"achilles-reflex"} and "patellar-reflex" in a.sites["root:L4"].reflexes
    assert a.zones["lumbar"]["foraminal"] == "exiting" and a.zones["lumbar"]["subarticular"] == "traversing"


@pytest.mark.parametrize("text, want", [
    ("EHL 4/5 on the left", [("ehl", "motor", "left")]),
    ("Inversion 5/5, hip abduction 5/5, eversion 3/5", [("tibialis-posterior", "spared", None),
                                                       ("gluteus-medius", "spared", None), ("peronei", "motor", None)]),
    ("No weakness of foot inversion", [("tibialis-posterior", "spared", None)]),
    ("Absent left Achilles reflex", [("achilles-reflex", "reflex", "left")]),
    ("Positive Spurling to the right", [("spurling", "provocation", "right")]),
    ("Spurling negative", [("spurling", "spared", None)]),
    ("Ring and little finger numbness worse with the elbow bent",
     [("ring-finger", "sensory", None), ("little-finger", "sensory", None), ("elbow-flexion", "context", None)]),
    ("Family history: mother with thumb numbness", []),
])
def test_exam_text_reader(text, want):
    assert [(h.term, h.kind, h.side) for h in read_text(text)] == want
