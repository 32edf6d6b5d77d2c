"""The master-secret rotation function inline in database.yaml, run step by step against
stand-ins for Secrets Manager (with its version-stage rules) and RDS."""

from __future__ import annotations

import json
import sys
import types
import uuid
from typing import Any

import pytest

from tests.templates.cfn import load, resources

SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-dev-aurora-master-AbCdEf"


class ResourceNotFoundError(Exception):
    """Secrets Manager's ResourceNotFoundException."""


class SecretsManagerStandIn:
    """The calls the function makes, with Secrets Manager's version and stage bookkeeping."""

    def __init__(self, rotation_enabled: bool = True) -> None:
        self.exceptions = types.SimpleNamespace(ResourceNotFoundException=ResourceNotFoundError)
        self.rotation_enabled = rotation_enabled
        self.values: dict[str, str | None] = {"v1": json.dumps(
            {"username": "dradmin", "password": "old-password-123"})}
        self.stages: dict[str, list[str]] = {"v1": ["AWSCURRENT"]}

    def start_rotation(self) -> str:
        """What RotateSecret does before calling the function: a new version, AWSPENDING."""
        token = str(uuid.uuid4())
        self.values[token] = None
        self.stages[token] = ["AWSPENDING"]
        return token

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        return {"ARN": SecretId, "RotationEnabled": self.rotation_enabled,
                "VersionIdsToStages": {k: list(v) for k, v in self.stages.items()}}

    def get_secret_value(self, SecretId: str, VersionId: str | None = None,
                         VersionStage: str | None = None) -> dict[str, Any]:
        for version, stages in self.stages.items():
            if (VersionId in (None, version) and (VersionStage is None or VersionStage in stages)
                    and self.values[version] is not None):
                return {"VersionId": version, "SecretString": self.values[version]}
        raise ResourceNotFoundError(VersionId)

    def get_random_password(self, PasswordLength: int,
                            ExcludeCharacters: str) -> dict[str, str]:
        password = ("N3w-" + uuid.uuid4().hex)[:PasswordLength]
        assert not set(password) & set(ExcludeCharacters)
        return {"RandomPassword": password}

    def put_secret_value(self, SecretId: str, ClientRequestToken: str,
                         SecretString: str, VersionStages: list[str]) -> None:
        self.values[ClientRequestToken] = SecretString
        self.stages[ClientRequestToken] = list(VersionStages)

    def update_secret_version_stage(self, SecretId: str, VersionStage: str,
                                    MoveToVersionId: str,
                                    RemoveFromVersionId: str) -> None:
        assert VersionStage in self.stages[RemoveFromVersionId]
        self.stages[RemoveFromVersionId] = ["AWSPREVIOUS"]
        self.stages[MoveToVersionId] = [s for s in self.stages[MoveToVersionId]
                                        if s != "AWSPENDING"] + [VersionStage]


class RdsStandIn:
    """ModifyDBCluster and DescribeDBClusters of the writer cluster."""

    def __init__(self) -> None:
        self.passwords: list[tuple[str, str]] = []
        self.status = "available"

    def modify_db_cluster(self, DBClusterIdentifier: str, ApplyImmediately: bool,
                          MasterUserPassword: str) -> None:
        assert ApplyImmediately
        self.passwords.append((DBClusterIdentifier, MasterUserPassword))

    def describe_db_clusters(self, DBClusterIdentifier: str) -> dict[str, Any]:
        return {"DBClusters": [{"DBClusterIdentifier": DBClusterIdentifier,
                                "Status": self.status}]}


def rotation_module(monkeypatch: pytest.MonkeyPatch, sm: SecretsManagerStandIn,
                    rds: RdsStandIn) -> types.ModuleType:
    """The template's inline code loaded as a module whose boto3 clients are the stand-ins."""
    function = resources("database.yaml")["RotationFunction"]["Properties"]
    fake_boto3 = types.ModuleType("boto3")
    fake_boto3.client = lambda service: {"secretsmanager": sm, "rds": rds}[service]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "boto3", fake_boto3)
    monkeypatch.setenv("CLUSTER_ID", "acme-dev-primary")
    monkeypatch.setenv("EXCLUDE_CHARACTERS", function["Environment"]["Variables"][
        "EXCLUDE_CHARACTERS"])
    module = types.ModuleType("rotation")
    exec(compile(function["Code"]["ZipFile"], "database.yaml:RotationFunction", "exec"),
         module.__dict__)
    return module


def _run(module: types.ModuleType, token: str, *steps: str) -> None:
    for step in steps:
        module.lambda_handler({"SecretId": SECRET, "ClientRequestToken": token, "Step": step},
                              None)


def test_a_rotation_sets_a_new_password_on_the_writer_and_makes_it_current(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The four steps create a new password, set it on the writer cluster, check it and move
    AWSCURRENT to it, keeping the username."""
    sm, rds = SecretsManagerStandIn(), RdsStandIn()
    module = rotation_module(monkeypatch, sm, rds)
    token = sm.start_rotation()
    _run(module, token, "createSecret", "createSecret", "setSecret", "testSecret", "finishSecret")
    current = json.loads(sm.get_secret_value(SECRET, VersionStage="AWSCURRENT")["SecretString"])
    assert current["username"] == "dradmin"
    assert current["password"] != "old-password-123"
    assert rds.passwords == [("acme-dev-primary", current["password"])]
    assert sm.stages["v1"] == ["AWSPREVIOUS"]
    assert sm.stages[token] == ["AWSCURRENT"]
    _run(module, token, "finishSecret")  # a retried step on the current version does nothing
    assert len(rds.passwords) == 1


@pytest.mark.parametrize(("setup", "message"), [
    ("disabled", "rotation is not enabled"),
    ("unknown-token", "does not exist"),
    ("unknown-step", "unknown step"),
    ("cluster-busy", "is modifying"),
])
def test_rotation_refuses_what_it_cannot_do_safely(monkeypatch: pytest.MonkeyPatch, setup: str,
                                                   message: str) -> None:
    """Rotation disabled, an unknown version, an unknown step or a busy cluster fail the step."""
    sm, rds = SecretsManagerStandIn(rotation_enabled=setup != "disabled"), RdsStandIn()
    module = rotation_module(monkeypatch, sm, rds)
    token = sm.start_rotation()
    step = {"unknown-step": "rollbackSecret", "cluster-busy": "testSecret"}.get(setup,
                                                                              "createSecret")
    if setup == "unknown-token":
        token = str(uuid.uuid4())
    if setup == "cluster-busy":
        _run(module, token, "createSecret")
        rds.status = "modifying"
    with pytest.raises(ValueError, match=message):
        _run(module, token, step)


def test_rotation_schedule_covers_the_master_secret_in_the_primary_region() -> None:
    """The schedule rotates the primary's master secret with this function every
    SecretRotationDays, without rotating at deploy time, and Secrets Manager may invoke it."""
    template = load("database.yaml")
    schedule = template["Resources"]["RotationSchedule"]
    assert schedule["Condition"] == "IsPrimaryRegion"
    assert schedule["Properties"]["SecretId"] == {"Ref": "DatabaseSecret"}
    assert schedule["Properties"]["RotationLambdaARN"] == {"Fn::GetAtt": ["RotationFunction",
                                                                          "Arn"]}
    assert schedule["Properties"]["RotationRules"] == {
        "AutomaticallyAfterDays": {"Ref": "SecretRotationDays"}}
    permission = template["Resources"]["RotationPermission"]["Properties"]
    assert permission["Principal"] == "secretsmanager.amazonaws.com"
    assert "CKV2_AWS_57" not in json.dumps(template)
