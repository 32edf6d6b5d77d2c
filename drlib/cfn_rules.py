"""CloudFormation template ``Rules``, evaluated as CloudFormation does before it creates anything.

Pure: a template (``Fn::`` long form) and parameter values in, the ``AssertDescription`` of the
first failing assertion out. Used by the launch preflight (:mod:`drlib.stacks`), which refuses a
stack before any stack of the plan is deployed, and by the emulator, which enforces Rules on
create_stack as CloudFormation does. Values that are not known yet (a Sceptre ``!stack_output``)
are passed in ``unknown``: a rule that needs one is left to CloudFormation.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any


class RuleError(ValueError):
    """A rule uses a function or reference CloudFormation would not accept."""


class _UnknownValue(Exception):
    """A rule needs a value that is not known yet."""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else str(value).split(",")


def _truth(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def _rule_value(node: Any, values: dict[str, Any], unknown: Collection[str]) -> Any:
    """Evaluate one node of a rule: a rule-specific intrinsic function or a literal."""
    if isinstance(node, list):
        return [_rule_value(item, values, unknown) for item in node]
    if not isinstance(node, dict) or len(node) != 1:
        return node
    (function, argument), = node.items()
    if function == "Ref":
        if argument in unknown:
            raise _UnknownValue(argument)
        if argument not in values:
            raise RuleError(f"Unresolved parameter reference {argument!r} in rule")
        value = values[argument]
        return value if not isinstance(value, list) else [str(v) for v in value]
    args = [_rule_value(a, values, unknown) for a in argument] if isinstance(
        argument, list) else argument
    if function == "Fn::Equals":
        return str(args[0]) == str(args[1])
    if function == "Fn::Not":
        return not _truth(args[0])
    if function == "Fn::And":
        return all(_truth(a) for a in args)
    if function == "Fn::Or":
        return any(_truth(a) for a in args)
    if function == "Fn::Contains":
        return str(args[1]) in [str(h) for h in _as_list(args[0])]
    if function == "Fn::EachMemberEquals":
        return all(str(m) == str(args[1]) for m in _as_list(args[0]))
    if function == "Fn::EachMemberIn":
        return all(str(m) in [str(a) for a in _as_list(args[1])] for m in _as_list(args[0]))
    if function == "Condition":
        raise RuleError("Conditions cannot be referenced in Rules")
    raise RuleError(f"Rule function {function} is not supported")


def rule_violation(template: dict[str, Any], values: dict[str, Any],
                   unknown: Collection[str] = ()) -> str | None:
    """The message of the first failing assertion of the template's Rules, or None.

    A rule that needs a name in ``unknown`` is skipped (CloudFormation decides it later)."""
    for name, rule in ((template or {}).get("Rules") or {}).items():
        try:
            condition = rule.get("RuleCondition")
            if condition is not None and not _truth(_rule_value(condition, values, unknown)):
                continue
            for assertion in rule.get("Assertions") or []:
                if not _truth(_rule_value(assertion["Assert"], values, unknown)):
                    return str(assertion.get("AssertDescription")
                               or f"Template validation error: rule {name} failed")
        except _UnknownValue:
            continue
    return None


