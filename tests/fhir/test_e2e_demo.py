"""Demo patients end to end: without prefetch, read from a real FHIR server, the cards are the same.

The fixture has loaded every demo bundle into Medplum as written, at the
catalog's reference date, so the calls here are evaluated at that date.
"""

from __future__ import annotations

from datetime import datetime, time, timezone

import pytest

from cds_service.demo import HOOKS, load_catalog
from cds_service.pipeline import call_service, load_engine
from cds_service.registry import load_definitions
from cds_service.settings import PROJECT_ROOT

from .conftest import FhirServer
from .helpers import settings

pytestmark = pytest.mark.e2e

CATALOG = load_catalog(PROJECT_ROOT / "demo", load_definitions(PROJECT_ROOT / "hooks"))
AT_REFERENCE = datetime.combine(CATALOG.reference_date, time(12, 0), tzinfo=timezone.utc)
SERVICE = {"order-select": "spine-order-select", "order-sign": "spine-order-sign"}


@pytest.fixture(scope="module")
def engine(medplum: FhirServer):
    # A generous budget: the shared machine may be busy; speed is measured in bench/.
    return load_engine(settings(allowed_fhir_servers=(medplum.base_url,), fhir_budget_seconds=5.0,
                                fhir_read_timeout=4.0, fhir_connect_timeout=1.0))


def kinds(response: dict) -> list[str]:
    return [c["source"]["topic"]["code"] for c in response["cards"]]


@pytest.mark.parametrize("patient_id", [p.id for p in CATALOG.patients])
def test_demo_request_without_prefetch_gives_the_same_cards(medplum, engine, patient_id):
    for hook in HOOKS:
        service = engine.registry.get(SERVICE[hook])
        with_prefetch = CATALOG.reference_request(patient_id, hook)
        fetched = {k: v for k, v in with_prefetch.items() if k != "prefetch"}
        fetched["fhirServer"] = medplum.base_url
        fetched["fhirAuthorization"] = {"access_token": medplum.token, "token_type": "Bearer", "expires_in": 300,
                                        "scope": "user/*.read", "subject": "spine-cds"}
        from_server = call_service(engine, service, fetched, now=AT_REFERENCE)
        gaps = (from_server.get("extension") or {}).get("org.example.spine-order-cds.data-gaps")
        assert not gaps, gaps  # no data gap: all read
        expected = list(CATALOG.get(patient_id).expected[hook])
        assert kinds(from_server) == kinds(call_service(engine, service, with_prefetch, now=AT_REFERENCE)) == expected
