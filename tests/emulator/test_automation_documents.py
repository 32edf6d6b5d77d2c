"""Automation content checks, references and selectors (pure, no emulator)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from drlib.emulator.automation.references import (
    UnresolvedReference,
    resolve,
    select,
    typed_output,
)
from drlib.emulator.automation.validation import InvalidContent, validate_automation

VALID: dict[str, Any] = {
    "schemaVersion": "0.3",
    "parameters": {"ClusterId": {"type": "String"}, "Force": {"type": "Boolean",
                                                            "default": False}},
    "mainSteps": [
        {"name": "Describe", "action": "aws:executeAwsApi",
         "inputs": {"Service": "rds", "Api": "DescribeDBClusters",
                    "DBClusterIdentifier": "{{ ClusterId }}"},
         "outputs": [{"Name": "Status", "Selector": "$.DBClusters[0].Status"}]},
        {"name": "Choose", "action": "aws:branch",
         "inputs": {"Choices": [{"NextStep": "Check", "Variable": "{{ Force }}",
                                 "BooleanEquals": True}], "Default": "Check"}},
        {"name": "Check", "action": "aws:executeScript", "onFailure": "step:Describe",
         "inputs": {"Runtime": "python3.11", "Handler": "h", "Script": "def h(e, c): pass",
                    "InputPayload": {"s": "{{ Describe.Status }}",
                                     "id": "{{ automation:EXECUTION_ID }}"}},
         "isEnd": True},
    ],
    "outputs": ["Describe.Status", "Check.OutputPayload"],
}


def _changed(path: list[Any], value: Any) -> dict[str, Any]:
    content = copy.deepcopy(VALID)
    target: Any = content
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return content


def test_a_valid_document_is_accepted() -> None:
    """A document using parameters, outputs, variables, branch and onFailure targets passes."""
    document = validate_automation(VALID)
    assert [s.name for s in document.steps] == ["Describe", "Choose", "Check"]
    assert document.step("Check").is_end is True


@pytest.mark.parametrize(("path", "value", "message"), [
    (["schemaVersion"], "2.2", "schemaVersion 2.2"),
    (["mainSteps", 0, "action"], "aws:frobnicate", "Step Describe has an invalid action"),
    (["mainSteps", 0, "inputs"], {"Service": "rds"}, "Step Describe (aws:executeAwsApi) is "
                                                     "missing the required input Api"),
    (["mainSteps", 2, "inputs", "InputPayload", "s"], "{{ Describe.Stat }}",
     "Step Check references {{ Describe.Stat }}, but step Describe has no output Stat"),
    (["mainSteps", 0, "inputs", "DBClusterIdentifier"], "{{ Cluster }}",
     "Step Describe references an undefined parameter {{ Cluster }}"),
    (["mainSteps", 2, "inputs", "InputPayload", "s"], "{{ Nowhere.Status }}",
     "Step Check references an undefined step output {{ Nowhere.Status }}"),
    (["mainSteps", 2, "onFailure"], "step:Missing", "Step Check: onFailure 'Missing'"),
    (["mainSteps", 1, "inputs", "Default"], "Missing", "Step Choose: Default 'Missing'"),
    (["mainSteps", 0, "outputs", 0, "Type"], "Float", "output Status has an invalid type"),
    (["mainSteps", 1, "name"], "Describe", "Step name Describe is used more than once"),
    (["outputs"], ["Describe.Nope"], "Document output Describe.Nope"),
    (["mainSteps", 0, "timeoutSeconds"], 0, "Step Describe: timeoutSeconds must be a positive"),
])
def test_invalid_documents_are_refused_naming_the_step(path: list[Any], value: Any,
                                                        message: str) -> None:
    """Each kind of invalid content is refused with a message naming where it is."""
    with pytest.raises(InvalidContent) as error:
        validate_automation(_changed(path, value))
    assert message in str(error.value)


def test_a_whole_reference_keeps_its_type_and_an_embedded_one_becomes_text() -> None:
    """'{{ X }}' gives X itself; 'a-{{ X }}' gives text, booleans as true/false."""
    values = {"Flag": True, "Members": [{"IsWriter": True}], "Name": "db"}
    resolved = resolve({"a": "{{ Flag }}", "b": "{{Members}}", "c": "id-{{ Name }}-{{ Flag }}"},
                       values.__getitem__)
    assert resolved == {"a": True, "b": [{"IsWriter": True}], "c": "id-db-true"}


@pytest.mark.parametrize(("selector", "expected"), [
    ("$.DBClusters[0].Status", "available"),
    ("$.DBClusters[-1].Status", "stopped"),
    ("$.DBClusters[*].Status", ["available", "stopped"]),
    ("$['DBClusters'][1]['Status']", "stopped"),
    ("$", {"DBClusters": [{"Status": "available"}, {"Status": "stopped"}]}),
])
def test_selectors(selector: str, expected: Any) -> None:
    """The JSONPath subset runbooks use selects as AWS does."""
    response = {"DBClusters": [{"Status": "available"}, {"Status": "stopped"}]}
    assert select(response, selector) == expected


def test_a_selector_that_matches_nothing_raises() -> None:
    """A selector with no match is reported, not answered with None."""
    with pytest.raises(UnresolvedReference, match="matched nothing"):
        select({"DBClusters": []}, "$.DBClusters[0].Status")


@pytest.mark.parametrize(("value", "kind", "expected"), [
    ("3", "Integer", 3), ("true", "Boolean", True), (["a", 1], "StringList", ["a", "1"]),
    (True, "String", "true"), ([{"a": 1}], "MapList", [{"a": 1}]),
])
def test_output_types(value: Any, kind: str, expected: Any) -> None:
    """Outputs are converted to their declared type."""
    assert typed_output(value, kind, "S.O") == expected


def test_an_output_of_the_wrong_type_raises() -> None:
    """A map declared as a String output is refused, naming the output."""
    with pytest.raises(UnresolvedReference, match=r"output S\.O is not of type String"):
        typed_output({"a": 1}, "String", "S.O")
