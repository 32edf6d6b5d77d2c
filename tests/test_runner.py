"""The drill runner's own logic: run folders, parameter validation before anything runs, status."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drlib.errors import ConfigError
from drlib.runner import (
    CHAIN,
    DrillRequest,
    NotebookRun,
    RunResult,
    _run_status,
    chain_parameters,
    new_run_dir,
    run_drill,
)

NOW = datetime(2026, 11, 28, 17, 1, 2, tzinfo=UTC)


def test_run_folders_never_overwrite_each_other(tmp_path: Path) -> None:
    """Two runs in the same second get two folders, named by UTC time, env and scenario."""
    first = new_run_dir(tmp_path, "dev", "planned-switchover", now=NOW)
    second = new_run_dir(tmp_path, "dev", "planned-switchover", now=NOW)
    assert first.name == "20261128T170102Z_dev_planned-switchover"
    assert second.name == "20261128T170102Z_dev_planned-switchover-1"


def test_every_notebook_of_the_chain_gets_valid_parameters(tmp_path: Path) -> None:
    """The default chain's parameters all validate, with the request's values."""
    params = chain_parameters(DrillRequest(environment="staging",
                                           scenario="unplanned-failover"), tmp_path)
    assert list(params) == list(CHAIN)
    assert params["20_failover_drill"]["scenario"] == "unplanned-failover"
    assert all(p.get("environment", "staging") == "staging" for p in params.values())


@pytest.mark.parametrize(("request_", "message"), [
    (DrillRequest(environment="qa"), "Unknown environment 'qa'"),
    (DrillRequest(scenario="meteor"), "notebook parameters.*meteor"),
])
def test_bad_parameters_fail_before_any_notebook_and_leave_no_folder(
        request_: DrillRequest, message: str, tmp_path: Path) -> None:
    """An unknown environment or a bad parameter is refused by name before a notebook runs; no
    run folder is left."""
    request = dataclasses.replace(request_, outputs_dir=tmp_path)
    with pytest.raises(ConfigError, match=re.compile(message, re.S)):
        run_drill(request, progress=lambda line: None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("notebooks", "metrics", "status"), [
    ([NotebookRun("a", "ok", 1.0)], {"status": "passed"}, "passed"),
    ([NotebookRun("a", "ok", 1.0)], {"status": "failed"}, "failed"),
    ([NotebookRun("a", "ok", 1.0)], {"verdict": {"passed": True}}, "passed"),
    ([NotebookRun("a", "ok", 1.0)], {}, "failed"),
    ([NotebookRun("a", "failed", 1.0, "boom")], {"status": "passed"}, "aborted"),
    ([], {"status": "passed"}, "aborted"),
])
def test_run_status(notebooks: list[NotebookRun], metrics: dict[str, object],
                    status: str) -> None:
    """A failed notebook or an empty run is aborted; otherwise the drill's own status counts."""
    result = RunResult(run_dir=Path("."), status="", notebooks=notebooks, metrics=dict(metrics))
    assert _run_status(result) == status


@pytest.mark.parametrize(("status", "code"), [("passed", 0), ("failed", 1), ("aborted", 2)])
def test_exit_codes(status: str, code: int) -> None:
    """0 for a passing verdict, 1 for a failing one, 2 for an aborted run."""
    assert RunResult(run_dir=Path("."), status=status).exit_code == code


def test_a_kernel_that_dies_starting_is_a_failed_notebook_not_a_crash(
        clean_emulator: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel that dies before it answers (as one does when SIGTERM lands while it starts)
    fails its notebook: the run is sealed aborted and exits 2, with no traceback (CI once saw
    exit 1 and jupyter_client's RuntimeError)."""
    import papermill

    from drlib.evidence import read_manifest

    def dies(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", dies)
    lines: list[str] = []
    result = run_drill(DrillRequest(outputs_dir=tmp_path, chain=("10_readiness",)),
                       progress=lines.append)
    assert result.exit_code == 2
    assert [(nb.notebook, nb.outcome) for nb in result.notebooks] == [("10_readiness", "failed")]
    assert "the notebook's kernel failed: RuntimeError" in "\n".join(lines)
    assert read_manifest(result.run_dir).status == "aborted"


def test_the_upload_waits_for_the_report_rendered_in_the_background(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The auditor's report is rendered while the emulator stops; with --upload the evidence is
    archived (Object Lock: for good) only once the report is whole, never half-written."""
    import time

    from drlib import runner

    written = tmp_path / "report.json"

    def seal(*args: object) -> None:
        defer = args[-1]
        assert callable(defer)

        def render() -> None:
            time.sleep(0.3)
            written.write_text("{}")

        defer(render)

    seen: list[bool] = []
    monkeypatch.setattr(runner, "_target_context", lambda request, run_dir=None:
                        runner._TargetContext(None, None, None, []))
    monkeypatch.setattr(runner, "_notify", lambda *args: None)
    monkeypatch.setattr(runner, "_seal", seal)
    monkeypatch.setattr(runner, "_upload", lambda *args: seen.append(written.exists()))
    closing = runner._Closing(runner.DrillRequest(upload=True), tmp_path, {},
                              runner.RunResult(tmp_path, "aborted"), datetime.now(UTC),
                              lambda line: None)
    closing.finish(target_up=True)
    assert seen == [True]
    assert closing.reporting is None  # joined
