"""Metrics in one process: what each request, card, FHIR key and feedback item adds.

The registry is process-wide, so every check compares before and after.
"""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from cds_service.ops import metrics
from tests.ops.conftest import card_of, hook_body, override, pretest_scenario, service_path


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_timed_per_endpoint_service_and_status(client):
    labels = {"endpoint": "cds.feedback_summary", "service": "spine-order-sign", "method": "GET", "status": "200"}
    unknown = {"endpoint": "cds.feedback_summary", "service": "unknown", "method": "GET", "status": "404"}
    before, before_unknown = (value("cds_http_request_duration_seconds_count", **labels),
                              value("cds_http_request_duration_seconds_count", **unknown))
    client.get("/cds-services/spine-order-sign/feedback/summary")
    client.get("/cds-services/spine-order-sign/feedback/summary")
    client.get("/cds-services/made-up-id/feedback/summary")
    assert value("cds_http_request_duration_seconds_count", **labels) == before + 2
    # A service id from the URL that the registry does not know never becomes a label.
    assert value("cds_http_request_duration_seconds_count", **unknown) == before_unknown + 1
    assert REGISTRY.get_sample_value("cds_http_request_duration_seconds_count",
                                     {**unknown, "service": "made-up-id"}) is None


def test_cards_are_counted_by_kind_and_indicator_and_prefetch_by_source(client):
    scenario = pretest_scenario()
    card_labels = {"service": "spine-order-sign", "kind": "edx-pretest-notes", "indicator": "info"}
    prefetched = {"key": "conditions", "source": "prefetch"}
    before_cards, before_prefetch = value("cds_cards_issued_total", **card_labels), value(
        "cds_prefetch_keys_total", **prefetched)
    resp = client.post(service_path(scenario), json=hook_body(scenario, "pt-m"))
    assert resp.status_code == 200
    assert value("cds_cards_issued_total", **card_labels) == before_cards + 1
    assert value("cds_prefetch_keys_total", **prefetched) == before_prefetch + 1
    assert value("cds_store_operation_duration_seconds_count", operation="record-issued") > 0


@pytest.mark.parametrize("outcome,seconds,source,result", [
    ("fetched", 0.12, "fetched", "ok"),
    ("timeout", 0.35, "fetched", "timeout"),
    ("http-503", 0.05, "fetched", "http-503"),
    ("budget-exceeded", 0.4, "fetched", "budget-exceeded"),
    ("prefetch", 0.0, "prefetch", None),
    ("prefetch-null", 0.0, "prefetch", None),
    ("not-sent", 0.0, "unavailable", None),
    ("not-allowed-server", 0.0, "unavailable", None),
])
def test_fhir_fetch_events_become_latency_and_results(app, outcome, seconds, source, result):
    engine_metrics = app.extensions["cds_engine"].metrics
    assert isinstance(engine_metrics, metrics.PrometheusMetrics)  # metrics_enabled: the engine counts
    key = "test-key"
    before = {
        "source": value("cds_prefetch_keys_total", key=key, source=source),
        "seconds": value("cds_fhir_query_duration_seconds_count", key=key),
        "result": value("cds_fhir_queries_total", key=key, result=result or "ok"),
    }
    engine_metrics.fetch(key, outcome, seconds)  # as gather calls it
    assert value("cds_prefetch_keys_total", key=key, source=source) == before["source"] + 1
    fetched = source == "fetched"
    assert value("cds_fhir_query_duration_seconds_count", key=key) == before["seconds"] + (1 if fetched else 0)
    assert value("cds_fhir_queries_total", key=key, result=result or "ok") == before["result"] + (1 if fetched else 0)


def test_each_prefetch_key_of_a_call_is_counted_once_whatever_apps_were_built_before(tmp_path, client):
    """Metrics are passed in, not chained into a module hook: building more apps adds no second count."""
    from cds_service.app import create_app
    from tests.ops.conftest import ops_settings

    create_app(ops_settings(tmp_path / "other"))
    scenario = pretest_scenario()
    before = value("cds_prefetch_keys_total", key="conditions", source="prefetch")
    assert client.post(service_path(scenario), json=hook_body(scenario, "pt-once")).status_code == 200
    assert value("cds_prefetch_keys_total", key="conditions", source="prefetch") == before + 1


def test_with_metrics_off_nothing_is_counted_and_metrics_is_404(tmp_path):
    from cds_service.app import create_app
    from cds_service.metrics import NullMetrics
    from tests.ops.conftest import ops_settings

    app = create_app(ops_settings(tmp_path, metrics_enabled=False))
    assert isinstance(app.extensions["cds_engine"].metrics, NullMetrics)
    assert app.extensions["cds_ops"].metrics is app.extensions["cds_engine"].metrics
    scenario = pretest_scenario()
    labels = {"service": "spine-order-sign", "kind": "edx-pretest-notes", "indicator": "info"}
    before = value("cds_cards_issued_total", **labels)
    assert app.test_client().post(service_path(scenario), json=hook_body(scenario, "pt-off")).status_code == 200
    assert value("cds_cards_issued_total", **labels) == before
    assert app.test_client().get("/metrics").status_code == 404


def test_feedback_outcomes_by_kind_and_duplicates(client):
    scenario = pretest_scenario()
    notes = card_of(client.post(service_path(scenario), json=hook_body(scenario, "pt-f")).get_json(),
                    "edx-pretest-notes")
    new = {"service": "spine-order-sign", "kind": "edx-pretest-notes", "outcome": "overridden"}
    unknown = {"service": "spine-order-sign", "kind": "unknown", "outcome": "overridden"}
    before = (value("cds_feedback_outcomes_total", **new), value("cds_feedback_outcomes_total", **unknown),
              value("cds_feedback_duplicates_total", service="spine-order-sign"))
    item = override(notes, "lab-informed")
    client.post("/cds-services/spine-order-sign/feedback", json={"feedback": [item, item]})
    client.post("/cds-services/spine-order-sign/feedback", json={"feedback": [override({"uuid": "nope"}, None)]})
    assert value("cds_feedback_outcomes_total", **new) == before[0] + 1
    assert value("cds_feedback_outcomes_total", **unknown) == before[1] + 1
    assert value("cds_feedback_duplicates_total", service="spine-order-sign") == before[2] + 1


def test_metrics_endpoint_serves_the_text_format(client):
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    text = resp.get_data(as_text=True)
    for name in ("cds_http_request_duration_seconds", "cds_cards_issued_total", "cds_fhir_query_duration_seconds",
                 "cds_prefetch_keys_total", "cds_feedback_outcomes_total", "cds_store_errors_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
