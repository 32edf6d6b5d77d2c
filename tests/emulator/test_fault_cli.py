"""``drlib emulator fault``: parsing, rendering, errors, and a run against a background emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drlib.cli import build_parser, main
from drlib.emulator import daemon
from drlib.emulator.fault_cli import fault_request, render_current, render_log, render_table


@pytest.mark.parametrize(("argv", "body"), [
    (["pause-replication", "s3"], {"action": "pause-replication", "store": "s3"}),
    (["resume-replication", "aurora"], {"action": "resume-replication", "store": "aurora"}),
    (["set-delay", "dynamodb", "2.5"], {"action": "set-delay", "store": "dynamodb",
                                        "seconds": 2.5}),
    (["region-down", "us-east-1"], {"action": "region-down", "region": "us-east-1"}),
    (["region-up", "us-east-1"], {"action": "region-up", "region": "us-east-1"}),
    (["fail-health-check", "hc-1"], {"action": "fail-health-check", "health_check_id": "hc-1"}),
    (["restore-health-check", "hc-1"], {"action": "restore-health-check",
                                        "health_check_id": "hc-1"}),
    (["clear"], {"action": "clear"}),
])
def test_actions_become_fault_requests(argv: list[str], body: dict[str, object]) -> None:
    """Each action and its arguments become the JSON body of POST /_drlib/faults."""
    args = build_parser().parse_args(["emulator", "fault", *argv])
    assert fault_request(args) == body


@pytest.mark.parametrize(("argv", "message"), [
    (["bogus"], "invalid choice: 'bogus' (choose from 'pause-replication'"),
    (["pause-replication", "redis"], "invalid choice: 'redis' (choose from 'aurora', 'dynamodb', "
                                     "'s3')"),
    (["set-delay", "s3", "soon"], "invalid float value: 'soon'"),
    (["region-down"], "the following arguments are required: region"),
    (["region-up", "useast1"], "'useast1' is not an AWS region name (expected e.g. us-east-1"),
])
def test_bad_actions_and_stores_name_the_valid_ones(argv: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown action, store or malformed region exits 2 saying what is valid."""
    with pytest.raises(SystemExit) as exit_info:
        main(["emulator", "fault", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_no_emulator_running_says_how_to_start(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Without a background emulator the command fails, saying how to start one."""
    assert main(["emulator", "fault", "list", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "No emulator is running" in err
    assert f"drlib emulator start --state-dir {tmp_path}" in err


def test_render_table_aligns_columns() -> None:
    """Columns are padded to their widest cell, with a rule under the header."""
    assert render_table(("a", "bb"), [("long", "x")]).splitlines() == [
        "a     bb", "----  --", "long  x"]


def test_render_current_and_log() -> None:
    """The current faults show one row per kind ('-' when none); the log one row per change."""
    snapshot = {"paused_stores": ["s3"], "replication_delay": {"dynamodb": 1.5},
                "regions_down": [], "failed_health_checks": ["hc-1"]}
    current = render_current(snapshot)
    assert "replication paused    s3" in current
    assert "replication delay     dynamodb 1.5 s" in current
    assert "regions down          -" in current
    log = render_log([{"at": "2026-01-01T00:00:00.000+00:00", "action": "set-delay",
                       "target": "dynamodb", "detail": {"seconds": 1.5}}])
    assert log.splitlines()[2].split() == ["2026-01-01T00:00:00.000+00:00", "set-delay",
                                           "dynamodb", "seconds=1.5"]
    assert render_log([]) == "fault log: empty"


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A background emulator process for this module, stopped afterwards."""
    state_dir = tmp_path_factory.mktemp("fault-cli")
    daemon.start(state_dir=state_dir)
    try:
        yield state_dir
    finally:
        daemon.stop(state_dir=state_dir)


@pytest.mark.slow
def test_fault_commands_against_background_emulator(background: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Actions change the running emulator's faults; list shows them and the log; clear ends it."""
    state = ["--state-dir", str(background)]

    def run(*argv: str) -> str:
        assert main(["emulator", "fault", *argv, *state]) == 0
        return capsys.readouterr().out

    assert "region-down us-east-1" in run("region-down", "us-east-1")
    assert "set-delay dynamodb seconds=2.0" in run("set-delay", "dynamodb", "2")
    run("pause-replication", "s3")
    run("fail-health-check", "hc-42")
    assert "time scale: 0.05" in run("health-check-time-scale", "0.05")
    listing = run("list")
    assert "regions down          us-east-1" in listing
    assert "replication paused    s3" in listing
    assert "failed health checks  hc-42" in listing
    assert "Route 53 health-check time scale: 0.05" in listing
    assert [line.split()[1] for line in listing.splitlines() if line.startswith("20")] == [
        "region-down", "set-delay", "pause-replication", "fail-health-check"]
    run("clear")
    after = run("list")
    assert "regions down          -" in after
    assert "clear" in after.splitlines()[-1]
