"""S3 bucket configuration declared in CloudFormation, read back through the S3 API."""

from __future__ import annotations

import json
import textwrap

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator.extensions.cfn_s3_config import (
    condition_holds,
    intelligent_tiering_configuration,
    lifecycle_rules,
    replication_configuration,
)
from tests.emulator.cfn_support import create_stack, resource_events, settled_stack


def test_lifecycle_rule_translation() -> None:
    """A CloudFormation lifecycle rule becomes the S3 API rule of the same meaning."""
    rules = lifecycle_rules({"Rules": [{
        "Id": "r", "Status": "Enabled", "Prefix": "logs/", "ExpirationInDays": "365",
        "NoncurrentVersionExpirationInDays": 30,
        "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 90}],
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})
    assert rules == [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                      "Expiration": {"Days": 365},
                      "Transition": [{"Days": 90, "Date": None, "StorageClass": "GLACIER"}],
                      "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]


@pytest.mark.parametrize(("declared", "expected"), [
    ({"Prefix": "a/"}, {"Prefix": "a/"}),
    ({"TagFilter": {"Key": "k", "Value": "v"}}, {"Tag": {"Key": "k", "Value": "v"}}),
    ({"And": {"Prefix": "a/", "TagFilters": [{"Key": "k", "Value": "v"}]}},
     {"And": {"Prefix": "a/", "Tag": [{"Key": "k", "Value": "v"}]}}),
])
def test_replication_filter_translation(declared: dict[str, object],
                                        expected: dict[str, object]) -> None:
    """Replication rule filters keep their prefix and tags in the S3 API's shape."""
    config = replication_configuration({"Role": "r", "Rules": [
        {"Status": "Enabled", "Filter": declared, "Destination": {"Bucket": "arn:aws:s3:::d"}}]})
    assert config["Rule"][0]["Filter"] == expected
    assert config["Rule"][0]["Priority"] == 1


def test_intelligent_tiering_translation() -> None:
    """An intelligent-tiering configuration keeps its id, status, filter and tierings."""
    config = intelligent_tiering_configuration({
        "Id": "t", "Status": "Enabled", "Prefix": "data/",
        "Tierings": [{"AccessTier": "ARCHIVE_ACCESS", "Days": "90"}]})
    assert config == {"Id": "t", "Status": "Enabled", "Filter": {"Prefix": "data/"},
                      "Tierings": [{"Days": 90, "AccessTier": "ARCHIVE_ACCESS"}]}


@pytest.mark.parametrize(("condition", "holds"), [
    ({"Bool": {"aws:SecureTransport": "false"}}, False),
    ({"Bool": {"aws:SecureTransport": "true"}}, True),
    ({"StringEquals": {"aws:SourceAccount": "123456789012"}}, False),
    ({"StringEqualsIfExists": {"aws:SourceAccount": "123456789012"}}, True),
    ({"Null": {"aws:SourceAccount": "true"}}, True),
])
def test_bucket_policy_conditions(condition: dict[str, object], holds: bool) -> None:
    """Conditions hold only for what the request is known to carry (a secure transport)."""
    assert condition_holds(condition) is holds


TEMPLATE = """
    Resources:
      Replica:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: cfn-replica
          VersioningConfiguration: {Status: Enabled}
      Data:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: cfn-data
          VersioningConfiguration: {Status: Enabled}
          BucketEncryption:
            ServerSideEncryptionConfiguration:
              - ServerSideEncryptionByDefault: {SSEAlgorithm: "aws:kms", KMSMasterKeyID: alias/dr}
          PublicAccessBlockConfiguration:
            BlockPublicAcls: true
            BlockPublicPolicy: true
            IgnorePublicAcls: true
            RestrictPublicBuckets: true
          LifecycleConfiguration:
            Rules:
              - Id: expire-old-versions
                Status: Enabled
                NoncurrentVersionExpirationInDays: 30
          IntelligentTieringConfigurations:
            - Id: archive
              Status: Enabled
              Tierings: [{AccessTier: ARCHIVE_ACCESS, Days: 90}]
          ReplicationConfiguration:
            Role: arn:aws:iam::123456789012:role/replication
            Rules:
              - Id: everything
                Status: Enabled
                Priority: 1
                Filter: {Prefix: ""}
                DeleteMarkerReplication: {Status: Enabled}
                Destination:
                  Bucket: !GetAtt Replica.Arn
                  StorageClass: STANDARD
                  ReplicationTime: {Status: Enabled, Time: {Minutes: 15}}
                  Metrics: {Status: Enabled, EventThreshold: {Minutes: 15}}
      Evidence:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: cfn-evidence
          ObjectLockEnabled: true
          ObjectLockConfiguration:
            ObjectLockEnabled: Enabled
            Rule: {DefaultRetention: {Mode: COMPLIANCE, Days: 365}}
      EvidencePolicy:
        Type: AWS::S3::BucketPolicy
        Properties:
          Bucket: !Ref Evidence
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: DenyInsecureTransport
                Effect: Deny
                Principal: "*"
                Action: "s3:*"
                Resource: [!GetAtt Evidence.Arn, !Sub "${Evidence.Arn}/*"]
                Condition: {Bool: {"aws:SecureTransport": "false"}}
"""


@pytest.mark.slow
def test_bucket_configuration_is_readable_through_the_s3_api(aws: AwsClients) -> None:
    """Versioning, encryption, public access block, lifecycle, intelligent tiering,
    replication and object lock declared in the template are what the S3 API returns."""
    stack = create_stack(aws, "buckets", TEMPLATE)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    s3 = aws.client("s3", "us-east-1")
    assert s3.get_bucket_versioning(Bucket="cfn-data")["Status"] == "Enabled"
    encryption = s3.get_bucket_encryption(Bucket="cfn-data")[
        "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert encryption == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/dr"}
    block = s3.get_public_access_block(Bucket="cfn-data")["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                     "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket="cfn-data")["Rules"][0]
    assert lifecycle["ID"] == "expire-old-versions"
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    tiering = s3.get_bucket_intelligent_tiering_configuration(
        Bucket="cfn-data", Id="archive")["IntelligentTieringConfiguration"]
    assert tiering["Status"] == "Enabled"
    assert tiering["Tierings"] == [{"Days": 90, "AccessTier": "ARCHIVE_ACCESS"}]
    listed = s3.list_bucket_intelligent_tiering_configurations(Bucket="cfn-data")
    assert [c["Id"] for c in listed["IntelligentTieringConfigurationList"]] == ["archive"]
    replication = s3.get_bucket_replication(Bucket="cfn-data")["ReplicationConfiguration"]
    assert replication["Role"] == "arn:aws:iam::123456789012:role/replication"
    rule = replication["Rules"][0]
    assert rule["ID"] == "everything"
    assert rule["Destination"]["Bucket"] == "arn:aws:s3:::cfn-replica"
    assert rule["Destination"]["ReplicationTime"]["Time"]["Minutes"] == 15
    lock = s3.get_object_lock_configuration(Bucket="cfn-evidence")["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("COMPLIANCE", 365)
    assert s3.get_bucket_versioning(Bucket="cfn-evidence")["Status"] == "Enabled"
    policy = json.loads(s3.get_bucket_policy(Bucket="cfn-evidence")["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"


@pytest.mark.slow
def test_secure_transport_policy_lets_requests_through(aws: AwsClients) -> None:
    """The usual deny-insecure-transport policy does not block the emulator's clients, while a
    plain deny still does."""
    create_stack(aws, "buckets", TEMPLATE)
    s3 = aws.client("s3", "us-east-1")
    s3.put_object(Bucket="cfn-evidence", Key="run/manifest.json", Body=b"{}")
    assert s3.get_object(Bucket="cfn-evidence", Key="run/manifest.json")["Body"].read() == b"{}"
    s3.put_bucket_policy(Bucket="cfn-replica", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::cfn-replica/*"}]}))
    s3.put_object(Bucket="cfn-replica", Key="k", Body=b"x")
    with pytest.raises(ClientError, match=r"403|AccessDenied"):
        s3.get_object(Bucket="cfn-replica", Key="k")


UPDATABLE = """
    Parameters:
      Peer: {Type: String, Default: ''}
    Conditions:
      HasPeer: !Not [!Equals [!Ref Peer, '']]
    Resources:
      Bucket:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: cfn-two-way
          VersioningConfiguration: {Status: Enabled}
          ReplicationConfiguration: !If
            - HasPeer
            - Role: arn:aws:iam::123456789012:role/replication
              Rules:
                - Id: back
                  Status: Enabled
                  Priority: 1
                  Filter: {Prefix: ''}
                  DeleteMarkerReplication: {Status: Enabled}
                  SourceSelectionCriteria:
                    ReplicaModifications: {Status: Enabled}
                  Destination: {Bucket: !Ref Peer}
            - !Ref AWS::NoValue
"""


def test_a_stack_update_adds_then_removes_a_replication_rule(aws: AwsClients) -> None:
    """A bucket created without replication gets the rule a later update declares (the
    reverse rule of two-way replication) and loses it when the update removes it."""
    create_stack(aws, "two-way", UPDATABLE)
    s3 = aws.client("s3", "us-east-1")
    s3.create_bucket(Bucket="cfn-peer")
    s3.put_bucket_versioning(Bucket="cfn-peer", VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(ClientError):
        s3.get_bucket_replication(Bucket="cfn-two-way")
    cloudformation = aws.client("cloudformation", "us-east-1")
    for peer in ("arn:aws:s3:::cfn-peer", ""):
        cloudformation.update_stack(StackName="two-way", TemplateBody=textwrap.dedent(UPDATABLE),
                                    Parameters=[{"ParameterKey": "Peer", "ParameterValue": peer}])
        assert settled_stack(aws, "two-way")["StackStatus"] == "UPDATE_COMPLETE"
        if peer:
            (rule,) = s3.get_bucket_replication(Bucket="cfn-two-way")[
                "ReplicationConfiguration"]["Rules"]
            assert rule["Destination"]["Bucket"] == peer
            assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
            assert rule["SourceSelectionCriteria"] == {
                "ReplicaModifications": {"Status": "Enabled"}}
        else:
            with pytest.raises(ClientError):
                s3.get_bucket_replication(Bucket="cfn-two-way")


def test_a_rule_naming_a_bucket_that_does_not_exist_yet_fails_the_stack(aws: AwsClients
                                                                        ) -> None:
    """A bucket declared with a rule to a bucket that does not exist yet fails and rolls back,
    as on AWS: why the replica bucket's reverse rule is added by a later update."""
    stack = create_stack(aws, "too-early", UPDATABLE,
                         parameters={"Peer": "arn:aws:s3:::cfn-not-yet"})
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [reason for logical_id, status, reason in resource_events(aws, "too-early")
               if logical_id == "Bucket" and status == "CREATE_FAILED"]
    assert reasons
    assert "Destination bucket must exist" in reasons[0]
