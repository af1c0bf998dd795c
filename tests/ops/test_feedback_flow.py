"""Feedback that changes behaviour, through the HTTP API: store, suppress (never a red flag), summarise.

Runs on both backends: SQLite, and PostgreSQL when a server is configured.
"""

from __future__ import annotations

import pytest

from cds_service.cardbuilder import OVERRIDE_SYSTEM
from tests.ops.conftest import (
    card_of,
    hook_body,
    kinds,
    override,
    pretest_scenario,
    red_flag_scenario,
    service_path,
)
from tests.store.conftest import pg_schema_url  # noqa: F401  (fixture)
from tests.support import openapi

FEEDBACK = "/cds-services/spine-order-sign/feedback"
SUMMARY = "/cds-services/spine-order-sign/feedback/summary"


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request, make_app):
    if request.param == "postgresql":
        app = make_app(store_database_url=request.getfixturevalue("pg_schema_url"))
    else:
        app = make_app()
    return app.test_client()


def _call(client, scenario: dict, patient: str) -> dict:
    resp = client.post(service_path(scenario), json=hook_body(scenario, patient))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def _post(client, *items: dict, path: str = FEEDBACK):
    resp = client.post(path, json={"feedback": list(items)})
    openapi.validate_response("POST", path, resp.status_code, resp.get_json(), resp.headers["Content-Type"])
    return resp


def test_a_card_overridden_as_already_addressed_is_not_shown_again_to_that_patient(client):
    first = _call(client, pretest_scenario(), "pt-a")
    notes = card_of(first, "edx-pretest-notes")
    assert _post(client, override(notes, "lab-informed")).get_json() == {"received": 1, "recorded": 1,
                                                                         "duplicates": 0, "unknownCards": 0}
    again = _call(client, pretest_scenario(), "pt-a")
    assert "edx-pretest-notes" not in kinds(again)
    assert "emg-adds-value" in kinds(again)  # only the overridden kind goes
    # On the other service too: the same card kinds, the same patient.
    assert "edx-pretest-notes" not in kinds(_call(client, pretest_scenario("order-select"), "pt-a"))
    # Another patient still gets it.
    assert "edx-pretest-notes" in kinds(_call(client, pretest_scenario(), "pt-b"))


def test_the_reason_coding_the_card_offers_suppresses_it(client):
    """What an EHR posts back is the coding the card offered: for "Lab already informed" the HL7
    CDS Hooks 3.0 code action-completed. That suppresses the kind as the service's own code does."""
    notes = card_of(_call(client, pretest_scenario(), "pt-h"), "edx-pretest-notes")
    offered = next(r for r in notes["overrideReasons"] if r["display"] == "Lab already informed")
    assert offered["system"] == "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
    assert offered["code"] == "action-completed"
    item = {"card": notes["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:05:31Z",
            "overrideReason": {"reason": {"system": offered["system"], "code": offered["code"]}}}
    assert _post(client, item).get_json()["recorded"] == 1
    assert "edx-pretest-notes" not in kinds(_call(client, pretest_scenario(), "pt-h"))


def test_an_override_with_another_reason_or_none_suppresses_nothing(client):
    notes = card_of(_call(client, pretest_scenario(), "pt-c"), "edx-pretest-notes")
    _post(client, override(notes, "not-current"))
    notes2 = card_of(_call(client, pretest_scenario(), "pt-c"), "edx-pretest-notes")
    _post(client, override(notes2, None))
    assert "edx-pretest-notes" in kinds(_call(client, pretest_scenario(), "pt-c"))


def test_a_red_flag_is_shown_again_even_when_overridden_as_already_evaluated(client):
    flag = card_of(_call(client, red_flag_scenario(), "pt-r"), "red-flag-urgent-evaluation")
    assert flag["indicator"] == "critical"
    _post(client, override(flag, "already-evaluated-urgently"))
    again = _call(client, red_flag_scenario(), "pt-r")
    assert kinds(again) == ["red-flag-urgent-evaluation"]
    assert again["cards"][0]["uuid"] != flag["uuid"]


def test_the_same_outcome_posted_twice_is_stored_once(client):
    notes = card_of(_call(client, pretest_scenario(), "pt-d"), "edx-pretest-notes")
    item = override(notes, "lab-informed")
    assert _post(client, item, item).get_json() == {"received": 2, "recorded": 1, "duplicates": 1, "unknownCards": 0}
    assert _post(client, item).get_json() == {"received": 1, "recorded": 0, "duplicates": 1, "unknownCards": 0}
    figures = {k["kind"]: k for k in client.get(SUMMARY).get_json()["kinds"]}
    assert figures["edx-pretest-notes"]["overridden"] == 1


def test_summary_gives_the_figures_per_kind(client):
    p1 = _call(client, pretest_scenario(), "pt-s1")
    _call(client, pretest_scenario(), "pt-s2")
    flag = _call(client, red_flag_scenario(), "pt-s3")
    value = card_of(p1, "emg-adds-value")
    _post(client, override(card_of(p1, "edx-pretest-notes"), "lab-informed"))
    _post(client, override(card_of(flag, "red-flag-urgent-evaluation"), "already-evaluated-urgently"))
    assert value.get("suggestions"), "emg-adds-value no longer has a suggestion to accept"
    _post(client, {"card": value["uuid"], "outcome": "accepted",
                   "acceptedSuggestions": [{"id": value["suggestions"][0]["uuid"]}],
                   "outcomeTimestamp": "2026-11-26T10:06:00Z"})
    unknown = _post(client, override({"uuid": "f6b95768-b1c8-40dc-8385-bf3504b82ffb"}, None))  # never issued
    assert unknown.get_json() == {"received": 1, "recorded": 0, "duplicates": 0, "unknownCards": 1}

    resp = client.get(SUMMARY)
    assert resp.status_code == 200
    body = resp.get_json()
    openapi.validate_response("GET", SUMMARY, 200, body, resp.headers["Content-Type"])
    figures = {k["kind"]: k for k in body["kinds"]}
    assert figures["edx-pretest-notes"]["shown"] == 2 and figures["edx-pretest-notes"]["overridden"] == 1
    assert figures["edx-pretest-notes"]["topOverrideReasons"] == [
        {"system": OVERRIDE_SYSTEM, "code": "lab-informed", "display": "Lab already informed", "count": 1}]
    assert figures["emg-adds-value"]["shown"] == 2
    assert figures["emg-adds-value"]["accepted"] == 1
    flag_figures = figures["red-flag-urgent-evaluation"]
    assert (flag_figures["shown"], flag_figures["overridden"]) == (1, 1)
    assert figures["lbp-imaging-premature"] == {"kind": "lbp-imaging-premature", "shown": 0, "accepted": 0,
                                                "overridden": 0, "topOverrideReasons": []}
    assert body["unmatchedFeedback"] == 0  # not stored at all (issue 17)
    # The other service issued nothing.
    other = client.get("/cds-services/spine-order-select/feedback/summary").get_json()
    assert all(k["shown"] == 0 for k in other["kinds"])
    # A range in the past holds none of today's cards.
    past = client.get(SUMMARY + "?from=2020-01-01&to=2020-01-31").get_json()
    assert (past["from"], past["to"]) == ("2020-01-01", "2020-01-31")
    assert all(k["shown"] == 0 for k in past["kinds"])
