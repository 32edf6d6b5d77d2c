"""Sign-offs are new chained files; verify checks them and sees any tampering."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drlib.errors import ConfigError, EvidenceError
from drlib.evidence import sign_off, verify
from drlib.evidence.manifest import GENESIS, canonical_json, manifest_sha256, sha256_file
from drlib.evidence.signoff import read_signoffs

from .conftest import RUN_IDS

RUN = RUN_IDS[1]
WHEN = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)


def _snapshot(run_dir: Path) -> dict[str, str]:
    return {p.relative_to(run_dir).as_posix(): sha256_file(p)
            for p in run_dir.rglob("*") if p.is_file()}


def test_sign_off_adds_a_chained_file_and_verifies(chain: Path) -> None:
    """A sign-off is a new file naming the manifest hash; the original files are untouched."""
    run_dir = chain / RUN
    before = _snapshot(run_dir)
    first = sign_off(run_dir, "Jane Auditor", "RTO and RPO within target", when=WHEN)
    second = sign_off(run_dir, "Ravi Risk", "accepted")
    after = _snapshot(run_dir)
    assert {k: v for k, v in after.items() if not k.startswith("signoffs/")} == before
    assert sorted(k for k in after if k.startswith("signoffs/")) == ["signoffs/0001.json",
                                                                     "signoffs/0002.json"]
    assert first.manifest_sha256 == manifest_sha256(run_dir)
    assert first.previous_signoff_sha256 == GENESIS
    assert first.signed_at == "2026-11-29T09:30:00+00:00"
    assert second.previous_signoff_sha256 == sha256_file(run_dir / "signoffs/0001.json")
    assert [s.reviewer for s in read_signoffs(run_dir)] == ["Jane Auditor", "Ravi Risk"]
    report = verify(chain)
    assert report.ok, report.table()
    assert report.signoffs_checked == 2


def test_edited_sign_off_is_detected(chain: Path) -> None:
    """Changing a sign-off's comment is caught by its digest and by the next sign-off's link."""
    run_dir = chain / RUN
    sign_off(run_dir, "Jane Auditor", "RTO within target", when=WHEN)
    sign_off(run_dir, "Ravi Risk", "accepted", when=WHEN)
    path = run_dir / "signoffs/0001.json"
    path.write_text(path.read_text().replace("RTO within target", "no findings"))
    found = sorted((p.kind, p.run, p.path) for p in verify(chain).problems)
    assert found == [("signoff-chain-broken", RUN, "signoffs/0002.json"),
                     ("signoff-modified", RUN, "signoffs/0001.json")]


def test_consistently_forged_sign_off_breaks_the_next_link(chain: Path) -> None:
    """A forger who recomputes the digest still breaks the link the next sign-off holds."""
    run_dir = chain / RUN
    sign_off(run_dir, "Jane Auditor", "RTO within target", when=WHEN)
    sign_off(run_dir, "Ravi Risk", "accepted", when=WHEN)
    path = run_dir / "signoffs/0001.json"
    document = json.loads(path.read_text())
    document["reviewer"] = "Someone Else"
    from drlib.evidence.manifest import content_digest

    document["content_sha256"] = content_digest(document)
    path.write_bytes(canonical_json(document))
    problem = verify(chain).problems
    assert [(p.kind, p.path) for p in problem] == [("signoff-chain-broken",
                                                    "signoffs/0002.json")]


def test_removed_sign_off_leaves_a_gap(chain: Path) -> None:
    """Deleting a sign-off that another follows is reported as removed."""
    run_dir = chain / RUN
    for reviewer in ("A Reviewer", "B Reviewer", "C Reviewer"):
        sign_off(run_dir, reviewer, "ok", when=WHEN)
    (run_dir / "signoffs/0002.json").unlink()
    kinds = sorted((p.kind, p.path) for p in verify(chain).problems)
    assert ("signoff-removed", "signoffs/0003.json") in kinds
    assert ("signoff-chain-broken", "signoffs/0003.json") in kinds


def test_sign_off_of_an_altered_run_is_refused(chain: Path) -> None:
    """A reviewer cannot sign a bundle that fails verification."""
    (chain / RUN / "lag.csv").write_text("rewritten")
    with pytest.raises(EvidenceError, match="cannot be signed off") as caught:
        sign_off(chain / RUN, "Jane Auditor", "ok")
    assert "lag.csv" in caught.value.render()
    assert not (chain / RUN / "signoffs").exists()


def test_sign_off_needs_reviewer_and_comment(chain: Path) -> None:
    """An empty reviewer or comment is refused."""
    with pytest.raises(ConfigError):
        sign_off(chain / RUN, " ", "ok")
    with pytest.raises(ConfigError):
        sign_off(chain / RUN, "Jane", "")


def test_stray_file_in_signoffs_is_reported(chain: Path) -> None:
    """A file in signoffs/ that is not a numbered sign-off is reported as added."""
    sign_off(chain / RUN, "Jane Auditor", "ok", when=WHEN)
    (chain / RUN / "signoffs" / "notes.txt").write_text("x")
    problem = verify(chain).problems
    assert [(p.kind, p.path) for p in problem] == [("added", "signoffs/notes.txt")]


def test_sign_off_is_bound_to_the_manifest_it_signed(chain: Path) -> None:
    """Replacing the manifest after a sign-off is reported against the sign-off too."""
    sign_off(chain / RUN, "Jane Auditor", "ok", when=WHEN)
    manifest = chain / RUN / "manifest.json"
    manifest.write_text(manifest.read_text() + "\n")
    found = {(p.kind, p.path) for p in verify(chain, run=RUN).problems}
    assert ("signoff-wrong-manifest", "signoffs/0001.json") in found
    assert ("chain-broken", "manifest.json") in found
