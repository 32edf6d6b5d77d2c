"""The Lambda-package hook pattern of the dr-automation stacks, run for real on the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drlib.aws import AwsClients
from drlib.emulator.server import Emulator
from drlib.lambda_package import build_package
from tests.fresh_path import fresh_machine_environment

FIXTURE = Path(__file__).parent / "fixtures" / "lambda_hook_project"


def _variables(build_dir: Path) -> dict[str, Any]:
    return {"build_dir": str(build_dir)}


def _stored_key(aws: AwsClients) -> tuple[str, Any]:
    cfn = aws.client("cloudformation", "us-west-2")
    outputs = cfn.describe_stacks(StackName="hookdemo-demo-consumer")["Stacks"][0]["Outputs"]
    key = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "CodeKey")
    bucket_outputs = cfn.describe_stacks(StackName="hookdemo-demo-artifacts")["Stacks"][0][
        "Outputs"]
    bucket = next(o["OutputValue"] for o in bucket_outputs if o["OutputKey"] == "BucketName")
    return key, aws.client("s3", "us-west-2").get_object(Bucket=bucket, Key=key)


@pytest.mark.slow
def test_python_api_launch_runs_the_hook_before_reading_the_key(aws: AwsClients,
                                                                 tmp_path: Path) -> None:
    """Through SceptrePlan the hook uploads the package and the stack receives its key."""
    from sceptre.context import SceptreContext
    from sceptre.plan.plan import SceptrePlan

    context = SceptreContext(project_path=str(FIXTURE), command_path="demo",
                             user_variables=_variables(tmp_path))
    result = SceptrePlan(context).launch()
    assert {str(s) for s in result.values()} == {"complete"}
    key, stored = _stored_key(aws)
    package = build_package(FIXTURE / "src" / "hello_fn", tmp_path)
    assert key == package.s3_key
    assert stored["Body"].read() == package.path.read_bytes()


@pytest.mark.slow
def test_sceptre_command_launch_runs_the_same_hook(aws: AwsClients, emulator: Emulator,
                                                   tmp_path: Path) -> None:
    """`.venv/bin/sceptre launch` by hand, with a new machine's PATH (no uv, no activated
    environment), takes the same path: hook, build, upload, key as parameter."""
    build_dir = tmp_path / "build"
    variables = tmp_path / "vars.yaml"
    variables.write_text(f"build_dir: {build_dir}\n")
    sceptre = Path(sys.executable).with_name("sceptre")
    env = fresh_machine_environment({**os.environ, **emulator.environment()})
    env["PATH"] = "/usr/bin:/bin"  # not even the environment's own bin: nothing from PATH
    result = subprocess.run([str(sceptre), "--var-file", str(variables), "launch", "--yes",
                             "demo"], cwd=FIXTURE, capture_output=True, text=True, check=False,
                            timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    key, _ = _stored_key(aws)
    assert (build_dir / "hello.s3key").read_text() == key
