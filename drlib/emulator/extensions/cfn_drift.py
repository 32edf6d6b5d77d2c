"""CloudFormation drift detection, which moto lacks (it answered ``DetectStackDrift`` with HTTP
500).

- ``DetectStackDrift`` (optionally ``LogicalResourceIds``) returns a ``StackDriftDetectionId``
  and detects in the background, as CloudFormation does (it answers once the detection is done or
  after :data:`GRACE_S`, whichever comes first): ``DescribeStackDriftDetectionStatus`` answers
  ``DETECTION_IN_PROGRESS`` until then, then ``DETECTION_COMPLETE`` with ``StackDriftStatus``
  ``DRIFTED`` or ``IN_SYNC`` and ``DriftedStackResourceCount``, or ``DETECTION_FAILED`` with a
  ``DetectionStatusReason`` when some resource could not be read (the others' results stand).
- ``DescribeStackResourceDrifts`` (``StackResourceDriftStatusFilters``, ``MaxResults``,
  ``NextToken``): each checked resource's ``StackResourceDriftStatus`` (``IN_SYNC``, ``MODIFIED``,
  ``DELETED``), ``ExpectedProperties``, ``ActualProperties`` and ``PropertyDifferences``.
  Resources of a type the emulator cannot compare are not checked and so not included, as
  CloudFormation leaves out types without drift support; their ``DriftInformation`` says
  ``NOT_CHECKED``.
- ``DetectStackResourceDrift``: one resource, synchronously; it updates the stack's drift status
  too.
- ``DescribeStacks`` carries ``DriftInformation`` (``NOT_CHECKED`` until a detection), and
  ``DescribeStackResource(s)`` / ``ListStackResources`` carry each resource's.

Drift detection is refused (``ValidationError``) for a stack outside ``CREATE_COMPLETE``,
``UPDATE_COMPLETE``, ``UPDATE_ROLLBACK_COMPLETE`` and ``UPDATE_ROLLBACK_FAILED``. What is compared
and how: :mod:`drlib.emulator.drift`. While a region is down these APIs answer 503 there, like
every regional API (:mod:`.region_outage`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drlib.emulator import control
from drlib.emulator.extensions.cfn_hooks import when_cloudformation_loaded
from drlib.emulator.lazy_patch import when_imported

log = logging.getLogger(__name__)

DETECTABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
              "UPDATE_ROLLBACK_FAILED")
DRIFTED_STATUSES = ("MODIFIED", "DELETED")
ATTACHMENTS = ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
GRACE_S = 2.0
"""How long ``DetectStackDrift`` waits for its detection before answering."""


@dataclass
class ResourceDrift:
    """The last drift result of one stack resource."""

    logical_id: str
    physical_id: str
    resource_type: str
    status: str  # IN_SYNC | MODIFIED | DELETED | NOT_CHECKED
    timestamp: datetime
    expected: dict[str, Any] | None = None
    actual: dict[str, Any] | None = None
    differences: list[dict[str, str]] = field(default_factory=list)

    def to_api(self, stack_id: str) -> dict[str, Any]:
        import json

        answer: dict[str, Any] = {
            "StackId": stack_id, "LogicalResourceId": self.logical_id,
            "PhysicalResourceId": self.physical_id, "ResourceType": self.resource_type,
            "StackResourceDriftStatus": self.status, "Timestamp": self.timestamp,
            "PropertyDifferences": self.differences}
        if self.status not in ("DELETED", "NOT_CHECKED"):
            answer["ExpectedProperties"] = json.dumps(self.expected, separators=(",", ":"),
                                                      default=str)
            answer["ActualProperties"] = json.dumps(self.actual, separators=(",", ":"),
                                                    default=str)
        return answer


@dataclass
class StackDrift:
    """What a stack's drift detections found so far."""

    results: dict[str, ResourceDrift] = field(default_factory=dict)
    checked_at: datetime | None = None

    def status(self, current: set[str]) -> str:
        if self.checked_at is None:
            return "NOT_CHECKED"
        drifted = [r for lid, r in self.results.items()
                   if lid in current and r.status in DRIFTED_STATUSES]
        return "DRIFTED" if drifted else "IN_SYNC"


@dataclass
class Detection:
    """One ``DetectStackDrift`` operation."""

    detection_id: str
    stack_id: str
    started: datetime
    status: str = "DETECTION_IN_PROGRESS"
    reason: str | None = None
    stack_drift_status: str | None = None
    drifted_count: int | None = None

    def to_api(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"StackId": self.stack_id,
                                  "StackDriftDetectionId": self.detection_id,
                                  "DetectionStatus": self.status, "Timestamp": self.started}
        if self.stack_drift_status is not None:
            answer["StackDriftStatus"] = self.stack_drift_status
        if self.drifted_count is not None:
            answer["DriftedStackResourceCount"] = self.drifted_count
        if self.reason:
            answer["DetectionStatusReason"] = self.reason
        return answer


_lock = threading.RLock()
_stacks: dict[str, StackDrift] = {}
_detections: dict[str, Detection] = {}
_generation = [0]


def _reset() -> None:
    with _lock:
        _stacks.clear()
        _detections.clear()
        _generation[0] += 1


# --- the work ------------------------------------------------------------------------------------

@dataclass
class _Planned:
    """A resource to check, with everything read from the stack up front (in the request)."""

    logical_id: str
    physical_id: str
    resource_type: str
    expected: dict[str, Any] | None
    problem: str | None = None


def _validation_error(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


def _stack_resources(stack: Any) -> dict[str, tuple[str, str]]:
    """logical id -> (type, physical id) of the resources the stack holds now."""
    resources_map = stack.resource_map
    found = {}
    for lid, resource in resources_map._parsed_resources.items():
        if lid not in resources_map._resource_json_map or resource is None:
            continue
        if isinstance(resource, str | int | float | list | dict):
            continue
        resource_type = str(resources_map._resource_json_map[lid].get("Type", ""))
        found[lid] = (resource_type, str(getattr(resource, "physical_resource_id", lid)))
    return found


def _plan(stack: Any, logical_ids: list[str] | None) -> tuple[list[_Planned],
                                                                dict[str, list[dict[str, Any]]]]:
    from drlib.emulator.drift.expected import expected_properties
    from drlib.emulator.drift.readers import READERS

    resources = _stack_resources(stack)
    planned = []
    for lid, (resource_type, physical_id) in resources.items():
        if logical_ids and lid not in logical_ids:
            continue
        if resource_type not in READERS:
            planned.append(_Planned(lid, physical_id, resource_type, None))
            continue
        try:
            planned.append(_Planned(lid, physical_id, resource_type,
                                    expected_properties(stack, lid)))
        except Exception as exc:  # a template value that no longer resolves
            log.debug("drift: cannot resolve %s of %s", lid, stack.name, exc_info=True)
            planned.append(_Planned(lid, physical_id, resource_type, None,
                                    problem=f"the template's properties do not resolve ({exc})"))
    siblings: dict[str, list[dict[str, Any]]] = {}
    for lid, (resource_type, _physical) in resources.items():
        if resource_type in ATTACHMENTS:
            try:
                siblings.setdefault(resource_type, []).append(expected_properties(stack, lid))
            except Exception:
                log.debug("drift: cannot resolve attachment %s", lid, exc_info=True)
    return planned, siblings


def _check(item: _Planned, region: str, account_id: str,
           siblings: dict[str, list[dict[str, Any]]]) -> ResourceDrift:
    """Compare one resource (raises when it cannot be read)."""
    from drlib.emulator.cfn_schema import resource_schema
    from drlib.emulator.drift.compare import Schema, compare_properties
    from drlib.emulator.drift.readers import READERS, Resource, case_insensitive
    from drlib.emulator.extensions.ssm_automation import client_for

    now = datetime.now(UTC)
    reader = READERS.get(item.resource_type)
    if reader is None:
        return ResourceDrift(item.logical_id, item.physical_id, item.resource_type,
                             "NOT_CHECKED", now)
    if item.problem:
        raise RuntimeError(item.problem)
    expected = item.expected or {}
    actual = reader(Resource(item.resource_type, item.logical_id, item.physical_id, region,
                             account_id, expected, client_for,
                             lambda resource_type: siblings.get(resource_type, [])))
    if actual is None:
        return ResourceDrift(item.logical_id, item.physical_id, item.resource_type,
                             "DELETED", now)
    shown_expected, shown_actual, found = compare_properties(
        expected, actual, Schema(resource_schema(item.resource_type)),
        case_insensitive(item.resource_type))
    return ResourceDrift(item.logical_id, item.physical_id, item.resource_type,
                         "MODIFIED" if found else "IN_SYNC", now, shown_expected, shown_actual,
                         [d.to_api() for d in found])


def _failure_text(error: BaseException) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code')}: {details.get('Message')}"
    return str(error) or type(error).__name__


def _run(detection: Detection, planned: list[_Planned], region: str, account_id: str,
         siblings: dict[str, list[dict[str, Any]]], current: set[str], generation: int) -> None:
    results: dict[str, ResourceDrift] = {}
    failed: dict[str, str] = {}
    for item in planned:
        try:
            results[item.logical_id] = _check(item, region, account_id, siblings)
        except Exception as exc:
            log.info("drift: %s (%s) could not be checked: %s", item.logical_id,
                     item.resource_type, exc)
            failed[item.logical_id] = _failure_text(exc)
    with _lock:
        if generation != _generation[0]:
            return  # the emulator was reset meanwhile
        state = _stacks.setdefault(detection.stack_id, StackDrift())
        state.results.update(results)
        state.results = {lid: r for lid, r in state.results.items() if lid in current}
        state.checked_at = datetime.now(UTC)
        detection.stack_drift_status = state.status(current)
        detection.drifted_count = sum(1 for r in results.values()
                                      if r.status in DRIFTED_STATUSES)
        if failed:
            detection.status = "DETECTION_FAILED"
            detection.reason = ("Failed to detect drift on resources "
                                f"[{', '.join(sorted(failed))}]: "
                                + "; ".join(f"{lid}: {text}"
                                            for lid, text in sorted(failed.items())))
        else:
            detection.status = "DETECTION_COMPLETE"


def detect_stack_drift(stack: Any, account_id: str, region: str,
                       logical_ids: list[str] | None = None, wait: bool = False) -> Detection:
    """Start a drift detection of ``stack`` (a moto Stack); ``wait`` runs it to the end here."""
    if stack.status not in DETECTABLE:
        raise _validation_error(
            f"Drift detection is not supported for stack {stack.name} in status "
            f"{stack.status}; the stack must be in {', '.join(DETECTABLE)}.")
    resources = _stack_resources(stack)
    unknown = [lid for lid in logical_ids or [] if lid not in resources]
    if unknown:
        raise _validation_error(f"Resources {unknown} do not exist in stack {stack.name}.")
    planned, siblings = _plan(stack, logical_ids)
    detection = Detection(str(uuid.uuid4()), stack.stack_id, datetime.now(UTC))
    with _lock:
        _detections[detection.detection_id] = detection
        generation = _generation[0]
    arguments = (detection, planned, region, account_id, siblings, set(resources), generation)
    if wait:
        _run(*arguments)
        return detection
    worker = threading.Thread(target=_run, args=arguments, daemon=True,
                              name=f"drift-{stack.name}")
    worker.start()
    # A small stack is read in well under a second: answering once it is done spares clients
    # that poll slowly (Sceptre waits 10 s after an IN_PROGRESS) a wait; a slow one still
    # answers IN_PROGRESS, as on AWS.
    worker.join(timeout=GRACE_S)
    return detection


def detect_resource_drift(stack: Any, account_id: str, region: str,
                          logical_id: str) -> ResourceDrift:
    """Check one resource now; its result also updates the stack's drift status."""
    from drlib.emulator.drift.readers import READERS

    if stack.status not in DETECTABLE:
        raise _validation_error(
            f"Drift detection is not supported for stack {stack.name} in status "
            f"{stack.status}; the stack must be in {', '.join(DETECTABLE)}.")
    resources = _stack_resources(stack)
    if logical_id not in resources:
        raise _validation_error(f"Resource {logical_id} does not exist for stack {stack.name}")
    if resources[logical_id][0] not in READERS:
        raise _validation_error(f"Drift detection is not supported for resource type "
                                f"{resources[logical_id][0]} ({logical_id}).")
    planned, siblings = _plan(stack, [logical_id])
    try:
        result = _check(planned[0], region, account_id, siblings)
    except Exception as exc:
        raise _validation_error(f"Drift detection failed for resource {logical_id}: "
                                f"{_failure_text(exc)}") from exc
    with _lock:
        state = _stacks.setdefault(stack.stack_id, StackDrift())
        state.results[logical_id] = result
        state.checked_at = result.timestamp
    return result


def stack_drift_information(stack: Any) -> dict[str, Any]:
    """``DriftInformation`` of a stack."""
    with _lock:
        state = _stacks.get(stack.stack_id)
        if state is None or state.checked_at is None:
            return {"StackDriftStatus": "NOT_CHECKED"}
        return {"StackDriftStatus": state.status(set(_stack_resources(stack))),
                "LastCheckTimestamp": state.checked_at}


def resource_drift_information(stack_id: str, logical_id: str) -> dict[str, Any]:
    """``DriftInformation`` of one stack resource."""
    with _lock:
        result = (_stacks.get(stack_id) or StackDrift()).results.get(logical_id)
    if result is None:
        return {"StackResourceDriftStatus": "NOT_CHECKED"}
    return {"StackResourceDriftStatus": result.status, "LastCheckTimestamp": result.timestamp}


def resource_drifts(stack: Any) -> list[ResourceDrift]:
    """The checked resources' last results (NOT_CHECKED ones are not included)."""
    current = _stack_resources(stack)
    with _lock:
        state = _stacks.get(stack.stack_id) or StackDrift()
        return [r for lid, r in sorted(state.results.items())
                if lid in current and r.status != "NOT_CHECKED"]


# --- the API -------------------------------------------------------------------------------------

def _handlers() -> dict[str, Any]:
    from moto.core.responses import ActionResult

    def detect_stack_drift_action(self: Any) -> Any:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        logical_ids = self._get_param("LogicalResourceIds") or None
        detection = detect_stack_drift(stack, self.current_account, self.region, logical_ids)
        return ActionResult({"StackDriftDetectionId": detection.detection_id})

    def describe_stack_drift_detection_status(self: Any) -> Any:
        detection_id = self._get_param("StackDriftDetectionId")
        with _lock:
            detection = _detections.get(detection_id)
            answer = detection.to_api() if detection is not None else None
        if answer is None:
            raise _validation_error(f"Drift detection with id {detection_id} does not exist.")
        return ActionResult(answer)

    def describe_stack_resource_drifts(self: Any) -> Any:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        filters = self._get_param("StackResourceDriftStatusFilters") or []
        found = [r.to_api(stack.stack_id) for r in resource_drifts(stack)
                 if not filters or r.status in filters]
        limit = int(self._get_param("MaxResults") or 100)
        start = int(self._get_param("NextToken") or 0)
        answer: dict[str, Any] = {"StackResourceDrifts": found[start:start + limit]}
        if start + limit < len(found):
            answer["NextToken"] = str(start + limit)
        return ActionResult(answer)

    def detect_stack_resource_drift(self: Any) -> Any:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        result = detect_resource_drift(stack, self.current_account, self.region,
                                       self._get_param("LogicalResourceId"))
        return ActionResult({"StackResourceDrift": result.to_api(stack.stack_id)})

    return {"detect_stack_drift": detect_stack_drift_action,
            "describe_stack_drift_detection_status": describe_stack_drift_detection_status,
            "describe_stack_resource_drifts": describe_stack_resource_drifts,
            "detect_stack_resource_drift": detect_stack_resource_drift}


def _with_resource_drift(original: Any) -> Any:
    """``ListStackResources`` with each summary's ``DriftInformation``."""

    def list_stack_resources(self: Any) -> Any:
        answer = original(self)
        result = getattr(answer, "result", None)
        if isinstance(result, dict):
            stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
            for summary in result.get("StackResourceSummaries") or []:
                summary["DriftInformation"] = resource_drift_information(
                    stack.stack_id, summary.get("LogicalResourceId", ""))
        return answer

    return list_stack_resources


def _patch_responses() -> None:
    from moto.cloudformation import responses

    for name, handler in _handlers().items():
        setattr(responses.CloudFormationResponse, name, handler)
    original = responses.CloudFormationResponse.list_stack_resources
    if not getattr(original, "_drlib_drift", False):
        wrapped = _with_resource_drift(original)
        wrapped._drlib_drift = True
        responses.CloudFormationResponse.list_stack_resources = wrapped  # type: ignore[method-assign]
    responses.StackResourceDTO.drift_information = property(  # type: ignore[attr-defined]
        lambda dto: resource_drift_information(dto.stack_id, dto.logical_resource_id or ""))


def _patch_models() -> None:
    from moto.cloudformation import models

    models.Stack.drift_information = property(stack_drift_information)  # type: ignore[attr-defined]


_installed = False


def install() -> None:
    """Add the drift APIs once moto's CloudFormation loads; forget every result on reset."""
    global _installed
    if _installed:
        return
    when_cloudformation_loaded(_patch_models)
    when_imported("moto.cloudformation.responses", _patch_responses)
    control.on_reset(_reset)
    _installed = True
