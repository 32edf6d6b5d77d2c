"""CloudFormation YAML read as plain data: short forms in long form, a private copy per read,
a changed file read again."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from drlib import cfn_yaml
from drlib.cfn_yaml import load_template, read_template

TEMPLATE = """
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Condition: IsProd
    Properties:
      BucketName: !Sub '${AWS::StackName}-data'
      Tags:
        - {Key: arn, Value: !GetAtt Key.Arn.Part}
        - {Key: when, Value: !If [IsProd, !Condition IsProd, !Ref AWS::NoValue]}
"""


def test_short_forms_read_as_their_long_forms() -> None:
    body = load_template(TEMPLATE)
    assert body["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Env"}, "prod"]}
    props = body["Resources"]["Bucket"]["Properties"]
    assert props["BucketName"] == {"Fn::Sub": "${AWS::StackName}-data"}
    assert props["Tags"][0]["Value"] == {"Fn::GetAtt": ["Key", "Arn.Part"]}  # first dot only
    assert props["Tags"][1]["Value"] == {
        "Fn::If": ["IsProd", {"Condition": "IsProd"}, {"Ref": "AWS::NoValue"}]}


def test_the_parser_is_libyamls_when_pyyaml_has_it() -> None:
    if yaml.__with_libyaml__:
        assert issubclass(cfn_yaml._TemplateLoader, yaml.CSafeLoader)


def test_each_read_is_a_private_copy_and_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE)
    first = read_template(path)
    first["Resources"]["Bucket"]["Type"] = "changed by a caller"
    assert read_template(path)["Resources"]["Bucket"]["Type"] == "AWS::S3::Bucket"
    path.write_text(TEMPLATE.replace("AWS::S3::Bucket", "AWS::SNS::Topic"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert read_template(path)["Resources"]["Bucket"]["Type"] == "AWS::SNS::Topic"
