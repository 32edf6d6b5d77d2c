"""The security posture gate: for every environment (its var file rendered into each stack's
parameters, the templates' conditions evaluated with them), the controls a bank's reviewer signs
hold: TLS outside dev, egress only where documented, immutable and copied recovery points of
every data store, and access logs and trails. README "Security posture" cites these tests."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import jinja2
import pytest
import yaml

from drlib.cfn_rules import rule_violation
from tests.templates.cfn import ENVIRONMENTS, SCEPTRE_DIR, load, raw_text, template_names

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
EXAMPLE_CERTIFICATE = ("arn:aws:acm:us-east-1:111122223333:certificate/"
                       "0b1c2d3e-0000-4000-8000-000000000000")
# Egress to anywhere that remains, each with a documented need (README "Security posture").
DOCUMENTED_EGRESS = {"LambdaCrossRegionApiEgress"}
# AWS APIs the instances (SSM agent, Secrets Manager, KMS, STS, CloudWatch, Logs) and the DR
# Lambda (RDS, SNS, SSM, X-Ray) call, each through an interface endpoint.
INTERFACE_SERVICES = {"secretsmanager", "kms", "sts", "ssm", "ssmmessages", "ec2messages",
                      "logs", "monitoring", "sns", "rds", "xray"}
# Every data store, and the backup parameter through which the plan covers it.
STORES = {("database.yaml", "DBCluster"): ("ClusterArn", "primary/database.yaml::ClusterArn"),
          ("dynamodb.yaml", "Table"): ("TableArn", "primary/dynamodb.yaml::TableArn"),
          ("storage.yaml", "DataBucket"): ("DataBucketArn",
                                           "primary/storage.yaml::DataBucketArn")}
# Stateful resources that are not stores of the workload's data, and why.
NOT_STORES = {
    ("recovery-storage.yaml", "ReplicaBucket"): "the replica of DataBucket, whose recovery "
                                                "points are copied to the secondary vault",
    ("recovery-storage.yaml", "EvidenceBucket"): "drill evidence under Object Lock COMPLIANCE",
    ("artifacts.yaml", "ArtifactsBucket"): "rebuildable Lambda packages",
    ("audit.yaml", "LogBucket"): "access logs and trail files, kept by lifecycle",
}
STORE_TYPES = {"AWS::RDS::DBCluster", "AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table",
               "AWS::S3::Bucket"}


class _ConfigLoader(yaml.SafeLoader):
    """Stack configs with Sceptre's resolver tags read as (tag, argument) pairs."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> tuple[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        return (suffix, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return (suffix, loader.construct_sequence(node, deep=True))
    return (suffix, loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]


# Sceptre registers its resolvers on yaml.SafeLoader when imported; keep only YAML's own tags.
_ConfigLoader.yaml_constructors = {tag: constructor for tag, constructor in
                                   yaml.SafeLoader.yaml_constructors.items()
                                   if not str(tag).startswith("!")}
_ConfigLoader.add_multi_constructor("!", _tagged)


@cache
def variables(environment: str) -> dict[str, Any]:
    """The environment's var file."""
    return dict(yaml.safe_load((SCEPTRE_DIR / "vars" / f"{environment}.yaml").read_text()))


def stack_paths() -> list[str]:
    """Every stack config, as group/file."""
    return sorted(f"{p.parent.name}/{p.name}" for p in (SCEPTRE_DIR / "config").glob("*/*.yaml")
                  if p.name != "config.yaml")


def stack_config(environment: str, path: str, **overrides: Any) -> dict[str, Any]:
    """A stack config rendered with the var file as Sceptre renders it (resolvers left as pairs)."""
    text = (SCEPTRE_DIR / "config" / path).read_text()
    rendered = jinja2.Environment(undefined=jinja2.Undefined).from_string(text).render(
        var={**variables(environment), **overrides}, project_path=str(SCEPTRE_DIR))
    return dict(yaml.load(rendered, Loader=_ConfigLoader))


def parameters(environment: str, path: str, **overrides: Any) -> dict[str, Any]:
    """The stack's parameter values: plain strings, or (resolver, argument) pairs."""
    return {k: v if isinstance(v, tuple) else str(v) for k, v in (stack_config(
        environment, path, **overrides).get("parameters") or {}).items()}


def _value(node: Any, values: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """A template node with Ref to parameters, Fn::If and AWS::NoValue resolved where known."""
    if isinstance(node, list):
        items = [_value(n, values, conditions) for n in node]
        return [i for i in items if i != {"Ref": "AWS::NoValue"}]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Fn::If"}:
        name, when_true, when_false = node["Fn::If"]
        return _value(when_true if conditions[name] else when_false, values, conditions)
    if set(node) == {"Ref"} and node["Ref"] in values and not isinstance(values[node["Ref"]],
                                                                          tuple):
        return values[node["Ref"]]
    resolved = {k: _value(v, values, conditions) for k, v in node.items()}
    return {k: v for k, v in resolved.items() if v != {"Ref": "AWS::NoValue"}}


def _truth(node: Any, values: dict[str, Any], conditions: dict[str, Any],
           declared: dict[str, Any]) -> bool:
    if isinstance(node, dict) and "Condition" in node:
        name = node["Condition"]
        if name not in conditions:
            conditions[name] = _truth(declared[name], values, conditions, declared)
        return bool(conditions[name])
    (function, argument), = node.items()
    if function == "Fn::Equals":
        left, right = (_plain(a, values) for a in argument)
        return left == right
    if function == "Fn::Not":
        return not _truth(argument[0], values, conditions, declared)
    if function == "Fn::And":
        return all(_truth(a, values, conditions, declared) for a in argument)
    if function == "Fn::Or":
        return any(_truth(a, values, conditions, declared) for a in argument)
    raise AssertionError(f"condition function {function} not evaluated here")


def _plain(node: Any, values: dict[str, Any]) -> str:
    if isinstance(node, dict) and "Ref" in node:
        value = values[node["Ref"]]
        # A resolver (a stack output) is never empty: outputs always have a value.
        return f"<{value[1]}>" if isinstance(value, tuple) else str(value)
    return str(node)


def effective(template_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation would create it with ``values``: each condition decided,
    resources and Ifs pruned. Parameters not given take their defaults."""
    template = load(template_name)
    values = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()} | {
        k: v for k, v in values.items() if k in template["Parameters"]}
    declared = template.get("Conditions", {})
    conditions: dict[str, Any] = {}
    for name in declared:
        _truth({"Condition": name}, values, conditions, declared)
    resources = {name: _value(resource, values, conditions)
                 for name, resource in template["Resources"].items()
                 if conditions.get(resource.get("Condition", ""), True)}
    return {"Resources": resources, "values": values}


def deployments(**overrides: Any) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(environment, stack path, template, effective template) of every stack of every
    environment."""
    for environment in ENVIRONMENTS:
        for path in stack_paths():
            template_name = stack_config(environment, path)["template"]["path"]
            yield environment, path, template_name, effective(
                template_name, parameters(environment, path, **overrides))


def of_type(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    """The effective template's resources of one type."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


# --- TLS -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("group", ["primary", "secondary"])
def test_certificate_required_and_http_redirects_outside_dev(environment: str, group: str
                                                             ) -> None:
    """Staging and prod cannot deploy the app stack without a certificate (the rule names the
    parameter and the var-file key); with one, port 80 only redirects to HTTPS and the HTTPS
    listener uses the TLS 1.3 policy. Dev without one serves HTTP."""
    path = f"{group}/app.yaml"
    values = parameters(environment, path)
    problem = rule_violation(load("app.yaml"), values | {"Environment": environment})
    given = values["CertificateArn"]
    if environment == "dev" and not given:
        assert problem is None
        http = effective("app.yaml", values)["Resources"]["HttpListener"]["Properties"]
        assert [a["Type"] for a in http["DefaultActions"]] == ["forward"]
        return
    if not given:
        assert problem is not None
        assert "CertificateArn" in problem
        assert f"{group}_certificate_arn" in problem
    with_certificate = parameters(environment, path, **{
        f"{group}_certificate_arn": EXAMPLE_CERTIFICATE})
    assert rule_violation(load("app.yaml"), with_certificate) is None
    resources = effective("app.yaml", with_certificate)["Resources"]
    http = resources["HttpListener"]["Properties"]
    assert [a["Type"] for a in http["DefaultActions"]] == ["redirect"]
    assert http["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    https = resources["HttpsListener"]["Properties"]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == TLS_POLICY
    assert https["Certificates"] == [{"CertificateArn": EXAMPLE_CERTIFICATE}]


# --- Egress --------------------------------------------------------------------------------------


def _egress_rules(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(rule resource or group, group, rule) of every egress rule, inline or separate."""
    for name, group in of_type(template, "AWS::EC2::SecurityGroup").items():
        for rule in group["Properties"].get("SecurityGroupEgress", []):
            yield name, name, rule
    for name, rule in of_type(template, "AWS::EC2::SecurityGroupEgress").items():
        yield name, rule["Properties"]["GroupId"]["Ref"], rule["Properties"]


def _to_anywhere(rule: dict[str, Any]) -> bool:
    return rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0"


def test_every_security_group_declares_its_egress() -> None:
    """No security group in any environment keeps AWS's default allow-all egress: each declares
    its egress inline."""
    groups = 0
    for environment, path, _name, template in deployments():
        for group_name, group in of_type(template, "AWS::EC2::SecurityGroup").items():
            assert group["Properties"].get("SecurityGroupEgress"), (environment, path, group_name)
            groups += 1
    assert groups >= 5 * 2 * len(ENVIRONMENTS)


@pytest.mark.parametrize("auto_start_failover", [False, True])
def test_no_egress_to_anywhere_except_documented(auto_start_failover: bool) -> None:
    """With the var files as they are, nothing may send to 0.0.0.0/0; with auto_start_failover
    on, only the documented Lambda rule (to the other region's SSM API) appears."""
    for environment, path, _name, template in deployments(
            auto_start_failover=auto_start_failover):
        anywhere = {name for name, _group, rule in _egress_rules(template) if _to_anywhere(rule)}
        if path.endswith("/network.yaml") and auto_start_failover:
            assert anywhere == DOCUMENTED_EGRESS, (environment, path)
        else:
            assert anywhere == set(), (environment, path)
        for name in anywhere:
            rule = template["Resources"][name]["Properties"]
            assert str(rule["Description"]).startswith("Documented exception:")


def test_app_and_lambda_egress_goes_only_to_endpoints_database_and_gateways() -> None:
    """The instances and the Lambda send only to the interface endpoints, the database and the
    S3/DynamoDB gateway prefix lists; the ALB only to the instances."""
    allowed = {
        "AppSecurityGroup": {"EndpointSecurityGroup", "DatabaseSecurityGroup", "S3", "DynamoDB"},
        "LambdaSecurityGroup": {"EndpointSecurityGroup", "DatabaseSecurityGroup"},
        "LoadBalancerSecurityGroup": {"AppSecurityGroup"},
    }
    for _environment, _path, name, template in deployments():
        if name != "network.yaml":
            continue
        seen: dict[str, set[str]] = {group: set() for group in allowed}
        for _rule_name, group, rule in _egress_rules(template):
            if group not in allowed:
                continue
            if "DestinationSecurityGroupId" in rule:
                seen[group].add(rule["DestinationSecurityGroupId"]["Ref"])
            elif "DestinationPrefixListId" in rule:
                seen[group].add(rule["DestinationPrefixListId"]["Fn::FindInMap"][2])
            else:
                seen[group].add(str(rule.get("CidrIp")))
        assert seen == allowed


def test_interface_endpoints_serve_every_api_called_and_only_the_workload() -> None:
    """Each AWS API the instances and the Lambda call has an interface endpoint with private
    DNS in both private subnets, reachable only from the app and Lambda groups; the gateway
    prefix lists are known in every var file's regions."""
    template = effective("network.yaml", parameters("dev", "primary/network.yaml"))
    endpoints = [e["Properties"] for e in of_type(template, "AWS::EC2::VPCEndpoint").values()
                 if e["Properties"]["VpcEndpointType"] == "Interface"]
    services = {e["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1] for e in endpoints}
    assert services == INTERFACE_SERVICES
    for endpoint in endpoints:
        assert endpoint["PrivateDnsEnabled"] is True
        assert endpoint["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]
        assert endpoint["SubnetIds"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
    sources = {r["Properties"]["SourceSecurityGroupId"]["Ref"] for r in of_type(
        template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Ref": "EndpointSecurityGroup"}}
    assert sources == {"AppSecurityGroup", "LambdaSecurityGroup"}
    mapping = load("network.yaml")["Mappings"]["GatewayPrefixLists"]
    for environment in ENVIRONMENTS:
        for key in ("primary_region", "secondary_region"):
            assert set(mapping[variables(environment)[key]]) == {"S3", "DynamoDB"}


# --- Recovery points -----------------------------------------------------------------------------


def test_every_data_store_is_backed_up_or_exempted_with_a_reason() -> None:
    """Each stateful store in the templates is either in the backup selection or listed as not
    a store of the workload's data, with the reason."""
    found = {(name, logical_id) for name in template_names()
             for logical_id, resource in load(name)["Resources"].items()
             if resource["Type"] in STORE_TYPES}
    assert found == set(STORES) | (set(NOT_STORES) & found)
    assert set(NOT_STORES) - found <= {("audit.yaml", "LogBucket")}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_backup_plan_covers_every_store_and_copies_to_the_other_region(environment: str
                                                                       ) -> None:
    """The primary plan selects every store through its stack output and copies each recovery
    point, with the same retention, to the secondary region's vault."""
    values = parameters(environment, "primary/backup.yaml")
    template = effective("backup.yaml", values)
    selected = template["Resources"]["BackupSelection"]["Properties"]["BackupSelection"]
    assert selected["Resources"] == [{"Ref": parameter} for parameter, _ in STORES.values()]
    for parameter, output in STORES.values():
        assert values[parameter] == ("stack_output", output)
    assert rule_violation(load("backup.yaml"), {k: v if isinstance(v, str) else f"<{v[1]}>"
                                                for k, v in values.items()}) is None
    assert values["CopyDestinationVaultArn"] == ("stack_output",
                                                 "secondary/backup.yaml::BackupVaultArn")
    (rule,) = template["Resources"]["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"]
    (copy,) = rule["CopyActions"]
    assert copy["DestinationBackupVaultArn"] == {"Ref": "CopyDestinationVaultArn"}
    assert copy["Lifecycle"] == rule["Lifecycle"]
    secondary = effective("backup.yaml", parameters(environment, "secondary/backup.yaml"))
    assert "BackupPlan" not in secondary["Resources"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("group", ["primary", "secondary"])
def test_vaults_are_locked_in_compliance_mode_in_prod(environment: str, group: str) -> None:
    """Both regions' vaults refuse deleting a recovery point inside its retention; in prod the
    lock is in compliance mode (ChangeableForDays set), elsewhere in governance mode."""
    template = effective("backup.yaml", parameters(environment, f"{group}/backup.yaml"))
    lock = template["Resources"]["BackupVault"]["Properties"]["LockConfiguration"]
    assert lock["MinRetentionDays"] == str(variables(environment)["aws_backup_retention_days"])
    assert ("ChangeableForDays" in lock) is (environment == "prod")


# --- Audit trails --------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("group", ["primary", "secondary"])
def test_load_balancer_access_logs_go_to_the_locked_log_bucket(environment: str, group: str
                                                               ) -> None:
    """Every load balancer writes access logs to its region's log bucket, which is private,
    TLS-only, versioned, accepts writes only from the region's log-delivery account and
    CloudTrail, and lets no principal delete a log."""
    values = parameters(environment, f"{group}/app.yaml")
    assert values["AccessLogBucketName"] == ("stack_output", f"{group}/audit.yaml::LogBucketName")
    balancer = effective("app.yaml", values)["Resources"]["LoadBalancer"]["Properties"]
    attributes = {a["Key"]: a["Value"] for a in balancer["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": "AccessLogBucketName"}
    audit = effective("audit.yaml", parameters(environment, f"{group}/audit.yaml"))["Resources"]
    bucket = audit["LogBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    statements = {s["Sid"]: s for s in audit["LogBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"]}
    assert statements["DenyDeletingLogs"]["Effect"] == "Deny"
    assert statements["DenyDeletingLogs"]["Principal"] == "*"
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion"} <= set(
        statements["DenyDeletingLogs"]["Action"])
    assert statements["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}
    mapping = load("audit.yaml")["Mappings"]["ElbLogDeliveryAccounts"]
    assert variables(environment)[f"{group}_region"] in mapping


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_trail_records_s3_data_events_of_both_buckets(environment: str) -> None:
    """The primary region holds a logging, multi-region trail with log-file validation that
    records every read and write of objects in the data and replica buckets; naming an
    organisation trail replaces it, and the rule refuses a trail without the buckets."""
    values = parameters(environment, "primary/audit.yaml")
    assert values["DataBucketArn"] == ("stack_output", "primary/storage.yaml::DataBucketArn")
    assert values["ReplicaBucketArn"] == ("stack_output",
                                          "secondary/recovery-storage.yaml::ReplicaBucketArn")
    trail = effective("audit.yaml", values)["Resources"]["Trail"]["Properties"]
    assert trail["IsLogging"] is True
    assert trail["IsMultiRegionTrail"] is True
    assert trail["EnableLogFileValidation"] is True
    (selector,) = trail["EventSelectors"]
    assert selector["ReadWriteType"] == "All"
    (data,) = selector["DataResources"]
    assert data["Type"] == "AWS::S3::Object"
    assert data["Values"] == [{"Fn::Sub": "${DataBucketArn}/"}, {"Fn::Sub": "${ReplicaBucketArn}/"}]
    assert rule_violation(load("audit.yaml"), {"DRRole": "primary", "OrganizationTrailArn": "",
                                               "DataBucketArn": "", "ReplicaBucketArn": ""})
    organisation = "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail"
    with_org = parameters(environment, "primary/audit.yaml", organization_trail_arn=organisation)
    assert "Trail" not in effective("audit.yaml", with_org)["Resources"]
    assert "Trail" not in effective("audit.yaml", parameters(
        environment, "secondary/audit.yaml"))["Resources"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_master_secret_rotates_automatically(environment: str) -> None:
    """The primary's master secret has a rotation schedule of at most 90 days, run by the
    inline function in the private subnets (reaching Secrets Manager and RDS through their
    endpoints); the secondary's replica follows the primary."""
    values = parameters(environment, "primary/database.yaml")
    resources = effective("database.yaml", values)["Resources"]
    schedule = resources["RotationSchedule"]["Properties"]
    assert schedule["SecretId"] == {"Ref": "DatabaseSecret"}
    assert schedule["RotateImmediatelyOnUpdate"] is False
    days = int(effective("database.yaml", values)["values"]["SecretRotationDays"])
    assert 1 <= days <= 90
    function = resources["RotationFunction"]["Properties"]
    assert function["VpcConfig"]["SecurityGroupIds"] == [{"Ref": "LambdaSecurityGroupId"}]
    assert values["LambdaSecurityGroupId"] == ("stack_output",
                                               "primary/network.yaml::LambdaSecurityGroupId")
    secondary = effective("database.yaml", parameters(environment, "secondary/database.yaml"))
    assert "RotationSchedule" not in secondary["Resources"]


def test_access_logs_are_not_skipped_anywhere() -> None:
    """No template skips checkov's access-log check of the load balancer."""
    assert all("CKV_AWS_91" not in raw_text(name) for name in template_names())


# --- checkov -------------------------------------------------------------------------------------


def test_checkov_skips_that_cite_a_rule_are_backed_by_it() -> None:
    """A skip whose reason rests on a template rule names a rule that the template has."""
    for name in template_names():
        template = load(name)
        for resource in template["Resources"].values():
            for skip in (resource.get("Metadata", {}).get("checkov", {}).get("skip") or []):
                comment = str(skip["comment"])
                if "rule " in comment:
                    cited = comment.split("rule ", 1)[1].split(")")[0].split()[0]
                    assert cited in template.get("Rules", {}), (name, skip["id"], cited)


def test_no_checkov_skip_rests_on_a_missing_certificate() -> None:
    """No skip reason claims plain HTTP is fine in general: only dev may lack a certificate."""
    for name in template_names():
        text = raw_text(name)
        assert "drills against a test domain" not in text
        for line in text.splitlines():
            if "comment:" in line and "without" in line and "ertificate" in line:
                assert "dev" in line, (name, line)
