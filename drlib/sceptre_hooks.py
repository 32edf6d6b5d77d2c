"""Sceptre hooks of the project, run inside Sceptre's own interpreter.

Registered as entry points (``pyproject.toml``), so ``sceptre launch`` started any way (``uv run
sceptre``, an activated venv, or ``.venv/bin/sceptre`` directly) runs them with the project's
interpreter and nothing from the caller's PATH or shell:

* ``!drlib_preflight``: the settings checks of :mod:`drlib.preflight` over the var file's values,
  before any stack of the group is created or updated;
* ``!drlib_lambda_package``: build the DR Lambda package, upload it to the region's artifacts
  bucket under its SHA-256 and write the key for the stack's ``!file_contents`` parameter.
"""

from __future__ import annotations

from pathlib import Path

from sceptre.exceptions import SceptreException
from sceptre.hooks import Hook

from drlib.aws import AwsClients
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
        session = self.stack.connection_manager.get_session()
        frozen = session.get_credentials().get_frozen_credentials()
        credentials = {"aws_access_key_id": frozen.access_key,
                       "aws_secret_access_key": frozen.secret_key}
        if frozen.token:
            credentials["aws_session_token"] = frozen.token
        clients = AwsClients(credentials=credentials)
        try:
            package = build_package(Path(argument.get("source") or DEFAULT_SOURCE_DIR),
                                    Path(argument.get("build_dir") or DEFAULT_BUILD_DIR))
            key = upload_package(package, clients, region, str(argument["bucket"]))
        except DrError as exc:
            raise DrlibHookError(exc.render()) from exc
        write_key_file(Path(argument["key_file"]), key)
        self.logger.info("Lambda package %s in s3://%s (%s)", key, argument["bucket"], region)
