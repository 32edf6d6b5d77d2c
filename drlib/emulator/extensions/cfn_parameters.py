"""CloudFormation parameter constraints, template ``Rules`` and ``NoEcho`` masking, as
CloudFormation applies them.

moto validates none of ``AllowedPattern``, ``AllowedValues``, ``MinLength``, ``MaxLength``,
``MinValue`` and ``MaxValue``, ignores the template's ``Rules`` section, and its ``NoEcho`` mask
compares values with keys (so it never masks). Here each declared parameter's effective value
(given or default) is checked, then every rule whose ``RuleCondition`` holds has its
``Assertions`` evaluated, whenever the stack's parameters are loaded (create_stack,
update_stack, executing a change set), failing with the ``ValidationError`` message
CloudFormation gives (for a rule, its ``AssertDescription``) before any resource is made;
``describe_stacks`` shows ``****`` for ``NoEcho`` parameters. YAML booleans in a parameter's
``Default`` or ``AllowedValues`` (``[true, false]``) are the strings "true" and "false", as
CloudFormation reads them (moto kept Python's ``True``, so "true" was not an allowed value and
``!Ref`` gave a boolean).
"""

from __future__ import annotations

import re
from typing import Any

from drlib.cfn_rules import RuleError, rule_violation
from drlib.emulator.extensions.cfn_hooks import when_cloudformation_loaded

__all__ = ["RuleError", "constraint_violation", "rule_violation", "validate_parameters"]

MASK = "****"

_original_load_parameters: Any = None
_original_update_stack: Any = None
_original_create_change_set: Any = None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def cfn_text(value: Any) -> str:
    """A template scalar as CloudFormation reads it: YAML booleans are "true"/"false"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalise_declaration(declaration: dict[str, Any]) -> dict[str, Any]:
    """Make a parameter declaration's boolean ``Default``/``AllowedValues`` strings, in place."""
    if isinstance(declaration.get("Default"), bool):
        declaration["Default"] = cfn_text(declaration["Default"])
    allowed = declaration.get("AllowedValues")
    if isinstance(allowed, list) and any(isinstance(a, bool) for a in allowed):
        declaration["AllowedValues"] = [cfn_text(a) if isinstance(a, bool) else a
                                        for a in allowed]
    return declaration


def constraint_violation(name: str, declaration: dict[str, Any], value: Any) -> str | None:
    """The CloudFormation error message for ``value`` of parameter ``name``, or None if valid."""
    kind = str(declaration.get("Type", "String"))
    if kind.startswith("AWS::SSM::Parameter::") or value is None:
        return None
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        items = value if isinstance(value, list) else str(value).split(",")
        for item in items:
            problem = _single_violation(name, declaration, cfn_text(item).strip(), kind)
            if problem:
                return problem
        return None
    return _single_violation(name, declaration, cfn_text(value), kind)


def _single_violation(name: str, declaration: dict[str, Any], value: str, kind: str) -> str | None:
    problem = _default_message(name, declaration, value, kind)
    if problem and declaration.get("ConstraintDescription"):
        description = declaration["ConstraintDescription"]
        return f"Parameter '{name}' failed to satisfy constraint: {description}"
    return problem


def _default_message(name: str, declaration: dict[str, Any], value: str, kind: str) -> str | None:
    allowed = declaration.get("AllowedValues")
    if allowed is not None and value not in [cfn_text(a) for a in allowed]:
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


def validate_parameters(template: dict[str, Any], values: dict[str, Any],
                        pseudo: dict[str, Any] | None = None) -> None:
    """Raise CloudFormation's ValidationError for the first parameter that breaks a constraint,
    then for the first assertion of the template's Rules that fails."""
    from moto.cloudformation.exceptions import ValidationError

    declarations = (template or {}).get("Parameters") or {}
    effective: dict[str, Any] = dict(pseudo or {})
    for name, declaration in declarations.items():
        if isinstance(declaration, dict):
            normalise_declaration(declaration)
        value = values.get(name, declaration.get("Default"))
        problem = constraint_violation(name, declaration, value)
        if problem:
            raise ValidationError(message=problem)
        effective[name] = value
    try:
        problem = rule_violation(template, effective)
    except RuleError as error:
        raise ValidationError(message=f"Template format error: {error}") from error
    if problem:
        raise ValidationError(message=problem)


def _template_dict(template: Any) -> dict[str, Any]:
    from moto.cloudformation.models import Stack

    if isinstance(template, dict):
        return template
    return Stack.parse_template(template) if template else {}


def load_parameters(self: Any) -> None:
    """The constraints of every parameter and the Rules, then moto's
    ``ResourceMap.load_parameters`` (which sees the booleans of the declarations as
    CloudFormation's strings)."""
    validate_parameters(self._template, self.input_parameters,
                        {"AWS::Region": self._region_name, "AWS::AccountId": self._account_id})
    _original_load_parameters(self)


def update_stack(self: Any, name: str, template: str, role_arn: str | None,
                 parameters: list[dict[str, Any]], tags: dict[str, str] | None) -> Any:
    """moto's ``update_stack``, refusing invalid parameters before anything changes."""
    stack = self.get_stack(name)
    resolved = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
    validate_parameters(_template_dict(template), resolved,
                        {"AWS::Region": self.region_name, "AWS::AccountId": self.account_id})
    return _original_update_stack(self, name, template, role_arn, parameters, tags)


def create_change_set(self: Any, stack_name: str, change_set_name: str, template: str,
                      parameters: dict[str, str], *args: Any, **kwargs: Any) -> Any:
    """moto's ``create_change_set``, refusing invalid parameters as CloudFormation does."""
    validate_parameters(_template_dict(template), parameters,
                        {"AWS::Region": self.region_name, "AWS::AccountId": self.account_id})
    return _original_create_change_set(self, stack_name, change_set_name, template, parameters,
                                       *args, **kwargs)


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
    global _original_load_parameters, _original_update_stack, _original_create_change_set
    from moto.cloudformation.models import CloudFormationBackend, Stack
    from moto.cloudformation.parsing import ResourceMap

    if _original_load_parameters is None:
        _original_load_parameters = ResourceMap.load_parameters
        _original_update_stack = CloudFormationBackend.update_stack
        _original_create_change_set = CloudFormationBackend.create_change_set
        ResourceMap.load_parameters = load_parameters  # type: ignore[method-assign]
        CloudFormationBackend.update_stack = update_stack  # type: ignore[method-assign]
        CloudFormationBackend.create_change_set = create_change_set  # type: ignore[method-assign]
        Stack.parameter_list = property(parameter_list)  # type: ignore[assignment,method-assign]


def install() -> None:
    """Patch moto's parameter loading once its CloudFormation engine loads."""
    when_cloudformation_loaded(_patch)
