"""Tests of drlib.lambda_package and of the DR orchestrator Lambda's pure logic."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from drlib.aws import AwsClients
from drlib.errors import ConfigError
from drlib.lambda_package import (
    DEFAULT_SOURCE_DIR,
    LambdaPackage,
    build_package,
    collect_files,
    main,
    upload_package,
    uv_executable,
    write_deterministic_zip,
)
from tests.fresh_path import fresh_machine_environment


def _load_handler() -> ModuleType:
    """Import the Lambda's handler.py from its source folder (it is not part of drlib)."""
    spec = importlib.util.spec_from_file_location("dr_orchestrator_handler",
                                                  DEFAULT_SOURCE_DIR / "handler.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


handler = _load_handler()

ACCOUNT = "123456789012"
PRIMARY_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:acme-dev-primary"
SECONDARY_ARN = f"arn:aws:rds:us-west-2:{ACCOUNT}:cluster:acme-dev-secondary"
EXECUTION_ID = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


def _small_source(root: Path) -> Path:
    source = root / "tiny_fn"
    (source / "pkg").mkdir(parents=True)
    (source / "handler.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    (source / "pkg" / "__init__.py").write_text("VALUE = 2\n")
    (source / "pkg" / "__pycache__").mkdir()
    (source / "pkg" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (source / "requirements.txt").write_text("# nothing to install\n")
    return source


# --- the package ------------------------------------------------------------------------------


def test_zip_bytes_ignore_timestamps_and_permissions(tmp_path: Path) -> None:
    """Two zips of the same files are identical even when mtimes and modes differ."""
    source = _small_source(tmp_path)
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    write_deterministic_zip(collect_files(source), first)
    for path in source.rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
        path.chmod(0o600)
    write_deterministic_zip(collect_files(source), second)
    assert first.read_bytes() == second.read_bytes()


def test_zip_changes_when_a_source_changes(tmp_path: Path) -> None:
    """A changed source file gives a different package hash (and so a different S3 key)."""
    source = _small_source(tmp_path)
    before = build_package(source, tmp_path / "build")
    (source / "handler.py").write_text("def lambda_handler(event, context):\n    return 2\n")
    after = build_package(source, tmp_path / "build")
    assert before.sha256 != after.sha256
    assert after.s3_key == f"lambda/tiny-fn/{after.sha256}.zip"


def test_zip_leaves_out_bytecode_and_requirements(tmp_path: Path) -> None:
    """Byte code, __pycache__ and requirements.txt stay out of the package."""
    package = build_package(_small_source(tmp_path), tmp_path / "build")
    with zipfile.ZipFile(package.path) as archive:
        assert archive.namelist() == ["handler.py", "pkg/__init__.py"]
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_build_rejects_a_folder_without_handler(tmp_path: Path) -> None:
    """A folder with no handler.py is a configuration error that names what it found."""
    (tmp_path / "empty_fn").mkdir()
    with pytest.raises(ConfigError, match="not a Lambda source folder"):
        build_package(tmp_path / "empty_fn", tmp_path / "build")


@pytest.mark.slow
def test_real_package_is_deterministic_and_holds_handler_and_boto3(tmp_path: Path) -> None:
    """The DR orchestrator package built twice from scratch has the same bytes, with its deps."""
    first = build_package(build_dir=tmp_path / "one", use_cache=False)
    second = build_package(build_dir=tmp_path / "two", use_cache=False)
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as archive:
        names = set(archive.namelist())
    assert "handler.py" in names
    assert "boto3/__init__.py" in names
    assert "botocore/__init__.py" in names
    assert not any(n.startswith("bin/") or n.endswith("/RECORD") for n in names)


def test_uv_is_found_by_absolute_path_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installer is the environment's own uv, found with an empty PATH."""
    monkeypatch.setenv("PATH", "")
    uv = uv_executable()
    assert uv is not None
    assert Path(uv).is_absolute()
    assert Path(uv).is_file()


@pytest.mark.slow
def test_real_package_builds_with_a_new_machines_path(tmp_path: Path) -> None:
    """In a process whose PATH has neither uv nor the environment's bin (a new machine, the
    environment not activated), the real package still builds with its pinned dependencies."""
    code = ("import sys; from pathlib import Path; from drlib.lambda_package import "
            "build_package; print(build_package(build_dir=Path(sys.argv[1]), "
            "use_cache=False).path)")
    env = fresh_machine_environment()
    env["PATH"] = "/usr/bin:/bin"
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "build")], env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with zipfile.ZipFile(done.stdout.strip().splitlines()[-1]) as archive:
        assert "boto3/__init__.py" in archive.namelist()


def test_upload_puts_package_under_content_key_once(aws: AwsClients, tmp_path: Path) -> None:
    """The package is uploaded under lambda/<name>/<sha256>.zip and not uploaded twice."""
    s3 = aws.client("s3", "us-west-2")
    s3.create_bucket(Bucket="artifacts",
                     CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    package = build_package(_small_source(tmp_path), tmp_path / "build")
    key = upload_package(package, aws, "us-west-2", "artifacts")
    stored = s3.get_object(Bucket="artifacts", Key=key)
    assert stored["Body"].read() == package.path.read_bytes()
    etag = stored["ETag"]
    assert upload_package(package, aws, "us-west-2", "artifacts") == key
    assert s3.head_object(Bucket="artifacts", Key=key)["ETag"] == etag
    assert s3.head_object(Bucket="artifacts", Key=key)["Metadata"] == {"sha256": package.sha256}


def test_package_hook_uploads_with_the_stack_s_own_sceptre_client(aws: AwsClients,
                                                                   tmp_path: Path) -> None:
    """The package hook's clients are the stack's own Sceptre connection's (the client Sceptre
    caches for that stack and region, not a new session): the package lands in that region's
    bucket under its content key."""
    from sceptre.connection_manager import ConnectionManager

    from drlib.sceptre_hooks import StackClients

    aws.client("s3", "us-west-2").create_bucket(
        Bucket="artifacts-west", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    manager = ConnectionManager(region="us-west-2", stack_name="acme-dev-dr-secondary-dr")
    stack = type("Stack", (), {"connection_manager": manager})()
    clients = StackClients(stack)
    assert clients.client("s3", "us-west-2") is manager._get_client(
        "s3", "us-west-2", None, "acme-dev-dr-secondary-dr", None)
    package = build_package(_small_source(tmp_path), tmp_path / "build")
    key = upload_package(package, clients, "us-west-2", "artifacts-west")
    stored = aws.client("s3", "us-west-2").get_object(Bucket="artifacts-west", Key=key)
    assert stored["Body"].read() == package.path.read_bytes()


def test_cli_writes_the_key_file(aws: AwsClients, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The command line prints the key and writes it, without newline, to --key-file."""
    aws.client("s3", "us-east-1").create_bucket(Bucket="artifacts-east")
    source = _small_source(tmp_path)
    key_file = tmp_path / "out" / "key"
    status = main(["--bucket", "artifacts-east", "--region", "us-east-1", "--source",
                   str(source), "--build-dir", str(tmp_path / "build"),
                   "--key-file", str(key_file)])
    assert status == 0
    assert key_file.read_text() == capsys.readouterr().out.strip()
    assert key_file.read_text().startswith("lambda/tiny-fn/")


def test_cli_without_region_fails_with_fix(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Without --region or AWS_REGION the command exits 2 (bad input) and says how to fix it."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert main(["--bucket", "b"]) == 2
    assert "pass --region" in capsys.readouterr().err


def test_package_key_is_content_addressed() -> None:
    """The S3 key names the package and its SHA-256."""
    package = LambdaPackage(name="dr-orchestrator", path=Path("x.zip"), sha256="ab" * 32, size=1)
    assert package.s3_key == "lambda/dr-orchestrator/" + "ab" * 32 + ".zip"


# --- the handler's pure logic -----------------------------------------------------------------


def _event(detail_type: str = "RDS DB Cluster Event", source_id: str = "acme-dev-primary",
           categories: tuple[str, ...] = ("failure",), source: str = "aws.rds") -> dict[str, Any]:
    return {"source": source, "detail-type": detail_type, "region": "us-east-1",
            "time": "2026-11-28T17:00:00Z",
            "detail": {"SourceIdentifier": source_id, "SourceType":
                       "CLUSTER" if "Cluster" in detail_type else "DB_INSTANCE",
                       "EventCategories": list(categories), "EventID": "RDS-EVENT-0069",
                       "Message": "something happened"}}


def _state(writer: str | None = PRIMARY_ARN, secondaries: tuple[str, ...] = (SECONDARY_ARN,),
           failover: bool = False) -> Any:
    return handler.GlobalClusterState(identifier="acme-dev-global", status="available",
                                      writer_arn=writer, secondary_arns=secondaries,
                                      failover_in_progress=failover)


def test_parse_event_reads_rds_fields() -> None:
    """An EventBridge RDS event yields its identifier, categories and type."""
    parsed = handler.parse_event(_event(categories=("failure", "notification")))
    assert parsed.source_identifier == "acme-dev-primary"
    assert parsed.categories == ("failure", "notification")
    assert parsed.is_cluster_event


def test_parse_event_rejects_other_sources() -> None:
    """Events from other sources are refused."""
    with pytest.raises(ValueError, match="not an RDS event"):
        handler.parse_event(_event(source="aws.ec2"))


def test_summarize_global_cluster_finds_writer_and_secondaries() -> None:
    """The writer and the secondaries come from GlobalClusterMembers."""
    state = handler.summarize_global_cluster({"GlobalClusters": [{
        "GlobalClusterIdentifier": "acme-dev-global", "Status": "available",
        "GlobalClusterMembers": [{"DBClusterArn": SECONDARY_ARN, "IsWriter": False},
                                 {"DBClusterArn": PRIMARY_ARN, "IsWriter": True}]}]})
    assert state.writer_arn == PRIMARY_ARN
    assert state.secondary_arns == (SECONDARY_ARN,)
    assert not state.failover_in_progress


@pytest.mark.parametrize(
    ("event", "state", "auto", "action", "reason_part"),
    [
        (_event(categories=("global-failover",)), _state(), True, "notify", "already under way"),
        (_event(categories=("notification",)), _state(), True, "notify", "need no action"),
        (_event("RDS DB Instance Event", "acme-dev-primary-a"), _state(), True, "notify",
         "instance event"),
        (_event(), _state(writer=None), True, "notify", "no writer"),
        (_event(source_id="acme-dev-secondary"), _state(), True, "notify", "not the global writer"),
        (_event(), _state(failover=True), True, "notify", "already in progress"),
        (_event(), _state(secondaries=()), True, "notify", "no secondary"),
        (_event(), _state(), False, "notify", "AUTO_START_FAILOVER is off"),
        (_event(), _state(), True, "start_failover", "automatic failover on"),
        (_event(categories=("failover",)), _state(), True, "start_failover", "writer cluster"),
    ],
)
def test_decide(event: dict[str, Any], state: Any, auto: bool, action: str,
                reason_part: str) -> None:
    """Only a failure of the writer cluster, with automatic failover on, starts the runbook."""
    decision = handler.decide(handler.parse_event(event), state, auto)
    assert decision.action == action
    assert reason_part in decision.reason


def test_failover_targets_the_secondary_region_and_its_automation_role() -> None:
    """The runbook runs in the secondary's region, with that region's automation role."""
    settings = handler.Settings.from_environ({
        "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t", "GLOBAL_CLUSTER_ID": "acme-dev-global",
        "FAILOVER_DOCUMENT_NAME": "acme-dev-aurora-global-failover",
        "AUTOMATION_ROLE_NAME_PREFIX": "acme-dev-dr-automation-", "AUTO_START_FAILOVER": "true"})
    decision = handler.decide(handler.parse_event(_event()), _state(), settings.auto_start_failover)
    assert decision.target_region == "us-west-2"
    params = handler.automation_parameters(settings, _state(), decision)
    assert params == {
        "GlobalClusterIdentifier": ["acme-dev-global"], "TargetDbClusterArn": [SECONDARY_ARN],
        "AllowDataLoss": ["true"],
        "AutomationAssumeRole": [f"arn:aws:iam::{ACCOUNT}:role/acme-dev-dr-automation-us-west-2"]}


def test_settings_require_topic() -> None:
    """A missing required environment variable is named in the error."""
    with pytest.raises(KeyError, match="TOPIC_ARN"):
        handler.Settings.from_environ({"GLOBAL_CLUSTER_ID": "g"})


def test_notification_subject_fits_sns_and_body_is_json() -> None:
    """The subject is cut to SNS's 100 characters; the body is JSON with the decision."""
    event = handler.parse_event(_event(source_id="x" * 150))
    decision = handler.Decision("notify", "because")
    subject, body = handler.notification(event, _state(), decision)
    assert len(subject) == 100
    assert json.loads(body)["decision"] == {"action": "notify", "reason": "because",
                                            "target_cluster_arn": None, "target_region": None}


def _stubbed_clients(monkeypatch: pytest.MonkeyPatch, auto: str) -> dict[str, Any]:
    """boto3.client replaced by stubbed clients, with the function's environment set."""
    import boto3
    from botocore.stub import Stubber

    monkeypatch.setenv("TOPIC_ARN", f"arn:aws:sns:us-east-1:{ACCOUNT}:dr")
    monkeypatch.setenv("GLOBAL_CLUSTER_ID", "acme-dev-global")
    monkeypatch.setenv("FAILOVER_DOCUMENT_NAME", "acme-dev-aurora-global-failover")
    monkeypatch.setenv("AUTOMATION_ROLE_NAME_PREFIX", "acme-dev-dr-automation-")
    monkeypatch.setenv("AUTO_START_FAILOVER", auto)
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y",
                            region_name="us-east-1")
    clients = {"rds": session.client("rds"), "sns": session.client("sns"),
               "ssm": session.client("ssm", region_name="us-west-2")}
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    stubbers["rds"].add_response(
        "describe_global_clusters",
        {"GlobalClusters": [{"GlobalClusterIdentifier": "acme-dev-global", "Status": "available",
                             "GlobalClusterMembers": [
                                 {"DBClusterArn": PRIMARY_ARN, "IsWriter": True},
                                 {"DBClusterArn": SECONDARY_ARN, "IsWriter": False}]}]},
        {"GlobalClusterIdentifier": "acme-dev-global"})
    regions: list[str | None] = []

    def client(service: str, region_name: str | None = None, **_: Any) -> Any:
        regions.append(region_name)
        return clients[service]

    monkeypatch.setattr(boto3, "client", client)
    for stubber in stubbers.values():
        stubber.activate()
    return {"stubbers": stubbers, "regions": regions}


def test_handler_starts_failover_runbook_in_secondary_region_and_notifies(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With automatic failover on, a writer failure starts the runbook there and publishes."""
    stubs = _stubbed_clients(monkeypatch, "true")
    stubs["stubbers"]["ssm"].add_response(
        "start_automation_execution", {"AutomationExecutionId": EXECUTION_ID},
        {"DocumentName": "acme-dev-aurora-global-failover",
         "Parameters": {"GlobalClusterIdentifier": ["acme-dev-global"],
                        "TargetDbClusterArn": [SECONDARY_ARN], "AllowDataLoss": ["true"],
                        "AutomationAssumeRole": [
                            f"arn:aws:iam::{ACCOUNT}:role/acme-dev-dr-automation-us-west-2"]}})
    stubs["stubbers"]["sns"].add_response("publish", {"MessageId": "m-1"})
    result = handler.lambda_handler(_event(), None)
    assert result == {"action": "start_failover",
                      "reason": "writer cluster failure with automatic failover on",
                      "automation_execution_id": EXECUTION_ID}
    assert "us-west-2" in stubs["regions"]
    for stubber in stubs["stubbers"].values():
        stubber.assert_no_pending_responses()


def test_handler_only_notifies_when_automatic_failover_is_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With automatic failover off the handler publishes and starts nothing."""
    stubs = _stubbed_clients(monkeypatch, "false")
    stubs["stubbers"]["sns"].add_response("publish", {"MessageId": "m-1"})
    result = handler.lambda_handler(_event(), None)
    assert result["action"] == "notify"
    assert result["automation_execution_id"] is None
    for stubber in stubs["stubbers"].values():
        stubber.assert_no_pending_responses()


def test_concurrent_builds_of_the_same_sources_agree(tmp_path: Path) -> None:
    """Builds racing on one cache (both regions' hooks) leave one complete, identical zip."""
    from concurrent.futures import ThreadPoolExecutor

    source = _small_source(tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        packages = list(pool.map(lambda _: build_package(source, tmp_path / "b", use_cache=False),
                                 range(4)))
    assert len({p.sha256 for p in packages}) == 1
    assert [p.name for p in (tmp_path / "b").iterdir()] == [packages[0].path.name]
