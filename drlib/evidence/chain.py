"""The chain of run manifests in one outputs folder.

Each manifest records the SHA-256 of the manifest before it, so editing or deleting an earlier
run's manifest breaks a link that a later run holds. The previous run is the head of the chain:
the manifest no other manifest chains to. When runs finish one after another that is the latest
run folder (by run id) with a manifest; when runs of two environments overlap, it is the one that
finished last, which keeps the chain a single line instead of a fork.
"""

from __future__ import annotations

import fcntl
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from drlib.errors import EvidenceError
from drlib.evidence.manifest import GENESIS, MANIFEST_NAME, ChainLink, sha256_file
from drlib.waiting import wait_until

log = logging.getLogger(__name__)

LOCK_NAME = ".evidence.lock"


def run_dirs(outputs_dir: Path) -> list[Path]:
    """Every run folder in ``outputs_dir``, sorted by run id (hidden and ``_`` folders skipped)."""
    if not outputs_dir.is_dir():
        return []
    return sorted((p for p in outputs_dir.iterdir()
                   if p.is_dir() and not p.name.startswith((".", "_"))), key=lambda p: p.name)


def resolve_run(outputs_dir: Path, run: str | Path) -> Path:
    """The folder of ``run``: a run id in ``outputs_dir`` or a path to a run folder."""
    candidate = Path(run)
    for path in (candidate, outputs_dir / str(run)):
        if path.is_dir() and path.name not in ("", ".", ".."):
            return path.resolve()
    known = ", ".join(p.name for p in run_dirs(outputs_dir)[-5:]) or "none"
    raise EvidenceError(
        f"no run folder {run!s}",
        expected=f"a run id in {outputs_dir} or the path of a run folder",
        found=f"latest runs there: {known}",
        fix="run `drlib evidence list` to see the runs, or pass --outputs DIR",
    )


def previous_link(outputs_dir: Path, run_id: str) -> ChainLink:
    """The link a new manifest for ``run_id`` records: the chain head, or genesis."""
    manifests = {p.name: p / MANIFEST_NAME for p in run_dirs(outputs_dir)
                 if p.name != run_id and (p / MANIFEST_NAME).is_file()}
    if not manifests:
        return ChainLink(previous_run=None, previous_manifest_sha256=GENESIS)
    referenced = {_previous_run_of(path) for path in manifests.values()}
    heads = sorted(name for name in manifests if name not in referenced)
    if len(heads) > 1:
        log.warning("the evidence chain in %s has %d heads (%s); chaining to the latest",
                    outputs_dir, len(heads), ", ".join(heads))
    head = heads[-1] if heads else sorted(manifests)[-1]
    return ChainLink(previous_run=head, previous_manifest_sha256=sha256_file(manifests[head]))


def _previous_run_of(manifest_path: Path) -> str | None:
    try:
        previous = json.loads(manifest_path.read_bytes())["chain"]["previous_run"]
    except (ValueError, KeyError, TypeError):
        return None  # an unreadable manifest; verify reports it
    return previous if isinstance(previous, str) else None


@contextmanager
def chain_lock(outputs_dir: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold the outputs folder's lock while a manifest is chained and written.

    Two runs finishing at once must not both chain to the same head.
    """
    outputs_dir.mkdir(parents=True, exist_ok=True)
    with (outputs_dir / LOCK_NAME).open("a") as handle:

        def acquired() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        wait_until(acquired, description=f"the evidence chain lock {outputs_dir / LOCK_NAME}",
                   timeout=timeout)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
