"""Two-way S3 replication as the templates and stack configs declare it, for every environment:
the data bucket replicates to the replica bucket and back, delete markers and replica
modifications follow both ways, and the launch order lets each rule's destination exist first."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from drlib.sceptre_hooks import StackOutputIfExists
from tests.templates.cfn import ENVIRONMENTS
from tests.templates.test_posture import effective, parameters, stack_config, variables


def _rule(bucket: dict[str, Any]) -> dict[str, Any]:
    (rule,) = bucket["Properties"]["ReplicationConfiguration"]["Rules"]
    return rule


def _synced(rule: dict[str, Any]) -> None:
    """A whole-bucket rule that carries delete markers and replica modifications, KMS-encrypted
    objects included, with Replication Time Control and metrics."""
    assert rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": ""}
    assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"},
                                               "ReplicaModifications": {"Status": "Enabled"}}
    assert rule["Destination"]["ReplicationTime"]["Status"] == "Enabled"
    assert rule["Destination"]["Metrics"]["Status"] == "Enabled"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_both_replication_rules_exist_in_every_environment(environment: str) -> None:
    """The data bucket's rule names the replica bucket and the replica bucket's rule names the
    data bucket, each encrypting with the destination region's key, both versioned."""
    forward_values = parameters(environment, "primary/storage.yaml")
    data = effective("storage.yaml", forward_values)["Resources"]["DataBucket"]
    forward = _rule(data)
    _synced(forward)
    assert forward["Destination"]["Bucket"] == {"Ref": "ReplicaBucketArn"}
    assert forward_values["ReplicaBucketArn"] == (
        "stack_output", "secondary/recovery-storage.yaml::ReplicaBucketArn")
    assert forward_values["ReplicaKmsKeyArn"] == ("stack_output", "secondary/kms.yaml::KeyArn")

    back_values = parameters(environment, "secondary/recovery-storage.yaml")
    resources = effective("recovery-storage.yaml", back_values)["Resources"]
    back = _rule(resources["ReplicaBucket"])
    _synced(back)
    assert back["Destination"]["Bucket"] == {"Ref": "DataBucketArn"}
    assert back["Destination"]["EncryptionConfiguration"] == {
        "ReplicaKmsKeyID": {"Ref": "DataKmsKeyArn"}}
    assert back_values["DataKmsKeyArn"] == ("stack_output", "primary/kms.yaml::KeyArn")
    settings = variables(environment)
    assert back_values["DataBucketArn"] == ("drlib_stack_output_if_exists", {
        "stack": f"{settings['company_name']}-{environment}-dr-primary-storage",
        "output": "DataBucketArn", "region": settings["primary_region"]})
    assert "ReplicationRole" in resources
    for bucket in (data, resources["ReplicaBucket"]):
        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
        assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_reverse_rule_waits_for_the_data_bucket_and_is_added_after_it(environment: str
                                                                          ) -> None:
    """Created before the data bucket (DataBucketArn empty) the replica bucket has no rule and
    no replication role; creating the data bucket launches the replica bucket's stack again."""
    values = parameters(environment, "secondary/recovery-storage.yaml") | {"DataBucketArn": ""}
    resources = effective("recovery-storage.yaml", values)["Resources"]
    assert "ReplicationConfiguration" not in resources["ReplicaBucket"]["Properties"]
    assert "ReplicationRole" not in resources
    hooks = stack_config(environment, "primary/storage.yaml")["hooks"]
    (launch,) = hooks["after_create"]
    assert launch[0] == "drlib_launch"
    assert launch[1]["path"] == "secondary/recovery-storage.yaml"
    assert launch[1]["variables"] == variables(environment)
    for event in ("before_create", "before_update"):  # the group's settings check, repeated
        assert [hook[0] for hook in hooks[event]] == ["drlib_preflight"]


class _Connection:
    """Sceptre's connection manager, answering describe_stacks with a fixed outcome."""

    def __init__(self, outcome: dict[str, Any] | ClientError) -> None:
        self.outcome = outcome
        self.calls: list[dict[str, Any]] = []

    def call(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if isinstance(self.outcome, ClientError):
            raise self.outcome
        return self.outcome


def _resolve(outcome: dict[str, Any] | ClientError) -> tuple[str, list[dict[str, Any]]]:
    resolver = StackOutputIfExists({"stack": "acme-dev-dr-primary-storage",
                                    "output": "DataBucketArn", "region": "us-east-1"})
    connection = _Connection(outcome)
    resolver.stack = type("Stack", (), {"connection_manager": connection})()
    return resolver.resolve(), connection.calls


def _error(code: str, message: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeStacks")


def test_the_optional_output_is_empty_until_the_stack_exists() -> None:
    """No stack (or one rolled back): ""; a created stack: its output, read in its region."""
    missing = _error("ValidationError", "Stack with id acme-dev-dr-primary-storage does not "
                     "exist", 400)
    assert _resolve(missing)[0] == ""
    assert _resolve({"Stacks": [{"StackStatus": "ROLLBACK_COMPLETE"}]})[0] == ""
    value, calls = _resolve({"Stacks": [{"StackStatus": "CREATE_COMPLETE", "Outputs": [
        {"OutputKey": "DataBucketArn", "OutputValue": "arn:aws:s3:::acme-dev-dr-data-1"}]}]})
    assert value == "arn:aws:s3:::acme-dev-dr-data-1"
    assert calls[0]["region"] == "us-east-1"
    assert calls[0]["kwargs"] == {"StackName": "acme-dev-dr-primary-storage"}


def test_an_unreachable_region_is_an_error_not_an_empty_output() -> None:
    """A region that does not answer raises: an empty value would remove the reverse rule."""
    with pytest.raises(ClientError):
        _resolve(_error("ServiceUnavailable", "Service Unavailable", 503))
