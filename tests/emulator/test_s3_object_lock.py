"""S3 Object Lock in the emulator: retention reads and changes, locks on new objects, deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator.extensions.s3_object_lock import (
    COMPLIANCE,
    GOVERNANCE,
    Retention,
    bypass_requested,
    format_timestamp,
    lock_headers_problem,
    parse_timestamp,
    retention_change_refusal,
)

BUCKET = "lock-test-bucket"
PLAIN = "plain-test-bucket"
REGION = "us-east-1"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
SOONER = NOW + timedelta(days=10)
EXTENDED = NOW + timedelta(days=60)


# --- the rules, as pure functions ---------------------------------------------------------------

@pytest.mark.parametrize(("current", "requested", "bypass", "refused"), [
    (Retention(COMPLIANCE, LATER), Retention(COMPLIANCE, EXTENDED), False, False),
    (Retention(COMPLIANCE, LATER), Retention(COMPLIANCE, LATER), False, False),
    (Retention(COMPLIANCE, LATER), Retention(COMPLIANCE, SOONER), False, True),
    (Retention(COMPLIANCE, LATER), Retention(COMPLIANCE, SOONER), True, True),
    (Retention(COMPLIANCE, LATER), Retention(GOVERNANCE, EXTENDED), True, True),
    (Retention(COMPLIANCE, LATER), Retention(None, None), True, True),
    (Retention(GOVERNANCE, LATER), Retention(GOVERNANCE, EXTENDED), False, False),
    (Retention(GOVERNANCE, LATER), Retention(GOVERNANCE, SOONER), False, True),
    (Retention(GOVERNANCE, LATER), Retention(GOVERNANCE, SOONER), True, False),
    (Retention(GOVERNANCE, LATER), Retention(None, None), False, True),
    (Retention(GOVERNANCE, LATER), Retention(None, None), True, False),
    (Retention(GOVERNANCE, LATER), Retention(COMPLIANCE, EXTENDED), False, True),
    (Retention(GOVERNANCE, LATER), Retention(COMPLIANCE, EXTENDED), True, False),
    # expired or absent retentions protect nothing
    (Retention(COMPLIANCE, NOW - timedelta(seconds=1)), Retention(None, None), False, False),
    (Retention(None, None), Retention(GOVERNANCE, SOONER), False, False),
])
def test_retention_change_rules(current: Retention, requested: Retention, bypass: bool,
                                refused: bool) -> None:
    """COMPLIANCE only extends; GOVERNANCE extends freely and changes otherwise with bypass."""
    assert (retention_change_refusal(current, requested, bypass, NOW) is not None) == refused


@pytest.mark.parametrize(("mode", "until", "problem"), [
    (None, None, None),
    (COMPLIANCE, "2026-07-01T00:00:00Z", None),
    (GOVERNANCE, "2026-07-01T00:00:00.250Z", None),
    (COMPLIANCE, None, "must both be supplied"),
    (None, "2026-07-01T00:00:00Z", "must both be supplied"),
    ("FOREVER", "2026-07-01T00:00:00Z", "Unknown wormMode"),
    (COMPLIANCE, "next week", "ISO 8601"),
    (COMPLIANCE, "2026-05-01T00:00:00Z", "in the future"),
])
def test_lock_headers_problem(mode: str | None, until: str | None, problem: str | None) -> None:
    """PutObject lock headers need both a known mode and a future ISO 8601 date."""
    found = lock_headers_problem(mode, until, NOW)
    assert (found is None) if problem is None else (problem in (found or ""))


@pytest.mark.parametrize(("value", "expected"), [
    ("true", True), ("TRUE", True), (True, True), ("false", False), (False, False),
    ("", False), (None, False), ("yes", False),
])
def test_bypass_only_on_true(value: str | bool | None, expected: bool) -> None:
    """Only the value true bypasses GOVERNANCE retention."""
    assert bypass_requested(value) is expected


@pytest.mark.parametrize(("text", "stored"), [
    ("2026-07-01T00:00:00Z", "2026-07-01T00:00:00Z"),
    ("2026-07-01T02:00:00+02:00", "2026-07-01T00:00:00Z"),
    ("2026-07-01T00:00:00.5Z", "2026-07-01T00:00:00.500000Z"),
    ("2026-07-01T00:00:00", "2026-07-01T00:00:00Z"),
])
def test_timestamps_are_stored_in_utc_z_form(text: str, stored: str) -> None:
    """Retain-until dates are normalised to the UTC forms moto's lock check parses."""
    assert format_timestamp(parse_timestamp(text)) == stored


# --- on the emulator ---------------------------------------------------------------------------

def _lock_bucket(aws: AwsClients, mode: str | None = None, days: int = 1,
                 years: int | None = None) -> Any:
    s3 = aws.client("s3", REGION)
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    if mode:
        period = {"Years": years} if years else {"Days": days}
        s3.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": mode, **period}}})
    return s3


def _put(s3: Any, key: str, **lock: Any) -> str:
    return str(s3.put_object(Bucket=BUCKET, Key=key, Body=b"evidence",
                             ChecksumAlgorithm="SHA256", **lock)["VersionId"])


def _code(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _future(days: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def test_get_object_retention_returns_mode_and_date(aws: AwsClients) -> None:
    """GetObjectRetention returns the mode and retain-until date of the addressed version."""
    s3 = _lock_bucket(aws)
    until = _future(10)
    first = _put(s3, "k", ObjectLockMode=COMPLIANCE, ObjectLockRetainUntilDate=until)
    _put(s3, "k", ObjectLockMode=GOVERNANCE, ObjectLockRetainUntilDate=_future(3))
    latest = s3.get_object_retention(Bucket=BUCKET, Key="k")["Retention"]
    assert latest["Mode"] == GOVERNANCE
    older = s3.get_object_retention(Bucket=BUCKET, Key="k", VersionId=first)["Retention"]
    assert (older["Mode"], older["RetainUntilDate"]) == (COMPLIANCE, until)


def test_get_object_retention_without_retention_is_404(aws: AwsClients) -> None:
    """A version with no retention answers NoSuchObjectLockConfiguration (404)."""
    s3 = _lock_bucket(aws)
    _put(s3, "k")
    with pytest.raises(ClientError) as caught:
        s3.get_object_retention(Bucket=BUCKET, Key="k")
    assert _code(caught) == ("NoSuchObjectLockConfiguration", 404)


def test_get_object_retention_on_a_bucket_without_lock_is_invalid(aws: AwsClients) -> None:
    """GetObjectRetention on a bucket without Object Lock answers InvalidRequest."""
    s3 = aws.client("s3", REGION)
    s3.create_bucket(Bucket=PLAIN)
    s3.put_object(Bucket=PLAIN, Key="k", Body=b"x")
    with pytest.raises(ClientError) as caught:
        s3.get_object_retention(Bucket=PLAIN, Key="k")
    assert _code(caught) == ("InvalidRequest", 400)


def test_get_object_retention_of_a_missing_key_is_no_such_key(aws: AwsClients) -> None:
    """GetObjectRetention of a key that does not exist answers NoSuchKey."""
    s3 = _lock_bucket(aws)
    with pytest.raises(ClientError) as caught:
        s3.get_object_retention(Bucket=BUCKET, Key="absent")
    assert _code(caught)[0] == "NoSuchKey"


def test_get_object_legal_hold_never_set_is_404_then_reports_status(aws: AwsClients) -> None:
    """A version without a legal hold answers NoSuchObjectLockConfiguration until one is set."""
    s3 = _lock_bucket(aws)
    _put(s3, "k")
    with pytest.raises(ClientError) as caught:
        s3.get_object_legal_hold(Bucket=BUCKET, Key="k")
    assert _code(caught) == ("NoSuchObjectLockConfiguration", 404)
    s3.put_object_legal_hold(Bucket=BUCKET, Key="k", LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=BUCKET, Key="k")["LegalHold"]["Status"] == "OFF"


def test_compliance_retention_extends_but_never_shortens_or_downgrades(aws: AwsClients) -> None:
    """A COMPLIANCE retention can be extended; shortening, downgrading, removing: AccessDenied."""
    s3 = _lock_bucket(aws)
    until = _future(10)
    version = _put(s3, "k", ObjectLockMode=COMPLIANCE, ObjectLockRetainUntilDate=until)
    for retention in ({"Mode": COMPLIANCE, "RetainUntilDate": _future(5)},
                      {"Mode": GOVERNANCE, "RetainUntilDate": _future(20)},
                      {}):
        with pytest.raises(ClientError) as caught:
            s3.put_object_retention(Bucket=BUCKET, Key="k", VersionId=version,
                                    Retention=retention, BypassGovernanceRetention=True)
        assert _code(caught) == ("AccessDenied", 403)
    assert s3.get_object_retention(Bucket=BUCKET, Key="k")["Retention"]["RetainUntilDate"] == until
    extended = _future(20)
    s3.put_object_retention(Bucket=BUCKET, Key="k", VersionId=version,
                            Retention={"Mode": COMPLIANCE, "RetainUntilDate": extended})
    assert s3.head_object(Bucket=BUCKET, Key="k")["ObjectLockRetainUntilDate"] == extended


def test_governance_retention_changes_only_with_bypass(aws: AwsClients) -> None:
    """GOVERNANCE: extending is free; shortening or removing needs the bypass header."""
    s3 = _lock_bucket(aws)
    version = _put(s3, "k", ObjectLockMode=GOVERNANCE, ObjectLockRetainUntilDate=_future(10))
    shorter = {"Mode": GOVERNANCE, "RetainUntilDate": _future(2)}
    for bypass in (None, False):
        extra = {} if bypass is None else {"BypassGovernanceRetention": bypass}
        with pytest.raises(ClientError) as caught:
            s3.put_object_retention(Bucket=BUCKET, Key="k", Retention=shorter, **extra)
        assert _code(caught) == ("AccessDenied", 403)
    s3.put_object_retention(Bucket=BUCKET, Key="k", Retention={
        "Mode": GOVERNANCE, "RetainUntilDate": _future(30)})
    s3.put_object_retention(Bucket=BUCKET, Key="k", Retention=shorter,
                            BypassGovernanceRetention=True)
    assert s3.get_object_retention(Bucket=BUCKET, Key="k")["Retention"]["RetainUntilDate"] == \
        shorter["RetainUntilDate"]
    s3.put_object_retention(Bucket=BUCKET, Key="k", Retention={}, BypassGovernanceRetention=True)
    with pytest.raises(ClientError) as caught:
        s3.get_object_retention(Bucket=BUCKET, Key="k")
    assert _code(caught)[0] == "NoSuchObjectLockConfiguration"
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId=version)  # no longer protected


def test_put_object_retention_rejects_a_past_date_and_a_missing_version(
        aws: AwsClients) -> None:
    """A past retain-until date is InvalidArgument; an unknown version is NoSuchVersion."""
    s3 = _lock_bucket(aws)
    _put(s3, "k")
    with pytest.raises(ClientError) as caught:
        s3.put_object_retention(Bucket=BUCKET, Key="k", Retention={
            "Mode": GOVERNANCE, "RetainUntilDate": datetime(2020, 1, 1, tzinfo=UTC)})
    assert _code(caught) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as caught:
        s3.put_object_retention(Bucket=BUCKET, Key="k", VersionId="no-such-version", Retention={
            "Mode": GOVERNANCE, "RetainUntilDate": _future(1)})
    assert _code(caught)[0] == "NoSuchVersion"


@pytest.mark.parametrize(("period", "days"), [({"days": 7}, 7), ({"years": 1}, 365)])
def test_default_retention_locks_new_objects(aws: AwsClients, period: dict[str, int],
                                             days: int) -> None:
    """A bucket's default retention (Days or Years) locks every new object, legal hold or not."""
    s3 = _lock_bucket(aws, mode=COMPLIANCE, **period)
    expected = datetime.now(UTC) + timedelta(days=days)
    _put(s3, "plain")
    _put(s3, "held", ObjectLockLegalHoldStatus="ON")
    for key in ("plain", "held"):
        retention = s3.get_object_retention(Bucket=BUCKET, Key=key)["Retention"]
        assert retention["Mode"] == COMPLIANCE
        assert abs(retention["RetainUntilDate"] - expected) < timedelta(minutes=1)
    assert s3.get_object_legal_hold(Bucket=BUCKET, Key="held")["LegalHold"]["Status"] == "ON"


def test_explicit_lock_headers_override_the_default(aws: AwsClients) -> None:
    """ObjectLockMode and ObjectLockRetainUntilDate on PutObject win over the bucket default."""
    s3 = _lock_bucket(aws, mode=COMPLIANCE, days=30)
    until = _future(3)
    _put(s3, "k", ObjectLockMode=GOVERNANCE, ObjectLockRetainUntilDate=until)
    head = s3.head_object(Bucket=BUCKET, Key="k")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == (GOVERNANCE, until)


@pytest.mark.parametrize("lock", [
    {"ObjectLockMode": COMPLIANCE},
    {"ObjectLockRetainUntilDate": datetime(2099, 1, 1, tzinfo=UTC)},
    {"ObjectLockMode": COMPLIANCE, "ObjectLockRetainUntilDate": datetime(2020, 1, 1, tzinfo=UTC)},
])
def test_incomplete_or_past_lock_headers_are_refused(aws: AwsClients,
                                                     lock: dict[str, Any]) -> None:
    """A mode without a date, a date without a mode, or a past date: InvalidArgument, no object."""
    s3 = _lock_bucket(aws)
    with pytest.raises(ClientError) as caught:
        _put(s3, "k", **lock)
    assert _code(caught) == ("InvalidArgument", 400)
    assert "Versions" not in s3.list_object_versions(Bucket=BUCKET)


def test_multipart_upload_gets_explicit_or_default_lock(aws: AwsClients) -> None:
    """A completed multipart upload is locked as CreateMultipartUpload asked, else by default."""
    s3 = _lock_bucket(aws, mode=GOVERNANCE, days=2)
    until = _future(9)

    def upload(key: str, **lock: Any) -> None:
        upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="SHA256",
                                               **lock)["UploadId"]
        part = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1,
                              Body=b"part", ChecksumAlgorithm="SHA256")
        s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": part["ETag"],
                       "ChecksumSHA256": part["ChecksumSHA256"]}]})

    upload("explicit", ObjectLockMode=COMPLIANCE, ObjectLockRetainUntilDate=until,
           ObjectLockLegalHoldStatus="ON")
    upload("default")
    explicit = s3.head_object(Bucket=BUCKET, Key="explicit")
    assert (explicit["ObjectLockMode"], explicit["ObjectLockRetainUntilDate"],
            explicit["ObjectLockLegalHoldStatus"]) == (COMPLIANCE, until, "ON")
    assert s3.head_object(Bucket=BUCKET, Key="default")["ObjectLockMode"] == GOVERNANCE


@pytest.mark.parametrize(("lock", "bypass", "deletable"), [
    ({"ObjectLockMode": COMPLIANCE}, False, False),
    ({"ObjectLockMode": COMPLIANCE}, True, False),
    ({"ObjectLockMode": GOVERNANCE}, False, False),
    ({"ObjectLockMode": GOVERNANCE}, True, True),
    ({"ObjectLockLegalHoldStatus": "ON"}, True, False),
    ({}, False, True),
])
def test_delete_object_version_respects_the_lock(aws: AwsClients, lock: dict[str, Any],
                                                 bypass: bool, deletable: bool) -> None:
    """Deleting a locked version is AccessDenied; GOVERNANCE yields to bypass, a legal hold not."""
    s3 = _lock_bucket(aws)
    if "ObjectLockMode" in lock:
        lock = {**lock, "ObjectLockRetainUntilDate": _future(5)}
    version = _put(s3, "k", **lock)
    if deletable:
        s3.delete_object(Bucket=BUCKET, Key="k", VersionId=version,
                         BypassGovernanceRetention=bypass)
        assert "Versions" not in s3.list_object_versions(Bucket=BUCKET)
        return
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=BUCKET, Key="k", VersionId=version,
                         BypassGovernanceRetention=bypass)
    assert _code(caught) == ("AccessDenied", 403)
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=BUCKET)["Versions"]] == \
        [version]


def test_delete_without_version_adds_a_marker_over_a_locked_object(aws: AwsClients) -> None:
    """DeleteObject without VersionId only adds a delete marker; the locked version stays."""
    s3 = _lock_bucket(aws, mode=COMPLIANCE)
    version = _put(s3, "k")
    deleted = s3.delete_object(Bucket=BUCKET, Key="k")
    assert deleted["DeleteMarker"] is True
    listing = s3.list_object_versions(Bucket=BUCKET)
    assert [v["VersionId"] for v in listing["Versions"]] == [version]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == [deleted["VersionId"]]


def test_delete_objects_reports_each_locked_version(aws: AwsClients) -> None:
    """DeleteObjects deletes what it may and names key and version of each refused one."""
    s3 = _lock_bucket(aws)
    locked = _put(s3, "locked", ObjectLockMode=COMPLIANCE, ObjectLockRetainUntilDate=_future(5))
    governed = _put(s3, "governed", ObjectLockMode=GOVERNANCE,
                    ObjectLockRetainUntilDate=_future(5))
    free = _put(s3, "free")
    result = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [
        {"Key": "locked", "VersionId": locked}, {"Key": "governed", "VersionId": governed},
        {"Key": "free", "VersionId": free}, {"Key": "locked"}]})
    assert sorted((e["Key"], e["VersionId"], e["Code"]) for e in result["Errors"]) == [
        ("governed", governed, "AccessDenied"), ("locked", locked, "AccessDenied")]
    assert sorted((d["Key"], d.get("DeleteMarker", False)) for d in result["Deleted"]) == [
        ("free", False), ("locked", True)]
    quiet = s3.delete_objects(Bucket=BUCKET, BypassGovernanceRetention=True, Delete={
        "Quiet": True, "Objects": [{"Key": "governed", "VersionId": governed},
                                   {"Key": "locked", "VersionId": locked}]})
    assert "Deleted" not in quiet
    assert [(e["Key"], e["VersionId"]) for e in quiet["Errors"]] == [("locked", locked)]
    remaining = {v["Key"] for v in s3.list_object_versions(Bucket=BUCKET)["Versions"]}
    assert remaining == {"locked"}
