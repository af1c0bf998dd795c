"""Apps on a store of their own (a temporary SQLite file, or a PostgreSQL schema), and clinical requests.

Scenario dates are relative to today: hook calls over HTTP run on the real clock.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Callable, Iterator

import pytest
from flask import Flask

from cds_service.app import create_app
from cds_service.cardbuilder import OVERRIDE_SYSTEM
from cds_service.settings import Settings
from tests.scenarios.build import build
from tests.support.processes import DEMO_SETTINGS


def days_ago(n: int) -> str:
    return (date.today() - timedelta(days=n)).isoformat()


def pretest_scenario(hook: str = "order-sign") -> dict:
    """EMG order, anticoagulant and pacemaker: emg-adds-value and edx-pretest-notes (info)."""
    return {
        "hook": hook,
        "patient": {"birthDate": "1948-04-18", "gender": "male"},
        "conditions": [{"code": "icd10:M54.17", "display": "Radiculopathy, lumbosacral region", "onset": days_ago(150)},
                       {"code": "icd10:Z95.0", "display": "Presence of cardiac pacemaker"}],
        "medications": [{"code": "rxnorm:1364435", "display": "apixaban 5 MG Oral Tablet"}],
        "devices": [{"code": "snomed:14106009", "display": "Cardiac pacemaker"}],
        "orders": [{"code": "cpt:95886", "display": "EMG/NCS left lower extremity"}],
    }


def red_flag_scenario() -> dict:
    """Cauda equina since yesterday on an EMG order: the critical red-flag card."""
    return {
        "hook": "order-sign",
        "patient": {"birthDate": "1979-12-12", "gender": "female"},
        "conditions": [{"code": "icd10:G83.4", "display": "Cauda equina syndrome", "onset": days_ago(1)}],
        "orders": [{"code": "cpt:95886", "display": "EMG/NCS bilateral lower extremities"}],
    }


def hook_body(scenario: dict, patient_id: str) -> dict:
    return build(scenario, patient_id=patient_id)


def service_path(scenario: dict) -> str:
    return "/cds-services/" + ("spine-order-select" if scenario["hook"] == "order-select" else "spine-order-sign")


def kinds(response_json: dict) -> list[str]:
    return [c["source"]["topic"]["code"] for c in response_json["cards"]]


def card_of(response_json: dict, kind: str) -> dict:
    matches = [c for c in response_json["cards"] if c["source"]["topic"]["code"] == kind]
    assert matches, f"the scenario no longer gives a {kind} card (rules changed?): {kinds(response_json)}"
    return matches[0]


def override(card: dict, code: str | None, when: str = "2026-11-26T10:05:31Z") -> dict:
    item: dict = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": when}
    if code:
        item["overrideReason"] = {"reason": {"system": OVERRIDE_SYSTEM, "code": code}}
    return item


def ops_settings(tmp_path, **overrides) -> Settings:
    """The repo's content, no CDS_* environment, JWT off, and stores of this test only."""
    values = {"auth_disabled": True, "store_path": tmp_path / "store.sqlite3",
              "replay_cache_path": tmp_path / "replay.sqlite3", **DEMO_SETTINGS,
              "public_base_url": "http://localhost"}  # the Flask test client's base URL
    values.update(overrides)
    return Settings.load(env={}, yaml_path=None, **values)


@pytest.fixture
def make_app(tmp_path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(**overrides) -> Flask:
        app = create_app(ops_settings(tmp_path, **overrides))
        app.testing = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["cds_ops"].store.close()


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()
