"""Uploading a bundle to an S3 Object Lock bucket on the emulator: locked, verified, idempotent."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.errors import EvidenceError
from drlib.evidence import read_manifest, sign_off, upload_run

from .conftest import RUN_IDS

BUCKET = "drlib-evidence-test"
REGION = "us-east-1"
RUN = RUN_IDS[0]
BUNDLE = ["30_drill.html", "30_drill.ipynb", "charts/lag.png", "lag.csv", "metrics.json",
          "manifest.json", "report.json", "report.html"]


def _bucket(aws: AwsClients, default_mode: str | None = "COMPLIANCE", lock: bool = True) -> Any:
    s3 = aws.client("s3", REGION)
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=lock)
    if lock and default_mode:
        s3.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": default_mode, "Days": 30}}})
    return s3


def _versions(s3: Any) -> list[tuple[str, str]]:
    listing = s3.list_object_versions(Bucket=BUCKET)
    return sorted((v["Key"], v["VersionId"]) for v in listing.get("Versions", []))


def test_upload_locks_every_file_in_compliance_mode(aws: AwsClients, chain: Path) -> None:
    """Every file lands under <run_id>/, COMPLIANCE-locked by the bucket default, content intact."""
    s3 = _bucket(aws)
    report = upload_run(aws, chain / RUN, BUCKET, REGION)
    assert sorted(report.uploaded) == sorted(BUNDLE)
    assert report.skipped == []
    assert sorted(report.verified) == sorted(BUNDLE)
    manifest = read_manifest(chain / RUN)
    soon = datetime.now(UTC) + timedelta(days=29)
    for path in BUNDLE:
        head = s3.head_object(Bucket=BUCKET, Key=f"{RUN}/{path}")
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] > soon
        body = s3.get_object(Bucket=BUCKET, Key=f"{RUN}/{path}")["Body"].read()
        entry = manifest.file(path)
        expected = entry.sha256 if entry else hashlib.sha256(
            (chain / RUN / path).read_bytes()).hexdigest()
        assert hashlib.sha256(body).hexdigest() == expected


def test_locked_version_cannot_be_deleted(aws: AwsClients, chain: Path) -> None:
    """Deleting a locked object version before its retention ends is refused (AccessDenied)."""
    s3 = _bucket(aws)
    upload_run(aws, chain / RUN, BUCKET, REGION)
    version = s3.head_object(Bucket=BUCKET, Key=f"{RUN}/manifest.json")["VersionId"]
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=BUCKET, Key=f"{RUN}/manifest.json", VersionId=version)
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=BUCKET, Key=f"{RUN}/manifest.json", VersionId=version,
                         BypassGovernanceRetention=True)
    assert (f"{RUN}/manifest.json", version) in _versions(s3)


def test_second_upload_changes_nothing(aws: AwsClients, chain: Path) -> None:
    """Uploading the same run again skips every object and creates no new version."""
    s3 = _bucket(aws)
    upload_run(aws, chain / RUN, BUCKET, REGION)
    before = _versions(s3)
    again = upload_run(aws, chain / RUN, BUCKET, REGION)
    assert again.uploaded == []
    assert sorted(again.skipped) == sorted(BUNDLE)
    assert _versions(s3) == before
    assert "0 uploaded, 8 skipped" in again.table()


def test_upload_after_sign_off_adds_only_the_sign_off(aws: AwsClients, chain: Path) -> None:
    """A sign-off made after archiving is uploaded alone on the next upload."""
    _bucket(aws)
    upload_run(aws, chain / RUN, BUCKET, REGION)
    sign_off(chain / RUN, "Jane Auditor", "reviewed")
    report = upload_run(aws, chain / RUN, BUCKET, REGION)
    assert report.uploaded == ["signoffs/0001.json"]


def test_explicit_retention_days_sets_retain_until(aws: AwsClients, chain: Path) -> None:
    """--retention-days puts a per-object COMPLIANCE retain-until date on each object."""
    s3 = _bucket(aws, default_mode="GOVERNANCE")
    now = datetime.now(UTC).replace(microsecond=0)
    report = upload_run(aws, chain / RUN, BUCKET, REGION, retention_days=400, now=now)
    assert "COMPLIANCE until" in report.retention
    head = s3.head_object(Bucket=BUCKET, Key=f"{RUN}/lag.csv")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == now + timedelta(days=400)


def test_bucket_without_object_lock_is_refused(aws: AwsClients, chain: Path) -> None:
    """A bucket with no Object Lock configuration is refused and nothing is stored."""
    s3 = _bucket(aws, lock=False)
    with pytest.raises(EvidenceError, match="no Object Lock configuration"):
        upload_run(aws, chain / RUN, BUCKET, REGION)
    assert _versions(s3) == []


def test_governance_default_without_explicit_retention_is_refused(aws: AwsClients,
                                                                   chain: Path) -> None:
    """A GOVERNANCE default (removable by privileged users) is not enough on its own."""
    _bucket(aws, default_mode="GOVERNANCE")
    with pytest.raises(EvidenceError, match="no COMPLIANCE default retention"):
        upload_run(aws, chain / RUN, BUCKET, REGION)


def test_altered_bundle_is_not_uploaded(aws: AwsClients, chain: Path) -> None:
    """A bundle that fails verification is refused before anything is stored."""
    s3 = _bucket(aws)
    (chain / RUN / "lag.csv").write_text("rewritten")
    with pytest.raises(EvidenceError, match="fails verification"):
        upload_run(aws, chain / RUN, BUCKET, REGION)
    assert _versions(s3) == []


def test_archived_copy_that_differs_is_reported_not_overwritten(aws: AwsClients,
                                                                 chain: Path) -> None:
    """When the archive holds different content at a key, upload stops and names the file."""
    s3 = _bucket(aws)
    other = b"store,at,lag_s\n"
    s3.put_object(Bucket=BUCKET, Key=f"{RUN}/lag.csv", Body=other,
                  ContentMD5=base64.b64encode(hashlib.md5(other).digest()).decode())
    with pytest.raises(EvidenceError, match="differs from the local bundle") as caught:
        upload_run(aws, chain / RUN, BUCKET, REGION)
    assert "lag.csv" in caught.value.render()
    assert [key for key, _ in _versions(s3)] == [f"{RUN}/lag.csv"]


def test_get_object_retention_reports_the_lock(aws: AwsClients, chain: Path) -> None:
    """GetObjectRetention returns the COMPLIANCE mode and date of an archived object."""
    s3 = _bucket(aws)
    upload_run(aws, chain / RUN, BUCKET, REGION)
    retention = s3.get_object_retention(Bucket=BUCKET, Key=f"{RUN}/lag.csv")["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert retention["RetainUntilDate"] > datetime.now(UTC) + timedelta(days=29)


def test_compliance_retention_cannot_be_shortened(aws: AwsClients, chain: Path) -> None:
    """Shortening a COMPLIANCE retention is refused, so the version stays undeletable."""
    s3 = _bucket(aws)
    upload_run(aws, chain / RUN, BUCKET, REGION)
    key = f"{RUN}/lag.csv"
    version = s3.head_object(Bucket=BUCKET, Key=key)["VersionId"]
    with pytest.raises(ClientError) as caught:
        s3.put_object_retention(Bucket=BUCKET, Key=key, VersionId=version, Retention={
            "Mode": "COMPLIANCE", "RetainUntilDate": datetime(2020, 1, 1, tzinfo=UTC)})
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)


def test_archive_catches_a_reforged_newest_manifest(aws: AwsClients, chain: Path) -> None:
    """A newest manifest rewritten with fresh digests passes local checks but not the archive."""
    from drlib.evidence import verify
    from drlib.evidence.archive import verify_archive
    from drlib.evidence.manifest import canonical_json, content_digest, sha256_file

    newest = RUN_IDS[2]
    _bucket(aws)
    upload_run(aws, chain / newest, BUCKET, REGION)
    assert verify_archive(aws, chain / newest, BUCKET, REGION).ok
    path = chain / newest / "manifest.json"
    document = json.loads(path.read_text())
    document["status"] = "passed"
    document["content_sha256"] = content_digest(document)
    path.write_bytes(canonical_json(document))
    # The report was rendered from the manifest as sealed: caught locally...
    assert [p.kind for p in verify(chain).problems] == ["report-wrong-manifest"]
    # ... unless the forger rewrites report.json too.
    addendum = chain / newest / "report.json"
    record = json.loads(addendum.read_text())
    record["manifest_sha256"] = sha256_file(path)
    record["content_sha256"] = content_digest(record)
    addendum.write_bytes(canonical_json(record))
    assert verify(chain).ok  # nothing later chains to the newest manifest
    problems = verify_archive(aws, chain / newest, BUCKET, REGION).problems
    assert sorted((p.kind, p.path) for p in problems) == [("modified", "manifest.json"),
                                                          ("modified", "report.json")]


def test_archive_catches_a_deleted_newest_sign_off(aws: AwsClients, chain: Path) -> None:
    """Deleting the last sign-off is invisible locally but reported against the archive."""
    from drlib.evidence import verify
    from drlib.evidence.archive import verify_archive

    _bucket(aws)
    sign_off(chain / RUN, "Jane Auditor", "reviewed")
    upload_run(aws, chain / RUN, BUCKET, REGION)
    (chain / RUN / "signoffs" / "0001.json").unlink()
    assert verify(chain).ok
    [problem] = verify_archive(aws, chain / RUN, BUCKET, REGION).problems
    assert (problem.kind, problem.path) == ("removed", "signoffs/0001.json")


def test_verify_command_with_bucket(aws: AwsClients, chain: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`drlib evidence verify RUN --bucket B` checks local and archive, exit 1 on a difference."""
    from drlib.cli import main

    _bucket(aws)
    upload_run(aws, chain / RUN, BUCKET, REGION)
    assert main(["evidence", "verify", RUN, "--bucket", BUCKET, "--outputs", str(chain)]) == 0
    (chain / RUN / "extra.txt").write_text("x")
    assert main(["evidence", "verify", RUN, "--bucket", BUCKET, "--outputs", str(chain)]) == 1
    out = capsys.readouterr().out
    assert "not in the archive" in out
