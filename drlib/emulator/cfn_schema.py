"""CloudFormation's resource schemas (the registry's, as bundled with cfn-lint) and the
validation messages CloudFormation derives from them.

CloudFormation checks a resource's properties against its type's schema before any handler
runs, and reports a failure in the stack event as ``Properties validation failed for resource
<logical id> with message: #: required key [Code] not found``. moto has no schemas: a missing
property surfaces as a Python ``KeyError`` or ``TypeError`` from inside its models. The
emulator checks what CloudFormation checks (required keys, the type of literal scalar values)
and words any other failure the way a resource handler's would be, never as Python text.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

INTERNAL_FAILURE = "Internal Failure"
"""What CloudFormation reports when a resource handler fails unexpectedly."""

_SCALAR_TYPES = {"integer": "Integer", "number": "Number", "boolean": "Boolean"}


@functools.cache
def _schema_dir() -> Path | None:
    spec = importlib.util.find_spec("cfnlint")  # the package is not imported (it is slow)
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"
    return directory if (directory / "providers" / "us-east-1.json").is_file() else None


@functools.cache
def _index() -> dict[str, str]:
    directory = _schema_dir()
    if directory is None:
        return {}
    index: dict[str, str] = json.loads((directory / "providers" / "us-east-1.json").read_text())
    return index


@functools.cache
def resource_schema(resource_type: str) -> dict[str, Any] | None:
    """The registry schema of ``resource_type`` (None for types it does not know)."""
    digest = _index().get(resource_type)
    directory = _schema_dir()
    if digest is None or directory is None:
        return None
    path = directory / "resources" / f"{digest}.json"
    if not path.is_file():
        return None
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def properties_failure(logical_id: str, problems: list[str]) -> str:
    """CloudFormation's message for schema problems of one resource."""
    shown = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
    return f"Properties validation failed for resource {logical_id} with message: {shown}"


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and (
        next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::"))


def _type_problem(name: str, declared: dict[str, Any], value: Any) -> str | None:
    kind = declared.get("type")
    if not isinstance(kind, str) or kind not in _SCALAR_TYPES or _is_intrinsic(value):
        return None
    if isinstance(value, bool):
        ok = kind == "boolean"
    elif isinstance(value, int | float):
        ok = kind == "number" or (kind == "integer" and float(value).is_integer())
    elif isinstance(value, str):  # CloudFormation converts strings that read as the type
        text = value.strip()
        ok = (text.lower() in ("true", "false") if kind == "boolean"
              else re.fullmatch(r"[-+]?\d+" if kind == "integer"
                                else r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text) is not None)
    else:
        ok = False
    if ok:
        return None
    found = {dict: "JSONObject", list: "JSONArray", str: "String", bool: "Boolean"}.get(
        type(value), "Number")
    return f"#/{name}: expected type: {_SCALAR_TYPES[kind]}, found: {found}"


def schema_problems(resource_type: str, properties: Any) -> list[str]:
    """What CloudFormation's validation reports for these (template) properties, if anything:
    missing required keys, literal scalars of the wrong type. Unknown types pass."""
    schema = resource_schema(resource_type)
    if schema is None:
        return []
    if not isinstance(properties, dict):
        properties = {}
    problems = [f"#: required key [{key}] not found"
                for key in schema.get("required") or [] if key not in properties]
    declared = schema.get("properties") or {}
    for name, value in properties.items():
        spec = declared.get(name)
        if isinstance(spec, dict):
            problem = _type_problem(name, spec, value)
            if problem:
                problems.append(problem)
    return problems


def _flat(name: str) -> str:
    return name.replace("_", "").lower()


def property_named(resource_type: str, python_name: str) -> str | None:
    """The schema property a moto argument or dictionary key stands for
    (``db_instance_class`` -> ``DBInstanceClass``), if the schema has one."""
    schema = resource_schema(resource_type)
    if schema is None:
        return None
    wanted = _flat(python_name)
    return next((name for name in schema.get("properties") or {} if _flat(name) == wanted), None)


_MISSING_ARGUMENTS = re.compile(r"missing \d+ required (?:positional |keyword-only )?"
                                r"arguments?: (.*)$")


def missing_properties(resource_type: str, exc: BaseException) -> list[str]:
    """The schema properties a moto model's Python error says were missing, if it says so."""
    names: list[str] = []
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        names = [exc.args[0]]
    elif isinstance(exc, TypeError) and (match := _MISSING_ARGUMENTS.search(str(exc))):
        names = re.findall(r"'([^']+)'", match.group(1))
    found = [property_named(resource_type, name) for name in names]
    return [name for name in found if name is not None]
