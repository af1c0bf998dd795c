"""``config/feedback.yaml``: which override reasons suppress a card kind, for how long; summary defaults."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from cds_service.cardbuilder import CardLibrary

log = logging.getLogger(__name__)


class FeedbackConfigError(ValueError):
    """config/feedback.yaml is invalid; the message says what is wrong."""


class _Suppression(Schema):
    class Meta:
        unknown = RAISE

    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=3650))
    already_addressed = fields.List(fields.String(validate=validate.Regexp(r"^[a-z0-9-]+$")), required=True)


class _Summary(Schema):
    class Meta:
        unknown = RAISE

    default_days = fields.Integer(load_default=30, strict=True, validate=validate.Range(min=1, max=366))
    top_reasons = fields.Integer(load_default=5, strict=True, validate=validate.Range(min=1, max=50))


class _File(Schema):
    class Meta:
        unknown = RAISE

    suppression = fields.Nested(_Suppression, required=True)
    summary = fields.Nested(_Summary, load_default=lambda: _Summary().load({}))


@dataclass(frozen=True)
class FeedbackConfig:
    suppress_days: int
    #: Override reason codes (card.yaml `code`) that mean "already addressed".
    already_addressed: frozenset[str]
    summary_default_days: int = 30
    summary_top_reasons: int = 5
    #: (card kind, system, code) of every override coding that suppresses that kind: what the card offers
    #: (an HL7 code where it has one) and the service's own coding. Filled from the card library.
    suppressing: frozenset[tuple[str, str, str]] = frozenset()


def load_feedback_config(path: Path, cards: CardLibrary) -> FeedbackConfig:
    """Read and check the file against the card library.

    :raise FeedbackConfigError: if the file is missing or malformed, or lists a
        reason code that no card offers (a typo would silently suppress nothing).
    """
    try:
        data = _File().load(yaml.safe_load(Path(path).read_text()) or {})
    except FileNotFoundError:
        raise FeedbackConfigError(f"{path}: missing (it says which override reasons suppress cards)") from None
    except yaml.YAMLError as exc:
        raise FeedbackConfigError(f"{path}: not YAML ({exc})") from None
    except ValidationError as exc:
        raise FeedbackConfigError(f"{path}: {exc.messages}") from None
    codes = frozenset(data["suppression"]["already_addressed"])
    offered: dict[str, set[str]] = {}
    for kind in cards.kinds:
        for reason in cards.template(kind).override_reasons:
            offered.setdefault(reason.local, set()).add(kind)
    unknown = sorted(codes - set(offered))
    if unknown:
        raise FeedbackConfigError(f"{path}: no card offers the override reason(s) {unknown}")
    for code in sorted(codes):
        if all(cards.template(k).indicator == "critical" for k in offered[code]):
            log.info("override reason %s is only on critical cards, which are never suppressed", code)
    summary = data["summary"]
    suppressing = frozenset(
        (kind, system, code)
        for kind in cards.kinds
        for reason in cards.template(kind).override_reasons if reason.local in codes
        for system, code in reason.codings
    )
    return FeedbackConfig(
        suppress_days=data["suppression"]["days"],
        already_addressed=codes,
        summary_default_days=summary["default_days"],
        summary_top_reasons=summary["top_reasons"],
        suppressing=suppressing,
    )
