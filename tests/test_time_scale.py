"""The declared pace of the emulated AWS waits: recorded, shown, and 1:1 with --aws-timing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests

from drlib.cli import measured_summary_lines
from drlib.emulator.extensions.route53_health import TIME_SCALE_VARIABLE
from drlib.evidence.manifest import Manifest
from drlib.evidence.report import run_report
from drlib.runner import _drill_emulator
from drlib.time_scale import DEFAULT_LOCAL_SCALE, statement, time_scale_record
from tests.evidence.conftest import build_run, seal


@pytest.mark.parametrize(("scale", "aws_pace", "words"), [
    (1.0, True, "AWS's pace"),
    (0.1, False, "not AWS's"),
])
def test_record_and_statement(scale: float, aws_pace: bool, words: str) -> None:
    """The record names the factor, whether it is AWS's pace, what was scaled, and a sentence."""
    record = time_scale_record(scale)
    assert record["factor"] == scale
    assert record["aws_pace"] is aws_pace
    assert bool(record["scaled_waits"]) is not aws_pace
    assert record["statement"] == statement(scale)
    assert words in record["statement"]


def test_console_rto_line_says_the_pace() -> None:
    """A scaled RTO is printed with its time scale and 'not AWS's'; an AWS-pace one is not."""
    scaled = measured_summary_lines({"measured": {"rto_seconds": 8.2}, "verdict": {},
                                     "time_scale": time_scale_record(0.1)})
    assert "time scale 0.1, a rehearsal figure, not AWS's" in scaled[0]
    real = measured_summary_lines({"measured": {"rto_seconds": 82.0}, "verdict": {},
                                   "time_scale": time_scale_record(1.0)})
    assert "time scale" not in real[0]


def test_manifest_and_report_record_the_time_scale(tmp_path: Path) -> None:
    """Sealing copies metrics.json's time_scale into the manifest; the report shows it."""
    run_dir = build_run(tmp_path, "20261128T170102Z_dev_planned-switchover")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["time_scale"] = time_scale_record(0.1)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    seal(run_dir)
    manifest = Manifest.from_dict(json.loads((run_dir / "manifest.json").read_text()))
    assert manifest.time_scale is not None
    assert manifest.time_scale["factor"] == 0.1
    report = run_report(tmp_path, run_dir.name)
    assert report.summary.loc["time scale", "value"] == statement(0.1)


@pytest.mark.slow
@pytest.mark.parametrize(("aws_timing", "expected"), [(False, DEFAULT_LOCAL_SCALE),
                                                      (True, 1.0)])
def test_the_drills_own_emulator_runs_at_the_declared_pace(
        aws_timing: bool, expected: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """The drill's own emulator reports the default drill's scale, or 1.0 with --aws-timing;
    the process environment is restored afterwards."""
    monkeypatch.delenv(TIME_SCALE_VARIABLE, raising=False)
    for name in ("AWS_ENDPOINT_URL", "DRLIB_DNS_SERVER"):
        monkeypatch.delenv(name, raising=False)
    with _drill_emulator(aws_timing) as emulator:
        health = requests.get(f"{emulator.endpoint_url}/_drlib/health", timeout=5).json()
    assert health["time_scale"] == expected
    assert TIME_SCALE_VARIABLE not in os.environ
