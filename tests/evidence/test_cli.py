"""`drlib evidence ...` prints tables and summaries, and exits non-zero when anything changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drlib.aws import AwsClients
from drlib.cli import main

from .conftest import PASSWORD, RUN_IDS


def test_verify_clean_chain_exits_zero(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """verify of an untouched outputs folder prints OK and exits 0."""
    assert main(["evidence", "verify", "--outputs", str(chain)]) == 0
    assert capsys.readouterr().out.startswith("OK: 3 run(s)")


def test_verify_reports_a_change_and_exits_one(chain: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """verify names the changed file in a table and exits 1."""
    (chain / RUN_IDS[2] / "lag.csv").write_text("changed")
    assert main(["evidence", "verify", RUN_IDS[2], "--outputs", str(chain)]) == 1
    out = capsys.readouterr().out
    assert "CHANGED: 1 problem(s)" in out
    assert "modified" in out
    assert "lag.csv" in out


def test_verify_json_carries_full_hashes(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json gives the problems with their full recorded and found SHA-256."""
    (chain / RUN_IDS[0] / "lag.csv").write_text("changed")
    assert main(["evidence", "verify", "--json", "--outputs", str(chain)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    [problem] = report["problems"]
    assert problem["kind"] == "modified"
    assert len(problem["expected"]) == 64
    assert len(problem["actual"]) == 64


def test_list_shows_one_row_per_run(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """list prints run, env, scenario, status, RTO, RPO, verdict and sign-off per run."""
    assert main(["evidence", "sign-off", RUN_IDS[0], "--reviewer", "Jane Auditor",
                 "--comment", "ok", "--outputs", str(chain)]) == 0
    capsys.readouterr()
    assert main(["evidence", "list", "--outputs", str(chain)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "env", "scenario", "status", "RTO", "RPO", "verdict",
                                "signed", "off"]
    rows = [line.split() for line in lines[2:]]
    assert [row[0] for row in rows] == list(RUN_IDS)
    assert rows[0][3:6] == ["passed", "12.3", "s"]
    assert rows[0][-2:] == ["Jane", "Auditor"]
    assert rows[2][3] == "aborted"
    assert rows[2][-1] == "no"


def test_show_tells_the_story_of_a_run(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """show prints status, identity, targets against measurements, timeline and integrity."""
    assert main(["evidence", "show", RUN_IDS[1], "--outputs", str(chain)]) == 0
    out = capsys.readouterr().out
    assert "status     failed" in out
    assert "arn:aws:iam::123456789012:user/dr-engineer" in out
    assert "RTO        measured 12.3 s, target 900 s" in out
    assert "[failure] drill failed" in out
    assert "switchover" in out
    assert "integrity  OK: 1 run(s)" in out
    assert PASSWORD not in out


def test_unknown_run_is_an_error_without_traceback(chain: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown run prints a drlib error with a fix and exits 2."""
    assert main(["evidence", "show", "nope", "--outputs", str(chain)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drlib: error: no run folder nope")
    assert "Traceback" not in err


def test_upload_command(aws: AwsClients, chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """upload archives the run through the environment's endpoint and prints what it did."""
    s3 = aws.client("s3", "us-east-1")
    s3.create_bucket(Bucket="drlib-evidence-cli", ObjectLockEnabledForBucket=True)
    assert main(["evidence", "upload", RUN_IDS[0], "--bucket", "drlib-evidence-cli",
                 "--retention-days", "7", "--outputs", str(chain)]) == 0
    assert "8 uploaded, 0 skipped" in capsys.readouterr().out  # with report.html, report.json
