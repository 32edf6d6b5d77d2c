"""CloudFormation security-group rules as AWS keeps them.

moto drops ``Description`` from security-group rules, ignores ``SecurityGroupEgress`` on a
group, and has no ``AWS::EC2::SecurityGroupEgress`` resource. Here a group's declared ingress and
egress rules are authorized through the EC2 backend with their descriptions (declared egress
replaces the default allow-all rule, as on AWS), and ``AWS::EC2::SecurityGroupIngress`` /
``AWS::EC2::SecurityGroupEgress`` resources are authorized and revoked through the same API.
"""

from __future__ import annotations

from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded

_patched: set[str] = set()


def _rule_arguments(rule: dict[str, Any]) -> dict[str, Any]:
    """One CloudFormation security-group rule as authorize_security_group_* arguments."""
    description = rule.get("Description")
    ip_ranges: list[dict[str, Any]] = []
    for key in ("CidrIp", "CidrIpv6"):
        if rule.get(key):
            entry = {key: rule[key]}
            if description is not None:
                entry["Description"] = description
            ip_ranges.append(entry)
    source: dict[str, Any] = {}
    for cfn_key, api_key in (("SourceSecurityGroupId", "GroupId"),
                             ("DestinationSecurityGroupId", "GroupId"),
                             ("SourceSecurityGroupName", "GroupName"),
                             ("SourceSecurityGroupOwnerId", "UserId")):
        if rule.get(cfn_key):
            source[api_key] = rule[cfn_key]
    if source and description is not None:
        source["Description"] = description
    prefix = rule.get("DestinationPrefixListId") or rule.get("SourcePrefixListId")
    protocol = str(rule.get("IpProtocol", "-1"))
    all_ports = protocol == "-1"
    return {
        "ip_protocol": protocol,
        "from_port": None if all_ports else rule.get("FromPort"),
        "to_port": None if all_ports else rule.get("ToPort"),
        "ip_ranges": ip_ranges,
        "source_groups": [source] if source else [],
        "prefix_list_ids": [{"PrefixListId": prefix, **(
            {"Description": description} if description is not None else {})}] if prefix else [],
    }



def _define_models() -> None:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.core.common_models import CloudFormationModel
    from moto.ec2.models import ec2_backends

    class _SecurityGroupRule:
        direction = "ingress"

        def __init__(self, group_id: str, arguments: dict[str, Any], rule_id: str) -> None:
            self.group_id = group_id
            self.arguments = arguments
            self.rule_id = rule_id

        @property
        def physical_resource_id(self) -> str:
            return self.rule_id

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Id"

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "Id":
                return self.rule_id
            raise UnformattedGetAttTemplateException()

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> _SecurityGroupRule:
            p = cloudformation_json.get("Properties") or {}
            backend = ec2_backends[account_id][region_name]
            group_id = p.get("GroupId") or backend.get_security_group_by_name_or_id(
                p.get("GroupName")).id
            arguments = _rule_arguments(p)
            authorize = getattr(backend, f"authorize_security_group_{cls.direction}")
            rules, _group = authorize(group_name_or_id=group_id, **arguments)
            return cls(group_id, arguments, rules[0].id if rules else resource_name)

        def delete(self, account_id: str, region_name: str) -> None:
            backend = ec2_backends[account_id][region_name]
            if backend.get_security_group_by_name_or_id(self.group_id) is None:
                return
            revoke = getattr(backend, f"revoke_security_group_{self.direction}")
            arguments = {k: v for k, v in self.arguments.items()}
            revoke(group_name_or_id=self.group_id, **arguments)

    class SecurityGroupIngressResource(_SecurityGroupRule, CloudFormationModel):
        """``AWS::EC2::SecurityGroupIngress``, its Description kept."""

        direction = "ingress"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::EC2::SecurityGroupIngress"

    class SecurityGroupEgressResource(_SecurityGroupRule, CloudFormationModel):
        """``AWS::EC2::SecurityGroupEgress``, which moto lacks."""

        direction = "egress"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::EC2::SecurityGroupEgress"

    refresh_model_map(SecurityGroupIngressResource, SecurityGroupEgressResource)


def _patch_security_group(cls: Any) -> None:
    """Create the group without rules, then add each declared rule with its Description."""
    if "security-group" in _patched:
        return
    original = cls.create_from_cloudformation_json.__func__

    def create(klass: Any, resource_name: str, cloudformation_json: Any, account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        from moto.ec2.models import ec2_backends

        properties = dict(cloudformation_json.get("Properties") or {})
        ingress = properties.pop("SecurityGroupIngress", None) or []
        egress = properties.pop("SecurityGroupEgress", None)
        group = original(klass, resource_name, {**cloudformation_json, "Properties": properties},
                         account_id, region_name, **kwargs)
        backend = ec2_backends[account_id][region_name]
        for rule in ingress:
            backend.authorize_security_group_ingress(group_name_or_id=group.id,
                                                     **_rule_arguments(rule))
        if egress is not None:
            # Declared egress rules replace the default allow-all rule, as on AWS.
            for default in list(group.egress_rules):
                backend.revoke_security_group_egress(
                    group_name_or_id=group.id, ip_protocol=default.ip_protocol,
                    from_port=default.from_port, to_port=default.to_port,
                    ip_ranges=[default.ip_range] if default.ip_range else [])
            for rule in egress:
                backend.authorize_security_group_egress(group_name_or_id=group.id,
                                                        **_rule_arguments(rule))
        return group

    cls.create_from_cloudformation_json = classmethod(create)
    _patched.add("security-group")



def _patch() -> None:
    from moto.ec2.models.security_groups import SecurityGroup

    _patch_security_group(SecurityGroup)
    _define_models()


def install() -> None:
    """Patch security groups and define the rule models once moto's CloudFormation loads."""
    when_cloudformation_loaded(_patch)
