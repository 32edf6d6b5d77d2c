"""The fault control API over HTTP: ``/_drlib/faults`` (see :mod:`drlib.emulator.faults`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drlib.emulator import control, faults

_ACTIONS: dict[str, tuple[Callable[..., faults.FaultEvent], tuple[str, ...]]] = {
    "pause-replication": (faults.pause_replication, ("store",)),
    "resume-replication": (faults.resume_replication, ("store",)),
    "set-delay": (faults.set_replication_delay, ("store", "seconds")),
    "region-down": (faults.take_region_down, ("region",)),
    "region-up": (faults.bring_region_up, ("region",)),
    "fail-health-check": (faults.fail_health_check, ("health_check_id",)),
    "restore-health-check": (faults.restore_health_check, ("health_check_id",)),
    "clear": (faults.clear, ()),
}


def apply_fault(body: dict[str, Any]) -> faults.FaultEvent:
    """Apply ``{"action": ..., <arguments>}``; raises ControlError naming what is missing."""
    action = body.get("action")
    if action not in _ACTIONS:
        raise control.ControlError(
            f"unknown fault action {action!r}; expected one of {', '.join(_ACTIONS)}")
    func, names = _ACTIONS[action]
    missing = [n for n in names if n not in body]
    if missing:
        raise control.ControlError(f"fault action {action} needs {', '.join(missing)}")
    try:
        return func(*(body[n] for n in names))
    except (TypeError, ValueError) as exc:
        raise control.ControlError(f"fault action {action}: {exc}") from exc


def install() -> None:
    """Register GET/POST /_drlib/faults and clear faults on reset."""

    @control.route("GET", "/_drlib/faults")
    def get_faults(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        return faults.snapshot()

    @control.route("POST", "/_drlib/faults")
    def post_fault(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        event = apply_fault(body)
        return {"event": {"at": event.at, "action": event.action, "target": event.target,
                          "detail": event.detail}, "faults": faults.snapshot()}

    control.on_reset(faults.reset)
