"""Stack updates as CloudFormation makes them: no empty updates, modified resources kept.

- **No empty update.** ``UpdateStack`` with the stack's own template, parameter values and tags
  is refused with ``ValidationError`` "No updates are to be performed." (what Sceptre and the
  AWS CLI treat as success). moto meant to (when the request has a template and parameters) but
  compared the given parameter text with its resolved values (a ``Number`` parameter is 7 there,
  "7" in the request), so every re-launch ran an update.
- **Modified resources are updated in place or refused, never lost.** moto replaced a resource
  whose type has no update handler by *nothing* (the stack forgot it; its outputs broke). Here:
  a type with an update handler is updated by it, with ``UPDATE_IN_PROGRESS`` and
  ``UPDATE_COMPLETE`` events; a handler that refuses (:class:`.cfn_lifecycle.UpdateRefused`, e.g.
  a custom-named resource that would need replacing) gives ``UPDATE_FAILED`` with the reason and
  the update rolls back (``UPDATE_ROLLBACK_COMPLETE``); any other error of a handler takes the
  path it took before (an SSM document handler's ``InvalidDocumentContent`` refuses the
  ``UpdateStack`` call itself, see :mod:`.ssm_automation`); a type without an update handler
  keeps its resource as it was (the change is not applied; drift detection reports it) and the
  stack event says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from drlib.emulator.extensions.cfn_hooks import when_cloudformation_loaded
from drlib.emulator.lazy_patch import when_imported
from drlib.emulator.patching import wrap_once

log = logging.getLogger(__name__)

NOT_APPLIED = ("The drlib emulator cannot update {type} in place; the resource keeps its "
               "previous properties (drift detection reports the difference).")


def _failures(resources_map: Any) -> dict[str, Exception]:
    found: dict[str, Exception] | None = getattr(resources_map, "drlib_update_failures", None)
    if found is None:
        found = {}
        resources_map.drlib_update_failures = found
    return found


def _started(resources_map: Any) -> set[str]:
    found: set[str] | None = getattr(resources_map, "drlib_update_started", None)
    if found is None:
        found = set()
        resources_map.drlib_update_started = found
    return found


def _updating(original: Any) -> Any:
    def parse_and_update_resource(logical_id: str, resource_json: dict[str, Any],
                                  resources_map: Any, account_id: str, region_name: str) -> Any:
        from moto.cloudformation.parsing import resource_class_from_type

        from drlib.emulator.extensions.cfn_lifecycle import (
            ResourceUpdateFailed,
            UpdateRefused,
            _stack_of,
            add_resource_event,
        )

        failures = _failures(resources_map)
        if logical_id in failures:
            raise failures[logical_id]  # moto retries a failed modification; it fails once
        resource_type = str(resource_json.get("Type", ""))
        previous = resources_map._parsed_resources.get(logical_id)
        physical_id = getattr(previous, "physical_resource_id", None)
        stack = _stack_of(resources_map)
        model = resource_class_from_type(resource_type)
        if model is None or hasattr(model.update_from_cloudformation_json,
                                    "__isabstractmethod__"):
            log.warning("stack %s: %s (%s) kept as it was: no update handler",
                        resources_map.stack_id, logical_id, resource_type)
            add_resource_event(stack, logical_id, resource_type, physical_id,
                               "UPDATE_COMPLETE", NOT_APPLIED.format(type=resource_type))
            return previous
        started = _started(resources_map)
        if logical_id not in started:  # moto retries a modification that raised
            started.add(logical_id)
            add_resource_event(stack, logical_id, resource_type, physical_id,
                               "UPDATE_IN_PROGRESS")
        try:
            updated = original(logical_id, resource_json, resources_map, account_id,
                               region_name)
        except UpdateRefused as exc:
            add_resource_event(stack, logical_id, resource_type, physical_id, "UPDATE_FAILED",
                               str(exc))
            failure = ResourceUpdateFailed(logical_id, str(exc))
            failures[logical_id] = failure
            raise failure from exc
        if updated is None:
            return previous
        add_resource_event(stack, logical_id, resource_type,
                           getattr(updated, "physical_resource_id", physical_id),
                           "UPDATE_COMPLETE")
        return updated

    return parse_and_update_resource


def _fresh_failures(original: Any) -> Any:
    def update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None
               ) -> None:
        self.drlib_update_failures = {}
        self.drlib_update_started = set()
        original(self, template, parameters)
    return update


def _text(value: Any) -> str:
    """A parameter value as CloudFormation's text (lists comma-joined, 7.0 as 7)."""
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _same_update(original: Any) -> Any:
    def validate_different_update(self: Any, incoming_params: list[dict[str, Any]] | None,
                                  stack_body: str, old_stack: Any) -> None:
        from moto.cloudformation.exceptions import ValidationError

        original(self, incoming_params, stack_body, old_stack)
        # moto's own check (UpdateStack with parameters and a template), comparing values as
        # text: it compared the request's "7" with its resolved 7 and never matched.
        if self._get_action() != "UpdateStack" or not incoming_params or not stack_body \
                or old_stack.template != stack_body:
            return
        # Values as given (an SSM parameter type's value is its parameter's name, not what it
        # resolved to), a missing one as its default.
        declared = (old_stack.template_dict or {}).get("Parameters") or {}
        previous = {**old_stack.stack_parameters,
                    **(old_stack.resource_map.input_parameters or {})}

        def effective(values: Mapping[str, Any]) -> dict[str, str]:
            return {k: _text(values[k]) if k in values else _text((d or {}).get("Default"))
                    for k, d in declared.items()}

        old = effective(old_stack.resource_map.input_parameters or {})
        new = effective(self._get_param_values(incoming_params, previous))
        tags = {t["Key"]: t["Value"] for t in self._get_param("Tags", []) or []}
        if new == old and \
                (not tags or tags == dict(old_stack.tags or {})):
            raise ValidationError(old_stack.name, message="No updates are to be performed.")
    return validate_different_update


def _patch_parsing() -> None:
    from moto.cloudformation import parsing

    wrap_once(parsing, "parse_and_update_resource", _updating, "_drlib_updates")
    wrap_once(parsing.ResourceMap, "update", _fresh_failures, "_drlib_update_failures")


def _patch_responses() -> None:
    from moto.cloudformation.responses import CloudFormationResponse

    wrap_once(CloudFormationResponse, "_validate_different_update", _same_update,
              "_drlib_same_update")


def install() -> None:
    """Patch moto's update path once its CloudFormation engine loads."""
    when_cloudformation_loaded(_patch_parsing)
    when_imported("moto.cloudformation.responses", _patch_responses)
