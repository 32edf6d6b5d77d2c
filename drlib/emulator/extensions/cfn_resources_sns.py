"""CloudFormation ``AWS::SNS::Subscription`` and ``AWS::SNS::TopicPolicy``, which moto lacks.

Both go through moto's SNS backend (``subscribe`` plus ``set_subscription_attributes``, and the
topic's ``Policy`` attribute) so ``list_subscriptions_by_topic`` and ``get_topic_attributes``
show them. Ref is the subscription ARN, and for a topic policy the stack-generated id.
"""

from __future__ import annotations

import json
from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded

SUBSCRIPTION_ATTRIBUTES = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope",
                           "RawMessageDelivery", "RedrivePolicy", "SubscriptionRoleArn")


def attribute_text(value: Any) -> str:
    """A subscription attribute as the string the SNS API takes (policies as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _define_models() -> None:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.core.common_models import CloudFormationModel
    from moto.sns.models import sns_backends

    class SubscriptionResource(CloudFormationModel):
        """``AWS::SNS::Subscription`` through ``SNSBackend.subscribe``."""

        def __init__(self, arn: str) -> None:
            self.arn = arn

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::Subscription"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "Arn":
                return self.arn
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> SubscriptionResource:
            p = cloudformation_json.get("Properties") or {}
            topic_region = p.get("Region") or p["TopicArn"].split(":")[3] or region_name
            backend = sns_backends[account_id][topic_region]
            subscription = backend.subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
            for name in SUBSCRIPTION_ATTRIBUTES:
                if p.get(name) is not None:
                    backend.set_subscription_attributes(subscription.arn, name,
                                                        attribute_text(p[name]))
            return cls(subscription.arn)

        def delete(self, account_id: str, region_name: str) -> None:
            sns_backends[account_id][self.arn.split(":")[3]].unsubscribe(self.arn)

    class TopicPolicyResource(CloudFormationModel):
        """``AWS::SNS::TopicPolicy``: the policy set on each listed topic."""

        def __init__(self, policy_id: str, topics: list[str]) -> None:
            self.policy_id = policy_id
            self.topics = topics

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::TopicPolicy"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return self.policy_id

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> TopicPolicyResource:
            p = cloudformation_json.get("Properties") or {}
            backend = sns_backends[account_id][region_name]
            document = attribute_text(p["PolicyDocument"])
            topics = list(p.get("Topics") or [])
            for topic_arn in topics:
                backend.set_topic_attribute(topic_arn, "policy", document)
            return cls(resource_name, topics)

        def delete(self, account_id: str, region_name: str) -> None:
            backend = sns_backends[account_id][region_name]
            for topic_arn in self.topics:
                if topic_arn in backend.topics:
                    topic = backend.topics[topic_arn]
                    # Deleting the policy restores the default one, as on AWS.
                    topic._policy_json = topic._create_default_topic_policy(
                        region_name, account_id, topic.name)

    refresh_model_map(SubscriptionResource, TopicPolicyResource)


def install() -> None:
    """Define the SNS models once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_define_models)
