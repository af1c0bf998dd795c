"""The patient's record as the clinical reader sees it.

This is the contract between FHIR access (which fills it from prefetch and the
EHR's FHIR server) and the clinical reader (which turns it into findings).
Resources are ``fhir.resources`` R4B models (R4B models read R4 data), or the
read-only nodes of ``fhir/fastpath.py`` with the same attributes: the reader
only reads attributes and ``get_resource_type()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    #: Resources dropped: invalid FHIR, an unexpected type, or about another patient.
    skipped_resources: int = 0

    #: resourceType -> attribute holding resources of that type.
    BUCKETS = {
        "Condition": "conditions",
        "Observation": "observations",
        "MedicationRequest": "medication_requests",
        "Device": "devices",
        "DiagnosticReport": "diagnostic_reports",
    }

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
