"""The aws layer: sessions, clients and the service models they share."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from drlib.aws import AwsClients, model_loader, new_session, timestamp


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
    if ours.tzinfo is not None:
        assert ours.utcoffset() == theirs.utcoffset()


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


def test_a_session_uses_the_profile_it_is_given_not_aws_profile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As boto3.Session: the profile passed wins over AWS_PROFILE (even one that does not
    exist), and its credentials are the session's."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "config"
    config.write_text("[profile good]\nregion = eu-west-1\n"
                      "aws_access_key_id = good-key\naws_secret_access_key = good-secret\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "stale")
    session = new_session(profile_name="good")
    assert session.region_name == "eu-west-1"
    assert session.get_credentials().access_key == "good-key"
    assert session.client("sts").meta.region_name == "eu-west-1"


def test_the_list_of_services_stays_each_loader_s_own() -> None:
    """The services a loader lists depend on its search paths (boto3 adds its resources): a
    plain loader's list is not what a boto3 session then sees, in either order."""
    plain = model_loader()
    assert plain.list_available_services("resources-1") == []
    session = new_session(region_name="us-east-1")
    assert "dynamodb" in session.get_available_resources()
    assert model_loader().list_available_services("resources-1") == []
