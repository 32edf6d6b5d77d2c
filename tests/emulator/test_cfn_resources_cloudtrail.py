"""AWS::CloudTrail::Trail on the emulator: created with its selectors and logging, deleted with
the stack."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator.extensions.cfn_resources_cloudtrail import event_selectors
from tests.emulator.cfn_support import create_stack, outputs

TEMPLATE = """
    Resources:
      Logs:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: trail-logs-bucket
      Trail:
        Type: AWS::CloudTrail::Trail
        Properties:
          TrailName: audit-trail
          S3BucketName: !Ref Logs
          S3KeyPrefix: cloudtrail
          IsLogging: true
          IsMultiRegionTrail: true
          EnableLogFileValidation: true
          EventSelectors:
            - ReadWriteType: All
              IncludeManagementEvents: true
              DataResources:
                - Type: AWS::S3::Object
                  Values: ['arn:aws:s3:::data-bucket/']
    Outputs:
      TrailName:
        Value: !Ref Trail
      TrailArn:
        Value: !GetAtt Trail.Arn
"""


def test_event_selectors_take_cloudformation_booleans() -> None:
    """'false' from a template is False for the CloudTrail API, and data resources are kept."""
    assert event_selectors([{"IncludeManagementEvents": "false", "DataResources": [
        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::b/"]}]}]) == [
        {"ReadWriteType": "All", "IncludeManagementEvents": False,
         "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::b/"]}]}]


@pytest.mark.slow
def test_trail_is_created_logging_with_data_events_and_deleted_with_the_stack(
        aws: AwsClients) -> None:
    """The stack's trail is multi-region, validates log files, logs, and records S3 data events
    of the declared bucket; deleting the stack deletes the trail."""
    stack = create_stack(aws, "trail", TEMPLATE)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    cloudtrail = aws.client("cloudtrail", "us-east-1")
    (trail,) = cloudtrail.describe_trails(trailNameList=["audit-trail"])["trailList"]
    assert trail["TrailARN"] == outputs(stack)["TrailArn"]
    assert trail["S3BucketName"] == "trail-logs-bucket"
    assert trail["IsMultiRegionTrail"] is True
    assert trail["LogFileValidationEnabled"] is True
    assert cloudtrail.get_trail_status(Name="audit-trail")["IsLogging"] is True
    (selector,) = cloudtrail.get_event_selectors(TrailName="audit-trail")["EventSelectors"]
    assert selector["DataResources"] == [{"Type": "AWS::S3::Object",
                                          "Values": ["arn:aws:s3:::data-bucket/"]}]
    aws.client("cloudformation", "us-east-1").delete_stack(StackName="trail")
    with pytest.raises(ClientError):
        cloudtrail.get_trail_status(Name="audit-trail")
