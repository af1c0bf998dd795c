"""The store interface, on both backends: durable storage, idempotency, suppression lookups, summary figures."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import timedelta

import pytest

from cds_service.cardbuilder import OVERRIDE_SYSTEM
from cds_service.store import StoreError
from tests.store.conftest import raw_rows
from tests.store.helpers import T0, issued, outcome

_KINDS = ("emg-adds-little", "lbp-imaging-premature", "emg-adds-value", "edx-pretest-notes", "prior-mri-reading",
          "edx-may-answer-mri-question")
#: (kind, system, code) that suppress: the lookup matches all three, so a code suppresses only the kinds listed.
ADDRESSED = tuple((kind, OVERRIDE_SYSTEM, code) for kind in _KINDS
                  for code in ("already-addressed", "lab-informed", "edx-already-planned"))


# --- storage ---------------------------------------------------------------------


def test_issued_cards_and_feedback_are_stored_durably(make_store):
    store = make_store()
    card = issued(kind="emg-adds-little", patient_hash="a" * 64)
    store.record_issued([card])
    fb = outcome(card.card_uuid, "accepted", suggestions=("s-2", "s-1"), at=T0 + timedelta(minutes=5))
    overridden = outcome(card.card_uuid, "overridden", "already-addressed", at=T0 + timedelta(minutes=6),
                         comment="Patient X said so")
    assert [s.new for s in store.record_feedback([fb, overridden])] == [True, True]
    store.close()

    # A new process (a fresh store object on the same database) sees everything.
    rows = raw_rows(make_store, "SELECT card_uuid, service_id, kind, indicator, patient_hash FROM issued_cards")
    assert rows == [(card.card_uuid, "spine-order-sign", "emg-adds-little", "info", "a" * 64)]
    stored = raw_rows(make_store, "SELECT card_uuid, outcome, accepted_suggestions, reason_system, reason_code,"
                                  " has_comment FROM feedback ORDER BY outcome")
    accepted_row, overridden_row = stored
    suggestions = accepted_row[2] if isinstance(accepted_row[2], list) else json.loads(accepted_row[2])
    assert accepted_row[:2] == (card.card_uuid, "accepted") and suggestions == ["s-1", "s-2"]
    assert overridden_row[:2] == (card.card_uuid, "overridden")
    assert overridden_row[3:5] == (OVERRIDE_SYSTEM, "already-addressed") and bool(overridden_row[5]) is True
    # The comment text itself is never stored (it may name the patient).
    everything = json.dumps(raw_rows(make_store, "SELECT * FROM feedback"), default=str)
    assert "Patient X" not in everything
    again = make_store()
    counts = again.summary("spine-order-sign", T0 - timedelta(days=1), T0 + timedelta(days=1), 5)
    assert [(k.kind, k.shown, k.accepted, k.overridden) for k in counts.kinds] == [("emg-adds-little", 1, 1, 1)]


def test_a_card_recorded_twice_is_kept_once(store):
    card = issued()
    store.record_issued([card])
    store.record_issued([card, issued()])
    counts = store.summary("spine-order-sign", T0, T0 + timedelta(seconds=1), 5)
    assert counts.kinds[0].shown == 2


# --- idempotency -----------------------------------------------------------------


def test_the_same_outcome_posted_again_is_a_duplicate(store):
    card = issued()
    store.record_issued([card])
    first = store.record_feedback([outcome(card.card_uuid, reason="already-addressed")])
    again = store.record_feedback([outcome(card.card_uuid, reason="already-addressed",
                                           received=T0 + timedelta(hours=1))])
    assert [s.new for s in first] == [True] and [s.new for s in again] == [False]
    assert first[0].kind == again[0].kind == card.kind


def test_duplicates_within_one_post_count_once(store):
    card = issued()
    store.record_issued([card])
    same = outcome(card.card_uuid, reason="already-addressed")
    result = store.record_feedback([same, same, outcome(card.card_uuid, "accepted", suggestions=("s",))])
    assert [s.new for s in result] == [True, False, True]


def test_a_different_outcome_for_the_same_card_is_new(store):
    card = issued()
    store.record_issued([card])
    a = outcome(card.card_uuid, reason="already-addressed")
    b = outcome(card.card_uuid, reason="symptoms-changed")
    c = outcome(card.card_uuid, reason="already-addressed", at=T0 + timedelta(seconds=1))
    assert [s.new for s in store.record_feedback([a, b, c])] == [True, True, True]


def test_concurrent_posts_of_one_outcome_store_it_once(make_store):
    stores = [make_store() for _ in range(2)]  # two workers (or replicas)
    card = issued()
    stores[0].record_issued([card])
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def post(i: int) -> None:
        barrier.wait()
        results.extend(s.new for s in stores[i % 2].record_feedback([outcome(card.card_uuid, reason="lab-informed")]))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert raw_rows(make_store, "SELECT COUNT(*) FROM feedback") == [(1,)]


def test_feedback_on_a_card_never_issued_is_not_stored(store, make_store):
    # Issue 17: 10,000 rows of feedback about unknown card uuids were kept.
    result = store.record_feedback([outcome("4e0a3a1e-3283-4575-ab82-028d55fe2719")])
    assert not result[0].new and result[0].kind is None and result[0].issued is False
    assert raw_rows(make_store, "SELECT COUNT(*) FROM feedback") == [(0,)]
    counts = store.summary("spine-order-sign", T0 - timedelta(days=1), T0 + timedelta(days=1), 5)
    assert counts.kinds == () and counts.unmatched_feedback == 0


def test_feedback_binds_to_the_client_that_received_the_card(store, make_store):
    """Issue 17: a second issuer's "already addressed" for the first issuer's card uuid silenced
    that kind for the first issuer's patient. Feedback counts only from the client the card went to."""
    first, second = "https://ehr-a.example\x1ft1", "https://ehr-b.example\x1f"
    card = dataclasses.replace(issued(patient_hash="p-1"), client_scope=first)
    store.record_issued([card])
    forged = dataclasses.replace(outcome(card.card_uuid, reason="already-addressed"), client_scope=second)
    assert store.record_feedback([forged])[0].issued is False
    assert store.suppressed_kinds("p-1", ADDRESSED, T0 - timedelta(days=1)) == set()
    # The summary shows a client its own figures only.
    window = (T0 - timedelta(days=1), T0 + timedelta(days=1), 5)
    assert store.summary("spine-order-sign", *window, client_scope=second).kinds == ()
    assert store.summary("spine-order-sign", *window, client_scope=first).kinds[0].shown == 1
    # The same feedback from the client that got the card counts.
    real = dataclasses.replace(forged, client_scope=first)
    assert store.record_feedback([real])[0].new
    assert store.suppressed_kinds("p-1", ADDRESSED, T0 - timedelta(days=1)) == {card.kind}
    assert store.summary("spine-order-sign", *window, client_scope=first).kinds[0].overridden == 1


def test_purge_through_the_store_interface_deletes_old_rows(store, make_store):
    old = issued(at=T0 - timedelta(days=500))
    store.record_issued([old, issued()])
    store.record_feedback([outcome(old.card_uuid, at=T0 - timedelta(days=500))])
    assert store.purge(T0 - timedelta(days=400)) == (1, 1)
    assert raw_rows(make_store, "SELECT COUNT(*) FROM issued_cards") == [(1,)]


# --- suppression lookups ---------------------------------------------------------


def test_suppressed_kinds_are_those_overridden_as_addressed_within_the_window(store):
    mine, other = "m" * 64, "o" * 64
    cards = {
        "addressed": issued("emg-adds-little", mine),
        "other-reason": issued("lbp-imaging-premature", mine),
        "accepted": issued("emg-adds-value", mine),
        "old": issued("edx-pretest-notes", mine, at=T0 - timedelta(days=60)),
        "foreign-system": issued("prior-mri-reading", mine),
        "other-patient": issued("edx-may-answer-mri-question", other),
    }
    store.record_issued(list(cards.values()))
    store.record_feedback([
        outcome(cards["addressed"].card_uuid, reason="already-addressed"),
        outcome(cards["other-reason"].card_uuid, reason="progressive-deficit"),
        outcome(cards["accepted"].card_uuid, "accepted", suggestions=("s",)),
        outcome(cards["old"].card_uuid, reason="lab-informed", at=T0 - timedelta(days=60)),
        outcome(cards["foreign-system"].card_uuid, reason="already-addressed", system="urn:other"),
        outcome(cards["other-patient"].card_uuid, reason="edx-already-planned"),
    ])
    since = T0 - timedelta(days=30)
    assert store.suppressed_kinds(mine, ADDRESSED, since) == {"emg-adds-little"}
    assert store.suppressed_kinds(other, ADDRESSED, since) == {"edx-may-answer-mri-question"}
    assert store.suppressed_kinds("n" * 64, ADDRESSED, since) == set()
    # The window: the old override counts when the window reaches back to it.
    assert "edx-pretest-notes" in store.suppressed_kinds(mine, ADDRESSED, T0 - timedelta(days=61))
    # Nothing is suppressed once the window has passed the override.
    assert store.suppressed_kinds(mine, ADDRESSED, T0 + timedelta(seconds=1)) == set()
    assert store.suppressed_kinds(mine, (), since) == set()


def test_a_reason_suppresses_only_the_kinds_it_is_listed_for(store):
    """One code (an HL7 one such as action-completed) may mean "addressed" on one card kind and not
    on another: the lookup matches kind, system and code together."""
    hl7 = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
    pretest, choice = issued("edx-pretest-notes", "m" * 64), issued("imaging-study-choice", "m" * 64)
    store.record_issued([pretest, choice])
    store.record_feedback([outcome(pretest.card_uuid, reason="action-completed", system=hl7),
                           outcome(choice.card_uuid, reason="action-completed", system=hl7)])
    reasons = [("edx-pretest-notes", hl7, "action-completed")]
    assert store.suppressed_kinds("m" * 64, reasons, T0 - timedelta(days=1)) == {"edx-pretest-notes"}
    # The same code in another system is another reason.
    assert store.suppressed_kinds("m" * 64, [("edx-pretest-notes", OVERRIDE_SYSTEM, "action-completed")],
                                  T0 - timedelta(days=1)) == set()


def test_a_future_outcome_timestamp_starts_the_window_when_received(store):
    card = issued()
    store.record_issued([card])
    # The client's clock says in 10 days; we received it at T0.
    store.record_feedback([outcome(card.card_uuid, reason="already-addressed", at=T0 + timedelta(days=10),
                                   received=T0)])
    assert store.suppressed_kinds(card.patient_hash, ADDRESSED, T0) == {card.kind}
    assert store.suppressed_kinds(card.patient_hash, ADDRESSED, T0 + timedelta(days=1)) == set()


# --- summary figures -------------------------------------------------------------


def test_summary_counts_shown_accepted_overridden_and_top_reasons(store):
    start, end = T0, T0 + timedelta(days=7)
    little = [issued("emg-adds-little", at=T0 + timedelta(hours=i)) for i in range(6)]
    value = [issued("emg-adds-value", at=T0 + timedelta(days=1)) for _ in range(3)]
    outside = [issued("emg-adds-little", at=T0 - timedelta(seconds=1)), issued("emg-adds-little", at=end)]
    other_service = [issued("emg-adds-little", service_id="spine-order-select")]
    store.record_issued(little + value + outside + other_service)
    store.record_feedback([
        outcome(little[0].card_uuid, reason="already-addressed"),
        outcome(little[1].card_uuid, reason="already-addressed"),
        # Re-sent with a new timestamp: stored twice, still one overridden card.
        outcome(little[1].card_uuid, reason="already-addressed", at=T0 + timedelta(hours=3)),
        outcome(little[2].card_uuid, reason="symptoms-changed"),
        outcome(little[3].card_uuid),  # overridden without a reason
        outcome(little[4].card_uuid, "accepted", suggestions=("s1",)),
        outcome(value[0].card_uuid, "accepted", suggestions=("s1",)),
        outcome(value[1].card_uuid, "accepted", suggestions=("s2",)),
        outcome(outside[0].card_uuid, reason="already-addressed"),  # card issued before the range
        outcome(other_service[0].card_uuid, "accepted", suggestions=("s",)),
        outcome("never-issued", received=T0 + timedelta(days=2)),
        outcome("never-issued-late", received=end + timedelta(days=1)),
    ])
    counts = store.summary("spine-order-sign", start, end, top_reasons=2)
    by_kind = {k.kind: k for k in counts.kinds}
    assert set(by_kind) == {"emg-adds-little", "emg-adds-value"}
    little_counts = by_kind["emg-adds-little"]
    assert (little_counts.shown, little_counts.accepted, little_counts.overridden) == (6, 1, 4)
    # Most frequent first; ties by code, "no reason" (None) sorting first among equals.
    assert little_counts.reasons == (((OVERRIDE_SYSTEM, "already-addressed"), 2), ((None, None), 1))
    value_counts = by_kind["emg-adds-value"]
    assert (value_counts.shown, value_counts.accepted, value_counts.overridden, value_counts.reasons) == (3, 2, 0, ())
    assert counts.unmatched_feedback == 0  # feedback about cards never issued is not stored (issue 17)


# --- metadata, purge, schema -------------------------------------------------------


def test_meta_value_keeps_the_first_value_stored(make_store):
    a, b = make_store(), make_store()
    assert a.meta_value("patient_hash_key", "first") == "first"
    assert b.meta_value("patient_hash_key", "second") == "first"


def test_purge_deletes_records_older_than_the_cutoff(store):
    old, new = issued(at=T0 - timedelta(days=400)), issued(at=T0)
    store.record_issued([old, new])
    store.record_feedback([outcome(old.card_uuid, at=T0 - timedelta(days=399)), outcome(new.card_uuid)])
    assert store.purge(T0 - timedelta(days=365)) == (1, 1)
    counts = store.summary("spine-order-sign", T0 - timedelta(days=500), T0 + timedelta(days=1), 5)
    assert [(k.shown, k.overridden) for k in counts.kinds] == [(1, 1)]


def test_ping_and_schema_version(store):
    store.ping()
    assert store.schema_version() == (3 if store.backend == "postgresql" else 2)


def test_naive_times_are_refused_not_guessed(store):
    from datetime import datetime

    with pytest.raises((ValueError, StoreError)):
        store.record_issued([issued(at=datetime(2026, 11, 1, 12, 0))])
