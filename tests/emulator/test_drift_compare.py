"""How the emulator compares a resource's expected and actual properties for drift detection:
CloudFormation's PropertyDifferences, set-like lists, text equality, and what is never
compared. No emulator needed."""

from __future__ import annotations

from drlib.emulator.drift.compare import Schema, coerce, compare_properties, differences
from drlib.emulator.drift.expected import is_kms_key_id, skipped_property

SECURITY_GROUP = {
    "properties": {
        "SecurityGroupIngress": {"type": "array", "insertionOrder": False,
                                 "items": {"$ref": "#/definitions/Ingress"}},
        "Ordered": {"type": "array", "items": {"type": "string"}},
        "Port": {"type": "integer"},
        "Enabled": {"type": "boolean"},
    },
    "definitions": {"Ingress": {"type": "object", "properties": {
        "FromPort": {"type": "integer"}, "CidrIp": {"type": "string"}}}},
}


def api(found: list) -> list[tuple[str, str, str, str]]:
    return [(d.path, d.kind, d.to_api()["ExpectedValue"], d.to_api()["ActualValue"])
            for d in found]


def test_a_changed_value_is_not_equal_at_its_path() -> None:
    """A scalar that differs is NOT_EQUAL at its JSON pointer, nested objects included."""
    found = differences({"DelaySeconds": 20, "RedrivePolicy": {"maxReceiveCount": 10}},
                        {"DelaySeconds": 120, "RedrivePolicy": {"maxReceiveCount": 12}},
                        Schema({}))
    assert api(found) == [("/DelaySeconds", "NOT_EQUAL", "20", "120"),
                          ("/RedrivePolicy/maxReceiveCount", "NOT_EQUAL", "10", "12")]


def test_values_compare_as_cloudformation_text() -> None:
    """Template strings equal the service's numbers and booleans; a JSON document equals its
    text; keys the template does not set are not compared."""
    assert differences({"Port": "5432", "Enabled": "true", "Policy": '{"a": [1]}'},
                       {"Port": 5432, "Enabled": True, "Policy": {"a": [1]}, "Extra": 1},
                       Schema(SECURITY_GROUP)) == []


def test_set_like_lists_ignore_order_and_report_added_and_removed_elements() -> None:
    """insertionOrder false: a reordered list is equal; an element the template lacks is ADD at
    its actual index, one the resource lacks is REMOVE at its expected index."""
    rule = {"FromPort": 443, "CidrIp": "10.0.0.0/8"}
    other = {"FromPort": 80, "CidrIp": "0.0.0.0/0"}
    schema = Schema(SECURITY_GROUP)
    assert differences({"SecurityGroupIngress": [rule, other]},
                       {"SecurityGroupIngress": [other, rule]}, schema) == []
    extra = {"FromPort": 22, "CidrIp": "0.0.0.0/0"}
    assert api(differences({"SecurityGroupIngress": [rule]},
                           {"SecurityGroupIngress": [extra, rule]}, schema)) == [
        ("/SecurityGroupIngress/0", "ADD", "null", '{"CidrIp":"0.0.0.0/0","FromPort":22}')]
    assert api(differences({"SecurityGroupIngress": [other, rule]},
                           {"SecurityGroupIngress": [rule]}, schema)) == [
        ("/SecurityGroupIngress/0", "REMOVE", '{"CidrIp":"0.0.0.0/0","FromPort":80}', "null")]


def test_ordered_lists_compare_element_by_element() -> None:
    """Without insertionOrder false the position matters."""
    assert api(differences({"Ordered": ["a", "b"]}, {"Ordered": ["b", "a", "c"]},
                           Schema(SECURITY_GROUP))) == [
        ("/Ordered/0", "NOT_EQUAL", "a", "b"), ("/Ordered/1", "NOT_EQUAL", "b", "a"),
        ("/Ordered/2", "ADD", "null", "c")]


def test_unreadable_properties_are_left_out_and_missing_ones_are_removed() -> None:
    """A property the reader does not return is not compared (nor shown); one it returns as
    None is REMOVE. ExpectedProperties take the schema's types."""
    expected, actual, found = compare_properties(
        {"Port": "5432", "Enabled": "true", "Unreadable": "x"},
        {"Port": 5432, "Enabled": None}, Schema(SECURITY_GROUP))
    assert expected == {"Port": 5432, "Enabled": True}
    assert actual == {"Port": 5432}
    assert api(found) == [("/Enabled", "REMOVE", "true", "null")]


def test_case_insensitive_identifiers() -> None:
    """RDS lower-cases identifiers: they compare without case when asked."""
    assert differences({"DBClusterIdentifier": "Acme-Dev"}, {"DBClusterIdentifier": "acme-dev"},
                       Schema({}), case_insensitive=frozenset({"DBClusterIdentifier"})) == []


def test_coerce_follows_the_schema() -> None:
    assert coerce({"Port": "80", "Enabled": "false", "SecurityGroupIngress": [
        {"FromPort": "443"}]}, Schema(SECURITY_GROUP)) == {
        "Port": 80, "Enabled": False, "SecurityGroupIngress": [{"FromPort": 443}]}


def test_what_cloudformation_never_compares() -> None:
    """KMS key ids, dynamic references and NoEcho parameters are never compared (nor written
    into ExpectedProperties)."""
    assert all(is_kms_key_id(n) for n in ("KmsKeyId", "KMSKeyId", "KMSMasterKeyID",
                                           "PerformanceInsightsKMSKeyId", "KmsKeyArn"))
    assert not is_kms_key_id("KeyPolicy")
    assert skipped_property("MasterUsername",
                            {"Fn::Sub": "{{resolve:secretsmanager:${S}:SecretString:u}}"}, set())
    assert skipped_property("SecretString", {"Fn::Sub": '{"p": "${Password}"}'}, {"Password"})
    assert skipped_property("Value", {"Ref": "Password"}, {"Password"})
    assert not skipped_property("Value", {"Ref": "Name"}, {"Password"})
