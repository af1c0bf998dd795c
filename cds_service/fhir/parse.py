"""FHIR JSON to ``fhir.resources`` R4B models, one resource at a time.

Each resource of a Bundle is validated on its own, so one invalid resource is
dropped (and counted) without losing the others. Validation errors are never
formatted: pydantic puts the offending input values, i.e. patient data, in them.

The record is filled with :func:`parse_for_record`: the same validation, through
:mod:`.fastpath` when it can vouch for the JSON (read-only nodes with the models'
attributes, several times faster), else through the models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from . import fastpath

_model_classes: dict[str, type] = {}

#: Where a resource of the types the record files says whose it is.
_PATIENT_ELEMENT = {
    "Condition": "subject",
    "Observation": "subject",
    "MedicationRequest": "subject",
    "DiagnosticReport": "subject",
    "Device": "patient",
}
#: ``Patient/123``, ``https://ehr/fhir/Patient/123``, ``Patient/123/_history/2``.
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


class InvalidResource(ValueError):
    """A resource that does not validate; the message is a fixed text (no content)."""


def model_class(resource_type: str) -> type:
    """The R4B model class for a resource type.

    :raise InvalidResource: for a name that is not a FHIR resource type.
    """
    cls = _model_classes.get(resource_type)
    if cls is None:
        try:
            cls = get_fhir_model_class(resource_type)
        except (ValueError, KeyError, TypeError):
            raise InvalidResource("unknown resource type") from None
        _model_classes[resource_type] = cls
    return cls


def warm_up(resource_types) -> None:
    """Import the model classes now: fhir.resources loads each on first use (~10-35 ms each).

    Also builds the fast path's tables for them (~0.3 s for the record's types).
    """
    for resource_type in resource_types:
        fastpath.prepare(model_class(resource_type))


def parse_resource(raw: dict) -> Any:
    """A validated R4B model of ``raw``.

    :raise InvalidResource: when ``raw`` is not a valid FHIR resource.
    """
    rtype = raw.get("resourceType") if isinstance(raw, dict) else None
    if not isinstance(rtype, str):
        raise InvalidResource("no resourceType")
    cls = model_class(rtype)
    try:
        return cls.model_validate(raw)
    except (ValidationError, ValueError, TypeError):
        raise InvalidResource("invalid resource") from None
    except Exception:  # noqa: BLE001 -- fhir_core raises KeyError for a contained resource of an unknown type
        raise InvalidResource("invalid resource") from None


def parse_for_record(raw: dict) -> Any:
    """``raw`` validated exactly as :func:`parse_resource` does; a :class:`fastpath.FhirNode` when the fast
    path can vouch for it (the common case), else the R4B model. Both have the same attributes.

    :raise InvalidResource: when ``raw`` is not a valid FHIR resource.
    """
    rtype = raw.get("resourceType") if isinstance(raw, dict) else None
    if isinstance(rtype, str):
        cls = model_class(rtype)
        try:
            return fastpath.validate(cls, raw)
        except fastpath.Undecided:
            pass
        except Exception:  # noqa: BLE001 -- a fast-path bug must cost speed, not the resource
            pass
    return parse_resource(raw)


@dataclass(frozen=True)
class Entry:
    resource: Any
    #: ``Bundle.entry.search.mode`` (match, include, outcome) or None.
    mode: str | None


def entries(body: Any) -> Iterator[Entry]:
    """The resources of a response or prefetch value: a Bundle's entries, or the resource itself.

    Entries without a resource object are passed over; a non-dict resource is
    yielded so the caller can count it as invalid.
    """
    if not isinstance(body, dict):
        return
    if body.get("resourceType") != "Bundle":
        yield Entry(body, None)
        return
    raw_entries = body.get("entry")
    if not isinstance(raw_entries, list):
        return
    for entry in raw_entries:
        if not isinstance(entry, dict) or entry.get("resource") is None:
            continue
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, dict) else None
        yield Entry(entry["resource"], mode if isinstance(mode, str) else None)


def next_link(bundle: Any) -> str | None:
    """The ``next`` page URL of a searchset Bundle, if any."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return None
    links = bundle.get("link")
    for link in links if isinstance(links, list) else ():  # JSON: anything may be there
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"].strip() or None
    return None


def truncated(bodies: list[dict]) -> bool:
    """True when a search says it matched more than the pages hold and has no next page.

    Some servers (Medplum among them) cut at ``_count`` without a next link but
    report the full ``total``.
    """
    if not bodies or bodies[0].get("resourceType") != "Bundle" or next_link(bodies[-1]):
        return False
    total = bodies[0].get("total")
    if not isinstance(total, int) or isinstance(total, bool):
        return False
    matches = sum(1 for body in bodies for e in entries(body) if e.mode in (None, "match"))
    return total > matches


def patient_id_of(raw: dict) -> str | None:
    """The id of the Patient a resource is about, from its reference; None when it does not say."""
    rtype = raw.get("resourceType")
    if rtype == "Patient":
        return raw.get("id") if isinstance(raw.get("id"), str) else None
    element = _PATIENT_ELEMENT.get(rtype)
    ref = raw.get(element) if element else None
    ref = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(ref, str):
        return None
    match = _PATIENT_REF.search(ref.strip())
    return match.group(1) if match else None
