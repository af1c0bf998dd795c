"""Gather the patient's record for one hook call.

PLACEHOLDER (issue 2): prefetch only. Issue 3 replaces this module with the
real thing (FHIR server fetch of missing keys, in parallel, within a budget),
keeping ``gather_record``'s signature.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from ..errors import PreconditionFailed
from ..record import DataGap, PatientRecord
from ..registry import ServiceDefinition
from ..settings import Settings


def _resources(value: Any):
    if isinstance(value, dict) and value.get("resourceType") == "Bundle":
        for entry in value.get("entry") or []:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                yield entry["resource"]
    elif isinstance(value, dict):
        yield value


def gather_record(service: ServiceDefinition, request: dict, settings: Settings) -> PatientRecord:
    """The record for ``request``: every prefetch key of ``service``, parsed.

    :raise PreconditionFailed: when an essential key is neither prefetched nor obtainable.
    """
    record = PatientRecord()
    prefetch = request.get("prefetch") or {}
    for template in service.prefetch:
        if template.key not in prefetch:
            if template.essential:
                raise PreconditionFailed(f"Prefetch key {template.key!r} is required and was not sent.")
            record.gaps.append(DataGap(template.key, "not-sent"))
            continue
        for raw in _resources(prefetch[template.key]):
            try:
                model = get_fhir_model_class(raw.get("resourceType")).model_validate(raw)
            except Exception:  # an invalid resource is skipped and counted, never fatal
                record.skipped_resources += 1
                continue
            record.add(model)
    return record
