"""CDS service definitions, loaded once from ``hooks/*.yaml``.

Each file declares one service (id, hook, texts, triggers, prefetch); route code
never defines a service. A wrong file fails start-up with the file's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import yaml
from marshmallow import Schema, ValidationError, fields, validate

from .errors import ServiceNotFound

#: Hooks this engine knows how to validate and answer, with the version of each hook's published
#: definition (cds-hooks.org hook pages: order-select and order-sign are hookVersion 1.0).
HOOK_VERSIONS = MappingProxyType({"order-select": "1.0", "order-sign": "1.0"})
SUPPORTED_HOOKS = tuple(HOOK_VERSIONS)
#: The CDS Hooks specification the service implements, said in discovery as CDS Hooks 3.0 recommends
#: (`version`, semantic versioning); 2.0.1 is the normative target and 2.0 clients ignore the field.
SPEC_VERSION = "2.0.1"


class DefinitionError(ValueError):
    """A file in ``hooks/`` is not a valid service definition."""


@dataclass(frozen=True)
class PrefetchTemplate:
    key: str
    query: str
    #: Without this key's data the service cannot advise: 412 if it cannot be fetched.
    essential: bool


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    usage_requirements: str | None
    order_kinds: tuple[str, ...]
    prefetch: tuple[PrefetchTemplate, ...]

    def discovery(self) -> dict:
        """This service as the spec's discovery entry."""
        entry = {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": {p.key: p.query for p in self.prefetch},
            "version": SPEC_VERSION,
            "hookVersion": HOOK_VERSIONS[self.hook],
        }
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        return entry


class _PrefetchSchema(Schema):
    query = fields.String(required=True, validate=validate.Length(min=1))
    essential = fields.Boolean(load_default=False)


class _TriggersSchema(Schema):
    order_kinds = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class _DefinitionSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$"))
    hook = fields.String(required=True, validate=validate.OneOf(SUPPORTED_HOOKS))
    title = fields.String(required=True)
    description = fields.String(required=True)
    usageRequirements = fields.String(load_default=None)
    triggers = fields.Nested(_TriggersSchema, required=True)
    prefetch = fields.Dict(keys=fields.String(), values=fields.Nested(_PrefetchSchema), load_default=dict)


def load_definitions(hooks_dir: Path) -> tuple[ServiceDefinition, ...]:
    """Read every ``*.yaml`` in ``hooks_dir``, sorted by file name.

    :raise DefinitionError: on unreadable YAML, a schema error or a duplicate id.
    """
    services: list[ServiceDefinition] = []
    seen: dict[str, Path] = {}
    for path in sorted(Path(hooks_dir).glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text())
            data = _DefinitionSchema().load(raw or {})
        except (yaml.YAMLError, ValidationError) as exc:
            detail = exc.messages if isinstance(exc, ValidationError) else exc
            raise DefinitionError(f"{path.name}: {detail}") from None
        if data["id"] in seen:
            raise DefinitionError(f"{path.name}: service id {data['id']!r} already defined in {seen[data['id']].name}")
        seen[data["id"]] = path
        services.append(
            ServiceDefinition(
                id=data["id"],
                hook=data["hook"],
                title=data["title"],
                description=" ".join(data["description"].split()),
                usage_requirements=" ".join(data["usageRequirements"].split()) if data["usageRequirements"] else None,
                order_kinds=tuple(data["triggers"]["order_kinds"]),
                prefetch=tuple(
                    PrefetchTemplate(key=k, query=v["query"], essential=v["essential"])
                    for k, v in data["prefetch"].items()
                ),
            )
        )
    if not services:
        raise DefinitionError(f"no service definitions (*.yaml) in {hooks_dir}")
    return tuple(services)


class ServiceRegistry:
    """The services this process serves, by id."""

    def __init__(self, definitions: tuple[ServiceDefinition, ...]):
        self._by_id: Mapping[str, ServiceDefinition] = MappingProxyType({d.id: d for d in definitions})

    def __iter__(self):
        return iter(self._by_id.values())

    def get(self, service_id: str) -> ServiceDefinition:
        """:raise ServiceNotFound: for an id no definition declares."""
        try:
            return self._by_id[service_id]
        except KeyError:
            raise ServiceNotFound(service_id) from None

    def discovery(self) -> dict:
        return {"services": [d.discovery() for d in self]}
