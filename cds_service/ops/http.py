"""Per request: a request id, timing, the latency histogram, and one log line.

Registered before the security hooks, so a refused call (401) is timed, counted
and logged with its request id like any other. The log line holds the
endpoint, service id, status, latency, and for hook calls the hookInstance and
the kinds of the cards returned: no path beyond the route, no query string, no
body, no header values but the request id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Sequence

from flask import Flask, Response, current_app, g, has_request_context, request

from cds_service.fhir.events import safe_id
from cds_service.metrics import Metrics

from .logjson import request_id_var

log = logging.getLogger("cds_service.request")

REQUEST_ID_HEADER = "X-Request-ID"
#: A caller's request id is kept only if it is this plain (it goes into every log line).
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
#: Probes and scrapes: logged at DEBUG only (every few seconds, all alike).
_QUIET_ENDPOINTS = frozenset({"cds.healthz", "cds.readyz", "cds.metrics"})


def request_id_from(header: str | None) -> str:
    """The caller's ``X-Request-ID`` if it is a plain token, else a new one."""
    if header and _SAFE_REQUEST_ID.fullmatch(header):  # fullmatch: "$" would allow a final newline
        return header
    return uuid.uuid4().hex


def note_hook_call(hook_instance: str, card_kinds: Sequence[str]) -> None:
    """Called by the hook view with what the pipeline answered (the kinds of its card specs): for the log line."""
    if not has_request_context():
        return
    g.cds_hook_instance = safe_id(hook_instance)
    g.cds_card_kinds = list(card_kinds)


def _service_label(app: Flask) -> str:
    service_id = (request.view_args or {}).get("service_id")
    if service_id is None:
        return "-"
    known = app.extensions.get("cds_ops_service_ids")
    if known is None:
        known = frozenset(s.id for s in app.extensions["cds_engine"].registry)
        app.extensions["cds_ops_service_ids"] = known
    # An unknown id comes from the URL: never a label value (unbounded).
    return service_id if service_id in known else "unknown"


def install(app: Flask, metrics: Metrics) -> None:
    @app.before_request
    def _start_request() -> None:
        g.cds_request_started = time.perf_counter()
        g.cds_request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.cds_request_id_token = request_id_var.set(g.cds_request_id)

    @app.after_request
    def _finish_request(response: Response) -> Response:
        request_id = g.get("cds_request_id")
        if request_id is None:  # before_request did not run (an earlier hook failed hard)
            return response
        response.headers[REQUEST_ID_HEADER] = request_id
        seconds = time.perf_counter() - g.cds_request_started
        endpoint = request.endpoint or "unmatched"
        service = _service_label(current_app)
        metrics.request(endpoint, service, request.method, response.status_code, seconds)
        level = logging.DEBUG if endpoint in _QUIET_ENDPOINTS else logging.INFO
        log.log(level, "%s %s -> %d", request.method, endpoint, response.status_code, extra={
            "event": "request",
            "method": request.method,
            "endpoint": endpoint,
            "service": service,
            "status": response.status_code,
            "latency_ms": round(seconds * 1000, 2),
            "hook_instance": g.get("cds_hook_instance"),
            "card_kinds": g.get("cds_card_kinds"),
            "feedback_recorded": g.get("cds_feedback_recorded"),
            "feedback_duplicates": g.get("cds_feedback_duplicates"),
        })
        return response

    @app.teardown_request
    def _forget_request_id(_exc: BaseException | None) -> None:
        token = g.pop("cds_request_id_token", None)
        if token is not None:
            try:
                request_id_var.reset(token)
            except ValueError:  # set in another context (should not happen): just clear it
                request_id_var.set(None)
