"""What happened to each prefetch key: one hook for metrics, one log line per gap.

Metrics code wraps :func:`on_fetch` (``events.on_fetch = wrapped``); gathering
always calls it through this module, so a wrapper set later is used. Log lines
carry the service id, the hookInstance, the key and a fixed reason code: never
a URL (it holds the patient id), a resource, or a token.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger("cds_service.fhir")

#: Outcomes that are not gaps.
OK_OUTCOMES = ("prefetch", "prefetch-null", "fetched")

_SAFE_ID = re.compile(r"[A-Za-z0-9._\-]{1,80}")


def on_fetch(key: str, outcome: str, seconds: float) -> None:
    """Called once per prefetch key of a hook call.

    ``outcome`` is ``prefetch`` (used as sent), ``prefetch-null`` (sent as no
    data), ``fetched`` (read from the FHIR server), or the reason code of a gap
    (``timeout``, ``http-403``, ``not-allowed-server``...). ``seconds`` is the
    time spent reading the FHIR server for the key (0 when nothing was read).
    Does nothing until metrics replace it.
    """


def safe_id(value: object) -> str:
    """A client-sent id fit for a log line (no spaces or line breaks), else "-"."""
    return value if isinstance(value, str) and _SAFE_ID.fullmatch(value) else "-"


def log_gap(service_id: str, hook_instance: object, key: str, reason: str) -> None:
    log.warning(
        "FHIR data gap: service=%s hookInstance=%s key=%s reason=%s",
        service_id,
        safe_id(hook_instance),
        key,
        reason,
    )


def log_skipped(service_id: str, hook_instance: object, key: str, count: int, why: str) -> None:
    log.warning(
        "FHIR resources skipped: service=%s hookInstance=%s key=%s count=%d why=%s",
        service_id,
        safe_id(hook_instance),
        key,
        count,
        why,
    )
