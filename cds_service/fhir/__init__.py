"""FHIR access: fill a PatientRecord from prefetch, then from the EHR's FHIR server.

Modules: ``prefetch`` (pure: tokens, what the client sent), ``access`` (pure:
allowlist, token), ``client`` (HTTP, one pooled session per process), ``parse``
(Bundle entries and paging; full R4B validation for tests and emitted FHIR), ``reader`` (the record's
one reader: each resource to a typed Struct of the elements the clinical reader reads, with the
safety checks), ``events`` (gap reasons and log lines) and
``gather`` (the steps, under one time budget; each key reported to the ``Metrics`` it is given).
"""

from .client import FhirClient
from .gather import gather_record

__all__ = ["FhirClient", "gather_record"]
