"""HTTP endpoints: discovery, hook calls, feedback, probes, metrics. Parse, call, serialize; nothing else."""

from __future__ import annotations

from typing import Any

from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import NotFound

from .envelope import StagedBody, decode_json, parse_full, read_staged
from .errors import InvalidRequest, UnsupportedMediaType
from .feedback.summary import parse_range
from .ops.http import note_hook_call
from .ops.wiring import Operations
from .pipeline import Engine, links_base_url, run_call
from .protocol import validate_feedback

bp = Blueprint("cds", __name__)

_JSON_TYPES = ("application/json", "application/fhir+json")
_UNREAD = object()


def _engine() -> Engine:
    return current_app.extensions["cds_engine"]


def _ops() -> Operations:
    return current_app.extensions["cds_ops"]


def _raw_json() -> bytes:
    """The request body's bytes, declared as JSON and not empty.

    :raise UnsupportedMediaType: the body is not declared as JSON (415).
    :raise InvalidRequest: the body is empty (400).
    """
    if request.mimetype not in _JSON_TYPES:
        raise UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.")
    raw = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH this raises 413
    if not raw.strip():
        raise InvalidRequest("The request body is empty.", {"_body": ["Expected a JSON object."]})
    return raw


def _json_body() -> Any:
    """The request body as JSON (its depth was checked before the view: ``security``).

    :raise UnsupportedMediaType: the body is not declared as JSON (415).
    :raise InvalidRequest: the body is empty or not valid JSON (400).
    """
    return decode_json(_raw_json())


def _hook_body(max_depth: int) -> StagedBody | Any:
    """A hook call's body: its prefetch left raw when the rest is plainly valid (``envelope.py``), else
    parsed whole as always (depth scan, then ``json.loads``), with the same refusals."""
    raw = _raw_json()
    staged = g.pop("cds_staged_body", _UNREAD)  # read so by the depth check (security.init_app)
    if staged is _UNREAD:  # no depth check ran before the view
        return read_staged(raw, max_depth) or parse_full(raw, max_depth)
    return staged or decode_json(raw)  # not plainly valid: its whole depth was checked there already


@bp.get("/cds-services")
def discovery():
    return jsonify(_engine().registry.discovery())


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str):
    engine = _engine()
    service = engine.registry.get(service_id)  # 404 before the body is read
    body = _hook_body(engine.settings.json_max_depth)
    try:
        outcome = run_call(engine, service, body, base_url=links_base_url(engine.settings, request.url_root))
    except RecursionError:
        # Within json_max_depth nothing recurses this deep; a refusal, never a 500, if one does.
        raise InvalidRequest("The body is nested too deeply.", {"_body": ["JSON nesting too deep."]}) from None
    note_hook_call(outcome.hook_instance, outcome.card_kinds)  # for the request's log line
    return jsonify(outcome.response)


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str):
    _engine().registry.get(service_id)
    data = validate_feedback(_json_body())
    # Idempotent: an outcome posted again is stored once (503 if the store is down).
    stored = _ops().record_feedback(service_id, data["feedback"], datetime.now(timezone.utc))
    recorded = sum(1 for s in stored if s.new)
    unknown = sum(1 for s in stored if not s.issued)
    return jsonify({"received": len(stored), "recorded": recorded, "duplicates": len(stored) - recorded - unknown,
                    "unknownCards": unknown})


@bp.get("/cds-services/<service_id>/feedback/summary")
def feedback_summary(service_id: str):
    _engine().registry.get(service_id)
    operations = _ops()
    start, end = parse_range(request.args, datetime.now(timezone.utc).date(),
                             operations.feedback_config.summary_default_days)
    return jsonify(operations.summary(service_id, start, end))


# --- operations: not behind the JWT (probes and scrapers carry none) -----------


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    readiness = _ops().readiness(getattr(_engine(), "valuesets", None))
    return jsonify(readiness.body()), 200 if readiness.ready else 503


@bp.get("/metrics")
def metrics():
    exposition = _engine().metrics.exposition()
    if exposition is None:  # metrics off (NullMetrics)
        raise NotFound()
    body, content_type = exposition
    return Response(body, content_type=content_type)
