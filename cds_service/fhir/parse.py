"""FHIR JSON helpers: the resources of a Bundle, its paging, and full R4B validation.

The record is read by :mod:`.reader` (one typed Struct per resource, only the
elements the reader reads). :func:`parse_resource` is the full ``fhir.resources``
R4B validation of a whole resource, for FHIR the service and its demo emit and
for tests; it is not on the path of a hook call. Validation errors are never
formatted: pydantic puts the offending input values, i.e. patient data, in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from .reader import InvalidResource

__all__ = ["Entry", "InvalidResource", "entries", "model_class", "next_link", "parse_resource", "truncated"]

_model_classes: dict[str, type] = {}


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
