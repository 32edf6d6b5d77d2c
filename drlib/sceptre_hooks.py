"""Sceptre hooks of the project, run inside Sceptre's own interpreter.

Registered as entry points (``pyproject.toml``), so ``sceptre launch`` started any way (``uv run
sceptre``, an activated venv, or ``.venv/bin/sceptre`` directly) runs them with the project's
interpreter and nothing from the caller's PATH or shell:

* ``!drlib_preflight``: the settings checks of :mod:`drlib.preflight` over the var file's values,
  before any stack of the group is created or updated;
* ``!drlib_lambda_package``: build the DR Lambda package, upload it to the region's artifacts
  bucket under its SHA-256 and write the key for the stack's ``!file_contents`` parameter;
* ``!drlib_launch``: launch another stack of the project after this one (its config and
  resolvers as Sceptre reads them), e.g. the replica bucket's stack again once the data bucket
  exists, so that it can declare its reverse replication rule.

And a resolver (entry point ``sceptre.resolvers``):

* ``!drlib_stack_output_if_exists``: a stack's output, or an empty string while that stack
  does not exist; unlike ``!stack_output`` it adds no dependency, so two stacks can name each
  other (two-way S3 replication).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from sceptre.exceptions import SceptreException
from sceptre.hooks import Hook
from sceptre.resolvers import Resolver

from drlib.errors import DrError


class DrlibHookError(SceptreException):
    """A drlib hook refused; Sceptre prints the message (what, found, expected, fix)."""


class PreflightHook(Hook):
    """``!drlib_preflight {{ var | tojson }}``: refuse bad settings before a stack changes."""

    def run(self) -> None:
        from drlib.preflight import SettingsError, check_settings

        variables = self.argument
        if not isinstance(variables, dict):
            raise DrlibHookError("!drlib_preflight needs the var file's values as its argument "
                                 "({{ var | tojson }})")
        environment = str(variables.get("environment", "?"))
        problems = check_settings(variables, f"the --var-file (vars/{environment}.yaml)",
                                  environment=None)
        if problems:
            raise DrlibHookError(SettingsError(f"environment {environment}",
                                               problems).render())


class LambdaPackageHook(Hook):
    """``!drlib_lambda_package {bucket: ..., key_file: ...}`` (optional ``source``,
    ``build_dir``): the package hook of the dr-automation stacks, with the stack's region and
    credentials."""

    def run(self) -> None:
        from drlib.lambda_package import (
            DEFAULT_BUILD_DIR,
            DEFAULT_SOURCE_DIR,
            build_package,
            upload_package,
            write_key_file,
        )

        argument = self.argument
        if not isinstance(argument, dict) or not argument.get("bucket") or not argument.get(
                "key_file"):
            raise DrlibHookError("!drlib_lambda_package needs `bucket` and `key_file`; "
                                 f"found {argument!r}")
        region = self.stack.region
        try:
            package = build_package(Path(argument.get("source") or DEFAULT_SOURCE_DIR),
                                    Path(argument.get("build_dir") or DEFAULT_BUILD_DIR))
            key = upload_package(package, StackClients(self.stack), region,
                                 str(argument["bucket"]))
        except DrError as exc:
            raise DrlibHookError(exc.render()) from exc
        write_key_file(Path(argument["key_file"]), key)
        self.logger.info("Lambda package %s in s3://%s (%s)", key, argument["bucket"], region)


class StackClients:
    """Clients of a stack's own Sceptre connection (its session, credentials and endpoint,
    made already and cached by Sceptre): a new boto3 session per hook read botocore's endpoint
    data again, a quarter of a second per stack."""

    def __init__(self, stack: Any) -> None:
        self._manager = stack.connection_manager

    def client(self, service: str, region: str) -> Any:
        manager = self._manager
        return manager._get_client(service, region, manager.profile, manager.stack_name,
                                   manager.sceptre_role)


def _mapping(argument: Any, tag: str, required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(argument, dict) or any(not argument.get(k) for k in required):
        raise DrlibHookError(f"{tag} needs {', '.join(required)}; found {argument!r}")
    return argument


class LaunchHook(Hook):
    """``!drlib_launch {path: group/stack.yaml, project_path: ..., variables: {{ var | tojson
    }}}``: launch that stack with the same var-file values (its dependencies, launched already,
    are left unchanged: CloudFormation has no update for them), and raise unless it completes."""

    def run(self) -> None:
        from sceptre.context import SceptreContext
        from sceptre.plan.plan import SceptrePlan

        argument = _mapping(self.argument, "!drlib_launch",
                            ("path", "project_path", "variables"))
        context = SceptreContext(project_path=str(argument["project_path"]),
                                 command_path=str(argument["path"]),
                                 user_variables=dict(argument["variables"]))
        self.logger.info("%s: launching %s again", self.stack.name, argument["path"])
        result = SceptrePlan(context).launch()
        failed = {stack.name: str(status) for stack, status in result.items()
                  if str(status) != "complete"}
        if failed:
            raise DrlibHookError(f"{self.stack.name}: the launch of {argument['path']} after it "
                                 f"did not complete: {failed}")


class StackOutputIfExists(Resolver):
    """``!drlib_stack_output_if_exists {stack: NAME, output: KEY, region: R, profile: P}``:
    the output of a CloudFormation stack, or "" while the stack does not exist (or has not
    produced the output yet). Any other error (e.g. the region does not answer) is raised:
    an empty value would remove what the output feeds."""

    def resolve(self) -> str:
        argument = _mapping(self.argument, "!drlib_stack_output_if_exists",
                            ("stack", "output", "region"))
        try:
            answer = self.stack.connection_manager.call(
                service="cloudformation", command="describe_stacks",
                kwargs={"StackName": argument["stack"]}, profile=argument.get("profile"),
                region=argument["region"], stack_name=argument["stack"])
        except ClientError as exc:
            if "does not exist" in str(exc.response.get("Error", {}).get("Message", "")):
                return ""
            raise
        stack = answer["Stacks"][0]
        if stack.get("StackStatus") in ("DELETE_COMPLETE", "ROLLBACK_COMPLETE"):
            return ""
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
        return str(outputs.get(argument["output"], ""))
