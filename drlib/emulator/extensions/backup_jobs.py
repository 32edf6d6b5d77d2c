"""AWS Backup jobs on the emulator: backups, recovery points, copies and restores.

moto 5.2.5's Backup has vaults, vault locks and plans but no jobs and no recovery points. This
extension adds, for **DynamoDB tables and S3 buckets** (what the data-corruption drill restores),
with AWS's request and response shapes and statuses:

* ``StartBackupJob`` / ``DescribeBackupJob`` / ``ListBackupJobs``: the job reads the resource
  through the emulator's own API (a table ``Scan``, every current S3 object) when it starts,
  state ``CREATED`` then ``RUNNING`` then ``COMPLETED`` (or ``FAILED`` with a ``StatusMessage``:
  the resource is missing, its region is down, the vault is missing, the lifecycle is shorter
  than the vault lock's minimum retention); the recovery point goes ``CREATING`` to
  ``COMPLETED``. Recovery points are ``arn:aws:backup:<region>:<account>:recovery-point:<id>``
  (AWS's form for resources under full AWS Backup management).
* ``ListRecoveryPointsByBackupVault`` (filters by resource ARN, resource type, created
  before/after), ``DescribeRecoveryPoint``, ``GetRecoveryPointRestoreMetadata``,
  ``DeleteRecoveryPoint`` (refused with ``InvalidRequestException`` while a vault lock's
  ``MinRetentionDays`` holds it).
* ``StartCopyJob`` / ``DescribeCopyJob`` / ``ListCopyJobs``: the recovery point, data included,
  copied to a vault of another region (``SourceBackupVaultArn`` set on the copy); ``CREATED``,
  ``RUNNING``, ``COMPLETED`` or ``FAILED``.
* ``StartRestoreJob`` / ``DescribeRestoreJob`` / ``ListRestoreJobs``: ``PENDING``, ``RUNNING``,
  ``COMPLETED`` (with ``CreatedResourceArn``) or ``FAILED``, restored in the recovery point's
  region through the emulator's API. DynamoDB: a new table ``targetTableName`` (fails when it
  exists). S3: ``DestinationBucketName``, into a new bucket (``NewBucket`` ``true``, created with
  versioning) or an existing one; ``ItemsToRestore`` (a JSON list of keys or ``s3://bucket/key``
  paths) restores only those objects.

Jobs take :data:`JOB_SECONDS` at least (AWS's take minutes; nothing here claims AWS's durations).
Not emulated: other resource types (Aurora, EBS, ...), continuous backups and point-in-time
restore, backup plans running on their schedule, indexes, restore testing, legal holds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from drlib.emulator import control

log = logging.getLogger(__name__)

JOB_SECONDS = 0.3
"""The least time a job stays running (the emulator's, not AWS's)."""

RESOURCE_TYPES = {"dynamodb": "DynamoDB", "s3": "S3"}
DAY_S = 86400.0

_lock = threading.RLock()
_generation = [0]


@dataclass
class RecoveryPoint:
    """A recovery point and the data it holds (never shown by the API)."""

    arn: str
    vault_name: str
    vault_arn: str
    resource_arn: str
    resource_type: str
    iam_role_arn: str
    created: float
    lifecycle: dict[str, Any] = field(default_factory=dict)
    encryption_key_arn: str | None = None
    source_vault_arn: str | None = None
    status: str = "CREATING"
    status_message: str | None = None
    completed: float | None = None
    size: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def resource_name(self) -> str:
        return resource_name(self.resource_arn)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "RecoveryPointArn": self.arn, "BackupVaultName": self.vault_name,
            "BackupVaultArn": self.vault_arn, "ResourceArn": self.resource_arn,
            "ResourceType": self.resource_type, "ResourceName": self.resource_name,
            "IamRoleArn": self.iam_role_arn, "Status": self.status,
            "CreationDate": self.created, "BackupSizeInBytes": self.size,
            "IsEncrypted": bool(self.encryption_key_arn), "VaultType": "BACKUP_VAULT",
            "StorageClass": "WARM", "Lifecycle": self.lifecycle,
            "CreatedBy": {}, "IsParent": False}
        if self.lifecycle.get("DeleteAfterDays"):
            out["CalculatedLifecycle"] = {
                "DeleteAt": self.created + float(self.lifecycle["DeleteAfterDays"]) * DAY_S}
        for key, value in (("CompletionDate", self.completed),
                           ("EncryptionKeyArn", self.encryption_key_arn),
                           ("SourceBackupVaultArn", self.source_vault_arn),
                           ("StatusMessage", self.status_message)):
            if value is not None:
                out[key] = value
        return out


@dataclass
class Store:
    """A region's jobs and recovery points, kept on its Backup backend (a reset clears them)."""

    recovery_points: dict[str, RecoveryPoint] = field(default_factory=dict)
    backup_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    copy_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    restore_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)


def store(backend: Any) -> Store:
    found: Store | None = getattr(backend, "drlib_jobs", None)
    if found is None:
        found = Store()
        backend.drlib_jobs = found
    return found


def _backend(account: str, region: str) -> Any:
    from moto.backup.models import backup_backends

    return backup_backends[account][region]


def resource_name(arn: str) -> str:
    """The table or bucket an ARN names."""
    return arn.split(":::", 1)[1] if ":s3:::" in arn else arn.rsplit("/", 1)[-1]


def resource_type(arn: str) -> str:
    """``DynamoDB`` or ``S3`` for a table or bucket ARN; raises for anything else."""
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    if service not in RESOURCE_TYPES:
        raise _invalid_parameter(f"Resource type of {arn} is not supported by the drlib emulator "
                                 "(DynamoDB tables and S3 buckets are)")
    return RESOURCE_TYPES[service]


def _invalid_parameter(message: str) -> Exception:
    from moto.backup.exceptions import InvalidParameterValueException

    return InvalidParameterValueException(msg=message)


def _invalid_request(message: str) -> Exception:
    from moto.backup.exceptions import InvalidRequestException

    return InvalidRequestException(msg=message)


def _not_found(message: str) -> Exception:
    from moto.backup.exceptions import ResourceNotFoundException

    return ResourceNotFoundException(msg=message)


def locked_until(vault: Any, created: float) -> float | None:
    """Until when a vault lock keeps a recovery point created at ``created`` (None: no lock)."""
    days = getattr(vault, "min_retention_days", None)
    if not getattr(vault, "locked", False) or not days:
        return None
    return created + float(days) * DAY_S


# --- the data, read and written through the emulator's own API -------------------------------

def _client(service: str, region: str) -> Any:
    from drlib.emulator.extensions.ssm_automation import client_for

    return client_for(service, region)


def snapshot(resource_arn: str, region: str) -> tuple[dict[str, Any], int]:
    """What a backup of the table or bucket holds now, and its size in bytes."""
    name = resource_name(resource_arn)
    if resource_type(resource_arn) == "DynamoDB":
        dynamodb = _client("dynamodb", region)
        table = dynamodb.describe_table(TableName=name)["Table"]
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": name}
        while True:
            page = dynamodb.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        data = {"KeySchema": table["KeySchema"], "AttributeDefinitions":
                table["AttributeDefinitions"], "Items": items}
        return data, len(json.dumps(items))
    s3 = _client("s3", "us-east-1")
    objects: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for summary in page.get("Contents", []):
            got = s3.get_object(Bucket=name, Key=summary["Key"])
            objects[summary["Key"]] = {"Body": got["Body"].read(),
                                       "ContentType": got.get("ContentType"),
                                       "Metadata": got.get("Metadata") or {}}
    return {"Objects": objects}, sum(len(o["Body"]) for o in objects.values())


def restore(point: RecoveryPoint, metadata: dict[str, str], region: str, account: str) -> str:
    """Write ``point``'s data as ``metadata`` says; returns the created resource's ARN."""
    if point.resource_type == "DynamoDB":
        name = metadata.get("targetTableName") or ""
        if not name:
            raise ValueError("Metadata targetTableName is required to restore a DynamoDB table")
        dynamodb = _client("dynamodb", region)
        extra: dict[str, Any] = {}
        if metadata.get("encryptionType") == "KMS" and metadata.get("kmsMasterKeyArn"):
            extra["SSESpecification"] = {"Enabled": True, "SSEType": "KMS",
                                         "KMSMasterKeyId": metadata["kmsMasterKeyArn"]}
        table = dynamodb.create_table(TableName=name, KeySchema=point.data["KeySchema"],
                                      AttributeDefinitions=point.data["AttributeDefinitions"],
                                      BillingMode="PAY_PER_REQUEST", **extra)["TableDescription"]
        items = point.data["Items"]
        for start in range(0, len(items), 25):
            requests = {name: [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]}
            while requests:
                requests = dynamodb.batch_write_item(RequestItems=requests).get(
                    "UnprocessedItems") or {}
        return str(table["TableArn"])
    bucket = metadata.get("DestinationBucketName") or ""
    if not bucket:
        raise ValueError("Metadata DestinationBucketName is required to restore S3 data")
    s3 = _client("s3", region)
    if str(metadata.get("NewBucket", "false")).lower() == "true":
        config = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **config)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        if metadata.get("EncryptionType") == "SSE-KMS" and metadata.get("KMSKey"):
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": metadata["KMSKey"]}}]})
    wanted = _items_to_restore(metadata.get("ItemsToRestore"))
    for key, obj in point.data["Objects"].items():
        if wanted is not None and not any(key == w or key.startswith(w.rstrip("/") + "/")
                                          for w in wanted):
            continue
        extra = {"ContentType": obj["ContentType"]} if obj.get("ContentType") else {}
        s3.put_object(Bucket=bucket, Key=key, Body=obj["Body"], Metadata=obj["Metadata"],
                      **extra)
    return f"arn:aws:s3:::{bucket}"


def _items_to_restore(value: str | None) -> list[str] | None:
    if not value:
        return None
    items = json.loads(value) if value.strip().startswith("[") else [value]
    return [i.split("/", 3)[3] if str(i).startswith("s3://") else str(i) for i in items]


# --- jobs ----------------------------------------------------------------------------------------

def _run_job(job: dict[str, Any], key: str, work: Callable[[], None],
             running: str = "RUNNING") -> None:
    """Run ``work`` in a thread: the job's state ``running`` meanwhile, then ``COMPLETED``, or
    ``FAILED`` with the error as its status message."""
    generation = _generation[0]

    def run() -> None:
        began = time.monotonic()
        with _lock:
            job[key] = running
        try:
            work()
            time.sleep(max(0.0, JOB_SECONDS - (time.monotonic() - began)))
            outcome, message = "COMPLETED", None
        except Exception as exc:
            outcome, message = "FAILED", _message(exc)
            log.warning("backup job %s failed: %s", job.get("BackupJobId") or job.get(
                "CopyJobId") or job.get("RestoreJobId"), message)
        with _lock:
            if generation != _generation[0]:
                return  # the emulator was reset meanwhile
            job[key] = outcome
            job["CompletionDate"] = time.time()
            job["PercentDone"] = "100.0" if outcome == "COMPLETED" else job.get("PercentDone")
            if message:
                job["StatusMessage"] = message
            done = job.pop("_on_end", None)
            if done is not None:
                done(outcome, message)

    threading.Thread(target=run, name="drlib-backup-job", daemon=True).start()


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code')}: {error.get('Message')}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def start_backup_job(account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    backend = _backend(account, region)
    vault = backend.describe_backup_vault(params["BackupVaultName"])
    kind = resource_type(params["ResourceArn"])
    now = time.time()
    lifecycle = dict(params.get("Lifecycle") or {})
    point = RecoveryPoint(
        arn=f"arn:aws:backup:{region}:{account}:recovery-point:{str(uuid.uuid4()).upper()}",
        vault_name=vault.backup_vault_name, vault_arn=vault.backup_vault_arn,
        resource_arn=params["ResourceArn"], resource_type=kind,
        iam_role_arn=params["IamRoleArn"], created=now, lifecycle=lifecycle,
        encryption_key_arn=getattr(vault, "encryption_key_arn", None))
    job: dict[str, Any] = {"AccountId": account, "BackupJobId": str(uuid.uuid4()).upper(),
           "BackupVaultName": vault.backup_vault_name, "BackupVaultArn": vault.backup_vault_arn,
           "RecoveryPointArn": point.arn, "ResourceArn": point.resource_arn,
           "ResourceName": point.resource_name, "ResourceType": kind, "CreationDate": now,
           "State": "CREATED", "IamRoleArn": point.iam_role_arn, "PercentDone": "0.0",
           "RecoveryPointLifecycle": lifecycle, "BackupType": "", "IsParent": False,
           "CreatedBy": {}, "StartBy": now + 60 * float(params.get("StartWindowMinutes") or 480)}
    short = _shorter_than_lock(vault, lifecycle)

    def work() -> None:
        if short:
            raise ValueError(short)
        point.data, point.size = snapshot(point.resource_arn, region)

    def ended(outcome: str, message: str | None) -> None:
        point.status = "COMPLETED" if outcome == "COMPLETED" else "FAILED"
        point.completed = job["CompletionDate"]
        point.status_message = message
        job["BackupSizeInBytes"] = point.size
        if outcome != "COMPLETED":  # AWS keeps no recovery point of a failed backup
            store(backend).recovery_points.pop(point.arn, None)

    with _lock:
        store(backend).recovery_points[point.arn] = point
        store(backend).backup_jobs[job["BackupJobId"]] = job
        job["_on_end"] = ended
    _run_job(job, "State", work)
    return {"BackupJobId": job["BackupJobId"], "RecoveryPointArn": point.arn,
            "CreationDate": now, "IsParent": False}


def _shorter_than_lock(vault: Any, lifecycle: dict[str, Any]) -> str | None:
    days = getattr(vault, "min_retention_days", None)
    keep = lifecycle.get("DeleteAfterDays")
    if getattr(vault, "locked", False) and days and keep is not None and int(keep) < int(days):
        return (f"The recovery point's retention ({keep} days) is shorter than the minimum "
                f"retention of vault {vault.backup_vault_name}'s lock ({days} days)")
    return None


def find_recovery_point(account: str, arn: str) -> tuple[Any, RecoveryPoint]:
    """The backend and recovery point an ARN names (its region is in the ARN)."""
    parts = arn.split(":")
    region = parts[3] if len(parts) > 3 else ""
    point = store(_backend(account, region)).recovery_points.get(arn) if region else None
    if point is None:
        raise _not_found(f"Recovery point {arn} not found")
    return _backend(account, region), point


def start_copy_job(account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    backend = _backend(account, region)
    source_vault = backend.describe_backup_vault(params["SourceBackupVaultName"])
    _, source = find_recovery_point(account, params["RecoveryPointArn"])
    if source.vault_name != source_vault.backup_vault_name:
        raise _not_found(f"Recovery point {source.arn} is not in vault "
                         f"{source_vault.backup_vault_name}")
    destination_arn = params["DestinationBackupVaultArn"]
    dest_region, dest_vault_name = destination_arn.split(":")[3], destination_arn.split(":")[-1]
    now = time.time()
    lifecycle = dict(params.get("Lifecycle") or source.lifecycle)
    job: dict[str, Any] = {"AccountId": account, "CopyJobId": str(uuid.uuid4()).upper(),
           "SourceBackupVaultArn": source_vault.backup_vault_arn,
           "SourceRecoveryPointArn": source.arn, "DestinationBackupVaultArn": destination_arn,
           "ResourceArn": source.resource_arn, "ResourceType": source.resource_type,
           "ResourceName": source.resource_name, "CreationDate": now, "State": "CREATED",
           "IamRoleArn": params["IamRoleArn"], "BackupSizeInBytes": source.size,
           "CreatedBy": {}, "IsParent": False}

    def work() -> None:
        if source.status != "COMPLETED":
            raise ValueError(f"Recovery point {source.arn} is {source.status}, not COMPLETED")
        dest_backend = _backend(account, dest_region)
        vault = dest_backend.describe_backup_vault(dest_vault_name)
        short = _shorter_than_lock(vault, lifecycle)
        if short:
            raise ValueError(short)
        copy = RecoveryPoint(
            arn=f"arn:aws:backup:{dest_region}:{account}:recovery-point:"
                f"{str(uuid.uuid4()).upper()}",
            vault_name=vault.backup_vault_name, vault_arn=vault.backup_vault_arn,
            resource_arn=source.resource_arn, resource_type=source.resource_type,
            iam_role_arn=params["IamRoleArn"], created=time.time(), lifecycle=lifecycle,
            encryption_key_arn=getattr(vault, "encryption_key_arn", None),
            source_vault_arn=source_vault.backup_vault_arn, status="COMPLETED",
            completed=time.time(), size=source.size, data=source.data)
        with _lock:
            store(dest_backend).recovery_points[copy.arn] = copy
        job["DestinationRecoveryPointArn"] = copy.arn

    with _lock:
        store(backend).copy_jobs[job["CopyJobId"]] = job
    _run_job(job, "State", work)
    return {"CopyJobId": job["CopyJobId"], "CreationDate": now, "IsParent": False}


def start_restore_job(account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    backend = _backend(account, region)
    point_backend, point = find_recovery_point(account, params["RecoveryPointArn"])
    if point_backend is not backend:
        raise _invalid_parameter(f"Recovery point {point.arn} is not in {region}; restore it "
                                 "in its own region (copy it there first)")
    if params.get("ResourceType") and params["ResourceType"] != point.resource_type:
        raise _invalid_parameter(f"ResourceType {params['ResourceType']} does not match the "
                                 f"recovery point's {point.resource_type}")
    if point.status != "COMPLETED":
        raise _invalid_request(f"Recovery point {point.arn} is {point.status}, not COMPLETED")
    metadata = {str(k): str(v) for k, v in (params.get("Metadata") or {}).items()}
    now = time.time()
    job: dict[str, Any] = {"AccountId": account, "RestoreJobId": str(uuid.uuid4()).upper(),
           "RecoveryPointArn": point.arn, "SourceResourceArn": point.resource_arn,
           "BackupVaultArn": point.vault_arn, "CreationDate": now, "Status": "PENDING",
           "PercentDone": "0.0", "BackupSizeInBytes": point.size,
           "IamRoleArn": params.get("IamRoleArn"), "ResourceType": point.resource_type,
           "RecoveryPointCreationDate": point.created, "CreatedBy": {}, "IsParent": False}

    def work() -> None:
        job["CreatedResourceArn"] = restore(point, metadata, region, account)

    with _lock:
        store(backend).restore_jobs[job["RestoreJobId"]] = job
    _run_job(job, "Status", work)
    return {"RestoreJobId": job["RestoreJobId"]}


def delete_recovery_point(account: str, region: str, vault_name: str, arn: str) -> None:
    backend = _backend(account, region)
    vault = backend.describe_backup_vault(vault_name)
    point = store(backend).recovery_points.get(arn)
    if point is None or point.vault_name != vault_name:
        raise _not_found(f"Recovery point {arn} not found in vault {vault_name}")
    until = locked_until(vault, point.created)
    if until is not None and time.time() < until:
        raise _invalid_request(
            f"Recovery point {arn} cannot be deleted: vault {vault_name} is locked with a "
            f"minimum retention of {vault.min_retention_days} days")
    with _lock:
        del store(backend).recovery_points[arn]


def list_recovery_points(account: str, region: str, vault_name: str,
                         query: dict[str, Any]) -> list[dict[str, Any]]:
    backend = _backend(account, region)
    backend.describe_backup_vault(vault_name)

    def first(name: str) -> str | None:
        value = query.get(name)
        return str(value[0] if isinstance(value, list) else value) if value else None

    by_arn, by_type = first("resourceArn"), first("resourceType")
    before, after = first("createdBefore"), first("createdAfter")
    found = []
    for point in list(store(backend).recovery_points.values()):
        if point.vault_name != vault_name or (by_arn and point.resource_arn != by_arn) or (
                by_type and point.resource_type != by_type):
            continue
        if before and not point.created < _epoch(before):
            continue
        if after and not point.created > _epoch(after):
            continue
        found.append(point.describe())
    return sorted(found, key=lambda p: p["CreationDate"], reverse=True)


def _epoch(value: str) -> float:
    from datetime import UTC, datetime

    try:
        return float(value)
    except ValueError:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _public(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_") and v is not None}


def _job(jobs: dict[str, dict[str, Any]], job_id: str, kind: str) -> dict[str, Any]:
    job = jobs.get(job_id)
    if job is None:
        raise _not_found(f"{kind} job {job_id} not found")
    return _public(job)


# --- the API -----------------------------------------------------------------------------------

def _patch_api() -> None:
    from moto.backup import urls
    from moto.backup.responses import BackupResponse

    def account_region(self: Any) -> tuple[str, str]:
        return str(self.current_account), str(self.region)

    def body(self: Any) -> dict[str, Any]:
        return dict(json.loads(self.body or "{}"))

    def tail(self: Any, marker: str) -> list[str]:
        return [unquote(p) for p in self.path.split("?")[0].split(marker, 1)[1].strip("/")
                .split("/") if p]

    def vault_and_point(self: Any) -> tuple[str, str]:
        vault = tail(self, "/backup-vaults/")[0]
        parts = self.path.split("?")[0].split("/recovery-points/", 1)[1].strip("/").split("/")
        return vault, unquote(parts[0])

    def start_backup(self: Any) -> str:
        return json.dumps(start_backup_job(*account_region(self), body(self)))

    def describe_backup(self: Any) -> str:
        job_id = tail(self, "/backup-jobs/")[0]
        return json.dumps(_job(store(self.backup_backend).backup_jobs, job_id, "Backup"))

    def list_backup(self: Any) -> str:
        jobs = [_public(j) for j in store(self.backup_backend).backup_jobs.values()]
        return json.dumps({"BackupJobs": jobs})

    def start_copy(self: Any) -> str:
        return json.dumps(start_copy_job(*account_region(self), body(self)))

    def describe_copy(self: Any) -> str:
        job_id = tail(self, "/copy-jobs/")[0]
        return json.dumps({"CopyJob": _job(store(self.backup_backend).copy_jobs, job_id,
                                           "Copy")})

    def list_copy(self: Any) -> str:
        jobs = [_public(j) for j in store(self.backup_backend).copy_jobs.values()]
        return json.dumps({"CopyJobs": jobs})

    def start_restore(self: Any) -> str:
        return json.dumps(start_restore_job(*account_region(self), body(self)))

    def describe_restore(self: Any) -> str:
        job_id = tail(self, "/restore-jobs/")[0]
        return json.dumps(_job(store(self.backup_backend).restore_jobs, job_id, "Restore"))

    def list_restore(self: Any) -> str:
        jobs = [_public(j) for j in store(self.backup_backend).restore_jobs.values()]
        return json.dumps({"RestoreJobs": jobs})

    def list_points(self: Any) -> str:
        vault = tail(self, "/backup-vaults/")[0]
        points = list_recovery_points(*account_region(self), vault, self.querystring)
        return json.dumps({"RecoveryPoints": points})

    def describe_point(self: Any) -> str:
        vault, arn = vault_and_point(self)
        _, point = find_recovery_point(self.current_account, arn)
        if point.vault_name != vault or point.arn.split(":")[3] != self.region:
            raise _not_found(f"Recovery point {arn} not found in vault {vault}")
        return json.dumps(point.describe())

    def restore_metadata(self: Any) -> str:
        _, arn = vault_and_point(self)
        _, point = find_recovery_point(self.current_account, arn)
        name = point.resource_name
        metadata = ({"targetTableName": name, "encryptionType": "Default"}
                    if point.resource_type == "DynamoDB" else
                    {"DestinationBucketName": name, "NewBucket": "false", "Encrypted": "false"})
        return json.dumps({"BackupVaultArn": point.vault_arn, "RecoveryPointArn": arn,
                           "ResourceType": point.resource_type, "RestoreMetadata": metadata})

    def delete_point(self: Any) -> str:
        vault, arn = vault_and_point(self)
        delete_recovery_point(*account_region(self), vault, arn)
        return "{}"

    for name, method in {
            "start_backup_job": start_backup, "describe_backup_job": describe_backup,
            "list_backup_jobs": list_backup, "start_copy_job": start_copy,
            "describe_copy_job": describe_copy, "list_copy_jobs": list_copy,
            "start_restore_job": start_restore, "describe_restore_job": describe_restore,
            "list_restore_jobs": list_restore,
            "list_recovery_points_by_backup_vault": list_points,
            "describe_recovery_point": describe_point,
            "get_recovery_point_restore_metadata": restore_metadata,
            "delete_recovery_point": delete_point}.items():
        setattr(BackupResponse, name, method)
    # The Flask app for backup is built from this dict on the first Backup request.
    # Start is PUT /<jobs>, list is GET /<jobs>/: Flask tells the two apart by the slash.
    for path in (r"{0}/backup-jobs$", r"{0}/backup-jobs/$", r"{0}/backup-jobs/(?P<job>[^/]+)$",
                 r"{0}/copy-jobs$", r"{0}/copy-jobs/$", r"{0}/copy-jobs/(?P<job>[^/]+)$",
                 r"{0}/restore-jobs$", r"{0}/restore-jobs/$",
                 r"{0}/restore-jobs/(?P<job>[^/]+)$",
                 r"{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$",
                 r"{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>[^/]+)$",
                 r"{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>[^/]+)"
                 r"/restore-metadata$"):
        urls.url_paths[path] = BackupResponse.dispatch


def _reset() -> None:
    with _lock:
        _generation[0] += 1


_installed = False


def install() -> None:
    """Give moto's Backup API the job and recovery-point operations."""
    global _installed
    if _installed:
        return
    _patch_api()  # moto.backup is small: patched at once, before its Flask app is built
    control.on_reset(_reset)
    _installed = True
