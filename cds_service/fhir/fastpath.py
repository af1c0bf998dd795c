"""The same answer as fhir.resources validation, several times faster, for the common shapes of FHIR JSON.

fhir.resources (pydantic 2 plus fhir_core) runs Python code for every element of
a resource: a custom ``__init__``, a before-validator that walks all the model's
fields, an after-validator, and a wrapper per nested type -- about 15 us per
element, 150 us per typical resource, most of a hook call's time.

This module walks a resource's JSON once with tables built from the same model
classes (each field's alias, list or not, its primitive type or its element
model, the required and choice-of-type elements) and validates every primitive
value with a pydantic ``TypeAdapter`` of the field's own annotation, so dates,
decimals and base64 come out exactly as the models give them. The result is a
read-only :class:`FhirNode` tree with the models' attribute names (absent
elements read as ``None``), which is all the clinical reader uses.

It only ever *accepts*. Whenever the JSON is anything but plainly valid -- an
unknown or misspelt element, a value of the wrong kind, ``null``, a missing
required element, two values of one choice, a contained resource, an element
given by its Python name -- it gives up (:class:`Undecided`) and the caller
validates with fhir.resources as before, which then accepts or rejects. So the
service accepts and rejects exactly the resources it did; tests compare both
paths on valid, odd and broken resources.
"""

from __future__ import annotations

import threading
import typing
from dataclasses import dataclass
from typing import Any

from fhir_core.types import FhirBase, FhirElementOrResourceBase
from pydantic import TypeAdapter, ValidationError

#: The validators every fhir_core model has; a model with any other is always left to fhir.resources.
_KNOWN_MODEL_VALIDATORS = frozenset({"reject_null_complex_elements", "validate_after_model_construction"})


class Undecided(Exception):
    """The fast path cannot vouch for this JSON: validate it with fhir.resources."""


class FhirNode:
    """A validated FHIR element or resource: the attributes of its fhir.resources model, read-only.

    ``model()`` gives the fhir.resources model itself, built on demand from the same JSON
    (for the rare caller that needs more than attributes, e.g. ``model_dump``).
    """

    __slots__ = ("__dict__", "_json")
    #: Attribute names of the model (absent ones read as None, others raise AttributeError).
    _fields: frozenset[str] = frozenset()
    _resource_type: str = ""
    _model: type | None = None

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not set: an absent element of the model is None.
        if name in type(self)._fields:
            return None
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FhirNode is read-only")

    @classmethod
    def get_resource_type(cls) -> str:
        return cls._resource_type

    def model(self) -> Any:
        """The fhir.resources model of the same JSON."""
        return type(self)._model.model_validate(self._json)

    def model_dump(self, **kwargs: Any) -> dict:
        return self.model().model_dump(**kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {sorted(self.__dict__)}>"


_PRIMITIVE, _ELEMENT, _UNDECIDED = 0, 1, 2


@dataclass(eq=False)
class _Field:
    attr: str  # the model's attribute name
    kind: int
    many: bool = False
    #: A primitive's validator: the pydantic-core validator of a TypeAdapter of the field's annotation.
    check: Any = None
    table: "_Table | None" = None


@dataclass(eq=False)
class _Table:
    """What one model class accepts, as lookups."""

    node: type[FhirNode]
    #: JSON key (the field's alias) -> field; anything else is undecided.
    fields: dict[str, _Field]
    #: Attributes that must be present (pydantic-required, or required FHIR primitives).
    required: tuple[str, ...]
    #: Choice elements: (attributes of one [x] element, one required?).
    choices: tuple[tuple[frozenset[str], bool], ...]
    #: False: a model with validators of its own; always undecided.
    usable: bool


_tables: dict[type, _Table] = {}
_lock = threading.Lock()


def _element_type(annotation: Any) -> tuple[type | None, bool]:
    """(the FhirBase type in ``annotation``, is it a list); (None, False) for a primitive."""
    many = False
    stack = [annotation]
    found = None
    while stack:
        tp = stack.pop()
        if isinstance(tp, type) and issubclass(tp, FhirBase):
            found = tp
            continue
        origin = typing.get_origin(tp)
        if origin is list:
            many = True
        if origin is not None:
            stack.extend(typing.get_args(tp))
    return found, many


def _table(model: type) -> _Table:
    table = _tables.get(model)
    if table is None:
        with _lock:
            table = _tables.get(model) or _build(model)
    return table


def _build(model: type) -> _Table:
    """The table of ``model``; element tables are built the first time they are needed (models nest recursively)."""
    names = frozenset(model.model_fields)
    node = type(f"{model.__name__}Node", (FhirNode,), {"__slots__": (), "_fields": names, "_model": model,
                                                     "_resource_type": model.__resource_type__})
    decorators = model.__pydantic_decorators__
    usable = (set(decorators.model_validators) <= _KNOWN_MODEL_VALIDATORS and not decorators.field_validators
              and not decorators.validators and not decorators.root_validators and not decorators.computed_fields)
    fields: dict[str, _Field] = {}
    required = [name for name, info in model.model_fields.items() if info.is_required()]
    for name, info in model.model_fields.items():
        key = info.alias or name
        element, many = _element_type(info.annotation)
        if info.metadata or (info.alias and info.alias != name and info.alias in names):
            fields[key] = _Field(name, _UNDECIDED)
        elif element is None:
            # The core validator itself: TypeAdapter.validate_python only adds keyword handling.
            fields[key] = _Field(name, _PRIMITIVE, check=TypeAdapter(info.annotation).validator.validate_python)
        elif issubclass(element, FhirElementOrResourceBase):
            fields[key] = _Field(name, _UNDECIDED)  # a resource of any type (contained): left to fhir.resources
        else:
            fields[key] = _Field(name, _ELEMENT, many=many)
            fields[key].table = element  # resolved to a table on first use
    # The after-validator's lists: FHIR-required primitives, and [x] choices.
    required += [name for name, _ in model.get_required_fields(None)]
    choices = tuple((frozenset(group), bool(model.model_fields[group[0]].json_schema_extra.get("one_of_many_required")))
                    for group in model.get_one_of_many_fields(None).values())
    table = _Table(node, fields, tuple(dict.fromkeys(required)), choices, usable)
    _tables[model] = table
    return table


def _element_table(field: _Field) -> _Table:
    target = field.table
    if not isinstance(target, _Table):
        target = _table(target.get_model_klass())
        field.table = target
    return target


def _walk(table: _Table, data: dict) -> FhirNode:
    if not table.usable:
        raise Undecided
    values: dict[str, Any] = {}
    fields = table.fields
    for key, value in data.items():
        field = fields.get(key)
        if field is None or value is None:
            raise Undecided
        kind = field.kind
        if kind == _PRIMITIVE:
            try:
                values[field.attr] = field.check(value)
            except ValidationError:
                raise Undecided from None
        elif kind == _ELEMENT:
            sub = field.table
            if sub.__class__ is not _Table:
                sub = _element_table(field)
            if field.many:
                if type(value) is not list:
                    raise Undecided
                items = []
                for item in value:
                    if type(item) is not dict:
                        raise Undecided
                    items.append(_walk(sub, item))
                values[field.attr] = items
            else:
                if type(value) is not dict:
                    raise Undecided
                values[field.attr] = _walk(sub, value)
        else:
            raise Undecided
    for attr in table.required:
        if attr not in values:
            raise Undecided
    for group, must in table.choices:
        present = len(group.intersection(values))  # in C: most groups have no value here
        if present > 1 or (must and not present):
            raise Undecided
    node = object.__new__(table.node)
    node.__dict__.update(values)
    _set_json(node, data)
    return node


_set_json = FhirNode._json.__set__  # the slot, past the read-only __setattr__


def validate(model: type, raw: dict) -> FhirNode:
    """``raw`` (a resource of ``model``'s type, ``resourceType`` included) as a node.

    :raise Undecided: when fhir.resources must decide.
    """
    if raw.get("resourceType") != model.__resource_type__:
        raise Undecided
    body = {k: v for k, v in raw.items() if k != "resourceType"}
    try:
        node = _walk(_table(model), body)
    except RecursionError:
        raise Undecided from None
    _set_json(node, raw)
    return node


def prepare(model: type) -> None:
    """Build ``model``'s tables and those of every element type it can hold (at start-up, not in a request)."""
    seen: set[int] = set()
    stack = [_table(model)]
    while stack:
        table = stack.pop()
        if id(table) in seen:
            continue
        seen.add(id(table))
        for field in table.fields.values():
            if field.kind == _ELEMENT:
                stack.append(_element_table(field))
