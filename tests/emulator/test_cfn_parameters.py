"""CloudFormation parameter constraints and NoEcho masking on the emulator."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator.extensions.cfn_parameters import RuleError, constraint_violation, rule_violation
from tests.emulator.cfn_support import create_stack

PASSWORD: dict[str, Any] = {"Type": "String", "MinLength": 12, "MaxLength": 41,
                            "AllowedPattern": "[a-zA-Z0-9!#_-]+"}


@pytest.mark.parametrize(("declaration", "value", "message"), [
    (PASSWORD, "short", "Parameter 'P' must contain at least 12 characters"),
    (PASSWORD, "x" * 42, "Parameter 'P' must contain at most 41 characters"),
    (PASSWORD, "has spaces in it", "Parameter 'P' must match pattern [a-zA-Z0-9!#_-]+"),
    (PASSWORD, "abcdefghijkl", None),
    ({**PASSWORD, "ConstraintDescription": "12 to 41 letters or digits"}, "short",
     "Parameter 'P' failed to satisfy constraint: 12 to 41 letters or digits"),
    ({"Type": "String", "AllowedPattern": "dev|prod"}, "production",
     "Parameter 'P' must match pattern dev|prod"),  # a full match, not a search
    ({"Type": "String", "AllowedValues": ["dev", "prod"]}, "test",
     "Parameter 'P' must be one of AllowedValues"),
    ({"Type": "String", "AllowedValues": ["dev", "prod"]}, "prod", None),
    ({"Type": "Number", "MinValue": 1, "MaxValue": 35}, "0",
     "Parameter 'P' must be a number not less than 1"),
    ({"Type": "Number", "MinValue": 1, "MaxValue": 35}, "36",
     "Parameter 'P' must be a number not greater than 35"),
    ({"Type": "Number", "MinValue": 1, "MaxValue": 35}, 7, None),
    ({"Type": "Number"}, "seven", "Parameter 'P' must be a number"),
    ({"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]}, "a,c",
     "Parameter 'P' must be one of AllowedValues"),
    ({"Type": "List<AWS::EC2::Subnet::Id>"}, "subnet-1,subnet-2", None),
    ({"Type": "AWS::SSM::Parameter::Value<String>", "MinLength": 50}, "/short", None),
    ({"Type": "String", "AllowedValues": [True, False]}, "true", None),  # YAML [true, false]
    ({"Type": "String", "AllowedValues": [True, False]}, "false", None),
    ({"Type": "String", "AllowedValues": [True, False]}, "True",
     "Parameter 'P' must be one of AllowedValues"),
    ({"Type": "String", "AllowedValues": [True, False]}, False, None),  # a YAML Default: false
])
def test_constraint_messages(declaration: dict[str, Any], value: Any, message: str | None
                             ) -> None:
    """Each constraint fails with CloudFormation's message, or passes a valid value."""
    assert constraint_violation("P", declaration, value) == message


TEMPLATE = """
    Parameters:
      Environment:
        Type: String
        AllowedValues: [dev, staging, prod]
        Default: dev
      DatabaseMasterPassword:
        Type: String
        NoEcho: true
        MinLength: 12
      Retention:
        Type: Number
        MinValue: 1
        MaxValue: 35
        Default: 7
      Prefix:
        Type: String
        AllowedPattern: "[a-z][a-z0-9-]*"
        ConstraintDescription: lower-case letters, digits and hyphens
        Default: dr
    Resources:
      Marker:
        Type: AWS::SSM::Parameter
        Properties:
          Name: !Sub "/${Prefix}/${Environment}/retention"
          Type: String
          Value: !Ref Retention
"""


def _error(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    return str(caught.value.response["Error"]["Message"])


@pytest.mark.slow
@pytest.mark.parametrize(("parameters", "message"), [
    ({"DatabaseMasterPassword": "too-short"},
     "Parameter 'DatabaseMasterPassword' must contain at least 12 characters"),
    ({"DatabaseMasterPassword": "long-enough-pw", "Environment": "qa"},
     "Parameter 'Environment' must be one of AllowedValues"),
    ({"DatabaseMasterPassword": "long-enough-pw", "Retention": "90"},
     "Parameter 'Retention' must be a number not greater than 35"),
    ({"DatabaseMasterPassword": "long-enough-pw", "Prefix": "DR"},
     "Parameter 'Prefix' failed to satisfy constraint: lower-case letters, digits and hyphens"),
])
def test_create_stack_rejects_invalid_parameters(aws: AwsClients, parameters: dict[str, str],
                                                 message: str) -> None:
    """create_stack fails with a ValidationError naming the parameter, and makes no stack."""
    cloudformation = aws.client("cloudformation", "us-east-1")
    found = _error(lambda: create_stack(aws, "params", TEMPLATE, parameters=parameters))
    assert found == message
    assert cloudformation.list_stacks()["StackSummaries"] == []


@pytest.mark.slow
def test_update_stack_validates_parameters(aws: AwsClients) -> None:
    """update_stack with a value outside the constraints fails and leaves the stack as it was."""
    create_stack(aws, "params", TEMPLATE, parameters={"DatabaseMasterPassword": "long-enough-pw"})
    cloudformation = aws.client("cloudformation", "us-east-1")
    message = _error(lambda: cloudformation.update_stack(
        StackName="params", TemplateBody=textwrap.dedent(TEMPLATE),
        Parameters=[{"ParameterKey": "DatabaseMasterPassword", "UsePreviousValue": True},
                    {"ParameterKey": "Retention", "ParameterValue": "0"}]))
    assert message == "Parameter 'Retention' must be a number not less than 1"
    assert aws.client("ssm", "us-east-1").get_parameter(
        Name="/dr/dev/retention")["Parameter"]["Value"] == "7"


@pytest.mark.slow
def test_no_echo_parameters_are_masked(aws: AwsClients) -> None:
    """describe_stacks shows **** for NoEcho parameters and the real value for the others."""
    stack = create_stack(aws, "params", TEMPLATE,
                         parameters={"DatabaseMasterPassword": "long-enough-pw"})
    shown = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert shown == {"Environment": "dev", "DatabaseMasterPassword": "****",
                     "Retention": "7", "Prefix": "dr"}
    summary = aws.client("cloudformation", "us-east-1").get_template_summary(StackName="params")
    declared = {p["ParameterKey"]: p for p in summary["Parameters"]}
    assert declared["DatabaseMasterPassword"]["NoEcho"] is True


@pytest.mark.slow
def test_change_sets_validate_parameters(aws: AwsClients) -> None:
    """create_change_set, for a new stack or an update, refuses a parameter outside its
    constraints with the same message as create_stack."""
    cloudformation = aws.client("cloudformation", "us-east-1")
    body = textwrap.dedent(TEMPLATE)
    message = _error(lambda: cloudformation.create_change_set(
        StackName="params-cs", ChangeSetName="create", ChangeSetType="CREATE", TemplateBody=body,
        Parameters=[{"ParameterKey": "DatabaseMasterPassword", "ParameterValue": "short"}]))
    assert message == "Parameter 'DatabaseMasterPassword' must contain at least 12 characters"
    create_stack(aws, "params", TEMPLATE, parameters={"DatabaseMasterPassword": "long-enough-pw"})
    message = _error(lambda: cloudformation.create_change_set(
        StackName="params", ChangeSetName="update", ChangeSetType="UPDATE", TemplateBody=body,
        Parameters=[{"ParameterKey": "DatabaseMasterPassword", "UsePreviousValue": True},
                    {"ParameterKey": "Environment", "ParameterValue": "qa"}]))
    assert message == "Parameter 'Environment' must be one of AllowedValues"


BOOLEAN_TEMPLATE = """
    Parameters:
      EnableMarker:
        Type: String
        AllowedValues: [true, false]
        Default: false
    Conditions:
      MarkerEnabled: !Equals [!Ref EnableMarker, "true"]
    Resources:
      Marker:
        Type: AWS::SSM::Parameter
        Condition: MarkerEnabled
        Properties: {Name: /flag/marker, Type: String, Value: !Ref EnableMarker}
      Always:
        Type: AWS::SSM::Parameter
        Properties: {Name: !Sub "/flag/${AWS::StackName}", Type: String, Value: !Ref EnableMarker}
"""


CERTIFICATE_RULE: dict[str, Any] = {"Rules": {"CertificateOutsideDev": {
    "RuleCondition": {"Fn::Or": [{"Fn::Equals": [{"Ref": "Environment"}, "staging"]},
                                 {"Fn::Equals": [{"Ref": "Environment"}, "prod"]}]},
    "Assertions": [{"Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]},
                    "AssertDescription": "CertificateArn is required in staging and prod"}]}}}


@pytest.mark.parametrize(("template", "values", "message"), [
    (CERTIFICATE_RULE, {"Environment": "prod", "CertificateArn": ""},
     "CertificateArn is required in staging and prod"),
    (CERTIFICATE_RULE, {"Environment": "staging", "CertificateArn": ""},
     "CertificateArn is required in staging and prod"),
    (CERTIFICATE_RULE, {"Environment": "prod", "CertificateArn": "arn:cert"}, None),
    (CERTIFICATE_RULE, {"Environment": "dev", "CertificateArn": ""}, None),
    ({"Rules": {"R": {"Assertions": [{"Assert": {"Fn::Contains": [["a", "b"], {"Ref": "P"}]}}]}}},
     {"P": "c"}, "Template validation error: rule R failed"),
    ({"Rules": {"R": {"Assertions": [{"Assert": {"Fn::EachMemberIn": [
        {"Ref": "P"}, ["a", "b"]]}, "AssertDescription": "only a or b"}]}}},
     {"P": "a,b,c"}, "only a or b"),
    ({"Rules": {"R": {"Assertions": [{"Assert": {"Fn::And": [
        {"Fn::EachMemberEquals": [{"Ref": "P"}, "a"]},
        {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]}}]}}},
     {"P": ["a", "a"], "AWS::Region": "us-east-1"}, None),
    ({}, {"P": "x"}, None),
])
def test_rule_messages(template: dict[str, Any], values: dict[str, Any], message: str | None
                       ) -> None:
    """A rule whose condition holds fails with its AssertDescription when an assertion is false."""
    assert rule_violation(template, values) == message


def test_rule_with_an_unknown_reference_is_an_error() -> None:
    """A rule naming a parameter the template does not declare is refused, not passed."""
    with pytest.raises(RuleError, match="Missing"):
        rule_violation({"Rules": {"R": {"Assertions": [
            {"Assert": {"Fn::Equals": [{"Ref": "Missing"}, ""]}}]}}}, {})


RULE_TEMPLATE = """
    Parameters:
      Environment:
        Type: String
        AllowedValues: [dev, staging, prod]
      CertificateArn:
        Type: String
        Default: ''
    Rules:
      CertificateOutsideDev:
        RuleCondition: !Or [!Equals [!Ref Environment, staging], !Equals [!Ref Environment, prod]]
        Assertions:
          - Assert: !Not [!Equals [!Ref CertificateArn, '']]
            AssertDescription: CertificateArn is required in staging and prod
    Resources:
      Marker:
        Type: AWS::SSM::Parameter
        Properties:
          Name: !Sub "/rules/${Environment}"
          Type: String
          Value: !Sub "cert=${CertificateArn}"
"""


@pytest.mark.slow
def test_yaml_boolean_allowed_values_take_true_and_false_as_cloudformation_does(
        aws: AwsClients) -> None:
    """AllowedValues [true, false] accepts "true", the default reads "false", "yes" is refused."""
    ssm = aws.client("ssm", "us-east-1")
    on = create_stack(aws, "flag-on", BOOLEAN_TEMPLATE, parameters={"EnableMarker": "true"})
    assert on["StackStatus"] == "CREATE_COMPLETE"
    assert on["Parameters"] == [{"ParameterKey": "EnableMarker", "ParameterValue": "true"}]
    assert ssm.get_parameter(Name="/flag/marker")["Parameter"]["Value"] == "true"
    off = create_stack(aws, "flag-off", BOOLEAN_TEMPLATE)
    assert off["Parameters"] == [{"ParameterKey": "EnableMarker", "ParameterValue": "false"}]
    assert ssm.get_parameter(Name="/flag/flag-off")["Parameter"]["Value"] == "false"
    message = _error(lambda: create_stack(aws, "flag-bad", BOOLEAN_TEMPLATE,
                                          parameters={"EnableMarker": "yes"}))
    assert message == "Parameter 'EnableMarker' must be one of AllowedValues"


@pytest.mark.slow
def test_create_stack_enforces_rules_before_anything_is_made(aws: AwsClients) -> None:
    """A failing rule refuses create_stack and its change set with the AssertDescription and
    makes no stack; where the rule's condition is false the stack is created."""
    cloudformation = aws.client("cloudformation", "us-east-1")
    found = _error(lambda: create_stack(aws, "rules", RULE_TEMPLATE,
                                        parameters={"Environment": "prod"}))
    assert found == "CertificateArn is required in staging and prod"
    found = _error(lambda: cloudformation.create_change_set(
        StackName="rules-cs", ChangeSetName="create", ChangeSetType="CREATE",
        TemplateBody=textwrap.dedent(RULE_TEMPLATE),
        Parameters=[{"ParameterKey": "Environment", "ParameterValue": "staging"}]))
    assert found == "CertificateArn is required in staging and prod"
    assert cloudformation.list_stacks()["StackSummaries"] == []
    assert create_stack(aws, "rules", RULE_TEMPLATE, parameters={"Environment": "dev"})[
        "StackStatus"] == "CREATE_COMPLETE"
    message = _error(lambda: cloudformation.update_stack(
        StackName="rules", TemplateBody=textwrap.dedent(RULE_TEMPLATE),
        Parameters=[{"ParameterKey": "Environment", "ParameterValue": "prod"}]))
    assert message == "CertificateArn is required in staging and prod"
    assert aws.client("ssm", "us-east-1").get_parameter(Name="/rules/dev")["Parameter"]
