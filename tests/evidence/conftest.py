"""Tiny run folders to seal, tamper with and verify: a notebook, a chart, metrics and a CSV."""

from __future__ import annotations

import base64
import io
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display here; chosen before pyplot is imported

import matplotlib.pyplot as plt
import nbformat
import pytest

from drlib.evidence import Manifest, finalize_run

PASSWORD = "s3cr3t-Pa55word-42"
STARTED = datetime(2026, 11, 28, 17, 1, 2, tzinfo=UTC)


def chart_png() -> bytes:
    """A small real PNG chart of replication lag."""
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot([0, 1, 2, 3], [0.01, 0.02, 0.015, 0.03])
    ax.set_title("lag")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def executed_notebook(png: bytes, printed: str = "switchover done") -> nbformat.NotebookNode:
    """A notebook as papermill leaves it: a parameters cell, a printed line and a chart output."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('environment = "dev"  # which environment',
                                       metadata={"tags": ["parameters"]})
    run = nbformat.v4.new_code_cell("drill.run()", execution_count=2)
    run.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=printed + "\n"),
        nbformat.v4.new_output("display_data",
                               data={"image/png": base64.b64encode(png).decode("ascii"),
                                     "text/plain": "<Figure>"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Drill"), params, run]
    return nb


def metrics(run_id: str, status: str) -> dict[str, Any]:
    """A metrics.json following the drlib.metrics/1 schema."""
    aborted = status == "aborted"
    return {
        "schema": "drlib.metrics/1", "run_id": run_id, "environment": "dev",
        "scenario": "planned-switchover", "target": "local",
        "regions": {"primary": "us-east-1", "secondary": "us-west-2"},
        "started_at": STARTED.isoformat(), "ended_at": (STARTED + timedelta(minutes=3)).isoformat(),
        "status": status,
        "targets": {"rto_seconds": 900, "rpo_seconds": 60, "lag_threshold_seconds": 5},
        "measured": {
            "rto_seconds": None if aborted else 12.3,
            "rpo": {} if aborted else {"aurora": {"lost_records": 0, "span_seconds": 0.0},
                                       "dynamodb": {"lost_records": 2, "span_seconds": 0.4}},
            "lag": {},
        },
        "verdict": {"passed": status == "passed",
                    "findings": [] if status == "passed"
                    else [{"severity": "failure", "message": f"drill {status}"}]},
        "timeline": [{"step": "switchover", "started_at": STARTED.isoformat(),
                      "ended_at": (STARTED + timedelta(seconds=12)).isoformat(),
                      "outcome": "aborted" if aborted else "ok", "detail": ""}],
        "faults": [], "published_figures": {},
    }


def build_run(outputs: Path, run_id: str, status: str = "passed",
              printed: str = "switchover done") -> Path:
    """Write an unsealed run folder with a notebook, a chart, metrics.json and a CSV."""
    run_dir = outputs / run_id
    (run_dir / "charts").mkdir(parents=True)
    png = chart_png()
    (run_dir / "charts" / "lag.png").write_bytes(png)
    nbformat.write(executed_notebook(png, printed), run_dir / "30_drill.ipynb")
    (run_dir / "metrics.json").write_text(json.dumps(metrics(run_id, status), indent=2))
    (run_dir / "lag.csv").write_text("store,at,lag_s\naurora,2026-11-28T17:01:03Z,0.01\n")
    return run_dir


def seal(run_dir: Path, status: str = "passed", **overrides: Any) -> Manifest:
    """Finalize a fixture run as the drill runner would."""
    kwargs: dict[str, Any] = {
        "status": status,
        "parameters": {"environment": "dev", "db_password": PASSWORD, "lag_threshold": 5},
        "target": "local",
        "regions": {"primary": "us-east-1", "secondary": "us-west-2"},
        "identity": {"Account": "123456789012", "UserId": "AIDAEXAMPLE",
                     "Arn": "arn:aws:iam::123456789012:user/dr-engineer"},
        "emulator_version": "drlib-emulator 0.1.0 (moto 5.2.5)",
        "secrets": [PASSWORD],
    }
    kwargs.update(overrides)
    return finalize_run(run_dir, **kwargs)


RunFactory = Callable[..., Path]

RUN_IDS = (
    "20261128T170102Z_dev_planned-switchover",
    "20261128T173000Z_dev_unplanned-failover",
    "20261128T180000Z_staging_planned-switchover",
)


@pytest.fixture(scope="session")
def pristine_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sealed runs (passed, failed, aborted) chained in one outputs folder; never modified."""
    outputs = tmp_path_factory.mktemp("pristine") / "outputs"
    outputs.mkdir()
    for run_id, status in zip(RUN_IDS, ("passed", "failed", "aborted"), strict=True):
        seal(build_run(outputs, run_id, status), status)
    return outputs


@pytest.fixture
def chain(pristine_chain: Path, tmp_path: Path) -> Path:
    """A private copy of the three-run chain, for a test to tamper with."""
    copy = tmp_path / "outputs"
    shutil.copytree(pristine_chain, copy)
    return copy


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    """An empty outputs folder."""
    folder = tmp_path / "outputs"
    folder.mkdir()
    return folder


@pytest.fixture
def sealed_run(outputs: Path) -> RunFactory:
    """A factory of finalized runs: ``sealed_run(run_id, status=...)``."""

    def make(run_id: str, status: str = "passed") -> Path:
        run_dir = build_run(outputs, run_id, status)
        seal(run_dir, status)
        return run_dir

    return make


def drill_metrics(run_id: str, status: str = "passed") -> dict[str, Any]:
    """metrics.json as a full drill writes it: RTO per store, RPO with its evidence, every write
    counted, findings per check, reference figures, the time scale and the RTO model."""
    base = metrics(run_id, status)
    at = STARTED.isoformat()
    stores = ("aurora", "dynamodb", "s3")
    lost = {"aurora": 0, "dynamodb": 0, "s3": 0} if status == "passed" else {
        "aurora": 3, "dynamodb": 0, "s3": 0}
    base["measured"] = {
        "rto_seconds": 5.92,
        "rto": {"rto_seconds": 5.92, "store": "aurora", "seq": 112},
        "rto_per_store": {s: {"rto_seconds": 5.92 - i * 0.05, "store": s, "seq": 80 + i}
                          for i, s in enumerate(stores)},
        "rpo": {s: {"lost_records": lost[s], "span_seconds": 0.4 * lost[s], "acknowledged": 90,
                    "tested": True} for s in stores},
        "rpo_evidence": {s: {"tested": True, "acknowledged_in_window": 20, "window_s": 5.0,
                             "reason": "20 writes acknowledged in the 5 s before the cutover"}
                         for s in stores},
        "writes": {s: {"attempted": 100, "acknowledged": 90, "rejected": 10,
                       "rejected_by_class": {"ReadOnlySqlTransaction": 10}, "timed_out": 0,
                       "attempt_spacing_s": 0.21} for s in stores},
        "write_outage": {s: {"seconds": 5.96, "last_ack_before": at, "last_ack_region":
                             "us-east-1", "last_ack_seq": 86, "first_ack_after": at,
                             "first_ack_region": "us-west-2", "first_ack_seq": 112,
                             "resolution_s": 0.21} for s in stores},
        "lag": {},
    }
    findings: list[dict[str, Any]] = [{
        "severity": "info", "check": "rto", "store": "aurora", "measured": 5.92, "target": 900,
        "published": 60.0, "message": "RTO 5.920 s, slowest store aurora (target 900.000 s): "
                                      "within target"}]
    for store in stores:
        findings.append({
            "severity": "failure" if lost[store] else "info", "check": "rpo", "store": store,
            "measured": 0.4 * lost[store], "target": 0.0, "published": 0.0,
            "message": f"{store}: {lost[store]} of 90 acknowledged records lost; a planned "
                       "switchover must lose none (AWS: switchover RPO 0)"})
    findings.append({"severity": "info", "message": "time scale 0.1: a rehearsal"})
    base["verdict"] = {"passed": status == "passed", "findings": findings}
    base["published_figures"] = {
        "aurora_rto": {"service": "Aurora global database", "metric": "RTO",
                       "value_seconds": 60.0, "origin": "AWS documentation",
                       "statement": "a secondary Region can be promoted in under a minute",
                       "sources": ["https://docs.aws.amazon.com/AmazonRDS/latest/"
                                   "AuroraUserGuide/aurora-global-database-disaster-recovery.html"]},
        "aurora_switchover_rpo": {"service": "Aurora global database",
                                  "metric": "RPO (switchover)", "value_seconds": 0.0,
                                  "origin": "AWS documentation", "statement": "RPO is 0"},
        "route53_failover": {"service": "Route 53 failover routing", "metric": "DNS failover",
                             "value_seconds": 80.0, "origin": "derived from the deployment"},
    }
    base["time_scale"] = {"factor": 0.1, "aws_pace": False,
                          "statement": "time scale 0.1: Route 53 detection and DNS TTLs ran at "
                                       "0.1 of their AWS duration"}
    base["rto_model"] = {"scenario": "planned-switchover", "total_s": 80.0, "target_s": 900,
                         "formula": "max(database, detection + TTL) + app tier",
                         "components": []}
    return base


def build_drill_run(outputs: Path, run_id: str, status: str = "passed") -> Path:
    """An unsealed run folder shaped like a full drill's: realistic metrics, three charts."""
    run_dir = build_run(outputs, run_id, status)
    (run_dir / "metrics.json").write_text(json.dumps(drill_metrics(run_id, status), indent=2))
    png = chart_png()
    for name in ("timeline.png", "write_outcomes.png", "rto_rpo.png"):
        (run_dir / name).write_bytes(png)
    return run_dir
