"""CDS Hooks 2.0.1 bodies as marshmallow schemas: request, context, feedback, response.

Validation errors come back keyed by the field's path (``context.draftOrders``),
so a 400 tells the integrator exactly what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Mapping

from marshmallow import (
    EXCLUDE,
    INCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from .errors import InvalidRequest

#: FHIR id rule (R4 ``id`` datatype). Ids are put into FHIR query URLs, so
#: anything else is refused here rather than escaped later.
#: ``\Z``, not ``$``: Python's ``$`` also matches before a final newline ("p-1\n" would pass).
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}\Z")
#: A relative reference as order-select's ``selections`` carries it: Type/id. The base of an
#: absolute one is printable ASCII (a URL), the same set in openapi.yaml's ECMA-262 pattern.
TYPED_REFERENCE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://[!-~]+/)?[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}\Z")

_fhir_id = validate.Regexp(FHIR_ID, error="Must be a FHIR id: letters, digits, '-' and '.', at most 64.")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class JsonInteger(fields.Integer):
    """An integer as JSON Schema counts them: 300 and 300.0 (JSON does not tell them apart); not "300", not true."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class FhirAuthorizationSchema(Schema):
    """The spec's fhirAuthorization: every field but ``patient`` is required."""

    class Meta:
        unknown = EXCLUDE

    access_token = fields.String(required=True, validate=validate.Length(min=1))
    token_type = fields.String(required=True)
    expires_in = JsonInteger(required=True, strict=True, validate=validate.Range(min=0))
    scope = fields.String(required=True)
    subject = fields.String(required=True, validate=validate.Length(min=1))
    patient = fields.String(validate=_fhir_id)

    @validates("token_type")
    def _bearer(self, value: str, **_: Any) -> None:
        if value.lower() != "bearer":
            raise ValidationError("Must be 'Bearer'.")


class BundleField(fields.Dict):
    """A JSON object that is a FHIR Bundle (draftOrders)."""

    default_error_messages = {"bundle": "Must be a FHIR Bundle (resourceType 'Bundle')."}

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if value.get("resourceType") != "Bundle":
            raise self.make_error("bundle")
        entries = value.get("entry", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValidationError("Bundle.entry must be a list of objects.")
        return value


class _PatientContext(Schema):
    """The context every hook here shares: who is looking, at which patient, in which encounter."""

    # Hooks may gain context fields in later versions: keep unknown ones.
    class Meta:
        unknown = INCLUDE

    userId = fields.String(required=True, validate=validate.Length(min=1, max=256))
    patientId = fields.String(required=True, validate=_fhir_id)
    encounterId = fields.String(validate=_fhir_id, allow_none=True)


class _ContextBase(_PatientContext):
    draftOrders = BundleField(required=True)


class OrderSelectContextSchema(_ContextBase):
    selections = fields.List(
        fields.String(validate=validate.Regexp(TYPED_REFERENCE, error="Must be a reference like 'ServiceRequest/123'.")),
        required=True,
        validate=validate.Length(min=1),
    )


class OrderSignContextSchema(_ContextBase):
    pass


class PatientViewContextSchema(_PatientContext):
    """patient-view 1.0: the user and the patient being viewed (no product service uses it; the tests' one does)."""


@dataclass(frozen=True)
class Hook:
    """A hook this engine can validate: its name, the version of its published definition, its context."""

    name: str
    #: hookVersion of the definition on cds-hooks.org (said in discovery).
    version: str
    context: type[Schema]


#: Every hook a service in ``hooks/`` may name. A new hook is a row here (its context schema) and a
#: handler that answers it (``handlers.py``); ``registry`` refuses any other hook at start-up.
HOOKS: Mapping[str, Hook] = MappingProxyType({h.name: h for h in (
    Hook("order-select", "1.0", OrderSelectContextSchema),
    Hook("order-sign", "1.0", OrderSignContextSchema),
    Hook("patient-view", "1.0", PatientViewContextSchema),
)})


class PrefetchValue(fields.Field):
    """A prefetch value: a FHIR resource (often a searchset Bundle) or null ("no data")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise ValidationError("Must be a FHIR resource (an object with resourceType) or null.")
        return value


class HookRequestSchema(Schema):
    # Top-level members the spec does not define are ignored (clients add their own).
    class Meta:
        unknown = EXCLUDE

    hook = fields.String(required=True)
    hookInstance = fields.UUID(required=True)
    fhirServer = fields.Url(require_tld=False, schemes={"http", "https"})
    fhirAuthorization = fields.Nested(FhirAuthorizationSchema)
    context = fields.Dict(required=True)
    prefetch = fields.Dict(keys=fields.String(), values=PrefetchValue(allow_none=True))
    extension = fields.Dict()

    @validates_schema
    def _conditional(self, data: dict, **_: Any) -> None:
        if "fhirAuthorization" in data and "fhirServer" not in data:
            raise ValidationError("Required when fhirAuthorization is sent.", "fhirServer")

    @post_load
    def _uuid_as_text(self, data: dict, **_: Any) -> dict:
        data["hookInstance"] = str(data["hookInstance"])
        return data


class _PrefetchSchema(Schema):
    """The request's prefetch alone (``HookRequestSchema.prefetch``), for a body read in stages (``envelope.py``)."""

    class Meta:
        unknown = EXCLUDE

    prefetch = HookRequestSchema._declared_fields["prefetch"]


def validate_prefetch(body: dict) -> dict | None:
    """``body["prefetch"]`` checked as ``validate_hook_request`` checks it (None when there is none): for a body
    whose other members that function accepted, its errors are exactly those it would give for the whole body.

    :raise InvalidRequest: with ``errors`` keyed ``prefetch``.
    """
    if "prefetch" not in body:
        return None
    try:
        return _PrefetchSchema().load({"prefetch": body["prefetch"]})["prefetch"]
    except ValidationError as exc:
        raise InvalidRequest("The request is not a valid CDS Hooks call for this service.", exc.messages) from None


def validate_hook_request(body: Any, expected_hook: str) -> dict:
    """A request body checked against the spec and the service's hook.

    :raise InvalidRequest: with ``errors`` keyed by field path (``context.selections``).
    """
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", {"_body": ["Must be a JSON object."]})
    errors: dict[str, Any] = {}
    try:
        data = HookRequestSchema().load(body)
    except ValidationError as exc:
        errors.update(exc.messages)
        data = None
    hook = body.get("hook")
    if isinstance(hook, str) and hook != expected_hook:
        errors["hook"] = [f"This service answers '{expected_hook}', not '{hook}'."]
    context = body.get("context")
    if isinstance(context, dict) and expected_hook in HOOKS:
        try:
            context = HOOKS[expected_hook].context().load(context)
        except ValidationError as exc:
            errors.update({f"context.{k}": v for k, v in exc.messages.items()})
    if errors:
        raise InvalidRequest("The request is not a valid CDS Hooks call for this service.", errors)
    data["context"] = context
    return data


# --- feedback -------------------------------------------------------------------


class CodingSchema(_Strict):
    class Meta:
        unknown = EXCLUDE

    # Bounded: the store keeps them.
    system = fields.String(required=True, validate=validate.Length(max=1024))
    code = fields.String(required=True, validate=validate.Length(max=256))
    display = fields.String(validate=validate.Length(max=1024))


class OverrideReasonSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    reason = fields.Nested(CodingSchema)
    userComment = fields.String(validate=validate.Length(max=2000))


class AcceptedSuggestionSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1, max=128))


#: Most suggestion ids one feedback item may name (a card of this service has at most a few).
MAX_ACCEPTED_SUGGESTIONS = 20


class FeedbackItemSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    card = fields.String(required=True, validate=validate.Length(min=1, max=128))
    outcome = fields.String(required=True, validate=validate.OneOf(["accepted", "overridden"]))
    # A card has a few suggestions; a bound keeps one feedback item from filling the store.
    acceptedSuggestions = fields.List(fields.Nested(AcceptedSuggestionSchema),
                                      validate=validate.Length(max=MAX_ACCEPTED_SUGGESTIONS))
    overrideReason = fields.Nested(OverrideReasonSchema)
    # RFC 3339 date-time (the spec: UTC, e.g. 1985-04-12T23:20:50.52Z).
    outcomeTimestamp = fields.AwareDateTime(required=True, format="iso")

    @validates("outcomeTimestamp")
    def _utc_representable(self, value: datetime, **_: Any) -> None:
        # Stored in UTC: 0001-01-01T00:30+01:00 is a valid RFC 3339 time with no UTC datetime.
        try:
            value.astimezone(timezone.utc)
        except OverflowError:
            raise ValidationError("Out of range once converted to UTC.") from None

    @validates_schema
    def _conditional(self, data: dict, **_: Any) -> None:
        if data.get("outcome") == "accepted" and not data.get("acceptedSuggestions"):
            raise ValidationError("Required (at least one) for an 'accepted' outcome.", "acceptedSuggestions")


class FeedbackRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    feedback = fields.List(fields.Nested(FeedbackItemSchema), required=True, validate=validate.Length(min=1, max=100))


def validate_feedback(body: Any) -> dict:
    """:raise InvalidRequest: with ``errors`` keyed by field path."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", {"_body": ["Must be a JSON object."]})
    try:
        return FeedbackRequestSchema().load(body)
    except ValidationError as exc:
        raise InvalidRequest("The feedback is not valid CDS Hooks feedback.", exc.messages) from None


# --- response (what this service sends; checked in tests) ---------------------


class _ResponseCoding(_Strict):
    system = fields.String(required=True, validate=validate.Length(min=1))
    code = fields.String(required=True, validate=validate.Length(min=1))
    display = fields.String()


class _OverrideReasonCoding(_ResponseCoding):
    # The spec: the service MUST give a display for each override reason.
    display = fields.String(required=True, validate=validate.Length(min=1))


class SourceSchema(_Strict):
    label = fields.String(required=True, validate=validate.Length(min=1))
    url = fields.Url()
    icon = fields.Url()
    topic = fields.Nested(_ResponseCoding)


class ActionSchema(_Strict):
    type = fields.String(required=True, validate=validate.OneOf(["create", "update", "delete"]))
    description = fields.String(required=True, validate=validate.Length(min=1))
    resource = fields.Dict()
    resourceId = fields.String()

    @validates_schema
    def _conditional(self, data: dict, **_: Any) -> None:
        if data["type"] in ("create", "update") and not isinstance(data.get("resource"), dict):
            raise ValidationError("create and update actions carry the resource.", "resource")
        if data["type"] == "delete" and not data.get("resourceId"):
            raise ValidationError("delete actions carry a resourceId.", "resourceId")


class SuggestionSchema(_Strict):
    label = fields.String(required=True, validate=validate.Length(min=1))
    uuid = fields.UUID(required=True)
    isRecommended = fields.Boolean()
    actions = fields.List(fields.Nested(ActionSchema), required=True, validate=validate.Length(min=1))


class LinkSchema(_Strict):
    label = fields.String(required=True, validate=validate.Length(min=1))
    url = fields.Url(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["absolute", "smart"]))
    appContext = fields.String()
    autolaunchable = fields.Boolean()

    @validates_schema
    def _app_context(self, data: dict, **_: Any) -> None:
        if "appContext" in data and data["type"] != "smart":
            raise ValidationError("appContext is only valid on smart links.", "appContext")


class CardSchema(_Strict):
    uuid = fields.UUID(required=True)
    summary = fields.String(required=True, validate=validate.Length(min=1, max=139))
    detail = fields.String()
    indicator = fields.String(required=True, validate=validate.OneOf(["info", "warning", "critical"]))
    source = fields.Nested(SourceSchema, required=True)
    suggestions = fields.List(fields.Nested(SuggestionSchema))
    selectionBehavior = fields.String(validate=validate.OneOf(["at-most-one", "any"]))
    overrideReasons = fields.List(fields.Nested(_OverrideReasonCoding))
    links = fields.List(fields.Nested(LinkSchema))
    extension = fields.Dict()

    @validates_schema
    def _selection(self, data: dict, **_: Any) -> None:
        if data.get("suggestions") and "selectionBehavior" not in data:
            raise ValidationError("Required when the card has suggestions.", "selectionBehavior")


class CardResponseSchema(_Strict):
    cards = fields.List(fields.Nested(CardSchema), required=True)
    systemActions = fields.List(fields.Nested(ActionSchema))
    extension = fields.Dict()

    @validates("cards")
    def _order(self, cards: list, **_: Any) -> None:
        rank = {"critical": 0, "warning": 1, "info": 2}
        ranks = [rank[c["indicator"]] for c in cards]
        if ranks != sorted(ranks):
            raise ValidationError("Cards must be sorted critical > warning > info.")
