"""Stack life cycle as CloudFormation runs it: resource events, rollback, ordered deletion.

moto creates resources without per-resource events, leaves a stack ``CREATE_IN_PROGRESS`` (or
answers HTTP 500) when a resource fails, and deletes in arbitrary order, so a network stack's VPC
can survive ``delete_stack`` with a ``DependencyViolation``. Here:

- every resource gets ``CREATE_IN_PROGRESS`` then ``CREATE_COMPLETE`` or ``CREATE_FAILED`` (with
  the reason) events, and the order resources were created in is recorded; properties are first
  checked against the type's registry schema (:mod:`drlib.emulator.cfn_schema`), and a reason is
  always worded as CloudFormation's, never as the Python error inside moto;
- a failed creation rolls the stack back: what was created is deleted in reverse order and the
  stack ends ``ROLLBACK_COMPLETE``; ``create_stack`` itself still succeeds, as on AWS;
- a failed update (a new resource fails to create) rolls back: the resources it added are
  deleted, the stack keeps its previous template and parameters, and ends
  ``UPDATE_ROLLBACK_COMPLETE``. moto applies modifications before additions and they are not
  undone (CloudFormation would restore them);
- resources an update removes are deleted after the rest of the update succeeded (the clean-up
  phase), so a failed update never lost them and a later ``delete_stack`` does not meet them;
- ``delete_stack`` deletes in reverse creation order (then retries what a dependency held), skips
  ``DeletionPolicy: Retain`` (``Snapshot`` makes a final snapshot of an Aurora cluster), and
  ends ``DELETE_COMPLETE`` or, if something cannot go, ``DELETE_FAILED`` with the stack kept;
- stack operations (create, update, delete, a change set's execution) change resources one at
  a time (:mod:`drlib.emulator.stack_operations`: moto's models are not thread-safe).
"""

from __future__ import annotations

import logging
from typing import Any

from drlib.emulator.cfn_schema import (
    INTERNAL_FAILURE,
    missing_properties,
    properties_failure,
    schema_problems,
)
from drlib.emulator.extensions.cfn_hooks import when_cloudformation_loaded
from drlib.emulator.stack_operations import one_at_a_time

log = logging.getLogger(__name__)

_originals: dict[str, Any] = {}


class ResourceCreationFailed(Exception):
    """A resource of the stack failed to create; carries its logical id and the reason."""

    action = "create"

    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id = logical_id
        self.reason = reason


class ResourceUpdateFailed(ResourceCreationFailed):
    """A resource of the stack failed to update (see :mod:`.cfn_updates`)."""

    action = "update"


class UpdateRefused(Exception):
    """Raised by a model's update handler for an update CloudFormation would refuse; its text is
    the stack event's reason."""


def is_service_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an AWS API error (moto's or drlib's), not a Python failure."""
    from moto.core.exceptions import ServiceException, _RESTError

    from drlib.errors import DrError

    return isinstance(exc, ServiceException | _RESTError | DrError | ResourceCreationFailed)


def failure_reason(exc: BaseException) -> str:
    """An API error's message as a stack event shows it; CloudFormation's "Internal Failure"
    for a Python error inside moto (its text means nothing to a template's author)."""
    if not is_service_error(exc):
        log.debug("resource handler failed with a Python error", exc_info=exc)
        return INTERNAL_FAILURE
    message = getattr(exc, "message", None) or getattr(exc, "description", None) or str(exc)
    code = getattr(exc, "error_type", None) or getattr(exc, "code", None)
    if isinstance(code, str) and code and code not in str(message):
        return f"{message} (Service error code: {code})"
    return str(message) or type(exc).__name__


def creation_failure_reason(logical_id: str, resource_type: str, exc: BaseException) -> str:
    """Why a resource failed to create, as CloudFormation words it: a property a moto model
    missed (``KeyError``, a missing argument) is the schema's required key."""
    if not is_service_error(exc):
        missing = missing_properties(resource_type, exc)
        if missing:
            return properties_failure(logical_id,
                                      [f"#: required key [{name}] not found" for name in missing])
    return failure_reason(exc)


def _stack_of(resources_map: Any) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[resources_map._account_id][resources_map._region_name]
    return backend.stacks.get(resources_map.stack_id)


def add_resource_event(stack: Any, logical_id: str, resource_type: str, physical_id: str | None,
                       status: str, reason: str | None = None) -> None:
    """Append one resource event to ``stack`` (no-op when the stack is not registered)."""
    from moto.cloudformation.models import Event

    if stack is None:
        return
    stack.events.append(Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id=physical_id or "", resource_type=resource_type,
        resource_status=status, resource_status_reason=reason, resource_properties=None))


def created_order(resources_map: Any) -> list[str]:
    """Logical ids in the order their resources were created (kept on the resource map)."""
    order: list[str] | None = getattr(resources_map, "drlib_created_order", None)
    if order is None:
        order = []
        resources_map.drlib_created_order = order
    return order


def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
                              account_id: str, region_name: str) -> Any:
    """moto's resource creation, with events, failure capture and the creation order."""
    resource_type = resource_json.get("Type", "")
    condition = resource_json.get("Condition")
    if not condition or resources_map.lazy_condition_map[condition]:
        problems = schema_problems(resource_type, resource_json.get("Properties"))
        if problems:  # CloudFormation validates before any handler runs: no IN_PROGRESS
            reason = properties_failure(logical_id, problems)
            add_resource_event(_stack_of(resources_map), logical_id, resource_type, None,
                               "CREATE_FAILED", reason)
            raise ResourceCreationFailed(logical_id, reason)
    try:
        resource = _originals["parse_and_create_resource"](
            logical_id, resource_json, resources_map, account_id, region_name)
    except ResourceCreationFailed:
        raise  # a dependency failed; that resource already has its CREATE_FAILED event
    except Exception as exc:
        reason = creation_failure_reason(logical_id, resource_type, exc)
        # The event says what CloudFormation would; the log keeps moto's Python error.
        log.warning("stack %s: %s (%s) failed to create: %s", resources_map.stack_id, logical_id,
                    resource_type, reason, exc_info=None if is_service_error(exc) else exc)
        stack = _stack_of(resources_map)
        add_resource_event(stack, logical_id, resource_type, None, "CREATE_IN_PROGRESS")
        add_resource_event(stack, logical_id, resource_type, None, "CREATE_FAILED", reason)
        raise ResourceCreationFailed(logical_id, reason) from exc
    if resource is not None:
        stack = _stack_of(resources_map)
        physical_id = getattr(resource, "physical_resource_id", None)
        add_resource_event(stack, logical_id, resource_type, physical_id, "CREATE_IN_PROGRESS")
        add_resource_event(stack, logical_id, resource_type, physical_id, "CREATE_COMPLETE")
        created_order(resources_map).append(logical_id)
    return resource


def delete_resources(resources_map: Any, stack: Any, only: list[str] | None = None,
                     json_map: dict[str, Any] | None = None) -> list[str]:
    """Delete the stack's resources (or ``only`` those, described by ``json_map``), newest
    first; returns the logical ids that could not go."""
    parsed = resources_map._parsed_resources
    json_map = resources_map._resource_json_map if json_map is None else json_map
    wanted = set(json_map if only is None else only) & set(json_map)
    order = [lid for lid in reversed(created_order(resources_map))
             if lid in parsed and lid in wanted]
    order += [lid for lid, res in parsed.items()
              if lid in wanted and lid not in order and res is not None
              and not isinstance(res, (str, int, float, list, dict))]
    remaining = []
    for lid in order:
        if (json_map.get(lid) or {}).get("DeletionPolicy") == "Retain":
            add_resource_event(stack, lid, json_map[lid]["Type"],
                               getattr(parsed[lid], "physical_resource_id", None), "DELETE_SKIPPED")
            parsed.pop(lid)
        else:
            remaining.append(lid)
    errors: dict[str, str] = {}
    progress = True
    while remaining and progress:
        progress = False
        for lid in list(remaining):
            resource = parsed[lid]
            resource_type = json_map.get(lid, {}).get("Type", "")
            physical_id = getattr(resource, "physical_resource_id", None)
            if (json_map.get(lid) or {}).get("DeletionPolicy") == "Snapshot":
                resource.drlib_final_snapshot = True  # models that can snapshot read this
            try:
                resources_map._delete_resource(resource, json_map[lid])
            except Exception as exc:  # a dependency still holds it: retry after the others
                errors[lid] = failure_reason(exc)
                continue
            add_resource_event(stack, lid, resource_type, physical_id, "DELETE_IN_PROGRESS")
            add_resource_event(stack, lid, resource_type, physical_id, "DELETE_COMPLETE")
            parsed.pop(lid)
            remaining.remove(lid)
            errors.pop(lid, None)
            progress = True
    for lid in remaining:
        add_resource_event(stack, lid, json_map[lid]["Type"],
                           getattr(parsed[lid], "physical_resource_id", None), "DELETE_FAILED",
                           errors.get(lid))
    order_list = created_order(resources_map)
    order_list[:] = [lid for lid in order_list if lid in parsed]
    return remaining


def resource_map_update(self: Any, template: dict[str, Any],
                        parameters: dict[str, Any] | None = None) -> None:
    """``ResourceMap.update`` with CloudFormation's clean-up phase.

    moto deletes the resources an update removes first, and keeps them in the resource map, so
    a later ``delete_stack`` meets logical ids its template no longer has (HTTP 500). As
    CloudFormation does, removed resources are deleted only after the additions and
    modifications succeeded (``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS``), newest first, with
    events, and leave the map; one that cannot be deleted gets ``DELETE_FAILED`` and is no
    longer the stack's, as on AWS.
    """
    old_json = self._resource_json_map
    removed = [lid for lid in old_json if lid not in (template.get("Resources") or {})]
    kept = {lid: v for lid, v in old_json.items() if lid not in removed}
    self._resource_json_map = kept
    try:
        _originals["resource_map_update"](self, template, parameters)
    except Exception:
        # Failed before moto took the new template: the old one stands. After that, the new
        # map stays so the rollback (:func:`guarded_update`) can delete what was added.
        if self._resource_json_map is kept:
            self._resource_json_map = old_json
        raise
    if not removed:
        return
    stack = _stack_of(self)
    if stack is not None:
        stack._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    left = delete_resources(self, stack, only=removed, json_map=old_json)
    for lid in removed:
        self._parsed_resources.pop(lid, None)
    order = created_order(self)
    order[:] = [lid for lid in order if lid not in removed]
    if left:
        log.warning("stack %s: resources removed by the update could not be deleted: %s",
                    self.stack_id, left)


def roll_back(stack: Any, failure: ResourceCreationFailed | Exception) -> None:
    """Undo a failed creation: delete what was made, newest first; ROLLBACK_COMPLETE/FAILED."""
    failed = failure.logical_id if isinstance(failure, ResourceCreationFailed) else None
    reason = (f"The following resource(s) failed to create: [{failed}]. "
              "Rollback requested by user." if failed else failure_reason(failure))
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    left = delete_resources(stack.resource_map, stack)
    stack.status = "ROLLBACK_FAILED" if left else "ROLLBACK_COMPLETE"
    stack._add_stack_event(stack.status, resource_status_reason=(
        f"Resources that could not be deleted: {left}" if left else None))
    log.info("stack %s rolled back (%s): %s", stack.name, stack.status, reason)


def create_stack(self: Any, name: str, template: str, parameters: dict[str, Any],
                 notification_arns: list[str] | None = None, tags: dict[str, str] | None = None,
                 role_arn: str | None = None, enable_termination_protection: bool | None = False,
                 timeout_in_mins: int | None = None, stack_policy_body: str | None = None) -> Any:
    """moto's ``create_stack`` with rollback on a resource failure instead of a 500."""
    from moto.cloudformation.exceptions import AlreadyExistsException
    from moto.cloudformation.models import Stack
    from moto.cloudformation.utils import generate_stack_id

    if name in [stack.name for stack in self.stacks.values()]:
        raise AlreadyExistsException(f"Stack {name} already exists")
    stack_id = generate_stack_id(name, self.region_name, self.account_id)
    stack = Stack(stack_id=stack_id, name=name, template=template, parameters=parameters,
                  account_id=self.account_id, region_name=self.region_name,
                  notification_arns=notification_arns, tags=tags, role_arn=role_arn,
                  cross_stack_resources=self.exports,
                  enable_termination_protection=enable_termination_protection,
                  timeout_in_mins=timeout_in_mins, stack_policy_body=stack_policy_body)
    self.stacks[stack_id] = stack
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    try:
        stack.status = "CREATE_IN_PROGRESS"
        stack.create_resources()
        self._validate_export_uniqueness(stack)
        exports = stack.exports
    except Exception as exc:
        roll_back(stack, exc)
        return stack
    for export in exports:
        self.exports[export.name] = export
    return stack


def guarded_update(stack: Any, apply: Any) -> bool:
    """Run ``apply`` (an update of ``stack``); on a resource failure roll the update back.

    Returns True when the update went through, False when it was rolled back.
    """
    resource_map = stack.resource_map
    saved = (stack.template, stack.template_dict, stack.parameters, resource_map._template,
             resource_map._resource_json_map, resource_map.input_parameters,
             dict(resource_map.resolved_parameters))
    mark = len(created_order(resource_map))
    try:
        apply()
    except ResourceCreationFailed as failure:
        reason = (f"The following resource(s) failed to {failure.action}: "
                  f"[{failure.logical_id}]. Update rollback requested.")
        stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
        added = created_order(resource_map)[mark:]
        del created_order(resource_map)[mark:]
        _delete_added(resource_map, stack, added)
        (stack.template, stack.template_dict, stack.parameters, resource_map._template,
         resource_map._resource_json_map, resource_map.input_parameters, resolved) = saved
        resource_map.resolved_parameters.clear()
        resource_map.resolved_parameters.update(resolved)
        # References resolve through the parsed map, which holds the parameters and conditions:
        # the previous values, or later Refs (outputs, drift) would see the rolled-back ones.
        resource_map._parsed_resources.update(resolved)
        resource_map.load_conditions()
        stack.output_map = stack._create_output_map()
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        log.info("stack %s: update rolled back: %s", stack.name, failure)
        return False
    return True


def _delete_added(resource_map: Any, stack: Any, added: list[str]) -> None:
    json_map = resource_map._resource_json_map
    for lid in reversed(added):
        resource = resource_map._parsed_resources.pop(lid, None)
        if resource is None:
            continue
        resource_type = json_map.get(lid, {}).get("Type", "")
        physical_id = getattr(resource, "physical_resource_id", None)
        try:
            resource_map._delete_resource(resource, json_map[lid])
        except Exception as exc:
            add_resource_event(stack, lid, resource_type, physical_id, "DELETE_FAILED",
                               failure_reason(exc))
            continue
        add_resource_event(stack, lid, resource_type, physical_id, "DELETE_COMPLETE")


def stack_update(self: Any, template: str, role_arn: str | None = None,
                 parameters: dict[str, Any] | None = None,
                 tags: dict[str, str] | None = None) -> None:
    """``Stack.update`` that rolls back a failed update instead of answering HTTP 500."""
    original = _originals["stack_update"]
    guarded_update(self, lambda: original(self, template, role_arn, parameters, tags))


def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    """moto's ``execute_change_set``; a failed change set rolls its stack back."""
    change_set = self.change_sets.get(change_set_name) or next(
        (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name), None)
    if change_set is None:
        return _originals["execute_change_set"](self, change_set_name, stack_name)
    if change_set.change_set_type != "CREATE":
        stack = self.stacks[change_set.stack_id]
        original = _originals["execute_change_set"]
        if not guarded_update(stack, lambda: original(self, change_set_name, stack_name)):
            change_set.execution_status = "EXECUTE_FAILED"
        return None
    stack = self.stacks[change_set.stack_id]
    stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    stack.status = "CREATE_IN_PROGRESS"
    try:
        change_set.apply()
    except Exception as exc:
        change_set.execution_status = "EXECUTE_FAILED"
        roll_back(stack, exc)
        return None
    stack._add_stack_event("CREATE_COMPLETE")
    change_set.execution_status = "EXECUTE_COMPLETE"
    stack.status = "CREATE_COMPLETE"
    stack.template = change_set.template
    return None


def resource_map_delete(self: Any) -> None:
    """``ResourceMap.delete``: newest first, retries, raises if anything is left."""
    from moto.cloudformation.exceptions import ValidationError

    stack = _stack_of(self)
    left = delete_resources(self, stack)
    if left:
        raise ValidationError(message=f"Resources that could not be deleted: {left}")


def delete_stack(self: Any, name_or_stack_id: str) -> None:
    """moto's ``delete_stack``; a stack whose resources cannot all go stays, DELETE_FAILED."""
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in list(self.stacks.values()) if s.name == name_or_stack_id), None)
    if stack is None:
        return
    stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
    stack.status = "DELETE_IN_PROGRESS"
    # Not stack.exports: evaluating outputs would recreate resources a rollback removed. A copy:
    # Sceptre deletes the stacks of a level at once, and each delete removes its exports.
    export_names = [n for n, e in list(self.exports.items())
                    if e.exporting_stack_id == stack.stack_id]
    left = delete_resources(stack.resource_map, stack)
    if left:
        stack.status = "DELETE_FAILED"
        stack._add_stack_event("DELETE_FAILED", resource_status_reason=(
            f"The following resource(s) failed to delete: {left}."))
        return
    stack._add_stack_event("DELETE_COMPLETE")
    stack.status = "DELETE_COMPLETE"
    self.stacks.pop(stack.stack_id, None)
    self.deleted_stacks[stack.stack_id] = stack
    for export_name in export_names:
        self.exports.pop(export_name, None)


def stack_resources(self: Any) -> list[Any]:
    """The resources the stack holds now (moto's lazy map would create missing ones)."""
    resource_map = self.resource_map
    return [resource for lid, resource in resource_map._parsed_resources.items()
            if lid in resource_map._resource_json_map and resource is not None]


def stack_outputs(self: Any) -> list[dict[str, Any]] | None:
    """Outputs, but none for a stack rolled back or deleted (its resources are gone)."""
    if self.status.startswith(("ROLLBACK", "DELETE")):
        return None
    return _originals["outputs"].fget(self)  # type: ignore[no-any-return]


def _patch() -> None:
    from moto.cloudformation import models, parsing

    if _originals:
        return
    _originals["parse_and_create_resource"] = parsing.parse_and_create_resource
    _originals["execute_change_set"] = models.CloudFormationBackend.execute_change_set
    _originals["stack_update"] = models.Stack.update
    _originals["resource_map_update"] = parsing.ResourceMap.update
    parsing.ResourceMap.update = resource_map_update  # type: ignore[method-assign]
    models.Stack.update = one_at_a_time(stack_update)  # type: ignore[method-assign]
    parsing.parse_and_create_resource = parse_and_create_resource
    models.CloudFormationBackend.create_stack = one_at_a_time(create_stack)  # type: ignore[method-assign]
    models.CloudFormationBackend.execute_change_set = one_at_a_time(execute_change_set)  # type: ignore[method-assign]
    models.CloudFormationBackend.delete_stack = one_at_a_time(delete_stack)  # type: ignore[method-assign]
    parsing.ResourceMap.delete = resource_map_delete  # type: ignore[method-assign]
    _originals["outputs"] = models.Stack.outputs
    models.Stack.stack_resources = property(stack_resources)  # type: ignore[assignment,method-assign]
    models.Stack.outputs = property(stack_outputs)  # type: ignore[assignment,method-assign]


def install() -> None:
    """Patch moto's stack life cycle once its CloudFormation engine loads."""
    when_cloudformation_loaded(_patch)
