"""Guardrails under an unlucky operator, end to end: drill runners as separate processes against
one emulator (this session's, reached over HTTP like a background emulator) with the dev stack
deployed. Two drills at once, SIGTERM in the middle, kill -9, then the next drill.

Route 53 health-check timing is scaled 20x faster so DNS moves in seconds (as in
tests/test_drill_e2e.py); the logic under test does not depend on the scale.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from drlib.abort import active_region, locate_writer
from drlib.drill import DrillRun, drill_lock, run_failback, run_scenario
from drlib.emulator import faults
from drlib.emulator.automation import engine
from drlib.emulator.extensions import rds_global
from drlib.emulator.extensions.route53_health import set_health_check_time_scale
from drlib.emulator.server import Emulator
from drlib.errors import DrError, DrillAborted
from drlib.evidence import read_manifest, verify
from drlib.processes import children
from drlib.stacks import SceptreProject
from drlib.targets import Target, open_target
from drlib.timeline import to_utc
from drlib.waiting import wait_until
from drlib.workload import (
    STACK_OUTPUTS_FILE,
    Workload,
    project_regions,
    workload_from_outputs,
)

# Each test runs one to three drills as separate processes (about 100 s each on an idle 2-core
# machine): bounded like their own waits, not by the suite's 300 s default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

RUNNER = """
import sys
from pathlib import Path
from drlib.runner import DrillRequest, run_drill
result = run_drill(DrillRequest(outputs_dir=Path(sys.argv[1]),
                                chain=tuple(sys.argv[2].split(","))))
sys.exit(result.exit_code)
"""
DRILL = "20_failover_drill,30_failback"
LAG_AFTER_OUTAGES_S = 60.0
"""The readiness lag threshold of the in-process drills that follow a test's deliberate outage
(paused replication, a downed region): CloudWatch's latest minute still holds its lag spike, which
would refuse the drill at readiness; these tests are about the fault, not the lag."""


@pytest.fixture(scope="module")
def deployed(emulator: Emulator) -> Iterator[tuple[Target, Workload]]:
    """The dev stack launched once on a freshly reset emulator, DNS timing 20x faster."""
    emulator.reset()
    set_health_check_time_scale(0.05)
    project = SceptreProject("dev")
    project.launch("")
    regions = project_regions(project.variables)
    target = open_target("local", regions)
    yield target, workload_from_outputs("dev", regions, project.outputs(""))
    faults.clear()
    set_health_check_time_scale(1.0)


def start_runner(outputs: Path, chain: str = DRILL) -> subprocess.Popen[str]:
    """A drill runner in its own process (and session, as a shell's job would be)."""
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(outputs), chain],
                            env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def drlib_command(*args: str) -> subprocess.CompletedProcess[str]:
    """`drlib ARGS` as an operator types it."""
    return subprocess.run([sys.executable, "-m", "drlib.cli", *args], env=dict(os.environ),
                          capture_output=True, text=True, timeout=900, check=False)


def cell_running(outputs: Path, notebook: str, call: str) -> bool:
    """Whether the cell of ``notebook`` that calls ``call`` is executing now."""
    for path in outputs.glob(f"*/{notebook}.ipynb"):
        try:
            cells = json.loads(path.read_text())["cells"]
        except (OSError, ValueError):
            return False
        return any(call in "".join(c["source"]) and c.get("metadata", {}).get(
            "papermill", {}).get("status") == "running" for c in cells)
    return False


def where(deployed: tuple[Target, Workload]) -> tuple[str | None, str | None]:
    """(writer region, region the application's name answers with) right now."""
    target, workload = deployed
    return (locate_writer(target.clients, workload, timeout=120),
            active_region(target.clients, workload).resolve())


def kernels_of(pid: int) -> list[int]:
    """The notebook kernels a runner process started."""
    from drlib.processes import cmdline

    return [child for child in children(pid)
            if any("ipykernel" in arg for arg in cmdline(child))]


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def run_folder(outputs: Path) -> Path:
    (folder,) = [p for p in outputs.iterdir() if p.is_dir()]
    return folder


def metrics_of(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "metrics.json").read_text()))


def test_a_refused_drill_changes_nothing(deployed: tuple[Target, Workload],
                                         tmp_path: Path) -> None:
    """A second `drlib drill` while one runs is refused with exit 2 and the holder's name, runs
    no notebook and leaves no run folder; the first drill passes, its verdict unchanged."""
    first = start_runner(tmp_path / "first")
    try:
        wait_until(lambda: cell_running(tmp_path / "first", "20_failover_drill",
                                        "run_scenario("),
                   description="the first drill's scenario to run", timeout=600, interval=0.1,
                   backoff=1.0)
        second = drlib_command("drill", "--outputs", str(tmp_path / "second"))
        output, _ = first.communicate(timeout=900)
    finally:
        first.kill()
    assert second.returncode == 2, second.stdout + second.stderr
    assert "is locked by drill" in second.stderr
    assert "Traceback" not in second.stderr
    assert not [p for p in (tmp_path / "second").glob("*") if p.is_dir()]
    assert first.returncode == 0, output
    folder = run_folder(tmp_path / "first")
    metrics = metrics_of(folder)
    assert metrics["status"] == "passed"
    assert not [e for e in metrics["events"] if e.get("action") == "abort"]
    assert read_manifest(folder).status == "passed"
    assert where(deployed) == (deployed[1].regions.primary,) * 2
    # the workload the chain acted on, read once by the runner under the lock, is evidence
    recorded = json.loads((folder / STACK_OUTPUTS_FILE).read_text())["stacks"]
    assert workload_from_outputs("dev", deployed[1].regions, recorded) == deployed[1]
    assert STACK_OUTPUTS_FILE in {entry.path for entry in read_manifest(folder).files}


def test_failback_takes_the_lock(deployed: tuple[Target, Workload], tmp_path: Path) -> None:
    """Failback refuses (and changes nothing) while another run holds the lock, in process
    and through `drlib failback`."""
    target, workload = deployed
    other = drill_lock(target, workload, "other-run", "someone else")
    other.acquire()
    try:
        back = DrillRun(target=target, workload=workload, scenario="failback",
                        run_dir=tmp_path / "fb")
        with pytest.raises(DrError, match="other-run"):
            run_failback(back)
        assert not back.timeline.to_records()
        refused = drlib_command("failback", "--outputs", str(tmp_path / "out"))
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "other-run" in refused.stderr
    finally:
        other.release()


def test_kill_9_then_the_next_drill_seals_it_as_crashed(deployed: tuple[Target, Workload],
                                                        tmp_path: Path) -> None:
    """A runner and its kernel killed with SIGKILL leave an unsealed run and a dead holder's
    lock; verify reports it unsealed (exit 3); the next drill takes the lock over, seals the
    old run as crashed and passes; then everything verifies."""
    outputs = tmp_path / "out"
    runner = start_runner(outputs)
    wait_until(lambda: cell_running(outputs, "20_failover_drill", "run_scenario("),
               description="the scenario to run", timeout=600, interval=0.05, backoff=1.0)
    for pid in [*children(runner.pid), runner.pid]:  # a power cut: kernel and runner at once
        os.kill(pid, signal.SIGKILL)
    runner.communicate(timeout=60)
    crashed = run_folder(outputs)
    assert not (crashed / "manifest.json").exists()
    report = verify(outputs)
    assert (report.exit_code, [u.state for u in report.unsealed]) == (3, ["crashed"])
    verify_cli = drlib_command("evidence", "verify", "--outputs", str(outputs))
    assert verify_cli.returncode == 3, verify_cli.stdout

    nxt = start_runner(outputs)
    output, _ = nxt.communicate(timeout=900)
    assert nxt.returncode == 0, output
    assert "took over the lock of a dead run" in output
    assert f"sealed {crashed.name} as crashed" in output
    assert read_manifest(crashed).status == "crashed"
    assert verify(outputs).exit_code == 0


def running_step(deployed: tuple[Target, Workload], purpose: str) -> str | None:
    """The step the workload's ``purpose`` runbook is executing now (None when none runs)."""
    target, workload = deployed
    found = target.clients.client("ssm", workload.regions.secondary).\
        describe_automation_executions(Filters=[
            {"Key": "DocumentNamePrefix", "Values": [workload.runbooks[purpose]]},
            {"Key": "ExecutionStatus", "Values": ["InProgress"]}])[
        "AutomationExecutionMetadataList"]
    return str(found[0].get("CurrentStepName")) if found else None


TRIGGERS: dict[str, Callable[[Path, tuple[Target, Workload]], bool]] = {
    "before the switch": lambda out, d: cell_running(out, "20_failover_drill", "run_scenario("),
    "during the DNS move": lambda out, d: not list(out.glob("*/30_failback.ipynb")) and bool(
        d[0].clients.client("route53", d[1].regions.primary).get_health_check(
            HealthCheckId=d[1].primary.health_check_id)["HealthCheck"]["HealthCheckConfig"].get(
            "Inverted")),
    "during failback": lambda out, d: cell_running(out, "30_failback", "run_failback("),
    # A hung kernel (it cannot run its abort) and SIGTERM twice: the runner stops at once, kills
    # the kernel and must stop the runbook itself before it settles the system.
    "hard stop while the runbook runs": lambda out, d: switchover_held(d),
}


def switchover_held(deployed: tuple[Target, Workload]) -> bool:
    """Whether the drill's runbook waits in WaitForSwitchover, held there: once its runbook
    runs (after readiness), Aurora replication is paused, so the switchover waits for its
    target to catch up (then is cancelled, after CATCH_UP_TIMEOUT)."""
    step = running_step(deployed, "planned-switchover")
    if step is not None and not faults.replication_paused("aurora"):
        faults.pause_replication("aurora")
    return step == "WaitForSwitchover"


@pytest.mark.parametrize("moment", list(TRIGGERS))
def test_sigterm_leaves_dns_with_the_writer(deployed: tuple[Target, Workload], tmp_path: Path,
                                            moment: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM at any point: the abort path runs, DNS and writer end in one region, the
    evidence is sealed aborted, the console says where the system is and the printed command
    returns it to the primary; then the next drill passes. A hard stop (second SIGTERM, the
    kernel killed without its abort) first stops the runbook the kernel left running, so it
    cannot go on moving the writer after the abort."""
    outputs = tmp_path / "out"
    hard = moment.startswith("hard stop")
    runner = start_runner(outputs)
    hung: list[int] = []
    if hard:
        monkeypatch.setattr(rds_global, "CATCH_UP_TIMEOUT", 15.0)
    try:
        wait_until(lambda: TRIGGERS[moment](outputs, deployed), description=moment,
                   timeout=600, interval=0.05, backoff=1.0)
        if hard:
            hung = kernels_of(runner.pid)
            for pid in hung:
                os.kill(pid, signal.SIGSTOP)  # hung: it cannot stop its runbook itself
        runner.send_signal(signal.SIGTERM)
        if hard:
            time.sleep(0.3)
            runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=900)
    finally:
        runner.kill()
        for pid in hung:  # the runner kills it; never leave a stopped process behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        faults.resume_replication("aurora")
    assert runner.returncode == 2, output
    assert "interrupted (SIGTERM" in output
    if hard:
        assert not [pid for pid in hung if running(pid)]  # killed by the runner
        target, workload = deployed
        assert "stopped at once" in output, output
        execution = max(target.clients.client(
            "ssm", workload.regions.secondary).describe_automation_executions(Filters=[
                {"Key": "DocumentNamePrefix",
                 "Values": [workload.runbooks["planned-switchover"]]}])[
            "AutomationExecutionMetadataList"], key=lambda e: e["ExecutionStartTime"])
        assert f"runbook execution(s) stopped: {execution['AutomationExecutionId']}" in output
        assert execution["AutomationExecutionStatus"] == "Cancelled"
        # Stopped in WaitForSwitchover (DNS had moved with the switch, just before): it never
        # went on after the abort, to verify the writer or to its own onFailure path; the
        # runner's settling (below) put DNS back with the writer.
        steps = [s["StepName"] for s in target.clients.client(
            "ssm", workload.regions.secondary).describe_automation_step_executions(
            AutomationExecutionId=execution["AutomationExecutionId"])["StepExecutions"]]
        assert steps[-1] == "WaitForSwitchover"
        assert "MoveDnsToSecondary" in steps
        assert not {"VerifyWriter", "RestorePrimaryDns"} & set(steps)
    writer, dns = where(deployed)
    assert writer is not None
    assert writer == dns, output
    assert f"system: writer in {writer}, DNS answers {dns}" in output
    folder = run_folder(outputs)
    assert read_manifest(folder).status == "aborted"
    assert verify(outputs).ok
    state = metrics_of(folder)["state_after"]
    assert (state["writer_region"], state["dns_region"]) == (writer, dns)
    if writer != deployed[1].regions.primary:
        command = re.search(r"to return to the primary run: (drlib failback [^\n]+)", output)
        assert command is not None, output
        back = drlib_command(*command.group(1).split()[1:], "--outputs", str(tmp_path / "fb"))
        assert back.returncode == 0, back.stdout + back.stderr
    assert where(deployed) == (deployed[1].regions.primary,) * 2
    if moment == "during the DNS move":
        again = start_runner(tmp_path / "again")
        output, _ = again.communicate(timeout=900)
        assert again.returncode == 0, output


def _pause_aurora() -> None:
    faults.pause_replication("aurora")


def test_a_cancelled_switchover_is_told_by_the_api_and_fails_the_step_at_once(
        deployed: tuple[Target, Workload], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The runbook's switchover cannot complete (Aurora replication paused after the baseline:
    the target never catches up, Aurora cancels): the RDS API says so (the global cluster
    available with its old writer, AWS's "is cancelled" event on both clusters), and the drill
    fails the running step within seconds naming what AWS says (the event, or the
    FailoverState "cancelling" that comes before it), recorded as an observed fault; the abort
    leaves writer and DNS in the primary."""
    monkeypatch.setattr(rds_global, "CATCH_UP_TIMEOUT", 3.0)
    target, workload = deployed
    primary, secondary = workload.regions.primary, workload.regions.secondary
    run = DrillRun(target=target, workload=workload, scenario="planned-switchover",
                   run_dir=tmp_path / "run", canary_interval_s=0.05,
                   lag_threshold_s=LAG_AFTER_OUTAGES_S,
                   before_disaster=lambda run, fleet: _pause_aurora())
    began = datetime.now(UTC)
    try:
        with pytest.raises(DrillAborted) as caught:
            run_scenario(run)
    finally:
        faults.resume_replication("aurora")
    cancelled = (f"Global switchover to DB cluster {workload.secondary.cluster_id} in Region "
                 f"{secondary} is cancelled.")
    # What the drill names: AWS's event, or the global cluster's FailoverState "cancelling"
    # when the watch polls while the switchover is being undone, before AWS tells it cancelled.
    state = "FailoverState cancelling"
    assert cancelled in caught.value.render() or state in caught.value.render()
    # Through the API, as an operator without drlib sees it.
    rds = target.clients.client("rds", secondary)
    [told] = [e for e in rds.describe_events(
        SourceType="db-cluster", SourceIdentifier=workload.secondary.cluster_id,
        EventCategories=["global-failover"], StartTime=began)["Events"]
        if e["Message"] == cancelled]
    assert [e["Message"] for e in target.clients.client("rds", primary).describe_events(
        SourceType="db-cluster", SourceIdentifier=workload.primary.cluster_id,
        StartTime=began)["Events"]].count(cancelled) == 1
    gc = rds.describe_global_clusters(
        GlobalClusterIdentifier=workload.global_cluster_id)["GlobalClusters"][0]
    assert (gc["Status"], gc.get("FailoverState")) == ("available", None)
    # The drill: the step running then failed within seconds of the event, naming it.
    metrics = metrics_of(run.run_dir)
    assert cancelled in metrics["error"] or state in metrics["error"]
    [observed] = [f for f in metrics["faults"]
                  if f["action"] == "observed global-switchover-cancelled"]
    assert observed["target"] == secondary
    assert observed["detail"]["caused_by_drill"] is False
    failed = [s for s in metrics["timeline"] if s["outcome"] == "failed"]
    assert failed
    # The step running when the watch saw it names it; or, when the runbook's own wait saw
    # the cluster available again first, its VerifyWriter failed (the writer stayed) and the
    # drill's error names what AWS said.
    named = " ".join([metrics["error"], *(step["detail"] for step in failed)])
    assert cancelled in named or state in named
    for step in failed:
        assert step["runbook"] == workload.runbooks["planned-switchover"]
        took = (to_utc(step["ended_at"]) - to_utc(told["Date"])).total_seconds()
        assert took < 5, step  # before the event when the state was seen first
        assert to_utc(step["ended_at"]) >= began, step
    assert metrics["state_after"]["writer_region"] == metrics["state_after"]["dns_region"] \
        == primary
    # Give the next test a system at home (the runbook scaled the secondary's app tier up).
    run_failback(DrillRun(target=target, workload=workload, scenario="failback",
                          run_dir=tmp_path / "run"))
    assert where(deployed) == (primary,) * 2


def test_region_down_of_the_secondary_during_the_switch_fails_the_step_in_seconds(
        deployed: tuple[Target, Workload], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An outage the drill did not cause (region-down of the secondary while its runbook runs)
    fails the running runbook step within seconds, naming the fault, recorded in the timeline
    and metrics.json; the abort still leaves DNS with the writer; failback stops the runbook the
    abort could not stop while the region was down."""
    target, workload = deployed
    secondary = workload.regions.secondary
    run = DrillRun(target=target, workload=workload, scenario="planned-switchover",
                   run_dir=tmp_path / "run", canary_interval_s=0.05,
                   lag_threshold_s=LAG_AFTER_OUTAGES_S)

    # Early in the runbook, deterministically: while its ScaleUpAppTier step runs (its
    # switchover, seconds later, has not begun), once the drill has read that the step runs.
    # Taken down as the step starts, the drill's last read could still be of the step before,
    # ended, on a loaded machine: then no step is known to be running when the watch trips.
    attempts = engine.Execution._attempts

    def outage_during_the_switch(execution: Any, record: Any, *args: Any) -> Any:
        if record.step.name == "ScaleUpAppTier" and not faults.region_down(secondary):
            wait_until(lambda: any(s.step == "ScaleUpAppTier" for s in run.timeline.steps),
                       timeout=60, description="the drill to read that ScaleUpAppTier runs",
                       interval=0.05)
            faults.take_region_down(secondary)
        return attempts(execution, record, *args)

    monkeypatch.setattr(engine.Execution, "_attempts", outage_during_the_switch)
    try:
        with pytest.raises(DrillAborted) as caught:
            run_scenario(run)
    finally:
        monkeypatch.setattr(engine.Execution, "_attempts", attempts)
        faults.bring_region_up(secondary)
    assert f"region-down in {secondary}" in caught.value.render()
    metrics = metrics_of(run.run_dir)
    [observed] = [f for f in metrics["faults"] if f["action"] == "observed region-down"]
    assert observed["target"] == secondary
    assert observed["detail"]["caused_by_drill"] is False
    # The runbook's step running then fails (the step names are the runbook's own).
    failures = [s for s in metrics["timeline"] if s["outcome"] == "failed"]
    assert failures
    assert {s["runbook"] for s in failures} == {workload.runbooks["planned-switchover"]}
    for failed in failures:
        assert f"region-down in {secondary}" in failed["detail"]
        took = (to_utc(failed["ended_at"]) - to_utc(observed["at"])).total_seconds()
        assert 0 <= took < 5
    assert observed["detail"]["during_step"] in ({s["step"] for s in failures} | {None})
    # The writer is in the downed secondary: Route 53 answers with the primary while both health
    # checks fail, so DNS cannot follow it; the state must say so, not claim coherence.
    state = metrics["state_after"]
    assert state["writer_region"] is not None
    assert state["coherent"] is (state["writer_region"] == state["dns_region"])
    if not state["coherent"]:
        assert any("error" in action for action in state["actions"])
        assert state["return_command"] == "drlib failback --env dev --target local"
    # Give the next test a system at home.
    wait_until(lambda: locate_writer(target.clients, workload, timeout=5), timeout=300,
               description="the global database to settle", interval=0.5)
    back = DrillRun(target=target, workload=workload, scenario="failback",
                    run_dir=tmp_path / "run")
    run_failback(back)
    assert where(deployed) == (workload.regions.primary,) * 2
    # The abort could not stop the drill's runbook while its region was down, and says how to;
    # once the region is back the runbook goes on (as on AWS) until failback stops it or it
    # ends; failback still leaves writer and DNS in the primary (above).
    [stop] = [e for e in metrics["events"] if e["target"] == "stop the runbook"]
    assert "aws ssm stop-automation-execution --automation-execution-id " + \
        metrics["runbook"]["execution_id"] in stop["detail"]["error"]
    planned = target.clients.client("ssm", secondary).get_automation_execution(
        AutomationExecutionId=metrics["runbook"]["execution_id"])["AutomationExecution"]
    stopped = next(s for s in back.timeline.steps if s.step == "stop runbooks left running")
    if metrics["runbook"]["execution_id"] in stopped.detail:
        assert planned["AutomationExecutionStatus"] == "Cancelled"
    else:
        assert planned["AutomationExecutionStatus"] in ("Success", "Failed")
