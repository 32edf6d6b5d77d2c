"""Manifests chain: each records the SHA-256 of the previous run's manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drlib.errors import EvidenceError
from drlib.evidence import read_manifest
from drlib.evidence.chain import previous_link, resolve_run, run_dirs
from drlib.evidence.manifest import GENESIS, manifest_sha256

from .conftest import RUN_IDS, build_run, seal


def test_three_runs_chain(pristine_chain: Path) -> None:
    """The first run is genesis; each later run records the previous manifest's SHA-256."""
    first, second, third = (read_manifest(pristine_chain / r) for r in RUN_IDS)
    assert first.chain.previous_run is None
    assert first.chain.previous_manifest_sha256 == GENESIS
    assert second.chain.previous_run == RUN_IDS[0]
    assert second.chain.previous_manifest_sha256 == manifest_sha256(pristine_chain / RUN_IDS[0])
    assert third.chain.previous_run == RUN_IDS[1]
    assert third.chain.previous_manifest_sha256 == manifest_sha256(pristine_chain / RUN_IDS[1])


def test_unfinished_run_folder_is_skipped_by_the_chain(outputs: Path) -> None:
    """A run folder without a manifest (still running) is not chained to."""
    seal(build_run(outputs, RUN_IDS[0]))
    build_run(outputs, RUN_IDS[1])  # in progress
    link = previous_link(outputs, RUN_IDS[2])
    assert link.previous_run == RUN_IDS[0]


def test_overlapping_runs_chain_in_finishing_order(outputs: Path) -> None:
    """A run that started earlier but finished later chains to the one that finished first."""
    early, late = RUN_IDS[0], RUN_IDS[1]
    seal(build_run(outputs, "20261128T160000Z_dev_planned-switchover"))
    early_dir = build_run(outputs, early)
    seal(build_run(outputs, late))
    seal(early_dir)  # finishes after `late`
    assert read_manifest(early_dir).chain.previous_run == late
    assert previous_link(outputs, RUN_IDS[2]).previous_run == early
    data = json.loads((outputs / late / "manifest.json").read_text())
    assert data["chain"]["previous_run"] == "20261128T160000Z_dev_planned-switchover"


def test_run_dirs_skips_files_and_hidden_folders(outputs: Path) -> None:
    """Only visible folders are runs; README.md and the lock file are not."""
    (outputs / "README.md").write_text("x")
    (outputs / ".evidence.lock").write_text("")
    (outputs / ".ipynb_checkpoints").mkdir()
    (outputs / RUN_IDS[1]).mkdir()
    (outputs / RUN_IDS[0]).mkdir()
    assert [p.name for p in run_dirs(outputs)] == [RUN_IDS[0], RUN_IDS[1]]


def test_resolve_run_accepts_id_or_path_and_explains_a_miss(outputs: Path) -> None:
    """A run is found by id or path; an unknown one raises with the fix."""
    (outputs / RUN_IDS[0]).mkdir()
    assert resolve_run(outputs, RUN_IDS[0]) == (outputs / RUN_IDS[0]).resolve()
    assert resolve_run(Path("elsewhere"), outputs / RUN_IDS[0]) == (outputs / RUN_IDS[0]).resolve()
    with pytest.raises(EvidenceError, match="drlib evidence list"):
        resolve_run(outputs, "20990101T000000Z_dev_nothing")


def test_runs_finishing_at_once_still_form_one_line(outputs: Path) -> None:
    """Runs sealed concurrently each chain to a different predecessor: no fork."""
    from concurrent.futures import ThreadPoolExecutor

    from drlib.evidence import verify

    names = [f"20261128T17{minute:02d}00Z_dev_planned-switchover" for minute in range(4)]
    run_dirs_ = [build_run(outputs, name) for name in names]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(seal, run_dirs_))
    previous = [read_manifest(d).chain.previous_run for d in run_dirs_]
    assert previous.count(None) == 1
    assert len(set(previous)) == 4
    report = verify(outputs)
    assert report.ok, report.table()
