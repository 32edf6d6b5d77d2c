"""Secrets, alarms, KMS keys, SSM documents, security-group rules, IAM roles, SNS, scaling and
Backup through CloudFormation on the emulator, read back through each service's API."""

from __future__ import annotations

import json
import string

import pytest

from drlib.aws import AwsClients
from tests.emulator.cfn_support import create_stack, outputs, physical_ids

SECRETS = """
    Resources:
      Generated:
        Type: AWS::SecretsManager::Secret
        Properties:
          Name: dr/generated
          Description: master credentials
          KmsKeyId: alias/dr
          GenerateSecretString:
            SecretStringTemplate: '{"username": "dbadmin"}'
            GenerateStringKey: password
            PasswordLength: 30
            ExcludeCharacters: '"@/\\'
            ExcludePunctuation: true
          Tags: [{Key: DRRole, Value: primary}]
      Plain:
        Type: AWS::SecretsManager::Secret
        Properties:
          Name: dr/plain
          SecretString: hello
    Outputs:
      Ref: {Value: !Ref Generated}
"""


@pytest.mark.slow
def test_secrets_are_created_with_generated_or_given_values(aws: AwsClients) -> None:
    """GenerateSecretString fills the template's key with a password of the declared length
    and characters; Ref is the ARN; KmsKeyId, description and tags are kept."""
    stack = create_stack(aws, "secrets", SECRETS)
    secrets = aws.client("secretsmanager", "us-east-1")
    described = secrets.describe_secret(SecretId="dr/generated")
    assert outputs(stack)["Ref"] == described["ARN"]
    assert described["KmsKeyId"] == "alias/dr"
    assert described["Description"] == "master credentials"
    assert {"Key": "DRRole", "Value": "primary"} in described["Tags"]
    value = json.loads(secrets.get_secret_value(SecretId="dr/generated")["SecretString"])
    assert value["username"] == "dbadmin"
    assert len(value["password"]) == 30
    assert not set(value["password"]) & set(string.punctuation)
    assert secrets.get_secret_value(SecretId="dr/plain")["SecretString"] == "hello"


ALARMS = """
    Resources:
      Topic:
        Type: AWS::SNS::Topic
        Properties: {TopicName: dr-alerts}
      Lag:
        Type: AWS::CloudWatch::Alarm
        Properties:
          AlarmName: dr-aurora-global-lag
          AlarmDescription: replication lag too high
          Namespace: AWS/RDS
          MetricName: AuroraGlobalDBReplicationLag
          Dimensions: [{Name: DBClusterIdentifier, Value: dr-secondary}]
          Statistic: Maximum
          Period: 60
          EvaluationPeriods: 3
          DatapointsToAlarm: 2
          Threshold: 1000
          ComparisonOperator: GreaterThanThreshold
          TreatMissingData: breaching
          AlarmActions: [!Ref Topic]
          OKActions: [!Ref Topic]
      Errors:
        Type: AWS::CloudWatch::Alarm
        Properties:
          AlarmName: dr-error-rate
          ComparisonOperator: GreaterThanThreshold
          EvaluationPeriods: 1
          Threshold: 5
          Metrics:
            - Id: rate
              Expression: "errors / requests * 100"
              ReturnData: true
            - Id: errors
              ReturnData: false
              MetricStat:
                Metric: {Namespace: AWS/ApplicationELB, MetricName: HTTPCode_Target_5XX_Count}
                Period: 60
                Stat: Sum
            - Id: requests
              ReturnData: false
              MetricStat:
                Metric: {Namespace: AWS/ApplicationELB, MetricName: RequestCount}
                Period: 60
                Stat: Sum
"""


@pytest.mark.slow
def test_alarms_are_visible_with_their_configuration(aws: AwsClients) -> None:
    """describe_alarms shows each alarm's metric, dimensions, threshold and actions."""
    create_stack(aws, "alarms", ALARMS)
    cloudwatch = aws.client("cloudwatch", "us-east-1")
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    lag = alarms["dr-aurora-global-lag"]
    topic = "arn:aws:sns:us-east-1:123456789012:dr-alerts"
    assert lag["Dimensions"] == [{"Name": "DBClusterIdentifier", "Value": "dr-secondary"}]
    assert (lag["Threshold"], lag["ComparisonOperator"], lag["EvaluationPeriods"],
            lag["DatapointsToAlarm"], lag["Period"], lag["Statistic"]) == (
        1000.0, "GreaterThanThreshold", 3, 2, 60, "Maximum")
    assert lag["AlarmActions"] == [topic]
    assert lag["OKActions"] == [topic]
    assert lag["TreatMissingData"] == "breaching"
    assert lag["AlarmDescription"] == "replication lag too high"
    metrics = {m["Id"]: m for m in alarms["dr-error-rate"]["Metrics"]}
    assert metrics["rate"]["Expression"] == "errors / requests * 100"
    assert metrics["errors"]["MetricStat"]["Metric"]["MetricName"] == "HTTPCode_Target_5XX_Count"
    aws.client("cloudformation", "us-east-1").delete_stack(StackName="alarms")
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []


KEYS_AND_DOCUMENTS = """
    Resources:
      Key:
        Type: AWS::KMS::Key
        Properties:
          Description: dr data key
          EnableKeyRotation: true
          KeyPolicy:
            Version: "2012-10-17"
            Statement:
              - Sid: root
                Effect: Allow
                Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}
                Action: "kms:*"
                Resource: "*"
          Tags: [{Key: DRRole, Value: primary}]
      Alias:
        Type: AWS::KMS::Alias
        Properties: {AliasName: alias/dr-data, TargetKeyId: !Ref Key}
      Failover:
        Type: AWS::SSM::Document
        Properties:
          Name: dr-failover
          DocumentType: Automation
          Content:
            schemaVersion: "0.3"
            description: Fail the global database over
            parameters:
              GlobalClusterIdentifier: {type: String}
            mainSteps:
              - name: failover
                action: aws:executeAwsApi
                inputs: {Service: rds, Api: FailoverGlobalCluster}
"""


@pytest.mark.slow
def test_key_policy_and_document_content_given_as_maps(aws: AwsClients) -> None:
    """A KeyPolicy object and an Automation document's Content map are stored as documents."""
    create_stack(aws, "keys", KEYS_AND_DOCUMENTS)
    kms = aws.client("kms", "us-east-1")
    key_id = kms.describe_key(KeyId="alias/dr-data")["KeyMetadata"]["KeyId"]
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert {"TagKey": "DRRole", "TagValue": "primary"} in kms.list_resource_tags(
        KeyId=key_id)["Tags"]
    document = aws.client("ssm", "us-east-1").get_document(Name="dr-failover")
    assert document["DocumentType"] == "Automation"
    assert json.loads(document["Content"])["mainSteps"][0]["name"] == "failover"


NETWORK_RULES = """
    Resources:
      Vpc:
        Type: AWS::EC2::VPC
        Properties: {CidrBlock: 10.50.0.0/16}
      App:
        Type: AWS::EC2::SecurityGroup
        Properties:
          GroupDescription: app tier
          VpcId: !Ref Vpc
          SecurityGroupIngress:
            - {IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 10.50.0.0/16,
               Description: https from the vpc}
          SecurityGroupEgress:
            - {IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 0.0.0.0/0,
               Description: https out}
      Db:
        Type: AWS::EC2::SecurityGroup
        Properties: {GroupDescription: database, VpcId: !Ref Vpc}
      DbFromApp:
        Type: AWS::EC2::SecurityGroupIngress
        Properties:
          GroupId: !Ref Db
          IpProtocol: tcp
          FromPort: 5432
          ToPort: 5432
          SourceSecurityGroupId: !Ref App
          Description: postgres from the app tier
      AppToDb:
        Type: AWS::EC2::SecurityGroupEgress
        Properties:
          GroupId: !Ref App
          IpProtocol: tcp
          FromPort: 5432
          ToPort: 5432
          DestinationSecurityGroupId: !Ref Db
          Description: postgres to the database
"""


@pytest.mark.slow
def test_security_group_rules_keep_their_descriptions(aws: AwsClients) -> None:
    """Ingress and egress rules, inline or separate, keep Description; declared egress
    replaces the default allow-all rule."""
    create_stack(aws, "rules", NETWORK_RULES)
    ids = physical_ids(aws, "rules")
    groups = {g["GroupId"]: g for g in aws.client("ec2", "us-east-1").describe_security_groups(
        GroupIds=[ids["App"], ids["Db"]])["SecurityGroups"]}
    app, db = groups[ids["App"]], groups[ids["Db"]]
    assert app["IpPermissions"][0]["IpRanges"] == [
        {"CidrIp": "10.50.0.0/16", "Description": "https from the vpc"}]
    egress = {(p.get("FromPort"), p["IpProtocol"]): p for p in app["IpPermissionsEgress"]}
    assert set(egress) == {(443, "tcp"), (5432, "tcp")}
    assert egress[(443, "tcp")]["IpRanges"] == [{"CidrIp": "0.0.0.0/0",
                                                 "Description": "https out"}]
    assert egress[(5432, "tcp")]["UserIdGroupPairs"][0]["Description"] == \
        "postgres to the database"
    pair = db["IpPermissions"][0]["UserIdGroupPairs"][0]
    assert (pair["GroupId"], pair["Description"]) == (ids["App"], "postgres from the app tier")


ROLES = """
    Resources:
      Monitoring:
        Type: AWS::IAM::Role
        Properties:
          AssumeRolePolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Principal: {Service: monitoring.rds.amazonaws.com},
                 Action: "sts:AssumeRole"}
          ManagedPolicyArns:
            - arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole
          Policies:
            - PolicyName: inline
              PolicyDocument:
                Version: "2012-10-17"
                Statement: [{Effect: Allow, Action: "logs:*", Resource: "*"}]
      Profile:
        Type: AWS::IAM::InstanceProfile
        Properties: {Roles: [!Ref Monitoring]}
"""


@pytest.mark.slow
def test_role_gets_its_aws_managed_policies(aws: AwsClients) -> None:
    """An AWS-managed policy in ManagedPolicyArns is attached; deleting the stack removes the
    role and its instance profile."""
    create_stack(aws, "roles", ROLES)
    iam = aws.client("iam", "us-east-1")
    role_name = physical_ids(aws, "roles")["Monitoring"]
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [
        "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"]
    assert iam.list_instance_profiles_for_role(RoleName=role_name)["InstanceProfiles"]
    aws.client("cloudformation", "us-east-1").delete_stack(StackName="roles")
    assert iam.list_roles()["Roles"] == []
    assert iam.list_instance_profiles()["InstanceProfiles"] == []


NOTIFICATIONS_AND_SCALING = """
    Resources:
      Topic:
        Type: AWS::SNS::Topic
        Properties: {TopicName: dr-notify}
      Policy:
        Type: AWS::SNS::TopicPolicy
        Properties:
          Topics: [!Ref Topic]
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {Sid: events, Effect: Allow, Principal: {Service: events.amazonaws.com},
                 Action: "sns:Publish", Resource: !Ref Topic}
      Queue:
        Type: AWS::SQS::Queue
        Properties: {QueueName: dr-notify-queue}
      Subscription:
        Type: AWS::SNS::Subscription
        Properties:
          TopicArn: !Ref Topic
          Protocol: sqs
          Endpoint: !GetAtt Queue.Arn
          RawMessageDelivery: true
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          TableName: scaled
          AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
          KeySchema: [{AttributeName: pk, KeyType: HASH}]
          ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 5}
      ReadTarget:
        Type: AWS::ApplicationAutoScaling::ScalableTarget
        DependsOn: Table
        Properties:
          ServiceNamespace: dynamodb
          ResourceId: table/scaled
          ScalableDimension: dynamodb:table:ReadCapacityUnits
          MinCapacity: 5
          MaxCapacity: 50
    Outputs:
      Target: {Value: !Ref ReadTarget}
"""


@pytest.mark.slow
def test_subscriptions_topic_policies_and_scalable_targets(aws: AwsClients) -> None:
    """The subscription (with its attributes), the topic policy and the scalable target are
    visible through SNS and Application Auto Scaling."""
    stack = create_stack(aws, "notify", NOTIFICATIONS_AND_SCALING)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    sns = aws.client("sns", "us-east-1")
    topic = "arn:aws:sns:us-east-1:123456789012:dr-notify"
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Endpoint"] for s in subscriptions] == [
        "arn:aws:sqs:us-east-1:123456789012:dr-notify-queue"]
    attributes = sns.get_subscription_attributes(
        SubscriptionArn=subscriptions[0]["SubscriptionArn"])["Attributes"]
    assert attributes["RawMessageDelivery"] == "true"
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert policy["Statement"][0]["Sid"] == "events"
    targets = aws.client("application-autoscaling", "us-east-1").describe_scalable_targets(
        ServiceNamespace="dynamodb")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        ("table/scaled", 5, 50)]
    assert outputs(stack)["Target"] == "table/scaled|dynamodb:table:ReadCapacityUnits|dynamodb"
    aws.client("cloudformation", "us-east-1").delete_stack(StackName="notify")
    assert sns.list_subscriptions()["Subscriptions"] == []


BACKUP = """
    Resources:
      Vault:
        Type: AWS::Backup::BackupVault
        Properties:
          BackupVaultName: dr-vault
          EncryptionKeyArn: arn:aws:kms:us-east-1:123456789012:key/vault
          LockConfiguration: {MinRetentionDays: 7, MaxRetentionDays: 35}
      Plan:
        Type: AWS::Backup::BackupPlan
        Properties:
          BackupPlan:
            BackupPlanName: dr-daily
            BackupPlanRule:
              - RuleName: daily
                TargetBackupVault: !Ref Vault
                ScheduleExpression: cron(0 5 * * ? *)
                Lifecycle: {DeleteAfterDays: 35}
                CopyActions:
                  - DestinationBackupVaultArn: arn:aws:backup:us-west-2:123456789012:backup-vault:dr
                    Lifecycle: {DeleteAfterDays: 35}
      Selection:
        Type: AWS::Backup::BackupSelection
        Properties:
          BackupPlanId: !Ref Plan
          BackupSelection:
            SelectionName: dr-data
            IamRoleArn: arn:aws:iam::123456789012:role/backup
            Resources: ["arn:aws:dynamodb:us-east-1:123456789012:table/dr-sessions"]
    Outputs:
      PlanId: {Value: !Ref Plan}
      SelectionId: {Value: !Ref Selection}
      VaultArn: {Value: !GetAtt Vault.BackupVaultArn}
"""


@pytest.mark.slow
def test_backup_vault_plan_and_selection(aws: AwsClients) -> None:
    """The vault, the plan with its rules and copy actions, and the selection are visible
    through the Backup API, and deleting the stack removes them."""
    stack = create_stack(aws, "backup", BACKUP)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    backup = aws.client("backup", "us-east-1")
    vaults = {v["BackupVaultName"]: v for v in backup.list_backup_vaults()["BackupVaultList"]}
    assert vaults["dr-vault"]["EncryptionKeyArn"] == "arn:aws:kms:us-east-1:123456789012:key/vault"
    assert vaults["dr-vault"]["MinRetentionDays"] == 7
    assert outputs(stack)["VaultArn"] == vaults["dr-vault"]["BackupVaultArn"]
    plan_id, selection_id = outputs(stack)["PlanId"], outputs(stack)["SelectionId"]
    plan = backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"]
    rule = plan["Rules"][0]
    assert (plan["BackupPlanName"], rule["TargetBackupVaultName"]) == ("dr-daily", "dr-vault")
    assert rule["Lifecycle"] == {"DeleteAfterDays": 35}
    assert rule["CopyActions"][0]["DestinationBackupVaultArn"].endswith("backup-vault:dr")
    selection = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=selection_id)
    assert selection["BackupSelection"]["SelectionName"] == "dr-data"
    assert selection["BackupSelection"]["Resources"] == [
        "arn:aws:dynamodb:us-east-1:123456789012:table/dr-sessions"]
    listed = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    assert [s["SelectionId"] for s in listed] == [selection_id]
    aws.client("cloudformation", "us-east-1").delete_stack(StackName="backup")
    assert backup.list_backup_vaults()["BackupVaultList"] == []
    assert backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"] == []


REPLICATED_SECRET = """
    Resources:
      Secret:
        Type: AWS::SecretsManager::Secret
        Properties:
          Name: replicated-secret
          SecretString: '{"username": "u", "password": "p"}'
          ReplicaRegions: [{Region: us-west-2}]
"""


@pytest.mark.slow
def test_secret_with_replicas_is_deleted_with_its_stack(aws: AwsClients) -> None:
    """Deleting the stack removes the secret's replica regions first, then the secret, as
    CloudFormation does (Secrets Manager refuses to delete a secret that has replicas)."""
    create_stack(aws, "replicated", REPLICATED_SECRET)
    west = aws.client("secretsmanager", "us-west-2")
    assert west.describe_secret(SecretId="replicated-secret")["Name"] == "replicated-secret"
    cloudformation = aws.client("cloudformation", "us-east-1")
    cloudformation.delete_stack(StackName="replicated")
    assert {s["StackStatus"] for s in cloudformation.list_stacks()["StackSummaries"]} == {
        "DELETE_COMPLETE"}
    names = [s["Name"] for s in aws.client("secretsmanager", "us-east-1").list_secrets()[
        "SecretList"]]
    assert "replicated-secret" not in names


def test_an_aws_managed_policy_read_alone_is_the_catalogue_s_entry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A policy read from its key alone is the whole catalogue's entry for it; a name the quick
    way does not find has the whole catalogue read, and an unknown one is None."""
    import json

    from moto.iam.aws_managed_policies import aws_managed_policies_data

    from drlib.emulator.extensions import cfn_resources_iam

    whole = json.loads(aws_managed_policies_data)
    monkeypatch.setattr(cfn_resources_iam, "_aws_managed_policies", {})
    monkeypatch.setattr(cfn_resources_iam, "_whole_catalogue_read", [False])
    for name in ("AWSLambdaBasicExecutionRole", "AmazonSSMManagedInstanceCore",
                 sorted(whole)[0], sorted(whole)[-1]):
        assert cfn_resources_iam.aws_managed_policy(name) == whole[name]
    assert cfn_resources_iam._whole_catalogue_read == [False]
    assert cfn_resources_iam.aws_managed_policy("NoSuchPolicyAtAll") is None
    assert cfn_resources_iam._whole_catalogue_read == [True]
    assert cfn_resources_iam.aws_managed_policy("ReadOnlyAccess") == whole["ReadOnlyAccess"]
