"""The patient's record as the clinical reader sees it.

This is the contract between FHIR access (which fills it from prefetch and the
EHR's FHIR server) and the clinical reader (which turns it into findings).
:data:`RECORD_TYPES` is the one list of the resource types the record files: the
bucket each goes to, the element that says whose it is, and the prefetch keys
that bring it (the hooks' YAML must agree: ``tests/fhir/test_record_types.py``).

Gathering fills the record with the typed, read-only resources of
``fhir/reader.py`` (``msgspec`` Structs of only the elements the reader reads,
absent ones ``None``); tests also fill it with ``fhir.resources`` R4B models,
which have the same attribute names. The reader only reads attributes (with
``getattr(..., None)``) and ``get_resource_type()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordType:
    """How the record files one resource type."""

    #: The PatientRecord attribute holding resources of this type (``patient``: the one Patient).
    bucket: str
    #: The element referring to the Patient the resource is about; None for the Patient itself (its id).
    patient_element: str | None
    #: The prefetch keys (hooks/*.yaml) whose query reads this type.
    prefetch_keys: tuple[str, ...]


#: resourceType -> how the record files it. Every other type is read past.
RECORD_TYPES: dict[str, RecordType] = {
    "Patient": RecordType("patient", None, ("patient",)),
    "Condition": RecordType("conditions", "subject", ("conditions",)),
    "Observation": RecordType("observations", "subject", ("observations",)),
    "MedicationRequest": RecordType("medication_requests", "subject", ("medications",)),
    "Device": RecordType("devices", "patient", ("devices",)),
    "DiagnosticReport": RecordType("diagnostic_reports", "subject", ("reports",)),
}


@dataclass(frozen=True)
class DataGap:
    """A prefetch key whose data could not be read, and why (no PHI, no token)."""

    key: str
    reason: str  # e.g. "timeout", "http-403", "invalid-json", "not-allowed-server"


@dataclass
class PatientRecord:
    patient: Any | None = None
    conditions: list[Any] = field(default_factory=list)
    observations: list[Any] = field(default_factory=list)
    medication_requests: list[Any] = field(default_factory=list)
    devices: list[Any] = field(default_factory=list)
    diagnostic_reports: list[Any] = field(default_factory=list)
    #: Prefetch keys whose data could not be obtained.
    gaps: list[DataGap] = field(default_factory=list)
    #: Resources dropped: invalid FHIR, an unexpected type, or about another (or an unknown) patient.
    skipped_resources: int = 0

    #: resourceType -> list attribute holding resources of that type (all of RECORD_TYPES but Patient).
    BUCKETS = {rtype: t.bucket for rtype, t in RECORD_TYPES.items() if rtype != "Patient"}

    def add(self, resource: Any) -> bool:
        """File one parsed resource under its type; False for a type the reader does not use."""
        rtype = resource.get_resource_type()
        if rtype == "Patient":
            self.patient = resource
            return True
        attr = self.BUCKETS.get(rtype)
        if attr is None:
            return False
        getattr(self, attr).append(resource)
        return True
