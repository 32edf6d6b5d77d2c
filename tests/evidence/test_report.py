"""Report tables and the RTO history chart behind notebooks 90_report and 95_history."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from drlib.errors import EvidenceError
from drlib.evidence import sign_off
from drlib.evidence.report import (
    history,
    outcome_counts,
    pick_run,
    references_table,
    results_table,
    rto_history_chart,
    run_report,
    writes_table,
)

from .conftest import RUN_IDS, build_run, metrics


def test_run_report_of_a_sealed_run(chain: Path) -> None:
    """A sealed run's report has its summary, results, timeline, findings, charts and integrity."""
    report = run_report(chain, RUN_IDS[1])
    assert report.summary.loc["status", "value"] == "failed"
    assert report.summary.loc["chained to", "value"] == RUN_IDS[0]
    assert list(report.results.index) == ["RTO", "RPO aurora", "RPO dynamodb"]
    assert report.results.loc["RTO", "within target"]
    assert list(report.timeline["step"]) == ["switchover"]
    assert list(report.findings["severity"]) == ["failure"]
    assert [p.name for p in report.charts] == ["lag.png"]
    assert report.integrity.startswith("OK: 1 run(s)")


def test_report_of_the_run_in_progress_says_it_is_not_sealed_yet(chain: Path) -> None:
    """A run named explicitly but not sealed yet is described as such."""
    build_run(chain, "20261128T190000Z_dev_planned-switchover", status="aborted")
    report = run_report(chain, "20261128T190000Z_dev_planned-switchover")
    assert "not sealed yet" in report.integrity


def test_default_report_is_the_newest_sealed_drill_run(chain: Path) -> None:
    """Without run_dir, newer unsealed folders and lab sessions are passed over for the newest
    sealed drill run."""
    build_run(chain, "20261128T190000Z_dev_planned-switchover", status="aborted")
    lab = chain / "20261128T200000Z_lab_interactive"
    lab.mkdir()
    (lab / "interactive.json").write_text("{}")
    assert run_report(chain).run_dir.name == RUN_IDS[-1]


def test_pick_run_without_runs_raises(outputs: Path) -> None:
    """An empty outputs folder is an error that says to run a drill first."""
    with pytest.raises(EvidenceError, match="no sealed drill run"):
        pick_run(outputs)


@pytest.mark.parametrize(
    ("rto", "target", "within"),
    [(12.3, 900, True), (901.0, 900, False), (None, 900, "unknown"), (12.3, None, "unknown")],
)
def test_results_table_compares_rto_with_target(rto: float | None, target: float | None,
                                                within: bool | str) -> None:
    """RTO is within target when measured <= target; unknown when either is missing."""
    data = metrics(RUN_IDS[0], "passed")
    data["measured"]["rto_seconds"] = rto
    data["targets"]["rto_seconds"] = target
    assert results_table(data).loc["RTO", "within target"] == within


def test_history_has_a_row_per_run(chain: Path) -> None:
    """History lists every run with status, RTO, lost records and who signed it off."""
    sign_off(chain / RUN_IDS[0], "Jane Auditor", "ok")
    frame = history(chain)
    assert list(frame["run"]) == list(RUN_IDS)
    assert list(frame["status"]) == ["passed", "failed", "aborted"]
    assert frame.loc[0, "rto_s"] == 12.3
    assert frame.loc[0, "lost_records"] == 2
    assert frame.loc[0, "signed_off_by"] == "Jane Auditor"
    assert pd.isna(frame.loc[2, "rto_s"])
    counts = outcome_counts(frame)
    assert counts.loc[("dev", "planned-switchover"), "passed"] == 1


def test_rto_history_chart_draws_one_point_per_measured_run(chain: Path) -> None:
    """The chart has a dot per run with a measured RTO and the dashed target."""
    figure = rto_history_chart(history(chain))
    ax = figure.axes[0]
    points = sum(len(c.get_offsets()) for c in ax.collections)
    assert points == 2  # the aborted run has no RTO
    assert ax.get_ylabel() == "RTO, seconds"
    assert any(line.get_label() == "RTO target" for line in ax.get_lines())


def _papermill_notebook(path: Path, exception: bool | None, end_time: str | None,
                        error: tuple[str, str] | None = None) -> None:
    import nbformat

    node = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("check()")
    if error:
        cell.outputs = [nbformat.v4.new_output("error", ename=error[0], evalue=error[1],
                                               traceback=[])]
    node.cells = [cell]
    node.metadata["papermill"] = {"exception": exception, "end_time": end_time,
                                  "start_time": "2026-11-28T17:08:18+00:00", "duration": 3.5}
    nbformat.write(node, path)


def test_notebook_outcomes_from_papermill_metadata(tmp_path: Path) -> None:
    """Each notebook's outcome, duration and first error come from papermill's metadata."""
    from drlib.evidence.report import notebook_outcomes

    _papermill_notebook(tmp_path / "00_deploy.ipynb", None, "2026-11-28T17:08:21+00:00")
    _papermill_notebook(tmp_path / "10_readiness.ipynb", True, "2026-11-28T17:08:21+00:00",
                        ("StackError", "no outputs\n  fix: launch"))
    _papermill_notebook(tmp_path / "90_report.ipynb", None, None)
    (tmp_path / "20_failover_drill.ipynb").write_text('{"cells": [')
    frame = notebook_outcomes(tmp_path).set_index("notebook")
    assert frame["outcome"].to_dict() == {"00_deploy": "ok", "10_readiness": "failed",
                                          "20_failover_drill": "unreadable",
                                          "90_report": "running"}
    assert frame.loc["10_readiness", "error"] == "StackError: no outputs"
    assert frame.loc["00_deploy", "seconds"] == 3.5


def test_rpo_not_tested_is_never_within_target_and_writes_are_tabled() -> None:
    """A store whose RPO was not tested shows why and is not "within target"; every write is
    tabled per store with its outage; reference figures carry their origin."""
    data = metrics(RUN_IDS[0], "passed")
    data["measured"]["rpo"]["aurora"]["tested"] = False
    data["measured"]["rpo_evidence"] = {"aurora": {"tested": False, "window_s": 5.0,
                                                   "acknowledged_in_window": 0,
                                                   "reason": "0 writes acknowledged"}}
    data["measured"]["writes"] = {"aurora": {
        "attempted": 113, "acknowledged": 16, "rejected": 97, "timed_out": 0,
        "rejected_by_class": {"AdminShutdown": 1, "ReadOnlySqlTransaction": 96}}}
    data["measured"]["write_outage"] = {"aurora": {
        "seconds": 20.8, "last_ack_region": "us-east-1", "last_ack_seq": 6,
        "last_ack_before": "2026-11-28T17:00:01+00:00", "first_ack_region": "us-west-2",
        "first_ack_seq": 104, "first_ack_after": "2026-11-28T17:00:22+00:00",
        "resolution_s": 0.2}}
    data["published_figures"] = {"dynamodb_lag": {"service": "DynamoDB", "metric": "lag",
                                                  "value_seconds": 1.0,
                                                  "origin": "project design figure",
                                                  "sources": ["https://example"]}}
    results = results_table(data)
    assert results.loc["RPO aurora", "within target"] == "not tested"
    assert results.loc["RPO aurora", "rests on"].startswith("NOT TESTED: 0 writes")
    assert results.loc["RPO dynamodb", "within target"]
    writes = writes_table(data)
    assert writes.loc["aurora", "rejected by class"] == "1 AdminShutdown, 96 ReadOnlySqlTransaction"
    assert writes.loc["aurora", "write outage s"] == 20.8
    assert writes.loc["aurora", "first ack after"].startswith("us-west-2 #104")
    assert writes.loc["aurora", "left behind after failback"] == "-"  # no failback recorded
    assert references_table(data).loc["dynamodb_lag", "origin"] == "project design figure"


def test_each_sides_writes_are_tabled_with_what_failback_left_behind() -> None:
    """Per store: writes per region written, those not yet replicated at the reconciliation,
    and those still left behind after failback."""
    data = metrics(RUN_IDS[0], "passed")
    side = {"replicated": 0, "not_replicated_seqs": [], "missing_where_written": 0}
    data["measured"]["writes"] = {"s3": {"attempted": 9, "acknowledged": 9, "rejected": 0,
                                         "timed_out": 0, "rejected_by_class": {}}}
    data["measured"]["replication"] = {"s3": {
        "us-east-1": {**side, "written": 5, "not_replicated": 0},
        "us-west-2": {**side, "written": 4, "not_replicated": 3}}}
    data["failback"] = {"replication": {"left_behind": 1, "stores": {"s3": {
        "us-east-1": {**side, "written": 5, "not_replicated": 0},
        "us-west-2": {**side, "written": 4, "not_replicated": 1}}}}}
    writes = writes_table(data)
    assert writes.loc["s3", "written per region"] == "us-east-1 5, us-west-2 4"
    assert writes.loc["s3", "not yet replicated"] == "us-east-1 0, us-west-2 3"
    assert writes.loc["s3", "left behind after failback"] == 1
