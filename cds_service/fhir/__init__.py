"""FHIR access: fill a PatientRecord from prefetch, then from the EHR's FHIR server.

Modules: ``prefetch`` (pure: tokens, what the client sent), ``access`` (pure:
allowlist, token), ``client`` (HTTP, one pooled session per process), ``parse``
(FHIR JSON to R4B models), ``events`` (metrics hook, gap log lines) and
``gather`` (the steps, under one time budget).
"""

from .client import FhirClient
from .gather import gather_record

__all__ = ["FhirClient", "gather_record"]
