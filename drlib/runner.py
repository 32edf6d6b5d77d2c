"""The drill runner: the notebook chain through papermill, one evidence folder per run.

``drlib drill`` and ``make drill`` call :func:`run_drill`. It validates every notebook's
parameters before anything runs, starts the emulator for the ``local`` target, takes the
environment's drill lock for the whole run (:mod:`drlib.run_guard`; a refused start runs no
notebook and leaves no run folder), seals the folders earlier runs left unsealed by a crash
(:mod:`drlib.run_marker`), executes the chain (deploy, readiness, drill, failback, replication
lag, cost, report) in separate kernels, and seals the folder as evidence whatever happened:
passed, failed, or aborted (an error, Ctrl-C or SIGTERM). A failed notebook is still written, its
failing cell marked, before the chain stops. After an abort the console says where the writer and
DNS are and the one command that returns the system to the primary.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drlib.errors import ConfigError, DrError
from drlib.notebook_params import notebook_path, validate
from drlib.verdict import targets_for

log = logging.getLogger(__name__)

REPO_DIR = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUTS = REPO_DIR / "outputs"

CHAIN: tuple[str, ...] = ("00_deploy", "10_readiness", "20_failover_drill", "30_failback",
                          "40_replication_lag", "50_cost", "90_report")
"""The default drill chain, in order. The load run and the lag and cost analysis come after
failback, so they measure the workload in its normal shape (replication primary to secondary);
the drill's own canary records are already saved with its evidence. The report comes last."""

ALWAYS_RUN = ("30_failback", "90_report")
"""Notebooks that still run after an earlier one failed: failback returns the system to its
documented state, the report explains what happened."""

NEEDS_NO_LOCK = ("90_report",)
"""Notebooks that only read the run folder; every other one acts on the environment and runs only
while the run holds the environment's lock (a workload not deployed at all has nothing to lock:
the lock is taken right after ``00_deploy``)."""

TOUCHES_SYSTEM = ("20_failover_drill", "30_failback")
"""Notebooks that move the writer or DNS: when one of them failed or was interrupted, the runner
settles the system (DNS follows the writer) before sealing."""


@dataclass(frozen=True)
class DrillRequest:
    """What ``drlib drill`` was asked to do."""

    environment: str = "dev"
    scenario: str = "planned-switchover"
    target: str = "local"
    confirm_production: bool = False
    dry_run: bool = False
    outputs_dir: Path = DEFAULT_OUTPUTS
    chain: tuple[str, ...] = CHAIN
    upload: bool = False
    aws_timing: bool = False
    """Run the emulator's Route 53 detection and DNS TTLs at AWS's pace (time scale 1.0)
    instead of the default drill's declared :data:`~drlib.time_scale.DEFAULT_LOCAL_SCALE`."""


@dataclass
class NotebookRun:
    """One executed notebook of the chain."""

    notebook: str
    outcome: str  # ok | failed | skipped
    seconds: float
    error: str | None = None


@dataclass
class RunResult:
    """The outcome of a drill run."""

    run_dir: Path
    status: str  # passed | failed | aborted
    notebooks: list[NotebookRun] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when the verdict passed, 1 when it failed, 2 when the run aborted."""
        return {"passed": 0, "failed": 1}.get(self.status, 2)


def new_run_dir_name(environment: str, scenario: str, now: datetime | None = None) -> str:
    """``<UTC timestamp>_<env>_<scenario>``, the name of a run folder."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}_{environment}_{scenario}"


def new_run_dir(outputs_dir: Path, environment: str, scenario: str,
                now: datetime | None = None) -> Path:
    """A new, empty run folder ``<UTC timestamp>_<env>_<scenario>``; never an existing one."""
    name = new_run_dir_name(environment, scenario, now)
    outputs_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(100):
        suffix = "" if attempt == 0 else f"-{attempt}"
        candidate = outputs_dir / f"{name}{suffix}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise ConfigError(f"Cannot create a new run folder in {outputs_dir}",
                      found="100 folders with the same timestamp", fix="clean outputs/")


DEPLOY_NOTEBOOK = "00_deploy"
"""The chain's deploy: the stack outputs are recorded for the notebooks after it."""


def chain_parameters(request: DrillRequest, run_dir: Path) -> dict[str, dict[str, Any]]:
    """The validated parameters of every notebook of the chain (raises before anything runs)."""
    common = {"environment": request.environment, "target": request.target,
              "run_dir": str(run_dir)}
    # The environment's lag threshold (drlib.verdict.DEFAULT_TARGETS) reaches readiness and
    # the verdict; without it both would use the notebooks' default.
    lag = {"lag_threshold_seconds": targets_for(request.environment).lag_threshold_seconds}
    per_notebook: dict[str, dict[str, Any]] = {
        "00_deploy": dict(common),
        "10_readiness": {**common, **lag},
        "20_failover_drill": {**common, **lag, "scenario": request.scenario,
                              "confirm_production": request.confirm_production,
                              "dry_run": request.dry_run},
        "30_failback": {**common, "confirm_production": request.confirm_production,
                        "dry_run": request.dry_run},
        "40_replication_lag": dict(common),
        "50_cost": dict(common),
        "90_report": {"run_dir": str(run_dir), "outputs_dir": str(run_dir.parent)},
    }
    unknown = [nb for nb in request.chain if nb not in per_notebook]
    if unknown:
        raise ConfigError(f"Unknown notebook(s) in the chain: {', '.join(unknown)}",
                          expected=", ".join(per_notebook))
    return {nb: validate(nb, per_notebook[nb]) for nb in request.chain}


def _local_emulator(request: DrillRequest) -> Any:
    if request.target != "local" or os.environ.get("AWS_ENDPOINT_URL"):
        return nullcontext(None)
    return _drill_emulator(request.aws_timing)


@contextmanager
def _drill_emulator(aws_timing: bool) -> Iterator[Any]:
    """The drill's own emulator, recorded so `drlib emulator fault` reaches it, its emulated
    AWS waits at the declared pace (AWS's with ``aws_timing``; else an explicit
    DRLIB_HEALTH_CHECK_TIME_SCALE, else the default drill's)."""
    from drlib.emulator import running_emulator
    from drlib.emulator.daemon import drill_state_dir, recorded_in_process
    from drlib.emulator.extensions.route53_health import TIME_SCALE_VARIABLE
    from drlib.time_scale import DEFAULT_LOCAL_SCALE

    saved = os.environ.get(TIME_SCALE_VARIABLE)
    os.environ[TIME_SCALE_VARIABLE] = "1" if aws_timing else (saved or str(DEFAULT_LOCAL_SCALE))
    state_dir = drill_state_dir()
    try:
        with running_emulator(state_dir=state_dir, set_environment=True) as emulator, \
                recorded_in_process(emulator.endpoint_url, emulator.port, state_dir,
                                    emulator.dns_address):
            yield emulator
    finally:
        if saved is None:
            os.environ.pop(TIME_SCALE_VARIABLE, None)
        else:
            os.environ[TIME_SCALE_VARIABLE] = saved


def preflight_drill(request: DrillRequest) -> Any:
    """Every check that needs no running target, before anything starts: the environment's
    settings, the evidence folder, the target's endpoint settings and every notebook's
    parameters. Returns the Sceptre project; raises :class:`~drlib.preflight.SettingsError`
    (or another ConfigError) naming every problem."""
    from drlib.preflight import Problem, check_endpoint, check_outputs_dir
    from drlib.stacks import SceptreProject

    project = SceptreProject(request.environment)
    extra = check_outputs_dir(request.outputs_dir) + check_endpoint(request.target)
    try:
        chain_parameters(request, request.outputs_dir / "<run folder>")
    except ConfigError as exc:
        extra.append(Problem("notebook parameters", exc.found or exc.message,
                             exc.expected or "valid parameters", exc.fix or "see the message"))
    project.check_settings(extra)
    return project


def check_target(request: DrillRequest, project: Any) -> None:
    """The target answers with credentials in both regions (STS caller identity); raises
    :class:`~drlib.preflight.SettingsError` before the chain starts when it does not."""
    from drlib.preflight import Problem, SettingsError, require_target_access
    from drlib.targets import open_target
    from drlib.workload import project_regions

    regions = project_regions(project.variables)
    target = open_target(request.target, regions)
    require_target_access(target.clients, [regions.primary, regions.secondary], request.target)
    if request.aws_timing and target.time_scale != 1.0:
        raise SettingsError(f"target {request.target}", [Problem(
            "--aws-timing", f"the running emulator's time scale is {target.time_scale:g}",
            "time scale 1.0 (AWS's pace)",
            "drlib emulator fault health-check-time-scale 1 (or let the drill start its own "
            "emulator: unset AWS_ENDPOINT_URL)")])


def run_drill(request: DrillRequest, progress: Callable[[str], None] = print) -> RunResult:
    """Run the chain for ``request`` and seal its evidence; see the module docstring.

    Bad settings, an unreachable target and a lock held by another run are refused before any
    run folder, notebook or failback: a refused start changes nothing."""
    from drlib.evidence.render import RenderAhead
    from drlib.kernels import WarmKernel
    from drlib.run_guard import Interrupted, Interrupts, RunLock, kill_kernels
    from drlib.workload import STACK_OUTPUTS_VARIABLE

    project = preflight_drill(request)
    # The first notebook's kernel starts now, while the emulator starts and the lock is taken;
    # it gets the runner's environment (the emulator's endpoint) when its notebook takes it.
    warm = WarmKernel(REPO_DIR)
    closing: _Closing | None = None
    interrupts = Interrupts(progress)
    run_lock = RunLock(request.environment, request.target, project,
                       on_lost=lambda why: interrupts.stop(f"the drill lock was lost: {why}"))
    shared_before = os.environ.pop(STACK_OUTPUTS_VARIABLE, None)  # restored at the end
    try:
        if request.chain:
            warm.prepare(notebook_path(request.chain[0]))
        with interrupts.installed(), _local_emulator(request) as emulator:
            check_target(request, project)
            run_lock.locate()
            run_dir = new_run_dir(request.outputs_dir, request.environment, request.scenario)
            try:
                if run_lock.deployed:
                    run_lock.take(run_dir.name, owner=_owner(run_lock))
            except BaseException:
                run_dir.rmdir()  # refused: no run folder, nothing changed
                raise
            try:
                parameters = chain_parameters(request, run_dir)
                result = RunResult(run_dir=run_dir, status="aborted")
                closing = _Closing(request, run_dir, parameters, result, datetime.now(UTC),
                                   progress)
                closing.run_lock = run_lock
                closing.renderer = RenderAhead(run_dir)
                interrupts.run_dir = run_dir
                _mark_runner(request, run_dir, parameters)
                if run_lock.held and DEPLOY_NOTEBOOK not in request.chain:
                    _share_stack_outputs(request, run_dir, run_lock)  # else after the deploy
                progress(f"drill {request.scenario} on {request.environment} "
                         f"({request.target}) -> {run_dir}")
                if run_lock.took_over:
                    progress(f"  took over the lock of a dead run: {run_lock.took_over}")
                if run_lock.held:
                    progress(f"  holding the {request.environment} drill lock (renewed while "
                             "this run lives)")
                if emulator is not None:
                    from drlib.emulator import emulator_version as version_of

                    closing.emulator_version = version_of()
                    progress(f"  started the embedded emulator on {emulator.endpoint_url}")
                _seal_crashed_runs(request, run_dir, progress)
                try:
                    _execute_chain(request, parameters, run_dir, result, progress,
                                   run_lock, interrupts, warm, closing.renderer)
                except (KeyboardInterrupt, Interrupted):
                    killed = sorted(set(interrupts.killed + kill_kernels()))
                    closing.interrupted(interrupts.reason, killed)
                finally:
                    # While the target is still up: settle the system after an abort, who ran
                    # it, secrets to scan for, the notification, the seal and the upload.
                    closing.settle(interrupts)
                    closing.finish(target_up=True)
            finally:
                os.environ.pop(STACK_OUTPUTS_VARIABLE, None)  # the lock is going
                run_lock.release()
    except (KeyboardInterrupt, Interrupted):
        if closing is None:  # before the run began: nothing to seal
            raise KeyboardInterrupt from None
        closing.interrupted(interrupts.reason, [])
    finally:
        try:
            if closing is not None:
                closing.finish(target_up=False)
        finally:
            try:
                if closing is not None:
                    closing.report_rendered()  # rendered while the emulator stopped
                    if closing.renderer is not None:
                        closing.renderer.close()
            finally:
                # Refused or interrupted before the chain: the kernel started ahead (one still
                # starting stops itself once started).
                warm.close(wait_s=5.0)
                if shared_before is not None:
                    os.environ[STACK_OUTPUTS_VARIABLE] = shared_before
    assert closing is not None
    return closing.result


def _owner(run_lock: Any) -> str:
    try:
        answer = run_lock.target.clients.client(
            "sts", run_lock.target.regions.primary).get_caller_identity()
        return str(answer["Arn"])
    except Exception:
        return "unknown"


def _mark_runner(request: DrillRequest, run_dir: Path, parameters: Mapping[str, Any]) -> None:
    from drlib.run_marker import write_marker

    write_marker(run_dir, environment=request.environment, scenario=request.scenario,
                 target=request.target, parameters=parameters)


def _seal_crashed_runs(request: DrillRequest, run_dir: Path,
                       progress: Callable[[str], None]) -> None:
    """Seal as ``crashed`` the folders earlier runs left unsealed (their runner is gone)."""
    from drlib.run_marker import crashed_runs, seal_crashed

    for crashed in crashed_runs(request.outputs_dir):
        if crashed == run_dir:
            continue
        context = _target_context(request)
        try:
            if context is not None and context.secrets_error is None:
                seal_crashed(crashed, secrets=context.secrets, sealed_by=f"drill {run_dir.name}")
            else:
                why = context.secrets_error if context else "the target could not be read"
                seal_crashed(crashed, secrets_unavailable=why, sealed_by=f"drill {run_dir.name}")
            progress(f"  sealed {crashed.name} as crashed (its runner is gone)")
        except DrError as exc:
            progress(f"  could not seal the crashed run {crashed.name}: {exc.message}")


@dataclass
class _Closing:
    """The end of every run, whatever happened: status, notification, seal, upload (once)."""

    request: DrillRequest
    run_dir: Path
    parameters: Mapping[str, Any]
    result: RunResult
    started: datetime
    progress: Callable[[str], None]
    emulator_version: str | None = None
    done: bool = False
    run_lock: Any = None
    settled: bool = False
    renderer: Any = None
    """The notebooks rendered to HTML while the chain runs (:class:`RenderAhead`)."""
    reporting: Any = None
    """The thread rendering the auditor's report of the sealed run, while the emulator stops."""

    def defer_report(self, render: Callable[[], None]) -> None:
        import threading

        self.reporting = threading.Thread(target=render, name="drlib-report", daemon=True)
        self.reporting.start()

    def report_rendered(self) -> None:
        """Wait for the auditor's report (rendered while the emulator stopped)."""
        if self.reporting is not None:
            self.reporting.join()
            self.reporting = None

    def interrupted(self, reason: str | None, killed: list[int]) -> None:
        if any(nb.notebook == "(interrupted)" for nb in self.result.notebooks):
            return
        why = reason or "interrupted"
        if killed:
            why += f"; notebook kernel(s) {', '.join(map(str, killed))} stopped at once"
        self.progress(f"  interrupted ({why}): settling the system, then sealing the evidence "
                      "as aborted")
        self.result.notebooks.append(NotebookRun("(interrupted)", "failed", 0.0, why))

    def settle(self, interrupts: Any) -> None:
        """After an interrupt or a failed drill/failback notebook, while holding the lock: DNS
        follows the writer (drlib.abort); record and say where the system is."""
        if self.settled:
            return
        self.settled = True
        notebooks = self.result.notebooks
        started = {nb.notebook for nb in notebooks if nb.outcome != "skipped"}
        troubled = interrupts.requested or any(
            nb.outcome == "failed" and nb.notebook in TOUCHES_SYSTEM for nb in notebooks)
        if interrupts.requested and not any(
                nb.notebook == "(interrupted)" for nb in notebooks):
            self.interrupted(interrupts.reason, [])
        metrics_path = self.run_dir / "metrics.json"
        metrics = _read_json(metrics_path)
        if not (troubled and started & set(TOUCHES_SYSTEM)):
            _print_state(metrics, self.progress)
            return
        lock = self.run_lock
        if lock is None or not lock.held or lock.workload is None:
            lost = getattr(getattr(lock, "heartbeat", None), "lost", None)
            self.progress("  the system was not settled: this run does not hold the lock"
                          + (f" (lost: {lost}; another run may be acting on the environment)"
                             if lost else ""))
            return
        from drlib.abort import settle_after_interrupt

        self.progress("  settling the system: runbooks left running stopped, DNS follows the "
                      "writer ...")
        try:
            state = settle_after_interrupt(lock.target, lock.workload, self.request.scenario)
        except Exception as exc:  # recorded; the seal must still happen
            self.progress(f"  could not settle the system: {type(exc).__name__}: {exc}")
            return
        for action in state.actions:
            if action.get("action") == "stop runbooks left running":
                self.progress("  " + (f"runbook execution(s) stopped: "
                                      f"{', '.join(action['stopped'])}" if action.get("stopped")
                                      else "no runbook was left running" if "stopped" in action
                                      else f"runbooks NOT stopped: {action.get('error')}"))
        metrics = _read_json(metrics_path)
        metrics.setdefault("schema", "drlib.metrics/1")
        metrics.setdefault("run_id", self.run_dir.name)
        metrics.setdefault("environment", self.request.environment)
        metrics.setdefault("scenario", self.request.scenario)
        metrics.setdefault("target", self.request.target)
        metrics["status"] = "aborted"
        if interrupts.requested:
            metrics["interrupted"] = interrupts.reason
            metrics["error"] = metrics.get("error") or f"interrupted: {interrupts.reason}"
        # state_final: after the runner settled; state_after (the drill's own abort) is kept
        # unless the drill never got to write it.
        metrics["state_final"] = state.to_metrics()
        if interrupts.requested or "state_after" not in metrics:
            metrics["state_after"] = state.to_metrics()
        metrics_path.write_text(json.dumps(metrics, indent=2, default=str))
        self.progress("  " + state.line())

    def finish(self, target_up: bool) -> None:
        if self.done:
            return
        self.done = True
        result = self.result
        result.metrics = _read_json(self.run_dir / "metrics.json")
        result.status = _run_status(result)
        context = _target_context(self.request, self.run_dir) if target_up else None
        identity, secrets = (context.identity, context.secrets) if context else (None, [])
        unavailable = (context.secrets_error if context else
                       "the target was not reachable when the run was sealed")
        if unavailable:
            self.progress(f"  secret scan NOT performed ({unavailable}): the manifest says so")
        if context is not None:
            _notify(context, self.run_dir, result, self.progress)
        ahead = None
        if self.renderer is not None:
            try:
                ahead = self.renderer.done()
            except Exception as exc:  # an optimisation: the seal renders every notebook itself
                log.warning("notebooks rendered ahead are not used: %s", exc)
        _seal(self.request, self.run_dir, self.parameters, result, self.started,
              self.emulator_version, identity, secrets, self.progress, unavailable, ahead,
              self.defer_report)
        if context is not None and self.request.upload:
            self.report_rendered()  # the archive holds the report whole, never half-written
            _upload(context, self.run_dir, self.progress)


@dataclass
class _TargetContext:
    """What the end of a run reads from the target while it is up."""

    target: Any
    workload: Any
    identity: dict[str, Any] | None
    secrets: list[str]
    secrets_error: str | None = None
    """Why the secret values could not be read (the scan is then not performed)."""


def _target_context(request: DrillRequest, run_dir: Path | None = None
                    ) -> _TargetContext | None:
    """Who ran the drill (STS) and the secret values the run may have touched (to scan for);
    None when the target cannot be read (e.g. nothing deployed). The workload: as recorded in
    ``run_dir`` for its chain, else read from the stacks."""
    from drlib.stacks import SceptreProject
    from drlib.targets import open_target
    from drlib.workload import (
        chain_stack_outputs,
        project_regions,
        secret_values,
        workload_from_outputs,
    )

    try:
        project = SceptreProject(request.environment)
        regions = project_regions(project.variables)
        target = open_target(request.target, regions)
        answer = target.clients.client("sts", regions.primary).get_caller_identity()
        identity = {k: answer[k] for k in ("Account", "Arn", "UserId") if k in answer}
    except Exception as exc:  # recorded as unknown; the evidence is sealed regardless
        log.warning("could not read the run's identity: %s", exc)
        return None
    try:
        workload = workload_from_outputs(
            request.environment, regions,
            chain_stack_outputs(request.environment, run_dir, project))
    except Exception as exc:
        log.warning("could not read the workload: %s", exc)
        return _TargetContext(target, None, identity, [],
                              f"the workload's outputs could not be read ({exc})")
    try:
        secrets = list(secret_values(target.clients, workload))
    except Exception as exc:
        return _TargetContext(target, workload, identity, [],
                              f"the database secret could not be read "
                              f"({type(exc).__name__}: {str(exc)[:200]})")
    return _TargetContext(target, workload, identity, secrets)


def _notify(context: _TargetContext, run_dir: Path, result: RunResult,
            progress: Callable[[str], None]) -> None:
    """Publish the closing summary to the DR topic (written to notification.json too)."""
    from drlib.notify import publish_summary

    if context.workload is None:
        return
    try:
        record = publish_summary(context.target.clients, context.workload, run_dir,
                                 result.status, result.metrics)
    except Exception as exc:  # a notification failure must not lose the evidence
        progress(f"  could not publish the summary: {exc}")
        return
    if record is not None:
        (run_dir / "notification.json").write_text(json.dumps(record, indent=2))
        progress(f"  summary published to {record['topic_arn']}")


def _upload(context: _TargetContext, run_dir: Path, progress: Callable[[str], None]) -> None:
    from drlib.evidence.upload import upload_run

    workload = context.workload
    if workload is None or not workload.evidence_bucket:
        progress("  no evidence bucket among the stack outputs: not uploaded")
        return
    try:
        report = upload_run(context.target.clients, run_dir, workload.evidence_bucket,
                            workload.regions.secondary)
        progress(f"  evidence uploaded with Object Lock: {len(report.uploaded)} new, "
                 f"{len(report.skipped)} already archived, {len(report.verified)} verified, "
                 f"s3://{workload.evidence_bucket}/{run_dir.name}/ ({report.retention})")
    except DrError as exc:
        progress(f"  evidence upload failed: {exc.render()}")


def _execute_chain(request: DrillRequest, parameters: Mapping[str, Mapping[str, Any]],
                   run_dir: Path, result: RunResult, progress: Callable[[str], None],
                   run_lock: Any, interrupts: Any, warm: Any, renderer: Any) -> None:
    try:
        _run_notebooks(request, parameters, run_dir, result, progress, run_lock, interrupts,
                       warm, renderer)
    finally:
        warm.close(wait_s=5.0)
        if warm.errors:
            progress(f"  {len(warm.errors)} kernel(s) could not be started ahead (the notebooks "
                     f"started their own): {warm.errors[0][:200]}")


def _run_notebooks(request: DrillRequest, parameters: Mapping[str, Mapping[str, Any]],
                   run_dir: Path, result: RunResult, progress: Callable[[str], None],
                   run_lock: Any, interrupts: Any, warm: Any, renderer: Any) -> None:
    """Each notebook of the chain in a kernel started while the one before it ran, rendered to
    HTML (by ``renderer``) while the next one runs."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from drlib.kernels import papermill_kernel_options

    failed = False
    total = len(request.chain)
    for index, notebook in enumerate(request.chain, start=1):
        if interrupts.requested:
            result.notebooks.append(NotebookRun(notebook, "skipped", 0.0))
            progress(f"  [{index}/{total}] {notebook}: skipped (interrupted)")
            continue
        if failed and notebook not in ALWAYS_RUN:
            result.notebooks.append(NotebookRun(notebook, "skipped", 0.0))
            progress(f"  [{index}/{total}] {notebook}: skipped after an earlier failure")
            continue
        # Nothing deployed: nothing to lock or change (the notebooks fail on their own; the drill
        # and failback notebooks still take the lock themselves). Deployed: only with the lock.
        if notebook not in NEEDS_NO_LOCK and run_lock.deployed and not run_lock.held:
            failed = True
            result.notebooks.append(NotebookRun(notebook, "skipped", 0.0,
                                                "not run: the run does not hold the lock"))
            progress(f"  [{index}/{total}] {notebook}: skipped (this run holds no "
                     f"{request.environment} drill lock)")
            continue
        began = time.monotonic()
        progress(f"  [{index}/{total}] {notebook} ...")
        interrupts.notebook(notebook)
        # None: papermill starts the notebook's kernel itself
        km = warm.take(env=os.environ)
        try:
            if index < total and not interrupts.requested:
                warm.prepare(notebook_path(request.chain[index]))  # the next, while this runs
            papermill.execute_notebook(
                str(notebook_path(notebook)), str(run_dir / f"{notebook}.ipynb"),
                parameters=dict(parameters[notebook]), kernel_name="python3",
                progress_bar=False, cwd=str(REPO_DIR), start_timeout=120, km=km,
                **papermill_kernel_options())
        except PapermillExecutionError as exc:
            seconds = time.monotonic() - began
            failed = True
            message = f"{exc.ename}: {exc.evalue}"
            result.notebooks.append(NotebookRun(notebook, "failed", seconds, message))
            progress(f"  [{index}/{total}] {notebook}: FAILED after {seconds:.1f} s: {message}")
            continue
        except Exception as exc:  # the kernel itself failed (e.g. died starting, under SIGTERM)
            seconds = time.monotonic() - began
            failed = True
            cause = "interrupted" if interrupts.requested else "the notebook's kernel failed"
            message = f"{cause}: {type(exc).__name__}: {str(exc)[:300]}"
            result.notebooks.append(NotebookRun(notebook, "failed", seconds, message))
            progress(f"  [{index}/{total}] {notebook}: FAILED after {seconds:.1f} s: {message}")
            continue
        except BaseException:  # stopped at once (a second signal): this notebook was running,
            # and the runner settles what it may have left moving
            result.notebooks.append(NotebookRun(notebook, "failed", time.monotonic() - began,
                                                "stopped at once (interrupted)"))
            raise
        finally:
            interrupts.notebook(None)
            warm.shutdown(km)
            renderer.submit(run_dir / f"{notebook}.ipynb")
        seconds = time.monotonic() - began
        result.notebooks.append(NotebookRun(notebook, "ok", seconds))
        progress(f"  [{index}/{total}] {notebook}: ok ({seconds:.1f} s)")
        if notebook == DEPLOY_NOTEBOOK:
            if run_lock.held:  # deployed before: the deploy may have changed its outputs
                _outputs_after_deploy(request, run_dir, run_lock, progress)
            else:
                _lock_after_deploy(request, run_dir, run_lock, progress)


def _lock_after_deploy(request: DrillRequest, run_dir: Path, run_lock: Any,
                       progress: Callable[[str], None]) -> None:
    """The workload now exists: take its lock before anything else acts on it."""
    try:
        run_lock.locate()
        run_lock.take(run_dir.name, owner=_owner(run_lock))
    except DrError as exc:
        progress(f"  could not take the {request.environment} drill lock after deploying: "
                 f"{exc.message}")
        return
    progress(f"  holding the {request.environment} drill lock (renewed while this run lives)")
    _share_stack_outputs(request, run_dir, run_lock)


def _outputs_after_deploy(request: DrillRequest, run_dir: Path, run_lock: Any,
                          progress: Callable[[str], None]) -> None:
    """The chain's deploy updated a workload whose lock this run held: its outputs again."""
    try:
        run_lock.read_outputs()
    except Exception as exc:  # the notebooks read the stacks themselves
        progress(f"  could not read the stack outputs after deploying ({type(exc).__name__}: "
                 f"{str(exc)[:200]}); each notebook reads them")
        return
    _share_stack_outputs(request, run_dir, run_lock)


def _share_stack_outputs(request: DrillRequest, run_dir: Path, run_lock: Any) -> None:
    """Record the stack outputs the lock was located with (after the chain's deploy, or at the
    start of a chain that deploys nothing) in the run folder, for the chain's later notebooks
    (their kernels get the variable naming it) and the seal: read once, not once per
    notebook."""
    from drlib.workload import STACK_OUTPUTS_VARIABLE, record_stack_outputs

    if run_lock.outputs:
        path = record_stack_outputs(run_dir, request.environment, run_lock.outputs)
        os.environ[STACK_OUTPUTS_VARIABLE] = str(path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _run_status(result: RunResult) -> str:
    """aborted when a notebook failed, one was not run for want of the lock, or the run was
    interrupted; else the drill's verdict (a failback-only run: whether failback completed)."""
    if any(nb.outcome == "failed" or (nb.outcome == "skipped" and nb.error)
           for nb in result.notebooks) or not result.notebooks:
        return "aborted"
    failback = result.metrics.get("failback")
    if "verdict" not in result.metrics and isinstance(failback, dict):
        return "passed" if failback.get("completed") else "aborted"
    status = result.metrics.get("status")
    if status in ("passed", "failed", "aborted"):
        return str(status)
    verdict = result.metrics.get("verdict") or {}
    return "passed" if verdict.get("passed") else "failed"


def _seal(request: DrillRequest, run_dir: Path, parameters: Mapping[str, Any],
          result: RunResult, started: datetime, emulator_version: str | None,
          identity: Mapping[str, Any] | None, secrets: list[str],
          progress: Callable[[str], None], secrets_unavailable: str | None = None,
          rendered_ahead: Mapping[str, str] | None = None,
          defer_report: Callable[[Callable[[], None]], None] | None = None) -> None:
    from drlib.evidence.finalize import finalize_run

    runs = [{"notebook": nb.notebook, "outcome": nb.outcome, "seconds": round(nb.seconds, 3),
             "error": nb.error} for nb in result.notebooks]
    (run_dir / "chain.json").write_text(json.dumps({"status": result.status, "notebooks": runs},
                                                   indent=2))
    metrics = result.metrics
    try:
        finalize_run(run_dir, status=result.status, parameters=dict(parameters),
                     target=request.target,
                     regions=metrics.get("regions") or {},
                     identity=identity, emulator_version=emulator_version,
                     secrets=secrets, secrets_unavailable=secrets_unavailable,
                     started_at=started, ended_at=datetime.now(UTC),
                     scenario=request.scenario, environment=request.environment,
                     repo_dir=REPO_DIR, rendered_ahead=rendered_ahead,
                     defer_report=defer_report)
    except DrError as exc:
        progress(f"  evidence could not be sealed: {exc.render()}")
        raise
    progress(f"evidence: {run_dir}")


def _print_state(metrics: Mapping[str, Any], progress: Callable[[str], None]) -> None:
    """The console line saying where the writer and DNS are (from metrics.json)."""
    from drlib.abort import SystemState

    failback = metrics.get("failback")
    state = metrics.get("state_final") or (
        failback.get("state_after") if isinstance(failback, dict) else None) or metrics.get(
        "state_after")
    if not isinstance(state, dict) or "dns_region" not in state:
        return
    regions = metrics.get("regions") or {}
    line = SystemState(state.get("writer_region"), state.get("dns_region"),
                       str(regions.get("primary") or ""),
                       str(state.get("return_command") or "drlib failback")).line()
    progress("  " + line)
