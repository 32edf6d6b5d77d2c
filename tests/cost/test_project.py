"""Reading what a Sceptre project would deploy, without AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drlib.cfn_yaml import load_template
from drlib.cost.project import UNKNOWN, TemplateEvaluator, load_project

BODY: dict[str, Any] = {
    "Parameters": {"Env": {"Type": "String"}, "Count": {"Type": "Number", "Default": 2},
                   "Subnets": {"Type": "CommaDelimitedList", "Default": "a,b,c"},
                   "Vpc": {"Type": "String"}},
    "Mappings": {"Size": {"prod": {"Class": "db.r6g.xlarge"}, "dev": {"Class": "db.t4g.medium"}}},
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                   "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
                   "ProdAndTwo": {"Fn::And": [{"Condition": "IsProd"},
                                              {"Fn::Equals": [{"Ref": "Count"}, "2"]}]},
                   "VpcGiven": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Vpc"}, ""]}]}},
}


@pytest.mark.parametrize(("node", "env", "expected"), [
    ({"Fn::If": ["IsProd", "big", "small"]}, "prod", "big"),
    ({"Fn::If": ["IsProd", "big", "small"]}, "dev", "small"),
    ({"Condition": "NotProd"}, "dev", True),
    ({"Condition": "ProdAndTwo"}, "prod", True),
    ({"Condition": "ProdAndTwo"}, "dev", False),
    ({"Fn::FindInMap": ["Size", {"Ref": "Env"}, "Class"]}, "dev", "db.t4g.medium"),
    ({"Fn::Select": [1, {"Ref": "Subnets"}]}, "dev", "b"),
    ({"Fn::Select": [2, {"Fn::GetAZs": ""}]}, "dev", "us-west-2c"),
    ({"Fn::Sub": "${Env}-${AWS::Region}-${!Literal}"}, "prod", "prod-us-west-2-${Literal}"),
    ({"Fn::Join": ["-", [{"Ref": "Env"}, "x"]]}, "dev", "dev-x"),
    ({"Fn::GetAtt": ["Bucket", "Arn"]}, "dev", UNKNOWN),
    ({"Condition": "VpcGiven"}, "dev", UNKNOWN),  # Vpc comes from an unresolved resolver
    ({"Fn::If": ["VpcGiven", "a", "b"]}, "dev", UNKNOWN),
    ({"Ref": "SomeResource"}, "dev", {"Ref": "SomeResource"}),
])
def test_evaluator_resolves_intrinsics(node: Any, env: str, expected: Any) -> None:
    """Intrinsics resolve from parameters, mappings and region; unknowable inputs stay UNKNOWN."""
    evaluator = TemplateEvaluator(BODY, {"Env": env, "Vpc": UNKNOWN}, "us-west-2")
    assert evaluator.evaluate(node) == expected


def test_resources_follow_conditions() -> None:
    """A resource whose condition is false is absent; an undecidable one is kept and flagged."""
    body = {**BODY, "Resources": {
        "Always": {"Type": "AWS::EC2::NatGateway"},
        "ProdOnly": {"Type": "AWS::EC2::NatGateway", "Condition": "IsProd"},
        "Maybe": {"Type": "AWS::EC2::NatGateway", "Condition": "VpcGiven"}}}
    found = {r[0]: r[3] for r in TemplateEvaluator(body, {"Env": "dev", "Vpc": UNKNOWN},
                                                   "us-east-1").resources()}
    assert found == {"Always": False, "Maybe": True}


@pytest.mark.parametrize(("environment", "nat_per_region", "db_class"), [
    ("dev", 1, "db.t4g.medium"), ("prod", 3, "db.r6g.xlarge")])
def test_load_project_renders_var_files(fixture_project: Path, environment: str,
                                        nat_per_region: int, db_class: str) -> None:
    """Each environment's var file decides the NAT gateway count and the instance class."""
    project = load_project(environment, fixture_project)
    assert project.region_roles() == {"us-east-1": "primary", "us-west-2": "standby"}
    for region in ("us-east-1", "us-west-2"):
        nats = [r for r in project.resources("AWS::EC2::NatGateway") if r.region == region]
        assert len(nats) == nat_per_region
    assert {r.prop("DBInstanceClass") for r in project.resources("AWS::RDS::DBInstance")} == {
        db_class}


def test_stack_output_resolvers_stay_unknown(fixture_project: Path) -> None:
    """A !stack_output parameter is not resolved (that would call AWS): it is UNKNOWN."""
    project = load_project("dev", fixture_project)
    secondary = next(s for s in project.stacks if s.name == "secondary/app")
    assert secondary.parameters["PrimaryBucketArn"] is UNKNOWN


@pytest.mark.parametrize(("text", "expected"), [
    ("A: !Ref X", {"A": {"Ref": "X"}}),
    ("A: !GetAtt DB.Endpoint.Address", {"A": {"Fn::GetAtt": ["DB", "Endpoint.Address"]}}),
    ("A: !Sub ['${X}', {X: !Ref Y}]", {"A": {"Fn::Sub": ["${X}", {"X": {"Ref": "Y"}}]}}),
    ("A: !If [C, !Ref AWS::NoValue, 1]", {"A": {"Fn::If": ["C", {"Ref": "AWS::NoValue"}, 1]}}),
    ("A: !Equals [!Condition C, true]", {"A": {"Fn::Equals": [{"Condition": "C"}, True]}}),
    ('{"A": {"Fn::GetAZs": ""}}', {"A": {"Fn::GetAZs": ""}}),
])
def test_load_template_expands_short_forms(text: str, expected: dict[str, Any]) -> None:
    """Short-form tags become long-form intrinsics; a dotted GetAtt splits at the first dot."""
    assert load_template(text) == expected
