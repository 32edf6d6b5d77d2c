"""The auditor's report of a sealed run and ``report.json``, the addendum that covers it.

The report (``report.html``, and ``report.pdf`` when Chromium can print one) is rendered from
the sealed manifest, so it can state the run's sealed status and the manifest's SHA-256, which
it could not if it were one of the files the manifest hashes. ``report.json`` records, once:

* the SHA-256 and size of every report file,
* the SHA-256 of the ``manifest.json`` it was rendered from (the hash the next run chains to and
  sign-offs sign),
* the sign-offs the report shows (none when it is rendered at sealing),
* a digest of its own content, like the manifest and the sign-offs.

The manifest, written just before, declares the report (``"report": "report.html"``), so a
report deleted together with its addendum is missing, not merely absent. ``drlib evidence
verify`` checks all of it (:func:`check_report`); the report files and the addendum are outside
the manifest's file list (see :func:`drlib.evidence.manifest.bundle_files`) and archived with the
bundle by ``drlib evidence upload``. As with sign-offs, a rewrite of both the report and its
addendum with fresh digests is caught by the archived copy (``verify RUN --bucket``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drlib.evidence.manifest import (
    ADDENDUM_FILES,
    REPORT_ADDENDUM,
    REPORT_FILES,
    REPORT_HTML,
    REPORT_PDF,
    Manifest,
    canonical_json,
    content_digest,
    manifest_sha256,
    sha256_file,
)
from drlib.evidence.problems import Problem

__all__ = ["ADDENDUM_FILES", "REPORT_ADDENDUM", "REPORT_FILES", "REPORT_HTML", "REPORT_PDF",
           "ReportRecord", "check_report", "report_paths", "write_addendum"]

REPORT_SCHEMA = "drlib.evidence.report/1"


@dataclass(frozen=True)
class ReportRecord:
    """The content of ``report.json``."""

    run_id: str
    manifest_sha256: str
    rendered_at: str
    files: tuple[dict[str, Any], ...]
    signoffs: tuple[dict[str, Any], ...] = ()
    pdf: str = "not made"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, with its content digest."""
        document: dict[str, Any] = {
            "schema": REPORT_SCHEMA, "run_id": self.run_id,
            "manifest_sha256": self.manifest_sha256, "rendered_at": self.rendered_at,
            "files": [dict(f) for f in self.files], "signoffs": [dict(s) for s in self.signoffs],
            "pdf": self.pdf,
        }
        document["content_sha256"] = content_digest(document)
        return document


def write_addendum(run_dir: Path, files: Iterable[str], signoffs: Iterable[Path],
                   pdf: str, now: datetime | None = None) -> ReportRecord:
    """Write ``report.json`` for the report ``files`` of a sealed run (exclusive create: a
    report is rendered once)."""
    record = ReportRecord(
        run_id=run_dir.name,
        manifest_sha256=manifest_sha256(run_dir),
        rendered_at=(now or datetime.now(UTC)).astimezone(UTC).isoformat(
            timespec="milliseconds"),
        files=tuple({"path": rel, "sha256": sha256_file(run_dir / rel),
                     "size": (run_dir / rel).stat().st_size} for rel in files),
        signoffs=tuple({"path": p.relative_to(run_dir).as_posix(), "sha256": sha256_file(p)}
                       for p in signoffs),
        pdf=pdf,
    )
    with (run_dir / REPORT_ADDENDUM).open("xb") as handle:
        handle.write(canonical_json(record.to_dict()))
    return record


def report_paths(run_dir: Path) -> list[Path]:
    """The addendum and the report files present: what ``drlib evidence upload`` archives
    beside the manifest's files."""
    return [run_dir / name for name in ADDENDUM_FILES if (run_dir / name).is_file()]


def check_report(run_dir: Path, manifest: Manifest) -> tuple[list[Problem], int]:
    """Every problem with a sealed run's report and its addendum, and how many files were
    checked: a report edited, replaced, removed or added, an addendum edited, or one rendered
    from another manifest."""
    run = run_dir.name
    addendum = run_dir / REPORT_ADDENDUM
    present = {name for name in REPORT_FILES if (run_dir / name).is_file()}
    if not addendum.is_file():
        problems = [Problem("added", run, name, "a report file without report.json: not "
                            "rendered from the sealed manifest",
                            actual=sha256_file(run_dir / name)) for name in sorted(present)]
        if manifest.report:
            problems.append(Problem(
                "report-missing", run, REPORT_ADDENDUM,
                f"the manifest declares the auditor's report {manifest.report}, rendered after "
                "sealing; report.json is missing (if it was never rendered: "
                f"drlib evidence report {run})"))
        return problems, len(present)
    try:
        document = json.loads(addendum.read_bytes())
        listed = {str(f["path"]): f for f in document["files"]}
        signoffs = list(document.get("signoffs") or [])
        recorded_manifest = document["manifest_sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        return [Problem("report-unreadable", run, REPORT_ADDENDUM,
                        f"not a report addendum: {exc}")], 1
    problems = []
    if document.get("content_sha256") != content_digest(document):
        problems.append(Problem("report-modified", run, REPORT_ADDENDUM,
                                "content differs from the digest written with it",
                                expected=document.get("content_sha256"),
                                actual=content_digest(document)))
    current = manifest_sha256(run_dir)
    if recorded_manifest != current or document.get("run_id") != run:
        problems.append(Problem("report-wrong-manifest", run, REPORT_ADDENDUM,
                                "the report was rendered from another manifest.json than the "
                                "run has now", expected=recorded_manifest, actual=current))
    for name in sorted(set(listed) | present):
        entry = listed.get(name)
        if entry is None:
            problems.append(Problem("added", run, name, "a report file not in report.json",
                                    actual=sha256_file(run_dir / name)))
        elif not (run_dir / name).is_file():
            problems.append(Problem("removed", run, name, "listed in report.json, missing from "
                                    "the folder", expected=entry.get("sha256")))
        elif sha256_file(run_dir / name) != entry.get("sha256"):
            problems.append(Problem("modified", run, name, "content differs from report.json",
                                    expected=entry.get("sha256"),
                                    actual=sha256_file(run_dir / name)))
    for signoff in signoffs:
        if not (run_dir / str(signoff.get("path"))).is_file():
            problems.append(Problem("signoff-removed", run, str(signoff.get("path")),
                                    "the report shows this sign-off; it is gone",
                                    expected=signoff.get("sha256")))
    return problems, 1 + len(set(listed) | present)
