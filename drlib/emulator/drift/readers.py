"""The actual properties of a stack resource, read as CloudFormation's read handlers read them.

Each reader calls the emulator's own AWS APIs (``Describe*``/``Get*`` in the resource's region,
through boto3 against this emulator's endpoint, as the read handlers call AWS) and returns the
resource's properties in its CloudFormation shape, or ``None`` when the resource is gone
(``DELETED``). A property a reader does not return is one the emulator does not compare (see
:func:`drlib.emulator.drift.compare.compare_properties`); a property it returns as ``None`` is
absent from the resource. A resource type without a reader is ``NOT_CHECKED``.

Properties left out on purpose:

- ``AWS::RDS::DBCluster`` ``Port``: the emulator serves each Aurora cluster on a free loopback
  port, not the requested one (README, the emulator table), so it cannot be compared;
- properties moto keeps but does not report, or does not apply from a template (an Auto Scaling
  group's ``MetricsCollection``; a bucket's ``OwnershipControls``, ``BucketKeyEnabled``,
  lifecycle and replication rules; the description of a security-group rule whose peer is a
  prefix list), and a Lambda function's ``Code`` (which CloudFormation does not compare either).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError


@dataclass
class Resource:
    """What a reader knows of the resource it reads."""

    resource_type: str
    logical_id: str
    physical_id: str
    region: str
    account_id: str
    expected: dict[str, Any]
    client: Callable[[str, str], Any]
    siblings: Callable[[str], list[dict[str, Any]]] = field(default=lambda _type: [])
    """The expected properties of the stack's other resources of a type (attachments)."""

    def api(self, service: str, region: str | None = None) -> Any:
        return self.client(service, region or self.region)


Reader = Callable[[Resource], "dict[str, Any] | None"]
READERS: dict[str, Reader] = {}


def reads(*resource_types: str) -> Callable[[Reader], Reader]:
    def register(reader: Reader) -> Reader:
        for resource_type in resource_types:
            READERS[resource_type] = reader
        return reader
    return register


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def gone_on(call: Callable[[], Any], *codes: str) -> Any:
    """``call()``, or None when it fails with one of ``codes`` (the resource does not exist)."""
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in codes:
            return None
        raise


def tags(tag_list: Iterable[dict[str, Any]] | None, *extra: str) -> list[dict[str, Any]]:
    """Tags without CloudFormation's and AWS's own (``aws:`` prefix)."""
    return [{"Key": t["Key"], "Value": t.get("Value", ""), **{k: t[k] for k in extra if k in t}}
            for t in tag_list or [] if not str(t.get("Key", "")).startswith("aws:")]


def policy_document(value: Any) -> Any:
    """A policy document as returned by IAM (URL-encoded JSON) or others (JSON text); moto
    answers some inline role policies as Python's text of a dict, read here as well."""
    if isinstance(value, str):
        try:
            return json.loads(unquote(value))
        except ValueError:
            pass
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


# --- EC2 -----------------------------------------------------------------------------------------

def _flat_rules(permissions: list[dict[str, Any]], egress: bool) -> list[dict[str, Any]]:
    """An API's ``IpPermissions`` as CloudFormation's one-rule-per-source list."""
    peer = "Destination" if egress else "Source"
    rules: list[dict[str, Any]] = []
    for permission in permissions:
        base: dict[str, Any] = {"IpProtocol": str(permission.get("IpProtocol"))}
        if base["IpProtocol"] != "-1" and permission.get("FromPort") is not None:
            base.update(FromPort=permission["FromPort"], ToPort=permission["ToPort"])
        for entry in permission.get("IpRanges") or []:
            rules.append(_described({**base, "CidrIp": entry["CidrIp"]}, entry))
        for entry in permission.get("Ipv6Ranges") or []:
            rules.append(_described({**base, "CidrIpv6": entry["CidrIpv6"]}, entry))
        for entry in permission.get("PrefixListIds") or []:
            rules.append(_described({**base, f"{peer}PrefixListId": entry["PrefixListId"]},
                                    entry))
        for entry in permission.get("UserIdGroupPairs") or []:
            rules.append(_described({**base, f"{peer}SecurityGroupId": entry["GroupId"]},
                                    entry))
    return rules


def _described(rule: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    if entry.get("Description"):
        rule["Description"] = entry["Description"]
    return rule


def _adopt_prefix_list_descriptions(rules: list[dict[str, Any]],
                                    expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """moto drops the description of a rule whose peer is a prefix list: such a rule takes the
    description of the expected rule it otherwise equals (the description is not compared)."""
    for rule in rules:
        peer = next((k for k in rule if k.endswith("PrefixListId")), None)
        if peer is None or "Description" in rule:
            continue
        twin = next((e for e in expected if isinstance(e, dict) and "Description" in e
                     and _matches({k: v for k, v in e.items() if k != "Description"}, rule)),
                    None)
        if twin is not None:
            rule["Description"] = twin["Description"]
    return rules


def _security_group(resource: Resource, group_id: str) -> dict[str, Any] | None:
    answer = gone_on(lambda: resource.api("ec2").describe_security_groups(GroupIds=[group_id]),
                     "InvalidGroup.NotFound", "InvalidGroupId.Malformed")
    return answer["SecurityGroups"][0] if answer and answer["SecurityGroups"] else None


def _matches(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    from drlib.emulator.drift.compare import Schema, differences

    return not differences(expected, actual, Schema({}))


def _without_attached(rules: list[dict[str, Any]], attached: list[dict[str, Any]]
                      ) -> list[dict[str, Any]]:
    left = list(rules)
    for rule in attached:
        match = next((r for r in left if _matches(rule, r)), None)
        if match is not None:
            left.remove(match)
    return left


@reads("AWS::EC2::SecurityGroup")
def security_group(resource: Resource) -> dict[str, Any] | None:
    group = _security_group(resource, resource.physical_id)
    if group is None:
        return None

    def attached(resource_type: str) -> list[dict[str, Any]]:
        # Rules the stack's AWS::EC2::SecurityGroupIngress/Egress resources attach are theirs,
        # not the group's (CloudFormation analyses the template for attachments first).
        return [{k: v for k, v in p.items() if k != "GroupId"}
                for p in resource.siblings(resource_type)
                if str(p.get("GroupId")) == resource.physical_id]

    return {
        "GroupDescription": group.get("Description"),
        "GroupName": group.get("GroupName"),
        "VpcId": group.get("VpcId"),
        "SecurityGroupIngress": _without_attached(_adopt_prefix_list_descriptions(
            _flat_rules(group.get("IpPermissions") or [], egress=False),
            resource.expected.get("SecurityGroupIngress") or []),
            attached("AWS::EC2::SecurityGroupIngress")),
        "SecurityGroupEgress": _without_attached(_adopt_prefix_list_descriptions(
            _flat_rules(group.get("IpPermissionsEgress") or [], egress=True),
            resource.expected.get("SecurityGroupEgress") or []),
            attached("AWS::EC2::SecurityGroupEgress")),
        "Tags": tags(group.get("Tags")),
    }


def _attached_rule(resource: Resource, egress: bool) -> dict[str, Any] | None:
    group_id = str(resource.expected.get("GroupId") or "")
    group = _security_group(resource, group_id) if group_id else None
    if group is None:
        return None
    wanted = {k: v for k, v in resource.expected.items() if k != "GroupId"}
    key = "IpPermissionsEgress" if egress else "IpPermissions"
    rules = _adopt_prefix_list_descriptions(_flat_rules(group.get(key) or [], egress), [wanted])
    match = next((r for r in rules if _matches(wanted, r)), None)
    return None if match is None else {**match, "GroupId": group_id}


@reads("AWS::EC2::SecurityGroupIngress")
def security_group_ingress(resource: Resource) -> dict[str, Any] | None:
    return _attached_rule(resource, egress=False)


@reads("AWS::EC2::SecurityGroupEgress")
def security_group_egress(resource: Resource) -> dict[str, Any] | None:
    return _attached_rule(resource, egress=True)


@reads("AWS::EC2::VPC")
def vpc(resource: Resource) -> dict[str, Any] | None:
    ec2 = resource.api("ec2")
    answer = gone_on(lambda: ec2.describe_vpcs(VpcIds=[resource.physical_id]),
                     "InvalidVpcID.NotFound")
    if not answer or not answer["Vpcs"]:
        return None
    found = answer["Vpcs"][0]

    def attribute(name: str) -> Any:
        key = name[0].upper() + name[1:]
        return ec2.describe_vpc_attribute(VpcId=resource.physical_id,
                                          Attribute=name)[key]["Value"]

    return {"CidrBlock": found.get("CidrBlock"), "InstanceTenancy": found.get("InstanceTenancy"),
            "EnableDnsSupport": attribute("enableDnsSupport"),
            "EnableDnsHostnames": attribute("enableDnsHostnames"),
            "Tags": tags(found.get("Tags"))}


@reads("AWS::EC2::Subnet")
def subnet(resource: Resource) -> dict[str, Any] | None:
    answer = gone_on(lambda: resource.api("ec2").describe_subnets(
        SubnetIds=[resource.physical_id]), "InvalidSubnetID.NotFound")
    if not answer or not answer["Subnets"]:
        return None
    found = answer["Subnets"][0]
    return {"VpcId": found.get("VpcId"), "CidrBlock": found.get("CidrBlock"),
            "AvailabilityZone": found.get("AvailabilityZone"),
            "MapPublicIpOnLaunch": found.get("MapPublicIpOnLaunch"),
            "Tags": tags(found.get("Tags"))}


# --- S3 ------------------------------------------------------------------------------------------

@reads("AWS::S3::Bucket")
def bucket(resource: Resource) -> dict[str, Any] | None:
    s3 = resource.api("s3")
    name = resource.physical_id
    if gone_on(lambda: s3.head_bucket(Bucket=name), "404", "NoSuchBucket") is None:
        return None
    status = s3.get_bucket_versioning(Bucket=name).get("Status")
    encryption = gone_on(lambda: s3.get_bucket_encryption(Bucket=name),
                         "ServerSideEncryptionConfigurationNotFoundError")
    block = gone_on(lambda: s3.get_public_access_block(Bucket=name),
                    "NoSuchPublicAccessBlockConfiguration")
    tagging = gone_on(lambda: s3.get_bucket_tagging(Bucket=name), "NoSuchTagSet")
    lock = gone_on(lambda: s3.get_object_lock_configuration(Bucket=name),
                   "ObjectLockConfigurationNotFoundError")
    logging_enabled = s3.get_bucket_logging(Bucket=name).get("LoggingEnabled")
    lock_config = (lock or {}).get("ObjectLockConfiguration")
    return {
        "BucketName": name,
        "VersioningConfiguration": {"Status": status} if status else None,
        "BucketEncryption": _encryption(encryption, resource.expected) if encryption else None,
        "PublicAccessBlockConfiguration": (block or {}).get("PublicAccessBlockConfiguration"),
        "ObjectLockEnabled": (lock_config or {}).get("ObjectLockEnabled") == "Enabled",
        "ObjectLockConfiguration": lock_config,
        "LoggingConfiguration": {
            "DestinationBucketName": logging_enabled.get("TargetBucket"),
            "LogFilePrefix": logging_enabled.get("TargetPrefix")} if logging_enabled else None,
        "Tags": tags((tagging or {}).get("TagSet")),
    }


def _encryption(answer: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """``GetBucketEncryption`` in the template's shape. moto keeps no ``BucketKeyEnabled`` from
    a template, so that setting is taken as expected (not compared)."""
    wanted = ((expected.get("BucketEncryption") or {}).get(
        "ServerSideEncryptionConfiguration") or [])
    rules = []
    for index, rule in enumerate(answer["ServerSideEncryptionConfiguration"]["Rules"]):
        shaped: dict[str, Any] = {}
        if rule.get("ApplyServerSideEncryptionByDefault"):
            shaped["ServerSideEncryptionByDefault"] = rule["ApplyServerSideEncryptionByDefault"]
        twin = wanted[index] if index < len(wanted) and isinstance(wanted[index], dict) else {}
        if "BucketKeyEnabled" in twin:
            shaped["BucketKeyEnabled"] = twin["BucketKeyEnabled"]
        rules.append(shaped)
    return {"ServerSideEncryptionConfiguration": rules}


# --- Auto Scaling --------------------------------------------------------------------------------

@reads("AWS::AutoScaling::AutoScalingGroup")
def auto_scaling_group(resource: Resource) -> dict[str, Any] | None:
    groups = resource.api("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[resource.physical_id])["AutoScalingGroups"]
    if not groups:
        return None
    group = groups[0]
    zones = group.get("VPCZoneIdentifier") or ""
    return {
        "AutoScalingGroupName": group["AutoScalingGroupName"],
        "MinSize": str(group["MinSize"]), "MaxSize": str(group["MaxSize"]),
        "DesiredCapacity": str(group["DesiredCapacity"]),
        "VPCZoneIdentifier": [z for z in zones.split(",") if z] if zones else None,
        "AvailabilityZones": group.get("AvailabilityZones"),
        "TargetGroupARNs": group.get("TargetGroupARNs") or [],
        "HealthCheckType": group.get("HealthCheckType"),
        "HealthCheckGracePeriod": group.get("HealthCheckGracePeriod"),
        "DefaultCooldown": str(group.get("DefaultCooldown")),
        "LaunchTemplate": group.get("LaunchTemplate"),
        "TerminationPolicies": group.get("TerminationPolicies"),
        "Tags": tags(group.get("Tags"), "PropagateAtLaunch"),
    }


# --- RDS -----------------------------------------------------------------------------------------

@reads("AWS::RDS::GlobalCluster")
def global_cluster(resource: Resource) -> dict[str, Any] | None:
    answer = gone_on(lambda: resource.api("rds").describe_global_clusters(
        GlobalClusterIdentifier=resource.physical_id), "GlobalClusterNotFoundFault")
    if not answer or not answer["GlobalClusters"]:
        return None
    found = answer["GlobalClusters"][0]
    writer = next((m["DBClusterArn"] for m in found.get("GlobalClusterMembers") or []
                   if m.get("IsWriter")), None)
    # As the provider's read handler: SourceDBClusterIdentifier is the writer now (a template
    # that sets it drifts after a switchover; ours does not set it).
    return {"GlobalClusterIdentifier": found["GlobalClusterIdentifier"],
            "Engine": found.get("Engine"), "EngineVersion": found.get("EngineVersion"),
            "StorageEncrypted": found.get("StorageEncrypted"),
            "DeletionProtection": found.get("DeletionProtection"),
            "SourceDBClusterIdentifier": writer, "Tags": tags(found.get("TagList"))}


RDS_IDENTIFIERS = frozenset({"DBClusterIdentifier", "GlobalClusterIdentifier",
                             "DBInstanceIdentifier", "DBSubnetGroupName",
                             "DBClusterParameterGroupName", "DBParameterGroupName"})
"""RDS lower-cases identifiers; the provider compares them without case."""


@reads("AWS::RDS::DBCluster")
def db_cluster(resource: Resource) -> dict[str, Any] | None:
    answer = gone_on(lambda: resource.api("rds").describe_db_clusters(
        DBClusterIdentifier=resource.physical_id), "DBClusterNotFoundFault")
    if not answer or not answer["DBClusters"]:
        return None
    c = answer["DBClusters"][0]
    return {
        "DBClusterIdentifier": c["DBClusterIdentifier"], "Engine": c.get("Engine"),
        "EngineVersion": c.get("EngineVersion"), "EngineMode": c.get("EngineMode"),
        "GlobalClusterIdentifier": c.get("GlobalClusterIdentifier"),
        "MasterUsername": c.get("MasterUsername"), "DatabaseName": c.get("DatabaseName"),
        "DBSubnetGroupName": c.get("DBSubnetGroup"),
        "VpcSecurityGroupIds": [g["VpcSecurityGroupId"] for g in c.get("VpcSecurityGroups")
                                or []],
        "DBClusterParameterGroupName": c.get("DBClusterParameterGroup"),
        "StorageEncrypted": c.get("StorageEncrypted"),
        "BackupRetentionPeriod": c.get("BackupRetentionPeriod"),
        "PreferredBackupWindow": c.get("PreferredBackupWindow"),
        "PreferredMaintenanceWindow": c.get("PreferredMaintenanceWindow"),
        "CopyTagsToSnapshot": c.get("CopyTagsToSnapshot"),
        "DeletionProtection": c.get("DeletionProtection"),
        "EnableIAMDatabaseAuthentication": c.get("IAMDatabaseAuthenticationEnabled"),
        "EnableCloudwatchLogsExports": c.get("EnabledCloudwatchLogsExports") or [],
        "Tags": tags(c.get("TagList")),
    }


@reads("AWS::RDS::DBInstance")
def db_instance(resource: Resource) -> dict[str, Any] | None:
    answer = gone_on(lambda: resource.api("rds").describe_db_instances(
        DBInstanceIdentifier=resource.physical_id), "DBInstanceNotFound",
        "DBInstanceNotFoundFault")
    if not answer or not answer["DBInstances"]:
        return None
    i = answer["DBInstances"][0]
    return {
        "DBInstanceIdentifier": i["DBInstanceIdentifier"],
        "DBClusterIdentifier": i.get("DBClusterIdentifier"), "Engine": i.get("Engine"),
        "DBInstanceClass": i.get("DBInstanceClass"),
        "AvailabilityZone": i.get("AvailabilityZone"),
        "PubliclyAccessible": i.get("PubliclyAccessible"),
        "AutoMinorVersionUpgrade": i.get("AutoMinorVersionUpgrade"),
        "MonitoringInterval": i.get("MonitoringInterval"),
        "MonitoringRoleArn": i.get("MonitoringRoleArn"),
        "EnablePerformanceInsights": i.get("PerformanceInsightsEnabled"),
        "PerformanceInsightsRetentionPeriod": i.get("PerformanceInsightsRetentionPeriod"),
        "PromotionTier": i.get("PromotionTier"),
        "Tags": tags(i.get("TagList")),
    }


@reads("AWS::RDS::DBSubnetGroup")
def db_subnet_group(resource: Resource) -> dict[str, Any] | None:
    answer = gone_on(lambda: resource.api("rds").describe_db_subnet_groups(
        DBSubnetGroupName=resource.physical_id), "DBSubnetGroupNotFoundFault")
    if not answer or not answer["DBSubnetGroups"]:
        return None
    group = answer["DBSubnetGroups"][0]
    arn = group.get("DBSubnetGroupArn")
    tag_list = resource.api("rds").list_tags_for_resource(ResourceName=arn)["TagList"] \
        if arn else []
    return {"DBSubnetGroupDescription": group.get("DBSubnetGroupDescription"),
            "SubnetIds": [s["SubnetIdentifier"] for s in group.get("Subnets") or []],
            "Tags": tags(tag_list)}


@reads("AWS::RDS::DBClusterParameterGroup")
def db_cluster_parameter_group(resource: Resource) -> dict[str, Any] | None:
    rds = resource.api("rds")
    answer = gone_on(lambda: rds.describe_db_cluster_parameter_groups(
        DBClusterParameterGroupName=resource.physical_id), "DBParameterGroupNotFound",
        "DBParameterGroupNotFoundFault")
    if not answer or not answer["DBClusterParameterGroups"]:
        return None
    group = answer["DBClusterParameterGroups"][0]
    parameters = rds.describe_db_cluster_parameters(
        DBClusterParameterGroupName=resource.physical_id, Source="user")["Parameters"]
    return {"Description": group.get("Description"),
            "Family": group.get("DBParameterGroupFamily"),
            "Parameters": {p["ParameterName"]: p.get("ParameterValue") for p in parameters}}


# --- Logs, queues, topics ------------------------------------------------------------------------

@reads("AWS::Logs::LogGroup")
def log_group(resource: Resource) -> dict[str, Any] | None:
    logs = resource.api("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=resource.physical_id)["logGroups"]
    found = next((g for g in groups if g["logGroupName"] == resource.physical_id), None)
    if found is None:
        return None
    return {"LogGroupName": found["logGroupName"],
            "RetentionInDays": found.get("retentionInDays")}


@reads("AWS::SQS::Queue")
def queue(resource: Resource) -> dict[str, Any] | None:
    sqs = resource.api("sqs")
    answer = gone_on(lambda: sqs.get_queue_attributes(QueueUrl=resource.physical_id,
                                                      AttributeNames=["All"]),
                     "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
    if answer is None:
        return None
    attributes = answer.get("Attributes") or {}
    names = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
             "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "FifoQueue",
             "ContentBasedDeduplication", "SqsManagedSseEnabled")
    found: dict[str, Any] = {name: attributes.get(name) for name in names}
    found["QueueName"] = resource.physical_id.rstrip("/").rsplit("/", 1)[-1]
    if "RedrivePolicy" in attributes:
        found["RedrivePolicy"] = policy_document(attributes["RedrivePolicy"])
    else:
        found["RedrivePolicy"] = None
    return found


@reads("AWS::SNS::Topic")
def topic(resource: Resource) -> dict[str, Any] | None:
    sns = resource.api("sns")
    answer = gone_on(lambda: sns.get_topic_attributes(TopicArn=resource.physical_id),
                     "NotFound")
    if answer is None:
        return None
    attributes = answer.get("Attributes") or {}
    tag_list = sns.list_tags_for_resource(ResourceArn=resource.physical_id).get("Tags")
    return {"TopicName": resource.physical_id.rsplit(":", 1)[-1],
            "DisplayName": attributes.get("DisplayName") or None,
            "Tags": tags(tag_list)}


# --- DynamoDB ------------------------------------------------------------------------------------

@reads("AWS::DynamoDB::GlobalTable")
def global_table(resource: Resource) -> dict[str, Any] | None:
    dynamodb = resource.api("dynamodb")
    answer = gone_on(lambda: dynamodb.describe_table(TableName=resource.physical_id),
                     "ResourceNotFoundException")
    if answer is None:
        return None
    table = answer["Table"]
    regions = [resource.region] + [r["RegionName"] for r in table.get("Replicas") or []
                                   if r.get("RegionName") != resource.region]
    expected_replicas = {str(r.get("Region")): r for r in resource.expected.get("Replicas") or []
                         if isinstance(r, dict)}
    replicas = []
    for region in regions:
        replica: dict[str, Any] = {"Region": region}
        wanted = expected_replicas.get(region) or {}
        if "DeletionProtectionEnabled" in wanted:
            described = resource.api("dynamodb", region).describe_table(
                TableName=resource.physical_id)["Table"]
            replica["DeletionProtectionEnabled"] = described.get("DeletionProtectionEnabled",
                                                                 False)
        if "PointInTimeRecoverySpecification" in wanted:
            backups = resource.api("dynamodb", region).describe_continuous_backups(
                TableName=resource.physical_id)["ContinuousBackupsDescription"]
            status = (backups.get("PointInTimeRecoveryDescription") or {}).get(
                "PointInTimeRecoveryStatus")
            replica["PointInTimeRecoverySpecification"] = {
                "PointInTimeRecoveryEnabled": status == "ENABLED"}
        # Replica settings the emulator does not read are taken as expected (not compared).
        replicas.append({**{k: v for k, v in wanted.items() if k not in replica}, **replica})
    stream = table.get("StreamSpecification") or {}
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode")
    return {
        "TableName": table["TableName"],
        "BillingMode": billing or "PROVISIONED",
        "AttributeDefinitions": table.get("AttributeDefinitions"),
        "KeySchema": table.get("KeySchema"),
        "StreamSpecification": {"StreamViewType": stream.get("StreamViewType")}
        if stream.get("StreamEnabled") else None,
        "Replicas": replicas,
    }


# --- Route 53 ------------------------------------------------------------------------------------

@reads("AWS::Route53::HealthCheck")
def health_check(resource: Resource) -> dict[str, Any] | None:
    route53 = resource.api("route53")
    answer = gone_on(lambda: route53.get_health_check(HealthCheckId=resource.physical_id),
                     "NoSuchHealthCheck")
    if answer is None:
        return None
    config = dict(answer["HealthCheck"]["HealthCheckConfig"])
    tag_set = route53.list_tags_for_resource(ResourceType="healthcheck",
                                             ResourceId=resource.physical_id)["ResourceTagSet"]
    return {"HealthCheckConfig": config, "HealthCheckTags": tags(tag_set.get("Tags"))}


# --- IAM, Lambda, Secrets Manager, KMS -----------------------------------------------------------

@reads("AWS::IAM::Role")
def role(resource: Resource) -> dict[str, Any] | None:
    iam = resource.api("iam")
    answer = gone_on(lambda: iam.get_role(RoleName=resource.physical_id), "NoSuchEntity")
    if answer is None:
        return None
    found = answer["Role"]
    attached = iam.list_attached_role_policies(RoleName=resource.physical_id)[
        "AttachedPolicies"]
    inline = [{"PolicyName": name, "PolicyDocument": policy_document(iam.get_role_policy(
        RoleName=resource.physical_id, PolicyName=name)["PolicyDocument"])}
        for name in iam.list_role_policies(RoleName=resource.physical_id)["PolicyNames"]]
    return {
        "RoleName": found["RoleName"], "Path": found.get("Path"),
        "Description": found.get("Description"),
        "MaxSessionDuration": found.get("MaxSessionDuration"),
        "AssumeRolePolicyDocument": policy_document(found.get("AssumeRolePolicyDocument")),
        "ManagedPolicyArns": [p["PolicyArn"] for p in attached],
        "Policies": inline,
        "Tags": tags(found.get("Tags")),
    }


@reads("AWS::Lambda::Function")
def function(resource: Resource) -> dict[str, Any] | None:
    answer = gone_on(lambda: resource.api("lambda").get_function_configuration(
        FunctionName=resource.physical_id), "ResourceNotFoundException")
    if answer is None:
        return None
    vpc_config = answer.get("VpcConfig") or {}
    return {
        "FunctionName": answer["FunctionName"], "Handler": answer.get("Handler"),
        "Runtime": answer.get("Runtime"), "Role": answer.get("Role"),
        "Timeout": answer.get("Timeout"), "MemorySize": answer.get("MemorySize"),
        "Description": answer.get("Description") or None,
        "Architectures": answer.get("Architectures"),
        "Environment": {"Variables": (answer.get("Environment") or {}).get("Variables") or {}},
        "TracingConfig": answer.get("TracingConfig"),
        "VpcConfig": {"SubnetIds": vpc_config.get("SubnetIds") or [],
                      "SecurityGroupIds": vpc_config.get("SecurityGroupIds") or []}
        if vpc_config.get("SubnetIds") else None,
    }


@reads("AWS::SecretsManager::Secret")
def secret(resource: Resource) -> dict[str, Any] | None:
    answer = gone_on(lambda: resource.api("secretsmanager").describe_secret(
        SecretId=resource.physical_id), "ResourceNotFoundException")
    if answer is None or answer.get("DeletedDate"):
        return None
    return {"Name": answer["Name"], "Description": answer.get("Description"),
            "ReplicaRegions": [{"Region": r["Region"]}
                               for r in answer.get("ReplicationStatus") or []],
            "Tags": tags(answer.get("Tags"))}


@reads("AWS::KMS::Key")
def key(resource: Resource) -> dict[str, Any] | None:
    kms = resource.api("kms")
    answer = gone_on(lambda: kms.describe_key(KeyId=resource.physical_id), "NotFoundException")
    if answer is None or answer["KeyMetadata"].get("KeyState") == "PendingDeletion":
        return None
    metadata = answer["KeyMetadata"]
    rotation = kms.get_key_rotation_status(KeyId=resource.physical_id).get("KeyRotationEnabled")
    policy = kms.get_key_policy(KeyId=resource.physical_id, PolicyName="default")["Policy"]
    tag_list = kms.list_resource_tags(KeyId=resource.physical_id).get("Tags") or []
    return {
        "Description": metadata.get("Description"), "Enabled": metadata.get("Enabled"),
        "EnableKeyRotation": rotation, "KeySpec": metadata.get("KeySpec"),
        "KeyUsage": metadata.get("KeyUsage"), "MultiRegion": metadata.get("MultiRegion"),
        "KeyPolicy": policy_document(policy),
        "Tags": tags([{"Key": t["TagKey"], "Value": t["TagValue"]} for t in tag_list]),
    }


# --- CloudWatch, EventBridge, SSM documents ------------------------------------------------------

@reads("AWS::CloudWatch::Alarm")
def alarm(resource: Resource) -> dict[str, Any] | None:
    cloudwatch = resource.api("cloudwatch")
    found = cloudwatch.describe_alarms(AlarmNames=[resource.physical_id])["MetricAlarms"]
    if not found:
        return None
    a = found[0]
    names = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
             "InsufficientDataActions", "MetricName", "Namespace", "Statistic",
             "ExtendedStatistic", "Dimensions", "Period", "EvaluationPeriods",
             "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
             "EvaluateLowSampleCountPercentile", "Unit")
    properties: dict[str, Any] = {name: a.get(name) for name in names}
    if "Metrics" in resource.expected:
        properties["Metrics"] = a.get("Metrics")
    tag_list = cloudwatch.list_tags_for_resource(ResourceARN=a["AlarmArn"]).get("Tags")
    properties["Tags"] = tags(tag_list)
    return properties


@reads("AWS::Events::Rule")
def rule(resource: Resource) -> dict[str, Any] | None:
    events = resource.api("events")
    name = resource.physical_id.rsplit("/", 1)[-1]
    bus = resource.expected.get("EventBusName")
    extra = {"EventBusName": bus} if bus else {}
    found = gone_on(lambda: events.describe_rule(Name=name, **extra),
                    "ResourceNotFoundException")
    if found is None:
        return None
    targets = events.list_targets_by_rule(Rule=name, **extra).get("Targets") or []
    return {
        "Name": found["Name"], "Description": found.get("Description"),
        "State": found.get("State"),
        "ScheduleExpression": found.get("ScheduleExpression"),
        "EventPattern": policy_document(found["EventPattern"])
        if found.get("EventPattern") else None,
        "Targets": targets,
        "Tags": tags(events.list_tags_for_resource(ResourceARN=found["Arn"]).get("Tags")),
    }


@reads("AWS::SSM::Document")
def document(resource: Resource) -> dict[str, Any] | None:
    import yaml

    ssm = resource.api("ssm")
    found = gone_on(lambda: ssm.describe_document(Name=resource.physical_id),
                    "InvalidDocument")
    if found is None:
        return None
    described = found["Document"]
    content = ssm.get_document(Name=resource.physical_id,
                               DocumentVersion=described.get("DefaultVersion", "$DEFAULT"))[
        "Content"]
    try:
        parsed = yaml.safe_load(content)  # YAML is a superset of JSON
    except yaml.YAMLError:
        parsed = content
    return {"Name": described["Name"], "DocumentType": described.get("DocumentType"),
            "DocumentFormat": described.get("DocumentFormat"), "Content": parsed,
            "TargetType": described.get("TargetType"),
            "Tags": tags(described.get("Tags"))}


# --- Bucket policies, KMS aliases, Route 53 records ----------------------------------------------

@reads("AWS::S3::BucketPolicy")
def bucket_policy(resource: Resource) -> dict[str, Any] | None:
    s3 = resource.api("s3")
    name = str(resource.expected.get("Bucket") or resource.physical_id)
    found = gone_on(lambda: s3.get_bucket_policy(Bucket=name), "NoSuchBucketPolicy",
                    "NoSuchBucket")
    if found is None:
        return None
    return {"Bucket": name, "PolicyDocument": policy_document(found["Policy"])}


@reads("AWS::KMS::Alias")
def alias(resource: Resource) -> dict[str, Any] | None:
    kms = resource.api("kms")
    aliases = kms.list_aliases().get("Aliases") or []
    found = next((a for a in aliases if a["AliasName"] == resource.physical_id), None)
    if found is None:
        return None
    target = found.get("TargetKeyId")
    wanted = str(resource.expected.get("TargetKeyId") or "")
    if target and wanted.startswith("arn:"):
        target = kms.describe_key(KeyId=target)["KeyMetadata"]["Arn"]
    return {"AliasName": found["AliasName"], "TargetKeyId": target}


@reads("AWS::Route53::RecordSet")
def record_set(resource: Resource) -> dict[str, Any] | None:
    route53 = resource.api("route53")
    zone = str(resource.expected.get("HostedZoneId") or "")
    if not zone and resource.expected.get("HostedZoneName"):
        zones = route53.list_hosted_zones_by_name(
            DNSName=str(resource.expected["HostedZoneName"]))["HostedZones"]
        zone = zones[0]["Id"] if zones else ""
    if not zone:
        return {}
    name = str(resource.expected.get("Name") or resource.physical_id)
    wanted = (name.rstrip(".").lower(), str(resource.expected.get("Type")),
              resource.expected.get("SetIdentifier"))
    records = gone_on(lambda: route53.list_resource_record_sets(HostedZoneId=zone)[
        "ResourceRecordSets"], "NoSuchHostedZone") or []
    found = next((r for r in records if (r["Name"].rstrip(".").lower(), r["Type"],
                                         r.get("SetIdentifier")) == wanted), None)
    if found is None:
        return None
    alias_target = found.get("AliasTarget")
    return {
        "Name": found["Name"] if name.endswith(".") else found["Name"].rstrip("."),
        "Type": found["Type"], "TTL": str(found["TTL"]) if "TTL" in found else None,
        "ResourceRecords": [r["Value"] for r in found.get("ResourceRecords") or []] or None,
        "AliasTarget": {"DNSName": alias_target["DNSName"],
                        "HostedZoneId": alias_target["HostedZoneId"],
                        "EvaluateTargetHealth": alias_target.get("EvaluateTargetHealth", False)}
        if alias_target else None,
        "SetIdentifier": found.get("SetIdentifier"), "Failover": found.get("Failover"),
        "Weight": found.get("Weight"), "Region": found.get("Region"),
        "HealthCheckId": found.get("HealthCheckId"),
    }


def supported_types() -> list[str]:
    """The resource types the emulator compares (every other one is NOT_CHECKED)."""
    return sorted(READERS)


def case_insensitive(resource_type: str) -> frozenset[str]:
    return RDS_IDENTIFIERS if resource_type.startswith("AWS::RDS::") else frozenset()
