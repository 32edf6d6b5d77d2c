"""The short form ``!Condition`` inside ``!And`` / ``!Or`` / ``!Not`` evaluates the named
condition, as CloudFormation does."""

from __future__ import annotations

import pytest

from drlib.aws import AwsClients
from tests.emulator.cfn_support import create_stack, outputs

TEMPLATE = """
    Parameters:
      Name: {Type: String, Default: ''}
      Role: {Type: String, Default: secondary}
    Conditions:
      HasName: !Not [!Equals [!Ref Name, '']]
      NamedSecondary: !And
        - !Equals [!Ref Role, secondary]
        - !Condition HasName
    Resources:
      Topic:
        Type: AWS::SNS::Topic
        Condition: NamedSecondary
    Outputs:
      TopicArn:
        Condition: NamedSecondary
        Value: !Ref Topic
    """


@pytest.mark.parametrize(("name", "created"), [("x", True), ("", False)])
def test_a_short_form_condition_reference_is_evaluated(aws: AwsClients, name: str,
                                                       created: bool) -> None:
    """!Condition HasName inside !And is true exactly when the referenced condition is."""
    stack = create_stack(aws, f"condition-{created}", TEMPLATE, parameters={"Name": name})
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert ("TopicArn" in outputs(stack)) is created
