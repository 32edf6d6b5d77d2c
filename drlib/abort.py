"""Abort to a coherent state: DNS follows the writer.

The rule (README, Guardrails): whatever step failed or was interrupted, the abort path stops the
canaries, lifts the faults the drill injected, then finds the global database's writer and moves
the application's DNS to the writer's region (the primary health check inverted when the writer is
in the secondary, restored when it is in the primary). It never moves the writer: a half-done
switchover is left to AWS to finish, and the writer is located once the global database is
available again. When the writer cannot be located within its bound, DNS is left where it is and
the state says so (``coherent: false``). Either way :class:`SystemState` says where the writer and
DNS are and the one command that returns the system to the primary
(:func:`return_command`), on the console and in ``metrics.json`` (``state_after``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from drlib.errors import DrError
from drlib.timings import Timings, bound, read_timings
from drlib.waiting import wait_until

log = logging.getLogger(__name__)


def return_command(environment: str, target: str) -> str:
    """The one command that returns writer, DNS and app tier to the primary region."""
    return f"drlib failback --env {environment} --target {target}"


@dataclass
class SystemState:
    """Where the writer and DNS are after an abort, and how to get back to the primary."""

    writer_region: str | None
    dns_region: str | None
    primary_region: str
    return_command: str
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def coherent(self) -> bool:
        return self.writer_region is not None and self.writer_region == self.dns_region

    @property
    def in_primary(self) -> bool:
        return self.coherent and self.writer_region == self.primary_region

    def to_metrics(self) -> dict[str, Any]:
        return {"writer_region": self.writer_region, "dns_region": self.dns_region,
                "coherent": self.coherent, "in_primary": self.in_primary,
                "return_command": None if self.in_primary else self.return_command,
                "actions": self.actions}

    def line(self) -> str:
        """The console line: where the system is, and the command back."""
        where = (f"writer in {self.writer_region or 'UNKNOWN'}, DNS answers "
                 f"{self.dns_region or 'UNKNOWN'}")
        if self.in_primary:
            return f"system: {where} (the primary region; nothing to do)"
        if self.coherent:
            return f"system: {where}; to return to the primary run: {self.return_command}"
        return (f"system: {where} (NOT coherent: check the global database and the primary "
                f"health check); to return to the primary run: {self.return_command}")


def locate_writer(clients: Any, workload: Any, timeout: float) -> str | None:
    """The writer's region once the global database is available (asked in either region, as
    either may be down); None when it is not available within ``timeout``."""
    from drlib.drill import writer_region

    def probe() -> str | None:
        for region in (workload.regions.secondary, workload.regions.primary):
            try:
                found = writer_region(clients, workload, region)
            except Exception as exc:  # a downed region's API: ask the other one
                log.info("writer lookup in %s failed: %s", region, exc)
                continue
            if found:
                return found
        return None

    try:
        return wait_until(probe, description="the global database's writer", timeout=timeout,
                          interval=0.2, max_interval=5)
    except DrError:
        return None


def active_region(clients: Any, workload: Any) -> Any:
    """Where the application's name points, as a client resolves it (the drill's resolver,
    :func:`drlib.drill.client_resolver`; a fresh cache, so the answer is the current one)."""
    from drlib.drill import client_resolver

    return client_resolver(workload)


def align_dns_with_writer(clients: Any, workload: Any, target_name: str,
                          timings: Timings | None = None) -> SystemState:
    """Locate the writer, point DNS at its region, wait for the answer (bounded); never
    raises (what failed is in ``actions``)."""
    timings = timings or read_timings(clients, workload)
    regions = workload.regions
    state = SystemState(None, None, regions.primary,
                        return_command(workload.environment, target_name))
    state.writer_region = locate_writer(clients, workload, bound(timings.global_db_move_s))
    try:
        active = active_region(clients, workload)
    except Exception as exc:
        state.actions.append({"action": "read DNS", "error": str(exc)[:300]})
        return state
    if state.writer_region is None:
        state.actions.append({"action": "align DNS with the writer",
                              "error": "writer unknown: DNS left where it is"})
    elif workload.primary.health_check_id:
        inverted = state.writer_region == regions.secondary
        try:
            clients.client("route53", regions.primary).update_health_check(
                HealthCheckId=workload.primary.health_check_id, Inverted=inverted)
            state.actions.append({"action": "primary health check inverted" if inverted
                                  else "primary health check restored",
                                  "health_check": workload.primary.health_check_id})
            writer = state.writer_region
            wait_until(lambda: _resolve(active) == writer,
                       description=f"{workload.app_dns_name} to answer with {writer}",
                       timeout=bound(timings.dns_move_s), interval=0.2, max_interval=5)
        except Exception as exc:
            state.actions.append({"action": "align DNS with the writer",
                                  "error": str(exc)[:300]})
    state.dns_region = _resolve(active)
    return state


def _resolve(active: Any) -> str | None:
    try:
        region = active.resolve()
        return None if region is None else str(region)
    except Exception as exc:
        log.info("DNS answer unavailable: %s", exc)
        return None


def settle_after_interrupt(target: Any, workload: Any, scenario: str) -> SystemState:
    """The runner's abort path when a notebook was interrupted or killed: first stop every
    execution of the workload's DR runbooks still running (a killed notebook could not, and a
    runbook left running would go on moving the writer or DNS after the abort), lift the
    disaster an unplanned failover injects (idempotent), then align DNS with the writer."""
    from drlib.runbook import stop_running

    lifted: list[dict[str, Any]] = []
    try:
        stopped = stop_running(target.clients, workload)
        lifted.append({"action": "stop runbooks left running", "stopped": stopped})
    except Exception as exc:  # its region down: say how to stop them; settle what can be
        lifted.append({"action": "stop runbooks left running", "error": str(exc)[:300]})
    if scenario == "unplanned-failover":
        try:
            done = target.disaster.restore(workload.regions.primary,
                                           [c for c in [workload.primary.health_check_id] if c])
            lifted.append({"action": "lift the injected disaster", "done": done})
        except Exception as exc:
            lifted.append({"action": "lift the injected disaster", "error": str(exc)[:300]})
    state = align_dns_with_writer(target.clients, workload, target.name)
    state.actions[:0] = lifted
    return state
