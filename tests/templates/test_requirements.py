"""One test per requirement of the gap analysis (reference/dr-gap-analysis.md) and the issue."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.templates.cfn import (
    ENVIRONMENTS,
    SCEPTRE_DIR,
    dashboard_metrics,
    if_branches,
    intrinsic_values,
    load,
    pattern_accepts,
    raw_text,
    refs,
    resources,
    walk,
)


def _param(template: str, name: str) -> dict[str, Any]:
    return load(template)["Parameters"][name]


def _vars(environment: str) -> dict[str, Any]:
    return yaml.safe_load((SCEPTRE_DIR / "vars" / f"{environment}.yaml").read_text())


# --- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "accepted"), [
    ("", True), ("a" * 11, False), ("Abcdef12345!", True), ("x" * 64, True), ("x" * 65, False),
    ("has@sign12345", False), ("has space 1234", False), ('quote"12345678', False),
])
def test_database_master_password_parameter_is_noecho_12_to_64_with_pattern(
        value: str, accepted: bool) -> None:
    """DatabaseMasterPassword is NoEcho and accepts empty or 12-64 RDS-safe characters only."""
    parameter = _param("database.yaml", "DatabaseMasterPassword")
    assert parameter["NoEcho"] is True
    assert parameter["MaxLength"] == 64
    assert parameter["Default"] == ""
    assert pattern_accepts(parameter, value) is accepted


def test_empty_master_password_is_generated_by_secrets_manager_and_resolved() -> None:
    """With no password the secret is generated; the cluster resolves it from Secrets Manager."""
    secret = resources("database.yaml")["DatabaseSecret"]["Properties"]
    given, generated = if_branches(secret["GenerateSecretString"], "HasDatabaseMasterPassword")
    assert given == {"Ref": "AWS::NoValue"}
    assert generated["GenerateStringKey"] == "password"
    assert load("database.yaml")["Conditions"]["HasDatabaseMasterPassword"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "DatabaseMasterPassword"}, ""]}]}
    cluster = resources("database.yaml")["DBCluster"]["Properties"]
    password, _ = if_branches(cluster["MasterUserPassword"], "IsPrimaryRegion")
    assert password == {"Fn::Sub":
                        "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:password}}"}


@pytest.mark.parametrize(("cidr", "accepted"), [
    ("10.10.0.0/16", True), ("172.16.0.0/20", True), ("10.0.0.0/24", False), ("10.0.0.0", False),
])
def test_primary_and_secondary_vpc_cidr_parameters(cidr: str, accepted: bool) -> None:
    """Both VPC CIDRs are parameters with a /16-/21 pattern; the region's role picks one."""
    for name in ("PrimaryVpcCidr", "SecondaryVpcCidr"):
        assert pattern_accepts(_param("network.yaml", name), cidr) is accepted
    vpc = resources("network.yaml")["VPC"]["Properties"]
    assert if_branches(vpc["CidrBlock"], "IsPrimaryRegion") == (
        {"Ref": "PrimaryVpcCidr"}, {"Ref": "SecondaryVpcCidr"})


def test_aurora_engine_version_parameter_is_16x_and_cites_the_docs() -> None:
    """AuroraEngineVersion defaults to a 16.x release and the template cites the AWS page."""
    parameter = _param("database.yaml", "AuroraEngineVersion")
    assert re.fullmatch(r"16\.\d+", parameter["Default"])
    assert pattern_accepts(parameter, "16.6")
    assert not pattern_accepts(parameter, "sixteen")
    assert ("docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/"
            "Concepts.Aurora_Fea_Regions_DB-eng.Feature.GlobalDatabase.html") in raw_text(
                "database.yaml")
    global_cluster = resources("database.yaml")["GlobalCluster"]["Properties"]
    assert global_cluster["EngineVersion"] == {"Ref": "AuroraEngineVersion"}


def test_company_and_environment_names_are_constrained() -> None:
    """CompanyName has a DNS-safe pattern and Environment allows dev, staging, prod only."""
    for name in ("kms.yaml", "network.yaml", "database.yaml", "app.yaml", "dns.yaml"):
        company = _param(name, "CompanyName")
        assert pattern_accepts(company, "acme")
        assert not pattern_accepts(company, "Acme Corp")
        assert _param(name, "Environment")["AllowedValues"] == list(ENVIRONMENTS)


# --- network ------------------------------------------------------------------------------------


def test_subnets_use_fn_cidr_and_get_azs() -> None:
    """Six subnets take distinct Fn::Cidr blocks of the VPC and alternate two Fn::GetAZs zones."""
    subnets = resources("network.yaml", "AWS::EC2::Subnet")
    assert len(subnets) == 6
    blocks, zones = [], {}
    for logical_id, subnet in subnets.items():
        index, cidr = subnet["Properties"]["CidrBlock"]["Fn::Select"]
        assert cidr == {"Fn::Cidr": [{"Fn::GetAtt": ["VPC", "CidrBlock"]}, 6, 8]}
        blocks.append(index)
        zone_index, azs = subnet["Properties"]["AvailabilityZone"]["Fn::Select"]
        assert azs == {"Fn::GetAZs": ""}
        zones[logical_id] = zone_index
    assert sorted(blocks) == [0, 1, 2, 3, 4, 5]
    assert not any(re.search(r"^\s+CidrBlock: '?\d+\.\d+\.\d+\.\d+/", line)
                   for line in raw_text("network.yaml").splitlines())
    for tier in ("Public", "Private", "Database"):
        assert (zones[f"{tier}SubnetA"], zones[f"{tier}SubnetB"]) == (0, 1)


def test_nat_gateway_in_each_az() -> None:
    """Each AZ has its own NAT gateway, and each private route table routes through its AZ's."""
    nats = resources("network.yaml", "AWS::EC2::NatGateway")
    assert {k: v["Properties"]["SubnetId"] for k, v in nats.items()} == {
        "NatGatewayA": {"Ref": "PublicSubnetA"}, "NatGatewayB": {"Ref": "PublicSubnetB"}}
    routes = resources("network.yaml", "AWS::EC2::Route")
    for az in ("A", "B"):
        route = routes[f"PrivateDefaultRoute{az}"]["Properties"]
        assert route["RouteTableId"] == {"Ref": f"PrivateRouteTable{az}"}
        assert route["NatGatewayId"] == {"Ref": f"NatGateway{az}"}
        association = resources("network.yaml")[f"PrivateSubnet{az}RouteTableAssociation"]
        assert association["Properties"]["RouteTableId"] == {"Ref": f"PrivateRouteTable{az}"}


def test_gateway_endpoints_for_s3_and_dynamodb() -> None:
    """S3 and DynamoDB gateway endpoints serve both private route tables and the database one."""
    endpoints = [e for e in resources("network.yaml", "AWS::EC2::VPCEndpoint").values()
                 if e["Properties"]["VpcEndpointType"] == "Gateway"]
    services = {e["Properties"]["ServiceName"]["Fn::Sub"] for e in endpoints}
    assert services == {"com.amazonaws.${AWS::Region}.s3", "com.amazonaws.${AWS::Region}.dynamodb"}
    for endpoint in endpoints:
        assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
        assert refs(endpoint["Properties"]["RouteTableIds"]) == {
            "PrivateRouteTableA", "PrivateRouteTableB", "DatabaseRouteTable"}


def test_vpc_flow_logs_to_cloudwatch_logs_with_role() -> None:
    """The VPC's flow logs go to an encrypted log group through a role flow logs can assume."""
    flow_log = resources("network.yaml")["FlowLog"]["Properties"]
    assert flow_log["ResourceId"] == {"Ref": "VPC"}
    assert flow_log["LogDestinationType"] == "cloud-watch-logs"
    assert flow_log["DeliverLogsPermissionArn"] == {"Fn::GetAtt": ["FlowLogRole", "Arn"]}
    role = resources("network.yaml")["FlowLogRole"]["Properties"]
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert resources("network.yaml")["FlowLogGroup"]["Properties"]["KmsKeyId"] == {
        "Ref": "KmsKeyArn"}


def test_security_group_rules_have_descriptions() -> None:
    """Every security-group rule, inline or separate, in every template has a Description."""
    rules = []
    for name in ("network.yaml", "app.yaml", "database.yaml", "dr-automation.yaml"):
        for resource in resources(name).values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::EC2::SecurityGroup":
                rules += props.get("SecurityGroupIngress", [])
                rules += props.get("SecurityGroupEgress", [])
            elif resource["Type"] in ("AWS::EC2::SecurityGroupIngress",
                                      "AWS::EC2::SecurityGroupEgress"):
                rules.append(props)
    assert len(rules) >= 9
    assert all(str(rule.get("Description", "")).strip() for rule in rules), rules


# --- Aurora global database ---------------------------------------------------------------------


def test_aurora_global_cluster_with_two_primary_instances_in_different_azs() -> None:
    """The primary creates the global cluster, a member cluster and two instances in two AZs."""
    db = resources("database.yaml")
    assert db["GlobalCluster"]["Type"] == "AWS::RDS::GlobalCluster"
    assert db["GlobalCluster"]["Condition"] == "IsPrimaryRegion"
    assert db["GlobalCluster"]["Properties"]["Engine"] == "aurora-postgresql"
    cluster = db["DBCluster"]["Properties"]
    assert cluster["Engine"] == "aurora-postgresql"
    assert if_branches(cluster["GlobalClusterIdentifier"], "IsPrimaryRegion") == (
        {"Ref": "GlobalCluster"}, {"Ref": "GlobalClusterIdentifier"})
    instances = resources("database.yaml", "AWS::RDS::DBInstance")
    assert len(instances) == 2
    zones = {i["Properties"]["AvailabilityZone"]["Fn::Select"][0] for i in instances.values()}
    assert zones == {0, 1}
    assert all(i["Properties"]["DBClusterIdentifier"] == {"Ref": "DBCluster"}
               for i in instances.values())
    # The second instance is conditional, but never in the primary region.
    second = instances["DBInstanceB"]["Condition"]
    assert load("database.yaml")["Conditions"][second]["Fn::Or"][0] == {
        "Condition": "IsPrimaryRegion"}


def test_secondary_cluster_joins_global_cluster_without_master_credentials() -> None:
    """In the secondary region the cluster joins the given global cluster with no credentials."""
    cluster = resources("database.yaml")["DBCluster"]["Properties"]
    for credential in ("MasterUsername", "MasterUserPassword"):
        _, secondary = if_branches(cluster[credential], "IsPrimaryRegion")
        assert secondary == {"Ref": "AWS::NoValue"}
    rule = load("database.yaml")["Rules"]["SecondaryNeedsGlobalCluster"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "DRRole"}, "secondary"]}
    config = (SCEPTRE_DIR / "config" / "secondary" / "database.yaml").read_text()
    assert "GlobalClusterIdentifier: !stack_output primary/database.yaml::GlobalClusterIdentifier" \
        in config


def test_database_encrypted_with_a_customer_kms_key_per_region() -> None:
    """Cluster storage and Performance Insights use the region's customer key, which rotates."""
    cluster = resources("database.yaml")["DBCluster"]["Properties"]
    assert cluster["StorageEncrypted"] is True
    assert cluster["KmsKeyId"] == {"Ref": "KmsKeyArn"}
    key = resources("kms.yaml")["Key"]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = key["KeyPolicy"]["Statement"]
    assert any(s["Sid"] == "AccountAdministration" for s in statements)
    for role in ("primary", "secondary"):
        config = (SCEPTRE_DIR / "config" / role / "database.yaml").read_text()
        assert f"KmsKeyArn: !stack_output {role}/kms.yaml::KeyArn" in config


def test_enhanced_monitoring_60s_and_performance_insights() -> None:
    """Every instance has 60 s enhanced monitoring through its role and Performance Insights."""
    role = resources("database.yaml")["MonitoringRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "monitoring.rds.amazonaws.com"}
    for instance in resources("database.yaml", "AWS::RDS::DBInstance").values():
        props = instance["Properties"]
        assert props["MonitoringInterval"] == 60
        assert props["MonitoringRoleArn"] == {"Fn::GetAtt": ["MonitoringRole", "Arn"]}
        assert props["EnablePerformanceInsights"] is True
        assert props["PubliclyAccessible"] is False


def test_database_backup_retention_by_environment() -> None:
    """Backup retention is a parameter that the var files grow from dev to prod."""
    cluster = resources("database.yaml")["DBCluster"]["Properties"]
    assert cluster["BackupRetentionPeriod"] == {"Ref": "BackupRetentionDays"}
    days = [_vars(env)["db_backup_retention_days"] for env in ENVIRONMENTS]
    assert days == sorted(days)
    assert days[0] < days[-1]


def test_deletion_protection_in_production() -> None:
    """Production always gets deletion protection; other environments opt in."""
    for name in ("database.yaml", "dynamodb.yaml"):
        conditions = load(name)["Conditions"]
        assert conditions["IsProduction"] == {"Fn::Equals": [{"Ref": "Environment"}, "prod"]}
        assert conditions["EnableDeletionProtection"]["Fn::Or"][0] == {"Condition": "IsProduction"}
    db = resources("database.yaml")
    for logical_id in ("DBCluster", "GlobalCluster"):
        assert if_branches(db[logical_id]["Properties"]["DeletionProtection"],
                           "EnableDeletionProtection") == (True, False)
    for replica in resources("dynamodb.yaml")["Table"]["Properties"]["Replicas"]:
        assert if_branches(replica["DeletionProtectionEnabled"], "EnableDeletionProtection") == (
            True, False)
    attributes = resources("app.yaml")["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    protection = next(a for a in attributes if a["Key"] == "deletion_protection.enabled")
    assert if_branches(protection["Value"], "IsProduction") == ("true", "false")
    assert _vars("prod")["deletion_protection"] is True


def test_database_cluster_snapshots_on_delete_and_replace() -> None:
    """The regional cluster is snapshotted when deleted or replaced."""
    cluster = resources("database.yaml")["DBCluster"]
    assert (cluster["DeletionPolicy"], cluster["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")


# --- DynamoDB -----------------------------------------------------------------------------------


def test_dynamodb_global_table_replicas_in_both_regions() -> None:
    """One GlobalTable resource holds a replica in the primary and in the secondary region."""
    table = resources("dynamodb.yaml")["Table"]
    assert table["Type"] == "AWS::DynamoDB::GlobalTable"
    regions = [r["Region"] for r in table["Properties"]["Replicas"]]
    assert regions == [{"Ref": "PrimaryRegion"}, {"Ref": "SecondaryRegion"}]
    assert not (SCEPTRE_DIR / "config" / "secondary" / "dynamodb.yaml").exists()


def test_dynamodb_pitr_kms_streams_and_on_demand() -> None:
    """The table is on-demand, streams new and old images, and every replica has PITR and KMS."""
    props = resources("dynamodb.yaml")["Table"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    keys = set()
    for replica in props["Replicas"]:
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        keys.add(replica["SSESpecification"]["KMSMasterKeyId"]["Ref"])
    assert keys == {"PrimaryKmsKeyArn", "SecondaryKmsKeyArn"}


# --- S3 -----------------------------------------------------------------------------------------


def _buckets() -> dict[str, dict[str, Any]]:
    found = {}
    for name in ("storage.yaml", "recovery-storage.yaml", "artifacts.yaml"):
        for logical_id, bucket in resources(name, "AWS::S3::Bucket").items():
            found[f"{name}:{logical_id}"] = bucket["Properties"]
    return found


def test_data_bucket_replicates_to_replica_with_rtc_and_metrics() -> None:
    """The data bucket replicates everything to the replica bucket with 15-minute RTC."""
    replication = resources("storage.yaml")["DataBucket"]["Properties"]["ReplicationConfiguration"]
    assert replication["Role"] == {"Fn::GetAtt": ["ReplicationRole", "Arn"]}
    (rule,) = replication["Rules"]
    destination = rule["Destination"]
    assert rule["Status"] == "Enabled"
    assert destination["Bucket"] == {"Ref": "ReplicaBucketArn"}
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert destination["Metrics"] == {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    assert destination["EncryptionConfiguration"] == {
        "ReplicaKmsKeyID": {"Ref": "ReplicaKmsKeyArn"}}
    config = (SCEPTRE_DIR / "config" / "primary" / "storage.yaml").read_text()
    assert "!stack_output secondary/recovery-storage.yaml::ReplicaBucketArn" in config


def test_replication_role_is_limited_to_replication() -> None:
    """The replication role assumed by S3 holds only replication, read and key actions."""
    role = resources("storage.yaml")["ReplicationRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "s3.amazonaws.com"}
    actions = {a for s in role["Policies"][0]["PolicyDocument"]["Statement"]
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions <= {"s3:GetReplicationConfiguration", "s3:ListBucket",
                       "s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                       "s3:GetObjectVersionTagging", "s3:ReplicateObject", "s3:ReplicateDelete",
                       "s3:ReplicateTags", "kms:Decrypt", "kms:Encrypt"}
    assert "*" not in json.dumps(role["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"])


def test_buckets_are_versioned_encrypted_private_with_lifecycle_rules() -> None:
    """Every bucket is versioned, KMS-encrypted, blocks public access and aborts stale uploads."""
    for name, props in _buckets().items():
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
        encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", name
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}, name
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any("AbortIncompleteMultipartUpload" in r for r in rules), name
        if "ObjectLockEnabled" not in props:  # locked evidence versions cannot expire early
            assert any("NoncurrentVersionExpiration" in r for r in rules), name


def test_data_and_replica_buckets_have_intelligent_tiering() -> None:
    """The data and replica buckets archive cold objects with Intelligent-Tiering."""
    for key in ("storage.yaml:DataBucket", "recovery-storage.yaml:ReplicaBucket"):
        (config,) = _buckets()[key]["IntelligentTieringConfigurations"]
        assert config["Status"] == "Enabled"
        assert {t["AccessTier"] for t in config["Tierings"]} == {"ARCHIVE_ACCESS",
                                                                 "DEEP_ARCHIVE_ACCESS"}


def test_bucket_policies_deny_non_tls() -> None:
    """Every bucket has a policy denying requests that do not use TLS."""
    for name in ("storage.yaml", "recovery-storage.yaml", "artifacts.yaml"):
        buckets = set(resources(name, "AWS::S3::Bucket"))
        covered = set()
        for policy in resources(name, "AWS::S3::BucketPolicy").values():
            statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
            assert statement["Effect"] == "Deny"
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            covered.add(policy["Properties"]["Bucket"]["Ref"])
        assert covered == buckets, name


def test_evidence_bucket_has_object_lock_in_compliance_mode() -> None:
    """The evidence bucket locks objects in COMPLIANCE mode for a retention set per environment."""
    props = resources("recovery-storage.yaml")["EvidenceBucket"]["Properties"]
    assert props["ObjectLockEnabled"] is True
    lock = props["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE",
                                                "Days": {"Ref": "EvidenceRetentionDays"}}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    days = [_vars(env)["evidence_retention_days"] for env in ENVIRONMENTS]
    assert days == sorted(days)
    assert days[0] < days[-1]


# --- application tier ---------------------------------------------------------------------------


def test_alb_is_internet_facing_in_public_subnets_with_listener() -> None:
    """The ALB faces the internet from the public subnets and its listener forwards to targets."""
    app = resources("app.yaml")
    alb = app["LoadBalancer"]["Properties"]
    assert (alb["Scheme"], alb["Type"]) == ("internet-facing", "application")
    assert alb["Subnets"] == {"Ref": "PublicSubnetIds"}
    _, without_certificate = if_branches(app["HttpListener"]["Properties"]["DefaultActions"][0],
                                         "HasCertificate")
    assert without_certificate == {"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}


def test_target_group_health_checks_the_health_path() -> None:
    """The target group checks the /health path over HTTP."""
    group = resources("app.yaml")["TargetGroup"]["Properties"]
    assert group["HealthCheckPath"] == {"Ref": "HealthCheckPath"}
    assert _param("app.yaml", "HealthCheckPath")["Default"] == "/health"
    assert group["HealthCheckEnabled"] is True
    assert group["Matcher"] == {"HttpCode": "200"}


def test_launch_template_uses_public_ssm_ami_and_requires_imdsv2() -> None:
    """The AMI comes from the public SSM parameter, the type is a parameter, IMDSv2 only."""
    image = _param("app.yaml", "ImageId")
    assert image["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert image["Default"] == (
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    data = resources("app.yaml")["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["ImageId"] == {"Ref": "ImageId"}
    assert data["InstanceType"] == {"Ref": "InstanceType"}
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert all(m["Ebs"]["Encrypted"] for m in data["BlockDeviceMappings"])


def test_auto_scaling_group_in_private_subnets_sized_by_environment() -> None:
    """The group runs in the private subnets behind the target group, sized by parameters."""
    group = resources("app.yaml")["AutoScalingGroup"]["Properties"]
    assert group["VPCZoneIdentifier"] == {"Ref": "PrivateSubnetIds"}
    assert group["TargetGroupARNs"] == [{"Ref": "TargetGroup"}]
    assert group["HealthCheckType"] == "ELB"
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (
        {"Ref": "AsgMinSize"}, {"Ref": "AsgMaxSize"}, {"Ref": "AsgDesiredCapacity"})


def test_instance_role_is_least_privilege_by_arn_plus_ssm_core() -> None:
    """The instance role names its table, bucket, secret and key by ARN, plus SSM core."""
    role = resources("app.yaml")["InstanceRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    for statement in statements:
        resource = json.dumps(statement["Resource"])
        assert resource != '"*"', statement
        assert not any(a.endswith(":*") for a in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]))
    named = refs(statements)
    assert {"TableName", "BucketName", "DatabaseSecretName", "KmsKeyArn"} <= named


# --- Route 53 -----------------------------------------------------------------------------------


def test_hosted_zone_created_or_existing_zone_id() -> None:
    """A zone is created only when no HostedZoneId is given; records use whichever applies."""
    dns = resources("dns.yaml")
    assert dns["HostedZone"]["Condition"] == "CreateHostedZone"
    assert load("dns.yaml")["Conditions"]["HasHostedZoneId"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "HostedZoneId"}, ""]}]}
    for record in ("PrimaryRecord", "SecondaryRecord"):
        assert if_branches(dns[record]["Properties"]["HostedZoneId"], "HasHostedZoneId") == (
            {"Ref": "HostedZoneId"}, {"Ref": "HostedZone"})


def test_health_checks_on_both_albs_every_30s_or_10s_with_threshold_3() -> None:
    """Each ALB has a health check on its path, 30 s by default (10 s allowed), threshold 3."""
    interval = _param("dns.yaml", "HealthCheckInterval")
    assert (interval["Default"], interval["AllowedValues"]) == (30, [10, 30])
    assert _param("dns.yaml", "HealthCheckFailureThreshold")["Default"] == 3
    checks = resources("dns.yaml", "AWS::Route53::HealthCheck")
    targets = set()
    for check in checks.values():
        config = check["Properties"]["HealthCheckConfig"]
        assert config["RequestInterval"] == {"Ref": "HealthCheckInterval"}
        assert config["FailureThreshold"] == {"Ref": "HealthCheckFailureThreshold"}
        assert config["ResourcePath"] == {"Ref": "HealthCheckPath"}
        targets.add(config["FullyQualifiedDomainName"]["Ref"])
    assert targets == {"PrimaryLoadBalancerDNSName", "SecondaryLoadBalancerDNSName"}
    assert _vars("prod")["health_check_interval"] == 10


def test_failover_records_primary_and_secondary_alias_to_each_alb() -> None:
    """app.<domain> is a PRIMARY/SECONDARY failover pair aliased to the ALBs, with checks."""
    dns = resources("dns.yaml")
    expected = {"PrimaryRecord": ("PRIMARY", "Primary"), "SecondaryRecord": ("SECONDARY",
                                                                            "Secondary")}
    for logical_id, (failover, side) in expected.items():
        record = dns[logical_id]["Properties"]
        assert record["Failover"] == failover
        assert record["Name"] == {"Fn::Sub": "${AppSubdomain}.${DomainName}."}
        assert record["HealthCheckId"] == {"Ref": f"{side}HealthCheck"}
        assert record["AliasTarget"]["DNSName"] == {"Ref": f"{side}LoadBalancerDNSName"}
    config = (SCEPTRE_DIR / "config" / "secondary" / "dns.yaml").read_text()
    assert "!stack_output primary/app.yaml::LoadBalancerDNSName" in config
    assert "!stack_output secondary/app.yaml::LoadBalancerDNSName" in config


# --- DR automation ------------------------------------------------------------------------------


def test_lambda_in_vpc_with_deployment_package() -> None:
    """The orchestrator runs in the private subnets with its own group, from an S3 package."""
    function = resources("dr-automation.yaml")["OrchestratorFunction"]["Properties"]
    assert function["Code"] == {"S3Bucket": {"Ref": "LambdaCodeBucket"},
                                "S3Key": {"Ref": "LambdaCodeKey"}}
    assert function["VpcConfig"] == {"SubnetIds": {"Ref": "PrivateSubnetIds"},
                                     "SecurityGroupIds": [{"Ref": "LambdaSecurityGroupId"}]}
    assert "ZipFile" not in raw_text("dr-automation.yaml")
    assert pattern_accepts(_param("dr-automation.yaml", "LambdaCodeKey"),
                           "lambda/dr-orchestrator/" + "0" * 64 + ".zip")
    module, entry = function["Handler"].split(".")
    source = (SCEPTRE_DIR / "lambda" / "dr_orchestrator" / f"{module}.py").read_text()
    assert f"def {entry}(event" in source


def test_eventbridge_rules_for_rds_failure_and_global_failover_invoke_the_lambda() -> None:
    """RDS failure and global-failover rules target the Lambda, each with an invoke permission."""
    automation = resources("dr-automation.yaml")
    rules = resources("dr-automation.yaml", "AWS::Events::Rule")
    categories = set()
    for logical_id, rule in rules.items():
        pattern = rule["Properties"]["EventPattern"]
        assert pattern["source"] == ["aws.rds"]
        assert "RDS DB Cluster Event" in pattern["detail-type"]
        categories |= set(pattern["detail"]["EventCategories"])
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": ["OrchestratorFunction", "Arn"]}
        permission = automation[f"{logical_id}Permission"]["Properties"]
        assert permission["Principal"] == "events.amazonaws.com"
        assert permission["SourceArn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert {"failure", "failover", "global-failover"} <= categories


def test_sns_topic_for_dr_notifications_is_kms_encrypted() -> None:
    """The DR topic is encrypted with the region's key and alarms and EventBridge may publish."""
    automation = resources("dr-automation.yaml")
    assert automation["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "KmsKeyArn"}
    policy = automation["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]
    statement = policy["Statement"][0]
    assert set(statement["Principal"]["Service"]) == {"cloudwatch.amazonaws.com",
                                                      "events.amazonaws.com"}


def _document(logical_id: str) -> dict[str, Any]:
    document = resources("dr-automation.yaml")[logical_id]["Properties"]
    assert document["DocumentType"] == "Automation"
    assert document["Content"]["schemaVersion"] == "0.3"
    return document["Content"]


def test_ssm_failover_document_validates_initiates_and_validates_failover() -> None:
    """The failover runbook validates, switches over or fails over, and checks the new writer."""
    steps = {s["name"]: s for s in _document("FailoverDocument")["mainSteps"]}
    assert steps["ValidatePrerequisites"]["action"] == "aws:assertAwsResourceProperty"
    assert steps["InitiateFailover"]["inputs"]["Api"] == "SwitchoverGlobalCluster"
    assert steps["InitiateFailoverWithDataLoss"]["inputs"]["Api"] == "FailoverGlobalCluster"
    assert steps["InitiateFailoverWithDataLoss"]["inputs"]["AllowDataLoss"] is True
    assert all(steps[n]["action"] == "aws:executeAwsApi"
               for n in ("InitiateFailover", "InitiateFailoverWithDataLoss"))
    assert steps["ValidateFailover"]["isEnd"] is True
    order = list(steps)
    assert order.index("ValidatePrerequisites") < order.index("InitiateFailover") < order.index(
        "ValidateFailover")


def test_ssm_failback_document_and_automation_role() -> None:
    """The failback runbook switches the writer back; both runbooks assume the automation role."""
    steps = {s["name"]: s for s in _document("FailbackDocument")["mainSteps"]}
    assert steps["InitiateFailback"]["inputs"]["Api"] == "SwitchoverGlobalCluster"
    assert "ValidateFailback" in steps
    for logical_id in ("FailoverDocument", "FailbackDocument"):
        content = _document(logical_id)
        assert content["assumeRole"] == "{{ AutomationAssumeRole }}"
        assert content["parameters"]["AutomationAssumeRole"]["default"] == {
            "Fn::GetAtt": ["AutomationRole", "Arn"]}
    role = resources("dr-automation.yaml")["AutomationRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ssm.amazonaws.com"}


# --- monitoring and backup ----------------------------------------------------------------------


def test_dashboard_covers_aurora_dynamodb_s3_alb_and_lambda() -> None:
    """The dashboard charts global lag, DynamoDB and S3 replication, the ALB and the Lambda."""
    body = resources("monitoring.yaml")["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    metrics = dashboard_metrics(body)
    assert {("AWS/RDS", "AuroraGlobalDBReplicationLag"), ("AWS/DynamoDB", "ReplicationLatency"),
            ("AWS/S3", "ReplicationLatency"), ("AWS/S3", "OperationsFailedReplication"),
            ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"), ("AWS/Lambda", "Errors")} <= metrics
    json.loads(re.sub(r"\$\{[^}]+\}", "x", body))  # valid JSON once substituted


def test_alarms_cover_required_metrics_and_notify_the_topic() -> None:
    """Alarms watch DB CPU and connections, lags, S3 failures, ALB 5xx, hosts and NAT errors."""
    alarms = resources("monitoring.yaml", "AWS::CloudWatch::Alarm").values()
    watched = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms}
    assert {("AWS/RDS", "CPUUtilization"), ("AWS/RDS", "DatabaseConnections"),
            ("AWS/RDS", "AuroraGlobalDBReplicationLag"), ("AWS/DynamoDB", "ReplicationLatency"),
            ("AWS/S3", "OperationsFailedReplication"), ("AWS/ApplicationELB",
                                                        "HTTPCode_ELB_5XX_Count"),
            ("AWS/ApplicationELB", "UnHealthyHostCount"), ("AWS/NATGateway", "ErrorPortAllocation"),
            ("AWS/NATGateway", "PacketsDropCount")} <= watched
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "NotificationTopicArn"}]


def test_backup_vault_with_kms_daily_plan_and_selection_of_every_store() -> None:
    """AWS Backup keeps daily, KMS-encrypted recovery points of the cluster, the table and the
    data bucket (the posture gate in test_posture.py checks it per environment)."""
    backup = resources("backup.yaml")
    assert backup["BackupVault"]["Properties"]["EncryptionKeyArn"] == {"Ref": "KmsKeyArn"}
    (rule,) = backup["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["ScheduleExpression"] == "cron(0 5 * * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": {"Ref": "BackupRetentionDays"}}
    selection = backup["BackupSelection"]["Properties"]["BackupSelection"]
    assert selection["Resources"] == [{"Ref": "ClusterArn"}, {"Ref": "TableArn"},
                                      {"Ref": "DataBucketArn"}]
    days = [_vars(env)["aws_backup_retention_days"] for env in ENVIRONMENTS]
    assert days == sorted(days)


def test_kms_key_policy_lets_logs_and_alarm_publishers_use_the_key() -> None:
    """The key policy admits CloudWatch Logs (for its log groups) and alarm/event publishers."""
    statements = {s["Sid"]: s for s in resources("kms.yaml")["Key"]["Properties"]["KeyPolicy"][
        "Statement"]}
    assert statements["CloudWatchLogsEncryption"]["Principal"] == {
        "Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    assert set(statements["EventAndAlarmPublishing"]["Principal"]["Service"]) == {
        "events.amazonaws.com", "cloudwatch.amazonaws.com"}


def test_no_walk_helper_blind_spots() -> None:
    """The walker used above sees nested intrinsic functions (guards the other tests)."""
    nodes = list(walk({"a": [{"Ref": "X"}, {"b": {"Fn::If": ["C", 1, 2]}}]}))
    assert {"Ref": "X"} in nodes
    assert intrinsic_values(nodes[0], "Fn::If") == [["C", 1, 2]]
