"""The data-corruption scenario: a recovery point, a corruption in both regions, the restore.

Replication copies a mistaken or malicious delete to the other region within seconds, so a
region pair alone does not survive ransomware; the recovery points in the locked backup vaults
do. The drill, while the canaries write:

1. writes a *victim* table item and S3 object (the data the corruption will destroy) and waits
   until both regions hold them;
2. **records a recovery point** as the deployed backup plan would on its schedule: an on-demand
   backup job of the table and the data bucket into the plan's vault, with the plan's role and
   lifecycle, then the plan's copy to the secondary region's vault (:func:`backup_setup` reads
   them from the deployed plan and selection);
3. **corrupts the data**: deletes the victim item from the table in both regions and every
   version of the victim object in both buckets, then declares the disaster;
4. runs the **dr-restore runbook** (``dr-automation.yaml``) in the secondary region, as on-call
   would: the most recent completed recovery points created before the corruption, restored into
   a new table and a new bucket there;
5. observes the victim item and object **readable** in the restored copies: the RTO per store is
   the declaration to that moment;
6. reconciles every canary record acknowledged before the corruption against the restored copies:
   the RPO per store is the records lost, record by record (:func:`measure_restore_records`);
7. puts the victim back into the live table and bucket from the restored copies and deletes the
   restored copies (what the operator does once the restore is verified).

Every figure follows from ``canaries.csv`` and ``measured.instants``: see
:func:`measure_restore_records`. Aurora is not restored by this scenario (its canary still
writes; it is not measured).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drlib.errors import ConfigError, DrillAborted
from drlib.measure import (
    CanaryRecord,
    RtoResult,
    lag_statistics,
    measure_rpo,
    overall_rto,
    reconciliation_from_records,
)
from drlib.timeline import iso, to_utc, utc_now
from drlib.verdict import Measured
from drlib.waiting import Stamper, wait_until
from drlib.write_outcomes import count_writes, rpo_evidence

log = logging.getLogger(__name__)

SCENARIO = "data-corruption"
STORES: tuple[str, ...] = ("dynamodb", "s3")
"""The stores this scenario restores and measures."""
VICTIM = "drill-victim"
VICTIM_PAYLOAD = b"business data the drill destroys"
JOB_POLL_S = 0.2


# --- the arithmetic (pure) -----------------------------------------------------------------------

def lost_window_candidates(records: Iterable[CanaryRecord],
                           corrupted_at: datetime) -> list[CanaryRecord]:
    """The records a restore must bring back: every write acknowledged before the corruption
    began. Writes acknowledged later went to the live, uncorrupted store, not to the past."""
    start = to_utc(corrupted_at)
    return [r for r in records if r.acked_at is not None and r.acked_at < start]


def restore_rto(declared: datetime, readable_at: datetime | None, store: str,
                region: str, restored: str) -> RtoResult:
    """Disaster declared to the store's restored data seen readable in ``region``."""
    if readable_at is None:
        return RtoResult(seconds=None, disaster_declared_at=to_utc(declared),
                         new_primary_region=region, store=store,
                         reason=f"the restored {store} data was not seen readable")
    return RtoResult(seconds=(to_utc(readable_at) - to_utc(declared)).total_seconds(),
                     disaster_declared_at=to_utc(declared), new_primary_region=region,
                     first_write_at=to_utc(readable_at), store=store,
                     reason=f"the deleted {store} data readable in {restored} ({region})")


def measure_restore_records(records: list[CanaryRecord], stores: Sequence[str], *,
                            declared: datetime | None, corrupted_at: datetime | None,
                            readable_at: Mapping[str, datetime | None],
                            restored: Mapping[str, str], old_primary: str,
                            restore_region: str) -> Measured:
    """Every figure of ``measured`` for a restore, from canary records carrying their
    reconciliation against the restored copies (``present_after``) and the drill's instants.

    RTO per store: ``readable_at[store] - declared``. RPO per store: every canary acknowledged
    before ``corrupted_at`` and absent from the restored copy is lost; the span runs from the
    earliest lost acknowledgement to the corruption. RPO evidence: the writes acknowledged by
    ``old_primary`` in the window before the corruption (:mod:`drlib.write_outcomes`).
    """
    lag = lag_statistics(records)
    writes = count_writes(records, stores=stores)
    per_store: dict[str, RtoResult] = {}
    rpo, evidence = {}, {}
    if declared is not None and corrupted_at is not None:
        per_store = {s: restore_rto(declared, readable_at.get(s), s, restore_region,
                                    restored.get(s, "?")) for s in stores}
        candidates = lost_window_candidates(records, corrupted_at)
        present = reconciliation_from_records(records)
        rpo = measure_rpo(candidates, restore_region, corrupted_at,
                          present_after={s: present.get(s, set()) for s in stores},
                          stores=stores)
        evidence = {s: rpo_evidence(records, s, corrupted_at, old_primary) for s in stores}
    return Measured(rto=overall_rto(per_store), rpo=rpo, lag=lag, rto_per_store=per_store,
                    writes=writes, rpo_evidence=evidence)


def measure_run(run: Any, records: list[CanaryRecord], reconciled: bool) -> Measured:
    """The drill's ``measured``: each record marked present or not in the restored copies (as
    canaries.csv then holds it), then :func:`measure_restore_records`."""
    state: RestoreState | None = run.state.restore
    done = reconciled and state is not None and set(state.present) >= set(STORES)
    if done and state is not None:
        for record in records:
            record.present_after = record.seq in state.present.get(record.store, set())
    w = run.workload
    return measure_restore_records(
        records, STORES, declared=run.timeline.disaster_declared_at if done else None,
        corrupted_at=state.corrupted_at if state else None,
        readable_at=state.readable_at if state else {},
        restored=state.restored if state else {}, old_primary=w.regions.primary,
        restore_region=w.regions.secondary)


# --- the backup plan, as deployed ---------------------------------------------------------------

@dataclass(frozen=True)
class BackupSetup:
    """What the deployed backup plan does with the workload's table and bucket."""

    plan_id: str
    vault_name: str
    role_arn: str
    lifecycle: Mapping[str, Any]
    copy_vault_arn: str
    copy_lifecycle: Mapping[str, Any]
    table_arn: str
    bucket_arn: str


def backup_setup(clients: Any, workload: Any) -> BackupSetup:
    """The primary region's backup plan and selection that cover the workload's table and data
    bucket; raises naming what is missing."""
    region = workload.regions.primary
    backup = clients.client("backup", region)
    table_arn = str(clients.client("dynamodb", region).describe_table(
        TableName=workload.table_name)["Table"]["TableArn"])
    bucket_arn = f"arn:aws:s3:::{workload.primary.bucket}"
    for plan in backup.list_backup_plans().get("BackupPlansList", []):
        plan_id = plan["BackupPlanId"]
        for summary in backup.list_backup_selections(BackupPlanId=plan_id).get(
                "BackupSelectionsList", []):
            selection = backup.get_backup_selection(
                BackupPlanId=plan_id, SelectionId=summary["SelectionId"])["BackupSelection"]
            resources = set(selection.get("Resources") or [])
            if not {table_arn, bucket_arn} <= resources:
                continue
            rules = backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"]["Rules"]
            rule = next((r for r in rules if r.get("CopyActions")), None)
            if rule is None:
                continue
            copy = rule["CopyActions"][0]
            return BackupSetup(plan_id=plan_id, vault_name=rule["TargetBackupVaultName"],
                               role_arn=selection["IamRoleArn"],
                               lifecycle=rule.get("Lifecycle") or {},
                               copy_vault_arn=copy["DestinationBackupVaultArn"],
                               copy_lifecycle=copy.get("Lifecycle") or {},
                               table_arn=table_arn, bucket_arn=bucket_arn)
    raise ConfigError(f"No backup plan in {region} covers {table_arn} and {bucket_arn} with a "
                      "copy to another region",
                      expected="the backup stack's plan, selection and copy action",
                      found="none", fix="deploy the backup stacks (drlib stacks launch)")


# --- the run --------------------------------------------------------------------------------------

@dataclass
class RestoreState:
    """What the restore did, for metrics.json (``restore``) and the measurement."""

    victim_key: str = ""
    recovery_points: dict[str, dict[str, Any]] = field(default_factory=dict)
    corrupted_at: datetime | None = None
    deleted: list[dict[str, Any]] = field(default_factory=list)
    restored: dict[str, str] = field(default_factory=dict)
    readable_at: dict[str, datetime | None] = field(default_factory=dict)
    present: dict[str, set[int]] = field(default_factory=dict)
    put_back: list[str] = field(default_factory=list)
    cleaned_up: list[str] = field(default_factory=list)
    plan: BackupSetup | None = None

    def instants(self) -> dict[str, Any]:
        """The restore's instants for ``measured.instants`` (microseconds, like canaries.csv)."""
        from drlib.measure import iso_us

        return {"corrupted_at": iso_us(self.corrupted_at),
                "restored_readable_at": {s: iso_us(t) for s, t in self.readable_at.items()}}

    def to_metrics(self) -> dict[str, Any]:
        return {
            "victim_key": self.victim_key,
            "recovery_points": self.recovery_points,
            "corrupted_at": iso(self.corrupted_at), "deleted": self.deleted,
            "restored_into": self.restored,
            "restored_readable_at": {s: iso(t) for s, t in self.readable_at.items()},
            "put_back": self.put_back, "cleaned_up": self.cleaned_up,
            "backup_plan": None if self.plan is None else {
                "plan_id": self.plan.plan_id, "vault": self.plan.vault_name,
                "copy_vault_arn": self.plan.copy_vault_arn, "lifecycle": self.plan.lifecycle},
            "rests_on": (
                "RTO per store: measured.instants.disaster_declared_at to "
                "restored_readable_at[store] (the deleted item or object first read back from "
                "the restored copy in the secondary region). RPO per store: the canaries.csv "
                "rows acknowledged before corrupted_at whose present_in_new_primary is false "
                "(here: not found in the restored copy), spanning from the earliest lost "
                "acknowledgement to corrupted_at: what this drill's recovery point did not "
                "hold. RPO evidence: the writes acknowledged in the window before corrupted_at. "
                "With the plan's "
                "schedule, a real corruption can lose up to the schedule's interval."),
        }


def restore_names(workload: Any, run_id: str) -> tuple[str, str]:
    """The new table and bucket the restore creates (unique per run; S3's 63-character and
    lower-case rules kept)."""
    tag = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    bucket = workload.secondary.bucket[:44].rstrip("-.")
    return f"{workload.table_name}-restore-{tag}", f"{bucket}-restore-{tag}"


def run_data_corruption(run: Any) -> None:
    """Steps 1 to 6 of the module docstring on ``run`` (a :class:`drlib.drill.DrillRun`)."""
    from drlib.drill import follow_runbook

    w, regions = run.workload, run.workload.regions
    state = RestoreState(victim_key=f"{VICTIM}/{run.run_id}")
    run.state.restore = state
    clients = run.clients
    with run.step("record a recovery point") as step:
        from drlib.runbook import runbook_name

        runbook_name(w, SCENARIO)  # no restore runbook: refused before anything changes
        state.plan = backup_setup(clients, w)
        _write_victim(clients, w, state.victim_key, run.timeout("record a recovery point"))
        state.recovery_points = _recovery_point(clients, w, state.plan,
                                                run.timeout("record a recovery point"))
        step.record.detail = ", ".join(f"{s}: {p['copy']}" for s, p in
                                       state.recovery_points.items())
    with run.step("corrupt the data in both regions") as step:
        state.corrupted_at = utc_now()
        run.state.cutover_at = state.corrupted_at
        state.deleted = _corrupt(clients, w, state.victim_key)
        run.timeline.add_fault("data-corruption", f"{w.table_name}, {w.primary.bucket}, "
                               f"{w.secondary.bucket}", {"deleted": state.deleted},
                               at=state.corrupted_at)
        run.timeline.declare_disaster("data corruption: the victim item and object deleted "
                                      "in both regions")
        step.record.detail = f"{len(state.deleted)} deletions"
    table, bucket = restore_names(w, run.run_id)
    state.restored = {"dynamodb": table, "s3": bucket}
    readable = {"dynamodb": Stamper(lambda: _item_readable(clients, regions.secondary, table,
                                                          state.victim_key)),
                "s3": Stamper(lambda: _object_readable(clients, regions.secondary, bucket,
                                                       state.victim_key))}

    def poll() -> None:
        execution = run.state.runbook
        if execution and execution.step_started_at("RestoreTable"):
            readable["dynamodb"]()
        if execution and execution.step_started_at("RestoreBucket"):
            readable["s3"]()

    saved = dict(run.runbook_parameters)
    run.runbook_parameters = {**saved, "CorruptedAt": _iso_z(state.corrupted_at),
                              "TargetTableName": table, "TargetBucketName": bucket}
    try:
        follow_runbook(run, SCENARIO, on_poll=poll)
    finally:
        run.runbook_parameters = saved
    with run.step("restored data readable") as step:
        for store in STORES:
            if readable[store].result is None:
                wait_until(readable[store], description=f"the restored {store} data to be "
                           "readable", timeout=run.timeout("restored data readable"),
                           interval=0.05, backoff=1.0, max_interval=0.05)
        seen = {s: readable[s].observed() for s in STORES}
        state.readable_at = {s: o.at for s, o in seen.items()}
        at = max(o.at for o in seen.values())
        if at < step.record.started_at:
            # The probes saw it while the runbook still ran, before this step was opened: the
            # step is that moment (it never ends before it begins).
            step.record.started_at = at
            step.detail = "readable before the runbook ended"
        step.condition_met(at, max(o.resolution_s for o in seen.values()))
        state.present = _restored_records(clients, regions.secondary, table, bucket, run.run_id,
                                          w)


def put_back_and_clean_up(run: Any) -> None:
    """Step 7: the victim back in the live table and bucket, the restored copies deleted."""
    state: RestoreState | None = run.state.restore
    if state is None or not state.restored:
        return
    w, clients, secondary = run.workload, run.clients, run.workload.regions.secondary
    with run.step("put back and clean up") as step:
        table, bucket = state.restored["dynamodb"], state.restored["s3"]
        dynamodb, s3 = clients.client("dynamodb", secondary), clients.client("s3", secondary)
        key = {"pk": {"S": state.victim_key}, "sk": {"S": "item"}}
        item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        if item:
            clients.client("dynamodb", w.regions.primary).put_item(TableName=w.table_name,
                                                                   Item=item)
            state.put_back.append(f"dynamodb {w.table_name} {state.victim_key}")
        body = s3.get_object(Bucket=bucket, Key=state.victim_key)["Body"].read()
        clients.client("s3", w.regions.primary).put_object(Bucket=w.primary.bucket,
                                                           Key=state.victim_key, Body=body)
        state.put_back.append(f"s3 {w.primary.bucket}/{state.victim_key}")
        dynamodb.delete_table(TableName=table)
        state.cleaned_up.append(f"dynamodb table {table}")
        _delete_bucket(s3, bucket)
        state.cleaned_up.append(f"s3 bucket {bucket}")
        step.record.detail = "; ".join(state.put_back + state.cleaned_up)


def undo_corruption(run: Any) -> list[str]:
    """The abort path's share: the victim written back into the live table and bucket (the
    drill's own data, as before the drill) and any restored copy deleted; returns what it did."""
    state: RestoreState | None = run.state.restore
    if state is None:
        return []
    w, clients = run.workload, run.clients
    done = []
    if state.deleted and not state.put_back:
        _put_victim(clients, w, state.victim_key)
        done.append(f"victim {state.victim_key} written back")
    secondary = w.regions.secondary
    for store, name in state.restored.items():
        try:
            if store == "dynamodb":
                clients.client("dynamodb", secondary).delete_table(TableName=name)
            else:
                _delete_bucket(clients.client("s3", secondary), name)
            done.append(f"{store} {name} deleted")
        except Exception as exc:
            if not _missing(exc):
                raise
    state.cleaned_up.extend(done)
    return done


# --- the operations -------------------------------------------------------------------------------

def _iso_z(moment: datetime | None) -> str:
    assert moment is not None
    return to_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _write_victim(clients: Any, w: Any, key: str, timeout: float) -> None:
    """The data the corruption will destroy, written in the primary and seen in both regions."""
    regions = w.regions
    _put_victim(clients, w, key)

    def everywhere() -> bool:
        return all(_item_readable(clients, r, w.table_name, key) for r in
                   (regions.primary, regions.secondary)) and _object_readable(
            clients, regions.secondary, w.secondary.bucket, key)

    wait_until(everywhere, description=f"{key} in both regions", timeout=timeout, interval=0.1)


def _put_victim(clients: Any, w: Any, key: str) -> None:
    primary = w.regions.primary
    clients.client("dynamodb", primary).put_item(
        TableName=w.table_name, Item={"pk": {"S": key}, "sk": {"S": "item"},
                                      "payload": {"S": VICTIM_PAYLOAD.decode()}})
    clients.client("s3", primary).put_object(Bucket=w.primary.bucket, Key=key,
                                             Body=VICTIM_PAYLOAD)


def _recovery_point(clients: Any, w: Any, plan: BackupSetup,
                    timeout: float) -> dict[str, dict[str, Any]]:
    """A backup of the table and the bucket with the plan's settings, copied to the plan's
    destination vault; returns each store's recovery points and their creation dates."""
    backup = clients.client("backup", w.regions.primary)
    started = {}
    for store, arn in (("dynamodb", plan.table_arn), ("s3", plan.bucket_arn)):
        started[store] = backup.start_backup_job(
            BackupVaultName=plan.vault_name, ResourceArn=arn, IamRoleArn=plan.role_arn,
            Lifecycle=dict(plan.lifecycle))
    points: dict[str, dict[str, Any]] = {}
    for store, job in started.items():
        done = _job_done(lambda j=job: backup.describe_backup_job(BackupJobId=j["BackupJobId"]),
                         "State", f"backup job {job['BackupJobId']} ({store})", timeout)
        points[store] = {"source": job["RecoveryPointArn"], "backup_job": job["BackupJobId"],
                         "created": iso(to_utc(done["CreationDate"]))}
    for store, point in points.items():
        copy = backup.start_copy_job(RecoveryPointArn=point["source"],
                                     SourceBackupVaultName=plan.vault_name,
                                     DestinationBackupVaultArn=plan.copy_vault_arn,
                                     IamRoleArn=plan.role_arn,
                                     Lifecycle=dict(plan.copy_lifecycle))
        done = _job_done(lambda c=copy: backup.describe_copy_job(CopyJobId=c["CopyJobId"])[
            "CopyJob"], "State", f"copy job {copy['CopyJobId']} ({store})", timeout)
        point.update(copy=done["DestinationRecoveryPointArn"], copy_job=copy["CopyJobId"])
    return points


def _job_done(describe: Any, key: str, what: str, timeout: float) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        found: dict[str, Any] = describe()
        return found if found[key] in ("COMPLETED", "FAILED", "ABORTED", "EXPIRED",
                                       "PARTIAL") else None

    found = wait_until(ended, description=f"{what} to complete", timeout=timeout,
                       interval=JOB_POLL_S, backoff=1.0, max_interval=JOB_POLL_S)
    if found[key] != "COMPLETED":
        raise DrillAborted(f"AWS Backup {what} ended {found[key]}",
                           expected="COMPLETED", found=found.get("StatusMessage") or found[key],
                           fix="read the job in the AWS Backup console; check the plan's role "
                               "and vault lock")
    return found


def _corrupt(clients: Any, w: Any, key: str) -> list[dict[str, Any]]:
    """Delete the victim item in both regions' tables and every version of the victim object
    (delete markers included) in both buckets, as ransomware with delete rights would."""
    deleted: list[dict[str, Any]] = []
    for region in (w.regions.primary, w.regions.secondary):
        clients.client("dynamodb", region).delete_item(
            TableName=w.table_name, Key={"pk": {"S": key}, "sk": {"S": "item"}})
        deleted.append({"store": "dynamodb", "region": region, "table": w.table_name,
                        "key": key})
    for region, bucket in ((w.regions.primary, w.primary.bucket),
                           (w.regions.secondary, w.secondary.bucket)):
        s3 = clients.client("s3", region)
        listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
        versions = [v for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])
                    if v["Key"] == key]
        for version in versions:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
        deleted.append({"store": "s3", "region": region, "bucket": bucket, "key": key,
                        "versions": len(versions)})
    return deleted


def _missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "404",
                    "TableNotFoundException")


def _item_readable(clients: Any, region: str, table: str, key: str) -> bool:
    try:
        return "Item" in clients.client("dynamodb", region).get_item(
            TableName=table, Key={"pk": {"S": key}, "sk": {"S": "item"}}, ConsistentRead=True)
    except Exception as exc:
        if _missing(exc):
            return False
        raise


def _object_readable(clients: Any, region: str, bucket: str, key: str) -> bool:
    try:
        clients.client("s3", region).get_object(Bucket=bucket, Key=key)["Body"].read()
        return True
    except Exception as exc:
        if _missing(exc):
            return False
        raise


def _restored_records(clients: Any, region: str, table: str, bucket: str, run_id: str,
                      w: Any) -> dict[str, set[int]]:
    """The canary sequence numbers found in the restored copies."""
    from drlib.canary import DynamoDbCanary, S3Canary

    dynamodb = DynamoDbCanary(lambda r: clients.client("dynamodb", r), lambda r: table,
                              "pk", "sk")
    s3 = S3Canary(lambda r: clients.client("s3", r), lambda r: bucket)
    return {"dynamodb": set(dynamodb.present(region, run_id, 0)),
            "s3": set(s3.present(region, run_id, 0))}


def _delete_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=bucket)
