"""``Fn::GetAtt`` attributes that moto's models leave out.

- ELBv2: moto answers ``DNSName`` and ``LoadBalancerName`` only, and a target group has no
  attributes at all (a stack whose outputs use ``TargetGroupFullName`` fails). The full names are
  the ARN suffixes CloudWatch dimensions use (``app/name/id``, ``targetgroup/name/id``).
- Route 53 hosted zones: moto answers none (``NameServers`` fails the stack);
- EC2 subnets: moto answers no attribute (``AvailabilityZone`` comes back as the literal
  ``{'Fn::GetAtt': ...}``).

Values come from the same objects the describe APIs show.
"""

from __future__ import annotations

from typing import Any

from drlib.emulator.extensions.cfn_hooks import when_cloudformation_loaded

LOAD_BALANCER_ATTRIBUTES = ("DNSName", "LoadBalancerName", "CanonicalHostedZoneID",
                            "LoadBalancerFullName", "SecurityGroups", "LoadBalancerArn")
TARGET_GROUP_ATTRIBUTES = ("TargetGroupArn", "TargetGroupName", "TargetGroupFullName",
                           "LoadBalancerArns")

_patched: list[str] = []


def load_balancer_attribute(balancer: Any, attribute_name: str) -> Any:
    """One CloudFormation attribute of a moto ELBv2 load balancer."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    values = {
        "DNSName": lambda: balancer.dns_name,
        "LoadBalancerName": lambda: balancer.name,
        "CanonicalHostedZoneID": lambda: balancer.canonical_hosted_zone_id,
        "LoadBalancerFullName": lambda: balancer.arn.split(":loadbalancer/", 1)[1],
        "SecurityGroups": lambda: list(balancer.security_groups or []),
        "LoadBalancerArn": lambda: balancer.arn,
    }
    if attribute_name not in values:
        raise UnformattedGetAttTemplateException()
    return values[attribute_name]()


def target_group_attribute(group: Any, attribute_name: str) -> Any:
    """One CloudFormation attribute of a moto ELBv2 target group."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    values = {
        "TargetGroupArn": lambda: group.arn,
        "TargetGroupName": lambda: group.name,
        "TargetGroupFullName": lambda: group.arn.split(":")[-1],
        "LoadBalancerArns": lambda: list(group.load_balancer_arns),
    }
    if attribute_name not in values:
        raise UnformattedGetAttTemplateException()
    return values[attribute_name]()


SUBNET_ATTRIBUTES = ("AvailabilityZone", "AvailabilityZoneId", "CidrBlock", "VpcId",
                     "SubnetId", "Ipv6CidrBlocks")


def subnet_attribute(subnet: Any, attribute_name: str) -> Any:
    """One CloudFormation attribute of a moto EC2 subnet."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    values = {
        "AvailabilityZone": lambda: subnet.availability_zone,
        "AvailabilityZoneId": lambda: subnet.availability_zone_id,
        "CidrBlock": lambda: subnet.cidr_block,
        "VpcId": lambda: subnet.vpc_id,
        "SubnetId": lambda: subnet.id,
        "Ipv6CidrBlocks": lambda: [a.get("ipv6CidrBlock") for a in
                                   subnet.ipv6_cidr_block_associations.values()],
    }
    if attribute_name not in values:
        raise UnformattedGetAttTemplateException()
    return values[attribute_name]()


HOSTED_ZONE_ATTRIBUTES = ("Id", "NameServers")


def hosted_zone_attribute(zone: Any, attribute_name: str) -> Any:
    """One CloudFormation attribute of a moto Route 53 hosted zone."""
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if attribute_name == "Id":
        return zone.id
    if attribute_name == "NameServers":
        return list(zone.delegation_set.name_servers) if zone.delegation_set else []
    raise UnformattedGetAttTemplateException()


def _patch() -> None:
    from moto.ec2.models.subnets import Subnet
    from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup
    from moto.route53.models import FakeZone

    if _patched:
        return
    FakeZone.get_cfn_attribute = hosted_zone_attribute  # type: ignore[attr-defined]
    FakeZone.has_cfn_attr = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls, attr: attr in HOSTED_ZONE_ATTRIBUTES)
    Subnet.get_cfn_attribute = subnet_attribute  # type: ignore[method-assign,assignment]
    Subnet.has_cfn_attr = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls, attr: attr in SUBNET_ATTRIBUTES)
    FakeLoadBalancer.get_cfn_attribute = load_balancer_attribute  # type: ignore[method-assign]
    FakeLoadBalancer.has_cfn_attr = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls, attr: attr in LOAD_BALANCER_ATTRIBUTES)
    FakeTargetGroup.get_cfn_attribute = target_group_attribute  # type: ignore[attr-defined]
    FakeTargetGroup.has_cfn_attr = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls, attr: attr in TARGET_GROUP_ATTRIBUTES)
    _patched.append("elbv2")


def install() -> None:
    """Patch the ELBv2, Route 53 zone and subnet models once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_patch)
