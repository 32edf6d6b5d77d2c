"""The drill runner seals every run through finalize_run, an aborted one included."""

from __future__ import annotations

from pathlib import Path

import pytest

from drlib.emulator.server import Emulator
from drlib.evidence import read_manifest, verify
from drlib.runner import DrillRequest, run_drill

pytestmark = pytest.mark.slow


def test_aborted_runner_run_leaves_a_sealed_verifiable_bundle(clean_emulator: Emulator,
                                                              tmp_path: Path) -> None:
    """Readiness fails on an empty emulator: the run is aborted, reported, sealed and verifies."""
    result = run_drill(DrillRequest(outputs_dir=tmp_path, chain=("10_readiness", "90_report")),
                       progress=lambda line: None)
    assert result.status == "aborted"
    manifest = read_manifest(result.run_dir)
    assert manifest.status == "aborted"
    paths = {entry.path for entry in manifest.files}
    assert {"10_readiness.ipynb", "10_readiness.html", "90_report.ipynb",
            "90_report.html"} <= paths
    assert "failed" in (result.run_dir / "90_report.html").read_text()
    report = verify(tmp_path)
    assert report.ok, report.table()
