"""A real event is not a drill: ``drlib failover`` runs the unplanned-failover runbook for an
incident.

The same runbook the drill drills (:mod:`drlib.runbook`), started in the secondary region, with
no canaries, no injected disaster and no failback. Before anything starts: the environment's
settings (:meth:`~drlib.stacks.SceptreProject.check_settings`), the evidence folder, and
credentials in the secondary region only (the primary region may be down; nothing here calls
it). Every run leaves a sealed evidence folder ``outputs/<UTC timestamp>_<env>_failover/`` with
``incident.json``: who started it, when, the execution's parameters and every step execution with
AWS's times, outcomes and messages, and where the writer is afterwards; sealed with
:func:`drlib.evidence.finalize_run` like a drill's, also when the runbook failed.

Like a drill, it acts only while holding the environment's lock (:mod:`drlib.drill_lock`, the
item in the workload's table, read in the secondary region): while a drill (or another failover)
holds it the failover is refused before anything starts, naming the holder and how to free it
(a holder on this host whose process is gone is taken over at once, as a drill does). The lock is
renewed while the failover runs and released on every path (completed, failed, interrupted).

docs/oncall-failover.md is the page an on-call engineer follows, with or without drlib.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drlib.errors import ConfigError, DrError
from drlib.workload import RUNBOOK_OUTPUTS

log = logging.getLogger(__name__)

PURPOSE = "unplanned-failover"
SCENARIO = "failover"
"""The run folder's scenario label: an incident, not a drill scenario."""
RUNBOOK_BOUND_S = 3600.0
"""How long drlib follows the execution. The runbook bounds each of its own steps (its
WaitForFailover allows 30 minutes); past this drlib stops watching but does NOT stop the
runbook: in an incident a slow failover must be left to finish."""


@dataclass(frozen=True)
class FailoverRequest:
    """What ``drlib failover`` was asked to do."""

    environment: str
    target: str = "local"
    confirmed: bool = False
    outputs_dir: Path = Path("outputs")
    require_approval: bool = False
    """Leave the decision to the runbook's approvers (its aws:approve step) instead of the
    person running the command."""


@dataclass
class FailoverResult:
    """The outcome of ``drlib failover``."""

    run_dir: Path
    status: str  # completed | failed
    record: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "completed" else 2


def require_confirmation(request: FailoverRequest, ask: Callable[[str], str] | None) -> None:
    """Refuse unless the person confirmed: ``--yes`` (required in prod), or typing the
    environment's name at the prompt (dev and staging, on a terminal)."""
    if request.confirmed:
        return
    if request.environment == "prod" or ask is None:
        raise ConfigError(f"A failover of {request.environment} needs explicit confirmation",
                          expected="--yes" + (" (required in prod)"
                                              if request.environment == "prod" else ""),
                          found="no confirmation",
                          fix=f"re-run with --yes once the incident commander decided: drlib "
                              f"failover --env {request.environment} --target "
                              f"{request.target} --yes")
    answer = ask(f"Fail over {request.environment} to the secondary region (writes not yet "
                 f"replicated are lost)? Type the environment name to confirm: ")
    if answer.strip() != request.environment:
        raise ConfigError("Failover not confirmed", expected=request.environment,
                          found=repr(answer.strip()), fix="nothing was changed; run again")


def preflight_failover(request: FailoverRequest) -> Any:
    """The environment's settings, the evidence folder and the target's endpoint setting, all
    reported at once; returns the Sceptre project."""
    from drlib.preflight import check_endpoint, check_outputs_dir
    from drlib.stacks import SceptreProject

    project = SceptreProject(request.environment)
    extra = check_outputs_dir(request.outputs_dir) + check_endpoint(request.target)
    project.check_settings(extra)
    return project


@dataclass(frozen=True)
class _Secondary:
    """Just what the failover needs, read from the secondary region only."""

    environment: str
    regions: Any
    runbooks: Mapping[str, str]
    table_name: str
    """The workload's global table: the environment's lock lives in it."""


def secondary_table(environment: str, outputs: Mapping[str, Mapping[str, str]]) -> str:
    """The workload's table as the secondary stacks name it (their app stack's output)."""
    for path, values in sorted(outputs.items()):
        if path.startswith("secondary/") and values.get("TableName"):
            return str(values["TableName"])
    raise ConfigError("The secondary stacks name no TableName: the environment's lock cannot be "
                      "checked, so the failover does not start",
                      expected="the TableName output of the secondary app stack",
                      found=", ".join(sorted(k for p, o in outputs.items()
                                             if p.startswith("secondary/") for k in o))
                      or "no outputs",
                      fix=f"deploy the secondary stack group (drlib stacks launch --env "
                          f"{environment} --group secondary), then retry")


def take_lock(target: Any, workload: _Secondary, run_id: str, owner: str) -> Any:
    """Acquire the environment's lock for this failover (with its heartbeat); raises
    :class:`DrError` naming the holder while a drill or another failover holds it. A holder on
    this host whose process is gone is taken over at once."""
    from drlib.drill import environment_lock
    from drlib.drill_lock import LockKeeper
    from drlib.run_guard import free_dead_holder

    keeper = LockKeeper(environment_lock(target.clients, workload.environment,
                                         workload.regions.secondary, workload.table_name,
                                         run_id, owner))
    try:
        keeper.take()
        return keeper
    except DrError as exc:
        if free_dead_holder(keeper.lock, workload.environment) is not None:
            keeper.take()
            return keeper
        env = workload.environment
        raise DrError(
            f"Failover refused: {exc.message}",
            expected=f"no drill or other failover holding the {env} lock",
            found=exc.found,
            fix=(f"a drill is acting on {env}: stop it (Ctrl-C in its terminal runs its abort "
                 f"path, which releases the lock), or, if its process is gone, `drlib lock "
                 f"release --env {env}`; then run this failover again. `drlib lock status "
                 f"--env {env}` shows the holder"),
            data=exc.data) from exc


def secondary_runbooks(outputs: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The procedure runbooks named by the secondary stacks' outputs."""
    found: dict[str, str] = {}
    for path, values in sorted(outputs.items()):
        if not path.startswith("secondary/"):
            continue
        for purpose, key in RUNBOOK_OUTPUTS.items():
            if values.get(key):
                found[purpose] = values[key]
    return found


def describe_failover(environment: str, target: str) -> str:
    """What ``drlib failover`` (or notebook 60) would do, from the var file only (no AWS call):
    the runbook, where it runs, and how to run it with no drlib at all."""
    from drlib.stacks import SceptreProject
    from drlib.workload import project_regions

    variables = SceptreProject(environment).variables
    regions = project_regions(variables)
    runbook = f"{variables.get('company_name', 'acme')}-{environment}-dr-{PURPOSE}"
    return "\n".join([
        f"plan: real-incident failover of {environment} ({target}) - not a drill",
        f"  runbook {runbook} (SSM Automation) in {regions.secondary}; nothing calls "
        f"{regions.primary}",
        "  no canaries, no injected disaster, no failback; evidence sealed in "
        f"outputs/<UTC time>_{environment}_{SCENARIO}/incident.json",
        "  without drlib: aws ssm start-automation-execution --region "
        f"{regions.secondary} --document-name {runbook} --parameters RequireApproval=false",
        "  the on-call page: docs/oncall-failover.md",
    ])


def run_failover(request: FailoverRequest, *, ask: Callable[[str], str] | None = None,
                 progress: Callable[[str], None] = print) -> FailoverResult:
    """Preflight, confirm, take the environment's lock, start the failover runbook, follow it,
    record and seal; the lock is released on every path."""
    from drlib.preflight import require_target_access
    from drlib.runner import new_run_dir
    from drlib.targets import open_target
    from drlib.workload import project_regions

    if request.environment == "prod":
        require_confirmation(request, None)  # --yes first: prod never prompts
    project = preflight_failover(request)
    require_confirmation(request, ask)
    regions = project_regions(project.variables)
    target = open_target(request.target, regions)
    require_target_access(target.clients, [regions.secondary], request.target)
    # Only the secondary region's stacks: the primary region may be the one that is down.
    outputs = project.outputs("secondary", within=True)
    workload = _Secondary(environment=request.environment, regions=regions,
                          runbooks=secondary_runbooks(outputs),
                          table_name=secondary_table(request.environment, outputs))

    run_dir = new_run_dir(request.outputs_dir, request.environment, SCENARIO)
    identity = _identity(target.clients, regions.secondary)
    owner = f"{(identity or {}).get('Arn', 'unknown')} (drlib failover: a real incident)"
    try:
        keeper = take_lock(target, workload, run_dir.name, owner)
    except BaseException:
        run_dir.rmdir()  # refused: no run folder, nothing started
        raise
    from drlib.run_marker import write_marker

    try:
        # As a drill's: a failover killed mid-way (kill -9) is then sealed as crashed later.
        write_marker(run_dir, environment=request.environment, scenario=SCENARIO,
                     target=request.target, parameters={
                         "environment": request.environment, "target": request.target,
                         "require_approval": request.require_approval})
        return _run_locked(request, target, workload, run_dir, identity, keeper, progress)
    finally:
        keeper.release()


def _run_locked(request: FailoverRequest, target: Any, workload: _Secondary, run_dir: Path,
                identity: dict[str, Any] | None, keeper: Any,
                progress: Callable[[str], None]) -> FailoverResult:
    """The failover itself, while holding the environment's lock."""
    from drlib.runbook import start_runbook

    regions = workload.regions
    started = datetime.now(UTC)
    record: dict[str, Any] = {
        "schema": "drlib.incident/1", "kind": "real incident (not a drill)",
        "action": "unplanned failover to the secondary region",
        "environment": request.environment, "target": request.target,
        "regions": {"primary": regions.primary, "secondary": regions.secondary},
        "started_at": started.isoformat(timespec="milliseconds"), "started_by": identity,
        "confirmation": "--yes" if request.confirmed else "typed at the prompt",
        "decision": "the runbook's approvers" if request.require_approval
                    else "the person running drlib failover (RequireApproval=false)",
    }
    status, error, execution = "failed", None, None
    progress(f"failover of {request.environment} ({request.target}) -> {run_dir}")
    progress(f"  holding the {request.environment} lock (no drill can start until this ends)")
    try:
        execution = start_runbook(target.clients, workload, PURPOSE,
                                  require_approval=request.require_approval)
        progress(f"  runbook {execution.document} started in {execution.region}: execution "
                 f"{execution.execution_id}")
        if request.require_approval:
            progress(f"  it waits for an approver: aws ssm send-automation-signal "
                     f"--automation-execution-id {execution.execution_id} --signal-type "
                     f"Approve --region {execution.region}")
        seen: set[str] = set()

        def report_steps() -> None:
            for step in execution.step_executions if execution else []:
                key = f"{step.get('StepName')}:{step.get('StepStatus')}"
                if key not in seen and step.get("StepStatus") not in ("Pending",):
                    seen.add(key)
                    progress(f"  {step.get('StepName')}: {step.get('StepStatus')}"
                             + (f" ({step['FailureMessage']})" if step.get("FailureMessage")
                                else ""))

        execution.wait(timeout=RUNBOOK_BOUND_S, on_poll=report_steps)
        report_steps()
        status = "completed"
    except DrError as exc:
        error = exc.render()
        progress(f"  FAILED: {exc.message}")
    except BaseException as exc:
        # Ctrl-C: drlib stops following; the runbook goes on (in an incident a half-done
        # failover is finished by AWS, never cancelled by a closed terminal).
        error = f"{type(exc).__name__}: {exc}"
        progress("  interrupted: the runbook goes on in the secondary region; follow it in "
                 "the console")
        raise
    finally:
        record["ended_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        record["status"] = status
        record["error"] = error
        record["runbook"] = execution.to_record() if execution is not None else None
        heartbeat = getattr(keeper, "heartbeat", None)
        record["lock"] = {"environment": request.environment, "run_id": run_dir.name,
                          "lost": getattr(heartbeat, "lost", None)}
        writer = ((execution.last.get("Outputs") or {}).get("VerifyWriter.Writer")
                  if execution is not None else None)
        record["writer_after"] = writer[0] if writer else None
        (run_dir / "incident.json").write_text(json.dumps(record, indent=2, default=str))
        _seal(request, run_dir, record, identity, target, started)
    progress(f"failover: {status.upper()}" + (f"; writer {record['writer_after']}"
                                              if record["writer_after"] else ""))
    progress(f"evidence: {run_dir}")
    return FailoverResult(run_dir=run_dir, status=status, record=record)


def _identity(clients: Any, region: str) -> dict[str, Any] | None:
    try:
        answer = clients.client("sts", region).get_caller_identity()
    except Exception as exc:
        log.warning("could not read the caller identity: %s", exc)
        return None
    return {k: answer[k] for k in ("Account", "Arn", "UserId") if k in answer}


def _seal(request: FailoverRequest, run_dir: Path, record: Mapping[str, Any],
          identity: Mapping[str, Any] | None, target: Any, started: datetime) -> None:
    from drlib.evidence.finalize import finalize_run
    from drlib.runner import REPO_DIR

    finalize_run(run_dir, status="passed" if record["status"] == "completed" else "failed",
                 parameters={"environment": request.environment, "target": request.target,
                             "require_approval": request.require_approval,
                             "runbook_parameters": (record.get("runbook") or {}).get(
                                 "parameters", {})},
                 target=request.target, regions=record["regions"], identity=identity,
                 emulator_version=target.emulator_version,
                 # The failover reads no secret: the runbook's parameters and step executions
                 # are all it records, and they are scanned for nothing.
                 secrets_unavailable="a failover run reads no secret value (it records the "
                                     "runbook's parameters and step executions only)",
                 started_at=started, ended_at=datetime.now(UTC), scenario=SCENARIO,
                 environment=request.environment, repo_dir=REPO_DIR)
