"""The manifest of a run bundle: what ran, by whom, when, and the SHA-256 of every file.

``manifest.json`` is written once, when the run is finalized, as deterministic JSON (sorted keys,
indent 2). It carries ``content_sha256``, a digest of its own content without that field, so an
edit that does not recompute it is caught even on the newest run, which no later run chains to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drlib.errors import EvidenceError

MANIFEST_NAME = "manifest.json"
SIGNOFF_DIR = "signoffs"
REPORT_HTML = "report.html"
"""The auditor's report, rendered from the sealed manifest (:mod:`drlib.evidence.auditor`)."""
REPORT_PDF = "report.pdf"
REPORT_ADDENDUM = "report.json"
"""Records the report files' SHA-256 and the manifest they were rendered from
(:mod:`drlib.evidence.addendum`)."""
REPORT_FILES = (REPORT_HTML, REPORT_PDF)
ADDENDUM_FILES = (REPORT_ADDENDUM, *REPORT_FILES)
"""Top-level names of a run folder that belong to the report, not to the manifest's list."""
MANIFEST_SCHEMA = "drlib.evidence.manifest/1"
GENESIS = "genesis"
STATUSES = ("passed", "failed", "aborted", "crashed")
"""``crashed``: the run's process died before it sealed its folder; sealed later by the next
drill on the same outputs folder or by ``drlib evidence seal RUN``."""
_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_json(obj: Any) -> bytes:
    """The bytes evidence files are written as: sorted keys, indent 2, UTF-8, final newline."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def content_digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of a document's canonical JSON without its own ``content_sha256`` field."""
    body = {key: value for key, value in document.items() if key != "content_sha256"}
    return sha256_bytes(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def bundle_files(run_dir: Path) -> list[str]:
    """Every file the manifest covers: relative POSIX paths, sorted.

    The manifest itself, the sign-offs (added after the manifest, chained on their own) and the
    auditor's report with its addendum (rendered from the manifest, so after it) are left out.
    A symbolic link is refused: its target could change without the bundle changing.
    """
    return sorted(_walk(run_dir, run_dir))


def _walk(root: Path, folder: Path) -> Iterator[str]:
    for entry in folder.iterdir():
        rel = entry.relative_to(root).as_posix()
        if entry.is_symlink():
            raise EvidenceError(
                f"the run bundle contains a symbolic link: {rel}",
                expected="regular files only in a run folder",
                found=f"{rel} -> {entry.readlink()}",
                fix="copy the file it points to into the run folder instead of linking it",
            )
        if rel in (MANIFEST_NAME, SIGNOFF_DIR, *ADDENDUM_FILES):
            continue
        if entry.is_dir():
            yield from _walk(root, entry)
        elif entry.is_file():
            yield rel


@dataclass(frozen=True)
class FileEntry:
    """One file of a bundle, as the manifest records it."""

    path: str
    sha256: str
    size: int

    @classmethod
    def of(cls, run_dir: Path, rel: str) -> FileEntry:
        """Hash and measure ``run_dir / rel``."""
        path = run_dir / rel
        return cls(path=rel, sha256=sha256_file(path), size=path.stat().st_size)


@dataclass(frozen=True)
class ChainLink:
    """The previous run's manifest this one chains to (``genesis`` for the first run)."""

    previous_run: str | None
    previous_manifest_sha256: str

    @property
    def is_genesis(self) -> bool:
        """Whether this run starts the chain."""
        return self.previous_run is None


@dataclass(frozen=True)
class Manifest:
    """The manifest of one run bundle."""

    run_id: str
    status: str
    files: tuple[FileEntry, ...]
    chain: ChainLink
    finalized_at: str
    target: str
    regions: Mapping[str, Any] = field(default_factory=dict)
    scenario: str | None = None
    environment: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    targets: Mapping[str, Any] = field(default_factory=dict)
    verdict: Mapping[str, Any] | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    identity: Mapping[str, Any] = field(default_factory=dict)
    git: Mapping[str, Any] = field(default_factory=dict)
    emulator_version: str | None = None
    render_errors: tuple[Mapping[str, str], ...] = ()
    schema: str = MANIFEST_SCHEMA
    time_scale: Mapping[str, Any] | None = None
    """The pace of the run's emulated waits (metrics.json ``time_scale``); None: not recorded."""
    secret_scan: str | None = None
    """``performed`` (every file checked for the run's secret values) or ``not performed: why``
    (the values could not be read); None in manifests written before the field existed."""
    report: str | None = None
    """The auditor's report rendered from this manifest right after it is written
    (``report.html``, covered by ``report.json``); None in manifests written before reports
    were, whose report ``drlib evidence report RUN`` renders on request."""

    def file(self, path: str) -> FileEntry | None:
        """The entry for ``path``, if the manifest lists it."""
        return next((entry for entry in self.files if entry.path == path), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, including its ``content_sha256``."""
        document: dict[str, Any] = {
            "schema": self.schema,
            "run_id": self.run_id,
            "status": self.status,
            "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in self.files],
            "chain": {"previous_run": self.chain.previous_run,
                      "previous_manifest_sha256": self.chain.previous_manifest_sha256},
            "finalized_at": self.finalized_at,
            "target": self.target,
            "regions": dict(self.regions),
            "scenario": self.scenario,
            "environment": self.environment,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "targets": dict(self.targets),
            "verdict": None if self.verdict is None else dict(self.verdict),
            "parameters": dict(self.parameters),
            "identity": dict(self.identity),
            "git": dict(self.git),
            "emulator_version": self.emulator_version,
            "render_errors": [dict(e) for e in self.render_errors],
            "secret_scan": self.secret_scan,
        }
        if self.time_scale is not None:
            document["time_scale"] = dict(self.time_scale)
        if self.report is not None:
            document["report"] = self.report
        document["content_sha256"] = content_digest(document)
        return document

    def to_json(self) -> bytes:
        """The bytes of ``manifest.json``."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Manifest:
        """Read a manifest document; raise :class:`EvidenceError` when it is not one."""
        try:
            chain = document["chain"]
            return cls(
                run_id=document["run_id"],
                status=document["status"],
                files=tuple(FileEntry(path=f["path"], sha256=f["sha256"], size=int(f["size"]))
                            for f in document["files"]),
                chain=ChainLink(previous_run=chain["previous_run"],
                                previous_manifest_sha256=chain["previous_manifest_sha256"]),
                finalized_at=document["finalized_at"],
                target=document["target"],
                regions=document.get("regions") or {},
                scenario=document.get("scenario"),
                environment=document.get("environment"),
                started_at=document.get("started_at"),
                ended_at=document.get("ended_at"),
                targets=document.get("targets") or {},
                verdict=document.get("verdict"),
                parameters=document.get("parameters") or {},
                identity=document.get("identity") or {},
                git=document.get("git") or {},
                emulator_version=document.get("emulator_version"),
                render_errors=tuple(document.get("render_errors") or ()),
                schema=document.get("schema", ""),
                secret_scan=document.get("secret_scan"),
                time_scale=document.get("time_scale"),
                report=document.get("report"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EvidenceError(
                "manifest.json is not a drlib evidence manifest",
                expected=f"a {MANIFEST_SCHEMA} document",
                found=f"missing or ill-typed field: {exc}",
                fix="restore the manifest from the archived copy (S3 Object Lock bucket)",
            ) from exc


def read_manifest_document(run_dir: Path) -> dict[str, Any]:
    """The parsed ``manifest.json`` of a run; :class:`EvidenceError` if absent or not JSON."""
    path = run_dir / MANIFEST_NAME
    if not path.is_file():
        raise EvidenceError(
            f"run {run_dir.name} has no manifest",
            expected=f"{path}", found="no such file",
            fix="finalize the run first (the drill runner does it at the end of every run)",
        )
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"the manifest of run {run_dir.name} is not valid JSON",
                            expected="JSON", found=str(exc),
                            fix="restore the manifest from the archived copy") from exc
    if not isinstance(document, dict):
        raise EvidenceError(f"the manifest of run {run_dir.name} is not a JSON object",
                            expected="a JSON object", found=type(document).__name__)
    return document


def read_manifest(run_dir: Path) -> Manifest:
    """The :class:`Manifest` of a run."""
    return Manifest.from_dict(read_manifest_document(run_dir))


def manifest_sha256(run_dir: Path) -> str:
    """SHA-256 of the bytes of a run's ``manifest.json`` (what the next run chains to)."""
    return sha256_file(run_dir / MANIFEST_NAME)
