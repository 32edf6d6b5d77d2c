"""A stack resource's expected properties: its template's ``Properties``, resolved with the
stack's parameters, conditions and the other resources' current ids and attributes.

What CloudFormation never compares is left out (AWS CloudFormation User Guide, "Detect unmanaged
configuration changes to stacks and resources with drift detection", considerations):

- write-only properties (the registry schema's ``writeOnlyProperties``: passwords, secret
  strings, restore options), which services never return;
- KMS key ids ("CloudFormation does not perform drift detection on the KMSKeyId property of any
  resources", since a key has several names): every property named like ``KmsKeyId``,
  ``KMSKeyId``, ``KmsKeyArn``, ``KMSMasterKeyID``;
- properties given by a dynamic reference (``{{resolve:...}}``) or a ``NoEcho`` parameter: their
  resolved values are secrets and are never written into ``ExpectedProperties``.
"""

from __future__ import annotations

import json
from typing import Any

from drlib.emulator.cfn_schema import resource_schema

DYNAMIC = "{{resolve:"


def is_kms_key_id(name: str) -> bool:
    """Whether a property names a KMS key (CloudFormation skips these in drift detection)."""
    lower = name.lower()
    return "kms" in lower and lower.endswith(("keyid", "keyarn"))


class _ResolvedOnly:
    """The stack's resource map, read-only: a reference to a resource the stack does not hold
    resolves to nothing instead of creating it (moto's map creates missing resources lazily)."""

    def __init__(self, resources_map: Any) -> None:
        self._map = resources_map

    def __getitem__(self, key: str) -> Any:
        parsed = self._map._parsed_resources
        if key in parsed:
            return parsed[key]
        if key in self._map._resource_json_map:
            return None
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __getattr__(self, name: str) -> Any:
        return getattr(self._map, name)


def _no_echo_parameters(template: dict[str, Any]) -> set[str]:
    return {name for name, declaration in (template.get("Parameters") or {}).items()
            if isinstance(declaration, dict)
            and str(declaration.get("NoEcho", False)).lower() == "true"}


def _mentions(raw: Any, names: set[str]) -> bool:
    text = json.dumps(raw, default=str)
    return any(f'"Ref": "{name}"' in text or "${" + name + "}" in text for name in names)


def _write_only_paths(resource_type: str) -> list[list[str]]:
    schema = resource_schema(resource_type) or {}
    paths = []
    for pointer in schema.get("writeOnlyProperties") or []:
        parts = str(pointer).split("/")
        if parts[:2] == ["", "properties"] and len(parts) > 2:
            paths.append(parts[2:])
    return paths


def _drop_path(value: Any, parts: list[str]) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if head == "*" and isinstance(value, list):
        for item in value:
            _drop_path(item, rest)
    elif isinstance(value, dict) and head in value:
        if rest:
            _drop_path(value[head], rest)
        else:
            value.pop(head, None)


def _drop_kms_key_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_kms_key_ids(v) for k, v in value.items() if not is_kms_key_id(str(k))}
    if isinstance(value, list):
        return [_drop_kms_key_ids(v) for v in value]
    return value


def skipped_property(name: str, raw: Any, no_echo: set[str]) -> bool:
    """Whether a top-level template property is never compared (see the module docstring)."""
    return is_kms_key_id(name) or DYNAMIC in json.dumps(raw, default=str) or _mentions(
        raw, no_echo)


def expected_properties(stack: Any, logical_id: str) -> dict[str, Any]:
    """The properties ``logical_id`` of ``stack`` (a moto ``Stack``) is expected to have."""
    from moto.cloudformation.parsing import clean_json

    resources_map = stack.resource_map
    resource_json = resources_map._resource_json_map[logical_id]
    raw = resource_json.get("Properties") or {}
    resource_type = str(resource_json.get("Type", ""))
    no_echo = _no_echo_parameters(stack.template_dict or {})
    write_only = _write_only_paths(resource_type)
    kept = {name: value for name, value in raw.items()
            if not skipped_property(name, value, no_echo)
            and [name] not in write_only}
    read_only: Any = _ResolvedOnly(resources_map)
    resolved = clean_json(kept, read_only) or {}
    for parts in write_only:
        if len(parts) > 1:
            _drop_path(resolved, parts)
    cleaned: dict[str, Any] = _drop_kms_key_ids(resolved)
    return {k: _plain(v) for k, v in cleaned.items() if v is not None}


def _plain(value: Any) -> Any:
    """Resolved values as JSON types (a Ref may resolve to a model object or a number)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value if v is not None]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    name = getattr(value, "physical_resource_id", None) or getattr(value, "name", None)
    return str(name) if name is not None else str(value)

