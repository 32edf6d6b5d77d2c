"""Automation document content checked as ``CreateDocument`` / ``UpdateDocument`` check it.

A document is refused (``InvalidDocumentContent``, the message naming the step) for: a schema
version other than 0.3, no ``mainSteps``, a step without a valid unique name, an action that is not
an Automation action, a missing required input, a ``nextStep`` / ``onFailure: step:X`` / branch
target that is not a step, an unknown parameter or output type, and a reference to an undefined
parameter, automation variable or step output.

:data:`KNOWN_ACTIONS` is every action AWS accepts in schema 0.3; the engine runs a subset of them
(:data:`drlib.emulator.automation.actions.SUPPORTED`) and fails an execution that reaches any
other, naming it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from drlib.emulator.automation.references import (
    AUTOMATION_VARIABLES,
    OUTPUT_TYPES,
    references_in,
)

REQUIRED_INPUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    # action -> groups of input names; each group needs at least one of its names present
    "aws:approve": (("Approvers",),),
    "aws:assertAwsResourceProperty": (("Service",), ("Api",), ("PropertySelector",),
                                      ("DesiredValues",)),
    "aws:branch": (("Choices",),),
    "aws:changeInstanceState": (("InstanceIds",), ("DesiredState",)),
    "aws:copyImage": (("SourceImageId",), ("SourceRegion",), ("ImageName",)),
    "aws:createImage": (("InstanceId",), ("ImageName",)),
    "aws:createStack": (("StackName",),),
    "aws:createTags": (("ResourceIds",), ("Tags",)),
    "aws:deleteImage": (("ImageId",),),
    "aws:deleteStack": (("StackName",),),
    "aws:executeAutomation": (("DocumentName",),),
    "aws:executeAwsApi": (("Service",), ("Api",)),
    "aws:executeScript": (("Runtime",), ("Handler",), ("Script", "Attachment")),
    "aws:executeStateMachine": (("stateMachineArn",),),
    "aws:invokeLambdaFunction": (("FunctionName",),),
    "aws:invokeWebhook": (("IntegrationName",),),
    "aws:loop": (("Steps",),),
    "aws:pause": (),
    "aws:runCommand": (("DocumentName",),),
    "aws:runInstances": (("ImageId",),),
    "aws:sleep": (("Duration", "Timestamp"),),
    "aws:updateVariable": (("Name",), ("Value",)),
    "aws:waitForAwsResourceProperty": (("Service",), ("Api",), ("PropertySelector",),
                                       ("DesiredValues",)),
}
KNOWN_ACTIONS = frozenset(REQUIRED_INPUTS)

BUILT_IN_OUTPUTS: dict[str, frozenset[str]] = {
    "aws:approve": frozenset({"ApprovalStatus", "ApproverDecisions"}),
    "aws:executeScript": frozenset({"OutputPayload"}),
    "aws:invokeLambdaFunction": frozenset({"StatusCode", "FunctionError", "Payload",
                                           "LogResult"}),
    "aws:executeAutomation": frozenset({"ExecutionId", "Status", "Output"}),
    "aws:runCommand": frozenset({"CommandId", "Status", "ResponseCode", "Output"}),
    "aws:createStack": frozenset({"StackId", "StackStatus", "StackStatusReason"}),
    "aws:runInstances": frozenset({"InstanceIds"}),
    "aws:createImage": frozenset({"ImageId", "ImageState"}),
    "aws:copyImage": frozenset({"ImageId", "ImageState"}),
}
"""Outputs an action always has, referenceable without an ``outputs`` declaration."""

PARAMETER_TYPES = frozenset({"String", "StringList", "Boolean", "Integer", "MapList",
                             "StringMap"})
STEP_NAME = re.compile(r"^[a-zA-Z0-9_]{1,100}$")


class InvalidContent(ValueError):
    """Automation content AWS would refuse; the message names the step and the problem."""


@dataclass(frozen=True)
class Step:
    """One entry of ``mainSteps`` as the engine reads it."""

    name: str
    action: str
    inputs: dict[str, Any]
    outputs: list[dict[str, Any]]
    timeout_seconds: int | None
    max_attempts: int
    on_failure: str
    next_step: str | None
    is_end: bool
    is_critical: bool
    raw: dict[str, Any]


@dataclass(frozen=True)
class AutomationDocument:
    """A validated Automation document."""

    description: str
    assume_role: str | None
    parameters: dict[str, dict[str, Any]]
    steps: list[Step]
    outputs: list[str]

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def index_of(self, name: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.name == name)


_LIBYAML_SAFE: Any = getattr(yaml, "CSafeLoader", None)


def safe_load(text: Any) -> Any:
    """``yaml.safe_load``, over libyaml where it reads the same (about ten times faster): not
    for text with a tab, which libyaml accepts in places PyYAML refuses, and an error is
    PyYAML's own (its reading, again, raises it)."""
    if _LIBYAML_SAFE is not None and isinstance(text, str) and "\t" not in text:
        try:
            return yaml.load(text, Loader=_LIBYAML_SAFE)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def parse_content(content: Any, document_format: str | None) -> dict[str, Any]:
    """The content as a mapping (JSON or YAML text, or an already-parsed map)."""
    if isinstance(content, dict):
        return content
    try:
        parsed = (safe_load(content) if str(document_format).upper() == "YAML"
                  else json.loads(content))
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidContent(f"The content for the document is not valid: {exc}") from exc
    if not isinstance(parsed, dict):
        raise InvalidContent("The content for the document is not valid: not a map.")
    return parsed


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise InvalidContent(f"{where} must be true or false, got {value!r}.")


def _positive_int(value: Any, where: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or isinstance(value, bool):
        raise InvalidContent(f"{where} must be a positive integer, got {value!r}.")
    return number


def _step(raw: Any, position: int) -> Step:
    if not isinstance(raw, dict):
        raise InvalidContent(f"mainSteps[{position}] is not a map.")
    name = str(raw.get("name", ""))
    if not STEP_NAME.match(name):
        raise InvalidContent(f"mainSteps[{position}] has an invalid name {name!r}: expected "
                             "1-100 letters, digits and underscores.")
    action = raw.get("action")
    if action not in KNOWN_ACTIONS:
        raise InvalidContent(f"Step {name} has an invalid action {action!r}: it is not an "
                             "Automation action.")
    inputs = raw.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise InvalidContent(f"Step {name}: inputs must be a map.")
    for group in REQUIRED_INPUTS[action]:
        if not any(key in inputs for key in group):
            raise InvalidContent(f"Step {name} ({action}) is missing the required input "
                                 f"{' or '.join(group)}.")
    outputs = raw.get("outputs") or []
    if not isinstance(outputs, list):
        raise InvalidContent(f"Step {name}: outputs must be a list.")
    for output in outputs:
        if not isinstance(output, dict) or not output.get("Name") or not output.get("Selector"):
            raise InvalidContent(f"Step {name}: every output needs a Name and a Selector.")
        if output.get("Type", "String") not in OUTPUT_TYPES:
            raise InvalidContent(f"Step {name}: output {output['Name']} has an invalid type "
                                 f"{output.get('Type')!r}; expected one of "
                                 f"{', '.join(sorted(OUTPUT_TYPES))}.")
    timeout = raw.get("timeoutSeconds")
    return Step(
        name=name, action=action, inputs=inputs, outputs=outputs,
        timeout_seconds=None if timeout is None else _positive_int(
            timeout, f"Step {name}: timeoutSeconds"),
        max_attempts=_positive_int(raw.get("maxAttempts", 1), f"Step {name}: maxAttempts"),
        on_failure=str(raw.get("onFailure", "Abort")),
        next_step=raw.get("nextStep"),
        is_end=_boolean(raw.get("isEnd", False), f"Step {name}: isEnd"),
        is_critical=_boolean(raw.get("isCritical", True), f"Step {name}: isCritical"),
        raw=raw)


def _check_targets(step: Step, names: set[str]) -> None:
    def known(target: Any, what: str) -> None:
        if target not in names:
            raise InvalidContent(f"Step {step.name}: {what} {target!r} is not a step of this "
                                 "document.")

    if step.next_step is not None:
        known(step.next_step, "nextStep")
    if step.on_failure not in ("Abort", "Continue"):
        if not step.on_failure.startswith("step:"):
            raise InvalidContent(f"Step {step.name}: onFailure must be Abort, Continue or "
                                 f"step:<name>, got {step.on_failure!r}.")
        known(step.on_failure[len("step:"):], "onFailure")
    if step.action == "aws:branch":
        choices = step.inputs.get("Choices")
        if not isinstance(choices, list) or not choices:
            raise InvalidContent(f"Step {step.name}: Choices must be a non-empty list.")
        for choice in choices:
            if not isinstance(choice, dict) or "NextStep" not in choice:
                raise InvalidContent(f"Step {step.name}: every choice needs a NextStep.")
            known(choice["NextStep"], "NextStep")
        if "Default" in step.inputs:
            known(step.inputs["Default"], "Default")


def _check_references(where: str, value: Any, parameters: dict[str, Any],
                      outputs: dict[str, set[str]]) -> None:
    for reference in references_in(value):
        if reference in parameters or reference in AUTOMATION_VARIABLES:
            continue
        step_name, dot, output = reference.partition(".")
        if dot and step_name in outputs:
            if output in outputs[step_name]:
                continue
            raise InvalidContent(f"{where} references {{{{ {reference} }}}}, but step "
                                 f"{step_name} has no output {output}.")
        kind = "step output" if dot else "parameter"
        raise InvalidContent(f"{where} references an undefined {kind} {{{{ {reference} }}}}.")


def _parameters(raw: Any) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidContent("parameters must be a map.")
    for name, spec in raw.items():
        kind = str(spec.get("type", "")) if isinstance(spec, dict) else ""
        if kind not in PARAMETER_TYPES and not kind.startswith("AWS::"):
            found = spec.get("type") if isinstance(spec, dict) else spec
            raise InvalidContent(f"Parameter {name} has an invalid type {found!r}; expected "
                                 f"one of {', '.join(sorted(PARAMETER_TYPES))}.")
    return raw


def validate_automation(content: dict[str, Any]) -> AutomationDocument:
    """The document, or :class:`InvalidContent` naming the first problem found."""
    version = str(content.get("schemaVersion", ""))
    if version != "0.3":
        raise InvalidContent(f"schemaVersion {version or '(none)'} is not valid for an "
                             "Automation document; expected 0.3.")
    parameters = _parameters(content.get("parameters"))
    raw_steps = content.get("mainSteps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InvalidContent("mainSteps must be a non-empty list of steps.")
    steps = [_step(raw, i) for i, raw in enumerate(raw_steps)]
    names = [s.name for s in steps]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise InvalidContent(f"Step name {duplicate} is used more than once.")
    outputs = {s.name: {str(o["Name"]) for o in s.outputs} | BUILT_IN_OUTPUTS.get(s.action,
                                                                                   frozenset())
               for s in steps}
    for step in steps:
        _check_targets(step, set(names))
        _check_references(f"Step {step.name}", step.inputs, parameters, outputs)
    assume_role = content.get("assumeRole")
    _check_references("assumeRole", assume_role, parameters, outputs)
    document_outputs = content.get("outputs") or []
    if not isinstance(document_outputs, list):
        raise InvalidContent("outputs must be a list of step.Output names.")
    for entry in document_outputs:
        step_name, _, output = str(entry).partition(".")
        if output not in outputs.get(step_name, set()):
            raise InvalidContent(f"Document output {entry} is not an output of a step.")
    return AutomationDocument(
        description=str(content.get("description") or ""), assume_role=assume_role,
        parameters=parameters, steps=steps, outputs=[str(o) for o in document_outputs])
