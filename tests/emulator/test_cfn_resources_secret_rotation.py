"""AWS::SecretsManager::RotationSchedule on the emulator: recorded on the secret as Secrets
Manager shows it; what the emulator cannot do (run the function now) is refused."""

from __future__ import annotations

import pytest

from drlib.aws import AwsClients
from drlib.emulator.extensions.cfn_resources_secret_rotation import rotation_days
from tests.emulator.cfn_support import create_stack

TEMPLATE = """
    Parameters:
      Immediately:
        Type: String
        Default: 'false'
    Resources:
      Secret:
        Type: AWS::SecretsManager::Secret
        Properties:
          Name: rotated-secret
          GenerateSecretString:
            SecretStringTemplate: '{"username": "u"}'
            GenerateStringKey: password
      Schedule:
        Type: AWS::SecretsManager::RotationSchedule
        Properties:
          SecretId: !Ref Secret
          RotationLambdaARN: arn:aws:lambda:us-east-1:123456789012:function:rotate
          RotateImmediatelyOnUpdate: !Ref Immediately
          RotationRules: {AutomaticallyAfterDays: 30}
"""


@pytest.mark.parametrize(("rules", "days"), [({"AutomaticallyAfterDays": "30"}, 30),
                                             ({"AutomaticallyAfterDays": 0}, None), ({}, None)])
def test_rotation_days(rules: dict[str, object], days: int | None) -> None:
    """AutomaticallyAfterDays must be 1-1000, as Secrets Manager checks it."""
    if days is None:
        with pytest.raises(ValueError, match="1-1000"):
            rotation_days(rules)
    else:
        assert rotation_days(rules) == days


@pytest.mark.slow
def test_schedule_is_recorded_on_the_secret(aws: AwsClients) -> None:
    """describe_secret shows rotation enabled with the function, the rules and a next date."""
    assert create_stack(aws, "rotation", TEMPLATE)["StackStatus"] == "CREATE_COMPLETE"
    secret = aws.client("secretsmanager", "us-east-1").describe_secret(SecretId="rotated-secret")
    assert secret["RotationEnabled"] is True
    assert secret["RotationLambdaARN"].endswith(":function:rotate")
    assert secret["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert "NextRotationDate" in secret


@pytest.mark.slow
def test_immediate_rotation_is_refused_not_pretended(aws: AwsClients) -> None:
    """A schedule that would run the function at deploy time fails the stack with the reason."""
    stack = create_stack(aws, "rotation", TEMPLATE, parameters={"Immediately": "true"})
    assert stack["StackStatus"] != "CREATE_COMPLETE"
    reasons = " ".join(e.get("ResourceStatusReason") or "" for e in aws.client(
        "cloudformation", "us-east-1").describe_stack_events(StackName="rotation")["StackEvents"])
    assert "RotateImmediatelyOnUpdate" in reasons
