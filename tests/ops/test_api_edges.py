"""Probes, protection, bad summary ranges, and what happens when the store is down."""

from __future__ import annotations

import pytest

from cds_service.store import StoreError
from tests.ops.conftest import card_of, hook_body, kinds, override, pretest_scenario, service_path
from tests.support import openapi

SUMMARY = "/cds-services/spine-order-sign/feedback/summary"


def _checked(resp, method: str, path: str):
    openapi.validate_response(method, path, resp.status_code, resp.get_json(), resp.headers.get("Content-Type", ""))
    return resp


@pytest.mark.parametrize("query,field", [
    ("?from=2026-13-01", "from"),
    ("?to=yesterday", "to"),
    ("?from=2026-11-02&to=2026-11-01", "from"),
    ("?from=2024-01-01&to=2026-01-01", "from"),
])
def test_a_bad_summary_range_is_400_naming_the_parameter(client, query, field):
    resp = _checked(client.get(SUMMARY + query), "GET", SUMMARY)
    assert resp.status_code == 400 and field in resp.get_json()["errors"]


def test_summary_of_an_unknown_service_is_404(client):
    assert client.get("/cds-services/nope/feedback/summary").status_code == 404


def test_summary_needs_a_jwt_but_probes_and_metrics_do_not(make_app):
    app = make_app(auth_disabled=False, trusted_issuers={"https://ehr.example.org": "http://127.0.0.1:9/jwks.json"})
    client = app.test_client()
    resp = _checked(client.get(SUMMARY), "GET", SUMMARY)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path


class _DownStore:
    """A store whose server went away after start-up."""

    backend = "sqlite"

    def close(self) -> None:
        return None

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise StoreError(f"sqlite store: {name} failed (OperationalError)")

        return fail


def test_with_the_store_down_hook_calls_go_on_feedback_is_503_and_not_ready(app):
    client = app.test_client()
    before = client.post(service_path(pretest_scenario()), json=hook_body(pretest_scenario(), "pt-1")).get_json()
    client.post("/cds-services/spine-order-sign/feedback",
                json={"feedback": [override(card_of(before, "edx-pretest-notes"), "lab-informed")]})
    down = _DownStore()
    operations = app.extensions["cds_ops"]
    operations.store.close()
    operations.store = down
    operations.policy._store = down

    # Fail open: every card shown (even the one suppressed a moment ago), no error.
    resp = client.post(service_path(pretest_scenario()), json=hook_body(pretest_scenario(), "pt-1"))
    assert resp.status_code == 200 and "edx-pretest-notes" in kinds(resp.get_json())

    feedback = _checked(client.post("/cds-services/spine-order-sign/feedback", json={"feedback": [
        override(card_of(before, "edx-pretest-notes"), "lab-informed")]}), "POST", "/cds-services/x/feedback")
    assert feedback.status_code == 503 and feedback.headers["Retry-After"].isdigit()
    assert _checked(client.get(SUMMARY), "GET", SUMMARY).status_code == 503

    ready = _checked(client.get("/readyz"), "GET", "/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "not-ready", "checks": {"store": "unavailable", "valuesets": "ok"}}
    assert client.get("/healthz").status_code == 200  # liveness does not depend on the store


def test_ready_when_the_store_answers_and_value_sets_are_loaded(client):
    resp = _checked(client.get("/readyz"), "GET", "/readyz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ready", "checks": {"store": "ok", "valuesets": "ok"}}


def test_not_ready_without_value_sets(app, tmp_path):
    from cds_service.ops.readiness import check

    assert check(app.extensions["cds_ops"].store, None).checks == {"store": "ok", "valuesets": "not-loaded"}
    assert app.extensions["cds_ops"].readiness().ready  # the engine's value sets, or its own loaded once


def test_metrics_can_be_switched_off(make_app):
    client = make_app(metrics_enabled=False).test_client()
    resp = _checked(client.get("/metrics"), "GET", "/metrics")
    assert resp.status_code == 404


def test_a_store_that_cannot_open_stops_start_up(make_app, tmp_path):
    (tmp_path / "blocker").write_text("a file where the store's folder should be")
    with pytest.raises(StoreError):
        make_app(store_path=tmp_path / "blocker" / "store.sqlite3")


def test_every_new_route_is_in_openapi(app):
    documented = set(openapi.spec()["paths"])
    for path in ("/cds-services/{serviceId}/feedback/summary", "/readyz", "/metrics", "/healthz"):
        assert path in documented
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert {"/cds-services/<service_id>/feedback/summary", "/readyz", "/metrics"} <= rules
