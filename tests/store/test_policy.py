"""The store-backed card policy: suppression (never of red flags), issued-card records, failing open."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from cds_service.cardbuilder import OVERRIDE_SYSTEM, TOPIC_SYSTEM, CardLibrary
from cds_service.feedback import FeedbackConfig, FeedbackConfigError, PatientHasher, StoreCardPolicy
from cds_service.feedback.config import load_feedback_config
from cds_service.store import StoreError
from tests.store.conftest import raw_rows
from tests.store.helpers import T0, outcome

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_feedback_config(ROOT / "config" / "feedback.yaml", CardLibrary(ROOT / "cards"))
HL7 = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"


def card(kind: str, indicator: str = "info") -> dict:
    """A rendered card as the pipeline hands it to record_issued (the fields the policy reads)."""
    return {"uuid": str(uuid.uuid4()), "summary": "s", "indicator": indicator,
            "source": {"label": "l", "topic": {"system": TOPIC_SYSTEM, "code": kind, "display": kind}}}


@pytest.fixture
def policy(store):
    return StoreCardPolicy(store, PatientHasher("test-key"), CONFIG, critical_kinds={"red-flag-urgent-evaluation"})


def _override(store, issued_card: dict, reason: str, at=T0, system=OVERRIDE_SYSTEM):
    store.record_feedback([outcome(issued_card["uuid"], reason=reason, at=at, system=system)])


def test_the_hl7_code_a_card_sends_suppresses_as_its_own_code_did(policy, store):
    """CDS Hooks 3.0: emg-adds-little sends "already addressed" as HL7 action-completed; feedback with
    that coding suppresses the kind, and feedback recorded with the service's own code still does."""
    sent, older = card("emg-adds-little"), card("edx-pretest-notes")
    policy.record_issued("spine-order-sign", "hi-1", "patient-1", [sent], T0)
    policy.record_issued("spine-order-sign", "hi-1", "patient-2", [older], T0)
    _override(store, sent, "action-completed", system=HL7)
    _override(store, older, "lab-informed")
    assert policy.suppressed_kinds("spine-order-sign", "patient-1", T0) == {"emg-adds-little"}
    assert policy.suppressed_kinds("spine-order-sign", "patient-2", T0) == {"edx-pretest-notes"}


def test_an_hl7_code_suppresses_only_where_it_means_already_addressed(policy, store):
    """imaging-study-choice sends action-completed for "the suggested study was already done", which
    is not in feedback.yaml's already_addressed: the same HL7 code must not suppress that kind."""
    choice = card("imaging-study-choice", "warning")
    policy.record_issued("spine-order-sign", "hi-1", "patient-1", [choice], T0)
    _override(store, choice, "action-completed", system=HL7)
    assert policy.suppressed_kinds("spine-order-sign", "patient-1", T0) == set()


def test_a_kind_overridden_as_addressed_is_suppressed_for_that_patient_only(policy, store):
    info, flag = card("emg-adds-little"), card("red-flag-urgent-evaluation", "critical")
    policy.record_issued("spine-order-sign", "hi-1", "patient-1", [flag, info], T0)
    _override(store, info, "already-addressed")
    _override(store, flag, "already-evaluated-urgently")
    later = T0 + timedelta(days=3)
    # The red flag was overridden with an "already addressed" reason too: never suppressed.
    assert policy.suppressed_kinds("spine-order-select", "patient-1", later) == {"emg-adds-little"}
    assert policy.suppressed_kinds("spine-order-sign", "patient-2", later) == set()


def test_suppression_ends_after_the_configured_days(policy, store):
    info = card("edx-pretest-notes")
    policy.record_issued("spine-order-sign", "hi-1", "patient-1", [info], T0)
    _override(store, info, "lab-informed")
    assert policy.suppressed_kinds("spine-order-sign", "patient-1", T0 + timedelta(days=29)) == {"edx-pretest-notes"}
    assert policy.suppressed_kinds("spine-order-sign", "patient-1", T0 + timedelta(days=30, seconds=1)) == set()


def test_other_reasons_and_zero_days_suppress_nothing(store):
    info = card("emg-adds-little")
    policy = StoreCardPolicy(store, PatientHasher("k"), CONFIG, critical_kinds=())
    policy.record_issued("spine-order-sign", "hi", "patient-1", [info], T0)
    _override(store, info, "symptoms-changed")
    assert policy.suppressed_kinds("spine-order-sign", "patient-1", T0) == set()
    _override(store, info, "already-addressed")
    off = StoreCardPolicy(store, PatientHasher("k"), dataclasses.replace(CONFIG, suppress_days=0), critical_kinds=())
    assert off.suppressed_kinds("spine-order-sign", "patient-1", T0) == set()
    assert policy.suppressed_kinds("spine-order-sign", "patient-1", T0) == {"emg-adds-little"}


def test_issued_cards_hold_a_keyed_hash_never_the_patient_id(make_store, policy):
    cards = [card("emg-adds-little"), card("red-flag-urgent-evaluation", "critical")]
    policy.record_issued("spine-order-sign", "3f1c-hook", "mrn-778899", cards, T0)
    rows = raw_rows(make_store, "SELECT card_uuid, service_id, hook_instance, kind, indicator, patient_hash"
                                " FROM issued_cards ORDER BY kind")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (cards[0]["uuid"], "spine-order-sign", "3f1c-hook", "emg-adds-little", "info"),
        (cards[1]["uuid"], "spine-order-sign", "3f1c-hook", "red-flag-urgent-evaluation", "critical"),
    ]
    assert "mrn-778899" not in json.dumps(rows)
    assert rows[0][5] == PatientHasher("test-key")("mrn-778899") != PatientHasher("other-key")("mrn-778899")


def test_patient_hashes_differ_between_ehrs():
    hasher = PatientHasher("k")
    assert hasher("123", "https://ehr-a.example\x1ft1") != hasher("123", "https://ehr-b.example\x1ft1")
    assert hasher("123", "s") == hasher("123", "s")
    with pytest.raises(ValueError):
        PatientHasher("")


class _BrokenStore:
    backend = "sqlite"

    def suppressed_kinds(self, *args):
        raise StoreError("sqlite store: suppression lookup failed (OperationalError)")

    def record_issued(self, cards):
        raise StoreError("sqlite store: record issued cards failed (OperationalError)")


def test_a_store_failure_shows_every_card_and_records_nothing_without_raising(caplog):
    policy = StoreCardPolicy(_BrokenStore(), PatientHasher("k"), CONFIG, critical_kinds=())
    with caplog.at_level(logging.WARNING):
        assert policy.suppressed_kinds("spine-order-sign", "patient-1", T0) == set()
        policy.record_issued("spine-order-sign", "hi", "patient-1", [card("emg-adds-little")], T0)
    assert "suppression skipped" in caplog.text and "not recorded" in caplog.text
    assert "patient-1" not in caplog.text


# --- config/feedback.yaml ------------------------------------------------------------


def test_repo_config_names_the_already_addressed_reasons_of_the_cards():
    config = load_feedback_config(ROOT / "config" / "feedback.yaml", CardLibrary(ROOT / "cards"))
    assert {"already-addressed", "lab-informed", "edx-already-planned",
            "already-evaluated-urgently"} <= config.already_addressed
    assert config.suppress_days > 0 and config.summary_top_reasons >= 1


@pytest.mark.parametrize("text,message", [
    ("suppression: {days: 30, already_addressed: [alredy-addressed]}\n", "alredy-addressed"),
    ("suppression: {days: -1, already_addressed: []}\n", "days"),
    ("suppression: {days: 30}\n", "already_addressed"),
    ("suppresion: {days: 30, already_addressed: []}\n", "suppresion"),
    ("suppression: [\n", "not YAML"),
])
def test_a_wrong_config_stops_start_up_saying_what(tmp_path, text, message):
    path = tmp_path / "feedback.yaml"
    path.write_text(text)
    with pytest.raises(FeedbackConfigError, match=message):
        load_feedback_config(path, CardLibrary(ROOT / "cards"))
    with pytest.raises(FeedbackConfigError, match="missing"):
        load_feedback_config(tmp_path / "none.yaml", CardLibrary(ROOT / "cards"))


def test_every_already_addressed_reason_suppresses_by_the_coding_its_card_sends():
    """Each reason feedback.yaml names suppresses, for each card offering it, by the coding the card sends
    (HL7 where it has one) and by the service's own coding; no other kind is suppressed by it."""
    lib = CardLibrary(ROOT / "cards")
    expected = set()
    for kind in lib.kinds:
        for reason in lib.template(kind).override_reasons:
            assert reason.system in (OVERRIDE_SYSTEM, HL7)
            if reason.local in CONFIG.already_addressed:
                expected |= {(kind, reason.system, reason.code), (kind, OVERRIDE_SYSTEM, reason.local)}
    assert CONFIG.suppressing == expected
    assert ("emg-adds-little", HL7, "action-completed") in expected
    assert not any(kind == "imaging-study-choice" for kind, _, _ in expected)
