"""CloudFormation secrets, alarms, KMS keys and SSM documents (moto skips or mishandles them).

- ``AWS::SecretsManager::Secret`` (``SecretString`` or ``GenerateSecretString``, ``KmsKeyId``,
  tags; Ref is the ARN) through ``SecretsManagerBackend.create_secret``;
- ``AWS::CloudWatch::Alarm`` through ``CloudWatchBackend.put_metric_alarm``;
- ``AWS::KMS::Key`` with ``KeyPolicy`` given as an object (moto needs a JSON string);
- ``AWS::SSM::Document`` with ``Content`` given as a map (moto needs a string).

(Security-group rules: :mod:`cfn_resources_ec2`; IAM roles: :mod:`cfn_resources_iam`.)
"""

from __future__ import annotations

import json
from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded
from drlib.emulator.extensions.cfn_resources_rds import as_bool, as_int

_wrapped: set[str] = set()


def generated_secret(backend: Any, spec: dict[str, Any]) -> str:
    """The secret string ``GenerateSecretString`` describes, as CloudFormation builds it."""
    password = backend.get_random_password(
        password_length=as_int(spec.get("PasswordLength")) or 32,
        exclude_characters=spec.get("ExcludeCharacters") or "",
        exclude_numbers=bool(as_bool(spec.get("ExcludeNumbers"))),
        exclude_punctuation=bool(as_bool(spec.get("ExcludePunctuation"))),
        exclude_uppercase=bool(as_bool(spec.get("ExcludeUppercase"))),
        exclude_lowercase=bool(as_bool(spec.get("ExcludeLowercase"))),
        include_space=bool(as_bool(spec.get("IncludeSpace"))),
        require_each_included_type=as_bool(spec.get("RequireEachIncludedType")) is not False,
    )
    password = json.loads(password)["RandomPassword"]
    template = spec.get("SecretStringTemplate")
    key = spec.get("GenerateStringKey")
    if template is None and key is None:
        return str(password)
    if template is None or key is None:
        from moto.cloudformation.exceptions import ValidationError

        raise ValidationError(message="GenerateSecretString needs both SecretStringTemplate "
                                      "and GenerateStringKey, or neither")
    document = json.loads(template)
    document[key] = password
    return json.dumps(document)


def policy_text(policy: Any) -> str:
    """A policy document as the JSON string the service APIs take."""
    return policy if isinstance(policy, str) else json.dumps(policy)


def default_key_policy(account_id: str) -> str:
    """The key policy KMS gives a key created without one."""
    return json.dumps({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "kms:*", "Resource": "*"}]})



def metric_data_query(query: dict[str, Any]) -> Any:
    """One ``Metrics`` entry of an alarm as moto's ``MetricDataQuery`` (as its API builds it)."""
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat

    stat = query.get("MetricStat") or {}
    metric = stat.get("Metric") or {}
    metric_stat = None
    if metric.get("MetricName"):
        metric_stat = MetricStat(
            metric=Metric(metric_name=metric["MetricName"], namespace=metric.get("Namespace"),
                          dimensions=[Dimension(name=d["Name"], value=d["Value"])
                                      for d in metric.get("Dimensions") or []]),
            period=stat.get("Period"), stat=stat.get("Stat"), unit=stat.get("Unit"))
    return MetricDataQuery(query_id=query.get("Id"), label=query.get("Label"),
                           period=query.get("Period"), return_data=query.get("ReturnData"),
                           expression=query.get("Expression"), metric_stat=metric_stat)


def _define_models() -> None:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.common_models import CloudFormationModel
    from moto.secretsmanager.models import secretsmanager_backends

    class SecretResource(CloudFormationModel):
        """An ``AWS::SecretsManager::Secret``; Ref gives its ARN, as on AWS."""

        def __init__(self, arn: str, name: str) -> None:
            self.arn = arn
            self.name = name

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SecretsManager::Secret"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Id", "Arn")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name in ("Id", "Arn"):
                return self.arn
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> SecretResource:
            p = cloudformation_json.get("Properties") or {}
            backend = secretsmanager_backends[account_id][region_name]
            secret_string = p.get("SecretString")
            if secret_string is None and p.get("GenerateSecretString") is not None:
                secret_string = generated_secret(backend, p["GenerateSecretString"])
            name = p.get("Name") or resource_name
            backend.create_secret(
                name=name, secret_string=secret_string, secret_binary=None,
                description=p.get("Description"), tags=p.get("Tags") or [],
                kms_key_id=p.get("KmsKeyId"), client_request_token=None,
                replica_regions=list(p.get("ReplicaRegions") or []),
                force_overwrite=False)
            return cls(backend.secrets[name].arn, name)

        def delete(self, account_id: str, region_name: str) -> None:
            # CloudFormation removes the replicas it made (ReplicaRegions) before deleting;
            # Secrets Manager refuses to delete a secret that still has replica regions.
            backend = secretsmanager_backends[account_id][region_name]
            replicas = [r.region for r in getattr(backend.describe_secret(self.arn), "replicas",
                                                 None) or []]
            if replicas:
                backend.remove_regions_from_replication(self.arn, replicas)
            backend.delete_secret(
                self.arn, recovery_window_in_days=None, force_delete_without_recovery=True)

    class AlarmResource(CloudFormationModel):
        """An ``AWS::CloudWatch::Alarm`` made through ``put_metric_alarm``; Ref is its name."""

        def __init__(self, alarm: Any) -> None:
            self.alarm = alarm

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @property
        def physical_resource_id(self) -> str:
            return str(self.alarm.name)

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "Arn":
                return self.alarm.alarm_arn
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> AlarmResource:
            p = cloudformation_json.get("Properties") or {}
            queries = [metric_data_query(q) for q in p.get("Metrics") or []] or None
            threshold = p.get("Threshold")
            alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
                name=p.get("AlarmName") or resource_name,
                namespace=p.get("Namespace"), metric_name=p.get("MetricName"),
                comparison_operator=p.get("ComparisonOperator"),
                evaluation_periods=as_int(p.get("EvaluationPeriods")),  # type: ignore[arg-type]
                period=as_int(p.get("Period")),  # type: ignore[arg-type]
                threshold=None if threshold is None else float(threshold),  # type: ignore[arg-type]
                statistic=p.get("Statistic"), description=p.get("AlarmDescription"),
                dimensions=[{"Name": d["Name"], "Value": str(d["Value"])}
                            for d in p.get("Dimensions") or []],
                alarm_actions=p.get("AlarmActions") or [],
                metric_data_queries=queries,
                datapoints_to_alarm=as_int(p.get("DatapointsToAlarm")),
                extended_statistic=p.get("ExtendedStatistic"),
                ok_actions=p.get("OKActions") or [],
                insufficient_data_actions=p.get("InsufficientDataActions") or [],
                unit=p.get("Unit"),
                actions_enabled=as_bool(p.get("ActionsEnabled")) is not False,
                treat_missing_data=p.get("TreatMissingData"),
                evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
                threshold_metric_id=p.get("ThresholdMetricId"),
                tags=p.get("Tags") or [])
            return cls(alarm)

        def delete(self, account_id: str, region_name: str) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([self.alarm.name])


    _patch_existing_models()
    refresh_model_map(SecretResource, AlarmResource)


def _wrap_create(cls: Any, key: str, prepare: Any) -> None:
    """Run ``prepare(properties, account_id)`` before ``cls``'s own CloudFormation creation."""
    if key in _wrapped:
        return
    original = cls.create_from_cloudformation_json.__func__

    def create(klass: Any, resource_name: str, cloudformation_json: Any, account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        cloudformation_json = dict(cloudformation_json)
        cloudformation_json["Properties"] = prepare(
            dict(cloudformation_json.get("Properties") or {}), account_id)
        return original(klass, resource_name, cloudformation_json, account_id, region_name,
                        **kwargs)

    cls.create_from_cloudformation_json = classmethod(create)
    _wrapped.add(key)


def _prepare_key(p: dict[str, Any], account_id: str) -> dict[str, Any]:
    p["KeyPolicy"] = policy_text(p["KeyPolicy"]) if p.get("KeyPolicy") else \
        default_key_policy(account_id)
    p["EnableKeyRotation"] = bool(as_bool(p.get("EnableKeyRotation")))
    # CloudFormation tags are Key/Value; the KMS API (and moto's create_key) uses TagKey/TagValue.
    p["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in p.get("Tags") or []]
    return p


def _prepare_document(p: dict[str, Any], account_id: str) -> dict[str, Any]:
    content = p.get("Content")
    if content is not None and not isinstance(content, str):
        if str(p.get("DocumentFormat", "JSON")).upper() == "YAML":
            import yaml

            p["Content"] = yaml.safe_dump(content, sort_keys=False)
        else:
            p["Content"] = json.dumps(content)
            p["DocumentFormat"] = "JSON"
    return p


def _patch_existing_models() -> None:
    from moto.kms.models import Key
    from moto.ssm.models import Document

    _wrap_create(Key, "kms-key", _prepare_key)
    _wrap_create(Document, "ssm-document", _prepare_document)




def install() -> None:
    """Define and patch the models once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_define_models)
