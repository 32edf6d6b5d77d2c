"""Archiving a run bundle in an S3 bucket under Object Lock, compliance mode.

Every file goes to ``<run_id>/<path>`` with its SHA-256 checksum (and Content-MD5), locked in
COMPLIANCE mode either by the bucket's default retention or by an explicit retain-until date;
then every object is checked (size, SHA-256, lock). Uploading the same run again changes
nothing: objects whose checksum already matches are skipped; a differing archived object is a
red flag, reported, never overwritten.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.errors import ConfigError, EvidenceError
from drlib.evidence.addendum import report_paths
from drlib.evidence.manifest import MANIFEST_NAME, read_manifest, sha256_file
from drlib.evidence.signoff import signoff_files
from drlib.evidence.summary import format_table

log = logging.getLogger(__name__)

COMPLIANCE = "COMPLIANCE"
_MISSING = ("404", "NoSuchKey", "NotFound")


@dataclass
class UploadReport:
    """What :func:`upload_run` stored, skipped and verified."""

    run_id: str
    bucket: str
    region: str
    retention: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)

    def table(self) -> str:
        """A readable account of the upload."""
        rows = [[path, "uploaded" if path in self.uploaded else "already archived", "verified"]
                for path in self.verified]
        return (f"run {self.run_id} -> s3://{self.bucket}/{self.run_id}/ ({self.region}); "
                f"Object Lock {self.retention}\n"
                f"{len(self.uploaded)} uploaded, {len(self.skipped)} skipped (identical), "
                f"{len(self.verified)} verified\n"
                + format_table(["file", "action", "check"], rows))

    def __str__(self) -> str:
        return self.table()


@dataclass(frozen=True)
class _Local:
    path: str
    sha256: str
    size: int

    @property
    def checksum(self) -> str:
        return base64.b64encode(bytes.fromhex(self.sha256)).decode("ascii")


def upload_run(clients: AwsClients, run_dir: Path, bucket: str, region: str,
               retention_days: int | None = None, now: datetime | None = None) -> UploadReport:
    """Upload the finalized, verified bundle ``run_dir`` to ``bucket`` under Object Lock.

    ``retention_days`` sets an explicit COMPLIANCE retain-until date per object; without it the
    bucket's default retention must be COMPLIANCE. Raises :class:`EvidenceError` when the bucket
    has no Object Lock, the local bundle fails verification, an archived object differs, or an
    uploaded object does not check out.
    """
    from drlib.evidence.verify import verify

    run_dir = Path(run_dir).resolve()
    report = verify(run_dir.parent, run=run_dir.name)
    if not report.ok:
        raise EvidenceError(f"run {run_dir.name} fails verification; it is not uploaded",
                            expected="an unaltered, finalized bundle", found="\n" + report.table(),
                            fix="investigate the changes before archiving anything")
    s3 = clients.client("s3", region)
    lock = _object_lock_settings(s3, bucket, retention_days, now or datetime.now(UTC))
    files = _bundle(run_dir)
    result = UploadReport(run_id=run_dir.name, bucket=bucket, region=region,
                          retention=lock.describe())
    pending = _classify(s3, bucket, run_dir.name, files, result)
    for local in pending:
        _put(s3, bucket, f"{run_dir.name}/{local.path}", run_dir / local.path, local, lock)
        result.uploaded.append(local.path)
    for local in files:
        _check_archived(s3, bucket, f"{run_dir.name}/{local.path}", local, lock)
        result.verified.append(local.path)
    log.info("uploaded run %s to s3://%s (%s): %d new, %d skipped", run_dir.name, bucket, region,
             len(result.uploaded), len(result.skipped))
    return result


@dataclass(frozen=True)
class _Lock:
    retain_until: datetime | None  # None: the bucket's default retention applies
    default_rule: str

    def describe(self) -> str:
        if self.retain_until is None:
            return f"{COMPLIANCE} by bucket default ({self.default_rule})"
        return f"{COMPLIANCE} until {self.retain_until.isoformat(timespec='seconds')}"


def _object_lock_settings(s3: Any, bucket: str, retention_days: int | None,
                          now: datetime) -> _Lock:
    try:
        config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ObjectLockConfigurationNotFoundError":
            raise EvidenceError(
                f"bucket {bucket} has no Object Lock configuration; evidence is not uploaded",
                expected="a bucket created with Object Lock enabled",
                found="ObjectLockConfigurationNotFoundError",
                fix="create the evidence bucket with ObjectLockEnabledForBucket=True "
                    "(and a COMPLIANCE default retention)") from exc
        raise EvidenceError(f"could not read the Object Lock configuration of bucket {bucket}",
                            expected="s3:GetBucketObjectLockConfiguration to succeed",
                            found=f"{code}: {exc}",
                            fix="check the bucket name, region and permissions") from exc
    if config.get("ObjectLockEnabled") != "Enabled":
        raise EvidenceError(f"Object Lock is not enabled on bucket {bucket}",
                            expected="ObjectLockEnabled: Enabled", found=str(config),
                            fix="use a bucket created with Object Lock enabled")
    default = (config.get("Rule") or {}).get("DefaultRetention") or {}
    rule = _rule_text(default)
    if retention_days is not None:
        if retention_days < 1:
            raise ConfigError("retention must be at least one day",
                              expected="--retention-days N with N >= 1",
                              found=str(retention_days), fix="pass a positive number of days")
        return _Lock(retain_until=(now + timedelta(days=retention_days)).replace(microsecond=0),
                     default_rule=rule)
    if default.get("Mode") != COMPLIANCE:
        raise EvidenceError(
            f"bucket {bucket} has no COMPLIANCE default retention",
            expected="a COMPLIANCE default retention, or an explicit retention",
            found=f"default retention: {rule}",
            fix="pass --retention-days N, or set a COMPLIANCE default retention on the bucket")
    return _Lock(retain_until=None, default_rule=rule)


def _rule_text(default: dict[str, Any]) -> str:
    if not default:
        return "none"
    span = (f"{default['Years']} years" if default.get("Years")
            else f"{default.get('Days', 0)} days")
    return f"{default.get('Mode')} {span}"


def _bundle(run_dir: Path) -> list[_Local]:
    """Every file to archive: the manifest's files, the manifest, the sign-offs, and the
    auditor's report with its report.json."""
    manifest = read_manifest(run_dir)
    files = [_Local(e.path, e.sha256, e.size) for e in manifest.files]
    extra = [run_dir / MANIFEST_NAME, *signoff_files(run_dir), *report_paths(run_dir)]
    files += [_Local(p.relative_to(run_dir).as_posix(), sha256_file(p), p.stat().st_size)
              for p in extra]
    return files


def _classify(s3: Any, bucket: str, run_id: str, files: list[_Local],
              result: UploadReport) -> list[_Local]:
    """The files still to upload; identical archived ones go to ``result.skipped``."""
    pending, conflicts = [], []
    for local in files:
        archived = _archived_sha256(s3, bucket, f"{run_id}/{local.path}")
        if archived is None:
            pending.append(local)
        elif archived == local.sha256:
            result.skipped.append(local.path)
        else:
            conflicts.append(f"{local.path} (archived {archived}, local {local.sha256})")
    if conflicts:
        raise EvidenceError(
            f"the archived copy of run {run_id} differs from the local bundle",
            expected="archived objects identical to the local files",
            found="; ".join(conflicts),
            fix="the archive is locked: compare both copies; the local bundle may have been "
                "altered and re-sealed",
            data={"conflicts": conflicts})
    return pending


def _archived_sha256(s3: Any, bucket: str, key: str) -> str | None:
    """Hex SHA-256 of the archived object, ``None`` when there is none."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            return None
        raise
    if head.get("ChecksumSHA256"):
        return base64.b64decode(head["ChecksumSHA256"]).hex()
    # Stored without a SHA-256 checksum (not by drlib): hash its content.
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def _put(s3: Any, bucket: str, key: str, path: Path, local: _Local, lock: _Lock) -> None:
    body = path.read_bytes()
    if hashlib.sha256(body).hexdigest() != local.sha256:
        raise EvidenceError(f"{local.path} changed while it was being uploaded",
                            expected=local.sha256, found=hashlib.sha256(body).hexdigest(),
                            fix="verify the run and upload again")
    kwargs: dict[str, Any] = {
        "Bucket": bucket, "Key": key, "Body": body,
        "ChecksumAlgorithm": "SHA256", "ChecksumSHA256": local.checksum,
        "ContentMD5": base64.b64encode(hashlib.md5(body).digest()).decode("ascii"),
    }
    if lock.retain_until is not None:
        kwargs["ObjectLockMode"] = COMPLIANCE
        kwargs["ObjectLockRetainUntilDate"] = lock.retain_until
    s3.put_object(**kwargs)


def _check_archived(s3: Any, bucket: str, key: str, local: _Local, lock: _Lock) -> None:
    """Raise unless the archived object has the local size, SHA-256 and a COMPLIANCE lock."""
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    found = []
    if head.get("ContentLength") != local.size:
        found.append(f"size {head.get('ContentLength')} (local {local.size})")
    if _archived_sha256(s3, bucket, key) != local.sha256:
        found.append("SHA-256 differs")
    if head.get("ObjectLockMode") != COMPLIANCE:
        found.append(f"lock mode {head.get('ObjectLockMode')}")
    until = head.get("ObjectLockRetainUntilDate")
    if until is None:
        found.append("no retain-until date")
    elif lock.retain_until is not None and until < lock.retain_until:
        found.append(f"retained until {until.isoformat()} (asked {lock.retain_until.isoformat()})")
    if found:
        raise EvidenceError(f"s3://{bucket}/{key} does not check out after upload",
                            expected=f"size {local.size}, SHA-256 {local.sha256}, "
                                     f"{lock.describe()}",
                            found="; ".join(found),
                            fix="check the bucket's Object Lock settings and upload again")
