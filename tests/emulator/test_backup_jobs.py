"""AWS Backup jobs on the emulator: back up, copy to the other region, restore what was deleted."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.waiting import wait_until

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
ROLE = "arn:aws:iam::123456789012:role/backup"


def _vault(aws: AwsClients, region: str, name: str, *, lock_days: int | None = None) -> str:
    backup = aws.client("backup", region)
    arn = str(backup.create_backup_vault(BackupVaultName=name)["BackupVaultArn"])
    if lock_days:
        backup.put_backup_vault_lock_configuration(BackupVaultName=name,
                                                   MinRetentionDays=lock_days)
    return arn


def _wait(describe: Any, key: str, done: str = "COMPLETED") -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        found = describe()
        return found if found[key] in ("COMPLETED", "FAILED", "ABORTED") else None

    found = wait_until(ended, description="the backup job to end", timeout=20, interval=0.05)
    assert found[key] == done, found
    return found


def _table_and_bucket(aws: AwsClients) -> tuple[str, str]:
    """A table (global: replica in the secondary) and a bucket replicated to the secondary."""
    dynamodb, s3 = aws.client("dynamodb", PRIMARY), aws.client("s3", PRIMARY)
    table = dynamodb.create_table(
        TableName="data", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])["TableDescription"]
    s3.create_bucket(Bucket="data-bucket")
    for pk in ("keep", "victim"):
        dynamodb.put_item(TableName="data", Item={"pk": {"S": pk}, "v": {"S": f"{pk}-value"}})
        s3.put_object(Bucket="data-bucket", Key=f"docs/{pk}.txt", Body=f"{pk} body".encode())
    return str(table["TableArn"]), "arn:aws:s3:::data-bucket"


def _back_up_and_copy(aws: AwsClients, resource: str, destination: str) -> str:
    """Back ``resource`` up in the primary vault, copy it to ``destination``; the copy's ARN."""
    backup = aws.client("backup", PRIMARY)
    started = backup.start_backup_job(BackupVaultName="primary-vault", ResourceArn=resource,
                                      IamRoleArn=ROLE, Lifecycle={"DeleteAfterDays": 35})
    job = _wait(lambda: backup.describe_backup_job(BackupJobId=started["BackupJobId"]),
                "State")
    assert job["RecoveryPointArn"] == started["RecoveryPointArn"]
    point = backup.describe_recovery_point(BackupVaultName="primary-vault",
                                           RecoveryPointArn=started["RecoveryPointArn"])
    assert point["Status"] == "COMPLETED"
    assert point["ResourceArn"] == resource
    copy = backup.start_copy_job(RecoveryPointArn=started["RecoveryPointArn"],
                                 SourceBackupVaultName="primary-vault",
                                 DestinationBackupVaultArn=destination, IamRoleArn=ROLE)
    copied = _wait(lambda: backup.describe_copy_job(CopyJobId=copy["CopyJobId"])["CopyJob"],
                   "State")
    return str(copied["DestinationRecoveryPointArn"])


def test_restore_from_the_cross_region_copy_brings_back_what_was_deleted_in_both_regions(
        aws: AwsClients) -> None:
    """An item and an object deleted in both regions after the backup come back, restored from
    the copy in the secondary region's vault into a new table and a new bucket there."""
    _vault(aws, PRIMARY, "primary-vault")
    destination = _vault(aws, SECONDARY, "secondary-vault", lock_days=7)
    table_arn, bucket_arn = _table_and_bucket(aws)
    table_copy = _back_up_and_copy(aws, table_arn, destination)
    bucket_copy = _back_up_and_copy(aws, bucket_arn, destination)
    # The corruption: deleted everywhere (the bucket's every version, the item in both tables).
    s3 = aws.client("s3", PRIMARY)
    for version in s3.list_object_versions(Bucket="data-bucket",
                                           Prefix="docs/victim.txt")["Versions"]:
        s3.delete_object(Bucket="data-bucket", Key="docs/victim.txt",
                         VersionId=version["VersionId"])
    aws.client("dynamodb", PRIMARY).delete_item(TableName="data", Key={"pk": {"S": "victim"}})

    backup = aws.client("backup", SECONDARY)
    listed = backup.list_recovery_points_by_backup_vault(BackupVaultName="secondary-vault",
                                                         ByResourceArn=table_arn)
    assert [p["RecoveryPointArn"] for p in listed["RecoveryPoints"]] == [table_copy]
    assert listed["RecoveryPoints"][0]["SourceBackupVaultArn"].endswith(":primary-vault")
    table_job = backup.start_restore_job(RecoveryPointArn=table_copy, IamRoleArn=ROLE,
                                         ResourceType="DynamoDB",
                                         Metadata={"targetTableName": "data-restored"})
    bucket_job = backup.start_restore_job(
        RecoveryPointArn=bucket_copy, IamRoleArn=ROLE, ResourceType="S3",
        Metadata={"DestinationBucketName": "data-restored", "NewBucket": "true"})
    assert backup.describe_restore_job(RestoreJobId=table_job["RestoreJobId"])["Status"] in (
        "PENDING", "RUNNING")
    restored = _wait(lambda: backup.describe_restore_job(
        RestoreJobId=table_job["RestoreJobId"]), "Status")
    assert restored["CreatedResourceArn"].endswith(":table/data-restored")
    assert restored["CreatedResourceArn"].split(":")[3] == SECONDARY
    _wait(lambda: backup.describe_restore_job(RestoreJobId=bucket_job["RestoreJobId"]), "Status")

    item = aws.client("dynamodb", SECONDARY).get_item(TableName="data-restored",
                                                      Key={"pk": {"S": "victim"}})["Item"]
    assert item["v"]["S"] == "victim-value"
    s3w = aws.client("s3", SECONDARY)
    body = s3w.get_object(Bucket="data-restored", Key="docs/victim.txt")["Body"].read()
    assert body == b"victim body"
    assert s3w.get_bucket_location(Bucket="data-restored")["LocationConstraint"] == SECONDARY


def test_a_locked_vault_refuses_to_delete_a_recovery_point(aws: AwsClients) -> None:
    """DeleteRecoveryPoint inside the vault lock's minimum retention is InvalidRequestException;
    a vault without a lock deletes."""
    _vault(aws, PRIMARY, "primary-vault", lock_days=7)
    _vault(aws, PRIMARY, "open-vault")
    table_arn, _ = _table_and_bucket(aws)
    backup = aws.client("backup", PRIMARY)
    for vault in ("primary-vault", "open-vault"):
        started = backup.start_backup_job(BackupVaultName=vault, ResourceArn=table_arn,
                                          IamRoleArn=ROLE, Lifecycle={"DeleteAfterDays": 35})
        _wait(lambda s=started: backup.describe_backup_job(BackupJobId=s["BackupJobId"]),
              "State")
        if vault == "primary-vault":
            with pytest.raises(ClientError) as refused:
                backup.delete_recovery_point(BackupVaultName=vault,
                                             RecoveryPointArn=started["RecoveryPointArn"])
            assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
        else:
            backup.delete_recovery_point(BackupVaultName=vault,
                                         RecoveryPointArn=started["RecoveryPointArn"])
        remaining = backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)
        assert len(remaining["RecoveryPoints"]) == (1 if vault == "primary-vault" else 0)


def test_backup_jobs_fail_as_aws_says(aws: AwsClients) -> None:
    """A retention shorter than the vault lock's minimum and a missing table fail the job with a
    status message; a restore onto an existing table fails; a recovery point restores only in its
    own region."""
    _vault(aws, PRIMARY, "primary-vault", lock_days=7)
    table_arn, _ = _table_and_bucket(aws)
    backup = aws.client("backup", PRIMARY)
    short = backup.start_backup_job(BackupVaultName="primary-vault", ResourceArn=table_arn,
                                    IamRoleArn=ROLE, Lifecycle={"DeleteAfterDays": 1})
    failed = _wait(lambda: backup.describe_backup_job(BackupJobId=short["BackupJobId"]),
                   "State", done="FAILED")
    assert "minimum retention" in failed["StatusMessage"]
    missing = backup.start_backup_job(BackupVaultName="primary-vault", IamRoleArn=ROLE,
                                      ResourceArn=table_arn.replace("/data", "/nothing"))
    failed = _wait(lambda: backup.describe_backup_job(BackupJobId=missing["BackupJobId"]),
                   "State", done="FAILED")
    assert "ResourceNotFoundException" in failed["StatusMessage"]
    good = backup.start_backup_job(BackupVaultName="primary-vault", ResourceArn=table_arn,
                                   IamRoleArn=ROLE)
    _wait(lambda: backup.describe_backup_job(BackupJobId=good["BackupJobId"]), "State")
    onto = backup.start_restore_job(RecoveryPointArn=good["RecoveryPointArn"], IamRoleArn=ROLE,
                                    Metadata={"targetTableName": "data"})
    failed = _wait(lambda: backup.describe_restore_job(RestoreJobId=onto["RestoreJobId"]),
                   "Status", done="FAILED")
    assert "ResourceInUseException" in failed["StatusMessage"]
    with pytest.raises(ClientError) as elsewhere:
        aws.client("backup", SECONDARY).start_restore_job(
            RecoveryPointArn=good["RecoveryPointArn"], IamRoleArn=ROLE,
            Metadata={"targetTableName": "x"})
    assert elsewhere.value.response["Error"]["Code"] == "InvalidParameterValueException"
