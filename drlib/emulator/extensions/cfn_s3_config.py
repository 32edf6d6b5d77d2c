"""``AWS::S3::Bucket`` configuration that moto's CloudFormation model ignores, and
``AWS::S3::BucketPolicy``.

moto creates the bucket with encryption and tags only. Here the rest is applied through the S3
backend's own setters, in the shape its XML API parser produces, so the S3 API reads it back:
versioning, object lock (``ObjectLockEnabled`` + ``ObjectLockConfiguration``), lifecycle,
replication, public access block, and intelligent-tiering configurations (which moto lacks
altogether: they are kept on the bucket and answered by ``GetBucketIntelligentTieringConfiguration``
and ``ListBucketIntelligentTieringConfigurations``).
"""

from __future__ import annotations

import json
from typing import Any

from drlib.emulator.extensions.cfn_hooks import refresh_model_map, when_cloudformation_loaded
from drlib.emulator.extensions.cfn_resources_rds import as_bool, as_int

_patched: set[str] = set()


def _filter(prefix: str | None, tags: list[dict[str, Any]]) -> dict[str, Any]:
    """A rule filter in the S3 API's shape from a prefix and tag filters."""
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in tags]
    if tags and (prefix or len(tags) > 1):
        return {"And": {**({"Prefix": prefix} if prefix else {}), "Tag": tags}}
    if tags:
        return {"Tag": tags[0]}
    return {"Prefix": prefix or ""}


def lifecycle_rules(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    """CloudFormation ``LifecycleConfiguration`` as the rules ``set_lifecycle`` takes."""
    rules = []
    for rule in configuration.get("Rules") or []:
        api: dict[str, Any] = {"ID": rule.get("Id"), "Status": rule.get("Status", "Enabled")}
        api["Filter"] = _filter(rule.get("Prefix"), rule.get("TagFilters") or [])
        expiration: dict[str, Any] = {}
        if rule.get("ExpirationInDays") is not None:
            expiration["Days"] = as_int(rule["ExpirationInDays"])
        if rule.get("ExpirationDate"):
            expiration["Date"] = rule["ExpirationDate"]
        if rule.get("ExpiredObjectDeleteMarker") is not None:
            expiration["ExpiredObjectDeleteMarker"] = as_bool(rule["ExpiredObjectDeleteMarker"])
        if expiration:
            api["Expiration"] = expiration
        transitions = list(rule.get("Transitions") or []) + (
            [rule["Transition"]] if rule.get("Transition") else [])
        if transitions:
            api["Transition"] = [{"Days": as_int(t.get("TransitionInDays")),
                                  "Date": t.get("TransitionDate"),
                                  "StorageClass": t["StorageClass"]} for t in transitions]
        noncurrent = rule.get("NoncurrentVersionExpiration") or (
            {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
            if rule.get("NoncurrentVersionExpirationInDays") is not None else None)
        if noncurrent:
            api["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": as_int(noncurrent["NoncurrentDays"]),
                **({"NewerNoncurrentVersions": as_int(noncurrent["NewerNoncurrentVersions"])}
                   if noncurrent.get("NewerNoncurrentVersions") else {})}
        nv_transitions = list(rule.get("NoncurrentVersionTransitions") or []) + (
            [rule["NoncurrentVersionTransition"]] if rule.get("NoncurrentVersionTransition")
            else [])
        if nv_transitions:
            api["NoncurrentVersionTransition"] = [
                {"NoncurrentDays": as_int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
                for t in nv_transitions]
        abort = rule.get("AbortIncompleteMultipartUpload")
        if abort:
            api["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": as_int(abort["DaysAfterInitiation"])}
        rules.append(api)
    return rules


def replication_configuration(configuration: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation ``ReplicationConfiguration`` as ``put_bucket_replication`` takes it."""
    rules = []
    for index, rule in enumerate(configuration.get("Rules") or []):
        api: dict[str, Any] = {"Status": rule.get("Status", "Enabled"),
                               "Priority": as_int(rule.get("Priority")) or index + 1}
        if rule.get("Id"):
            api["ID"] = rule["Id"]
        declared = rule.get("Filter")
        if declared is not None:
            and_block = declared.get("And")
            if and_block:
                api["Filter"] = _filter(and_block.get("Prefix"), and_block.get("TagFilters") or [])
            else:
                tag = declared.get("TagFilter")
                api["Filter"] = _filter(declared.get("Prefix"), [tag] if tag else [])
        else:
            api["Filter"] = {"Prefix": rule.get("Prefix") or ""}
        api["DeleteMarkerReplication"] = {
            "Status": (rule.get("DeleteMarkerReplication") or {}).get("Status", "Disabled")}
        api["Destination"] = dict(rule["Destination"])
        if rule.get("SourceSelectionCriteria"):
            api["SourceSelectionCriteria"] = rule["SourceSelectionCriteria"]
        rules.append(api)
    return {"Role": configuration.get("Role"), "Rule": rules}


def intelligent_tiering_configuration(declared: dict[str, Any]) -> dict[str, Any]:
    """One CloudFormation intelligent-tiering configuration in the S3 API's shape."""
    tierings = [{"Days": as_int(t["Days"]), "AccessTier": t["AccessTier"]}
                for t in declared.get("Tierings") or []]
    config: dict[str, Any] = {"Id": declared["Id"], "Status": declared.get("Status", "Enabled"),
                              "Tierings": tierings}
    prefix, tags = declared.get("Prefix"), declared.get("TagFilters") or []
    if prefix or tags:
        config["Filter"] = _filter(prefix, tags)
        if "Tag" in config["Filter"] and isinstance(config["Filter"]["Tag"], list):
            config["Filter"] = {"And": {"Tags": config["Filter"]["Tag"]}}
        elif "And" in config["Filter"]:
            config["Filter"]["And"]["Tags"] = config["Filter"]["And"].pop("Tag")
    return config


def apply_bucket_configuration(backend: Any, bucket: Any, properties: dict[str, Any]) -> None:
    """Apply every bucket configuration CloudFormation declares, through the S3 backend."""
    name = bucket.name
    versioning = (properties.get("VersioningConfiguration") or {}).get("Status")
    lock = properties.get("ObjectLockConfiguration") or {}
    lock_enabled = as_bool(properties.get("ObjectLockEnabled")) or \
        lock.get("ObjectLockEnabled") == "Enabled"
    if lock_enabled:
        versioning = "Enabled"  # object lock needs (and turns on) versioning
    if versioning:
        backend.put_bucket_versioning(name, versioning)
    if lock_enabled:
        retention = (lock.get("Rule") or {}).get("DefaultRetention") or {}
        # As the S3 API parses it: an absent Days or Years is 0, not None.
        backend.put_object_lock_configuration(
            name, lock_enabled=True, mode=retention.get("Mode"),
            days=as_int(retention.get("Days")) or 0 if retention else None,
            years=as_int(retention.get("Years")) or 0 if retention else None)
    if properties.get("LifecycleConfiguration"):
        backend.put_bucket_lifecycle_configuration(
            name, lifecycle_rules(properties["LifecycleConfiguration"]))
    if properties.get("ReplicationConfiguration"):
        backend.put_bucket_replication(
            name, replication_configuration(properties["ReplicationConfiguration"]))
    elif getattr(bucket, "replication", None):
        backend.delete_bucket_replication(name)  # an update removed it
    block = properties.get("PublicAccessBlockConfiguration")
    if block:
        backend.put_public_access_block(name, {key: bool(as_bool(value))
                                                for key, value in block.items()})
    bucket.intelligent_tiering_configurations = {
        c["Id"]: intelligent_tiering_configuration(c)
        for c in properties.get("IntelligentTieringConfigurations") or []}


def _patch_bucket_model() -> None:
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    if "bucket" in _patched:
        return
    original = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        bucket = original(cls, resource_name, cloudformation_json, account_id, region_name,
                          **kwargs)
        backend = s3_backends[account_id][get_partition(region_name)]
        try:
            apply_bucket_configuration(backend, bucket,
                                       cloudformation_json.get("Properties") or {})
        except Exception:
            backend.delete_bucket(bucket.name)  # the resource failed: leave nothing behind
            raise
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]
    original_update = FakeBucket.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def update(cls: Any, original_resource: Any, new_resource_name: str,
               cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        """An update without replacement applies the declared configuration again (moto's own
        update only re-applies encryption and tags), e.g. a replication rule added later."""
        bucket = original_update(cls, original_resource, new_resource_name, cloudformation_json,
                                 account_id, region_name)
        if bucket is original_resource:
            apply_bucket_configuration(s3_backends[account_id][get_partition(region_name)],
                                       bucket, cloudformation_json.get("Properties") or {})
        return bucket

    FakeBucket.update_from_cloudformation_json = classmethod(update)  # type: ignore[method-assign,assignment]
    _patched.add("bucket")


def _patch_intelligent_tiering_api() -> None:
    """Answer the intelligent-tiering reads that moto's S3 API lacks from the bucket's record."""
    from moto.core.responses import ActionResult
    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response

    if "tiering" in _patched:
        return
    original = S3Response._bucket_response_get

    def bucket_response_get(self: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        if "intelligent-tiering" not in querystring:
            return original(self, bucket_name, querystring)
        bucket = self.backend.get_bucket(bucket_name)
        configurations = getattr(bucket, "intelligent_tiering_configurations", {})
        if "id" in querystring:
            config_id = querystring["id"][0]
            if config_id not in configurations:
                raise S3ClientError("NoSuchConfiguration",
                                    "The specified configuration does not exist.")
            self.data["Action"] = "GetBucketIntelligentTieringConfiguration"
            return self.serialized(ActionResult(
                {"IntelligentTieringConfiguration": configurations[config_id]}))
        self.data["Action"] = "ListBucketIntelligentTieringConfigurations"
        return self.serialized(ActionResult({
            "IsTruncated": False,
            "IntelligentTieringConfigurationList": list(configurations.values())}))

    S3Response._bucket_response_get = bucket_response_get  # type: ignore[method-assign]
    _patched.add("tiering")


def _define_bucket_policy_model() -> None:
    from moto.core.common_models import CloudFormationModel
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    class BucketPolicyResource(CloudFormationModel):
        """``AWS::S3::BucketPolicy`` through ``put_bucket_policy``."""

        def __init__(self, bucket_name: str) -> None:
            self.bucket_name = bucket_name

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3::BucketPolicy"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @property
        def physical_resource_id(self) -> str:
            return self.bucket_name

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
                cls, resource_name: str, cloudformation_json: Any, account_id: str,
                region_name: str, **kwargs: Any) -> BucketPolicyResource:
            p = cloudformation_json.get("Properties") or {}
            document = p["PolicyDocument"]
            text = document if isinstance(document, str) else json.dumps(document)
            backend = s3_backends[account_id][get_partition(region_name)]
            backend.put_bucket_policy(p["Bucket"], text.encode())
            return cls(p["Bucket"])

        def delete(self, account_id: str, region_name: str) -> None:
            backend = s3_backends[account_id][get_partition(region_name)]
            if self.bucket_name in backend.buckets:
                backend.delete_bucket_policy(self.bucket_name)

    refresh_model_map(BucketPolicyResource)


def delete_bucket(bucket: Any, account_id: str, region: str) -> None:
    """Delete the bucket as CloudFormation does: a bucket still holding objects (or object
    versions) cannot be deleted, and its stack's deletion fails."""
    from moto.s3.exceptions import BucketNotEmpty
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    backend = s3_backends[account_id][get_partition(region)]
    if bucket.name not in backend.buckets:
        return
    if backend.get_bucket(bucket.name).keys:
        raise BucketNotEmpty(bucket.name)
    backend.delete_bucket(bucket.name)


REQUEST_CONTEXT = {"aws:securetransport": "true"}
"""Condition keys known for every request: clients reach AWS over TLS, so the emulator's
loopback HTTP endpoint stands in for a secure transport."""


def condition_holds(condition: dict[str, Any]) -> bool:
    """Whether an IAM ``Condition`` block holds for :data:`REQUEST_CONTEXT`.

    Keys the emulator does not know make a condition fail (the statement does not apply),
    except under ``Null`` and ``...IfExists`` operators, which are true for absent keys.
    """
    from fnmatch import fnmatchcase

    for operator, checks in condition.items():
        base = operator.removesuffix("IfExists")
        for key, expected in checks.items():
            wanted = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            actual = REQUEST_CONTEXT.get(key.lower())
            if base == "Null":
                holds = (actual is None) == (wanted[0].lower() == "true")
            elif actual is None:
                holds = operator.endswith("IfExists")
            elif base == "Bool":
                holds = actual in [w.lower() for w in wanted]
            elif base == "StringEquals":
                holds = actual in wanted
            elif base == "StringNotEquals":
                holds = actual not in wanted
            elif base == "StringLike":
                holds = any(fnmatchcase(actual, w) for w in wanted)
            else:
                holds = False
            if not holds:
                return False
    return True


def bucket_permission(policy_text: str, action: str, resource: str) -> Any:
    """A bucket policy's verdict on ``action`` on ``resource``, conditions read as IAM does.

    moto turns any statement whose Condition does not hold into an explicit deny (and cannot
    evaluate most conditions), so a bucket policy with the usual ``Deny ... aws:SecureTransport
    false`` statement refuses every request. In IAM a statement whose condition does not hold
    does not apply: here it is skipped, and conditions are read by :func:`condition_holds`.
    """
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    document = json.loads(policy_text)
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    verdict = PermissionResult.NEUTRAL
    for statement in statements:
        if statement.get("Condition") and not condition_holds(statement["Condition"]):
            continue
        unconditional = {k: v for k, v in statement.items() if k != "Condition"}
        result = IAMPolicyStatement(unconditional).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return result
        if result == PermissionResult.PERMITTED:
            verdict = result
    return verdict


def _patch_bucket_permission() -> None:
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    if "permission" in _patched:
        return

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        return bucket_permission(self.policy.decode(), action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
    _patched.add("permission")


def _patch() -> None:
    from drlib.emulator.extensions.cfn_deletion import register_deleter

    _patch_bucket_permission()
    register_deleter("AWS::S3::Bucket", delete_bucket)
    _patch_bucket_model()
    _patch_intelligent_tiering_api()
    _define_bucket_policy_model()


def install() -> None:
    """Patch the bucket model and S3 reads once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_patch)
