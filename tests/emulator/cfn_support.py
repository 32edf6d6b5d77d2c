"""Deploying small CloudFormation templates on the emulator, for the ``test_cfn_*`` tests."""

from __future__ import annotations

import textwrap
from typing import Any

from drlib.aws import AwsClients
from drlib.waiting import wait_until

SETTLED = ("CREATE_COMPLETE", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED",
           "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED",
           "DELETE_COMPLETE", "DELETE_FAILED")


def create_stack(aws: AwsClients, name: str, template: str, region: str = "us-east-1",
                 parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """Create a stack from an (indented) YAML template and return it once it settles."""
    cloudformation = aws.client("cloudformation", region)
    cloudformation.create_stack(
        StackName=name, TemplateBody=textwrap.dedent(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v}
                    for k, v in (parameters or {}).items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
    return settled_stack(aws, name, region)


def settled_stack(aws: AwsClients, name: str, region: str = "us-east-1") -> dict[str, Any]:
    """The stack once its status is final (the emulator settles at once; AWS would not)."""
    cloudformation = aws.client("cloudformation", region)

    def probe() -> dict[str, Any] | None:
        stack: dict[str, Any] = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        return stack if stack["StackStatus"] in SETTLED else None

    result: dict[str, Any] = wait_until(probe, description=f"stack {name} to settle",
                                        timeout=10)
    return result


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    """A stack's outputs as a mapping."""
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def physical_ids(aws: AwsClients, name: str, region: str = "us-east-1") -> dict[str, str]:
    """Logical id -> physical id of every resource of the stack."""
    summaries = aws.client("cloudformation", region).list_stack_resources(
        StackName=name)["StackResourceSummaries"]
    return {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}


def resource_events(aws: AwsClients, name: str, region: str = "us-east-1"
                    ) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) of every stack event, oldest first."""
    events = aws.client("cloudformation", region).describe_stack_events(
        StackName=name)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason") or "")
            for e in reversed(events)]
