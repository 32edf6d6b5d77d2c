"""The dr-restore runbook of dr-automation.yaml and the restore role of backup.yaml, read
statically: secondary region only, every step bounded, approval before anything is restored."""

from __future__ import annotations

from typing import Any

from tests.templates.cfn import load, resources

DOCUMENTS = resources("dr-automation.yaml", "AWS::SSM::Document")


def _content() -> dict[str, Any]:
    content: dict[str, Any] = DOCUMENTS["RestoreRunbook"]["Properties"]["Content"]
    return content


def test_the_restore_runbook_lives_in_the_secondary_region_and_is_exported() -> None:
    """The runbook exists only where the procedure runbooks do and the vault, restore role and
    protected resources are given; its name is a stack output."""
    template = load("dr-automation.yaml")
    assert DOCUMENTS["RestoreRunbook"]["Condition"] == "HasRestoreRunbook"
    condition = str(template["Conditions"]["HasRestoreRunbook"])
    for needed in ("HasProcedureRunbooks", "BackupVaultName", "RestoreRoleArn",
                   "ProtectedTableArn", "ProtectedBucketArn"):
        assert needed in condition
    assert template["Outputs"]["RestoreRunbookName"]["Condition"] == "HasRestoreRunbook"


def test_every_restore_step_is_bounded_and_aborts_on_failure() -> None:
    """Each step declares its own timeoutSeconds and onFailure Abort."""
    for step in _content()["mainSteps"]:
        assert int(step["timeoutSeconds"]) > 0, step["name"]
        assert step["onFailure"] == "Abort", step["name"]


def test_recovery_points_are_chosen_before_the_corruption_and_approved_before_restoring() -> None:
    """The runbook restores the most recent recovery points created before CorruptedAt, and in
    production an approval comes before any StartRestoreJob."""
    content = _content()
    steps = content["mainSteps"]
    names = [s["name"] for s in steps]
    find = steps[names.index("FindRecoveryPoints")]
    assert "ByCreatedBefore" in find["inputs"]["Script"]
    assert find["inputs"]["InputPayload"]["Before"] == "{{ CorruptedAt }}"
    assert content["parameters"]["RequireApproval"]["default"] == {
        "Fn::If": ["IsProduction", True, False]}
    approve = names.index("ApproveRestore")
    restores = [i for i, s in enumerate(steps) if s["inputs"].get("Api") == "StartRestoreJob"]
    assert [steps[i]["inputs"]["ResourceType"] for i in restores] == ["DynamoDB", "S3"]
    assert min(restores) > approve
    bucket = steps[restores[1]]["inputs"]["Metadata"]
    assert bucket["NewBucket"] == "true"  # never over the bucket that was corrupted


def test_every_region_has_a_restore_role_for_aws_backup() -> None:
    """The backup stack gives AWS Backup a restore-only role in each region, exported."""
    template = load("backup.yaml")
    role = template["Resources"]["RestoreRole"]
    assert "Condition" not in role
    assert "backup.amazonaws.com" in str(role["Properties"]["AssumeRolePolicyDocument"])
    policies = str(role["Properties"]["ManagedPolicyArns"])
    assert "Restore" in policies
    assert "ForBackup" not in policies
    assert "RestoreRoleArn" in template["Outputs"]
