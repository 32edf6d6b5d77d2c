"""CloudFormation ``AWS::AutoScaling::ScalingPolicy`` and
``AWS::ApplicationAutoScaling::ScalableTarget``, which moto lacks.

Both go through the backends' API methods (``put_scaling_policy``, ``register_scalable_target``)
so ``describe_policies`` and ``describe_scalable_targets`` show them.
"""

from __future__ import annotations

from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded
from drlib.emulator.extensions.cfn_resources_rds import as_bool, as_int


def _define_models() -> None:
    from moto.applicationautoscaling.models import applicationautoscaling_backends
    from moto.autoscaling.models import autoscaling_backends
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.core.common_models import CloudFormationModel

    class ScalingPolicyResource(CloudFormationModel):
        """``AWS::AutoScaling::ScalingPolicy``; Ref is the policy ARN."""

        def __init__(self, policy: Any) -> None:
            self.policy = policy

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::AutoScaling::ScalingPolicy"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return str(self.policy.arn)

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Arn", "PolicyName")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "Arn":
                return self.policy.arn
            if attribute_name == "PolicyName":
                return self.policy.name
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> ScalingPolicyResource:
            p = cloudformation_json.get("Properties") or {}
            policy = autoscaling_backends[account_id][region_name].put_scaling_policy(
                name=resource_name, policy_type=p.get("PolicyType", "SimpleScaling"),
                metric_aggregation_type=p.get("MetricAggregationType"),
                adjustment_type=p.get("AdjustmentType"),
                as_name=p["AutoScalingGroupName"],
                min_adjustment_magnitude=p.get("MinAdjustmentMagnitude"),
                scaling_adjustment=as_int(p.get("ScalingAdjustment")),
                cooldown=as_int(p.get("Cooldown")),
                target_tracking_config=p.get("TargetTrackingConfiguration") or {},
                step_adjustments=p.get("StepAdjustments") or [],
                estimated_instance_warmup=p.get("EstimatedInstanceWarmup"),
                predictive_scaling_configuration=p.get("PredictiveScalingConfiguration"))
            return cls(policy)

        def delete(self, account_id: str, region_name: str) -> None:
            autoscaling_backends[account_id][region_name].delete_policy(self.policy.name)

    class ScalableTargetResource(CloudFormationModel):
        """``AWS::ApplicationAutoScaling::ScalableTarget``; Ref is
        ``resource-id|scalable-dimension|service-namespace``, as CloudFormation makes it."""

        def __init__(self, namespace: str, resource_id: str, dimension: str) -> None:
            self.namespace = namespace
            self.resource_id = resource_id
            self.dimension = dimension

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApplicationAutoScaling::ScalableTarget"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return f"{self.resource_id}|{self.dimension}|{self.namespace}"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> ScalableTargetResource:
            p = cloudformation_json.get("Properties") or {}
            suspended = p.get("SuspendedState")
            applicationautoscaling_backends[account_id][region_name].register_scalable_target(
                namespace=p["ServiceNamespace"], r_id=p["ResourceId"],
                dimension=p["ScalableDimension"], min_capacity=as_int(p.get("MinCapacity")),
                max_capacity=as_int(p.get("MaxCapacity")), role_arn=p.get("RoleARN"),
                suspended_state={k: as_bool(v) for k, v in suspended.items()}
                if suspended else None)
            return cls(p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"])

        def delete(self, account_id: str, region_name: str) -> None:
            applicationautoscaling_backends[account_id][region_name].deregister_scalable_target(
                self.namespace, self.resource_id, self.dimension)

    refresh_model_map(ScalingPolicyResource, ScalableTargetResource)


def install() -> None:
    """Define the scaling models once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_define_models)
