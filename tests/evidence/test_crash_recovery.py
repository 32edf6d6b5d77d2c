"""Runs left unsealed: told apart from tampering, sealed as crashed only when their runner is gone,
and a secret scan that could not be made is recorded as not performed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drlib.cli import main
from drlib.errors import EvidenceError
from drlib.evidence import read_manifest, verify
from drlib.evidence.verify import EXIT_CHANGED, EXIT_UNSEALED
from drlib.processes import identify
from drlib.run_marker import (
    MARKER_NAME,
    crashed_runs,
    runner_state,
    seal_crashed,
    write_marker,
)

from .conftest import PASSWORD, RUN_IDS, build_run, seal

LATER = "20261128T190000Z_dev_planned-switchover"


def dead_process_marker(run_dir: Path) -> None:
    """Write runner.json naming a process that has exited (as after kill -9)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        process = identify(child.pid)
    finally:
        child.kill()
        child.wait()
    write_marker(run_dir, environment="dev", scenario="planned-switchover", target="local",
                 parameters={"environment": "dev", "db_password": PASSWORD})
    doc = json.loads((run_dir / MARKER_NAME).read_text())
    assert PASSWORD not in json.dumps(doc)  # the marker masks secret-named parameters
    (run_dir / MARKER_NAME).write_text(json.dumps({**doc, "process": process.to_json()}))


def test_unsealed_run_is_not_tampering(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A crashed run's folder is reported unsealed (exit 3), not changed, and says how to seal."""
    dead_process_marker(build_run(chain, LATER, "aborted"))
    report = verify(chain)
    assert not report.changed
    assert report.exit_code == EXIT_UNSEALED
    assert [(u.run, u.state) for u in report.unsealed] == [(LATER, "crashed")]
    assert main(["evidence", "verify", "--outputs", str(chain)]) == EXIT_UNSEALED
    out = capsys.readouterr().out
    assert "UNSEALED" in out
    assert "drlib evidence seal" in out


def test_tampering_wins_over_unsealed(chain: Path) -> None:
    """A changed file and an unsealed run together exit 1: the change is what matters."""
    dead_process_marker(build_run(chain, LATER, "aborted"))
    (chain / RUN_IDS[0] / "lag.csv").write_text("changed")
    report = verify(chain)
    assert report.changed
    assert report.unsealed
    assert report.exit_code == EXIT_CHANGED
    assert main(["evidence", "verify", "--outputs", str(chain)]) == EXIT_CHANGED


def test_crashed_run_is_sealed_as_crashed_and_chains(chain: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`drlib evidence seal RUN` seals a run whose runner is gone: status crashed, crash.json,
    parameters masked, the chain intact and verify clean."""
    run_dir = build_run(chain, LATER, "aborted")
    dead_process_marker(run_dir)
    assert crashed_runs(chain) == [run_dir]
    assert main(["evidence", "seal", LATER, "--outputs", str(chain)]) == 0
    assert "as crashed" in capsys.readouterr().out
    manifest = read_manifest(run_dir)
    assert manifest.status == "crashed"
    assert manifest.chain.previous_run == RUN_IDS[-1]
    assert manifest.parameters["db_password"] == "****"
    assert manifest.secret_scan is not None
    assert manifest.secret_scan.startswith(
        "not performed")
    crash = json.loads((run_dir / "crash.json").read_text())
    assert crash["runner_state"] == "crashed"
    assert verify(chain).exit_code == 0


def test_running_run_is_never_sealed(chain: Path) -> None:
    """A run whose runner still lives (this process) is running: sealing it is refused."""
    run_dir = build_run(chain, LATER, "aborted")
    write_marker(run_dir, environment="dev", scenario="planned-switchover", target="local",
                 parameters={})
    assert runner_state(run_dir)[0] == "running"
    assert crashed_runs(chain) == []
    with pytest.raises(EvidenceError, match="still running"):
        seal_crashed(run_dir)
    assert verify(chain).unsealed[0].state == "running"


def test_reused_pid_is_not_the_runner(chain: Path) -> None:
    """A marker whose pid now names another process (different start time) counts as crashed."""
    run_dir = build_run(chain, LATER, "aborted")
    me = identify()
    doc = {"schema": "drlib.runner/1", "environment": "dev", "scenario": "x", "target": "local",
           "process": {**me.to_json(), "start_ticks": (me.start_ticks or 0) + 12345}}
    (run_dir / MARKER_NAME).write_text(json.dumps(doc))
    assert runner_state(run_dir)[0] == "crashed"


def test_unknown_run_needs_confirmation(chain: Path) -> None:
    """Without runner.json nothing can tell whether it runs: sealing needs --yes."""
    run_dir = build_run(chain, LATER, "aborted")
    assert runner_state(run_dir)[0] == "unknown"
    assert main(["evidence", "seal", LATER, "--outputs", str(chain)]) == 2
    assert not (run_dir / "manifest.json").exists()
    assert main(["evidence", "seal", LATER, "--yes", "--outputs", str(chain)]) == 0
    assert read_manifest(run_dir).status == "crashed"


def test_secret_scan_not_performed_is_recorded(outputs: Path) -> None:
    """When the secret values could not be read the manifest and its verdict say the scan was
    not performed; with them it says performed."""
    unscanned = seal(build_run(outputs, RUN_IDS[0]), secrets=[],
                     secrets_unavailable="the database secret could not be read")
    assert unscanned.secret_scan == "not performed: the database secret could not be read"
    assert unscanned.verdict is not None
    assert unscanned.verdict["secret_scan"] == unscanned.secret_scan
    scanned = seal(build_run(outputs, RUN_IDS[1]))
    assert scanned.secret_scan == "performed"
    assert scanned.verdict is not None
    assert "secret_scan" not in scanned.verdict


def test_marker_identifies_this_process(tmp_path: Path) -> None:
    """runner.json records this process's pid, start time and command line."""
    write_marker(tmp_path, environment="dev", scenario="s", target="local", parameters={})
    doc = json.loads((tmp_path / MARKER_NAME).read_text())
    assert doc["process"]["pid"] == os.getpid()
    assert doc["process"]["start_ticks"] == identify().start_ticks
