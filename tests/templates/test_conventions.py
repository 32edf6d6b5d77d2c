"""Conventions every template follows (STYLE.md section 8), and the linters' verdicts."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.templates.cfn import (
    REPO,
    TEMPLATES_DIR,
    all_resources,
    intrinsic_values,
    load,
    raw_text,
    template_names,
    walk,
)

TEMPLATES = template_names()
AWS_SPECIFIC_TYPES = re.compile(r"^(List<)?AWS::[A-Za-z0-9:]+(<[A-Za-z0-9:]+>)?>?$")
CONSTRAINTS = ("AllowedPattern", "AllowedValues", "MinValue", "MaxValue")
# Resources that hold data or keys: they must say what happens to them on delete and replace.
STATEFUL_POLICIES = {
    "AWS::S3::Bucket": {"Retain"},
    "AWS::RDS::DBCluster": {"Snapshot"},
    "AWS::RDS::DBInstance": {"Delete"},  # storage belongs to the (snapshotted) cluster
    "AWS::RDS::GlobalCluster": {"Delete"},  # a container; data lives in its member clusters
    "AWS::DynamoDB::GlobalTable": {"Retain"},
    "AWS::KMS::Key": {"Retain"},
    "AWS::Backup::BackupVault": {"Retain"},
    "AWS::SecretsManager::Secret": {"Delete"},  # Secrets Manager keeps it 7-30 days anyway
    "AWS::Logs::LogGroup": {"Delete"},
    "AWS::SQS::Queue": {"Delete"},
}
TAG_KEYS = {"Company", "Environment", "DRRole"}
TAG_PROPERTIES = ("Tags", "HostedZoneTags", "HealthCheckTags", "BackupVaultTags",
                  "BackupPlanTags")


def test_every_template_is_listed() -> None:
    """The project has the expected templates, one concern each."""
    expected = ["app.yaml", "artifacts.yaml", "audit.yaml", "backup.yaml", "database.yaml",
                "dns.yaml",
                "dr-automation.yaml", "dynamodb.yaml", "kms.yaml", "monitoring.yaml",
                "network.yaml", "recovery-storage.yaml", "storage.yaml"]
    assert expected == TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_parameter_has_description_and_constraint(name: str) -> None:
    """Each parameter has a Description and a constraint (pattern, values, range or AWS type)."""
    for pname, spec in load(name)["Parameters"].items():
        assert str(spec.get("Description", "")).strip(), f"{name}:{pname} has no Description"
        constrained = any(c in spec for c in CONSTRAINTS) or AWS_SPECIFIC_TYPES.match(spec["Type"])
        assert constrained, f"{name}:{pname} has no constraint"


@pytest.mark.parametrize("name", TEMPLATES)
def test_optional_parameters_default_to_empty_with_a_condition(name: str) -> None:
    """A parameter defaulting to '' is tested for emptiness by a condition or a rule."""
    template = load(name)
    optional = [p for p, spec in template["Parameters"].items() if spec.get("Default") == ""]
    checks = [template.get("Conditions", {}), template.get("Rules", {})]
    tested = {eq[0]["Ref"] for eq in intrinsic_values(checks, "Fn::Equals")
              if isinstance(eq[0], dict) and "Ref" in eq[0] and eq[1] == ""}
    assert set(optional) <= tested, f"{name}: optional without condition: {set(optional) - tested}"
    for pname in optional:
        assert "empty" in template["Parameters"][pname]["Description"].lower() or \
            "leave empty" in template["Parameters"][pname]["Description"].lower(), pname


@pytest.mark.parametrize("name", TEMPLATES)
def test_parameter_groups_cover_every_parameter_once(name: str) -> None:
    """Metadata AWS::CloudFormation::Interface groups list each parameter exactly once."""
    template = load(name)
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [p for group in groups for p in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"]), name


def test_conditions_are_defined_the_same_way_everywhere() -> None:
    """IsProduction, IsPrimaryRegion and IsSecondaryRegion mean the same in every template."""
    expected = {
        "IsProduction": {"Fn::Equals": [{"Ref": "Environment"}, "prod"]},
        "IsPrimaryRegion": {"Fn::Equals": [{"Ref": "DRRole"}, "primary"]},
        "IsSecondaryRegion": {"Fn::Equals": [{"Ref": "DRRole"}, "secondary"]},
    }
    seen = set()
    for name in TEMPLATES:
        for cname, definition in load(name).get("Conditions", {}).items():
            if cname in expected:
                assert definition == expected[cname], f"{name}:{cname}"
                seen.add(cname)
    assert {"IsProduction", "IsPrimaryRegion"} <= seen


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_condition_is_used(name: str) -> None:
    """No template declares a condition it never uses."""
    template = load(name)
    declared = set(template.get("Conditions", {}))
    body = {k: v for k, v in template.items() if k != "Conditions"}
    used = {n["Condition"] for n in walk(body) if isinstance(n, dict)
            and isinstance(n.get("Condition"), str)}
    used |= {n["Fn::If"][0] for n in walk(template) if isinstance(n, dict) and "Fn::If" in n}
    used |= {n["Condition"] for n in walk(template.get("Conditions", {}))
             if isinstance(n, dict) and isinstance(n.get("Condition"), str)}
    assert declared <= used, declared - used


def _taggable(rtype: str) -> str | None:
    """The tag property of a resource type per the CloudFormation schema, if it has one."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    properties = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", rtype).schema[
        "properties"]
    return next((p for p in TAG_PROPERTIES if p in properties), None)


def _tag_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value)
    return {t["Key"] for t in value}


def test_everything_taggable_has_company_environment_and_drrole_tags() -> None:
    """Every resource whose type takes tags carries Company, Environment and DRRole."""
    checked = 0
    for name, logical_id, resource in all_resources():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::LaunchTemplate":
            for spec in props["LaunchTemplateData"]["TagSpecifications"] + props[
                    "TagSpecifications"]:
                assert _tag_keys(spec["Tags"]) >= TAG_KEYS, f"{name}:{logical_id}"
        if resource["Type"] == "AWS::DynamoDB::GlobalTable":
            for replica in props["Replicas"]:
                assert _tag_keys(replica["Tags"]) >= TAG_KEYS, f"{name}:{logical_id}"
            checked += 1
            continue
        tag_property = _taggable(resource["Type"])
        if tag_property is None:
            continue
        assert tag_property in props, f"{name}:{logical_id} ({resource['Type']}) has no tags"
        assert _tag_keys(props[tag_property]) >= TAG_KEYS, f"{name}:{logical_id}"
        checked += 1
    assert checked > 60


def test_stateful_resources_have_deletion_and_update_replace_policies() -> None:
    """Data and key resources declare DeletionPolicy and UpdateReplacePolicy, as intended."""
    for name, logical_id, resource in all_resources():
        allowed = STATEFUL_POLICIES.get(resource["Type"])
        if allowed is None:
            continue
        policies = (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy"))
        assert set(policies) <= allowed, f"{name}:{logical_id} has {policies}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_outputs_are_exported_as_stack_name_dash_output(name: str) -> None:
    """Every output has a Description and is exported as ${AWS::StackName}-<OutputKey>."""
    outputs = load(name)["Outputs"]
    assert outputs
    for key, output in outputs.items():
        assert output["Description"]
        assert output["Export"] == {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{key}"}}, key


@pytest.mark.parametrize(("name", "keys"), [
    ("network.yaml", {"VpcId", "PublicSubnetIds", "PrivateSubnetIds", "DatabaseSubnetIds",
                      "NatGatewayAId", "NatGatewayBId"}),
    ("database.yaml", {"GlobalClusterIdentifier", "ClusterIdentifier", "ClusterArn",
                       "ClusterEndpoint", "ClusterReaderEndpoint", "DatabaseSecretArn",
                       "DatabaseSecretName"}),
    ("dynamodb.yaml", {"TableName", "TableArn", "TableStreamArn"}),
    ("storage.yaml", {"DataBucketName", "ReplicationRuleId"}),
    ("recovery-storage.yaml", {"ReplicaBucketName", "ReplicaBucketArn", "EvidenceBucketName"}),
    ("app.yaml", {"LoadBalancerDNSName", "LoadBalancerCanonicalHostedZoneId",
                  "AutoScalingGroupName", "TargetGroupArn"}),
    ("dns.yaml", {"HostedZoneId", "PrimaryHealthCheckId", "SecondaryHealthCheckId",
                  "AppDnsName"}),
    ("dr-automation.yaml", {"NotificationTopicArn", "OrchestratorFunctionName",
                            "FailoverDocumentName", "FailbackDocumentName"}),
    ("artifacts.yaml", {"ArtifactsBucketName"}),
    ("monitoring.yaml", {"DashboardName", "AlarmNames"}),
    ("backup.yaml", {"BackupVaultName", "BackupPlanId"}),
    ("audit.yaml", {"LogBucketName", "TrailArn"}),
    ("kms.yaml", {"KeyArn"}),
])
def test_outputs_drlib_needs(name: str, keys: set[str]) -> None:
    """Each stack outputs the values drlib's drills read."""
    assert keys <= set(load(name)["Outputs"])


@pytest.mark.parametrize("name", TEMPLATES)
def test_dotted_get_att_uses_the_long_form(name: str) -> None:
    """Attributes with a dot in their name use Fn::GetAtt's long form, never !GetAtt A.B.C."""
    assert not re.search(r"!GetAtt\s+[A-Za-z0-9]+\.[A-Za-z0-9]+\.[A-Za-z0-9]+", raw_text(name))


@pytest.mark.slow  # about 20 s here: cfn-lint loads its schemas and lints 12 templates
def test_cfn_lint_reports_nothing() -> None:
    """cfn-lint finds no error, warning or informational issue in any template."""
    from cfnlint.api import ManualArgs, lint_file

    config = yaml.safe_load((REPO / ".cfnlintrc").read_text())
    args = ManualArgs(ignore_checks=config.get("ignore_checks") or [])
    findings = {name: [str(m) for m in lint_file(TEMPLATES_DIR / name, config=args)]
                for name in TEMPLATES}
    assert findings == {name: [] for name in TEMPLATES}


def test_cfn_lint_ignores_are_listed_once_with_reasons() -> None:
    """Ignored cfn-lint rules live only in .cfnlintrc, each with a reason comment."""
    text = (REPO / ".cfnlintrc").read_text()
    ignored = yaml.safe_load(text).get("ignore_checks") or []
    for rule in ignored:
        line = next(li for li in text.splitlines() if rule in li)
        assert "#" in line, f"{rule} has no reason"
        assert line.split("#", 1)[1].strip(), f"{rule} has no reason"
    for name in TEMPLATES:
        assert "cfn-lint" not in raw_text(name), f"{name} configures cfn-lint inline"


def _checkov() -> subprocess.CompletedProcess[str]:
    from drlib.lambda_package import uv_executable

    uv = uv_executable()  # the environment's own uv: nothing from PATH
    assert uv is not None, "the environment has no uv (a drlib dependency): run make bootstrap"
    # --skip-download: checkov otherwise calls the Prisma Cloud API for guideline links.
    return subprocess.run(
        [uv, "tool", "run", "checkov", "-d", str(TEMPLATES_DIR), "--framework",
         "cloudformation", "--compact", "--skip-download", "--output", "json"],
        capture_output=True, text=True, check=False, timeout=900, cwd=REPO)


# Not marked slow: measured 14-23 s once installed (the brief's threshold for slow is 60 s).
def test_checkov_finds_nothing_unjustified() -> None:
    """checkov (an isolated uv tool) fails no check; every skip in a template has a reason."""
    started = time.monotonic()
    result = _checkov()
    if result.returncode not in (0, 1) or not result.stdout.strip().startswith(("{", "[")):
        pytest.fail(f"checkov did not run: {result.stderr.strip()[-1000:]}")
    report = json.loads(result.stdout)
    reports = [report]
    failed = [f"{c['check_id']} {c['resource']} {c['file_path']}"
              for r in reports for c in r["results"]["failed_checks"]]
    assert failed == []
    skipped = {c["check_id"] for r in reports for c in r["results"].get("skipped_checks", [])}
    declared = {s["id"] for name in TEMPLATES for n in walk(load(name))
                if isinstance(n, dict) and isinstance(n.get("checkov"), dict)
                for s in n["checkov"]["skip"]}
    assert skipped <= declared  # skips come only from template Metadata (with reasons)
    assert report["summary"]["passed"] > 100
    assert time.monotonic() - started < 300


def test_checkov_skips_in_templates_carry_reasons() -> None:
    """Every checkov skip in template Metadata names a check and explains itself."""
    skips = [s for name in TEMPLATES for n in walk(load(name))
             if isinstance(n, dict) and isinstance(n.get("checkov"), dict)
             for s in n["checkov"]["skip"]]
    assert skips
    for skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"])
        assert len(skip["comment"]) > 40, skip


def test_templates_are_not_in_the_project_dependencies() -> None:
    """checkov is not a project dependency (it pins an old boto3)."""
    assert "checkov" not in (REPO / "pyproject.toml").read_text()
    assert Path(REPO / "uv.lock").read_text().count('name = "checkov"') == 0
