"""Guardrail pieces that need no deployed stack: process identity, derived step timeouts, the
abort's system state, `drlib lock status|release`, and fail-closed readiness."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from drlib.abort import SystemState, return_command
from drlib.cli import main
from drlib.drill_lock import DrillLock, FileLockBackend
from drlib.processes import ProcessIdentity, children, identify, same_process
from drlib.readiness import CheckResult, run_checks
from drlib.timeline import utc_now
from drlib.timings import MARGIN, SLACK_S, Timings, step_timeouts

# --- process identity ---------------------------------------------------------------------------


def test_same_process_tells_a_reused_pid_apart() -> None:
    """This process is itself; the same pid with another start time or command line is not."""
    me = identify()
    assert same_process(me) is True
    assert same_process(replace(me, start_ticks=(me.start_ticks or 0) + 1)) is False
    assert same_process(replace(me, cmdline=("not", "this"))) is False
    assert same_process(replace(me, host=socket.gethostname() + "-elsewhere")) is None


def test_same_process_is_false_once_it_exits() -> None:
    """A recorded child that has exited is gone."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    recorded = identify(child.pid)
    assert child.pid in children()
    assert same_process(recorded) is True
    child.kill()
    child.wait()
    assert same_process(recorded) is False


def test_identity_round_trips_through_json() -> None:
    """The recorded identity reads back as written."""
    me = identify()
    assert ProcessIdentity.from_json(me.to_json()) == me


# --- step timeouts from the environment's timings -----------------------------------------------


@pytest.mark.parametrize(("interval", "threshold", "ttl", "dns_bound"), [
    (30, 3, 60, (30 * 3 + 60) * MARGIN + SLACK_S),
    (10, 1, 5, (10 * 1 + 5) * MARGIN + SLACK_S),
])
def test_dns_steps_follow_the_health_check_and_ttl(interval: float, threshold: int, ttl: float,
                                                   dns_bound: float) -> None:
    """DNS steps wait interval x threshold + TTL with the margin; faster checks, shorter bounds."""
    timeouts = step_timeouts(Timings(health_check_interval_s=interval,
                                     failure_threshold=threshold, dns_ttl_s=ttl))
    assert timeouts["DNS answers the secondary"] == dns_bound
    assert timeouts["detect the outage"] == dns_bound
    assert timeouts["DNS answers the primary"] == dns_bound


def test_no_step_waits_the_old_fixed_half_hour() -> None:
    """With AWS's defaults every switch and failback step is bounded well under the old 1800 s,
    every drill and failback step has a timeout, and the restore's two jobs (a backup, then a
    copy and a restore) are bounded by AWS Backup's job time, not a fixed figure."""
    from drlib.drill import PLANS, RUNBOOK, runbook_timeout_key
    from drlib.timings import RESTORE_JOB_S

    timeouts = step_timeouts(Timings())
    steps = {phase: {step if step != RUNBOOK else runbook_timeout_key(phase) for step in plan}
             for phase, plan in PLANS.items()}
    assert set().union(*steps.values()) <= set(timeouts)
    restore_only = steps["data-corruption"] - set().union(
        *(s for phase, s in steps.items() if phase != "data-corruption"))
    assert max(v for k, v in timeouts.items() if k not in restore_only) < 1800
    assert timeouts["data-corruption runbook"] == 2 * RESTORE_JOB_S * MARGIN + SLACK_S
    assert timeouts["planned-switchover runbook"] == 2 * (300 * MARGIN + SLACK_S)


# --- the abort's statement of where the system is -----------------------------------------------


@pytest.mark.parametrize(("writer", "dns", "coherent", "says"), [
    ("us-east-1", "us-east-1", True, "nothing to do"),
    ("us-west-2", "us-west-2", True, "drlib failback --env dev --target local"),
    ("us-east-1", "us-west-2", False, "NOT coherent"),
    (None, "us-east-1", False, "writer in UNKNOWN"),
])
def test_system_state_says_where_and_how_back(writer: str | None, dns: str | None,
                                              coherent: bool, says: str) -> None:
    """The console line names writer and DNS regions and, unless home, the command back."""
    state = SystemState(writer, dns, "us-east-1", return_command("dev", "local"))
    assert state.coherent is coherent
    assert says in state.line()
    metrics = state.to_metrics()
    assert metrics["writer_region"] == writer
    assert metrics["dns_region"] == dns
    assert (metrics["return_command"] is None) == state.in_primary


def test_the_runners_settling_stops_a_running_runbook_before_it_moves_dns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After a hard interrupt the runner's abort path stops the drill's runbooks still running
    first (a killed kernel could not), then lifts the disaster, then aligns DNS with the
    writer; a runbook it cannot stop is recorded, and the rest still runs."""
    from types import SimpleNamespace

    import drlib.abort
    import drlib.runbook

    order: list[str] = []
    state = SystemState("us-east-1", "us-east-1", "us-east-1", return_command("dev", "local"))

    def stop_running(clients: Any, workload: Any) -> list[str]:
        order.append("stop runbooks")
        return ["exec-1"]

    def align(clients: Any, workload: Any, target_name: str) -> SystemState:
        order.append("align DNS")
        return state

    disaster = SimpleNamespace(restore=lambda region, checks: order.append("lift disaster"))
    target = SimpleNamespace(clients=None, name="local", disaster=disaster)
    workload = SimpleNamespace(regions=SimpleNamespace(primary="us-east-1"),
                               primary=SimpleNamespace(health_check_id="hc"))
    monkeypatch.setattr(drlib.runbook, "stop_running", stop_running)
    monkeypatch.setattr(drlib.abort, "align_dns_with_writer", align)
    settled = drlib.abort.settle_after_interrupt(target, workload, "unplanned-failover")
    assert order == ["stop runbooks", "lift disaster", "align DNS"]
    assert settled.actions[0] == {"action": "stop runbooks left running", "stopped": ["exec-1"]}

    def unreachable(clients: Any, workload: Any) -> list[str]:
        raise RuntimeError("region us-west-2 is down")

    order.clear()
    monkeypatch.setattr(drlib.runbook, "stop_running", unreachable)
    settled = drlib.abort.settle_after_interrupt(target, workload, "planned-switchover")
    assert order == ["align DNS"]
    assert "us-west-2 is down" in settled.actions[0]["error"]


# --- drlib lock status | release ----------------------------------------------------------------


@pytest.fixture
def file_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileLockBackend:
    """`drlib lock` pointed at a file lock store instead of the workload's table."""
    backend = FileLockBackend(tmp_path / "locks")

    def open_lock(env: str, target: str) -> DrillLock:
        return DrillLock(backend, env, run_id="drlib-lock-cli", owner="drlib lock")

    monkeypatch.setattr("drlib.lock_cli._open_lock", open_lock)
    return backend


def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_lock_status_names_the_holder(file_lock: FileLockBackend,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """status shows the run, host, pid, expiry and whether the holder lives."""
    assert main(["lock", "status", "--env", "dev"]) == 0
    assert "not locked" in capsys.readouterr().out
    DrillLock(file_lock, "dev", run_id="run-7", owner="alice").acquire()
    assert main(["lock", "status", "--env", "dev"]) == 0
    out = capsys.readouterr().out
    assert "run-7" in out
    assert f"pid {os.getpid()}" in out
    assert "holder process alive" in out


def test_lock_release_refuses_a_live_holder(file_lock: FileLockBackend,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A live holder's lock is not released, even with --yes (exit 2)."""
    DrillLock(file_lock, "dev", run_id="run-live", owner="alice").acquire()
    assert main(["lock", "release", "--env", "dev", "--yes"]) == 2
    assert "holder process is alive" in capsys.readouterr().err
    assert file_lock.read("dev").run_id == "run-live"


def test_lock_release_frees_a_dead_holder_with_confirmation(
        file_lock: FileLockBackend, capsys: pytest.CaptureFixture[str]) -> None:
    """A dead holder's lock needs confirmation (no terminal, no --yes: refused), then is freed."""
    DrillLock(file_lock, "dev", run_id="run-dead", owner="bob", pid=dead_pid()).acquire()
    assert main(["lock", "release", "--env", "dev"]) == 2
    assert "needs confirmation" in capsys.readouterr().err
    assert file_lock.read("dev") is not None
    assert main(["lock", "release", "--env", "dev", "--yes"]) == 0
    assert "released" in capsys.readouterr().out
    assert file_lock.read("dev") is None


def test_lock_release_of_another_hosts_live_lock_is_refused(
        file_lock: FileLockBackend, capsys: pytest.CaptureFixture[str]) -> None:
    """A holder on another host cannot be checked: refused until its lock expires."""
    DrillLock(file_lock, "dev", run_id="run-far", owner="carol", host="elsewhere").acquire()
    assert main(["lock", "release", "--env", "dev", "--yes"]) == 2
    assert "cannot check" in capsys.readouterr().err
    later = utc_now() + timedelta(hours=3)
    DrillLock(file_lock, "dev", run_id="run-next", owner="x", clock=lambda: later).acquire()
    assert file_lock.read("dev").run_id == "run-next"


# --- fail closed --------------------------------------------------------------------------------


def test_a_crashing_check_fails() -> None:
    """A check that raises is a failed check with the error as evidence, never a pass or warn."""

    def crashes() -> CheckResult:
        raise RuntimeError("probe exploded")

    report = run_checks([("lag", crashes, "fix it")])
    assert not report.ready
    assert report.results[0].status == "fail"
    assert "probe exploded" in report.results[0].evidence


def test_a_crashing_canary_probe_fails_readiness(monkeypatch: pytest.MonkeyPatch) -> None:
    """assess with a crashed canary probe fails 'replication lag (canary)' (was a warning)."""
    from drlib import readiness

    def passing(*args: Any, **kwargs: Any) -> CheckResult:
        return CheckResult("x", "pass", "ok", "")

    for name in ("check_global_cluster", "check_secondary_cluster", "check_dynamodb_replicas",
                 "check_s3_replication", "check_dns_failover", "check_secondary_can_scale",
                 "check_evidence_bucket", "check_secret_rotation", "check_audit_trail"):
        monkeypatch.setattr(readiness, name, passing)
    monkeypatch.setattr(readiness, "cloudwatch_lag", lambda *a, **k: {"aurora": 0.1})
    report = readiness.assess(None, None, lag_threshold_s=5.0,  # type: ignore[arg-type]
                              probe_error="ClientError: region down")
    failed = [r for r in report.results if r.status == "fail"]
    assert [r.check for r in failed] == ["replication lag (canary)"]
    assert "region down" in failed[0].evidence

    # The probe still running while the other checks run (readiness_run): its result is asked
    # for when its check's turn comes; raising there fails that check alike.
    def crashed() -> dict[str, float | None]:
        raise ConnectionError("region down")

    report = readiness.assess(None, None, lag_threshold_s=5.0,  # type: ignore[arg-type]
                              canary_lag=crashed)
    failed = [r for r in report.results if r.status == "fail"]
    assert [r.check for r in failed] == ["replication lag (canary)"]
    assert "the canary probe crashed: ConnectionError: region down" in failed[0].evidence
    report = readiness.assess(None, None, lag_threshold_s=5.0,  # type: ignore[arg-type]
                              canary_lag=lambda: {"aurora": 0.2, "dynamodb": 0.4, "s3": 9.0})
    lag = [r for r in report.results if r.check == "replication lag (canary)"]
    assert [r.status for r in lag] == ["fail"]
    assert "s3" in lag[0].evidence


def test_a_lost_lock_is_not_held_so_nothing_acts_or_releases_under_it() -> None:
    """Once the heartbeat reports the lock lost (released or taken over: it may be another
    run's, a real failover's), the run no longer holds it: the chain runs no further notebook,
    the abort does not settle the system, and release() does not delete it."""
    from types import SimpleNamespace

    from drlib.run_guard import RunLock

    released: list[bool] = []
    lock = SimpleNamespace(info={"run_id": "r"}, release=lambda: released.append(True))
    heartbeat = SimpleNamespace(lost=None, stop=lambda: None)
    run_lock = RunLock("dev", "local", project=None, on_lost=lambda why: None, lock=lock,
                       heartbeat=heartbeat)
    assert run_lock.held
    heartbeat.lost = "taken over by run 20261206T000000Z_dev_failover"
    assert not run_lock.held
    run_lock.release()
    assert released == []
