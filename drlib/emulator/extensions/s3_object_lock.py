"""S3 Object Lock as AWS enforces it, where moto 5.2.5 falls short.

moto stores a version's lock (``lock_mode``, ``lock_until``, ``lock_legal_status``), applies a
bucket's default retention to PutObject and CopyObject, and refuses DeleteObject on a locked
version. What it gets wrong, and what this extension does instead:

* **GetObjectRetention** is not routed (the request answers with the object, or HTTP 500): here it
  returns ``{Retention: {Mode, RetainUntilDate}}``, ``NoSuchObjectLockConfiguration`` (404) for a
  version without retention, ``InvalidRequest`` for a bucket without Object Lock.
* **GetObjectLegalHold** on a version that never had a legal hold answers an empty status: here
  ``NoSuchObjectLockConfiguration`` (404), as AWS does.
* **PutObjectRetention** overwrites any retention: here, while a retention is in force, a
  COMPLIANCE retention may only be extended (shortening it, changing its mode or removing it is
  ``AccessDenied``); a GOVERNANCE retention may only be extended in GOVERNANCE mode unless the
  request carries ``x-amz-bypass-governance-retention: true`` (shortening, removing, or changing
  the mode need it). A retain-until date in the past is ``InvalidArgument``; a missing version is
  ``NoSuchKey``/``NoSuchVersion`` (moto: HTTP 500), and so for PutObjectLegalHold.
* **PutObject / CopyObject lock headers**: a legal hold header no longer suppresses the bucket's
  default retention; a mode without a date (or a date without a mode) and a past date are
  ``InvalidArgument`` (moto stored a mode with no date).
* **Multipart uploads** got no lock at all: CreateMultipartUpload's lock headers, or else the
  bucket's default retention, now lock the completed object.
* **Bypass header**: moto bypassed GOVERNANCE on *any* value of the header, ``false`` included;
  only ``true`` bypasses here.
* **DeleteObjects** per-key errors now carry the ``VersionId`` they refer to, and ``Quiet`` mode
  lists only the errors.

What moto already does right and is left alone: DeleteObject of a locked version (COMPLIANCE,
GOVERNANCE without bypass, legal hold ON) is ``AccessDenied``; DeleteObject without a version id
only adds a delete marker; the default retention (Days or Years) on PutObject.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

GOVERNANCE = "GOVERNANCE"
COMPLIANCE = "COMPLIANCE"
LOCK_MODES = (GOVERNANCE, COMPLIANCE)
LEGAL_HOLD_STATUSES = ("ON", "OFF")
BYPASS_HEADER = "x-amz-bypass-governance-retention"
NOT_FOUND = 404


# --- the rules, as pure functions ------------------------------------------------------------

def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp as S3 sends or stores it, as an aware UTC datetime."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)  # S3 timestamps without an offset are UTC
    return moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """A datetime in the two formats moto's ``FakeKey.is_locked`` can parse (UTC, ``Z``)."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def bypass_requested(value: str | bool | None) -> bool:
    """Whether an ``x-amz-bypass-governance-retention`` value asks to bypass (only ``true``)."""
    if isinstance(value, bool):
        return value
    return value is not None and value.strip().lower() == "true"


@dataclass(frozen=True)
class Retention:
    """A version's retention: mode and retain-until date, both ``None`` when there is none."""

    mode: str | None
    until: datetime | None

    def in_force(self, now: datetime) -> bool:
        """Whether the retention still protects the version at ``now``."""
        return self.mode in LOCK_MODES and self.until is not None and self.until > now


def retention_change_refusal(current: Retention, requested: Retention, bypass: bool,
                             now: datetime) -> str | None:
    """Why S3 refuses to replace ``current`` with ``requested`` (``None``: it is allowed).

    ``requested`` with no mode means removing the retention.
    """
    if not current.in_force(now):
        return None
    assert current.until is not None  # in force implies a date
    shorter = requested.until is None or requested.until < current.until
    if current.mode == COMPLIANCE:
        if requested.mode != COMPLIANCE:
            return "the mode of a COMPLIANCE retention cannot be changed or removed"
        if shorter:
            return "a COMPLIANCE retention cannot be shortened"
        return None
    if bypass:
        return None
    if requested.mode is None:
        return f"removing a GOVERNANCE retention needs {BYPASS_HEADER}: true"
    if requested.mode != GOVERNANCE:
        return f"changing the mode of a GOVERNANCE retention needs {BYPASS_HEADER}: true"
    if shorter:
        return f"shortening a GOVERNANCE retention needs {BYPASS_HEADER}: true"
    return None


def lock_headers_problem(mode: str | None, until: str | None, now: datetime) -> str | None:
    """What is wrong with PutObject's explicit lock mode and date headers (``None``: fine)."""
    if mode is None and until is None:
        return None
    if mode is None or until is None:
        return ("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be "
                "supplied")
    if mode not in LOCK_MODES:
        return "Unknown wormMode directive."
    try:
        moment = parse_timestamp(until)
    except ValueError:
        return "The retain until date must be provided in ISO 8601 format"
    if moment <= now:
        return "The retain until date must be in the future!"
    return None


def current_retention(key: Any) -> Retention:
    """The retention moto keeps on a version (``FakeKey``)."""
    mode = getattr(key, "lock_mode", None) or None
    until = getattr(key, "lock_until", None) or None
    return Retention(mode=mode, until=parse_timestamp(until) if until else None)


# --- errors ----------------------------------------------------------------------------------

def _no_lock_configuration() -> Any:
    from moto.s3.exceptions import S3ClientError

    return S3ClientError("NoSuchObjectLockConfiguration",
                         "The specified object does not have a ObjectLock configuration")


def _invalid_argument(message: str, name: str, value: str) -> Any:
    from moto.s3.exceptions import InvalidArgumentError

    return InvalidArgumentError(message, name, value)


def _error_response(response: Any, error: Any, status: int) -> Any:
    """An S3 error in the serializer's XML with the HTTP status AWS gives it."""
    from moto.core.responses import ActionResult

    _, headers, body = response.serialized(ActionResult(error))
    return status, headers, body


def _version(backend: Any, bucket_name: str, key_name: str, version_id: str | None) -> Any:
    """The addressed version, or moto's NoSuchKey / NoSuchVersion."""
    from moto.s3.exceptions import MissingKey, MissingVersion

    key = backend.get_object(bucket_name, key_name, version_id=version_id)
    if key is None and version_id is None:
        raise MissingKey(key=key_name)
    if key is None:
        raise MissingVersion(key=key_name, version_id=version_id)
    return key


# --- reads -----------------------------------------------------------------------------------

def get_object_retention(response: Any) -> Any:
    """GetObjectRetention: the version's mode and retain-until date."""
    from moto.core.responses import ActionResult
    from moto.s3.exceptions import LockNotEnabled

    if not response.backend.get_bucket(response.bucket_name).object_lock_enabled:
        raise LockNotEnabled
    key, _ = response._get_key()
    retention = current_retention(key)
    if retention.mode is None or retention.until is None:
        return _error_response(response, _no_lock_configuration(), NOT_FOUND)
    response.data["Action"] = "GetObjectRetention"
    return response.serialized(ActionResult(
        {"Retention": {"Mode": retention.mode, "RetainUntilDate": retention.until}}))


def _key_response_get(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any, query: dict[str, Any], key_name: str) -> Any:
        if "retention" in query:
            self._set_action("KEY", "GET", query)
            self._authenticate_and_authorize_s3_action(bucket_name=self.bucket_name,
                                                       key_name=key_name)
            return get_object_retention(self)
        return original(self, query, key_name)
    return call


def _get_object_legal_hold(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any) -> Any:
        from moto.s3.exceptions import LockNotEnabled

        if not self.backend.get_bucket(self.bucket_name).object_lock_enabled:
            raise LockNotEnabled
        key, not_modified = self._get_key()
        if not not_modified and not key.lock_legal_status:
            return _error_response(self, _no_lock_configuration(), NOT_FOUND)
        return original(self)
    return call


# --- retention and legal hold changes -----------------------------------------------------

def _requested_retention(body: bytes) -> Retention:
    """The Retention document of a PutObjectRetention body (empty: remove the retention)."""
    import xmltodict
    from moto.s3.exceptions import MalformedXML

    try:
        document = xmltodict.parse(body or b"<Retention/>")
    except Exception as exc:  # expat errors: not XML at all
        raise MalformedXML from exc
    retention = document.get("Retention") or {}
    if not isinstance(retention, dict):
        raise MalformedXML
    mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
    if (mode is None) != (until is None) or (mode is not None and mode not in LOCK_MODES):
        raise MalformedXML
    try:
        return Retention(mode=mode, until=parse_timestamp(until) if until else None)
    except ValueError as exc:
        raise MalformedXML from exc


def put_object_retention(response: Any) -> Any:
    """PutObjectRetention with AWS's rules for a retention in force."""
    from moto.s3.exceptions import AccessDeniedByLock, LockNotEnabled

    bucket = response.backend.get_bucket(response.bucket_name)
    if not bucket.object_lock_enabled:
        raise LockNotEnabled
    key_name = response.parse_key_name()
    key = _version(response.backend, response.bucket_name, key_name,
                   response._get_param("versionId"))
    requested = _requested_retention(response.body)
    now = datetime.now(UTC)
    refusal = retention_change_refusal(current_retention(key), requested,
                                       bypass_requested(response.headers.get(BYPASS_HEADER)), now)
    if refusal is not None:
        log.info("s3 %s/%s (version %s): PutObjectRetention refused: %s", response.bucket_name,
                 key_name, key.version_id, refusal)
        raise AccessDeniedByLock
    if requested.until is not None and requested.until <= now:
        raise _invalid_argument("The retain until date must be in the future!",
                                "RetainUntilDate", format_timestamp(requested.until))
    key.lock_mode = requested.mode
    key.lock_until = format_timestamp(requested.until) if requested.until else None
    headers = response._get_cors_headers_other()
    response._get_checksum(headers)
    return 200, headers, ""


def _put_object_retention(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any) -> Any:
        return put_object_retention(self)
    return call


def _put_object_legal_hold(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any) -> Any:
        import xmltodict
        from moto.s3.exceptions import LockNotEnabled, MalformedXML

        if not self.backend.get_bucket(self.bucket_name).object_lock_enabled:
            raise LockNotEnabled
        _version(self.backend, self.bucket_name, self.parse_key_name(),
                 self._get_param("versionId"))
        try:
            status = (xmltodict.parse(self.body).get("LegalHold") or {}).get("Status")
        except Exception as exc:  # expat errors: not XML at all
            raise MalformedXML from exc
        if status not in LEGAL_HOLD_STATUSES:
            raise MalformedXML
        return original(self)
    return call


# --- locks on new objects --------------------------------------------------------------------

def lock_for_new_object(response: Any, bucket: Any) -> tuple[str | None, str | None, str | None]:
    """(legal hold, mode, retain-until) for an object a request creates in ``bucket``.

    Explicit headers win; otherwise the bucket's default retention applies, legal hold or not.
    """
    headers = response.headers
    mode = headers.get("x-amz-object-lock-mode")
    until = headers.get("x-amz-object-lock-retain-until-date")
    legal_hold = headers.get("x-amz-object-lock-legal-hold")
    problem = lock_headers_problem(mode, until, datetime.now(UTC))
    if problem is not None:
        raise _invalid_argument(problem, "x-amz-object-lock-retain-until-date", until or "")
    if mode is not None and until is not None:
        return legal_hold, mode, format_timestamp(parse_timestamp(until))
    if bucket.object_lock_enabled and bucket.has_default_lock:
        return legal_hold, bucket.default_lock_mode, bucket.default_retention()
    return legal_hold, None, None


def _get_lock_details(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any, bucket: Any, lock_enabled: bool) -> Any:
        return lock_for_new_object(self, bucket)
    return call


_multipart = threading.local()  # .lock: the lock CreateMultipartUpload asked for, or None


def _key_response_post(original: Callable[..., Any]) -> Callable[..., Any]:
    """Remember CreateMultipartUpload's lock headers for the upload the backend creates."""
    def call(self: Any, request: Any, body: bytes, bucket_name: str, query: dict[str, Any],
             key_name: str) -> Any:
        if body == b"" and "uploads" in query:
            from moto.s3.exceptions import LockNotEnabled

            bucket = self.backend.get_bucket(bucket_name)
            explicit = any(self.headers.get(h) for h in (
                "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date")) or (
                self.headers.get("x-amz-object-lock-legal-hold") == "ON")
            if explicit and not bucket.object_lock_enabled:
                raise LockNotEnabled
            legal_hold, mode, until = lock_for_new_object(self, bucket)
            explicit_retention = self.headers.get("x-amz-object-lock-mode") is not None
            _multipart.lock = (legal_hold, mode if explicit_retention else None,
                               until if explicit_retention else None)
            try:
                return original(self, request, body, bucket_name, query, key_name)
            finally:
                _multipart.lock = None
        return original(self, request, body, bucket_name, query, key_name)
    return call


def _create_multipart_upload(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        multipart = original(self, *args, **kwargs)
        multipart.drlib_object_lock = getattr(_multipart, "lock", None)
        return multipart
    return call


def _complete_multipart_upload(original: Callable[..., Any]) -> Callable[..., Any]:
    """Lock the completed object as asked at creation, else by the bucket's default retention."""
    def call(self: Any, bucket_name: str, multipart_id: str, *args: Any, **kwargs: Any) -> Any:
        bucket = self.get_bucket(bucket_name)
        multipart = bucket.multiparts.get(multipart_id)
        key = original(self, bucket_name, multipart_id, *args, **kwargs)
        if key is None or multipart is None or not bucket.object_lock_enabled:
            return key
        legal_hold, mode, until = getattr(multipart, "drlib_object_lock", None) or (
            None, None, None)
        if mode is None and bucket.has_default_lock:
            mode, until = bucket.default_lock_mode, bucket.default_retention()
        key.lock_mode, key.lock_until = mode, until
        if legal_hold:
            key.lock_legal_status = legal_hold
        return key
    return call


# --- deletes ---------------------------------------------------------------------------------

def _delete_object(original: Callable[..., Any]) -> Callable[..., Any]:
    """Bypass GOVERNANCE only on ``true`` (moto bypasses on any header value)."""
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "bypass" in kwargs:
            kwargs["bypass"] = bypass_requested(kwargs["bypass"])
        elif len(args) >= 4:
            args = (*args[:3], bypass_requested(args[3]), *args[4:])
        return original(self, *args, **kwargs)
    return call


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def delete_objects(response: Any, bucket_name: str) -> Any:
    """DeleteObjects: each key deleted on its own; errors name the key and the version."""
    import xmltodict
    from moto.core.responses import ActionResult
    from moto.iam.access_control import PermissionResult
    from moto.s3.exceptions import AccessDeniedByLock, MalformedXML

    document = xmltodict.parse(response.body, strip_whitespace=False)["Delete"]
    objects = _as_list(document.get("Object"))
    if not objects:
        raise MalformedXML
    quiet = str(document.get("Quiet", "false")).strip().lower() == "true"
    bypass = bypass_requested(response.headers.get(BYPASS_HEADER))
    bucket = response.backend.get_bucket(bucket_name)
    deleted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for obj in objects:
        key_name, version_id = obj["Key"], obj.get("VersionId")
        error = {"Key": key_name, "VersionId": version_id, "Code": "AccessDenied"}
        resource = f"arn:{bucket.partition}:s3:::{bucket_name}/{key_name}"
        if bucket.get_permission("s3:DeleteObject", resource) == PermissionResult.DENIED:
            errors.append({**error, "Message": "Access Denied"})
            continue
        try:
            _, meta = response.backend.delete_object(bucket_name, key_name,
                                                     version_id=version_id, bypass=bypass)
        except AccessDeniedByLock:
            errors.append({**error,
                           "Message": "Access Denied because object protected by object lock."})
            continue
        marker = meta.get("version-id") if version_id is None else None
        deleted.append({"Key": key_name, "VersionId": version_id,
                        "DeleteMarkerVersionId": marker,
                        "DeleteMarker": True if marker else None})
    response.data["Action"] = "DeleteObjects"
    return response.serialized(ActionResult(
        {"Deleted": [] if quiet else deleted, "Errors": errors}))


def _bucket_response_delete_keys(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any, bucket_name: str, authenticated: bool = True) -> Any:
        if not authenticated:
            return original(self, bucket_name, authenticated)  # every key AccessDenied
        return delete_objects(self, bucket_name)
    return call


# --- installation ----------------------------------------------------------------------------

_installed = False


def _wrap(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(owner, name)
    setattr(owner, name, make(original))


def install() -> None:
    """Patch moto's S3 responses and backend with AWS's Object Lock rules (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    _wrap(S3Response, "_key_response_get", _key_response_get)
    _wrap(S3Response, "get_object_legal_hold", _get_object_legal_hold)
    _wrap(S3Response, "put_object_retention", _put_object_retention)
    _wrap(S3Response, "put_object_legal_hold", _put_object_legal_hold)
    _wrap(S3Response, "_get_lock_details", _get_lock_details)
    _wrap(S3Response, "_key_response_post", _key_response_post)
    _wrap(S3Response, "_bucket_response_delete_keys", _bucket_response_delete_keys)
    _wrap(S3Backend, "create_multipart_upload", _create_multipart_upload)
    _wrap(S3Backend, "complete_multipart_upload", _complete_multipart_upload)
    _wrap(S3Backend, "delete_object", _delete_object)
    _installed = True
