"""Bounds on the work one hook call may ask for.

A body within ``max_body_bytes`` could still hold 30,000 draft orders (one card each, past
gunicorn's timeout) or thousands of resources under one prefetch key. These checks run on
the parsed JSON before any validation, reading, or FHIR query, and refuse with 413
(OperationOutcome ``too-costly``) naming the limit and its setting, so an over-limit call
costs a count, not the work. Cards are bounded on the way out (``max_cards``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import PayloadTooLarge
from .reading.fhir_access import MAX_ATTACHMENT_BYTES  # an attachment is read up to this many bytes
from .settings import Settings


def _default(name: str) -> int:
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class CallLimits:
    """The limits of :class:`Settings` a hook call is checked against; the defaults are Settings' own
    (one source), and their bounds (at least 1) are checked by Settings at start-up."""

    draft_orders: int = _default("max_draft_orders")
    resources_per_key: int = _default("max_prefetch_resources_per_key")
    report_text_chars: int = _default("max_report_text_chars")
    cards: int = _default("max_cards")

    @classmethod
    def from_settings(cls, settings: Settings) -> "CallLimits":
        return cls(settings.max_draft_orders, settings.max_prefetch_resources_per_key,
                   settings.max_report_text_chars, settings.max_cards)


def _too_costly(message: str, path: str) -> PayloadTooLarge:
    return PayloadTooLarge(message, {path: [message]})


def _bundle_entries(value: Any) -> list:
    if isinstance(value, dict) and value.get("resourceType") == "Bundle" and isinstance(value.get("entry"), list):
        return value["entry"]
    return []


def report_text_chars(resource: Any) -> int:
    """Characters of report text a DiagnosticReport gives the reader (conclusion and text attachments),
    counted on its JSON without decoding anything (base64: 3 bytes per 4 characters)."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "DiagnosticReport":
        return 0
    conclusion = resource.get("conclusion")
    total = len(conclusion) if isinstance(conclusion, str) else 0
    forms = resource.get("presentedForm")
    for form in forms if isinstance(forms, list) else ():
        data = form.get("data") if isinstance(form, dict) else None
        if isinstance(data, str):
            total += min(len(data) * 3 // 4, MAX_ATTACHMENT_BYTES)
    return total


def check_request(body: Any, limits: CallLimits) -> None:
    """Refuse a call that asks for more work than the limits allow.

    :raise PayloadTooLarge: 413, naming the limit, its setting and the field.
    """
    if not isinstance(body, dict):
        return  # the validator says what is wrong with it
    context = body.get("context") if isinstance(body.get("context"), dict) else {}
    orders = _bundle_entries(context.get("draftOrders"))
    if len(orders) > limits.draft_orders:
        raise _too_costly(f"At most {limits.draft_orders} draft orders per call (setting max_draft_orders); "
                          f"this call has {len(orders)}.", "context.draftOrders")
    selections = context.get("selections")
    if isinstance(selections, list) and len(selections) > limits.draft_orders:
        raise _too_costly(f"At most {limits.draft_orders} selections per call (setting max_draft_orders); "
                          f"this call has {len(selections)}.", "context.selections")
    prefetch = body.get("prefetch") if isinstance(body.get("prefetch"), dict) else {}
    text = 0
    for key, value in prefetch.items():
        entries = _bundle_entries(value)
        if len(entries) > limits.resources_per_key:
            raise _too_costly(f"At most {limits.resources_per_key} resources per prefetch key (setting "
                              f"max_prefetch_resources_per_key); this key has {len(entries)}.", f"prefetch.{key}")
        resources = [e.get("resource") for e in entries if isinstance(e, dict)] if entries else [value]
        text += sum(report_text_chars(r) for r in resources)
        if text > limits.report_text_chars:
            raise _too_costly(f"At most {limits.report_text_chars} characters of report text per call (setting "
                              "max_report_text_chars); the prefetch holds more.", f"prefetch.{key}")
