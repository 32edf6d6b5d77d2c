"""Creating Automation documents and waiting for executions on the emulator, for tests."""

from __future__ import annotations

import json
from typing import Any

from drlib.waiting import wait_until

TERMINAL = ("Success", "Failed", "TimedOut", "Cancelled")


def create_runbook(ssm: Any, name: str, steps: list[dict[str, Any]],
                   parameters: dict[str, Any] | None = None,
                   outputs: list[str] | None = None) -> None:
    """Create an Automation document from its steps."""
    content: dict[str, Any] = {"schemaVersion": "0.3", "parameters": parameters or {},
                               "mainSteps": steps}
    if outputs:
        content["outputs"] = outputs
    ssm.create_document(Name=name, DocumentType="Automation", DocumentFormat="JSON",
                        Content=json.dumps(content))


def execution(ssm: Any, execution_id: str) -> dict[str, Any]:
    """GetAutomationExecution's AutomationExecution."""
    found: dict[str, Any] = ssm.get_automation_execution(
        AutomationExecutionId=execution_id)["AutomationExecution"]
    return found


def wait_for_status(ssm: Any, execution_id: str, statuses: tuple[str, ...] = TERMINAL,
                    timeout: float = 60) -> dict[str, Any]:
    """The execution once its status is one of ``statuses``."""
    def probe() -> dict[str, Any] | None:
        found = execution(ssm, execution_id)
        return found if found["AutomationExecutionStatus"] in statuses else None

    result: dict[str, Any] = wait_until(
        probe, description=f"automation {execution_id} to reach {statuses}", timeout=timeout,
        interval=0.1, max_interval=0.5)
    return result


def run(ssm: Any, name: str, parameters: dict[str, list[str]] | None = None,
        timeout: float = 60) -> dict[str, Any]:
    """Start ``name`` and return its execution once it has ended."""
    execution_id = ssm.start_automation_execution(DocumentName=name,
                                                  Parameters=parameters or {})[
        "AutomationExecutionId"]
    return wait_for_status(ssm, execution_id, timeout=timeout)


def statuses(found: dict[str, Any]) -> list[tuple[str, str]]:
    """(step name, step status) of every step execution, in order."""
    return [(s["StepName"], s["StepStatus"]) for s in found["StepExecutions"]]
