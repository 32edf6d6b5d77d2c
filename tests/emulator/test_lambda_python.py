"""Python Lambda functions run from their package without Docker: payload, FunctionError,
timeout, environment, context, logs in CloudWatch Logs, other runtimes refused."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.waiting import wait_until
from tests.emulator.automation_support import create_runbook, run, statuses

REGION = "us-west-2"

HANDLER = '''
import os, time
import boto3

def ok(event, context):
    print("got", event["name"])
    return {"hello": event["name"], "colour": os.environ["COLOUR"],
            "function": context.function_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "region": boto3.client("sts").meta.region_name,
            "topics": len(boto3.client("sns").list_topics()["Topics"])}

def boom(event, context):
    raise KeyError("no such order")

def slow(event, context):
    time.sleep(30)
'''


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app/handler.py", HANDLER)
        archive.writestr("app/__init__.py", "")
    return buffer.getvalue()


@pytest.fixture
def functions(aws: AwsClients) -> Any:
    """A Lambda client in us-west-2 with functions ok, boom and slow (timeout 1 s)."""
    role = aws.client("iam", REGION).create_role(
        RoleName="fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                            "Statement": []}))["Role"]["Arn"]
    client = aws.client("lambda", REGION)
    for name, timeout in (("ok", 10), ("boom", 10), ("slow", 1)):
        client.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                               Handler=f"app/handler.{name}", Code={"ZipFile": _package()},
                               Timeout=timeout, Environment={"Variables": {"COLOUR": "teal"}})
    client.create_function(FunctionName="node", Runtime="nodejs20.x", Role=role,
                           Handler="index.handler", Code={"ZipFile": _package()})
    aws.client("sns", REGION).create_topic(Name="seen-from-the-function")
    return client


def test_a_handler_that_returns(functions: Any) -> None:
    """The return value is the payload; environment, context and boto3 in the region work."""
    answer = functions.invoke(FunctionName="ok", Payload=json.dumps({"name": "ada"}),
                              LogType="Tail")
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    payload = json.loads(answer["Payload"].read())
    assert payload["hello"] == "ada"
    assert payload["colour"] == "teal"
    assert payload["function"] == "ok"
    assert 0 < payload["remaining_ms"] <= 10000
    assert payload["region"] == REGION
    assert payload["topics"] == 1
    tail = base64.b64decode(answer["LogResult"]).decode()
    assert "got ada" in tail
    assert "REPORT RequestId:" in tail


def test_a_handler_that_raises(functions: Any) -> None:
    """An exception gives FunctionError Unhandled and Lambda's error payload."""
    answer = functions.invoke(FunctionName="boom", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    payload = json.loads(answer["Payload"].read())
    assert payload["errorType"] == "KeyError"
    assert payload["errorMessage"] == "'no such order'"
    assert any("handler.py" in line for line in payload["stackTrace"])


def test_a_handler_that_times_out(functions: Any) -> None:
    """A handler past its Timeout is stopped: Sandbox.Timedout after 1.00 seconds."""
    answer = functions.invoke(FunctionName="slow", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    payload = json.loads(answer["Payload"].read())
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]


def test_invocations_are_logged_to_cloudwatch_logs(aws: AwsClients, functions: Any) -> None:
    """Each invocation writes START, the handler's output, END and REPORT to /aws/lambda/ok."""
    functions.invoke(FunctionName="ok", Payload=json.dumps({"name": "grace"}))
    logs = aws.client("logs", REGION)
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/ok")["logStreams"]
    assert len(streams) == 1
    assert "[$LATEST]" in streams[0]["logStreamName"]
    messages = [e["message"] for e in logs.get_log_events(
        logGroupName="/aws/lambda/ok", logStreamName=streams[0]["logStreamName"])["events"]]
    assert messages[0].startswith("START RequestId:")
    assert "got grace" in messages
    assert messages[-2].startswith("END RequestId:")
    assert messages[-1].startswith("REPORT RequestId:")


def test_an_event_invocation_returns_at_once_and_runs(aws: AwsClients, functions: Any) -> None:
    """InvocationType Event answers 202 and the function still runs (its log appears)."""
    answer = functions.invoke(FunctionName="ok", InvocationType="Event",
                              Payload=json.dumps({"name": "async"}))
    assert answer["StatusCode"] == 202
    logs = aws.client("logs", REGION)

    def logged() -> bool:
        try:
            return bool(logs.describe_log_streams(logGroupName="/aws/lambda/ok")["logStreams"])
        except ClientError:
            return False

    wait_until(logged, description="the event invocation's log", timeout=30)


def test_other_runtimes_are_refused(functions: Any) -> None:
    """A Node.js function is refused with a message naming its runtime."""
    with pytest.raises(ClientError) as error:
        functions.invoke(FunctionName="node", Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "InvalidRuntimeException"
    assert "nodejs20.x" in error.value.response["Error"]["Message"]


def test_a_runbook_invokes_the_function(aws: AwsClients, functions: Any) -> None:
    """aws:invokeLambdaFunction passes the payload and its output; a FunctionError fails the
    step with the function's error."""
    ssm = aws.client("ssm", REGION)
    create_runbook(ssm, "call-lambda", steps=[
        {"name": "Call", "action": "aws:invokeLambdaFunction",
         "inputs": {"FunctionName": "ok", "Payload": '{"name": "runbook"}'},
         "outputs": [{"Name": "Hello", "Selector": "$.Payload.hello"}]},
        {"name": "Fail", "action": "aws:invokeLambdaFunction",
         "inputs": {"FunctionName": "boom"}},
    ])
    found = run(ssm, "call-lambda")
    assert statuses(found) == [("Call", "Success"), ("Fail", "Failed")]
    assert found["StepExecutions"][0]["Outputs"]["Hello"] == ["runbook"]
    assert found["StepExecutions"][0]["Outputs"]["StatusCode"] == ["200"]
    assert "failed (Unhandled)" in found["FailureMessage"]
    assert "no such order" in found["FailureMessage"]


def test_invoke_in_a_downed_region_is_refused(aws: AwsClients, functions: Any) -> None:
    """While us-west-2 is down its functions cannot be invoked (HTTP 503)."""
    no_retry = aws.session(REGION).client("lambda", endpoint_url=aws.endpoint_url,
                                          config=Config(retries={"max_attempts": 1}))
    faults.take_region_down(REGION)
    try:
        with pytest.raises(ClientError) as error:
            no_retry.invoke(FunctionName="ok", Payload=json.dumps({"name": "x"}))
    finally:
        faults.bring_region_up(REGION)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert "region-down" in error.value.response["Error"]["Message"]
