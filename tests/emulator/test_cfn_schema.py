"""CloudFormation's schema checks and messages, from the registry schemas cfn-lint bundles."""

from __future__ import annotations

from typing import Any

import pytest

from drlib.emulator.cfn_schema import (
    missing_properties,
    properties_failure,
    property_named,
    schema_problems,
)


@pytest.mark.parametrize(("resource_type", "properties", "problems"), [
    ("AWS::Lambda::Function", {"Runtime": "python3.12"},
     ["#: required key [Code] not found", "#: required key [Role] not found"]),
    ("AWS::EC2::SecurityGroup", {}, ["#: required key [GroupDescription] not found"]),
    ("AWS::SQS::Queue", {"DelaySeconds": "soon"},
     ["#/DelaySeconds: expected type: Integer, found: String"]),
    ("AWS::SQS::Queue", {"DelaySeconds": "20", "FifoQueue": "true"}, []),  # strings convert
    ("AWS::SQS::Queue", {"FifoQueue": "yes"},
     ["#/FifoQueue: expected type: Boolean, found: String"]),
    ("AWS::SQS::Queue", {"DelaySeconds": {"Ref": "Delay"}}, []),  # resolved later
    ("AWS::EC2::SecurityGroup", {"GroupDescription": {"Fn::If": ["C", "a", "b"]}}, []),
    ("AWS::RDS::DBInstance", {}, []),  # its schema requires nothing
    ("Custom::Unknown", {}, []),
])
def test_schema_problems(resource_type: str, properties: dict[str, Any], problems: list[str]
                         ) -> None:
    """Missing required keys and literal scalars of the wrong type are reported as CloudFormation
    reports them; values it would convert, intrinsics and unknown types pass."""
    assert schema_problems(resource_type, properties) == problems


def test_one_problem_is_shown_bare_and_several_as_a_list() -> None:
    """One problem follows the resource name directly; several are bracketed."""
    assert properties_failure("Fn", ["#: required key [Code] not found"]) == (
        "Properties validation failed for resource Fn with message: "
        "#: required key [Code] not found")
    assert properties_failure("Fn", ["a", "b"]).endswith("with message: [a, b]")


@pytest.mark.parametrize(("exc", "missing"), [
    (TypeError("DBInstance.__init__() missing 1 required positional argument: "
               "'db_instance_class'"), ["DBInstanceClass"]),
    (TypeError("f() missing 2 required positional arguments: 'engine' and "
               "'db_instance_class'"), ["Engine", "DBInstanceClass"]),
    (KeyError("DBInstanceClass"), ["DBInstanceClass"]),
    (KeyError("not_a_property"), []),
    (TypeError("unsupported operand type(s) for +: 'int' and 'str'"), []),
])
def test_python_errors_of_moto_models_name_the_missing_property(
        exc: BaseException, missing: list[str]) -> None:
    """A moto KeyError or missing-argument TypeError maps to the schema's property name."""
    assert missing_properties("AWS::RDS::DBInstance", exc) == missing


def test_property_names_match_moto_argument_names() -> None:
    """Snake-case arguments find the schema's spelling, acronyms included."""
    assert property_named("AWS::RDS::DBInstance", "db_instance_class") == "DBInstanceClass"
    assert property_named("AWS::RDS::DBInstance", "no_such_thing") is None
