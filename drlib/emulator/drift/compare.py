"""Property differences between a resource's expected and actual properties.

CloudFormation compares only the properties the template sets ("Only resource properties
explicitly defined in the stack template are checked for drift", API reference,
``StackResourceDrift``), and reports each difference as a ``PropertyDifference``: a JSON-pointer
``PropertyPath`` (``/DelaySeconds``, ``/RedrivePolicy/maxReceiveCount``,
``/SecurityGroupIngress/2``), the expected and actual value as text, and a ``DifferenceType``:

- ``NOT_EQUAL``: the value differs;
- ``REMOVE``: the property (or an element of a list) is gone from the resource;
- ``ADD``: an element was added to a list.

Lists whose order does not matter (the registry schema's ``insertionOrder: false``, or a list of
unique items with no declared order) are compared as sets: an expected element with no equal
actual element is ``REMOVE`` at its expected index, an actual element with no expected one is
``ADD`` at its actual index. Other lists are compared element by element. An element matches when
every property it sets is equal (an actual element may carry more, e.g. defaults). Scalars are
compared as CloudFormation's text ("5432" equals 5432, "true" equals true); a JSON document given
as a string equals the same document given as an object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

NULL_TEXT = "null"
"""What stands for the missing side of an ``ADD`` or ``REMOVE`` (both values are required)."""


@dataclass(frozen=True)
class Difference:
    """One ``PropertyDifference``."""

    path: str
    expected: Any
    actual: Any
    kind: str  # NOT_EQUAL | ADD | REMOVE

    def to_api(self) -> dict[str, str]:
        return {"PropertyPath": self.path, "ExpectedValue": shown(self.expected),
                "ActualValue": shown(self.actual), "DifferenceType": self.kind}


def shown(value: Any) -> str:
    """A value as ``ExpectedValue``/``ActualValue`` text: scalars as CloudFormation writes them,
    objects and lists as compact JSON."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return scalar_text(value)


def scalar_text(value: Any) -> str:
    """A scalar as CloudFormation's text: booleans lower-case, integral numbers without a
    fraction."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text.lower() if text.lower() in ("true", "false") else text


class Schema:
    """A node of a resource type's registry schema, with ``$ref`` resolved against the root."""

    def __init__(self, root: dict[str, Any] | None, node: dict[str, Any] | None = None) -> None:
        self.root = root or {}
        self.node = node if node is not None else self.root

    def _resolved(self) -> dict[str, Any]:
        node = self.node
        for _ in range(20):  # definitions may refer to definitions
            ref = node.get("$ref") if isinstance(node, dict) else None
            if not (isinstance(ref, str) and ref.startswith("#/definitions/")):
                break
            node = (self.root.get("definitions") or {}).get(ref.rsplit("/", 1)[1]) or {}
        return node if isinstance(node, dict) else {}

    def child(self, key: str) -> Schema:
        node = self._resolved()
        properties = node.get("properties") or {}
        if key in properties:
            return Schema(self.root, properties[key])
        for pattern_node in (node.get("patternProperties") or {}).values():
            return Schema(self.root, pattern_node)
        return Schema(self.root, {})

    def items(self) -> Schema:
        return Schema(self.root, self._resolved().get("items") or {})

    def types(self) -> set[str]:
        declared = self._resolved().get("type", self.node.get("type"))
        if isinstance(declared, list):
            return {str(t) for t in declared}
        return {str(declared)} if declared else set()

    def unordered(self) -> bool:
        """Whether a list's order is irrelevant (``insertionOrder: false``, or unique items with
        no declared order)."""
        resolved = self._resolved()
        order = self.node.get("insertionOrder", resolved.get("insertionOrder"))
        if order is not None:
            return order is False or str(order).lower() == "false"
        return bool(self.node.get("uniqueItems", resolved.get("uniqueItems")))


def coerce(value: Any, schema: Schema) -> Any:
    """``value`` with template strings turned into the schema's integers, numbers and booleans
    (how CloudFormation writes ``ExpectedProperties``)."""
    if isinstance(value, dict):
        return {k: coerce(v, schema.child(k)) for k, v in value.items()}
    if isinstance(value, list):
        items = schema.items()
        return [coerce(v, items) for v in value]
    types = schema.types()
    if isinstance(value, str) and "string" not in types:
        text = value.strip()
        if "boolean" in types and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if "integer" in types:
            try:
                return int(text)
            except ValueError:
                return value
        if "number" in types:
            try:
                number = float(text)
            except ValueError:
                return value
            return int(number) if number.is_integer() else number
    return value


def _as_document(value: Any) -> Any:
    """A JSON document written as a string, parsed (policies are often given either way)."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def differences(expected: Any, actual: Any, schema: Schema, path: str = "",
                case_insensitive: frozenset[str] = frozenset()) -> list[Difference]:
    """Every difference of ``actual`` from ``expected`` below ``path``."""
    if isinstance(expected, dict | list) != isinstance(actual, dict | list):
        expected, actual = _as_document(expected), _as_document(actual)
    if isinstance(expected, dict) and isinstance(actual, dict):
        found: list[Difference] = []
        for key, value in expected.items():
            child_path = f"{path}/{_escape(key)}"
            if actual.get(key) is None:
                if value is not None:
                    found.append(Difference(child_path, value, None, "REMOVE"))
                continue
            found += differences(value, actual[key], schema.child(key), child_path,
                                 case_insensitive)
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if schema.unordered():
            return _set_differences(expected, actual, schema.items(), path, case_insensitive)
        return _list_differences(expected, actual, schema.items(), path, case_insensitive)
    if _scalars_equal(expected, actual, path, case_insensitive):
        return []
    return [Difference(path, expected, actual, "NOT_EQUAL")]


def _scalars_equal(expected: Any, actual: Any, path: str,
                   case_insensitive: frozenset[str]) -> bool:
    if isinstance(expected, dict | list) or isinstance(actual, dict | list):
        return bool(_as_document(expected) == _as_document(actual))
    left, right = scalar_text(expected), scalar_text(actual)
    if path.split("/")[1:2] and path.split("/")[1] in case_insensitive:
        return left.lower() == right.lower()
    return left == right


def _list_differences(expected: list[Any], actual: list[Any], items: Schema, path: str,
                      case_insensitive: frozenset[str]) -> list[Difference]:
    found: list[Difference] = []
    for index, value in enumerate(expected):
        child_path = f"{path}/{index}"
        if index >= len(actual):
            found.append(Difference(child_path, value, None, "REMOVE"))
        else:
            found += differences(value, actual[index], items, child_path, case_insensitive)
    for index in range(len(expected), len(actual)):
        found.append(Difference(f"{path}/{index}", None, actual[index], "ADD"))
    return found


def _set_differences(expected: list[Any], actual: list[Any], items: Schema, path: str,
                     case_insensitive: frozenset[str]) -> list[Difference]:
    unmatched = list(range(len(actual)))
    found: list[Difference] = []
    for index, value in enumerate(expected):
        match = next((j for j in unmatched
                      if not differences(value, actual[j], items, path, case_insensitive)), None)
        if match is None:
            found.append(Difference(f"{path}/{index}", value, None, "REMOVE"))
        else:
            unmatched.remove(match)
    found += [Difference(f"{path}/{j}", None, actual[j], "ADD") for j in unmatched]
    return found


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def compare_properties(expected: dict[str, Any], actual: dict[str, Any], schema: Schema,
                       case_insensitive: frozenset[str] = frozenset()
                       ) -> tuple[dict[str, Any], dict[str, Any], list[Difference]]:
    """(expected, actual, differences) over the properties both sides can speak of.

    A top-level property the reader does not return at all is one the emulator cannot read: it
    is left out of the comparison (and of both property documents). One it returns as ``None``
    is absent from the resource: ``REMOVE``.
    """
    compared = [key for key in expected if key in actual]
    shown_expected = {key: coerce(expected[key], schema.child(key)) for key in compared}
    shown_actual = {key: coerce(actual[key], schema.child(key)) for key in compared
                    if actual[key] is not None}
    found = differences({k: expected[k] for k in compared}, {k: actual[k] for k in compared},
                        schema, "", case_insensitive)
    return shown_expected, shown_actual, found
