"""The runbooks of dr-automation.yaml, read statically: valid Automation content, every step
declared with its own timeout and onFailure, approval in production, secondary region only."""

from __future__ import annotations

from typing import Any

import pytest

from drlib.emulator.automation.actions import SUPPORTED
from drlib.emulator.automation.validation import validate_automation
from tests.templates.cfn import load, resources

PROCEDURE = ("PlannedSwitchoverRunbook", "UnplannedFailoverRunbook", "FailbackRunbook")
DOCUMENTS = resources("dr-automation.yaml", "AWS::SSM::Document")


def _content(logical_id: str) -> dict[str, Any]:
    content: dict[str, Any] = DOCUMENTS[logical_id]["Properties"]["Content"]
    return content


@pytest.mark.parametrize("logical_id", sorted(DOCUMENTS))
def test_every_runbook_is_valid_automation_content(logical_id: str) -> None:
    """Each document passes the same validation CreateDocument applies, and uses only actions
    the emulator runs."""
    document = validate_automation(_content(logical_id))
    assert {s.action for s in document.steps} <= set(SUPPORTED)


@pytest.mark.parametrize("logical_id", PROCEDURE)
def test_every_procedure_step_declares_timeout_and_on_failure(logical_id: str) -> None:
    """Each step of the procedure runbooks has its own timeoutSeconds and onFailure: Abort, or
    a jump to a step that ends the execution (a recovery step)."""
    steps = {s["name"]: s for s in _content(logical_id)["mainSteps"]}
    for step in steps.values():
        assert int(step["timeoutSeconds"]) > 0, step["name"]
        target = str(step["onFailure"]).removeprefix("step:")
        assert step["onFailure"] == "Abort" or steps[target].get("isEnd") is True, step["name"]


def test_planned_switchover_moves_dns_with_the_switchover_and_restores_it_on_failure() -> None:
    """DNS moves right after the switchover request (detection and TTL run while the database
    switches); a switchover that is not verified puts DNS back on the primary, and the recovery
    step is never on the success path (the verification is the last step)."""
    steps = _content("PlannedSwitchoverRunbook")["mainSteps"]
    names = [s["name"] for s in steps]
    assert names.index("MoveDnsToSecondary") == names.index("SwitchoverGlobalCluster") + 1
    by_name = {s["name"]: s for s in steps}
    assert by_name["MoveDnsToSecondary"]["inputs"]["Inverted"] is True
    restore = by_name["RestorePrimaryDns"]
    assert restore["inputs"]["Api"] == "UpdateHealthCheck"
    assert restore["inputs"]["Inverted"] is False
    assert restore["isEnd"] is True
    for name in ("WaitForSwitchover", "DescribeMembersAfter", "VerifyWriter"):
        assert by_name[name]["onFailure"] == "step:RestorePrimaryDns", name
    assert names[-1] == "VerifyWriter"
    assert by_name["DescribeMembersAfter"]["nextStep"] == "VerifyWriter"


@pytest.mark.parametrize("logical_id", PROCEDURE)
def test_production_asks_for_approval_before_any_change(logical_id: str) -> None:
    """RequireApproval defaults to true in production and leads to an aws:approve step that
    comes before every step that changes something."""
    content = _content(logical_id)
    assert content["parameters"]["RequireApproval"]["default"] == {
        "Fn::If": ["IsProduction", True, False]}
    steps = content["mainSteps"]
    names = [s["name"] for s in steps]
    approve = next(i for i, s in enumerate(steps) if s["action"] == "aws:approve")
    branch = next(s for s in steps if any(c.get("NextStep") == names[approve]
                                          for c in s["inputs"].get("Choices", [])))
    assert "{{ RequireApproval }}" in str(branch["inputs"]["Choices"])
    changing = [i for i, s in enumerate(steps)
                if s["inputs"].get("Api", "").startswith(("Switchover", "Failover", "Update"))
                or "update_auto_scaling_group" in s["inputs"].get("Script", "")]
    assert changing
    assert min(changing) > approve


def test_procedure_runbooks_are_secondary_region_only_and_exported() -> None:
    """The procedure runbooks exist only where the app tier and health check are known (the
    secondary region) and their names are stack outputs."""
    template = load("dr-automation.yaml")
    for logical_id in PROCEDURE:
        assert DOCUMENTS[logical_id]["Condition"] == "HasProcedureRunbooks"
    assert {"PlannedSwitchoverRunbookName", "UnplannedFailoverRunbookName",
            "FailbackRunbookName"} <= set(template["Outputs"])
    unplanned = str(_content("UnplannedFailoverRunbook"))
    assert "route53" not in unplanned  # DNS moves by health check; no global call needed
