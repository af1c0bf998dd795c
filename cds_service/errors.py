"""Domain errors, and the one place they become HTTP responses.

Views and services only raise; ``register_error_handlers`` turns every error
into a JSON body (with an OperationOutcome, as the spec suggests) and never
puts a stack trace, a token or patient data into it. It is the only place
errors become responses: an error that needs response headers (401's
``WWW-Authenticate``, 503's ``Retry-After``) says so in ``headers()``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class CdsError(Exception):
    """An error with an HTTP status and a message safe to show to the client."""

    status = 500
    code = "exception"  # FHIR issue-type code for the OperationOutcome

    def __init__(self, message: str, errors: Any = None):
        super().__init__(message)
        self.message = message
        self.errors = errors

    def headers(self) -> dict[str, str]:
        """Response headers this error needs besides the body (none by default)."""
        return {}


class InvalidRequest(CdsError):
    """The body is not a valid CDS Hooks request; ``errors`` maps field paths to messages."""

    status = 400
    code = "invalid"


class ServiceNotFound(CdsError):
    status = 404
    code = "not-found"

    def __init__(self, service_id: str):
        super().__init__("No CDS service with this id; GET /cds-services lists them.")
        self.service_id = service_id


class UnsupportedMediaType(CdsError):
    status = 415
    code = "not-supported"


class PayloadTooLarge(CdsError):
    status = 413
    code = "too-costly"


class PreconditionFailed(CdsError):
    """Per the CDS Hooks spec: the needed FHIR data was neither prefetched nor obtainable."""

    status = 412
    code = "incomplete"


def error_body(status: int, code: str, message: str, errors: Any = None) -> dict:
    body: dict[str, Any] = {
        "error": message,
        "status": status,
        "operationOutcome": {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": message}],
        },
    }
    if errors:
        body["errors"] = errors
    return body


def _response(status: int, code: str, message: str, errors: Any = None, headers=None):
    resp = jsonify(error_body(status, code, message, errors))
    resp.status_code = status
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


_HTTP_CODES = {404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported"}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CdsError)
    def _cds_error(exc: CdsError):
        # Every CdsError, the security package's (401, 503) and the store's (503) included.
        return _response(exc.status, exc.code, exc.message, exc.errors, headers=exc.headers())

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = {
            404: "Not found.",
            405: "Method not allowed for this endpoint.",
            413: "Request body is larger than this service accepts.",
        }.get(status, exc.name)
        headers = {}
        if status == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        return _response(status, _HTTP_CODES.get(status, "processing"), message, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Log the type and the traceback server-side; the message may hold PHI, so
        # the log carries no str(exc) and the client gets a fixed text.
        log.error("unhandled error: %s", type(exc).__name__, exc_info=exc if app.debug else None)
        return _response(500, "exception", "Internal error; the request was not processed.")
