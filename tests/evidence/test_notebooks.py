"""The report notebooks run through papermill on a fixture outputs folder and show real content."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from drlib.evidence import finalize_run, verify
from drlib.notebook_params import notebook_path

from .conftest import RUN_IDS, build_run


def _text(notebook: Path) -> str:
    node = nbformat.read(notebook, as_version=4)
    parts = []
    for cell in node.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(parts)


def _execute(name: str, target: Path, parameters: dict[str, str]) -> Path:
    import papermill

    papermill.execute_notebook(str(notebook_path(name)), str(target), parameters=parameters,
                               kernel_name="python3", progress_bar=False,
                               cwd=str(notebook_path(name).parents[1]))
    return target


@pytest.mark.parametrize("name", ["90_report", "95_history"])
def test_committed_notebooks_have_no_outputs(name: str) -> None:
    """The notebooks are committed with outputs cleared and a parameters-tagged first code cell."""
    node = json.loads(notebook_path(name).read_text())
    code = [c for c in node["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert not any("boto3" in "".join(c["source"]) for c in code)


@pytest.mark.slow
def test_report_notebook_inside_a_run_then_sealed(chain: Path) -> None:
    """90_report runs in an unsealed run folder as the runner does, and the run then seals clean."""
    run_dir = build_run(chain, "20261128T190000Z_dev_planned-switchover", status="failed")
    executed = _execute("90_report", run_dir / "90_report.ipynb",
                        {"run_dir": str(run_dir), "outputs_dir": str(chain)})
    text = _text(executed)
    assert "20261128T190000Z_dev_planned-switchover" in text
    assert "drill failed" in text
    assert "not sealed yet" in text
    charts = [c for c in nbformat.read(executed, as_version=4).cells
              if "report.charts" in c.source and c.cell_type == "code"]
    assert "image/png" in json.dumps(charts[0]["outputs"])
    finalize_run(run_dir, status="failed", parameters={}, target="local", regions={},
                 identity=None, emulator_version=None)
    assert (run_dir / "90_report.html").is_file()
    assert verify(chain).ok


@pytest.mark.slow
def test_history_notebook_lists_runs_and_checks_the_chain(chain: Path, tmp_path: Path) -> None:
    """95_history lists every run and reports the chain intact."""
    executed = _execute("95_history", tmp_path / "95_history.ipynb", {"outputs_dir": str(chain)})
    text = _text(executed)
    for run_id in RUN_IDS:
        assert run_id in text
    assert "OK: 3 run(s), 21 file(s)" in text  # each run: 5 files, report.html and .json
