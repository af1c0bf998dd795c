"""The one reader of the patient's FHIR resources: each resource's JSON to a typed, read-only Struct.

One ``msgspec.convert`` per resource into a Struct that declares **only the
elements the clinical reader reads** (with the R4 names the readers use, so
``getattr(resource, "onsetDateTime", None)`` works as on an R4B model); every
other element is passed over unread, so extensions, contained resources and
elements of later FHIR versions cost nothing and cannot nest without bound.

What is checked, and why (each check drops the resource, counted, never the call):

- the JSON type of every declared element, and the cardinality of the
  FHIR-required ones among them (Observation.status and .code, ...): a reader
  never meets a number where it expects text;
- ``id``: the FHIR id syntax ``[A-Za-z0-9\\-.]{1,64}``;
- ``date``, ``dateTime`` and ``instant`` values: FHIR's syntax and a real
  calendar day. They stay the text as sent (the readers parse them with
  ``reading.dates.parse_date``, which gives the same :class:`PartialDate` for
  the text as for the ``date``/``datetime`` an R4B model makes of it);
- decimals are ``Decimal`` and finite, as in R4B models; inline attachment data
  of a text type (what the report reader reads) is decoded from base64, as R4B
  models do (invalid base64: an invalid resource);
- whose it is: :func:`owner` reads the subject/patient reference named by
  :data:`cds_service.record.RECORD_TYPES`; a reference that is there but names
  no ``Patient/<id>`` is refused (:class:`UnknownPatient`), so the other-patient
  check never passes a resource because it could not tell whose it is.

Errors never carry the offending values (patient data): a fixed text only.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Optional

import msgspec
from msgspec import Meta, Struct

from ..reading.fhir_access import TEXT_CONTENT_TYPES
from ..record import RECORD_TYPES

#: FHIR id: https://hl7.org/fhir/R4/datatypes.html#id
ID_PATTERN = r"[A-Za-z0-9\-.]{1,64}"
#: ``\Z``, not ``$``: ``$`` also matches before a final newline.
_ID = Annotated[str, Meta(pattern=rf"^{ID_PATTERN}\Z")]
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_MONTH = r"-(0[1-9]|1[0-2])"
_DAY = r"-(0[1-9]|[12][0-9]|3[01])"
_TIME = r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
#: FHIR date (YYYY, YYYY-MM, YYYY-MM-DD), dateTime (a time needs a zone, as R4B models require) and instant.
_DATE = Annotated[str, Meta(pattern=rf"^{_YEAR}({_MONTH}({_DAY})?)?\Z")]
_DATETIME = Annotated[str, Meta(pattern=rf"^{_YEAR}({_MONTH}({_DAY}({_TIME})?)?)?\Z")]
_INSTANT = Annotated[str, Meta(pattern=rf"^{_YEAR}{_MONTH}{_DAY}{_TIME}\Z")]
#: ``Patient/123``, ``https://ehr/fhir/Patient/123``, ``Patient/123/_history/2``.
_PATIENT_REF = re.compile(rf"(?:^|/)Patient/({ID_PATTERN})(?:/_history/[^/]+)?\Z")


class InvalidResource(ValueError):
    """A resource the record does not take; the message is a fixed text (no content)."""


class UnknownPatient(InvalidResource):
    """A subject/patient reference that names no Patient by a FHIR id."""


def _real_day(text: str | None) -> None:
    """:raise ValueError: for a day the calendar does not have (``2024-02-30``); the regexes allow 29-31."""
    if text is not None and len(text) >= 10 and text[8:10] > "28":
        year, month, day = int(text[:4]), int(text[5:7]), int(text[8:10])
        if day > calendar.monthrange(year, month)[1]:
            raise ValueError("not a calendar day")


# --- data types: only the elements read --------------------------------------------------


class _Element(Struct, frozen=True, kw_only=True):
    pass


class Coding(_Element, frozen=True, kw_only=True):
    system: Optional[str] = None
    code: Optional[str] = None
    display: Optional[str] = None


class CodeableConcept(_Element, frozen=True, kw_only=True):
    coding: Optional[list[Coding]] = None
    text: Optional[str] = None


class Quantity(_Element, frozen=True, kw_only=True):
    value: Optional[Decimal] = None
    comparator: Optional[str] = None
    unit: Optional[str] = None
    system: Optional[str] = None
    code: Optional[str] = None

    def __post_init__(self) -> None:
        if self.value is not None and not self.value.is_finite():
            raise ValueError("not a FHIR decimal")


class Range(_Element, frozen=True, kw_only=True):
    low: Optional[Quantity] = None
    high: Optional[Quantity] = None


class Period(_Element, frozen=True, kw_only=True):
    start: Optional[_DATETIME] = None
    end: Optional[_DATETIME] = None

    def __post_init__(self) -> None:
        _real_day(self.start)
        _real_day(self.end)


class Reference(_Element, frozen=True, kw_only=True):
    reference: Optional[str] = None
    display: Optional[str] = None


class Annotation(_Element, frozen=True, kw_only=True):
    text: str  # 1..1 in FHIR


class Attachment(_Element, frozen=True, kw_only=True):
    contentType: Optional[str] = None
    #: base64 as sent; bytes once decoded (a text type only, as the reader reads only those).
    data: Optional[str] = None

    def __post_init__(self) -> None:
        data = self.data
        if data and (self.contentType or "text/plain").lower().startswith(TEXT_CONTENT_TYPES):
            try:
                decoded = base64.b64decode(data)
            except (binascii.Error, ValueError):
                raise ValueError("not base64") from None
            msgspec.structs.force_setattr(self, "data", decoded)


class DeviceName(_Element, frozen=True, kw_only=True):
    name: str  # 1..1 in FHIR


# --- resources ---------------------------------------------------------------------------


class Resource(_Element, frozen=True, kw_only=True):
    """A resource of the record: its type, id, and the elements the reader reads."""

    resource_type: ClassVar[str] = ""
    id: Optional[_ID] = None

    def get_resource_type(self) -> str:
        return self.resource_type


class Patient(Resource, frozen=True, kw_only=True):
    resource_type: ClassVar[str] = "Patient"
    gender: Optional[str] = None
    birthDate: Optional[_DATE] = None

    def __post_init__(self) -> None:
        _real_day(self.birthDate)


class Condition(Resource, frozen=True, kw_only=True):
    resource_type: ClassVar[str] = "Condition"
    subject: Reference  # 1..1 in FHIR
    clinicalStatus: Optional[CodeableConcept] = None
    verificationStatus: Optional[CodeableConcept] = None
    code: Optional[CodeableConcept] = None
    bodySite: Optional[list[CodeableConcept]] = None
    onsetDateTime: Optional[_DATETIME] = None
    onsetAge: Optional[Quantity] = None
    onsetPeriod: Optional[Period] = None
    onsetRange: Optional[Range] = None
    onsetString: Optional[str] = None
    abatementDateTime: Optional[_DATETIME] = None
    abatementAge: Optional[Quantity] = None
    abatementPeriod: Optional[Period] = None
    abatementRange: Optional[Range] = None
    abatementString: Optional[str] = None
    recordedDate: Optional[_DATETIME] = None
    note: Optional[list[Annotation]] = None
    #: Choices the readers look for that R4 Condition does not have: None, without an AttributeError.
    onsetInstant: ClassVar[None] = None
    abatementBoolean: ClassVar[None] = None

    def __post_init__(self) -> None:
        _real_day(self.onsetDateTime)
        _real_day(self.abatementDateTime)
        _real_day(self.recordedDate)


class Observation(Resource, frozen=True, kw_only=True):
    resource_type: ClassVar[str] = "Observation"
    status: str  # 1..1
    code: CodeableConcept  # 1..1
    subject: Optional[Reference] = None
    effectiveDateTime: Optional[_DATETIME] = None
    effectivePeriod: Optional[Period] = None
    effectiveInstant: Optional[_INSTANT] = None
    issued: Optional[_INSTANT] = None
    valueQuantity: Optional[Quantity] = None
    valueCodeableConcept: Optional[CodeableConcept] = None
    valueString: Optional[str] = None
    valueBoolean: Optional[bool] = None
    interpretation: Optional[list[CodeableConcept]] = None
    note: Optional[list[Annotation]] = None
    bodySite: Optional[CodeableConcept] = None
    #: Choices the readers look for (``reading.dates.choice_date``) that R4 Observation does not have.
    effectiveAge: ClassVar[None] = None
    effectiveRange: ClassVar[None] = None
    effectiveString: ClassVar[None] = None

    def __post_init__(self) -> None:
        _real_day(self.effectiveDateTime)
        _real_day(self.effectiveInstant)
        _real_day(self.issued)


class MedicationRequest(Resource, frozen=True, kw_only=True):
    resource_type: ClassVar[str] = "MedicationRequest"
    status: str  # 1..1
    subject: Reference  # 1..1
    medicationCodeableConcept: Optional[CodeableConcept] = None
    medicationReference: Optional[Reference] = None
    authoredOn: Optional[_DATETIME] = None

    def __post_init__(self) -> None:
        _real_day(self.authoredOn)


class Device(Resource, frozen=True, kw_only=True):
    resource_type: ClassVar[str] = "Device"
    status: Optional[str] = None
    type: Optional[CodeableConcept] = None
    deviceName: Optional[list[DeviceName]] = None
    patient: Optional[Reference] = None


class DiagnosticReport(Resource, frozen=True, kw_only=True):
    resource_type: ClassVar[str] = "DiagnosticReport"
    status: str  # 1..1
    code: CodeableConcept  # 1..1
    subject: Optional[Reference] = None
    effectiveDateTime: Optional[_DATETIME] = None
    effectivePeriod: Optional[Period] = None
    issued: Optional[_INSTANT] = None
    conclusion: Optional[str] = None
    conclusionCode: Optional[list[CodeableConcept]] = None
    presentedForm: Optional[list[Attachment]] = None
    #: Choices the readers look for (``reading.dates.choice_date``) that R4 DiagnosticReport does not have.
    effectiveInstant: ClassVar[None] = None
    effectiveAge: ClassVar[None] = None
    effectiveRange: ClassVar[None] = None
    effectiveString: ClassVar[None] = None

    def __post_init__(self) -> None:
        _real_day(self.effectiveDateTime)
        _real_day(self.issued)


#: resourceType -> its Struct: exactly the types of RECORD_TYPES (checked here and in tests).
STRUCTS: dict[str, type[Resource]] = {cls.resource_type: cls for cls in Resource.__subclasses__()}
if set(STRUCTS) != set(RECORD_TYPES):  # pragma: no cover -- a type added to one table and not the other
    raise RuntimeError(f"fhir/reader.py Structs {sorted(STRUCTS)} differ from RECORD_TYPES {sorted(RECORD_TYPES)}")
#: resourceType -> the element saying whose it is (None: the Patient, by its id).
PATIENT_ELEMENT = {rtype: t.patient_element for rtype, t in RECORD_TYPES.items()}


def read_resource(raw: Any) -> Resource:
    """``raw`` (one resource's JSON, of a type in RECORD_TYPES) as its Struct.

    :raise InvalidResource: no resourceType, a type the record does not file, or a
        declared element that is not what FHIR says it is.
    """
    rtype = raw.get("resourceType") if isinstance(raw, dict) else None
    cls = STRUCTS.get(rtype) if isinstance(rtype, str) else None
    if cls is None:
        raise InvalidResource("not a resource the record reads")
    try:
        return msgspec.convert(raw, cls)
    except (msgspec.ValidationError, ValueError, TypeError):
        raise InvalidResource("invalid resource") from None


def owner(resource: Resource) -> str | None:
    """The id of the Patient ``resource`` is about; None when it does not say (no subject/patient element).

    :raise UnknownPatient: when the element is there but names no ``Patient/<id>``
        (another resource type, an identifier or display only, a malformed id).
    """
    element = PATIENT_ELEMENT[resource.resource_type]
    if element is None:
        return resource.id
    ref = getattr(resource, element)
    if ref is None:
        return None
    match = _PATIENT_REF.search(ref.reference.strip()) if ref.reference is not None else None
    if match is None:
        raise UnknownPatient("reference names no patient")
    return match.group(1)
