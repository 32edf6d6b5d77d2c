"""CloudFormation intrinsic functions on the emulator: Fn::Cidr, Fn::GetAZs, dotted GetAtt,
dynamic references to SSM and Secrets Manager."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from drlib.aws import AwsClients
from drlib.emulator.extensions.cfn_intrinsics import (
    cidr_blocks,
    parse_secretsmanager_reference,
    parse_template,
    split_get_att,
    yaml_tag_constructor,
)
from tests.emulator.cfn_support import create_stack, outputs, physical_ids


@pytest.mark.parametrize(("block", "count", "bits", "expected"), [
    ("10.0.0.0/16", 3, 8, ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]),
    ("10.0.0.0/16", 2, 12, ["10.0.0.0/20", "10.0.16.0/20"]),
    ("192.168.0.0/24", 4, 6, ["192.168.0.0/26", "192.168.0.64/26", "192.168.0.128/26",
                               "192.168.0.192/26"]),
    ("10.0.0.0/16", "1", "5", ["10.0.0.0/27"]),
    ("2001:db8::/56", 2, 64, ["2001:db8::/64", "2001:db8:0:1::/64"]),
])
def test_cidr_blocks_match_cloudformation(block: str, count: int, bits: int,
                                          expected: list[str]) -> None:
    """Fn::Cidr gives the first `count` subnets with `cidrBits` host bits, in order."""
    assert cidr_blocks(block, count, bits) == expected


@pytest.mark.parametrize(("block", "count", "bits"), [
    ("10.0.0.0/24", 3, 8),      # /24 holds one /24
    ("10.0.0.0/24", 2, 9),      # host bits wider than the block
    ("10.0.0.0/16", 0, 8),      # no blocks
])
def test_cidr_blocks_reject_impossible_requests(block: str, count: int, bits: int) -> None:
    """Fn::Cidr refuses requests the block cannot satisfy."""
    with pytest.raises(ValueError, match="Fn::Cidr"):
        cidr_blocks(block, count, bits)


PROJECT_TEMPLATES = sorted((Path(__file__).parents[2] / "sceptre" / "templates").glob("*.yaml"))


@pytest.mark.parametrize("path", PROJECT_TEMPLATES, ids=lambda p: p.name)
def test_templates_read_with_libyaml_as_with_pure_python_yaml(path: Path) -> None:
    """The emulator's template reader (libyaml's parser) gives every project template exactly
    the dict PyYAML's pure-Python loader, moto's own, gives with the same short forms."""
    pure = type("PureLoader", (yaml.Loader,), {})
    pure.add_multi_constructor("", yaml_tag_constructor)
    text = path.read_text()
    assert parse_template(text) == yaml.load(text, Loader=pure)


def test_template_reader_takes_short_forms_and_json() -> None:
    """Short forms become long forms (GetAtt split on the first dot), and JSON that is not YAML
    (a tab before a key) is read as JSON, as moto does."""
    assert parse_template("A: !GetAtt Db.Endpoint.Address\nB: !Ref X\nC: !Sub [a, {}]\n") == {
        "A": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}, "B": {"Ref": "X"},
        "C": {"Fn::Sub": ["a", {}]}}
    assert parse_template('{\n\t"Resources": {}\n}') == {"Resources": {}}


def test_a_template_read_again_is_an_equal_copy_of_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same text is read once; each reader gets a copy it may change (moto does) without
    changing the next reader's; the oldest text read is forgotten past the limit."""
    from drlib.emulator.extensions import cfn_intrinsics

    monkeypatch.setattr(cfn_intrinsics, "PARSED_KEPT", 2)
    text = "Resources:\n  Q: {Type: 'AWS::SQS::Queue', Properties: {Tags: [{Key: a}]}}\n"
    first = parse_template(text)
    first["Resources"]["Q"]["Properties"]["Tags"].append({"Key": "b"})
    second = parse_template(text)
    assert second == {"Resources": {"Q": {"Type": "AWS::SQS::Queue",
                                          "Properties": {"Tags": [{"Key": "a"}]}}}}
    assert second["Resources"] is not first["Resources"]
    assert text in cfn_intrinsics._parsed
    parse_template("A: 1\n")
    parse_template("B: 2\n")
    assert text not in cfn_intrinsics._parsed
    assert len(cfn_intrinsics._parsed) <= 2


@pytest.mark.parametrize(("argument", "expected"), [
    ("Cluster.Endpoint.Address", ["Cluster", "Endpoint.Address"]),
    ("Vpc.CidrBlock", ["Vpc", "CidrBlock"]),
    (["Cluster", "Endpoint", "Port"], ["Cluster", "Endpoint.Port"]),
    (["Cluster", "Endpoint.Port"], ["Cluster", "Endpoint.Port"]),
])
def test_get_att_splits_on_the_first_dot_only(argument: object, expected: list[str]) -> None:
    """A dotted GetAtt names the resource before the first dot and the attribute after it."""
    assert split_get_att(argument) == expected


@pytest.mark.parametrize(("reference", "expected"), [
    ("MySecret", ("MySecret", None, None, None)),
    ("MySecret:SecretString:password", ("MySecret", "password", None, None)),
    ("MySecret:SecretString:password:AWSPREVIOUS", ("MySecret", "password", "AWSPREVIOUS", None)),
    ("MySecret:SecretString::AWSCURRENT", ("MySecret", None, "AWSCURRENT", None)),
    ("MySecret:SecretString:::abc-123", ("MySecret", None, None, "abc-123")),
    ("arn:aws:secretsmanager:us-west-2:123456789012:secret:db-AbCdEf:SecretString:username",
     ("arn:aws:secretsmanager:us-west-2:123456789012:secret:db-AbCdEf", "username", None, None)),
])
def test_secretsmanager_reference_parts(reference: str, expected: tuple[object, ...]) -> None:
    """A secretsmanager dynamic reference splits into id, JSON key, stage and version."""
    assert parse_secretsmanager_reference(reference) == expected


NETWORK = """
    Resources:
      Vpc:
        Type: AWS::EC2::VPC
        Properties: {CidrBlock: 10.20.0.0/16}
      SubnetA:
        Type: AWS::EC2::Subnet
        Properties:
          VpcId: !Ref Vpc
          CidrBlock: !Select [0, !Cidr [!GetAtt Vpc.CidrBlock, 3, 8]]
          AvailabilityZone: !Select [0, !GetAZs '']
      SubnetB:
        Type: AWS::EC2::Subnet
        Properties:
          VpcId: !Ref Vpc
          CidrBlock: !Select [1, !Cidr [!GetAtt Vpc.CidrBlock, 3, 8]]
          AvailabilityZone: !Select [1, !GetAZs {Ref: "AWS::Region"}]
    Outputs:
      Zones: {Value: !Join [",", !GetAZs '']}
"""


@pytest.mark.slow
@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_cidr_and_get_azs_follow_the_stack_region(aws: AwsClients, region: str) -> None:
    """Subnets get the Fn::Cidr blocks and the zones of the stack's own region."""
    stack = create_stack(aws, "net", NETWORK, region=region)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    zones = outputs(stack)["Zones"].split(",")
    assert zones[:2] == [f"{region}a", f"{region}b"]
    ids = physical_ids(aws, "net", region)
    ec2 = aws.client("ec2", region)
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(
        SubnetIds=[ids["SubnetA"], ids["SubnetB"]])["Subnets"]}
    assert subnets[ids["SubnetA"]]["CidrBlock"] == "10.20.0.0/24"
    assert subnets[ids["SubnetA"]]["AvailabilityZone"] == f"{region}a"
    assert subnets[ids["SubnetB"]]["CidrBlock"] == "10.20.1.0/24"
    assert subnets[ids["SubnetB"]]["AvailabilityZone"] == f"{region}b"


DYNAMIC = """
    Resources:
      Password:
        Type: AWS::SecretsManager::Secret
        Properties:
          Name: dr/db
          SecretString: '{"username": "dbadmin", "password": "s3cret-in-stack"}'
      FromSsm:
        Type: AWS::SSM::Parameter
        Properties: {Name: /out/from-ssm, Type: String, Value: "{{resolve:ssm:/dr/setting}}"}
      FromSsmVersion:
        Type: AWS::SSM::Parameter
        Properties: {Name: /out/from-ssm-version, Type: String,
                     Value: "{{resolve:ssm:/dr/setting:1}}"}
      WholeSecret:
        Type: AWS::SSM::Parameter
        Properties: {Name: /out/whole-secret, Type: String,
                     Value: "{{resolve:secretsmanager:dr/external}}"}
      InStack:
        Type: AWS::SSM::Parameter
        Properties:
          Name: /out/in-stack
          Type: String
          Value: !Sub "{{resolve:secretsmanager:${Password}:SecretString:password}}"
      Joined:
        Type: AWS::SSM::Parameter
        Properties:
          Name: /out/joined
          Type: String
          Value: !Join ["", ["{{resolve:secretsmanager:", !Ref Password,
                             ":SecretString:username}}"]]
"""


@pytest.mark.slow
def test_dynamic_references_resolve_from_ssm_and_secrets_manager(aws: AwsClients) -> None:
    """{{resolve:...}} values come from SSM (latest or given version) and Secrets Manager,
    including a secret created earlier in the same stack."""
    region = "us-west-2"
    ssm = aws.client("ssm", region)
    ssm.put_parameter(Name="/dr/setting", Value="first", Type="String")
    ssm.put_parameter(Name="/dr/setting", Value="second", Type="String", Overwrite=True)
    aws.client("secretsmanager", region).create_secret(Name="dr/external", SecretString="plain")
    stack = create_stack(aws, "dyn", DYNAMIC, region=region)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    values = {p["Name"]: p["Value"] for p in ssm.get_parameters_by_path(Path="/out")["Parameters"]}
    assert values == {"/out/from-ssm": "second", "/out/from-ssm-version": "first",
                      "/out/whole-secret": "plain", "/out/in-stack": "s3cret-in-stack",
                      "/out/joined": "dbadmin"}


@pytest.mark.slow
def test_unresolvable_dynamic_reference_fails_the_stack(aws: AwsClients) -> None:
    """A reference to a missing SSM parameter fails the resource and rolls the stack back."""
    template = """
        Resources:
          Topic:
            Type: AWS::SNS::Topic
            Properties:
              TopicName: "{{resolve:ssm:/does/not/exist}}"
    """
    stack = create_stack(aws, "unresolved", template)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"


DOTTED = """
    Resources:
      Cluster:
        Type: AWS::RDS::DBCluster
        Properties:
          DBClusterIdentifier: dotted
          Engine: aurora-postgresql
          MasterUsername: dbadmin
          MasterUserPassword: not-a-real-password
    Outputs:
      Short: {Value: !GetAtt Cluster.Endpoint.Address}
      Long: {Value: !GetAtt [Cluster, Endpoint.Address]}
      Port: {Value: {"Fn::GetAtt": ["Cluster", "Endpoint.Port"]}}
      Sub: {Value: !Sub "${Cluster.ReadEndpoint.Address}:${Cluster.Endpoint.Port}"}
"""


@pytest.mark.slow
def test_dotted_get_att_in_short_long_and_sub_forms(aws: AwsClients) -> None:
    """!GetAtt A.B.C, the long form and ${A.B.C} in Fn::Sub all reach the cluster's endpoint."""
    stack = create_stack(aws, "dotted", DOTTED)
    cluster = aws.client("rds", "us-east-1").describe_db_clusters(
        DBClusterIdentifier="dotted")["DBClusters"][0]
    values = outputs(stack)
    assert values["Short"] == values["Long"] == cluster["Endpoint"]
    assert values["Port"] == str(cluster["Port"])
    assert values["Sub"] == f"{cluster['ReaderEndpoint']}:{cluster['Port']}"


@pytest.mark.slow
def test_json_template_dotted_get_att(aws: AwsClients) -> None:
    """A JSON template's long-form GetAtt with a dotted attribute works the same."""
    template = json.dumps({
        "Resources": {"Cluster": {"Type": "AWS::RDS::DBCluster", "Properties": {
            "DBClusterIdentifier": "json-dotted", "Engine": "aurora-postgresql",
            "MasterUsername": "dbadmin", "MasterUserPassword": "not-a-real-password"}}},
        "Outputs": {"Address": {"Value": {"Fn::GetAtt": ["Cluster", "Endpoint.Address"]}}},
    })
    stack = create_stack(aws, "json-dotted", template)
    cluster = aws.client("rds", "us-east-1").describe_db_clusters(
        DBClusterIdentifier="json-dotted")["DBClusters"][0]
    assert outputs(stack)["Address"] == cluster["Endpoint"]
