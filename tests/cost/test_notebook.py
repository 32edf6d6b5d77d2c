"""The cost notebook runs end to end on the emulator and leaves its charts as evidence."""

from __future__ import annotations

import json
from pathlib import Path

import papermill
import pytest

from drlib.emulator.server import Emulator

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "50_cost.ipynb"


def test_committed_notebook_has_no_outputs() -> None:
    """The notebook is committed with its outputs cleared."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code[0]["metadata"]["tags"] == ["parameters"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert not any("boto3" in "".join(c["source"]) for c in code)


@pytest.mark.slow
def test_notebook_runs_on_the_emulator(clean_emulator: Emulator, tmp_path: Path) -> None:
    """papermill runs 50_cost against the emulator; the three cost charts are written."""
    run_dir = tmp_path / "run"
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"),
                               parameters={"environment": "dev", "run_dir": str(run_dir),
                                           "period_days": 3},
                               kernel_name="python3", progress_bar=False)
    assert sorted(p.name for p in run_dir.glob("*.png")) == [
        "cost_actuals.png", "cost_by_component.png", "cost_standby_share.png"]
    text = (tmp_path / "out.ipynb").read_text()
    assert "emulator (derived from deployed resources" in text
