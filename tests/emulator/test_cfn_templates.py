"""The project's own templates on the emulator: every resource type they use has a
CloudFormation model (none is silently skipped), and the whole project deploys with every
declared resource and deletes without leftovers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from drlib.aws import AwsClients
from drlib.cfn_yaml import read_template
from drlib.emulator.extensions.cfn_hooks import supported_resource_types

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((REPO / "sceptre" / "templates").glob("*.y*ml"))


def _resources(path: Path) -> dict[str, dict[str, Any]]:
    return dict(read_template(path).get("Resources") or {})


def test_every_template_resource_type_has_a_model() -> None:
    """No resource type used under sceptre/templates/ would be skipped by the emulator."""
    if not TEMPLATES:
        pytest.skip("sceptre/templates/ has no templates yet")
    supported = supported_resource_types()
    missing = sorted({f"{resource['Type']} ({path.name}:{name})"
                      for path in TEMPLATES for name, resource in _resources(path).items()
                      if resource["Type"] not in supported
                      and not resource["Type"].startswith("Custom::")})
    assert missing == [], f"resource types the emulator would skip: {missing}"


@pytest.mark.slow
def test_whole_project_deploys_every_resource_and_deletes_cleanly(
        aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """Launching every stack group creates each unconditional resource of each template;
    deleting it leaves no stack, VPC, subnet, bucket, table or cluster behind."""
    from drlib.stacks import SceptreProject

    if not TEMPLATES:
        pytest.skip("sceptre/templates/ has no templates yet")
    monkeypatch.setenv("DR_DATABASE_MASTER_PASSWORD", os.environ.get(
        "DR_DATABASE_MASTER_PASSWORD", ""))
    project = SceptreProject("dev", project_dir=REPO / "sceptre")
    infos = project.launch("")
    plan = project.plan("")
    plan.resolve(command="describe")
    templates = {stack.name: Path(stack.template_handler_config["path"]).name for stack in plan}
    retained: set[str] = set()
    for info in infos:
        resources = _resources(REPO / "sceptre" / "templates" / templates[info.path])
        declared = {name for name, resource in resources.items() if "Condition" not in resource}
        summaries = aws.client("cloudformation", info.region).list_stack_resources(
            StackName=info.stack_name)["StackResourceSummaries"]
        made = {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}
        assert declared - set(made) == set(), f"{info.path} lacks {sorted(declared - set(made))}"
        retained |= {made[name] for name, resource in resources.items()
                     if resource.get("DeletionPolicy") == "Retain" and name in made}

    project.delete("")
    for region in ("us-east-1", "us-west-2"):
        ec2 = aws.client("ec2", region)
        assert [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")] == []
        assert [s for s in ec2.describe_subnets()["Subnets"] if not s["DefaultForAz"]] == []
        assert [n for n in ec2.describe_nat_gateways()["NatGateways"]
                if n["State"] != "deleted"] == []
        assert aws.client("rds", region).describe_db_clusters()["DBClusters"] == []
        # DeletionPolicy: Retain keeps a resource, as on AWS; nothing else may survive.
        assert set(aws.client("dynamodb", region).list_tables()["TableNames"]) <= retained
        statuses = {s["StackStatus"] for s in aws.client("cloudformation", region).list_stacks()[
            "StackSummaries"]}
        assert statuses == {"DELETE_COMPLETE"}
    buckets = {b["Name"] for b in aws.client("s3", "us-east-1").list_buckets()["Buckets"]}
    assert buckets <= retained
