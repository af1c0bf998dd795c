"""Feedback is bound to the client that received the card (issue 17), on SQLite and PostgreSQL.

The attack: a second trusted issuer posts an "already addressed" override for the first
issuer's card uuid; before the fix that silenced the card kind for the first issuer's
patient for 30 days, and the summary showed every client's figures to every client.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from cds_service.feedback.retention import RetentionPurger
from tests.ops.conftest import card_of, hook_body, kinds, make_app, override, pretest_scenario, service_path  # noqa: F401
from tests.security.jwks_server import JwksServer
from tests.security.keys import SigningKey, claims
from tests.store.conftest import pg_schema_url  # noqa: F401  (fixture)
from tests.store.helpers import T0, issued
from tests.support import openapi

ISS_A = "https://ehr-a.example.org"
ISS_B = "https://ehr-b.example.org"
FEEDBACK = "/cds-services/spine-order-sign/feedback"
SUMMARY = FEEDBACK + "/summary"


@pytest.fixture(scope="module")
def keys():
    a, b = SigningKey.es384("kid-a"), SigningKey.es384("kid-b")
    server = JwksServer().start()
    urls = {ISS_A: server.publish("/a.json", a.public_jwk()), ISS_B: server.publish("/b.json", b.public_jwk())}
    yield {ISS_A: a, ISS_B: b}, urls
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request, make_app, keys):  # noqa: F811
    _, urls = keys
    extra = {}
    if request.param == "postgresql":
        extra["store_database_url"] = request.getfixturevalue("pg_schema_url")
    app = make_app(auth_disabled=False, trusted_issuers=urls, **extra)
    return app.test_client()


def send(client, keys, iss: str, method: str, path: str, body=None, tenant: str | None = None):
    token = keys[0][iss].sign(claims(iss, "http://localhost" + path, **({"tenant": tenant} if tenant else {})))
    headers = {"Authorization": f"Bearer {token}"}
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def test_another_clients_override_never_silences_a_card(client, keys):
    path = service_path(pretest_scenario())
    shown = send(client, keys, ISS_A, "POST", path, hook_body(pretest_scenario(), "pt-1")).get_json()
    notes = card_of(shown, "edx-pretest-notes")
    forged = send(client, keys, ISS_B, "POST", FEEDBACK, {"feedback": [override(notes, "lab-informed")]})
    assert forged.status_code == 200
    openapi.validate_response("POST", FEEDBACK, 200, forged.get_json(), forged.headers["Content-Type"])
    assert forged.get_json() == {"received": 1, "recorded": 0, "duplicates": 0, "unknownCards": 1}
    again = send(client, keys, ISS_A, "POST", path, hook_body(pretest_scenario(), "pt-1")).get_json()
    assert "edx-pretest-notes" in kinds(again)
    # The same issuer with another tenant is another client too.
    other_tenant = send(client, keys, ISS_A, "POST", FEEDBACK, {"feedback": [override(notes, "lab-informed")]},
                        tenant="org-2")
    assert other_tenant.get_json()["unknownCards"] == 1
    # The client that got the card: its override counts.
    own = send(client, keys, ISS_A, "POST", FEEDBACK, {"feedback": [override(card_of(again, "edx-pretest-notes"),
                                                                              "lab-informed")]})
    assert own.get_json()["recorded"] == 1
    assert "edx-pretest-notes" not in kinds(send(client, keys, ISS_A, "POST", path,
                                                 hook_body(pretest_scenario(), "pt-1")).get_json())


def test_the_summary_shows_a_client_its_own_figures_only(client, keys):
    path = service_path(pretest_scenario())
    send(client, keys, ISS_A, "POST", path, hook_body(pretest_scenario(), "pt-2"))
    mine = {k["kind"]: k for k in send(client, keys, ISS_A, "GET", SUMMARY).get_json()["kinds"]}
    theirs = {k["kind"]: k for k in send(client, keys, ISS_B, "GET", SUMMARY).get_json()["kinds"]}
    assert mine["edx-pretest-notes"]["shown"] >= 1
    assert all(k["shown"] == 0 for k in theirs.values())


def test_feedback_for_cards_never_issued_is_not_stored(client, keys):
    items = [override({"uuid": f"00000000-0000-4000-8000-{i:012d}"}, "lab-informed") for i in range(100)]
    resp = send(client, keys, ISS_A, "POST", FEEDBACK, {"feedback": items})
    assert resp.get_json() == {"received": 100, "recorded": 0, "duplicates": 0, "unknownCards": 100}
    assert send(client, keys, ISS_A, "GET", SUMMARY).get_json()["unmatchedFeedback"] == 0


def test_list_sizes_in_a_feedback_item_are_bounded(client, keys):
    path = service_path(pretest_scenario())
    card = card_of(send(client, keys, ISS_A, "POST", path, hook_body(pretest_scenario(), "pt-3")).get_json(),
                   "emg-adds-value")
    item = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-26T10:06:00Z",
            "acceptedSuggestions": [{"id": f"s-{i}"} for i in range(20_000)]}
    resp = send(client, keys, ISS_A, "POST", FEEDBACK, {"feedback": [item]})
    assert resp.status_code == 400
    item["acceptedSuggestions"] = [{"id": "x" * 5000}]
    assert send(client, keys, ISS_A, "POST", FEEDBACK, {"feedback": [item]}).status_code == 400


def test_retention_purges_old_rows_by_itself(make_app):  # noqa: F811
    app = make_app(store_retention_days=60)
    store = app.extensions["cds_ops"].store
    old = issued(at=datetime.now(timezone.utc) - timedelta(days=90))
    store.record_issued([old])
    # Any hook call with cards triggers the (hourly, per worker) purge: no scheduler needed.
    resp = app.test_client().post(service_path(pretest_scenario()), json=hook_body(pretest_scenario(), "pt-r"))
    assert resp.status_code == 200
    assert store.summary("spine-order-sign", old.issued_at - timedelta(days=1), old.issued_at + timedelta(days=1),
                         5).kinds == ()


def test_retention_purger_runs_at_most_once_per_interval_and_survives_store_errors():
    calls = []

    class Store:
        def purge(self, before):
            calls.append(before)
            return (0, 0)

    now = [0.0]
    purger = RetentionPurger(Store(), days=30, interval=3600, clock=lambda: now[0])
    assert purger.maybe_purge(T0) == (0, 0) and calls == [T0 - timedelta(days=30)]
    now[0] = 3599
    assert purger.maybe_purge(T0) is None
    now[0] = 3601
    assert purger.maybe_purge(T0) == (0, 0) and len(calls) == 2
    assert RetentionPurger(Store(), days=0).maybe_purge(T0) is None


def test_retention_shorter_than_the_suppression_window_is_refused(make_app):  # noqa: F811
    from cds_service.settings import SettingsError

    with pytest.raises(SettingsError, match="store_retention_days"):
        make_app(store_retention_days=5)


