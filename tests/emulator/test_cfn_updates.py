"""Stack updates on the emulator as CloudFormation makes them: an update that changes nothing is
refused, modified resources are updated in place or the update fails and rolls back, and no
resource silently leaves its stack."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from tests.emulator.cfn_support import create_stack, physical_ids, resource_events, settled_stack
from tests.emulator.test_cfn_drift import detect, differences, drifts

LOGS = """
    Parameters:
      Days: {Type: Number, Default: 7}
    Resources:
      Logs:
        Type: AWS::Logs::LogGroup
        Properties: {LogGroupName: /drift/updates, RetentionInDays: !Ref Days}
    Outputs:
      Name: {Value: !Ref Logs}
"""


def test_an_update_that_changes_nothing_is_refused(aws: AwsClients) -> None:
    """The same template, parameter values and tags: "No updates are to be performed." and the
    stack stays as it was (moto compared the text "7" with its number 7 and always updated)."""
    create_stack(aws, "same", LOGS, parameters={"Days": "7"})
    cloudformation = aws.client("cloudformation", "us-east-1")
    body = cloudformation.get_template(StackName="same")["TemplateBody"]
    with pytest.raises(ClientError, match="No updates are to be performed"):
        cloudformation.update_stack(StackName="same", TemplateBody=body, Parameters=[
            {"ParameterKey": "Days", "ParameterValue": "7"}])
    assert settled_stack(aws, "same")["StackStatus"] == "CREATE_COMPLETE"


def test_a_type_without_an_update_handler_keeps_its_resource(aws: AwsClients) -> None:
    """moto dropped such a resource from its stack on update; it stays, unchanged, the event
    says the change was not applied, and drift detection shows the difference."""
    create_stack(aws, "kept", LOGS, parameters={"Days": "7"})
    cloudformation = aws.client("cloudformation", "us-east-1")
    cloudformation.update_stack(StackName="kept", UsePreviousTemplate=True, Parameters=[
        {"ParameterKey": "Days", "ParameterValue": "14"}])
    stack = settled_stack(aws, "kept")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert physical_ids(aws, "kept") == {"Logs": "/drift/updates"}
    assert stack["Outputs"][0]["OutputValue"] == "/drift/updates"
    assert any(lid == "Logs" and status == "UPDATE_COMPLETE" and "cannot update" in reason
               for lid, status, reason in resource_events(aws, "kept"))
    detect(aws, "kept")
    assert differences(drifts(aws, "kept")["Logs"]) == [
        ("/RetentionInDays", "NOT_EQUAL", "14", "7")]


CLUSTER = """
    Parameters:
      ClusterName: {Type: String, Default: upd-primary}
      BackupDays: {Type: Number, Default: 7}
    Resources:
      Global:
        Type: AWS::RDS::GlobalCluster
        Properties:
          GlobalClusterIdentifier: upd-global
          Engine: aurora-postgresql
          EngineVersion: "15.4"
          StorageEncrypted: true
          Tags: [{Key: Team, Value: dr}]
      Cluster:
        Type: AWS::RDS::DBCluster
        Properties:
          DBClusterIdentifier: !Ref ClusterName
          Engine: aurora-postgresql
          EngineVersion: "15.4"
          GlobalClusterIdentifier: !Ref Global
          MasterUsername: dbadmin
          MasterUserPassword: not-a-real-secret-1
          StorageEncrypted: true
          BackupRetentionPeriod: !Ref BackupDays
      Writer:
        Type: AWS::RDS::DBInstance
        Properties:
          DBInstanceIdentifier: upd-primary-a
          DBClusterIdentifier: !Ref Cluster
          Engine: aurora-postgresql
          DBInstanceClass: db.r6g.large
          PromotionTier: 0
"""


@pytest.mark.slow
def test_aurora_resources_update_in_place_and_are_never_replaced(aws: AwsClients) -> None:
    """A changed setting modifies the cluster in place (same resource id, still the global
    writer); a change that would need a replacement of the custom-named cluster fails with
    CloudFormation's message and rolls back, leaving the cluster and the global database as
    they were. The stack is in sync with its template afterwards."""
    create_stack(aws, "upd", CLUSTER)
    rds = aws.client("rds", "us-east-1")
    before = rds.describe_db_clusters(DBClusterIdentifier="upd-primary")["DBClusters"][0]
    assert detect(aws, "upd")["StackDriftStatus"] == "IN_SYNC"

    cloudformation = aws.client("cloudformation", "us-east-1")
    cloudformation.update_stack(StackName="upd", UsePreviousTemplate=True, Parameters=[
        {"ParameterKey": "BackupDays", "ParameterValue": "14"},
        {"ParameterKey": "ClusterName", "ParameterValue": "upd-primary"}])
    assert settled_stack(aws, "upd")["StackStatus"] == "UPDATE_COMPLETE"
    after = rds.describe_db_clusters(DBClusterIdentifier="upd-primary")["DBClusters"][0]
    assert after["DbClusterResourceId"] == before["DbClusterResourceId"]
    assert after["BackupRetentionPeriod"] == 14
    members = rds.describe_global_clusters(GlobalClusterIdentifier="upd-global")[
        "GlobalClusters"][0]["GlobalClusterMembers"]
    assert [(m["DBClusterArn"], m["IsWriter"]) for m in members] == [(after["DBClusterArn"],
                                                                      True)]
    assert ("Cluster", "UPDATE_COMPLETE", "") in resource_events(aws, "upd")
    assert detect(aws, "upd")["StackDriftStatus"] == "IN_SYNC"

    cloudformation.update_stack(StackName="upd", UsePreviousTemplate=True, Parameters=[
        {"ParameterKey": "BackupDays", "ParameterValue": "14"},
        {"ParameterKey": "ClusterName", "ParameterValue": "upd-renamed"}])
    stack = settled_stack(aws, "upd")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    failed = [reason for lid, status, reason in resource_events(aws, "upd")
              if (lid, status) == ("Cluster", "UPDATE_FAILED")]
    assert failed == ["CloudFormation cannot update a stack when a custom-named resource "
                      "requires replacing. Rename upd-renamed and update the stack again."]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}[
        "ClusterName"] == "upd-primary"
    still = rds.describe_db_clusters(DBClusterIdentifier="upd-primary")["DBClusters"][0]
    assert still["DbClusterResourceId"] == before["DbClusterResourceId"]
    with pytest.raises(ClientError):
        rds.describe_db_clusters(DBClusterIdentifier="upd-renamed")
    assert detect(aws, "upd")["StackDriftStatus"] == "IN_SYNC"
