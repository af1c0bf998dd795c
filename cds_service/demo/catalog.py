"""Demo patients: the catalog, their FHIR bundles, and the hook requests built from them.

``demo/catalog.yaml`` names each synthetic patient (title, story, the cards
expected per hook) and the reference date the bundles in ``demo/patients/``
were written against. A request is built from the bundle as an EHR would send
it: the draft orders (ServiceRequests with status ``draft``) in
``context.draftOrders``, and every prefetch key of the hook's services filled
by running its query over the bundle's other resources. ``request`` then moves
every date to today (see ``dates``).
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl

import yaml

from ..registry import PrefetchTemplate, ServiceDefinition
from .dates import days_since, shift_dates

HOOKS = ("order-select", "order-sign")
#: The clinician placing the demo orders (context.userId).
USER_ID = "Practitioner/demo-clinician-1"
#: Namespace of the fixed hookInstance of the committed request files (uuid5, so they are reproducible).
_HOOK_INSTANCE_NS = uuid.UUID("5f0c3c86-7d0e-4b8e-9a57-6f1f2d0f4a11")
#: Draft orders are ServiceRequests in the bundle with this status; they go to context.draftOrders.
_DRAFT_STATUS = "draft"


class DemoError(ValueError):
    """The demo catalog or a bundle is not usable; the message names the file and the field."""


@dataclass(frozen=True)
class DemoPatient:
    id: str
    title: str
    story: str
    #: Card kinds (``source.topic.code``) expected per hook, in response order.
    expected: Mapping[str, tuple[str, ...]]
    #: The order-select ``selections`` ("ServiceRequest/<id>").
    selections: tuple[str, ...]
    bundle: dict

    @property
    def resources(self) -> list[dict]:
        return [e["resource"] for e in self.bundle["entry"]]

    @property
    def draft_orders(self) -> list[dict]:
        return [r for r in self.resources if _is_draft(r)]

    @property
    def record(self) -> list[dict]:
        """What the EHR's FHIR server holds about the patient (the draft orders are not yet orders)."""
        return [r for r in self.resources if not _is_draft(r)]


def _is_draft(resource: dict) -> bool:
    return resource.get("resourceType") == "ServiceRequest" and resource.get("status") == _DRAFT_STATUS


@dataclass(frozen=True)
class DemoCatalog:
    reference_date: date
    patients: tuple[DemoPatient, ...]
    #: Per hook, the prefetch templates of the services for that hook (union by key).
    prefetch: Mapping[str, tuple[PrefetchTemplate, ...]]

    def get(self, patient_id: str) -> DemoPatient | None:
        return next((p for p in self.patients if p.id == patient_id), None)

    def reference_request(self, patient_id: str, hook: str) -> dict:
        """The request at the reference date, with its fixed hookInstance (the committed files).

        :raise KeyError: unknown patient or hook.
        """
        patient = self.get(patient_id)
        if patient is None or hook not in HOOKS:
            raise KeyError((patient_id, hook))
        return build_request(patient, hook, self.prefetch[hook], fixed_hook_instance(patient_id, hook))

    def request(self, patient_id: str, hook: str, now: datetime | None = None) -> dict:
        """The request as served: every date moved to ``now`` (default: today), a new hookInstance.

        :raise KeyError: unknown patient or hook.
        """
        body = shift_dates(self.reference_request(patient_id, hook), days_since(self.reference_date, now))
        body["hookInstance"] = str(uuid.uuid4())
        return body


def fixed_hook_instance(patient_id: str, hook: str) -> str:
    return str(uuid.uuid5(_HOOK_INSTANCE_NS, f"{patient_id}/{hook}"))


def build_request(patient: DemoPatient, hook: str, templates: Iterable[PrefetchTemplate], hook_instance: str) -> dict:
    """The CDS Hooks request for ``patient`` on ``hook`` at the reference date."""
    drafts = copy.deepcopy(patient.draft_orders)
    context: dict[str, Any] = {
        "userId": USER_ID,
        "patientId": patient.id,
        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in drafts]},
    }
    if hook == "order-select":
        context["selections"] = list(patient.selections)
    tokens = {"context.patientId": patient.id, "context.userId": USER_ID}
    prefetch = {t.key: run_query(_fill(t.query, tokens), patient.record) for t in templates}
    return {"hook": hook, "hookInstance": hook_instance, "context": context, "prefetch": prefetch}


def _fill(query: str, tokens: Mapping[str, str]) -> str:
    for name, value in tokens.items():
        query = query.replace("{{" + name + "}}", value)
    if "{{" in query:
        raise DemoError(f"prefetch query {query!r}: a token the demo cannot fill")
    return query


# --- the prefetch queries, run over a bundle ---------------------------------------
# Only what the hooks' templates use; anything else is an error, so a new template
# is noticed here instead of being silently answered with everything.

#: Elements read, in this order, as a resource's search ``date`` for ``_sort=date``.
_SORT_DATE = ("effectiveDateTime", "effectiveInstant", "issued", "authoredOn", "recordedDate", "onsetDateTime")


def run_query(query: str, resources: list[dict]) -> dict | None:
    """The answer a FHIR server holding ``resources`` gives to ``query`` (a read or a search).

    A read of a missing resource is None (the spec lets the client send null).
    """
    path, _, params = query.partition("?")
    rtype, _, rid = path.partition("/")
    if rid:
        return copy.deepcopy(next((r for r in resources if r["resourceType"] == rtype and r["id"] == rid), None))
    matches = [r for r in resources if r["resourceType"] == rtype]
    count = None
    sort = None
    for name, value in parse_qsl(params, keep_blank_values=True):
        if name == "patient":
            ref = value if value.startswith("Patient/") else f"Patient/{value}"
            matches = [r for r in matches if (r.get("subject") or r.get("patient") or {}).get("reference") == ref]
        elif name == "status":
            matches = [r for r in matches if r.get("status") in value.split(",")]
        elif name == "_count":
            count = int(value)
        elif name == "_sort" and value in ("date", "-date"):
            sort = value
        else:
            raise DemoError(f"prefetch query {query!r}: the demo does not evaluate {name}={value}")
    if sort:
        dated = sorted((r for r in matches if _sort_date(r)), key=_sort_date, reverse=sort.startswith("-"))
        matches = dated + [r for r in matches if not _sort_date(r)]
    total = len(matches)
    if count is not None:
        matches = matches[:count]
    return {"resourceType": "Bundle", "type": "searchset", "total": total,
            "entry": [{"resource": copy.deepcopy(r), "search": {"mode": "match"}} for r in matches]}


def _sort_date(resource: dict) -> str:
    for name in _SORT_DATE:
        if resource.get(name):
            return resource[name]
    period = resource.get("effectivePeriod") or {}
    return period.get("start", "")


# --- loading ------------------------------------------------------------------


def prefetch_by_hook(definitions: Iterable[ServiceDefinition]) -> dict[str, tuple[PrefetchTemplate, ...]]:
    """Per hook, every prefetch key of its services (two services asking one key differently is an error)."""
    out: dict[str, dict[str, PrefetchTemplate]] = {hook: {} for hook in HOOKS}
    for service in definitions:
        for template in service.prefetch:
            seen = out.setdefault(service.hook, {}).get(template.key)
            if seen is not None and seen.query != template.query:
                raise DemoError(f"prefetch key {template.key!r} has two queries for {service.hook}")
            out[service.hook][template.key] = template
    return {hook: tuple(keys.values()) for hook, keys in out.items()}


def load_catalog(demo_dir: Path, definitions: Iterable[ServiceDefinition]) -> DemoCatalog:
    """Read ``demo_dir/catalog.yaml`` and each patient's ``demo_dir/patients/<id>.json``.

    :raise DemoError: a missing file, a field missing or of the wrong type, a bundle
        that is not a transaction of PUTs with fixed ids, a selection that is not a draft.
    """
    path = demo_dir / "catalog.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DemoError(f"{path}: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("patients"), list):
        raise DemoError(f"{path}: expected referenceDate and a list of patients")
    reference = raw.get("referenceDate")
    if isinstance(reference, str):
        try:
            reference = date.fromisoformat(reference)
        except ValueError:
            raise DemoError(f"{path}: referenceDate {reference!r} is not YYYY-MM-DD") from None
    if not isinstance(reference, date) or isinstance(reference, datetime):
        raise DemoError(f"{path}: referenceDate must be a date (YYYY-MM-DD)")
    patients = tuple(_patient(path, i, entry, demo_dir / "patients") for i, entry in enumerate(raw["patients"]))
    ids = [p.id for p in patients]
    if len(set(ids)) != len(ids):
        raise DemoError(f"{path}: a patient id is listed twice")
    return DemoCatalog(reference, patients, MappingProxyType(prefetch_by_hook(definitions)))


def _patient(path: Path, index: int, entry: Any, bundles_dir: Path) -> DemoPatient:
    where = f"{path}: patients[{index}]"
    if not isinstance(entry, dict):
        raise DemoError(f"{where}: expected a mapping")
    for name in ("id", "title", "story"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise DemoError(f"{where}.{name}: a non-empty string is required")
    expected = entry.get("expected")
    if not isinstance(expected, dict) or set(expected) != set(HOOKS):
        raise DemoError(f"{where}.expected: one list of card kinds per hook ({', '.join(HOOKS)})")
    for hook, kinds in expected.items():
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise DemoError(f"{where}.expected.{hook}: a list of card kinds ([] for none)")
    bundle = _bundle(bundles_dir / f"{entry['id']}.json", entry["id"])
    drafts = [f"ServiceRequest/{e['resource']['id']}" for e in bundle["entry"] if _is_draft(e["resource"])]
    if not drafts:
        raise DemoError(f"{where}: the bundle has no draft ServiceRequest (status draft) to order")
    selections = entry.get("selections", drafts[:1])
    if not isinstance(selections, list) or not selections or not set(selections) <= set(drafts):
        raise DemoError(f"{where}.selections: references of draft orders in the bundle ({', '.join(drafts)})")
    return DemoPatient(
        id=entry["id"], title=entry["title"].strip(), story=" ".join(entry["story"].split()),
        expected=MappingProxyType({h: tuple(expected[h]) for h in HOOKS}),
        selections=tuple(selections), bundle=bundle,
    )


def _bundle(path: Path, patient_id: str) -> dict:
    try:
        bundle = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DemoError(f"{path}: {exc}") from None
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
        raise DemoError(f"{path}: expected a transaction Bundle")
    for i, e in enumerate(bundle.get("entry", [])):
        resource, request = e.get("resource", {}), e.get("request", {})
        url = f"{resource.get('resourceType')}/{resource.get('id')}"
        if request.get("method") != "PUT" or request.get("url") != url or not resource.get("id"):
            raise DemoError(f"{path}: entry[{i}] must be PUT {url} with the resource's fixed id")
    if not any((e["resource"].get("resourceType"), e["resource"].get("id")) == ("Patient", patient_id)
               for e in bundle.get("entry", [])):
        raise DemoError(f"{path}: no Patient/{patient_id} in the bundle")
    return bundle
