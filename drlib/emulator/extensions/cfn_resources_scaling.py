"""CloudFormation ``AWS::AutoScaling::ScalingPolicy`` and
``AWS::ApplicationAutoScaling::ScalableTarget``, which moto lacks, and in-place updates of
``AWS::AutoScaling::AutoScalingGroup``.

Both go through the backends' API methods (``put_scaling_policy``, ``register_scalable_target``)
so ``describe_policies`` and ``describe_scalable_targets`` show them.

moto updated an Auto Scaling group by deleting it and creating another under a new generated
name (everything that named the group broke). CloudFormation updates a group in place
(``UpdateAutoScalingGroup``), and sets ``MinSize``, ``MaxSize`` and ``DesiredCapacity`` to the
template's values whenever it updates the group: a group scaled outside CloudFormation (the DR
runbooks scale the standby region's) goes back to the template's size when a stack update
modifies it (a known CloudFormation behaviour: aws/aws-cdk#5215, "every deployment resets
capacity"). A new ``AutoScalingGroupName`` needs a replacement, which is refused.
"""

from __future__ import annotations

from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded
from drlib.emulator.extensions.cfn_resources_rds import as_bool, as_int


def update_group_in_place(cls: Any, original_resource: Any, new_resource_name: str,
                          cloudformation_json: Any, account_id: str, region_name: str) -> Any:
    """``AWS::AutoScaling::AutoScalingGroup`` updated as CloudFormation updates it."""
    from moto.autoscaling.models import autoscaling_backends

    from drlib.emulator.extensions.cfn_lifecycle import UpdateRefused

    p = cloudformation_json.get("Properties") or {}
    group = original_resource
    if p.get("AutoScalingGroupName") and str(p["AutoScalingGroupName"]) != group.name:
        raise UpdateRefused("CloudFormation cannot update a stack when a custom-named resource "
                            f"requires replacing. Rename {p['AutoScalingGroupName']} and update "
                            "the stack again.")
    backend = autoscaling_backends[account_id][region_name]
    arguments: dict[str, Any] = {
        "name": group.name, "availability_zones": p.get("AvailabilityZones") or [],
        "desired_capacity": as_int(p.get("DesiredCapacity")),
        "max_size": as_int(p.get("MaxSize")), "min_size": as_int(p.get("MinSize")),
        "launch_config_name": p.get("LaunchConfigurationName"),
        "launch_template": p.get("LaunchTemplate") or {},
        "vpc_zone_identifier": ",".join(p.get("VPCZoneIdentifier") or []) or None,
        "health_check_period": as_int(p.get("HealthCheckGracePeriod")),
        "health_check_type": p.get("HealthCheckType"),
        "new_instances_protected_from_scale_in": as_bool(
            p.get("NewInstancesProtectedFromScaleIn"))}
    backend.update_auto_scaling_group(**arguments)
    wanted = set(p.get("TargetGroupARNs") or [])
    current = set(group.target_group_arns or [])
    if wanted - current:
        backend.attach_load_balancer_target_groups(group.name, sorted(wanted - current))
    if current - wanted:
        backend.detach_load_balancer_target_groups(group.name, sorted(current - wanted))
    tags = [{"ResourceId": group.name, "ResourceType": "auto-scaling-group",
             "Key": str(t["Key"]), "Value": str(t["Value"]),
             "PropagateAtLaunch": bool(as_bool(t.get("PropagateAtLaunch")))}
            for t in p.get("Tags") or []]
    if tags:
        backend.create_or_update_tags(tags)
    return group


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

    from moto.autoscaling.models import FakeAutoScalingGroup

    FakeAutoScalingGroup.update_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        update_group_in_place)
    refresh_model_map(ScalingPolicyResource, ScalableTargetResource)


def install() -> None:
    """Define the scaling models once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_define_models)
