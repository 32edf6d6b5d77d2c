"""Aurora through CloudFormation on the emulator: a global cluster, a primary and a secondary
cluster in two regions, and clustered instances, all visible through the RDS API."""

from __future__ import annotations

import pytest

from drlib.aws import AwsClients
from drlib.emulator.extensions.cfn_resources_rds import as_bool, cluster_kwargs, instance_kwargs
from tests.emulator.cfn_support import create_stack, outputs


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("true", True), ("True", True), ("false", False), (False, False), (None, None),
])
def test_cloudformation_booleans(value: object, expected: bool | None) -> None:
    """CloudFormation booleans arrive as bools or strings; both read the same."""
    assert as_bool(value) is expected


def test_cluster_properties_map_to_create_db_cluster_arguments() -> None:
    """Each DBCluster property lands on the create_db_cluster argument of the same meaning."""
    kwargs = cluster_kwargs("c1", {
        "Engine": "aurora-postgresql", "StorageEncrypted": "true", "KmsKeyId": "key",
        "DeletionProtection": False, "BackupRetentionPeriod": "7", "Port": "5432",
        "EnableIAMDatabaseAuthentication": True, "DBSubnetGroupName": "sng",
        "VpcSecurityGroupIds": ["sg-1"], "GlobalClusterIdentifier": "g",
        "Tags": [{"Key": "a", "Value": 1}]})
    assert kwargs == {
        "db_cluster_identifier": "c1", "engine": "aurora-postgresql", "storage_encrypted": True,
        "kms_key_id": "key", "deletion_protection": False, "backup_retention_period": 7,
        "port": 5432, "enable_iam_database_authentication": True, "db_subnet_group_name": "sng",
        "vpc_security_group_ids": ["sg-1"], "global_cluster_identifier": "g",
        "tags": [{"Key": "a", "Value": "1"}]}


def test_clustered_instance_leaves_storage_to_the_cluster() -> None:
    """An instance in a cluster passes no storage or credentials of its own."""
    kwargs = instance_kwargs("i1", {"DBClusterIdentifier": "C1", "Engine": "aurora-postgresql",
                                    "DBInstanceClass": "db.r6g.large", "AllocatedStorage": "20",
                                    "MasterUsername": "x", "MonitoringInterval": "60"})
    assert kwargs["db_cluster_identifier"] == "c1"
    assert kwargs["monitoring_interval"] == 60
    assert "allocated_storage" not in kwargs
    assert "master_username" not in kwargs


PRIMARY = """
    Resources:
      Secret:
        Type: AWS::SecretsManager::Secret
        Properties:
          Name: aurora-master
          GenerateSecretString:
            SecretStringTemplate: '{"username": "dbadmin"}'
            GenerateStringKey: password
            PasswordLength: 24
            ExcludeCharacters: '"@/\\'
      Global:
        Type: AWS::RDS::GlobalCluster
        Properties:
          GlobalClusterIdentifier: dr-global
          Engine: aurora-postgresql
          EngineVersion: "15.4"
          StorageEncrypted: true
      Cluster:
        Type: AWS::RDS::DBCluster
        Properties:
          DBClusterIdentifier: dr-primary
          Engine: aurora-postgresql
          EngineVersion: "15.4"
          GlobalClusterIdentifier: !Ref Global
          MasterUsername: !Sub "{{resolve:secretsmanager:${Secret}:SecretString:username}}"
          MasterUserPassword: !Sub "{{resolve:secretsmanager:${Secret}:SecretString:password}}"
          StorageEncrypted: true
          KmsKeyId: arn:aws:kms:us-east-1:123456789012:key/primary
          DeletionProtection: false
          BackupRetentionPeriod: 14
          EnableIAMDatabaseAuthentication: true
          Tags: [{Key: DRRole, Value: primary}]
      Writer:
        Type: AWS::RDS::DBInstance
        Properties:
          DBInstanceIdentifier: dr-primary-a
          DBClusterIdentifier: !Ref Cluster
          Engine: aurora-postgresql
          DBInstanceClass: db.r6g.large
          AvailabilityZone: us-east-1b
          MonitoringInterval: 60
          MonitoringRoleArn: arn:aws:iam::123456789012:role/monitoring
          EnablePerformanceInsights: true
    Outputs:
      Endpoint: {Value: !GetAtt Cluster.Endpoint.Address}
      ReaderEndpoint: {Value: !GetAtt Cluster.ReadEndpoint.Address}
      Port: {Value: !GetAtt Cluster.Endpoint.Port}
      Arn: {Value: !GetAtt Cluster.DBClusterArn}
      GlobalId: {Value: !Ref Global}
"""

SECONDARY = """
    Resources:
      Cluster:
        Type: AWS::RDS::DBCluster
        Properties:
          DBClusterIdentifier: dr-secondary
          Engine: aurora-postgresql
          EngineVersion: "15.4"
          GlobalClusterIdentifier: dr-global
          StorageEncrypted: true
          KmsKeyId: arn:aws:kms:us-west-2:123456789012:key/secondary
      Reader:
        Type: AWS::RDS::DBInstance
        Properties:
          DBInstanceIdentifier: dr-secondary-a
          DBClusterIdentifier: !Ref Cluster
          Engine: aurora-postgresql
          DBInstanceClass: db.r6g.large
    Outputs:
      Arn: {Value: !GetAtt Cluster.DBClusterArn}
"""


@pytest.mark.slow
def test_global_database_across_two_regions(aws: AwsClients) -> None:
    """The primary stack makes the global cluster and writer; the secondary stack's cluster,
    without credentials, joins it as the secondary; describe_* show their configuration."""
    primary = create_stack(aws, "db-primary", PRIMARY, region="us-east-1")
    assert primary["StackStatus"] == "CREATE_COMPLETE"
    secondary = create_stack(aws, "db-secondary", SECONDARY, region="us-west-2")
    assert secondary["StackStatus"] == "CREATE_COMPLETE"

    east = aws.client("rds", "us-east-1")
    global_cluster = east.describe_global_clusters(
        GlobalClusterIdentifier="dr-global")["GlobalClusters"][0]
    assert outputs(primary)["GlobalId"] == "dr-global"
    assert global_cluster["Engine"] == "aurora-postgresql"
    assert global_cluster["StorageEncrypted"] is True
    members = {m["DBClusterArn"]: m["IsWriter"] for m in global_cluster["GlobalClusterMembers"]}
    assert members == {outputs(primary)["Arn"]: True, outputs(secondary)["Arn"]: False}

    cluster = east.describe_db_clusters(DBClusterIdentifier="dr-primary")["DBClusters"][0]
    assert cluster["Endpoint"] == outputs(primary)["Endpoint"]
    assert cluster["ReaderEndpoint"] == outputs(primary)["ReaderEndpoint"]
    assert str(cluster["Port"]) == outputs(primary)["Port"]
    assert cluster["StorageEncrypted"] is True
    assert cluster["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/primary"
    assert cluster["DeletionProtection"] is False
    assert cluster["BackupRetentionPeriod"] == 14
    assert cluster["IAMDatabaseAuthenticationEnabled"] is True
    assert cluster["MasterUsername"] == "dbadmin"
    assert {"Key": "DRRole", "Value": "primary"} in cluster["TagList"]

    writer = east.describe_db_instances(DBInstanceIdentifier="dr-primary-a")["DBInstances"][0]
    assert writer["DBClusterIdentifier"] == "dr-primary"
    assert writer["Engine"] == "aurora-postgresql"
    assert writer["AvailabilityZone"] == "us-east-1b"
    assert writer["MonitoringInterval"] == 60
    assert writer["MonitoringRoleArn"] == "arn:aws:iam::123456789012:role/monitoring"
    assert writer["PerformanceInsightsEnabled"] is True
    assert writer["PerformanceInsightsRetentionPeriod"] == 7

    west = aws.client("rds", "us-west-2")
    replica = west.describe_db_clusters(DBClusterIdentifier="dr-secondary")["DBClusters"][0]
    assert (cluster["Status"], replica["Status"]) == ("available", "available")
    assert replica["KmsKeyId"] == "arn:aws:kms:us-west-2:123456789012:key/secondary"
    reader = west.describe_db_instances(DBInstanceIdentifier="dr-secondary-a")["DBInstances"][0]
    assert reader["DBClusterIdentifier"] == "dr-secondary"


@pytest.mark.slow
def test_deleting_the_stacks_removes_clusters_and_global_cluster(aws: AwsClients) -> None:
    """Deleting the secondary then the primary stack leaves no cluster, instance or global
    cluster."""
    create_stack(aws, "db-primary", PRIMARY, region="us-east-1")
    create_stack(aws, "db-secondary", SECONDARY, region="us-west-2")
    aws.client("cloudformation", "us-west-2").delete_stack(StackName="db-secondary")
    aws.client("cloudformation", "us-east-1").delete_stack(StackName="db-primary")
    for region in ("us-east-1", "us-west-2"):
        rds = aws.client("rds", region)
        assert rds.describe_db_clusters()["DBClusters"] == []
        assert rds.describe_db_instances()["DBInstances"] == []
    assert aws.client("rds", "us-east-1").describe_global_clusters()["GlobalClusters"] == []
    summaries = aws.client("cloudformation", "us-east-1").list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in summaries] == ["DELETE_COMPLETE"]


@pytest.mark.slow
def test_deletion_protection_keeps_the_cluster(aws: AwsClients) -> None:
    """A cluster with DeletionProtection cannot be deleted: the stack ends DELETE_FAILED."""
    template = """
        Resources:
          Cluster:
            Type: AWS::RDS::DBCluster
            Properties:
              DBClusterIdentifier: protected
              Engine: aurora-postgresql
              MasterUsername: dbadmin
              MasterUserPassword: not-a-real-password
              DeletionProtection: true
    """
    create_stack(aws, "protected", template)
    cloudformation = aws.client("cloudformation", "us-east-1")
    cloudformation.delete_stack(StackName="protected")
    assert cloudformation.describe_stacks(
        StackName="protected")["Stacks"][0]["StackStatus"] == "DELETE_FAILED"
    assert aws.client("rds", "us-east-1").describe_db_clusters(
        DBClusterIdentifier="protected")["DBClusters"][0]["DeletionProtection"] is True


@pytest.mark.slow
def test_cluster_parameter_group(aws: AwsClients) -> None:
    """A DB cluster parameter group keeps its family, description and parameters."""
    template = """
        Resources:
          Params:
            Type: AWS::RDS::DBClusterParameterGroup
            Properties:
              DBClusterParameterGroupName: dr-params
              Description: dr cluster parameters
              Family: aurora-postgresql15
              Parameters: {rds.force_ssl: "1"}
    """
    create_stack(aws, "params", template)
    rds = aws.client("rds", "us-east-1")
    group = rds.describe_db_cluster_parameter_groups(
        DBClusterParameterGroupName="dr-params")["DBClusterParameterGroups"][0]
    assert group["DBParameterGroupFamily"] == "aurora-postgresql15"
    assert group["Description"] == "dr cluster parameters"
    parameters = rds.describe_db_cluster_parameters(
        DBClusterParameterGroupName="dr-params")["Parameters"]
    assert {"rds.force_ssl": "1"}.items() <= {
        p["ParameterName"]: p.get("ParameterValue") for p in parameters}.items()


@pytest.mark.slow
def test_snapshot_deletion_policy_leaves_a_final_snapshot(aws: AwsClients) -> None:
    """A cluster with DeletionPolicy: Snapshot is deleted with its stack, leaving a manual
    cluster snapshot of it."""
    template = """
        Resources:
          Cluster:
            Type: AWS::RDS::DBCluster
            DeletionPolicy: Snapshot
            Properties:
              DBClusterIdentifier: snapped
              Engine: aurora-postgresql
              MasterUsername: dbadmin
              MasterUserPassword: not-a-real-password
    """
    create_stack(aws, "snapped", template)
    aws.client("cloudformation", "us-east-1").delete_stack(StackName="snapped")
    rds = aws.client("rds", "us-east-1")
    assert rds.describe_db_clusters()["DBClusters"] == []
    snapshots = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert [s["DBClusterIdentifier"] for s in snapshots] == ["snapped"]
    assert snapshots[0]["DBClusterSnapshotIdentifier"].startswith("snapped-final-")


@pytest.mark.slow
def test_other_stacks_go_on_while_an_aurora_server_is_made(
        aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stack operations change resources one at a time, but while the Aurora stand-in copies and
    starts a PostgreSQL server (most of a cluster's creation) another stack is created; the
    cluster's stack completes afterwards, its master user made."""
    import threading
    import time

    from drlib.emulator.extensions import aurora

    making, go_on = threading.Event(), threading.Event()
    original = aurora._start_server

    def held_start(*args: object, **kwargs: object) -> object:
        making.set()
        go_on.wait(60)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(aurora, "_start_server", held_start)
    cluster = """
        Resources:
          Cluster:
            Type: AWS::RDS::DBCluster
            Properties:
              DBClusterIdentifier: made-aside
              Engine: aurora-postgresql
              MasterUsername: dbadmin
              MasterUserPassword: not-a-real-password
    """
    results: dict[str, str] = {}

    def create_cluster_stack() -> None:
        results["cluster"] = create_stack(aws, "made-aside", cluster)["StackStatus"]

    thread = threading.Thread(target=create_cluster_stack)
    thread.start()
    try:
        assert making.wait(30)
        began = time.monotonic()
        other = create_stack(aws, "meanwhile", """
            Resources:
              Topic:
                Type: AWS::SNS::Topic
        """)
        assert other["StackStatus"] == "CREATE_COMPLETE"
        assert time.monotonic() - began < 20  # not held until the server's making went on
        assert "cluster" not in results  # its server is still being made
    finally:
        go_on.set()
        thread.join(60)
    assert results == {"cluster": "CREATE_COMPLETE"}
    assert aws.client("rds", "us-east-1").describe_db_clusters(
        DBClusterIdentifier="made-aside")["DBClusters"][0]["MasterUsername"] == "dbadmin"
