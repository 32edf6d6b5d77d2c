"""CloudFormation ``Conditions`` evaluated as CloudFormation does.

moto's YAML reader turns the short form ``!Condition Name`` into ``{"Fn::Condition": Name}``,
which its ``parse_condition`` does not know as a reference to another condition, so a condition
such as ``!And [!Condition IsPrimaryRegion, !Equals [!Ref P, '']]`` comes out False whatever the
values, and every resource it guards is silently left out of the stack. Here each condition
function is evaluated recursively: ``Condition`` (or moto's ``Fn::Condition``) names another
condition, ``Fn::Equals`` compares its two operands after resolving them (``Ref``, ``FindInMap``
and the other intrinsics allowed there), ``Fn::Not``/``Fn::And``/``Fn::Or`` combine conditions.
"""

from __future__ import annotations

from typing import Any

_original_parse_condition: Any = None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_condition(condition: Any, resources_map: Any, condition_map: Any) -> bool:
    """The truth of one condition function (moto's signature, installed in its place)."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.parsing import clean_json

    if isinstance(condition, bool):
        return condition
    if isinstance(condition, str) and condition.lower() in ("true", "false"):
        return condition.lower() == "true"
    if not isinstance(condition, dict) or len(condition) != 1:
        raise ValidationError(message=f"Template error: invalid condition {condition!r}")
    (function, argument), = condition.items()
    if function in ("Condition", "Fn::Condition"):
        return bool(condition_map[argument])
    if function == "Fn::Equals":
        left, right = (clean_json(operand, resources_map) for operand in argument)
        return _text(left) == _text(right)
    if function == "Fn::Not":
        return not parse_condition(argument[0], resources_map, condition_map)
    if function == "Fn::And":
        return all(parse_condition(a, resources_map, condition_map) for a in argument)
    if function == "Fn::Or":
        return any(parse_condition(a, resources_map, condition_map) for a in argument)
    raise ValidationError(message=f"Template error: {function} is not a condition function")


def install() -> None:
    """Replace moto's condition evaluation (looked up by name when a stack's map loads)."""
    global _original_parse_condition
    from moto.cloudformation import parsing

    if _original_parse_condition is None:
        _original_parse_condition = parsing.parse_condition
        parsing.parse_condition = parse_condition
