"""verify reports exactly what changed: which kind of change, in which run, to which file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat

from drlib.evidence import Problem, verify
from drlib.evidence.manifest import sha256_file

from .conftest import RUN_IDS, build_run, seal

FIRST, SECOND, THIRD = RUN_IDS


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_untouched_chain_verifies(chain: Path) -> None:
    """Three sealed runs verify clean, every file and the chain."""
    report = verify(chain)
    assert report.ok, report.table()
    assert report.runs == list(RUN_IDS)
    assert report.files_checked == 21  # 5 files a run, and its report.html and report.json
    assert report.table().startswith("OK: 3 run(s), 21 file(s)")


def test_changed_byte_in_a_notebook(chain: Path) -> None:
    """One flipped byte in a notebook is reported as modified, with both hashes."""
    notebook = chain / SECOND / "30_drill.ipynb"
    recorded = sha256_file(notebook)
    data = bytearray(notebook.read_bytes())
    data[100] ^= 0x01
    notebook.write_bytes(bytes(data))
    problem = _only(verify(chain).problems)
    assert (problem.kind, problem.run, problem.path) == ("modified", SECOND, "30_drill.ipynb")
    assert (problem.expected, problem.actual) == (recorded, sha256_file(notebook))


def test_deleted_chart(chain: Path) -> None:
    """A deleted chart is reported as removed."""
    (chain / FIRST / "charts" / "lag.png").unlink()
    problem = _only(verify(chain).problems)
    assert (problem.kind, problem.run, problem.path) == ("removed", FIRST, "charts/lag.png")


def test_added_file(chain: Path) -> None:
    """A file slipped into a bundle is reported as added."""
    (chain / THIRD / "charts" / "better.png").write_bytes(b"\x89PNG")
    problem = _only(verify(chain).problems)
    assert (problem.kind, problem.run, problem.path) == ("added", THIRD, "charts/better.png")


def test_edited_earlier_manifest_breaks_the_chain(chain: Path) -> None:
    """Rewriting an earlier manifest consistently still breaks the link the next run holds."""
    path = chain / FIRST / "manifest.json"
    document = json.loads(path.read_text())
    document["status"] = "passed"
    document["verdict"] = {"passed": True, "findings": []}
    document["parameters"]["environment"] = "prod"
    from drlib.evidence.manifest import canonical_json, content_digest

    document["content_sha256"] = content_digest(document)  # a careful forger
    path.write_bytes(canonical_json(document))
    problem, report = sorted(verify(chain).problems, key=lambda p: p.kind)
    assert (problem.kind, problem.run, problem.path) == ("chain-broken", FIRST, "manifest.json")
    assert FIRST in problem.detail
    assert SECOND in problem.detail
    # The run's report was rendered from the manifest as sealed.
    assert (report.kind, report.run, report.path) == ("report-wrong-manifest", FIRST,
                                                      "report.json")


def test_hand_edited_manifest_is_caught_even_for_the_newest_run(chain: Path) -> None:
    """An edit that does not recompute the content digest is caught on the newest manifest too."""
    path = chain / THIRD / "manifest.json"
    path.write_text(path.read_text().replace('"status": "aborted"', '"status": "passed"'))
    kinds = sorted((p.kind, p.run, p.path) for p in verify(chain).problems)
    assert kinds == [("manifest-modified", THIRD, "manifest.json"),
                     ("report-wrong-manifest", THIRD, "report.json")]


def test_deleted_middle_run_is_reported(chain: Path) -> None:
    """Removing a whole run folder leaves the next run chained to a missing run."""
    shutil.rmtree(chain / SECOND)
    problem = _only(verify(chain).problems)
    assert (problem.kind, problem.run) == ("chain-missing-run", SECOND)
    assert THIRD in problem.detail


def test_deleted_manifest_is_reported(chain: Path) -> None:
    """A deleted manifest shows as an unsealed run and a dangling link from the next run."""
    (chain / SECOND / "manifest.json").unlink()
    kinds = sorted((p.kind, p.run) for p in verify(chain).problems)
    assert kinds == [("chain-missing-run", SECOND), ("not-finalized", SECOND)]


def test_run_inserted_outside_the_chain_is_reported(chain: Path) -> None:
    """A run sealed elsewhere and copied in forks the chain."""
    elsewhere = chain.parent / "elsewhere"
    elsewhere.mkdir()
    seal(build_run(elsewhere, "20261128T171500Z_dev_planned-switchover"))
    shutil.copytree(elsewhere / "20261128T171500Z_dev_planned-switchover",
                    chain / "20261128T171500Z_dev_planned-switchover")
    problem = _only(verify(chain).problems)
    assert problem.kind == "chain-forked"
    assert FIRST in problem.detail
    assert "20261128T171500Z" in problem.detail


def test_single_run_verification_ignores_other_runs(chain: Path) -> None:
    """Verifying one run checks that run and its links, not unrelated runs' files."""
    (chain / THIRD / "lag.csv").write_text("changed")
    assert verify(chain, run=FIRST).ok
    assert verify(chain, run=FIRST).runs == [FIRST]
    problem = _only(verify(chain, run=chain / THIRD).problems)
    assert (problem.kind, problem.path) == ("modified", "lag.csv")


def test_single_run_verification_sees_its_broken_link(chain: Path) -> None:
    """Verifying the run whose manifest was replaced reports the broken link."""
    path = chain / FIRST / "manifest.json"
    path.write_text(path.read_text() + " ")
    kinds = {p.kind for p in verify(chain, run=FIRST).problems}
    assert "chain-broken" in kinds


def test_cleared_notebook_output_is_detected(chain: Path) -> None:
    """Clearing a notebook's outputs (a plausible cover-up) is reported as modified."""
    path = chain / SECOND / "30_drill.ipynb"
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nbformat.write(notebook, path)
    problem = _only(verify(chain).problems)
    assert (problem.kind, problem.path) == ("modified", "30_drill.ipynb")
