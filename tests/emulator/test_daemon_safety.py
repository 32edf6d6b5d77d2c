"""`drlib emulator stop` signals only this state dir's emulator; corrupt state files are reported
with a fix, not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from drlib.cli import main
from drlib.emulator import daemon, faults
from drlib.emulator.server import Emulator
from drlib.errors import EmulatorError
from drlib.processes import identify


@pytest.fixture
def unrelated() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not an emulator."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def write_state(state_dir: Path, pid: int, process: dict[str, object] | None) -> None:
    doc: dict[str, object] = {"pid": pid, "port": 1, "endpoint_url": "http://127.0.0.1:1"}
    if process is not None:
        doc["process"] = process
    (state_dir / daemon.STATE_FILE).write_text(json.dumps(doc))


def test_stop_never_signals_an_unrelated_process(tmp_path: Path,
                                                 unrelated: subprocess.Popen[bytes]) -> None:
    """A state file naming a live process that is no emulator (its own identity recorded) is
    stale: stop signals nothing and forgets the file."""
    write_state(tmp_path, unrelated.pid, identify(unrelated.pid).to_json())
    assert daemon.stop(state_dir=tmp_path) is None
    assert unrelated.poll() is None
    assert not (tmp_path / daemon.STATE_FILE).exists()


def test_stop_after_pid_reuse_signals_nothing(tmp_path: Path,
                                              unrelated: subprocess.Popen[bytes]) -> None:
    """The recorded emulator's pid now names another process (other start time): no signal."""
    recorded = replace(identify(unrelated.pid), cmdline=(
        sys.executable, "-m", "drlib.emulator", "serve", "--state-dir", str(tmp_path)))
    recorded = replace(recorded, start_ticks=(recorded.start_ticks or 0) - 100)
    write_state(tmp_path, unrelated.pid, recorded.to_json())
    assert daemon.stop(state_dir=tmp_path) is None
    assert unrelated.poll() is None


def test_stop_refuses_an_unconfirmed_pid(tmp_path: Path, unrelated: subprocess.Popen[bytes],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A state file without the process record (cannot be confirmed) is refused with a fix."""
    write_state(tmp_path, unrelated.pid, None)
    with pytest.raises(EmulatorError, match="cannot be confirmed"):
        daemon.stop(state_dir=tmp_path)
    assert main(["emulator", "stop", "--state-dir", str(tmp_path)]) == 2
    assert "fix:" in capsys.readouterr().err
    assert unrelated.poll() is None


@pytest.mark.parametrize("content", ["{not json", "[]", '{"pid": "x"}', ""])
def test_corrupt_state_file_is_a_clear_error(tmp_path: Path, content: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable emulator.json is an error naming the file and how to clear it (exit 2)."""
    (tmp_path / daemon.STATE_FILE).write_text(content)
    with pytest.raises(EmulatorError, match="unreadable"):
        daemon.read_state(tmp_path)
    assert main(["emulator", "status", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "emulator.json" in err
    assert "Traceback" not in err


def test_faults_by_hand_reach_a_drills_own_emulator(
        clean_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """With no background emulator, `drlib emulator fault` reaches the emulator a running drill
    serves in its own process; `drlib emulator stop` leaves that one to its drill."""
    drill_dir = tmp_path / "drill-emulator"
    monkeypatch.setenv(daemon.DRILL_STATE_DIR_VARIABLE, str(drill_dir))
    monkeypatch.setenv("DRLIB_STATE_DIR", str(tmp_path / "no-background-emulator"))
    with daemon.recorded_in_process(clean_emulator.endpoint_url, clean_emulator.port,
                                    drill_dir):
        try:
            assert main(["emulator", "fault", "region-down", "us-west-2"]) == 0
            assert faults.region_down("us-west-2")
            with pytest.raises(EmulatorError, match="belongs to a running drill"):
                daemon.stop(state_dir=drill_dir)
        finally:
            faults.clear()
    assert not (drill_dir / daemon.STATE_FILE).exists()
    assert main(["emulator", "fault", "list"]) == 2
    assert "No emulator is running" in capsys.readouterr().err


def test_status_prints_the_dns_server_of_a_drills_own_emulator(
        clean_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`drlib emulator status` names the DNS server (dns: 127.0.0.1:PORT) of the emulator a
    drill runs in its own process, as it does for `drlib emulator start`'s."""
    drill_dir = tmp_path / "drill-emulator"
    with daemon.recorded_in_process(clean_emulator.endpoint_url, clean_emulator.port,
                                    drill_dir, clean_emulator.dns_address):
        assert main(["emulator", "status", "--state-dir", str(drill_dir)]) == 0
    printed = capsys.readouterr().out
    assert f"dns: {clean_emulator.dns_address}" in printed
    assert str(clean_emulator.dns_address).startswith("127.0.0.1:")
