"""CloudFormation for Aurora: ``AWS::RDS::GlobalCluster``, ``AWS::RDS::DBCluster`` and clustered
``AWS::RDS::DBInstance``.

moto skips the first two and fails (HTTP 500) on an aurora instance. Each resource here is made
by the same RDS backend method the API calls (``create_global_cluster``, ``create_db_cluster``,
``create_db_instance``), so ``describe_*`` shows it and hooks on those methods fire for stacks too.
Global clusters live in the us-east-1 backend, where moto's API keeps them.

Stack updates modify them in place, as CloudFormation's RDS handlers do (the changed settings
through the same backend methods as ``ModifyDBCluster``, ``ModifyDBInstance``, ...; a
``GlobalClusterIdentifier`` removed from a cluster detaches it, ``RemoveFromGlobalCluster``). A
change of a property the registry schema marks create-only needs a replacement, which
CloudFormation refuses for a resource with a custom name ("CloudFormation cannot update a stack
when a custom-named resource requires replacing"): the update fails and rolls back, and nothing
of the global database is replaced. The emulator refuses the replacement of an unnamed one too
(it does not replace these resources).
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


def _text(value: Any, fold: bool = False) -> str:
    """A property value as comparable text (``fold``: without case, as RDS identifiers)."""
    import json

    text = json.dumps(value, sort_keys=True, default=str)
    return text.lower() if fold else text


CONDITIONAL_REPLACEMENT = {"AWS::RDS::DBCluster": ("Engine", "MasterUsername")}
"""Conditionally create-only properties that the handlers cannot change in place here
(``GlobalClusterIdentifier`` is handled: removed, the cluster is detached)."""


def replaced_properties(resource_type: str, old: dict[str, Any], new: dict[str, Any]
                        ) -> list[str]:
    """The create-only properties (registry schema) whose value the update changes."""
    from drlib.emulator.cfn_schema import resource_schema

    schema = resource_schema(resource_type) or {}
    names = {str(p).split("/")[2] for p in schema.get("createOnlyProperties") or []
             if str(p).startswith("/properties/")}
    names |= set(CONDITIONAL_REPLACEMENT.get(resource_type, ()))
    return sorted(n for n in names if _text(old.get(n), True) != _text(new.get(n), True))


def refuse_replacement(resource_type: str, name_property: str, old: dict[str, Any],
                       new: dict[str, Any], extra: tuple[str, ...] = ()) -> None:
    """Raise UpdateRefused when the update needs a replacement (``old``: the properties the
    resource was made or last updated with; empty when unknown, then nothing is refused)."""
    from drlib.emulator.extensions.cfn_lifecycle import UpdateRefused

    if not old:
        return
    changed = replaced_properties(resource_type, old, new) + [
        n for n in extra if _text(old.get(n), True) != _text(new.get(n), True)]
    if not changed:
        return
    name = new.get(name_property)
    if name:
        raise UpdateRefused("CloudFormation cannot update a stack when a custom-named resource "
                            f"requires replacing. Rename {name} and update the stack again.")
    raise UpdateRefused(f"Updating {', '.join(changed)} requires replacing this "
                        f"{resource_type}, which the drlib emulator does not do.")


def changed(old: dict[str, Any], new: dict[str, Any], name: str) -> bool:
    return _text(old.get(name)) != _text(new.get(name))


def replace_tags(current: list[dict[str, str]], properties: dict[str, Any]
                 ) -> list[dict[str, str]]:
    """The template's tags, keeping AWS's own (``aws:``) ones."""
    kept = [t for t in current or [] if str(t.get("Key", "")).startswith("aws:")]
    return kept + _tags(properties)


def _define_models() -> None:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudformation.utils import random_suffix
    from moto.core.common_models import CloudFormationModel
    from moto.rds.models import DBInstance, DBSubnetGroup, rds_backends

    class GlobalClusterResource(CloudFormationModel):
        """An ``AWS::RDS::GlobalCluster`` made through ``RDSBackend.create_global_cluster``."""

        def __init__(self, global_cluster: Any, account_id: str,
                     properties: dict[str, Any] | None = None) -> None:
            self.global_cluster = global_cluster
            self.account_id = account_id
            self.properties = dict(properties or {})

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
            if p.get("Tags"):
                global_cluster.add_tags(_tags(p))
            return cls(global_cluster, account_id, p)

        @classmethod
        def update_from_cloudformation_json(
                cls, original_resource: GlobalClusterResource, new_resource_name: str,
                cloudformation_json: Any, account_id: str,
                region_name: str) -> GlobalClusterResource:
            p = cloudformation_json.get("Properties") or {}
            old = original_resource.properties
            refuse_replacement("AWS::RDS::GlobalCluster", "GlobalClusterIdentifier", old, p)
            gc = original_resource.global_cluster
            if changed(old, p, "DeletionProtection"):
                gc.deletion_protection = bool(as_bool(p.get("DeletionProtection")))
            if changed(old, p, "EngineVersion") and p.get("EngineVersion"):
                gc.engine_version = str(p["EngineVersion"])  # ModifyGlobalCluster
            if changed(old, p, "Tags"):
                gc.tags = replace_tags(gc.tags, p)
            original_resource.properties = dict(p)
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            backend = rds_backends[account_id][GLOBAL_CLUSTER_REGION]
            backend.delete_global_cluster(self.physical_resource_id)

    class DBClusterResource(CloudFormationModel):
        """An ``AWS::RDS::DBCluster`` made through ``RDSBackend.create_db_cluster``."""

        def __init__(self, cluster: Any, account_id: str, region_name: str,
                     properties: dict[str, Any] | None = None) -> None:
            self.cluster = cluster
            self.account_id = account_id
            self.region_name = region_name
            self.properties = dict(properties or {})

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
            return cls(cluster, account_id, region_name, p)

        @classmethod
        def update_from_cloudformation_json(
                cls, original_resource: DBClusterResource, new_resource_name: str,
                cloudformation_json: Any, account_id: str,
                region_name: str) -> DBClusterResource:
            """In place, as the provider's update handler: detach when GlobalClusterIdentifier
            is removed, then ModifyDBCluster with the changed settings, then the tags."""
            from drlib.emulator.extensions import rds_global

            p = cloudformation_json.get("Properties") or {}
            old = original_resource.properties
            cluster = original_resource.cluster
            old_global, new_global = old.get("GlobalClusterIdentifier"), \
                p.get("GlobalClusterIdentifier")
            refuse_replacement("AWS::RDS::DBCluster", "DBClusterIdentifier", old, p,
                               ("GlobalClusterIdentifier",) if old_global and new_global
                               else ())
            if old_global and not new_global:
                rds_global.remove_from_global_cluster(account_id, str(old_global),
                                                      cluster.db_cluster_arn)
            kwargs = cluster_kwargs(cluster.db_cluster_identifier, p)
            modify: dict[str, Any] = {"db_cluster_identifier": cluster.db_cluster_identifier,
                                      "apply_immediately": True}
            for name, key in (("BackupRetentionPeriod", "backup_retention_period"),
                              ("PreferredBackupWindow", "preferred_backup_window"),
                              ("PreferredMaintenanceWindow", "preferred_maintenance_window"),
                              ("DeletionProtection", "deletion_protection"),
                              ("CopyTagsToSnapshot", "copy_tags_to_snapshot"),
                              ("EngineVersion", "engine_version"),
                              ("VpcSecurityGroupIds", "vpc_security_group_ids"),
                              ("DBClusterParameterGroupName", "db_cluster_parameter_group_name"),
                              ("MasterUserPassword", "master_user_password")):
                if changed(old, p, name) and key in kwargs:
                    modify[key] = kwargs[key]
            backend = rds_backends[account_id][region_name]
            backend.modify_db_cluster(modify)
            if changed(old, p, "EnableIAMDatabaseAuthentication"):
                cluster.iam_auth = bool(as_bool(p.get("EnableIAMDatabaseAuthentication")))
            if changed(old, p, "EnableCloudwatchLogsExports"):
                cluster.enabled_cloudwatch_logs_exports = list(
                    p.get("EnableCloudwatchLogsExports") or [])
            if changed(old, p, "Tags"):
                cluster.tags = replace_tags(cluster.tags, p)
            original_resource.properties = dict(p)
            return original_resource

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

        def __init__(self, group: Any, properties: dict[str, Any] | None = None) -> None:
            self.group = group
            self.properties = dict(properties or {})

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
            return cls(group, p)

        @classmethod
        def update_from_cloudformation_json(
                cls, original_resource: DBClusterParameterGroupResource,
                new_resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str) -> DBClusterParameterGroupResource:
            p = cloudformation_json.get("Properties") or {}
            old = original_resource.properties
            refuse_replacement("AWS::RDS::DBClusterParameterGroup",
                               "DBClusterParameterGroupName", old, p)
            if changed(old, p, "Parameters"):
                backend = rds_backends[account_id][region_name]
                parameters = [{"ParameterName": k, "ParameterValue": str(v),
                               "ApplyMethod": "pending-reboot"}
                              for k, v in (p.get("Parameters") or {}).items()]
                backend.modify_db_cluster_parameter_group(original_resource.group.name,
                                                          parameters)
            original_resource.properties = dict(p)
            return original_resource

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
        database.drlib_properties = dict(p)  # type: ignore[attr-defined]
        return database

    def update_db_instance_from_cloudformation_json(
            cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
            account_id: str, region_name: str) -> Any:
        """In place (ModifyDBInstance) for the settings a cluster instance can change."""
        p = cloudformation_json.get("Properties") or {}
        old = getattr(original_resource, "drlib_properties", {})
        refuse_replacement("AWS::RDS::DBInstance", "DBInstanceIdentifier", old, p,
                           ("DBClusterIdentifier", "Engine"))
        database = original_resource
        kwargs = instance_kwargs(database.db_instance_identifier, p)
        for name, key in (("DBInstanceClass", "db_instance_class"),
                          ("PubliclyAccessible", "publicly_accessible"),
                          ("AutoMinorVersionUpgrade", "auto_minor_version_upgrade"),
                          ("MonitoringInterval", "monitoring_interval"),
                          ("MonitoringRoleArn", "monitoring_role_arn"),
                          ("PromotionTier", "promotion_tier"),
                          ("CACertificateIdentifier", "ca_certificate_identifier")):
            if changed(old, p, name) and key in kwargs:
                setattr(database, key, kwargs[key])
        if any(changed(old, p, n) for n in ("EnablePerformanceInsights",
                                             "PerformanceInsightsKMSKeyId",
                                             "PerformanceInsightsRetentionPeriod")):
            keep_performance_insights(database, p)
        if changed(old, p, "Tags"):
            database.tags = replace_tags(database.tags, p)
        database.drlib_properties = dict(p)
        return database

    def delete_db_instance(self: Any, account_id: str, region_name: str) -> None:
        rds_backends[account_id][region_name].delete_db_instance(self.db_instance_identifier)

    # Ref and ListStackResources name a subnet group by its name, as on AWS.
    DBSubnetGroup.physical_resource_id = property(lambda group: group.name)  # type: ignore[attr-defined]
    DBInstance.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        create_db_instance_from_cloudformation_json)
    DBInstance.update_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        update_db_instance_from_cloudformation_json)
    DBInstance.delete = delete_db_instance  # type: ignore[method-assign]
    refresh_model_map(GlobalClusterResource, DBClusterResource, DBClusterParameterGroupResource)


def install() -> None:
    """Define the Aurora CloudFormation models once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_define_models)
