"""openapi.yaml drives requests at the app (schemathesis): every operation, data that fits the
schema and data that does not.

Every answer must be declared for the operation, have a declared content type
and headers, fit its schema, and never be a 5xx. Data that fits the schema must
be accepted, but for what a schema cannot say (a service answers its own hook
only; summary ranges; 412 when the conditions are neither prefetched nor
obtainable): so openapi.yaml stays as strict as the validator, and true.

In process (the Flask app as WSGI), examples bounded and derandomized so a run
is repeatable; ``CDS_FUZZ_EXAMPLES=10`` multiplies the examples for a longer
exploration by hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks as core_checks
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from cds_service.app import create_app
from tests.support.openapi import SPEC_PATH

SCHEMA = schemathesis.openapi.from_path(SPEC_PATH)
CHECKS = [
    core_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]
SERVICES = ("spine-order-select", "spine-order-sign")
SCALE = max(1, int(os.environ.get("CDS_FUZZ_EXAMPLES", "1")))
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE


@dataclass(frozen=True)
class Target:
    label: str
    mode: GenerationMode
    examples: int
    path_parameters: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        params = ",".join(f"{v}" for v in self.path_parameters.values())
        return f"{self.label} {self.mode.value}{' ' + params if params else ''}"


def _targets() -> list[Target]:
    out = []
    for label in sorted(r.ok().label for r in SCHEMA.get_all_operations()):
        if "{serviceId}" in label:
            # Feedback bodies are costly to generate (nested, conditional): fewer of them.
            busy = {"POST /cds-services/{serviceId}": 40, "POST /cds-services/{serviceId}/feedback": 25}.get(label, 20)
            for service in SERVICES:
                out += [Target(label, POSITIVE, busy, {"serviceId": service}),
                        Target(label, NEGATIVE, busy, {"serviceId": service})]
            out.append(Target(label, POSITIVE, 5, {"serviceId": "no-such-service"}))
        elif "{" in label:  # console files, demo requests: random names and real ones (below)
            out.append(Target(label, POSITIVE, 10))
        else:
            out.append(Target(label, POSITIVE, 1))
    out += [Target("GET /console/static/{filename}", POSITIVE, 1, {"filename": name})
            for name in ("console.js", "console.css", "markdown.js")]
    # The patient explainer: the real page with generated limb/question values, and its files.
    out += [Target("GET /patient/{page}", mode, 10, {"page": "emg-ncs"}) for mode in (POSITIVE, NEGATIVE)]
    out += [Target("GET /patient/static/{filename}", POSITIVE, 1, {"filename": name})
            for name in ("explainer.css", "explainer.js")]
    out += [Target("GET /demo/requests/{patientId}/{hook}", POSITIVE, 4, {"patientId": pid})
            for pid in _demo_patients()]
    return out


def _demo_patients() -> list[str]:
    from tests.conftest import make_settings

    app = create_app(make_settings(demo_enabled=True))
    ids = [p["id"] for p in app.test_client().get("/demo/patients").get_json()["patients"]]
    app.extensions["cds_ops"].store.close()
    return ids


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from tests.conftest import make_settings

    tmp = tmp_path_factory.mktemp("fuzz")
    app = create_app(make_settings(store_path=tmp / "store.sqlite3", replay_cache_path=tmp / "replay.sqlite3",
                                   demo_enabled=True, console_enabled=True, log_level="ERROR"))
    yield app
    app.extensions["cds_ops"].store.close()


def _accepted(label: str, status: int, body) -> bool:
    """Is this answer to schema-valid data an acceptance, or a refusal the schema cannot express?"""
    if status < 400 or status == 404 and "{serviceId}" not in label:
        return True  # 404: a demo patient or console file name that does not exist
    errors = set((body or {}).get("errors") or {}) if isinstance(body, dict) else set()
    if label == "POST /cds-services/{serviceId}":
        # The service's own hook only (the context is then read as that hook's, hence maybe
        # more errors); 412 is the spec's answer to absent, unobtainable conditions.
        return status == 412 or (status == 400 and "hook" in errors)
    if label == "GET /cds-services/{serviceId}/feedback/summary":
        return status == 400 and errors <= {"from", "to"}  # from <= to, at most 366 days
    return status == 404 and label.startswith("POST") is False


TARGETS = _targets()


@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_every_operation_answers_per_openapi(app, target):
    operation = SCHEMA.find_operation_by_label(target.label)
    strategy = operation.as_strategy(generation_mode=target.mode, path_parameters=target.path_parameters or None)
    known_service = target.path_parameters.get("serviceId", SERVICES[0]) in SERVICES

    @settings(max_examples=target.examples * SCALE, deadline=None, derandomize=SCALE == 1, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        response = case.call(app=app, buffered=True)  # buffered: werkzeug closes file responses
        case.validate_response(response, checks=CHECKS)
        if target.mode is POSITIVE and known_service:
            body = response.json() if "json" in response.headers.get("content-type", [""])[0] else None
            assert _accepted(target.label, response.status_code, body), (
                f"schema-valid request refused with {response.status_code}: {body}")

    run()
