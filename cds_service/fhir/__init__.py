"""FHIR access: fill a PatientRecord from prefetch, then from the EHR's FHIR server."""

from .gather import gather_record

__all__ = ["gather_record"]
