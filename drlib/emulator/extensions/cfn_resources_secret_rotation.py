"""CloudFormation ``AWS::SecretsManager::RotationSchedule`` with a rotation Lambda, which moto
lacks.

The schedule is recorded on the secret as Secrets Manager records it: ``describe_secret`` then
shows ``RotationEnabled``, ``RotationLambdaARN``, ``RotationRules`` and ``NextRotationDate``. The
function is not invoked: with ``RotateImmediatelyOnUpdate: false`` AWS runs only its
``testSecret`` step at this point, and the emulator runs no Lambda code (README, "What it does
not do"). A template asking for an immediate rotation, or for the hosted rotation Lambdas of the
``AWS::SecretsManager`` transform, is refused rather than pretended. Deleting the schedule turns
rotation off (``cancel_rotate_secret``).
"""

from __future__ import annotations

import time
from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded
from drlib.emulator.extensions.cfn_resources_rds import as_bool, as_int

DAY_SECONDS = 86400


def rotation_days(rules: dict[str, Any] | None) -> int:
    """``RotationRules.AutomaticallyAfterDays`` (1-1000, as Secrets Manager checks it)."""
    days = as_int((rules or {}).get("AutomaticallyAfterDays"))
    if days is None or not 1 <= days <= 1000:
        raise ValueError("RotationRules.AutomaticallyAfterDays must be within 1-1000")
    return days


def _define_models() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.common_models import CloudFormationModel
    from moto.secretsmanager.models import FakeSecret, secretsmanager_backends

    class RotationScheduleResource(CloudFormationModel):
        """``AWS::SecretsManager::RotationSchedule``; Ref is the secret's ARN, as on AWS."""

        def __init__(self, secret_arn: str) -> None:
            self.secret_arn = secret_arn

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SecretsManager::RotationSchedule"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return self.secret_arn

        @classmethod
        def create_from_cloudformation_json(
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> RotationScheduleResource:
            p = cloudformation_json.get("Properties") or {}
            if p.get("HostedRotationLambda"):
                raise ValidationError(message="HostedRotationLambda needs the "
                                              "AWS::SecretsManager transform, not emulated")
            if as_bool(p.get("RotateImmediatelyOnUpdate", True)):
                raise ValidationError(message="the emulator runs no rotation Lambda: set "
                                              "RotateImmediatelyOnUpdate to false")
            if not p.get("RotationLambdaARN"):
                raise ValidationError(message="RotationLambdaARN is required")
            try:
                days = rotation_days(p.get("RotationRules"))
            except ValueError as error:
                raise ValidationError(message=str(error)) from error
            backend = secretsmanager_backends[account_id][region_name]
            secret = backend.describe_secret(p["SecretId"])
            if not isinstance(secret, FakeSecret):
                raise ValidationError(message="rotation is configured on the primary secret, "
                                              "not on a replica")
            secret.rotation_lambda_arn = p["RotationLambdaARN"]
            secret.auto_rotate_after_days = days
            secret.rotation_requested = True
            secret.rotation_enabled = True
            secret.next_rotation_date = int(time.time()) + days * DAY_SECONDS
            return cls(secret.arn)

        def delete(self, account_id: str, region_name: str) -> None:
            backend = secretsmanager_backends[account_id][region_name]
            if backend._is_valid_identifier(self.secret_arn) and not backend.describe_secret(
                    self.secret_arn).is_deleted():
                backend.cancel_rotate_secret(self.secret_arn)

    refresh_model_map(RotationScheduleResource)


def install() -> None:
    """Define the rotation-schedule model once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_define_models)
