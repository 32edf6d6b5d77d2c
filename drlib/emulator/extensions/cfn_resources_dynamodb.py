"""CloudFormation ``AWS::DynamoDB::GlobalTable``, which moto skips.

One table per replica region is made through ``DynamoDBBackend.create_table`` (so hooks on it
fire), with the declared keys, indexes, billing, stream, SSE, and per-replica tags,
point-in-time recovery and deletion protection; the regions are then joined into one global
table by the replication extension (``dynamodb_replication.register_global_table``), which makes
``describe_table(...)['Table']['Replicas']`` list them and replicates items. Ref is the table
name; ``GetAtt`` gives ``Arn``, ``StreamArn`` and ``TableId`` of the stack region's replica.
"""

from __future__ import annotations

from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded
from drlib.emulator.extensions.cfn_resources_rds import as_bool, as_int


def replica_regions(properties: dict[str, Any], stack_region: str) -> list[str]:
    """The replica regions, the stack's own first (CloudFormation requires it among them)."""
    regions = [str(r["Region"]) for r in properties.get("Replicas") or []]
    if stack_region not in regions:
        raise ValueError(f"Replicas of a global table must include the stack's region "
                         f"{stack_region}; found {regions}")
    return [stack_region] + [r for r in regions if r != stack_region]


def _throughput(properties: dict[str, Any], replica: dict[str, Any]) -> dict[str, int] | None:
    """Provisioned capacity: the replica's read units (or its auto-scaling minimum), and the
    write auto-scaling minimum; None when billed per request."""
    if properties.get("BillingMode", "PROVISIONED") == "PAY_PER_REQUEST":
        return None
    write = (properties.get("WriteProvisionedThroughputSettings") or {}).get(
        "WriteCapacityAutoScalingSettings") or {}
    read = replica.get("ReadProvisionedThroughputSettings") or {}
    read_units = read.get("ReadCapacityUnits") or (
        read.get("ReadCapacityAutoScalingSettings") or {}).get("MinCapacity")
    return {"ReadCapacityUnits": as_int(read_units) or 5,
            "WriteCapacityUnits": as_int(write.get("MinCapacity")) or 5}


def _indexes(declared: list[dict[str, Any]] | None, billing_mode: str) -> list[dict[str, Any]]:
    indexes = []
    for index in declared or []:
        entry = {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
        if billing_mode != "PAY_PER_REQUEST":
            entry["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        indexes.append(entry)
    return indexes


def _sse(properties: dict[str, Any], replica: dict[str, Any]) -> dict[str, Any] | None:
    sse = properties.get("SSESpecification")
    if not sse or not as_bool(sse.get("SSEEnabled")):
        return None
    spec: dict[str, Any] = {"Enabled": True, "SSEType": sse.get("SSEType", "KMS")}
    key = (replica.get("SSESpecification") or {}).get("KMSMasterKeyId")
    if key:
        spec["KMSMasterKeyId"] = key
    return spec


def create_replica(account_id: str, region: str, name: str, properties: dict[str, Any],
                   replica: dict[str, Any]) -> Any:
    """Create the table of one replica region through the DynamoDB backend."""
    from moto.dynamodb.models import dynamodb_backends

    billing_mode = properties.get("BillingMode", "PROVISIONED")
    stream = properties.get("StreamSpecification")
    backend = dynamodb_backends[account_id][region]
    table = backend.create_table(
        name,
        schema=properties["KeySchema"],
        throughput=_throughput(properties, replica),
        attr=properties["AttributeDefinitions"],
        global_indexes=_indexes(properties.get("GlobalSecondaryIndexes"), billing_mode),
        indexes=_indexes(properties.get("LocalSecondaryIndexes"), "PAY_PER_REQUEST"),
        streams={"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        if stream else None,
        billing_mode=billing_mode,
        sse_specification=_sse(properties, replica),
        tags=list(replica.get("Tags") or []),
        deletion_protection_enabled=as_bool(replica.get("DeletionProtectionEnabled")) or False,
        warm_throughput=None,
    )
    pitr = replica.get("PointInTimeRecoverySpecification") or {}
    if as_bool(pitr.get("PointInTimeRecoveryEnabled")):
        backend.update_continuous_backups(name, {"PointInTimeRecoveryEnabled": True})
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and as_bool(ttl.get("Enabled")):
        backend.update_time_to_live(name, {"Enabled": True,
                                           "AttributeName": ttl["AttributeName"]})
    return table


def _define_models() -> None:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.core.common_models import CloudFormationModel
    from moto.dynamodb.models import dynamodb_backends

    class GlobalTableResource(CloudFormationModel):
        """An ``AWS::DynamoDB::GlobalTable``: a table in each replica region, joined."""

        def __init__(self, name: str, account_id: str, region_name: str,
                     regions: list[str]) -> None:
            self.name = name
            self.account_id = account_id
            self.region_name = region_name
            self.regions = regions

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::DynamoDB::GlobalTable"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "TableName"

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Arn", "StreamArn", "TableId")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            table = dynamodb_backends[self.account_id][self.region_name].get_table(self.name)
            if attribute_name == "Arn":
                return table.table_arn
            if attribute_name == "StreamArn":
                return table.describe()["TableDescription"].get("LatestStreamArn")
            if attribute_name == "TableId":
                return table.table_id
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> GlobalTableResource:
            from drlib.emulator.extensions import dynamodb_replication

            p = cloudformation_json.get("Properties") or {}
            name = p.get("TableName") or resource_name
            regions = replica_regions(p, region_name)
            replicas = {str(r["Region"]): r for r in p.get("Replicas") or []}
            for region in regions:
                create_replica(account_id, region, name, p, replicas[region])
            if len(regions) > 1:
                dynamodb_replication.register_global_table(account_id, name, regions)
            return cls(name, account_id, region_name, regions)

        def delete(self, account_id: str, region_name: str) -> None:
            from drlib.emulator.extensions import dynamodb_replication

            for region in reversed(self.regions):
                backend = dynamodb_backends[account_id][region]
                if self.name in backend.tables:
                    backend.delete_table(self.name)
                dynamodb_replication.remove_replica(account_id, self.name, region,
                                                    delete_table=False)

    refresh_model_map(GlobalTableResource)


def install() -> None:
    """Define the global-table model once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_define_models)
