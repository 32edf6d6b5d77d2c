"""Locust's distributed mode on one machine: a master and two worker processes on loopback,
driving the drill's canary writers against the emulator (the dev stack deployed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from drlib import load
from drlib.emulator.server import Emulator
from drlib.session import Session
from drlib.stacks import SceptreProject
from drlib.targets import open_target
from drlib.workload import project_regions, workload_from_outputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    emulator.reset()
    project = SceptreProject("dev")
    project.launch("")
    regions = project_regions(project.variables)
    workload = workload_from_outputs("dev", regions, project.outputs(""))
    return Session("dev", open_target("local", regions), project,
                  tmp_path_factory.mktemp("load-run"), _workload=workload)


@pytest.mark.timeout(600)
def test_master_and_two_workers_on_loopback(session: Session) -> None:
    """Two worker processes each write their own streams to every store for 5 s; the master
    collects every record; nothing is lost; Locust's statistics count every attempt; the
    figures recompute from records.csv."""
    lines: list[str] = []
    run = load.run_load(session, rate_per_second=20, duration_s=5, users_per_store=2,
                        workers=2, drain_s=10, progress=lines.append)
    folder = run.folder
    processes = json.loads((folder / "processes.json").read_text())
    assert len(processes) == 2
    assert len({p["pid"] for p in processes}) == 2
    # each worker writes streams of its own (Locust shares the users out between them)
    streams = {pid: {v["stream"] for v in p["streams"].values()}
               for pid, p in ((p["pid"], p) for p in processes)}
    assert all(len(s) == 1 for s in streams.values()), streams
    records = load.read_records(folder)
    assert set(records["stream"]) == set().union(*streams.values())
    assert len(set(records["stream"])) == 2
    for store in ("aurora", "dynamodb", "s3"):
        figures = run.figures["stores"][store]
        assert figures["acknowledged"] >= 10, figures  # 5 s at 20/s, on a busy machine
        assert figures["lost"] == 0, figures
        assert figures["lag"]["count"] == figures["acknowledged"], figures
        assert figures["lag"]["p99_s"] is not None
    failed = records.loc[records["outcome"] != "acknowledged",
                         ["store", "seq", "outcome", "error_class", "error"]]
    assert run.figures["total"]["errors"] == 0, failed.to_string()  # which writes, and why
    stats = pd.read_csv(folder / "locust_stats.csv")
    aggregated = stats.loc[stats["Name"] == "Aggregated", "Request Count"].iloc[0]
    assert aggregated == run.figures["total"]["attempted"]
    assert load.figures_of(folder) == json.loads(json.dumps(
        {k: run.figures[k] for k in ("window", "stores", "total")}))
    assert any(line.startswith("[load]") for line in lines)
    assert "Aggregated" in "\n".join(lines)  # Locust's own summary table
    charts = run.save_charts(folder)
    assert {p.name for p in charts.values()} == {
        "load_throughput.png", "load_lag_over_time.png", "load_lag_cdf.png"}
    assert all(Path(p).stat().st_size > 0 for p in charts.values())


@pytest.mark.timeout(300)
def test_the_stop_interrupts_no_write_in_flight(session: Session) -> None:
    """The notebook's default load (20 writes/s per store, paced by Locust) at the stop: each
    write in flight ends and is recorded as the store answered it; none is cut off by the stop
    itself (Locust kills the users it stops: a write or two per run was recorded as
    'Interrupted: GreenletExit', acknowledged or not, before drlib let writes in flight end)."""
    run = load.run_load(session, rate_per_second=20, duration_s=3, progress=lambda line: None)
    records = load.read_records(run.folder)
    assert not (records["error_class"] == "Interrupted").any(), \
        records.loc[records["error_class"] == "Interrupted", ["store", "seq", "error"]]
    assert run.figures["total"]["errors"] == 0
    assert run.figures["total"]["acknowledged"] == run.figures["total"]["attempted"] > 0
