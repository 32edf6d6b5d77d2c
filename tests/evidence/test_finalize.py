"""finalize_run seals a run folder: HTML renderings, a chained manifest, no secrets."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from drlib.errors import ConfigError, EvidenceError
from drlib.evidence import read_manifest, verify
from drlib.evidence.manifest import GENESIS, canonical_json, content_digest, sha256_file
from drlib.evidence.provenance import git_state

from .conftest import PASSWORD, RUN_IDS, build_run, chart_png, executed_notebook, seal


def test_manifest_lists_every_file_with_hash_and_size(outputs: Path) -> None:
    """Every bundle file (HTML in, manifest out) is listed, sorted, with SHA-256 and size."""
    run_dir = build_run(outputs, RUN_IDS[0])
    manifest = seal(run_dir)
    paths = [entry.path for entry in manifest.files]
    assert paths == ["30_drill.html", "30_drill.ipynb", "charts/lag.png", "lag.csv",
                     "metrics.json"]
    for entry in manifest.files:
        assert entry.sha256 == sha256_file(run_dir / entry.path)
        assert entry.size == (run_dir / entry.path).stat().st_size


def test_manifest_records_who_what_when(outputs: Path) -> None:
    """The manifest records target, regions, identity, emulator, git, times, targets, verdict."""
    run_dir = build_run(outputs, RUN_IDS[0])
    seal(run_dir)
    document = json.loads((run_dir / "manifest.json").read_text())
    assert document["schema"] == "drlib.evidence.manifest/1"
    assert document["run_id"] == RUN_IDS[0]
    assert document["status"] == "passed"
    assert document["target"] == "local"
    assert document["regions"] == {"primary": "us-east-1", "secondary": "us-west-2"}
    assert document["emulator_version"] == "drlib-emulator 0.1.0 (moto 5.2.5)"
    assert document["identity"]["aws"]["Arn"] == "arn:aws:iam::123456789012:user/dr-engineer"
    assert document["identity"]["os_user"]
    assert document["identity"]["hostname"]
    assert document["scenario"] == "planned-switchover"
    assert document["environment"] == "dev"
    assert document["started_at"] == "2026-11-28T17:01:02+00:00"
    assert document["targets"]["rto_seconds"] == 900
    assert document["verdict"]["passed"] is True
    assert document["parameters"] == {"environment": "dev", "db_password": "****",
                                      "lag_threshold": 5}
    assert set(document["git"]) == {"commit", "dirty", "error"}
    assert document["chain"] == {"previous_run": None, "previous_manifest_sha256": GENESIS}


def test_manifest_json_is_deterministic(outputs: Path) -> None:
    """manifest.json is sorted-key, indent-2 JSON whose content digest matches its content."""
    run_dir = build_run(outputs, RUN_IDS[0])
    seal(run_dir)
    raw = (run_dir / "manifest.json").read_bytes()
    document = json.loads(raw)
    assert raw == canonical_json(document)
    assert document["content_sha256"] == content_digest(document)


def test_explicit_arguments_override_metrics(outputs: Path) -> None:
    """Scenario, environment and verdict passed by the runner win over metrics.json."""
    run_dir = build_run(outputs, RUN_IDS[0])
    manifest = seal(run_dir, scenario="unplanned-failover", environment="staging",
                    verdict={"passed": False, "findings": []})
    assert (manifest.scenario, manifest.environment) == ("unplanned-failover", "staging")
    assert manifest.verdict == {"passed": False, "findings": []}


def test_notebooks_render_to_standalone_html(outputs: Path) -> None:
    """Each notebook gets an HTML rendering with its output text and the chart embedded."""
    run_dir = build_run(outputs, RUN_IDS[0], printed="switchover took 12.3 s")
    seal(run_dir)
    html = (run_dir / "30_drill.html").read_text()
    assert "switchover took 12.3 s" in html
    assert "data:image/png;base64," in html


def test_notebooks_rendered_ahead_are_sealed_as_rendered_unless_they_changed(
        outputs: Path) -> None:
    """The drill renders each notebook in a separate process as soon as it is done; the seal
    keeps that HTML for a notebook still exactly as rendered, and renders again one that
    changed after (or whose rendering ahead failed): the HTML always shows the sealed .ipynb."""
    from drlib.evidence.render import RenderAhead

    run_dir = build_run(outputs, RUN_IDS[0], printed="first version")
    nbformat.write(executed_notebook(chart_png(), "kept as is"), run_dir / "40_failback.ipynb")
    ahead = RenderAhead(run_dir)
    ahead.submit(run_dir / "30_drill.ipynb")
    ahead.submit(run_dir / "40_failback.ipynb")
    ahead.submit(run_dir / "missing.ipynb")  # never written: nothing to render
    rendered = ahead.done()
    assert sorted(rendered) == ["30_drill.ipynb", "40_failback.ipynb"]
    assert "first version" in (run_dir / "30_drill.html").read_text()
    kept = (run_dir / "40_failback.html").stat().st_mtime_ns
    nbformat.write(executed_notebook(chart_png(), "second version"), run_dir / "30_drill.ipynb")
    manifest = seal(run_dir, rendered_ahead=rendered)
    html = (run_dir / "30_drill.html").read_text()
    assert "second version" in html
    assert "first version" not in html
    assert (run_dir / "40_failback.html").stat().st_mtime_ns == kept  # not rendered twice
    assert manifest.file("40_failback.html") is not None
    assert not manifest.render_errors
    assert verify(outputs).ok


def test_unrenderable_notebook_is_recorded_not_fatal(outputs: Path) -> None:
    """A truncated notebook (aborted run) is noted in the manifest and the run still seals."""
    run_dir = build_run(outputs, RUN_IDS[0], status="aborted")
    (run_dir / "40_failback.ipynb").write_text('{"cells": [')
    manifest = seal(run_dir, status="aborted")
    assert [e["notebook"] for e in manifest.render_errors] == ["40_failback.ipynb"]
    assert manifest.file("40_failback.ipynb") is not None
    assert verify(outputs).ok


@pytest.mark.parametrize("status", ["failed", "aborted"])
def test_failed_and_aborted_runs_leave_complete_verifiable_bundles(outputs: Path,
                                                                    status: str) -> None:
    """A failed or aborted run is sealed like any other, marked with its status."""
    run_dir = build_run(outputs, RUN_IDS[0], status=status)
    manifest = seal(run_dir, status=status)
    assert read_manifest(run_dir).status == status
    assert manifest.file("30_drill.html") is not None
    assert manifest.file("metrics.json") is not None
    report = verify(outputs, run=RUN_IDS[0])
    assert report.ok, report.table()


def test_secret_in_a_notebook_output_refuses_finalize(outputs: Path) -> None:
    """A secret printed by a notebook stops finalization; the error names files, not the secret."""
    run_dir = build_run(outputs, RUN_IDS[0], printed=f"connecting with {PASSWORD}")
    with pytest.raises(EvidenceError) as caught:
        seal(run_dir)
    message = caught.value.render()
    assert "30_drill.ipynb" in message
    assert "30_drill.html" in message
    assert PASSWORD not in message
    assert PASSWORD not in str(caught.value.data)
    assert not (run_dir / "manifest.json").exists()


def test_second_finalize_is_refused(outputs: Path) -> None:
    """A sealed bundle cannot be sealed again (its manifest is never replaced)."""
    run_dir = build_run(outputs, RUN_IDS[0])
    seal(run_dir)
    before = (run_dir / "manifest.json").read_bytes()
    with pytest.raises(EvidenceError, match="already finalized"):
        seal(run_dir)
    assert (run_dir / "manifest.json").read_bytes() == before


def test_unknown_status_is_refused(outputs: Path) -> None:
    """Only passed, failed and aborted are statuses."""
    run_dir = build_run(outputs, RUN_IDS[0])
    with pytest.raises(ConfigError, match="unknown run status"):
        seal(run_dir, status="succeeded")


def test_symbolic_link_is_refused(outputs: Path, tmp_path: Path) -> None:
    """A symbolic link in a bundle is refused: its target could change unseen."""
    run_dir = build_run(outputs, RUN_IDS[0])
    (tmp_path / "elsewhere.txt").write_text("x")
    (run_dir / "link.txt").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(EvidenceError, match="symbolic link"):
        seal(run_dir)


def test_git_state_outside_a_repository(tmp_path: Path) -> None:
    """Outside a git work tree the commit is None and the reason is recorded."""
    state = git_state(tmp_path)
    assert state["commit"] is None
    assert state["dirty"] is None
    assert "git" in state["error"].lower() or "repository" in state["error"].lower()


def test_git_state_reports_commit_and_dirty_tree(tmp_path: Path) -> None:
    """In a repository the HEAD commit is recorded, and an uncommitted change marks it dirty."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
                              cwd=tmp_path, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git("add", "a.txt")
    git("commit", "-q", "-m", "a")
    clean = git_state(tmp_path)
    assert clean == {"commit": git("rev-parse", "HEAD"), "dirty": False, "error": None}
    (tmp_path / "a.txt").write_text("b")
    assert git_state(tmp_path)["dirty"] is True


def test_run_dataclass_regions_are_accepted(outputs: Path) -> None:
    """A RegionPair can be passed as the regions."""
    from drlib.aws import RegionPair

    manifest = seal(build_run(outputs, RUN_IDS[0]), regions=RegionPair("eu-west-1", "eu-central-1"))
    assert manifest.regions == {"primary": "eu-west-1", "secondary": "eu-central-1"}


def test_notebook_fixture_is_valid() -> None:
    """The fixture notebook is a valid nbformat 4 document (so rendering tests mean something)."""
    from .conftest import chart_png, executed_notebook

    nbformat.validate(executed_notebook(chart_png()))
