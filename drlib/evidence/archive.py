"""Verification of a run folder against its archived copy in the Object Lock bucket.

Local verification cannot see a newest manifest or sign-off rewritten with fresh digests, nor the
newest sign-off deleted: nothing later records them. The archived copy can: it is locked.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drlib.aws import AwsClients
from drlib.evidence.addendum import report_paths
from drlib.evidence.manifest import MANIFEST_NAME, bundle_files, sha256_file
from drlib.evidence.problems import Problem
from drlib.evidence.signoff import signoff_files
from drlib.evidence.verify import VerifyReport

COMPLIANCE = "COMPLIANCE"


def verify_archive(clients: AwsClients, run_dir: Path, bucket: str, region: str) -> VerifyReport:
    """Compare every local file of ``run_dir`` with the objects under ``<run_id>/`` in ``bucket``.

    The archive is the reference: a local file that differs is ``modified``, one that is gone
    ``removed``, one never archived ``added``; an archived object without a COMPLIANCE lock is
    ``archive-unlocked``.
    """
    run_dir = Path(run_dir).resolve()
    run = run_dir.name
    s3 = clients.client("s3", region)
    archived = _archived(s3, bucket, run)
    local = {rel: sha256_file(run_dir / rel) for rel in _local_files(run_dir)}
    report = VerifyReport(outputs_dir=run_dir.parent, runs=[run])
    where = f"s3://{bucket}/{run}/"
    for path in sorted(set(archived) | set(local)):
        report.files_checked += 1
        if path not in local:
            report.problems.append(Problem("removed", run, path, f"archived in {where}, gone "
                                           "from the run folder", expected=archived[path].sha256))
        elif path not in archived:
            report.problems.append(Problem("added", run, path, f"not in the archive {where} "
                                           "(upload the run again if it is a new sign-off)",
                                           actual=local[path]))
        else:
            expected = archived[path].sha256 or _download_sha256(s3, bucket, f"{run}/{path}")
            if expected != local[path]:
                report.problems.append(Problem("modified", run, path,
                                               f"differs from the archived copy in {where}",
                                               expected=expected, actual=local[path]))
        if path in archived and archived[path].lock_mode != COMPLIANCE:
            report.problems.append(Problem("archive-unlocked", run, path,
                                           f"archived with lock mode {archived[path].lock_mode}"))
    return report


def _local_files(run_dir: Path) -> list[str]:
    files = bundle_files(run_dir)
    if (run_dir / MANIFEST_NAME).is_file():
        files.append(MANIFEST_NAME)
    files += [p.relative_to(run_dir).as_posix()
              for p in [*signoff_files(run_dir), *report_paths(run_dir)]]
    return files


@dataclass(frozen=True)
class _Archived:
    lock_mode: str
    sha256: str | None  # None: stored without a SHA-256 checksum


def _archived(s3: Any, bucket: str, run: str) -> dict[str, _Archived]:
    """Archived paths under ``<run>/`` with their lock mode and SHA-256."""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{run}/"):
        keys += [item["Key"] for item in page.get("Contents", [])]
    found = {}
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        checksum = head.get("ChecksumSHA256")
        found[key[len(run) + 1:]] = _Archived(
            lock_mode=head.get("ObjectLockMode") or "none",
            sha256=base64.b64decode(checksum).hex() if checksum else None)
    return found


def _download_sha256(s3: Any, bucket: str, key: str) -> str:
    return hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()
