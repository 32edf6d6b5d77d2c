"""Helpers for the static template tests: load templates (short-form tags included), walk them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCEPTRE_DIR = REPO / "sceptre"
TEMPLATES_DIR = SCEPTRE_DIR / "templates"
ENVIRONMENTS = ("dev", "staging", "prod")


def plain(node: Any) -> Any:
    """cfn-lint's node objects as plain dicts, lists and strings."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


@cache
def load(name: str) -> dict[str, Any]:
    """A template of sceptre/templates by file name, short-form tags turned into Fn:: keys."""
    from cfnlint.decode import decode

    template, errors = decode(str(TEMPLATES_DIR / name))
    assert not errors, f"{name} does not parse: {errors}"
    return plain(template)


def template_names() -> list[str]:
    """Every template file name."""
    return sorted(p.name for p in TEMPLATES_DIR.glob("*.yaml"))


def raw_text(name: str) -> str:
    """The template's source text."""
    return (TEMPLATES_DIR / name).read_text()


def resources(name: str, rtype: str | None = None) -> dict[str, dict[str, Any]]:
    """Logical id -> resource of a template, optionally only those of one type."""
    return {k: v for k, v in load(name)["Resources"].items() if rtype in (None, v["Type"])}


def all_resources() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(template, logical id, resource) over every template."""
    for name in template_names():
        for logical_id, resource in load(name)["Resources"].items():
            yield name, logical_id, resource


def walk(node: Any) -> Iterator[Any]:
    """Every node of a structure, depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def intrinsic_values(node: Any, function: str) -> list[Any]:
    """The arguments of every ``function`` (e.g. "Ref", "Fn::If") inside ``node``."""
    return [n[function] for n in walk(node) if isinstance(n, dict) and function in n]


def refs(node: Any) -> set[str]:
    """Names referenced with Ref or ${Name} in Fn::Sub inside ``node``."""
    names = {r for r in intrinsic_values(node, "Ref") if isinstance(r, str)}
    for sub in intrinsic_values(node, "Fn::Sub"):
        text = sub if isinstance(sub, str) else sub[0]
        names |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
    return names


def if_branches(value: Any, condition: str) -> tuple[Any, Any]:
    """(true, false) branches of ``Fn::If [condition, ...]``; fails if it is not such an If."""
    assert isinstance(value, dict), f"expected Fn::If on {condition}, found {value!r}"
    assert "Fn::If" in value, f"expected Fn::If on {condition}, found {value!r}"
    cond, when_true, when_false = value["Fn::If"]
    assert cond == condition
    return when_true, when_false


def pattern_accepts(parameter: dict[str, Any], value: str) -> bool:
    """Whether CloudFormation would accept ``value`` for a String parameter's constraints."""
    if "AllowedValues" in parameter and value not in [str(v) for v in parameter["AllowedValues"]]:
        return False
    if len(value) < int(parameter.get("MinLength", 0)):
        return False
    if "MaxLength" in parameter and len(value) > int(parameter["MaxLength"]):
        return False
    # CloudFormation matches AllowedPattern against the whole value.
    return "AllowedPattern" not in parameter or re.fullmatch(
        parameter["AllowedPattern"], value) is not None


def dashboard_metrics(body: str) -> set[tuple[str, str]]:
    """(namespace, metric) pairs named in a dashboard body template."""
    return set(re.findall(r'\["(AWS/[A-Za-z0-9]+)", "([A-Za-z0-9_]+)"', body))
