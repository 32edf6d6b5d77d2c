"""AWS-managed prefix lists with the identifiers AWS gives them.

moto creates the S3 and DynamoDB prefix lists (``com.amazonaws.<region>.s3`` and
``.dynamodb``) of every region with random identifiers. On AWS these AWS-owned lists have the
same identifier in every account of a region, which is why a template can name them (the
network template's ``GatewayPrefixLists`` mapping, for security-group egress to the gateway
endpoints). Here the lists of the regions below are re-keyed to AWS's identifiers, as
``aws ec2 describe-managed-prefix-lists`` shows them; other regions keep moto's random ones.
"""

from __future__ import annotations

from typing import Any

# (region, service) -> identifier on AWS; the same table as network.yaml's mapping.
AWS_PREFIX_LIST_IDS: dict[tuple[str, str], str] = {
    ("us-east-1", "s3"): "pl-63a5400a",
    ("us-east-1", "dynamodb"): "pl-02cd2c6b",
    ("us-west-2", "s3"): "pl-68a54001",
    ("us-west-2", "dynamodb"): "pl-00a54069",
}

_original_create_default_pls: Any = None


def aws_identifier(name: str | None) -> str | None:
    """AWS's identifier of a managed prefix list named ``com.amazonaws.<region>.<service>``."""
    parts = (name or "").split(".")
    if len(parts) != 4 or parts[:2] != ["com", "amazonaws"]:
        return None
    return AWS_PREFIX_LIST_IDS.get((parts[2], parts[3]))


def create_default_pls(self: Any) -> None:
    """moto's default prefix lists, the known ones under AWS's identifiers."""
    _original_create_default_pls(self)
    for old_id, prefix_list in list(self.managed_prefix_lists.items()):
        new_id = aws_identifier(prefix_list.prefix_list_name)
        if prefix_list.resource_owner_id == "AWS" and new_id and new_id != old_id:
            del self.managed_prefix_lists[old_id]
            prefix_list.id = new_id
            prefix_list.prefix_list_arn = prefix_list.arn(self.region_name, prefix_list.owner_id)
            self.managed_prefix_lists[new_id] = prefix_list


def install() -> None:
    """Patch moto's EC2 backend before any region's backend is made."""
    global _original_create_default_pls
    from moto.ec2.models.managed_prefixes import ManagedPrefixListBackend

    if _original_create_default_pls is None:
        _original_create_default_pls = ManagedPrefixListBackend.create_default_pls
        ManagedPrefixListBackend.create_default_pls = create_default_pls  # type: ignore[method-assign]
