"""Template Conditions on the emulator: nested functions and references to other conditions
decide which resources exist, as on CloudFormation."""

from __future__ import annotations

import pytest

from drlib.aws import AwsClients
from tests.emulator.cfn_support import create_stack, physical_ids

TEMPLATE = """
    Parameters:
      Trail: {Type: String, Default: ''}
      Role: {Type: String, Default: primary}
    Conditions:
      IsPrimary: !Equals [!Ref Role, primary]
      HasTrail: !Not [!Equals [!Ref Trail, '']]
      CreateOwn: !And [!Condition IsPrimary, !Not [!Condition HasTrail]]
      EitherWay: !Or [!Condition HasTrail, !Equals [!Ref Role, secondary]]
    Resources:
      Own:
        Type: AWS::SSM::Parameter
        Condition: CreateOwn
        Properties: {Name: own, Type: String, Value: own}
      Either:
        Type: AWS::SSM::Parameter
        Condition: EitherWay
        Properties: {Name: either, Type: String, Value: either}
      Always:
        Type: AWS::SSM::Parameter
        Properties: {Name: always, Type: String, Value: always}
"""


@pytest.mark.slow
@pytest.mark.parametrize(("parameters", "made"), [
    ({}, {"Own", "Always"}),
    ({"Trail": "arn:trail"}, {"Either", "Always"}),
    ({"Role": "secondary"}, {"Either", "Always"}),
])
def test_nested_conditions_decide_which_resources_exist(
        aws: AwsClients, parameters: dict[str, str], made: set[str]) -> None:
    """!Condition inside !And, !Not and !Or is the named condition's value."""
    create_stack(aws, "conditions", TEMPLATE, parameters=parameters)
    assert set(physical_ids(aws, "conditions")) == made
