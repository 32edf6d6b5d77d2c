"""CloudFormation ``AWS::Backup::BackupVault``, ``BackupPlan`` and ``BackupSelection``.

Vaults and plans are made through moto's Backup backend (``create_backup_vault``,
``create_backup_plan``), so ``list_backup_vaults`` and ``get_backup_plan`` show them. moto has no
backup selections at all: a selection is kept as a small record on the region's Backup backend
(cleared with it on reset) and the Backup API's ``CreateBackupSelection``, ``GetBackupSelection``,
``ListBackupSelections`` and ``DeleteBackupSelection`` answer from it, as AWS does.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded
from drlib.emulator.extensions.cfn_resources_rds import as_bool, as_int

_patched: set[str] = set()


def plan_document(declared: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation ``BackupPlan`` property as the Backup API's ``BackupPlan`` input."""
    rules = []
    for rule in declared.get("BackupPlanRule") or []:
        api = {"RuleName": rule["RuleName"], "TargetBackupVaultName": rule["TargetBackupVault"]}
        for key in ("ScheduleExpression", "ScheduleExpressionTimezone", "RecoveryPointTags"):
            if rule.get(key) is not None:
                api[key] = rule[key]
        for key in ("StartWindowMinutes", "CompletionWindowMinutes"):
            if rule.get(key) is not None:
                api[key] = as_int(rule[key])
        if rule.get("EnableContinuousBackup") is not None:
            api["EnableContinuousBackup"] = as_bool(rule["EnableContinuousBackup"])
        if rule.get("Lifecycle"):
            api["Lifecycle"] = {k: as_int(v) for k, v in rule["Lifecycle"].items()}
        if rule.get("CopyActions"):
            api["CopyActions"] = [
                {"DestinationBackupVaultArn": c["DestinationBackupVaultArn"],
                 **({"Lifecycle": {k: as_int(v) for k, v in c["Lifecycle"].items()}}
                    if c.get("Lifecycle") else {})}
                for c in rule["CopyActions"]]
        rules.append(api)
    document: dict[str, Any] = {"BackupPlanName": declared["BackupPlanName"], "Rules": rules}
    if declared.get("AdvancedBackupSettings"):
        document["AdvancedBackupSettings"] = declared["AdvancedBackupSettings"]
    return document


def _selections(backend: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """plan id -> selection id -> record, kept on the backend so a reset clears it."""
    store: dict[str, dict[str, dict[str, Any]]] | None = getattr(backend, "drlib_selections", None)
    if store is None:
        store = {}
        backend.drlib_selections = store
    return store


def create_backup_selection(backend: Any, plan_id: str, selection: dict[str, Any],
                            creator_request_id: str | None = None) -> dict[str, Any]:
    """Record a backup selection for an existing plan; returns its record."""
    from moto.backup.exceptions import ResourceNotFoundException

    if plan_id not in backend.plans or backend.plans[plan_id].deletion_date is not None:
        raise ResourceNotFoundException(msg=f"Failed reading backup plan with id {plan_id}")
    record = {"SelectionId": str(uuid.uuid4()), "BackupPlanId": plan_id,
              "CreationDate": time.time(), "CreatorRequestId": creator_request_id,
              "BackupSelection": selection}
    _selections(backend).setdefault(plan_id, {})[record["SelectionId"]] = record
    return record


def get_backup_selection(backend: Any, plan_id: str, selection_id: str) -> dict[str, Any]:
    """The recorded selection, or the Backup API's ResourceNotFoundException."""
    from moto.backup.exceptions import ResourceNotFoundException

    record = _selections(backend).get(plan_id, {}).get(selection_id)
    if record is None:
        raise ResourceNotFoundException(msg=f"Failed reading backup selection {selection_id}")
    return record


def delete_backup_selection(backend: Any, plan_id: str, selection_id: str) -> None:
    """Forget the selection (ResourceNotFoundException if there is none)."""
    get_backup_selection(backend, plan_id, selection_id)
    del _selections(backend)[plan_id][selection_id]


def selection_summary(record: dict[str, Any]) -> dict[str, Any]:
    """A selection as ``ListBackupSelections`` lists it."""
    selection = record["BackupSelection"]
    return {"SelectionId": record["SelectionId"], "SelectionName": selection["SelectionName"],
            "BackupPlanId": record["BackupPlanId"], "CreationDate": record["CreationDate"],
            "IamRoleArn": selection["IamRoleArn"],
            **({"CreatorRequestId": record["CreatorRequestId"]}
               if record["CreatorRequestId"] else {})}


def _patch_api() -> None:
    """Give moto's Backup API the four selection operations."""
    from moto.backup.responses import BackupResponse

    if "api" in _patched:
        return

    def _plan_and_selection(self: Any) -> tuple[str, str | None]:
        after = self.path.split("/backup/plans/", 1)[1].strip("/").split("/")
        return after[0], (after[2] if len(after) > 2 else None)

    def create(self: Any) -> str:
        plan_id, _ = _plan_and_selection(self)
        params = json.loads(self.body)
        record = create_backup_selection(self.backup_backend, plan_id, params["BackupSelection"],
                                         params.get("CreatorRequestId"))
        return json.dumps({k: record[k] for k in ("SelectionId", "BackupPlanId",
                                                  "CreationDate")})

    def get(self: Any) -> str:
        plan_id, selection_id = _plan_and_selection(self)
        record = get_backup_selection(self.backup_backend, plan_id, str(selection_id))
        return json.dumps({k: v for k, v in record.items() if v is not None})

    def list_selections(self: Any) -> str:
        plan_id, _ = _plan_and_selection(self)
        records = _selections(self.backup_backend).get(plan_id, {}).values()
        return json.dumps({"BackupSelectionsList": [selection_summary(r) for r in records]})

    def delete(self: Any) -> str:
        plan_id, selection_id = _plan_and_selection(self)
        delete_backup_selection(self.backup_backend, plan_id, str(selection_id))
        return "{}"

    BackupResponse.create_backup_selection = create  # type: ignore[attr-defined]
    BackupResponse.get_backup_selection = get  # type: ignore[attr-defined]
    BackupResponse.list_backup_selections = list_selections  # type: ignore[attr-defined]
    BackupResponse.delete_backup_selection = delete  # type: ignore[attr-defined]
    _patched.add("api")


def _define_models() -> None:
    from moto.backup.models import backup_backends
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.core.common_models import CloudFormationModel

    class BackupVaultResource(CloudFormationModel):
        """``AWS::Backup::BackupVault``; Ref is the vault name."""

        def __init__(self, vault: Any) -> None:
            self.vault = vault

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Backup::BackupVault"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "BackupVaultName"

        @property
        def physical_resource_id(self) -> str:
            return str(self.vault.backup_vault_name)

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("BackupVaultName", "BackupVaultArn")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "BackupVaultName":
                return self.vault.backup_vault_name
            if attribute_name == "BackupVaultArn":
                return self.vault.backup_vault_arn
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> BackupVaultResource:
            p = cloudformation_json.get("Properties") or {}
            backend = backup_backends[account_id][region_name]
            vault = backend.create_backup_vault(
                backup_vault_name=p.get("BackupVaultName") or resource_name,
                backup_vault_tags=p.get("BackupVaultTags") or {},
                encryption_key_arn=p.get("EncryptionKeyArn"),
                creator_request_id=None)
            lock = p.get("LockConfiguration")
            if lock:
                backend.put_backup_vault_lock_configuration(
                    backup_vault_name=vault.backup_vault_name,
                    min_retention_days=as_int(lock.get("MinRetentionDays")),
                    max_retention_days=as_int(lock.get("MaxRetentionDays")),
                    changeable_for_days=as_int(lock.get("ChangeableForDays")))
            return cls(vault)

        def delete(self, account_id: str, region_name: str) -> None:
            backup_backends[account_id][region_name].delete_backup_vault(
                self.vault.backup_vault_name)

    class BackupPlanResource(CloudFormationModel):
        """``AWS::Backup::BackupPlan``; Ref is the plan id."""

        def __init__(self, plan: Any) -> None:
            self.plan = plan

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Backup::BackupPlan"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return str(self.plan.backup_plan_id)

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("BackupPlanId", "BackupPlanArn", "VersionId")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            values = {"BackupPlanId": self.plan.backup_plan_id,
                      "BackupPlanArn": self.plan.backup_plan_arn,
                      "VersionId": self.plan.version_id}
            if attribute_name not in values:
                raise UnformattedGetAttTemplateException()
            return values[attribute_name]

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> BackupPlanResource:
            p = cloudformation_json.get("Properties") or {}
            plan = backup_backends[account_id][region_name].create_backup_plan(
                backup_plan=plan_document(p["BackupPlan"]),
                backup_plan_tags=p.get("BackupPlanTags") or {}, creator_request_id=None)
            return cls(plan)

        def delete(self, account_id: str, region_name: str) -> None:
            backup_backends[account_id][region_name].delete_backup_plan(
                self.plan.backup_plan_id)

    class BackupSelectionResource(CloudFormationModel):
        """``AWS::Backup::BackupSelection``; Ref is the selection id."""

        def __init__(self, plan_id: str, selection_id: str) -> None:
            self.plan_id = plan_id
            self.selection_id = selection_id

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Backup::BackupSelection"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return self.selection_id

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("BackupPlanId", "SelectionId", "Id")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "BackupPlanId":
                return self.plan_id
            if attribute_name in ("SelectionId", "Id"):
                return self.selection_id
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> BackupSelectionResource:
            p = cloudformation_json.get("Properties") or {}
            record = create_backup_selection(backup_backends[account_id][region_name],
                                             p["BackupPlanId"], dict(p["BackupSelection"]))
            return cls(p["BackupPlanId"], record["SelectionId"])

        def delete(self, account_id: str, region_name: str) -> None:
            delete_backup_selection(backup_backends[account_id][region_name], self.plan_id,
                                    self.selection_id)

    refresh_model_map(BackupVaultResource, BackupPlanResource, BackupSelectionResource)


def _patch() -> None:
    _patch_api()
    _define_models()


def install() -> None:
    """Define the Backup models and selection API once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_patch)
