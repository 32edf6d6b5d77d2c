"""Cost policies on the templates + var files, and on launched stacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drlib.aws import AwsClients
from drlib.cost.policies import (
    Violation,
    check_deployed,
    check_policies,
    enforce,
    load_policy,
)
from drlib.errors import ConfigError, DrError

REPO = Path(__file__).resolve().parents[2]
REAL_PROJECT = REPO / "sceptre"
REAL_ENVIRONMENTS = sorted(p.stem for p in (REAL_PROJECT / "vars").glob("*.yaml"))


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_fixture_project_passes(fixture_project: Path, environment: str) -> None:
    """The fixture project's environments break no rule."""
    assert check_policies(environment, fixture_project) == []


@pytest.mark.parametrize("environment", REAL_ENVIRONMENTS)
def test_real_configuration_passes(environment: str) -> None:
    """Every environment of the repository's Sceptre project passes its cost policy."""
    assert check_policies(environment, REAL_PROJECT) == []


@pytest.fixture
def real_copy(tmp_path: Path) -> Path:
    """A writable copy of the repository's Sceptre project."""
    if not REAL_ENVIRONMENTS:
        pytest.skip("sceptre/vars has no environments yet")
    return Path(shutil.copytree(REAL_PROJECT, tmp_path / "sceptre"))


def test_real_copy_with_oversized_aurora_class_fails(real_copy: Path) -> None:
    """An oversized Aurora class in dev's var file is reported on each instance, by rule."""
    var_file = real_copy / "vars" / "dev.yaml"
    text = var_file.read_text()
    key = "primary_db_instance_class:"
    assert key in text
    lines = [f"{key} db.r6g.4xlarge" if line.startswith(key) else line
             for line in text.splitlines()]
    var_file.write_text("\n".join(lines) + "\n")
    violations = check_policies("dev", real_copy)
    classes = [v for v in violations if v.rule == "aurora_instance_classes"]
    assert classes
    assert all(v.resource.startswith("primary/database/") for v in classes)
    assert all(v.found == "db.r6g.4xlarge" for v in classes)
    assert "breaks cost policy dev.aurora_instance_classes" in classes[0].message


def test_fixture_copy_with_oversized_template_fails(project_copy: Path) -> None:
    """An oversized class and Auto Scaling size written into the template are both reported."""
    template = project_copy / "templates" / "app.yaml"
    text = template.read_text().replace("InstanceType: !Ref AppInstanceType",
                                        "InstanceType: c6i.xlarge")
    text = text.replace("MaxSize: !Ref AppMaxSize", "MaxSize: '40'")
    template.write_text(text)
    found = {(v.resource, v.rule, v.found) for v in check_policies("dev", project_copy)}
    assert ("primary/app/LaunchTemplate", "ec2_instance_types", "c6i.xlarge") in found
    assert ("secondary/app/AppGroup", "max_asg_size", "MaxSize 40") in found


def test_budget_violation_names_the_environment(project_copy: Path, tmp_path: Path) -> None:
    """An estimate above the budget is a violation of monthly_budget_usd."""
    policies = tmp_path / "policies.yaml"
    policies.write_text(json.dumps({"environments": {"dev": {
        "aurora_instance_classes": ["db.*"], "ec2_instance_types": ["*"], "max_asg_size": 10,
        "monthly_budget_usd": 10}}}))
    violations = check_policies("dev", project_copy, policies)
    assert [(v.resource, v.rule) for v in violations] == [("environment dev",
                                                           "monthly_budget_usd")]


def test_enforce_raises_with_every_message() -> None:
    """enforce raises a DrError naming each resource and rule; nothing when all pass."""
    enforce([])
    violations = [Violation("dev", "primary/app/X", "max_asg_size", "MaxSize <= 4", "MaxSize 9"),
                  Violation("dev", "primary/db/Y", "aurora_instance_classes", "one of a", "b")]
    with pytest.raises(DrError) as err:
        enforce(violations)
    assert "primary/app/X" in str(err.value)
    assert "aurora_instance_classes" in str(err.value)


def test_unknown_environment_policy() -> None:
    """Asking for an environment without a policy raises a ConfigError listing the known ones."""
    with pytest.raises(ConfigError, match="prod"):
        load_policy("qa")


STACK = {
    "Resources": {
        "Template": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {
            "LaunchTemplateData": {"ImageId": "ami-12c6146b", "InstanceType": "c6i.xlarge"}}},
        "Group": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "MinSize": "0", "MaxSize": "9", "DesiredCapacity": "0",
            "AvailabilityZones": ["us-east-1a"],
            "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"},
                               "Version": {"Fn::GetAtt": ["Template", "LatestVersionNumber"]}}}},
        "Database": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "Engine": "postgres", "DBInstanceClass": "db.r6g.4xlarge", "AllocatedStorage": "20",
            "MasterUsername": "app", "MasterUserPassword": "not-a-secret-1"}},
    }
}


@pytest.mark.slow
def test_check_deployed_reads_launched_resources(aws: AwsClients) -> None:
    """Launched instance classes and Auto Scaling sizes are checked, naming stack resources."""
    cfn = aws.client("cloudformation", "us-east-1")
    cfn.create_stack(StackName="cost-policy-test", TemplateBody=json.dumps(STACK))
    found = {(v.resource, v.rule, v.found, v.region)
             for v in check_deployed(aws, ["cost-policy-test"], "dev")}
    assert found == {
        ("cost-policy-test/Group", "max_asg_size", "MaxSize 9", "us-east-1"),
        ("cost-policy-test/Group", "ec2_instance_types", "c6i.xlarge", "us-east-1"),
        ("cost-policy-test/Database", "aurora_instance_classes", "db.r6g.4xlarge", "us-east-1"),
    }
