"""A new service on a new hook is a YAML file and a handler: the tests' patient-view service, end to end.

The service (tests/services/patient_view) is not a product feature: the app is started on a
content folder whose hooks/ holds only it. Through the Flask app: discovery lists it with its
hook's version, a call answers with its one card, a call with another hook's context is refused
by the patient-view context schema, and the card policy records the card like any other.
"""

from __future__ import annotations

import uuid

import pytest

from cds_service.app import create_app
from cds_service.protocol import CardResponseSchema
from cds_service.registry import DefinitionError
from tests.conftest import make_settings
from tests.services import patient_view
from tests.support.builders import condition, searchset

SERVICE = "/cds-services/test-patient-view"


@pytest.fixture
def content(tmp_path):
    return patient_view.content_dir(tmp_path / "content")


@pytest.fixture
def client(content, tmp_path):
    app = create_app(make_settings(content_dir=content, store_path=tmp_path / "store.sqlite3",
                                   replay_cache_path=tmp_path / "replay.sqlite3"))
    app.testing = True
    return app.test_client()


def _call(patient: str = "p-1", **context) -> dict:
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": patient, **context},
        "prefetch": {"conditions": searchset(condition("c-1", "M54.16", patient=patient),
                                             condition("c-2", "G56.01", patient=patient))},
    }


def test_discovery_lists_the_test_service_with_its_hook_and_prefetch(client):
    (entry,) = client.get("/cds-services").get_json()["services"]
    assert entry == {
        "hook": "patient-view",
        "id": "test-patient-view",
        "title": "Test patient-view service",
        "description": "Answers patient-view with one information card saying how many conditions the record "
                       "holds. Exists only in the tests.",
        "prefetch": {"conditions": "Condition?patient={{context.patientId}}&_count=10"},
        "version": "2.0.1",
        "hookVersion": "1.0",
    }


def test_a_call_answers_with_the_handlers_one_info_card(client):
    resp = client.post(SERVICE, json=_call())
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert CardResponseSchema().validate(resp.json) == {}
    (card,) = resp.json["cards"]
    assert card["summary"] == "Test service: the record holds 2 condition(s)."
    assert card["indicator"] == "info"
    assert card["source"]["topic"]["code"] == patient_view.KIND


def test_the_call_is_checked_by_the_patient_view_context_schema(client):
    body = _call()
    del body["context"]["userId"]
    resp = client.post(SERVICE, json=body)
    assert resp.status_code == 400 and "context.userId" in resp.json["errors"]
    wrong_hook = {**_call(), "hook": "order-sign"}
    resp = client.post(SERVICE, json=wrong_hook)
    assert resp.status_code == 400 and "hook" in resp.json["errors"]


def test_the_pipeline_does_for_it_what_it_does_for_every_service(client):
    """The essential key (412 without it), and feedback about its card, as for the spine services."""
    body = _call()
    del body["prefetch"]
    assert client.post(SERVICE, json=body).status_code == 412
    (card,) = client.post(SERVICE, json=_call()).json["cards"]
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-26T10:05:31Z"}]}
    resp = client.post(SERVICE + "/feedback", json=feedback)
    assert resp.status_code == 200 and resp.json["recorded"] == 1  # the policy recorded the card it issued


def test_a_service_naming_an_unknown_handler_fails_start_up_naming_its_file(content, tmp_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    text = (patient_view.HERE / "hooks" / "test-patient-view.yaml").read_text()
    (hooks / "test-patient-view.yaml").write_text(text.replace(":greeting", ":farewell"))
    (content / "hooks").unlink()
    (content / "hooks").symlink_to(hooks, target_is_directory=True)
    with pytest.raises(DefinitionError, match=r"^test-patient-view\.yaml: handler 'tests\.services\.patient_view:farewell'"):
        create_app(make_settings(content_dir=content, store_path=tmp_path / "store.sqlite3",
                                 replay_cache_path=tmp_path / "replay.sqlite3"))
