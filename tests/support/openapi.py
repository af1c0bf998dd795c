"""Check live responses against openapi.yaml."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"


@lru_cache(maxsize=1)
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def _template_regex(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$")


def operation(path: str, method: str) -> dict:
    """The openapi operation for a concrete path and method.

    :raise AssertionError: when the spec does not describe it.
    """
    matches = [t for t in spec()["paths"] if _template_regex(t).match(path)]
    # Prefer the literal template over a parameterised one (/cds-services vs /{id}).
    matches.sort(key=lambda t: t.count("{"))
    assert matches, f"{path} is not in openapi.yaml"
    op = spec()["paths"][matches[0]].get(method.lower())
    assert op is not None, f"{method} {matches[0]} is not in openapi.yaml"
    return op


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = _lookup(node["$ref"])
    return node


def _lookup(ref: str) -> dict:
    node = spec()
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def validate_response(method: str, path: str, status: int, body, content_type: str) -> None:
    """Assert the response is declared for this operation and its body fits the schema.

    A method the path does not offer must get 405 with the common Error body.
    """
    try:
        op = operation(path, method)
    except AssertionError:
        if status != 405:
            raise
        op = {"responses": {"405": {"$ref": "#/components/responses/Error"}}}
    responses = op["responses"]
    assert str(status) in responses, f"{method} {path} -> {status} is not declared in openapi.yaml"
    response = _resolve(responses[str(status)])
    content = response.get("content")
    if not content:
        return
    media = content_type.split(";")[0].strip()
    assert media in content, f"{media} not declared for {method} {path} {status}"
    errors = _errors(content[media]["schema"], body)
    assert not errors, f"{method} {path} {status}: " + "; ".join(errors[:5])


def request_errors(method: str, path: str, body, media: str = "application/json") -> list[str]:
    """What openapi.yaml finds wrong with ``body`` as this operation's request body (empty: valid)."""
    return _errors(operation(path, method)["requestBody"]["content"][media]["schema"], body)


def _errors(schema: dict, instance) -> list[str]:
    registry = Registry().with_resource("urn:openapi", Resource(spec(), specification=DRAFT202012))
    wrapped = {"$ref": "urn:openapi#" + schema["$ref"][1:]} if "$ref" in schema else schema
    validator = jsonschema.Draft202012Validator(
        wrapped, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]
