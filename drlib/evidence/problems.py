"""What verification finds: one :class:`Problem` per change, naming the run and the file."""

from __future__ import annotations

from dataclasses import dataclass

# kind -> what it means, for the report's readers.
KINDS: dict[str, str] = {
    "modified": "a file's content differs from the SHA-256 its manifest recorded",
    "removed": "a file the manifest lists is gone",
    "added": "a file is in the run folder but not in its manifest",
    "not-finalized": "a run folder has no manifest (unfinished run, or the manifest was deleted)",
    "manifest-unreadable": "manifest.json is not valid JSON or misses fields",
    "manifest-modified": "manifest.json no longer matches its own content digest",
    "chain-broken": "a later run recorded a different SHA-256 for this run's manifest",
    "chain-missing-run": "a later run chains to a run folder or manifest that is gone",
    "chain-forked": "two manifests chain to the same predecessor",
    "signoff-unreadable": "a sign-off is not valid JSON or misses fields",
    "signoff-modified": "a sign-off no longer matches its own content digest",
    "signoff-chain-broken": "a sign-off's recorded predecessor hash does not match",
    "signoff-wrong-manifest": "a sign-off signs a manifest other than the run's current one",
    "signoff-removed": "sign-off numbering has a gap",
    "report-missing": "the auditor's report the manifest declares, or its report.json, is gone",
    "report-unreadable": "report.json is not valid JSON or misses fields",
    "report-modified": "report.json no longer matches its own content digest",
    "report-wrong-manifest": "the report was rendered from a manifest other than the run's",
    "unsafe-file": "a symbolic link in the run folder",
    "archive-unlocked": "an archived object is not under a COMPLIANCE Object Lock",
}


@dataclass(frozen=True)
class Problem:
    """One change verification found. ``expected``/``actual`` are hashes where they apply."""

    kind: str
    run: str
    path: str | None
    detail: str
    expected: str | None = None
    actual: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown problem kind {self.kind!r}")
