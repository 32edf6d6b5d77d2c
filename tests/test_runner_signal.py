"""A drill run stopped by SIGTERM (a scheduler's timeout, a shutdown) still seals its evidence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drlib.emulator.server import Emulator
from drlib.evidence import read_manifest, verify
from drlib.waiting import wait_until

pytestmark = pytest.mark.slow

CHILD = """
import sys
from pathlib import Path
from drlib.runner import DrillRequest, run_drill
result = run_drill(DrillRequest(outputs_dir=Path(sys.argv[1]),
                                chain=("10_readiness", "90_report")))
sys.exit(result.exit_code)
"""


def test_sigterm_leaves_a_sealed_bundle_marked_aborted(clean_emulator: Emulator,
                                                       tmp_path: Path) -> None:
    """SIGTERM in the middle of a notebook: the run ends, sealed, aborted, and it verifies."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)],
                             env=dict(os.environ), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    wait_until(lambda: any(tmp_path.glob("*/10_readiness.ipynb")),
               description="the first notebook to start", timeout=120, interval=0.1)
    child.send_signal(signal.SIGTERM)
    output, _ = child.communicate(timeout=120)
    assert child.returncode == 2, output
    assert "interrupted" in output
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert read_manifest(run_dir).status == "aborted"
    report = verify(tmp_path)
    assert report.ok, report.table()
