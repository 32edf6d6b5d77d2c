"""Reviewer sign-offs: a new file per sign-off, chained to the manifest and to each other.

``signoffs/0001.json`` records the SHA-256 of the manifest it signs and of the sign-off before
it, plus a digest of its own content. The original bundle is never touched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drlib.errors import ConfigError, EvidenceError
from drlib.evidence.manifest import (
    GENESIS,
    MANIFEST_NAME,
    SIGNOFF_DIR,
    canonical_json,
    content_digest,
    manifest_sha256,
    sha256_file,
)
from drlib.evidence.problems import Problem

SIGNOFF_SCHEMA = "drlib.evidence.signoff/1"
_NAME = re.compile(r"^(\d{4})\.json$")


@dataclass(frozen=True)
class SignOff:
    """One reviewer's sign-off of a run."""

    run_id: str
    sequence: int
    reviewer: str
    signed_at: str
    comment: str
    manifest_sha256: str
    previous_signoff_sha256: str

    @property
    def path(self) -> str:
        """Its path inside the run folder."""
        return f"{SIGNOFF_DIR}/{self.sequence:04d}.json"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, with its content digest."""
        document: dict[str, Any] = {
            "schema": SIGNOFF_SCHEMA, "run_id": self.run_id, "sequence": self.sequence,
            "reviewer": self.reviewer, "signed_at": self.signed_at, "comment": self.comment,
            "manifest_sha256": self.manifest_sha256,
            "previous_signoff_sha256": self.previous_signoff_sha256,
        }
        document["content_sha256"] = content_digest(document)
        return document

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> SignOff:
        """Read a sign-off document (``KeyError``/``TypeError`` when it is not one)."""
        return cls(run_id=document["run_id"], sequence=int(document["sequence"]),
                   reviewer=document["reviewer"], signed_at=document["signed_at"],
                   comment=document["comment"], manifest_sha256=document["manifest_sha256"],
                   previous_signoff_sha256=document["previous_signoff_sha256"])


def signoff_files(run_dir: Path) -> list[Path]:
    """The sign-off files of a run, in sequence order."""
    folder = run_dir / SIGNOFF_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def read_signoffs(run_dir: Path) -> list[SignOff]:
    """The readable sign-offs of a run, in order (unreadable ones are left to verify)."""
    result = []
    for path in signoff_files(run_dir):
        try:
            result.append(SignOff.from_dict(json.loads(path.read_bytes())))
        except (ValueError, KeyError, TypeError):
            continue
    return result


def sign_off(run_dir: Path, reviewer: str, comment: str,
             when: datetime | None = None) -> SignOff:
    """Add a reviewer's sign-off to a finalized, unaltered run and return it.

    Refuses (:class:`EvidenceError`) when the run is not finalized or verification finds any
    change: a reviewer must not sign an altered bundle.
    """
    from drlib.evidence.verify import verify

    run_dir = Path(run_dir).resolve()
    if not reviewer.strip() or not comment.strip():
        raise ConfigError("a sign-off needs a reviewer and a comment",
                          expected="non-empty --reviewer and --comment",
                          found=f"reviewer={reviewer!r}, comment={comment!r}",
                          fix="name the reviewer and say what was reviewed")
    report = verify(run_dir.parent, run=run_dir.name)
    if not report.ok:
        raise EvidenceError(
            f"run {run_dir.name} cannot be signed off: verification found "
            f"{len(report.problems)} problem(s)",
            expected="an unaltered, finalized bundle", found="\n" + report.table(),
            fix="investigate the changes; restore the bundle from the archived copy",
            data={"problems": [p.kind for p in report.problems]},
        )
    existing = signoff_files(run_dir)
    signed_at = (when or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    signoff = SignOff(
        run_id=run_dir.name, sequence=len(existing) + 1, reviewer=reviewer.strip(),
        signed_at=signed_at, comment=comment.strip(),
        manifest_sha256=manifest_sha256(run_dir),
        previous_signoff_sha256=sha256_file(existing[-1]) if existing else GENESIS,
    )
    target = run_dir / signoff.path
    target.parent.mkdir(exist_ok=True)
    with target.open("xb") as handle:  # never overwrite an earlier sign-off
        handle.write(canonical_json(signoff.to_dict()))
    return signoff


def check_signoffs(run_dir: Path) -> list[Problem]:
    """Every problem with a run's sign-offs: edits, gaps, broken links, wrong manifest."""
    run = run_dir.name
    folder = run_dir / SIGNOFF_DIR
    if not folder.exists():
        return []
    problems = [Problem("added", run, f"{SIGNOFF_DIR}/{p.name}",
                        "not a sign-off file (signoffs/NNNN.json)")
                for p in sorted(folder.iterdir()) if not _NAME.match(p.name)]
    current_manifest = (manifest_sha256(run_dir) if (run_dir / MANIFEST_NAME).is_file()
                        else None)
    previous: tuple[str, str] = ("(none: first sign-off)", GENESIS)
    for expected_seq, path in enumerate(signoff_files(run_dir), start=1):
        problems.extend(_check_one(run, path, expected_seq, previous, current_manifest))
        previous = (f"{SIGNOFF_DIR}/{path.name}", sha256_file(path))
    return problems


def _check_one(run: str, path: Path, expected_seq: int, previous: tuple[str, str],
               current_manifest: str | None) -> list[Problem]:
    previous_name, previous_hash = previous
    rel = f"{SIGNOFF_DIR}/{path.name}"
    number = int(_NAME.match(path.name).group(1))  # type: ignore[union-attr]
    problems = []
    if number != expected_seq:
        problems.append(Problem("signoff-removed", run, rel,
                                f"sign-off {expected_seq:04d} is missing before {path.name}"))
    try:
        document = json.loads(path.read_bytes())
        signoff = SignOff.from_dict(document)
    except (ValueError, KeyError, TypeError) as exc:
        return [*problems, Problem("signoff-unreadable", run, rel, f"not a sign-off: {exc}")]
    if document.get("content_sha256") != content_digest(document):
        problems.append(Problem("signoff-modified", run, rel,
                                "content differs from the digest written with it",
                                expected=document.get("content_sha256"),
                                actual=content_digest(document)))
    if signoff.previous_signoff_sha256 != previous_hash:
        problems.append(Problem("signoff-chain-broken", run, rel,
                                f"{previous_name} is not what this sign-off chained to",
                                expected=signoff.previous_signoff_sha256, actual=previous_hash))
    if current_manifest is not None and signoff.manifest_sha256 != current_manifest:
        problems.append(Problem("signoff-wrong-manifest", run, rel,
                                "signed a different manifest.json than the run has now",
                                expected=signoff.manifest_sha256, actual=current_manifest))
    return problems
