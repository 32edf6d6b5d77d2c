"""CloudFormation ``AWS::CloudTrail::Trail``, which moto lacks.

The trail is made through moto's CloudTrail backend (``create_trail``, which checks the bucket
exists, as AWS does), then its ``EventSelectors`` / ``AdvancedEventSelectors`` are put and, with
``IsLogging``, logging is started, so ``describe_trails``, ``get_event_selectors`` and
``get_trail_status`` answer as on AWS. Ref is the trail name; ``Arn`` is the trail ARN. No log
files are written: moto records no API activity.
"""

from __future__ import annotations

from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded
from drlib.emulator.extensions.cfn_resources_rds import as_bool


def event_selectors(declared: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """CloudFormation ``EventSelectors`` as the CloudTrail API's, booleans made booleans."""
    selectors = []
    for selector in declared or []:
        api: dict[str, Any] = {"ReadWriteType": selector.get("ReadWriteType", "All"),
                               "IncludeManagementEvents": as_bool(
                                   selector.get("IncludeManagementEvents", True))}
        if selector.get("DataResources"):
            api["DataResources"] = [{"Type": d["Type"], "Values": list(d.get("Values") or [])}
                                    for d in selector["DataResources"]]
        if selector.get("ExcludeManagementEventSources"):
            api["ExcludeManagementEventSources"] = list(selector["ExcludeManagementEventSources"])
        selectors.append(api)
    return selectors


def _define_models() -> None:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudtrail.models import cloudtrail_backends
    from moto.core.common_models import CloudFormationModel

    class TrailResource(CloudFormationModel):
        """``AWS::CloudTrail::Trail``; Ref is the trail name."""

        def __init__(self, trail: Any) -> None:
            self.trail = trail

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudTrail::Trail"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "TrailName"

        @property
        def physical_resource_id(self) -> str:
            return str(self.trail.trail_name)

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Arn", "SnsTopicArn")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "Arn":
                return self.trail.arn
            if attribute_name == "SnsTopicArn":
                return self.trail.topic_arn
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> TrailResource:
            p = cloudformation_json.get("Properties") or {}
            backend = cloudtrail_backends[account_id][region_name]
            name = p.get("TrailName") or resource_name
            optional: dict[str, Any] = {
                k: p.get(k) for k in ("S3KeyPrefix", "SnsTopicName", "KMSKeyId",
                                      "CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn")}
            trail = backend.create_trail(
                name=name, bucket_name=p["S3BucketName"], s3_key_prefix=optional["S3KeyPrefix"],
                sns_topic_name=optional["SnsTopicName"],
                is_global=bool(as_bool(p.get("IncludeGlobalServiceEvents", True))),
                is_multi_region=bool(as_bool(p.get("IsMultiRegionTrail", False))),
                log_validation=bool(as_bool(p.get("EnableLogFileValidation", False))),
                is_org_trail=bool(as_bool(p.get("IsOrganizationTrail", False))),
                cw_log_group_arn=optional["CloudWatchLogsLogGroupArn"],
                cw_role_arn=optional["CloudWatchLogsRoleArn"], kms_key_id=optional["KMSKeyId"],
                tags_list=p.get("Tags") or [])
            selectors = event_selectors(p.get("EventSelectors"))
            advanced = list(p.get("AdvancedEventSelectors") or [])
            if selectors or advanced:
                backend.put_event_selectors(name, selectors, advanced)
            if as_bool(p.get("IsLogging", False)):
                backend.start_logging(name)
            return cls(trail)

        def delete(self, account_id: str, region_name: str) -> None:
            cloudtrail_backends[account_id][region_name].delete_trail(self.trail.trail_name)

    refresh_model_map(TrailResource)


def install() -> None:
    """Define the trail model once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_define_models)
