"""What happened to each prefetch key: the gap reasons, and one log line per gap.

Metrics hear of every key from gathering itself (``gather_record(..., metrics=)``,
``cds_service.metrics.Metrics.fetch``). Log lines carry the service id, the
hookInstance, the key and a fixed reason code: never a URL (it holds the patient
id), a resource, or a token.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger("cds_service.fhir")

#: Outcomes that are not gaps.
OK_OUTCOMES = ("prefetch", "prefetch-null", "fetched")

#: Every ``DataGap.reason`` (plus ``http-<status>`` for an HTTP error answer), and
#: what it means. Data for a key is *missing* unless marked partial.
GAP_REASONS = {
    # the client's prefetch, when there was no FHIR server to ask
    "not-sent": "the client did not prefetch the key",
    "prefetch-operation-outcome": "the client's prefetch held an error OperationOutcome",
    "invalid-prefetch": "the client's prefetch value was not a FHIR resource of the queried type",
    "unread-pages": "partial: the prefetch was paginated and the next pages could not be read",
    # FHIR server access refused before any request
    "not-allowed-server": "fhirServer is not on the allowlist (or is not a base URL)",
    "invalid-token": "fhirAuthorization holds no usable access token",
    "unsupported-token-type": "fhirAuthorization.token_type is not Bearer",
    "unresolved-token": "a prefetch token of the query has no value in the context",
    # the FHIR server's answer
    "timeout": "the FHIR server did not answer in time",
    "connection-error": "the FHIR server could not be reached",
    "broken-response": "the answer was cut off or its encoding was broken",
    "request-error": "the request could not be made",
    "redirect": "the FHIR server answered with a redirect, which is not followed",
    "invalid-json": "the answer was not JSON",
    "unexpected-response": "the answer was JSON but not a FHIR resource",
    "operation-outcome": "the answer was (or held) an error OperationOutcome",
    "too-large": "the answer exceeded fhir_max_response_bytes",
    "budget-exceeded": "the hook call's time budget ran out first",
    "call-byte-budget": "the hook call's FHIR responses reached fhir_call_max_bytes together",
    "call-entry-budget": "the hook call's FHIR responses reached fhir_call_max_entries together",
    "report-text-limit": "fetched reports past max_report_text_chars were left out",
    # partial reading (the reader's per-call budget, reading/facts.py)
    "record-text-limit": "partial: labels, values and notes past the call's reading budget were not read as text",
    "record-coding-limit": "partial: codings past the call's reading budget were not read",
    "internal-error": "a bug in this service (logged with its type)",
    # partial data
    "page-limit": "partial: more searchset pages than fhir_max_pages",
    "paging-off-server": "partial: a next link pointed away from fhirServer and was not followed",
    "truncated": "partial: the search total is larger than the resources returned",
    "other-patient-data": "resources about another patient were dropped",
}

_SAFE_ID = re.compile(r"[A-Za-z0-9._\-]{1,80}")


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
