"""The aws layer: sessions, clients and the service models they share."""

from __future__ import annotations

import os
from typing import Any

import pytest

from drlib.aws import AwsClients, new_session, timestamp


def _loader(session: Any) -> Any:
    return session._session.get_component("data_loader")


def test_sessions_read_each_service_model_once_per_process() -> None:
    """Two sessions get the same parsed model (read once), each with a loader of its own whose
    search paths do not grow with the sessions made."""
    first, second = (new_session(region_name=r, aws_access_key_id="x", aws_secret_access_key="y")
                     for r in ("us-east-1", "us-west-2"))
    assert _loader(first) is not _loader(second)
    assert _loader(first).load_service_model("sts", "service-2") is \
        _loader(second).load_service_model("sts", "service-2")
    paths = list(_loader(first).search_paths)
    new_session(region_name="us-east-1")
    assert _loader(first).search_paths == paths
    # boto3's own data (its resources) is still found.
    assert "dynamodb" in second.get_available_resources()


def test_clients_of_separate_aws_clients_are_their_own_with_their_region_and_endpoint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared models change nothing a client is: region, endpoint and credentials stay each
    session's own."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    east = AwsClients(endpoint_url="http://127.0.0.1:1",
                      credentials={"aws_access_key_id": "a", "aws_secret_access_key": "b"})
    west = AwsClients(credentials={"aws_access_key_id": "c", "aws_secret_access_key": "d"})
    one, other = east.client("sts", "us-east-1"), west.client("sts", "us-west-2")
    assert one is not other
    assert one.meta.region_name == "us-east-1"
    assert other.meta.region_name == "us-west-2"
    assert one.meta.endpoint_url == "http://127.0.0.1:1"
    assert other.meta.endpoint_url == "https://sts.us-west-2.amazonaws.com"
    assert east.session("us-east-1").get_credentials().access_key == "a"
    assert west.session("us-west-2").get_credentials().secret_key == "d"
    assert east.client("sts", "us-east-1") is one


@pytest.mark.parametrize("value", [
    "2026-12-07T03:18:34.123000Z", "2026-12-07T03:18:34Z", "2026-12-07T05:18:34.5+02:00",
    "2026-12-07T03:18:34", "Mon, 07 Dec 2026 03:18:34 GMT", 1796613514.25, "1796613514",
])
def test_timestamps_are_the_instants_botocore_reads(value: Any) -> None:
    """Every form a response carries reads as the same instant as botocore's own parser; those
    without an offset are botocore's reading itself."""
    from botocore.utils import parse_timestamp

    ours, theirs = timestamp(value), parse_timestamp(value)
    assert ours == theirs
    assert (ours.tzinfo is None) is (theirs.tzinfo is None)
    if isinstance(value, str) and value[-1] not in "Z0":
        assert ours.tzinfo == theirs.tzinfo


def test_a_session_s_clients_read_timestamps_with_it() -> None:
    """A client of a new session parses its responses' timestamps with :func:`timestamp`."""
    client = new_session(region_name="us-east-1", aws_access_key_id="x",
                         aws_secret_access_key="y").client("cloudformation")
    parser = client._endpoint._response_parser_factory.create_parser("query")
    assert parser._timestamp_parser is timestamp
    body = (b'<DescribeStacksResponse><DescribeStacksResult><Stacks><member>'
            b'<StackName>s</StackName><CreationTime>2026-12-07T03:18:34.5Z</CreationTime>'
            b'</member></Stacks></DescribeStacksResult></DescribeStacksResponse>')
    parsed = parser.parse({"body": body, "headers": {}, "status_code": 200},
                          client.meta.service_model.operation_model("DescribeStacks")
                          .output_shape)
    assert parsed["Stacks"][0]["CreationTime"] == timestamp("2026-12-07T03:18:34.5Z")
