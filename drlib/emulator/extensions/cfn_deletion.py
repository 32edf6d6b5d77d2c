"""Stack deletion that removes what moto's CloudFormation models leave behind.

moto's models for NAT gateways, internet gateways and their attachments, Elastic IPs, VPC
endpoints, flow logs, route tables, routes and route-table associations have no working delete,
so after ``delete_stack`` they survive and the VPC itself fails with ``DependencyViolation``.
Here each of those types is deleted through the EC2 backend's own API methods (as CloudFormation
calls the EC2 API), newest first as :mod:`cfn_lifecycle` orders them. Other ``cfn_*`` modules
register deleters for their types with :func:`register_deleter`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drlib.emulator.extensions.cfn_hooks import when_cloudformation_loaded

Deleter = Callable[[Any, str, str], None]
"""(the resource's moto object, account id, region) -> None; raises if it cannot go yet."""

_deleters: dict[str, Deleter] = {}
_original_delete_resource: Any = None


def register_deleter(resource_type: str, deleter: Deleter) -> None:
    """Delete resources of ``resource_type`` with ``deleter`` instead of moto's model."""
    _deleters[resource_type] = deleter


def _ec2(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def delete_nat_gateway(nat: Any, account_id: str, region: str) -> None:
    """Delete the NAT gateway, free its Elastic IP association and its network interface."""
    ec2 = _ec2(account_id, region)
    ec2.delete_nat_gateway(nat.id)
    eni = getattr(nat, "_eni", None)
    if eni is None:
        return
    for address in list(ec2.addresses):
        if address.eni is not None and address.eni.id == eni.id:
            ec2.disassociate_address(address=address.public_ip)
    if eni.id in ec2.enis:
        ec2.delete_network_interface(eni.id)


def delete_internet_gateway(igw: Any, account_id: str, region: str) -> None:
    """Delete the internet gateway (its attachment is deleted first, being newer)."""
    ec2 = _ec2(account_id, region)
    if igw.id in ec2.internet_gateways:
        ec2.delete_internet_gateway(igw.id)


def delete_gateway_attachment(attachment: Any, account_id: str, region: str) -> None:
    """Detach the internet or VPN gateway from the VPC."""
    ec2 = _ec2(account_id, region)
    gateway_id = attachment.gateway_id
    if gateway_id.startswith("igw-"):
        igw = ec2.internet_gateways.get(gateway_id)
        if igw is not None and igw.vpc is not None:
            ec2.detach_internet_gateway(gateway_id, attachment.vpc_id)
    else:
        ec2.detach_vpn_gateway(gateway_id, attachment.vpc_id)


def release_address(address: Any, account_id: str, region: str) -> None:
    """Release the Elastic IP (disassociating it first, as the API does)."""
    ec2 = _ec2(account_id, region)
    if address in ec2.addresses:
        ec2.release_address(address=address.public_ip)


def delete_vpc_endpoint(endpoint: Any, account_id: str, region: str) -> None:
    """Delete the endpoint: its interfaces or its routes go with it."""
    _ec2(account_id, region).delete_vpc_endpoints([endpoint.id])


def delete_flow_log(flow_log: Any, account_id: str, region: str) -> None:
    """Delete the flow log."""
    ec2 = _ec2(account_id, region)
    if flow_log.id in ec2.flow_logs:
        ec2.delete_flow_logs([flow_log.id])


def delete_route_table(route_table: Any, account_id: str, region: str) -> None:
    """Delete the route table (its associations are deleted first, being newer)."""
    ec2 = _ec2(account_id, region)
    if route_table.id in ec2.route_tables:
        ec2.delete_route_table(route_table.id)


def delete_route(route: Any, account_id: str, region: str) -> None:
    """Delete the route from its table."""
    ec2 = _ec2(account_id, region)
    table = route.route_table
    if table.id in ec2.route_tables and route.id in table.routes:
        ec2.delete_route(table.id, route.destination_cidr_block,
                         destination_ipv6_cidr_block=route.destination_ipv6_cidr_block,
                         destination_prefix_list_id=getattr(route.destination_prefix_list,
                                                            "id", None))


def delete_route_table_association(association: Any, account_id: str, region: str) -> None:
    """Disassociate the subnet from the route table."""
    ec2 = _ec2(account_id, region)
    table = ec2.route_tables.get(association.route_table_id)
    if table is None:
        return
    for association_id, subnet_id in list(table._associations.items()):
        if subnet_id == association.subnet_id:
            ec2.disassociate_route_table(association_id)


EC2_DELETERS: dict[str, Deleter] = {
    "AWS::EC2::NatGateway": delete_nat_gateway,
    "AWS::EC2::InternetGateway": delete_internet_gateway,
    "AWS::EC2::VPCGatewayAttachment": delete_gateway_attachment,
    "AWS::EC2::EIP": release_address,
    "AWS::EC2::VPCEndpoint": delete_vpc_endpoint,
    "AWS::EC2::FlowLog": delete_flow_log,
    "AWS::EC2::RouteTable": delete_route_table,
    "AWS::EC2::Route": delete_route,
    "AWS::EC2::SubnetRouteTableAssociation": delete_route_table_association,
}


def delete_resource(self: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
    """``ResourceMap._delete_resource``: a registered deleter, else moto's own."""
    deleter = _deleters.get(resource_json.get("Type", ""))
    if deleter is None:
        _original_delete_resource(self, parsed_resource, resource_json)
        return
    deleter(parsed_resource, self._account_id, self._region_name)


def _patch() -> None:
    global _original_delete_resource
    from moto.cloudformation.parsing import ResourceMap

    for resource_type, deleter in EC2_DELETERS.items():
        _deleters.setdefault(resource_type, deleter)
    if _original_delete_resource is None:
        _original_delete_resource = ResourceMap._delete_resource
        ResourceMap._delete_resource = delete_resource  # type: ignore[method-assign]


def install() -> None:
    """Patch resource deletion once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_patch)
