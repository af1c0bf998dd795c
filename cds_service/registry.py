"""CDS service definitions, loaded once from ``hooks/*.yaml``.

Each file declares one service (id, hook, handler, texts, triggers, prefetch); route code
never defines a service. The prefetch templates several services share are defined once, in
``hooks/_prefetch.yaml``, and named by each service (``prefetch: spine-record``). A file whose
name starts with ``_`` is not a service. A wrong file (an unknown hook or handler, a handler
that does not answer the service's hook, an unknown prefetch set) fails start-up with its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml
from marshmallow import Schema, ValidationError, fields, validate

from .errors import ServiceNotFound
from .handlers import Handler, HandlerError, resolve_handler
from .protocol import HOOKS
from .record import RECORD_TYPES

#: Hooks this engine knows how to validate and answer, with the version of each hook's published
#: definition (cds-hooks.org hook pages), from the hook table of ``protocol`` (each hook's context schema).
HOOK_VERSIONS = MappingProxyType({name: hook.version for name, hook in HOOKS.items()})
SUPPORTED_HOOKS = tuple(HOOK_VERSIONS)
#: The CDS Hooks specification the service implements, said in discovery as CDS Hooks 3.0 recommends
#: (`version`, semantic versioning); 2.0.1 is the normative target and 2.0 clients ignore the field.
SPEC_VERSION = "2.0.1"
#: The file of shared prefetch sets, beside the service files.
PREFETCH_SETS_FILE = "_prefetch.yaml"


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
    #: What answers a call of this service (``handler:``, resolved at start-up; ``handlers.py``).
    handler: Handler = field(compare=False, repr=False, default=None)  # type: ignore[assignment]
    handler_name: str = ""

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


#: One prefetch set: key -> template (query, essential), in the order discovery lists them.
_PREFETCH_SET = fields.Dict(keys=fields.String(), values=fields.Nested(_PrefetchSchema))


class _TriggersSchema(Schema):
    order_kinds = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class _DefinitionSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$"))
    hook = fields.String(required=True, validate=validate.OneOf(SUPPORTED_HOOKS))
    #: ``package.module:name`` of the service's handler.
    handler = fields.String(required=True, validate=validate.Length(min=1))
    title = fields.String(required=True)
    description = fields.String(required=True)
    usageRequirements = fields.String(load_default=None)
    #: Which draft orders the service reasons about (the order hooks' handler requires it).
    triggers = fields.Nested(_TriggersSchema, load_default=None)
    #: The name of a set in _prefetch.yaml, or the templates themselves.
    prefetch = fields.Raw(load_default=dict)


def _prefetch_sets(hooks_dir: Path) -> dict[str, dict[str, dict]]:
    """The shared prefetch sets of ``_prefetch.yaml`` (none when the folder has no such file)."""
    path = hooks_dir / PREFETCH_SETS_FILE
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return fields.Dict(keys=fields.String(), values=_PREFETCH_SET).deserialize(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        detail = exc.messages if isinstance(exc, ValidationError) else exc
        raise DefinitionError(f"{path.name}: {detail}") from None


def _prefetch(value: Any, sets: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """:raise ValidationError: for an unknown set name or invalid templates."""
    if isinstance(value, str):
        if value not in sets:
            raise ValidationError({"prefetch": [f"no prefetch set {value!r} in {PREFETCH_SETS_FILE}"]})
        return sets[value]
    try:
        return _PREFETCH_SET.deserialize(value)
    except ValidationError as exc:
        raise ValidationError({"prefetch": exc.messages}) from None


def _usage(text: str | None) -> str | None:
    """The service's usageRequirements on one line, ``{record_types}`` filled from ``RECORD_TYPES``
    (a type the record reads is named to the EHR without editing every service file)."""
    if not text:
        return None
    types = [t for t in RECORD_TYPES if t != "Patient"]
    words = ", ".join(types[:-1]) + " and " + types[-1] if len(types) > 1 else "".join(types)
    return " ".join(text.replace("{record_types}", words).split())


def _handler(name: str, hook: str, path: Path) -> Handler:
    """The handler named in ``path``, checked to answer ``hook``."""
    try:
        handler = resolve_handler(name)
    except HandlerError as exc:
        raise DefinitionError(f"{path.name}: handler {name!r}: {exc}") from None
    if hook not in handler.hooks:
        raise DefinitionError(f"{path.name}: handler {name!r} answers {', '.join(handler.hooks) or 'no hook'}, "
                              f"not hook {hook!r}")
    return handler


def load_definitions(hooks_dir: Path) -> tuple[ServiceDefinition, ...]:
    """Read every ``*.yaml`` in ``hooks_dir`` but ``_*.yaml``, sorted by file name, and resolve each handler.

    :raise DefinitionError: on unreadable YAML, a schema error, an unknown prefetch set or handler,
        a handler that refuses the service, or a duplicate id.
    """
    hooks_dir = Path(hooks_dir)
    sets = _prefetch_sets(hooks_dir)
    services: list[ServiceDefinition] = []
    seen: dict[str, Path] = {}
    for path in sorted(p for p in hooks_dir.glob("*.yaml") if not p.name.startswith("_")):
        try:
            raw = yaml.safe_load(path.read_text())
            data = _DefinitionSchema().load(raw or {})
            prefetch = _prefetch(data["prefetch"], sets)
        except (yaml.YAMLError, ValidationError) as exc:
            detail = exc.messages if isinstance(exc, ValidationError) else exc
            raise DefinitionError(f"{path.name}: {detail}") from None
        if data["id"] in seen:
            raise DefinitionError(f"{path.name}: service id {data['id']!r} already defined in {seen[data['id']].name}")
        seen[data["id"]] = path
        handler = _handler(data["handler"], data["hook"], path)
        definition = ServiceDefinition(
            id=data["id"],
            hook=data["hook"],
            title=data["title"],
            description=" ".join(data["description"].split()),
            usage_requirements=_usage(data["usageRequirements"]),
            order_kinds=tuple(data["triggers"]["order_kinds"]) if data["triggers"] else (),
            prefetch=tuple(
                PrefetchTemplate(key=k, query=v["query"], essential=v["essential"]) for k, v in prefetch.items()
            ),
            handler=handler,
            handler_name=data["handler"],
        )
        try:
            handler.check(definition)
        except ValueError as exc:
            raise DefinitionError(f"{path.name}: {exc}") from None
        services.append(definition)
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
