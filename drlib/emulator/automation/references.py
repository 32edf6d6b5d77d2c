"""``{{ }}`` references, output selectors and output types, as SSM Automation resolves them.

- A value that is exactly one reference (``'{{ Members }}'``) takes the referenced value with its
  type (a Boolean parameter stays a boolean, a MapList output stays a list of maps); a reference
  inside a longer string is replaced by the value's text.
- References name a parameter, a step output (``step.Output``) or an automation variable
  (``automation:EXECUTION_ID``, ``global:REGION``, ...).
- Selectors are the JSONPath subset Automation documents use: ``$``, ``.Name``, ``['Name']``,
  ``[n]`` (a negative index counts from the end) and ``[*]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

REFERENCE = re.compile(r"\{\{\s*([A-Za-z0-9_:.\-]+)\s*\}\}")
WHOLE_REFERENCE = re.compile(r"^\s*\{\{\s*([A-Za-z0-9_:.\-]+)\s*\}\}\s*$")

AUTOMATION_VARIABLES = frozenset({
    "automation:EXECUTION_ID", "automation:DOCUMENT_NAME", "automation:DOCUMENT_VERSION",
    "global:ACCOUNT_ID", "global:REGION", "global:AWS_PARTITION", "global:DATE",
    "global:DATE_TIME", "global:DATE_TIME_ISO", "global:AWS_URL_SUFFIX",
})
"""The system variables a runbook may reference."""

OUTPUT_TYPES = frozenset({"String", "Integer", "Boolean", "StringList", "StringMap", "MapList"})


class UnresolvedReference(ValueError):
    """A reference or selector that cannot be resolved (the message says which)."""


def references_in(value: Any) -> Iterator[str]:
    """Every reference name in a (nested) input value."""
    if isinstance(value, str):
        yield from (m.group(1) for m in REFERENCE.finditer(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from references_in(key)
            yield from references_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from references_in(item)


def text_of(value: Any) -> str:
    """How a value reads when substituted into a longer string (and in step Inputs)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=json_default)
    return str(value)


def resolve(value: Any, lookup: Callable[[str], Any]) -> Any:
    """``value`` with every reference replaced through ``lookup(name)``."""
    if isinstance(value, str):
        whole = WHOLE_REFERENCE.match(value)
        if whole:
            return lookup(whole.group(1))
        return REFERENCE.sub(lambda m: text_of(lookup(m.group(1))), value)
    if isinstance(value, dict):
        return {resolve(k, lookup): resolve(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(item, lookup) for item in value]
    return value


def json_default(value: Any) -> Any:
    """JSON encoding of what boto3 returns besides plain JSON (timestamps, bytes)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return str(value)


def plain(value: Any) -> Any:
    """A boto3 response as plain JSON values (timestamps as ISO 8601 text)."""
    return json.loads(json.dumps(value, default=json_default))


_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[\s*(-?\d+|\*)\s*\]|\[\s*'([^']*)'\s*\]")


def select(document: Any, selector: str) -> Any:
    """The value ``selector`` points at in ``document``; raises when nothing is there."""
    selector = selector.strip()
    if not selector.startswith("$"):
        raise UnresolvedReference(f"selector {selector!r} does not start with $")
    position, current, spread = 1, [document], False
    while position < len(selector):
        match = _TOKEN.match(selector, position)
        if match is None:
            raise UnresolvedReference(f"selector {selector!r} is not a supported JSONPath "
                                  f"(at {selector[position:]!r})")
        position = match.end()
        key, index, quoted = match.group(1), match.group(2), match.group(3)
        following: list[Any] = []
        for item in current:
            following.extend(_step_into(item, key if key is not None else quoted, index))
        if index == "*":
            spread = True
        current = following
    if not current:
        raise UnresolvedReference(f"selector {selector} matched nothing in the response")
    return current if spread else current[0]


def _step_into(item: Any, key: str | None, index: str | None) -> list[Any]:
    if key is not None:
        return [item[key]] if isinstance(item, dict) and key in item else []
    if not isinstance(item, list):
        return []
    if index == "*":
        return list(item)
    position = int(index or 0)
    return [item[position]] if -len(item) <= position < len(item) else []


def typed_output(value: Any, output_type: str, name: str) -> Any:
    """``value`` checked and converted to the declared output type, as Automation does."""
    try:
        if output_type == "String":
            if isinstance(value, (dict, list)):
                raise TypeError(f"a {type(value).__name__}")
            return text_of(value)
        if output_type == "Integer":
            if isinstance(value, bool):
                raise TypeError("a boolean")
            return int(value)
        if output_type == "Boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise TypeError(repr(value))
        if output_type == "StringList":
            if not isinstance(value, list):
                raise TypeError(f"a {type(value).__name__}")
            return [text_of(v) for v in value]
        if output_type == "StringMap":
            if not isinstance(value, dict):
                raise TypeError(f"a {type(value).__name__}")
            return value
        if output_type == "MapList":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise TypeError("not a list of maps")
            return value
    except (TypeError, ValueError) as exc:
        raise UnresolvedReference(f"output {name} is not of type {output_type}: {exc}") from exc
    raise UnresolvedReference(f"output {name} has unknown type {output_type}")


def api_strings(value: Any) -> list[str]:
    """An output or parameter value as the list of strings the SSM API returns."""
    if isinstance(value, list):
        return [text_of(v) for v in value]
    return [text_of(value)]
