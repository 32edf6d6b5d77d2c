"""CloudFormation parameter constraints and ``NoEcho`` masking, as CloudFormation applies them.

moto validates none of ``AllowedPattern``, ``AllowedValues``, ``MinLength``, ``MaxLength``,
``MinValue`` and ``MaxValue``, and its ``NoEcho`` mask compares values with keys (so it never
masks). Here each declared parameter's effective value (given or default) is checked whenever the
stack's parameters are loaded (create_stack, update_stack, executing a change set), failing with
the ``ValidationError`` message CloudFormation gives; ``describe_stacks`` shows ``****`` for
``NoEcho`` parameters.
"""

from __future__ import annotations

import re
from typing import Any

from drlib.emulator.extensions.cfn_hooks import when_cloudformation_loaded

MASK = "****"

_original_load_parameters: Any = None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def constraint_violation(name: str, declaration: dict[str, Any], value: Any) -> str | None:
    """The CloudFormation error message for ``value`` of parameter ``name``, or None if valid."""
    kind = str(declaration.get("Type", "String"))
    if kind.startswith("AWS::SSM::Parameter::") or value is None:
        return None
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        items = value if isinstance(value, list) else str(value).split(",")
        for item in items:
            problem = _single_violation(name, declaration, str(item).strip(), kind)
            if problem:
                return problem
        return None
    return _single_violation(name, declaration, str(value), kind)


def _single_violation(name: str, declaration: dict[str, Any], value: str, kind: str) -> str | None:
    problem = _default_message(name, declaration, value, kind)
    if problem and declaration.get("ConstraintDescription"):
        description = declaration["ConstraintDescription"]
        return f"Parameter '{name}' failed to satisfy constraint: {description}"
    return problem


def _default_message(name: str, declaration: dict[str, Any], value: str, kind: str) -> str | None:
    allowed = declaration.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        return f"Parameter '{name}' must be one of AllowedValues"
    if kind in ("Number", "List<Number>"):
        number = _number(value)
        if number is None:
            return f"Parameter '{name}' must be a number"
        if "MinValue" in declaration and number < float(declaration["MinValue"]):
            return f"Parameter '{name}' must be a number not less than {declaration['MinValue']}"
        if "MaxValue" in declaration and number > float(declaration["MaxValue"]):
            return f"Parameter '{name}' must be a number not greater than {declaration['MaxValue']}"
        return None
    pattern = declaration.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        return f"Parameter '{name}' must match pattern {pattern}"
    if "MinLength" in declaration and len(value) < int(declaration["MinLength"]):
        return f"Parameter '{name}' must contain at least {declaration['MinLength']} characters"
    if "MaxLength" in declaration and len(value) > int(declaration["MaxLength"]):
        return f"Parameter '{name}' must contain at most {declaration['MaxLength']} characters"
    return None


def is_no_echo(declaration: dict[str, Any]) -> bool:
    """Whether a parameter declaration has ``NoEcho`` (a boolean or the string 'true')."""
    return str(declaration.get("NoEcho", False)).lower() == "true"


def load_parameters(self: Any) -> None:
    """moto's ``ResourceMap.load_parameters``, then the constraints of every parameter."""
    from moto.cloudformation.exceptions import ValidationError

    declarations = self._template.get("Parameters") or {}
    for name, declaration in declarations.items():
        raw = self.input_parameters.get(name, declaration.get("Default"))
        problem = constraint_violation(name, declaration, raw)
        if problem:
            raise ValidationError(message=problem)
    _original_load_parameters(self)


def parameter_list(self: Any) -> list[dict[str, Any]]:
    """``describe_stacks`` parameters with ``NoEcho`` values masked."""
    declarations = self.template_dict.get("Parameters") or {}
    shown = []
    for key, value in self.resource_map.resolved_parameters.items():
        if is_no_echo(declarations.get(key) or {}):
            value = MASK
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        shown.append({"ParameterKey": key, "ParameterValue": value})
    return shown


def _patch() -> None:
    global _original_load_parameters
    from moto.cloudformation.models import Stack
    from moto.cloudformation.parsing import ResourceMap

    if _original_load_parameters is None:
        _original_load_parameters = ResourceMap.load_parameters
        ResourceMap.load_parameters = load_parameters  # type: ignore[method-assign]
        Stack.parameter_list = property(parameter_list)  # type: ignore[assignment,method-assign]


def install() -> None:
    """Patch moto's parameter loading once its CloudFormation engine loads."""
    when_cloudformation_loaded(_patch)
