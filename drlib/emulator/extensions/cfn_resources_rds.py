"""CloudFormation for Aurora: ``AWS::RDS::GlobalCluster``, ``AWS::RDS::DBCluster`` and clustered
``AWS::RDS::DBInstance``.

moto skips the first two and fails (HTTP 500) on an aurora instance. Each resource here is made
by the same RDS backend method the API calls (``create_global_cluster``, ``create_db_cluster``,
``create_db_instance``), so ``describe_*`` shows it and hooks on those methods fire for stacks too.
Global clusters live in the us-east-1 backend, where moto's API keeps them.
"""

from __future__ import annotations

from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded

GLOBAL_CLUSTER_REGION = "us-east-1"  # moto's RDS API keeps every global cluster there


def as_bool(value: Any) -> bool | None:
    """A CloudFormation boolean ('true', True, 'False'...) as a bool; None stays None."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def as_int(value: Any) -> int | None:
    """A CloudFormation integer (often a string) as an int; None stays None."""
    return None if value is None or value == "" else int(value)


def _name_of(value: Any) -> str | None:
    """A Ref to a moto model may resolve to the model itself rather than its name."""
    if value is None or isinstance(value, str):
        return value
    return str(getattr(value, "name", None) or getattr(value, "physical_resource_id", value))


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in properties.get("Tags") or []]


def _present(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def cluster_kwargs(identifier: str, properties: dict[str, Any]) -> dict[str, Any]:
    """``AWS::RDS::DBCluster`` properties as the RDS backend's ``create_db_cluster`` arguments."""
    p = properties
    return _present({
        "db_cluster_identifier": identifier,
        "engine": p.get("Engine"),
        "engine_version": p.get("EngineVersion"),
        "engine_mode": p.get("EngineMode"),
        "master_username": p.get("MasterUsername"),
        "master_user_password": p.get("MasterUserPassword"),
        "manage_master_user_password": as_bool(p.get("ManageMasterUserPassword")),
        "master_user_secret_kms_key_id": (p.get("MasterUserSecret") or {}).get("KmsKeyId"),
        "database_name": p.get("DatabaseName"),
        "port": as_int(p.get("Port")),
        "db_subnet_group_name": _name_of(p.get("DBSubnetGroupName")),
        "vpc_security_group_ids": p.get("VpcSecurityGroupIds"),
        "db_cluster_parameter_group_name": _name_of(p.get("DBClusterParameterGroupName")),
        "storage_encrypted": as_bool(p.get("StorageEncrypted")),
        "kms_key_id": p.get("KmsKeyId"),
        "deletion_protection": as_bool(p.get("DeletionProtection")),
        "backup_retention_period": as_int(p.get("BackupRetentionPeriod")),
        "preferred_backup_window": p.get("PreferredBackupWindow"),
        "preferred_maintenance_window": p.get("PreferredMaintenanceWindow"),
        "enable_iam_database_authentication": as_bool(p.get("EnableIAMDatabaseAuthentication")),
        "copy_tags_to_snapshot": as_bool(p.get("CopyTagsToSnapshot")),
        "enable_cloudwatch_logs_exports": p.get("EnableCloudwatchLogsExports"),
        "availability_zones": p.get("AvailabilityZones"),
        "storage_type": p.get("StorageType"),
        "global_cluster_identifier": p.get("GlobalClusterIdentifier"),
        "replication_source_identifier": p.get("ReplicationSourceIdentifier"),
        "enable_global_write_forwarding": as_bool(p.get("EnableGlobalWriteForwarding")),
        "tags": _tags(p),
    })


def instance_kwargs(identifier: str, properties: dict[str, Any]) -> dict[str, Any]:
    """``AWS::RDS::DBInstance`` properties as ``create_db_instance`` arguments."""
    p = properties
    clustered = p.get("DBClusterIdentifier") is not None
    kwargs = _present({
        "db_instance_identifier": identifier,
        "db_cluster_identifier": (_name_of(p.get("DBClusterIdentifier")) or "").lower() or None,
        "db_instance_class": p.get("DBInstanceClass"),
        "engine": p.get("Engine"),
        "engine_version": None if clustered else p.get("EngineVersion"),
        "availability_zone": p.get("AvailabilityZone"),
        "db_subnet_group_name": _name_of(p.get("DBSubnetGroupName")),
        "db_parameter_group_name": _name_of(p.get("DBParameterGroupName")),
        "publicly_accessible": as_bool(p.get("PubliclyAccessible")),
        "auto_minor_version_upgrade": as_bool(p.get("AutoMinorVersionUpgrade")),
        "monitoring_interval": as_int(p.get("MonitoringInterval")),
        "monitoring_role_arn": p.get("MonitoringRoleArn"),
        "enable_performance_insights": as_bool(p.get("EnablePerformanceInsights")),
        "performance_insights_kms_key_id": p.get("PerformanceInsightsKMSKeyId"),
        "performance_insights_retention_period": as_int(
            p.get("PerformanceInsightsRetentionPeriod")),
        "promotion_tier": as_int(p.get("PromotionTier")),
        "ca_certificate_identifier": p.get("CACertificateIdentifier"),
        "copy_tags_to_snapshot": as_bool(p.get("CopyTagsToSnapshot")),
        "deletion_protection": as_bool(p.get("DeletionProtection")),
        "tags": _tags(p),
    })
    if not clustered:
        kwargs.update(_present({
            "allocated_storage": as_int(p.get("AllocatedStorage")),
            "backup_retention_period": as_int(p.get("BackupRetentionPeriod")),
            "db_name": p.get("DBName"),
            "master_username": p.get("MasterUsername"),
            "master_user_password": p.get("MasterUserPassword"),
            "multi_az": as_bool(p.get("MultiAZ")),
            "port": as_int(p.get("Port")),
            "storage_encrypted": as_bool(p.get("StorageEncrypted")),
            "storage_type": p.get("StorageType"),
            "kms_key_id": p.get("KmsKeyId"),
            "iops": as_int(p.get("Iops")),
            "vpc_security_group_ids": p.get("VpcSecurityGroupIds") or [],
        }))
    return kwargs


def keep_performance_insights(database: Any, properties: dict[str, Any]) -> None:
    """Record Performance Insights settings, which moto's DBInstance drops, under the names
    its serializer reads for describe_db_instances."""
    enabled = bool(as_bool(properties.get("EnablePerformanceInsights")))
    database.performance_insights_enabled = enabled
    if enabled:
        database.performance_insights_kms_key_id = properties.get("PerformanceInsightsKMSKeyId")
        database.performance_insights_retention_period = as_int(
            properties.get("PerformanceInsightsRetentionPeriod")) or 7


def _define_models() -> None:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudformation.utils import random_suffix
    from moto.core.common_models import CloudFormationModel
    from moto.rds.models import DBInstance, rds_backends

    class GlobalClusterResource(CloudFormationModel):
        """An ``AWS::RDS::GlobalCluster`` made through ``RDSBackend.create_global_cluster``."""

        def __init__(self, global_cluster: Any, account_id: str) -> None:
            self.global_cluster = global_cluster
            self.account_id = account_id

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::RDS::GlobalCluster"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "GlobalClusterIdentifier"

        @property
        def physical_resource_id(self) -> str:
            return str(self.global_cluster.global_cluster_identifier)

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("GlobalEndpoint.Address", "Arn")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "GlobalEndpoint.Address":
                return self.global_cluster.endpoint
            if attribute_name == "Arn":
                return self.global_cluster.global_cluster_arn
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> GlobalClusterResource:
            p = cloudformation_json.get("Properties") or {}
            backend = rds_backends[account_id][GLOBAL_CLUSTER_REGION]
            source = p.get("SourceDBClusterIdentifier")
            if source and not str(source).startswith("arn:"):
                regional = rds_backends[account_id][region_name]
                source = regional.clusters[source.lower()].db_cluster_arn
            global_cluster = backend.create_global_cluster(
                global_cluster_identifier=p.get("GlobalClusterIdentifier") or resource_name.lower(),
                source_db_cluster_identifier=source,
                engine=None if source else p.get("Engine"),
                engine_version=None if source else p.get("EngineVersion"),
                storage_encrypted=as_bool(p.get("StorageEncrypted")),
                deletion_protection=as_bool(p.get("DeletionProtection")))
            return cls(global_cluster, account_id)

        def delete(self, account_id: str, region_name: str) -> None:
            backend = rds_backends[account_id][GLOBAL_CLUSTER_REGION]
            backend.delete_global_cluster(self.physical_resource_id)

    class DBClusterResource(CloudFormationModel):
        """An ``AWS::RDS::DBCluster`` made through ``RDSBackend.create_db_cluster``."""

        def __init__(self, cluster: Any, account_id: str, region_name: str) -> None:
            self.cluster = cluster
            self.account_id = account_id
            self.region_name = region_name

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::RDS::DBCluster"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "DBClusterIdentifier"

        @property
        def physical_resource_id(self) -> str:
            return str(self.cluster.db_cluster_identifier)

        ATTRIBUTES = ("Endpoint.Address", "Endpoint.Port", "ReadEndpoint.Address",
                      "DBClusterArn", "DBClusterResourceId", "Endpoint",
                      "MasterUserSecret.SecretArn")

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in cls.ATTRIBUTES

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            c = self.cluster
            values = {
                "Endpoint.Address": lambda: c.endpoint,
                "Endpoint": lambda: c.endpoint,
                "Endpoint.Port": lambda: str(c.port),
                "ReadEndpoint.Address": lambda: c.reader_endpoint,
                "DBClusterArn": lambda: c.db_cluster_arn,
                "DBClusterResourceId": lambda: c.db_cluster_resource_id,
                "MasterUserSecret.SecretArn": lambda: c.master_user_secret.secret_arn,
            }
            if attribute_name not in values:
                raise UnformattedGetAttTemplateException()
            return values[attribute_name]()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> DBClusterResource:
            p = cloudformation_json.get("Properties") or {}
            identifier = str(p.get("DBClusterIdentifier") or resource_name).lower()
            backend = rds_backends[account_id][region_name]
            cluster = backend.create_db_cluster(cluster_kwargs(identifier, p))
            if cluster._status == "creating":
                # CloudFormation reports the cluster created only once it is available; moto
                # would answer "creating" to the first describe after the stack completed.
                cluster.status = "available"
            return cls(cluster, account_id, region_name)

        def delete(self, account_id: str, region_name: str) -> None:
            backend = rds_backends[account_id][region_name]
            global_id = self.cluster.global_cluster_identifier
            if global_id:
                # CloudFormation detaches a member before deleting it, whichever region it is in.
                global_backend = rds_backends[account_id][GLOBAL_CLUSTER_REGION]
                for gc in global_backend.global_clusters.values():
                    if self.cluster in gc.members:
                        gc.members.remove(self.cluster)
            snapshot = None
            if getattr(self, "drlib_final_snapshot", False):  # DeletionPolicy: Snapshot
                snapshot = f"{self.physical_resource_id}-final-{random_suffix().lower()}"
            backend.delete_db_cluster(self.physical_resource_id, snapshot_name=snapshot)

    class DBClusterParameterGroupResource(CloudFormationModel):
        """``AWS::RDS::DBClusterParameterGroup`` through ``create_db_cluster_parameter_group``
        and ``modify_db_cluster_parameter_group``; Ref is the group name."""

        def __init__(self, group: Any) -> None:
            self.group = group

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::RDS::DBClusterParameterGroup"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "DBClusterParameterGroupName"

        @property
        def physical_resource_id(self) -> str:
            return str(self.group.name)

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> DBClusterParameterGroupResource:
            p = cloudformation_json.get("Properties") or {}
            backend = rds_backends[account_id][region_name]
            name = str(p.get("DBClusterParameterGroupName") or resource_name).lower()
            group = backend.create_db_cluster_parameter_group(
                db_cluster_parameter_group_name=name, db_parameter_group_family=p["Family"],
                description=p["Description"], tags=_tags(p))
            parameters = [{"ParameterName": k, "ParameterValue": str(v),
                           "ApplyMethod": "pending-reboot"}
                          for k, v in (p.get("Parameters") or {}).items()]
            if parameters:
                backend.modify_db_cluster_parameter_group(name, parameters)
            return cls(group)

        def delete(self, account_id: str, region_name: str) -> None:
            rds_backends[account_id][region_name].delete_db_cluster_parameter_group(
                self.group.name)

    def create_db_instance_from_cloudformation_json(
            cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
            region_name: str, **kwargs: Any) -> Any:
        p = cloudformation_json.get("Properties") or {}
        identifier = str(p.get("DBInstanceIdentifier") or resource_name).lower().replace("_", "-")
        backend = rds_backends[account_id][region_name]
        db_kwargs = instance_kwargs(identifier, p)
        source = p.get("SourceDBInstanceIdentifier")
        if source:
            db_kwargs["source_db_instance_identifier"] = source
            database = backend.create_db_instance_read_replica(db_kwargs)
        else:
            database = backend.create_db_instance(db_kwargs)
        keep_performance_insights(database, p)
        return database

    def delete_db_instance(self: Any, account_id: str, region_name: str) -> None:
        rds_backends[account_id][region_name].delete_db_instance(self.db_instance_identifier)

    DBInstance.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        create_db_instance_from_cloudformation_json)
    DBInstance.delete = delete_db_instance  # type: ignore[method-assign]
    refresh_model_map(GlobalClusterResource, DBClusterResource, DBClusterParameterGroupResource)


def install() -> None:
    """Define the Aurora CloudFormation models once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_define_models)
