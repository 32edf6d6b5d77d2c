"""Guardrails under an unlucky operator, end to end: drill runners as separate processes against
one emulator (this session's, reached over HTTP like a background emulator) with the dev stack
deployed. Two drills at once, SIGTERM in the middle, kill -9, then the next drill.

Route 53 health-check timing is scaled 20x faster so DNS moves in seconds (as in
tests/test_drill_e2e.py); the logic under test does not depend on the scale.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drlib.abort import active_region, locate_writer
from drlib.drill import DrillRun, drill_lock, run_failback, run_scenario
from drlib.emulator import faults
from drlib.emulator.extensions.route53_health import set_health_check_time_scale
from drlib.emulator.server import Emulator
from drlib.errors import DrError, DrillAborted
from drlib.evidence import read_manifest, verify
from drlib.processes import children
from drlib.stacks import SceptreProject
from drlib.targets import Target, open_target
from drlib.timeline import to_utc
from drlib.waiting import wait_until
from drlib.workload import Workload, project_regions, workload_from_outputs

pytestmark = pytest.mark.slow

RUNNER = """
import sys
from pathlib import Path
from drlib.runner import DrillRequest, run_drill
result = run_drill(DrillRequest(outputs_dir=Path(sys.argv[1]),
                                chain=tuple(sys.argv[2].split(","))))
sys.exit(result.exit_code)
"""
DRILL = "20_failover_drill,30_failback"


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


def run_folder(outputs: Path) -> Path:
    (folder,) = [p for p in outputs.iterdir() if p.is_dir()]
    return folder


def metrics_of(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "metrics.json").read_text()))


def test_a_refused_drill_changes_nothing(deployed: tuple[Target, Workload],
                                         tmp_path: Path) -> None:
    """A second `drlib drill` while one runs is refused with exit 2 and the holder's name, runs
    no notebook and leaves no run folder; the first drill passes, its verdict unchanged."""
    first = start_runner(tmp_path / "first", "10_readiness," + DRILL)
    try:
        wait_until(lambda: cell_running(tmp_path / "first", "20_failover_drill",
                                        "run_scenario("),
                   description="the first drill's scenario to run", timeout=600, interval=0.1)
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


TRIGGERS: dict[str, Callable[[Path, tuple[Target, Workload]], bool]] = {
    "before the switch": lambda out, d: cell_running(out, "20_failover_drill", "run_scenario("),
    "during the DNS move": lambda out, d: not list(out.glob("*/30_failback.ipynb")) and bool(
        d[0].clients.client("route53", d[1].regions.primary).get_health_check(
            HealthCheckId=d[1].primary.health_check_id)["HealthCheck"]["HealthCheckConfig"].get(
            "Inverted")),
    "during failback": lambda out, d: cell_running(out, "30_failback", "run_failback("),
}


@pytest.mark.parametrize("moment", list(TRIGGERS))
def test_sigterm_leaves_dns_with_the_writer(deployed: tuple[Target, Workload], tmp_path: Path,
                                            moment: str) -> None:
    """SIGTERM at any point: the abort path runs, DNS and writer end in one region, the
    evidence is sealed aborted, the console says where the system is and the printed command
    returns it to the primary; then the next drill passes."""
    outputs = tmp_path / "out"
    runner = start_runner(outputs)
    try:
        wait_until(lambda: TRIGGERS[moment](outputs, deployed), description=moment,
                   timeout=600, interval=0.05)
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=900)
    finally:
        runner.kill()
    assert runner.returncode == 2, output
    assert "interrupted (SIGTERM" in output
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


def test_kill_9_then_the_next_drill_seals_it_as_crashed(deployed: tuple[Target, Workload],
                                                        tmp_path: Path) -> None:
    """A runner and its kernel killed with SIGKILL leave an unsealed run and a dead holder's
    lock; verify reports it unsealed (exit 3); the next drill takes the lock over, seals the
    old run as crashed and passes; then everything verifies."""
    outputs = tmp_path / "out"
    runner = start_runner(outputs)
    wait_until(lambda: cell_running(outputs, "20_failover_drill", "run_scenario("),
               description="the scenario to run", timeout=600, interval=0.05)
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


def test_region_down_of_the_secondary_during_the_switch_fails_the_step_in_seconds(
        deployed: tuple[Target, Workload], tmp_path: Path) -> None:
    """An outage the drill did not cause (region-down of the secondary while its runbook runs)
    fails the running runbook step within seconds, naming the fault, recorded in the timeline
    and metrics.json; the abort still leaves DNS with the writer; failback stops the runbook the
    abort could not stop while the region was down."""
    target, workload = deployed
    secondary = workload.regions.secondary
    run = DrillRun(target=target, workload=workload, scenario="planned-switchover",
                   run_dir=tmp_path / "run", canary_interval_s=0.05, lag_threshold_s=5.0)

    def outage_during_the_switch() -> None:
        # Early in the runbook (its switchover, seconds later, must not have begun).
        wait_until(lambda: any(s.runbook and s.outcome is None and s.step in (
            "CheckTarget", "ScaleUpAppTier", "WaitForAppTier") for s in run.timeline.steps),
                   description="an early runbook step to run", timeout=300, interval=0.01)
        faults.take_region_down(secondary)

    injector = threading.Thread(target=outage_during_the_switch, daemon=True)
    injector.start()
    try:
        with pytest.raises(DrillAborted) as caught:
            run_scenario(run)
    finally:
        injector.join(timeout=5)
        faults.bring_region_up(secondary)
    assert f"region-down in {secondary}" in caught.value.render()
    metrics = metrics_of(run.run_dir)
    [observed] = [f for f in metrics["faults"] if f["action"] == "observed region-down"]
    assert observed["target"] == secondary
    assert observed["detail"]["caused_by_drill"] is False
    # The database switch and the DNS move run together: every step running then fails.
    failures = [s for s in metrics["timeline"] if s["outcome"] == "failed"]
    assert failures
    assert {s["step"] for s in failures} <= {"switch over the global database",
                                             "move DNS to the secondary"}
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
    assert failed["runbook"] == workload.runbooks["planned-switchover"]
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
