"""Structured logs: one JSON object per line, with the request id on every line of a request.

Only a fixed list of record attributes is copied into the JSON (``FIELDS``), so
an ``extra=`` someone adds later cannot leak a value by accident; exceptions
are written as their type and the stack of code lines, never their message
(it may quote patient data).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from datetime import datetime, timezone

from gunicorn.glogging import Logger as GunicornLogger

from cds_service.security.request_auth import CdsClientLogFilter

#: The current request's id; set by ``ops.http`` for the request's thread.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("cds_request_id", default=None)

#: Record attributes copied into the JSON line when present.
FIELDS = (
    "event", "method", "endpoint", "service", "status", "latency_ms", "hook_instance", "card_kinds",
    "cds_iss", "cds_tenant", "feedback_recorded", "feedback_duplicates",
)

_HANDLER_MARK = "_cds_ops_handler"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,  # which gunicorn worker
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            out["request_id"] = request_id
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "-":
                out[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
            out["stack"] = "".join(traceback.format_tb(record.exc_info[2]))[-4000:]
        return json.dumps(out, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (test runners swap it), like logging's last resort."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(json_lines: bool) -> None:
    """Give the ``cds_service`` loggers one stderr handler (JSON or text); calling again reconfigures it.

    Records still propagate, so a test's log capture sees them too.
    """
    logger = logging.getLogger("cds_service")
    handler = next((h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)), None)
    if handler is None:
        handler = _StderrHandler()
        setattr(handler, _HANDLER_MARK, True)
        handler.addFilter(CdsClientLogFilter())
        logger.addHandler(handler)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))


class GunicornJsonLogger(GunicornLogger):
    """gunicorn's own error log (worker boots, timeouts) as JSON lines too."""

    def _set_handler(self, log, output, fmt, stream=None):
        if log is self.error_log:
            fmt = JsonFormatter()
        super()._set_handler(log, output, fmt, stream)
