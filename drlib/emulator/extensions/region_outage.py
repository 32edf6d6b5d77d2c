"""A downed region refuses clients on every regional API, as in a regional outage.

While ``faults.region_down(region)`` every request to a *regional* service whose region (the
region of the request's SigV4 credential scope, which is how AWS endpoints are regional) is that
region answers **HTTP 503 ``ServiceUnavailable``** in the service's own error format (XML for
query/REST-XML services, JSON with ``__type`` for JSON services), as AWS endpoints answer when the
service behind them is unavailable; SDKs retry it and then raise it (botocore ``ClientError`` with
status 503). We answer 503 rather than dropping connections so that a client's retry budget, not
a TCP timeout, decides how long it waits; both are what AWS clients see in a regional event.

- Every action of every moto service dispatched through ``BaseResponse.call_action`` (RDS,
  Secrets Manager, SSM, STS, CloudWatch, CloudWatch Logs, CloudFormation, DynamoDB, SNS, KMS, EC2,
  ELBv2, Backup, ...), control plane included.
- DynamoDB item operations (also guarded on their own, below): GetItem, PutItem, UpdateItem,
  DeleteItem, Query, Scan, BatchGetItem, BatchWriteItem, TransactGetItems, TransactWriteItems,
  ExecuteStatement, BatchExecuteStatement, ExecuteTransaction.
- S3 requests on buckets located in that region (the bucket's own region, whatever endpoint the
  client signed for): every object request, and every request on the bucket itself (listing,
  DeleteObjects, its configuration). ListBuckets, which is not about one bucket, answers.
- Lambda: Invoke answers 503 ``ServiceException`` (see :mod:`lambda_python`); its other actions
  are guarded here.

Global services keep answering whatever region the client names: IAM, Route 53 (and its DNS),
CloudFront, Organizations, Cost Explorer (:data:`GLOBAL_SERVICES`). The emulator's own control
routes (``/_drlib/...``, ``/moto-api/...``) are not AWS APIs and answer too, so a drill can
observe and end the outage. The emulator's replication workers and CloudFormation's in-process
resource handlers do not go through this guard; they consult ``faults.region_down`` themselves.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from drlib.emulator import faults

log = logging.getLogger(__name__)

DYNAMODB_DATA_PLANE = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
    "BatchWriteItem", "TransactGetItems", "TransactWriteItems", "ExecuteStatement",
    "BatchExecuteStatement", "ExecuteTransaction",
})

S3_BUCKET_LISTING_PARAMETERS = frozenset({
    "list-type", "prefix", "delimiter", "marker", "max-keys", "continuation-token", "start-after",
    "encoding-type", "fetch-owner", "versions", "key-marker", "version-id-marker", "uploads",
    "upload-id-marker", "max-uploads", "x-id",
})
"""Query parameters of the bucket GETs that read objects (ListObjects[V2], versions, uploads)."""


def outage_message(region: str) -> str:
    """What a refused client is told."""
    return (f"Service unavailable: region {region} is down "
            "(drlib emulator fault region-down)")


GLOBAL_SERVICES = frozenset({
    "iam", "route53", "route53domains", "cloudfront", "organizations", "ce", "budgets",
    "globalaccelerator", "route53-recovery-control-config", "route53-recovery-readiness",
})
"""moto service names (``BaseResponse.service_name``/``boto3_service_name``) that are global."""


def regional_refusal(response: Any) -> tuple[int, dict[str, str], Any] | None:
    """The 503 a request to a downed region gets, in its service's error format; None when the
    request goes through (its region is up, or the service is global)."""
    service = str(getattr(response, "boto3_service_name", "") or "")
    region = str(getattr(response, "region", "") or "")
    if not region or service in GLOBAL_SERVICES or not faults.region_down(region):
        return None
    log.info("refused %s %s in %s: region down", service, response._get_action(), region)
    message = outage_message(region)
    content_type = str(response.headers.get("Content-Type", "") or "")
    if "cbor" in content_type:  # CloudWatch's default protocol: moto's own serializer
        from moto.core.exceptions import ServiceException
        from moto.core.responses import ActionResult

        _status, headers, raw = response.serialized(
            ActionResult(ServiceException("ServiceUnavailable", message)))
        return 503, {**headers, "status": "503"}, raw
    if "json" in content_type or _protocol(service) in ("json", "rest-json"):
        # JSON protocols (Secrets Manager, SSM, CloudWatch's JSON, Logs, KMS, Lambda): botocore
        # reads the code from __type (or x-amzn-ErrorType).
        body = json.dumps({"__type": "ServiceUnavailable", "message": message,
                           "Message": message})
        return 503, {"Content-Type": "application/x-amz-json-1.1", "status": "503",
                     "x-amzn-ErrorType": "ServiceUnavailable"}, body
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Receiver</Type>'
            f"<Code>ServiceUnavailable</Code><Message>{escape(message)}</Message></Error>"
            "<RequestId>drlib-region-down</RequestId></ErrorResponse>")
    return 503, {"Content-Type": "text/xml", "status": "503"}, body


def _protocol(service: str) -> str:
    """The service's botocore protocol ('' when botocore does not know it)."""
    from moto.core.responses import get_service_model

    try:
        return str(get_service_model(service).protocol)
    except Exception:
        return ""


def _guard_regional(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def call_action(self: Any) -> Any:
        refusal = regional_refusal(self)
        if refusal is not None:
            return refusal
        return original(self)

    return call_action


def s3_bucket_request_is_data_plane(method: str, query: dict[str, Any]) -> bool:
    """Whether a request on a bucket (not an object) reads or deletes its objects."""
    keys = set(query)
    if method == "GET":
        return keys <= S3_BUCKET_LISTING_PARAMETERS
    return method == "POST" and "delete" in keys


def dynamodb_refusal(region: str) -> tuple[int, dict[str, str], str]:
    """DynamoDB's JSON error for a temporary service failure."""
    body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ServiceUnavailable",
                       "message": outage_message(region)})
    return 503, {"Content-Type": "application/x-amz-json-1.0", "status": "503"}, body


def _guard_dynamodb(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def call_action(self: Any) -> Any:
        if self._get_action() in DYNAMODB_DATA_PLANE and faults.region_down(self.region):
            log.info("refused DynamoDB %s in %s: region down", self._get_action(), self.region)
            return dynamodb_refusal(self.region)
        return original(self)

    return call_action


def s3_refusal(region: str) -> tuple[int, dict[str, str], str]:
    """S3's XML error for a temporary service failure."""
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
            f"<Message>{escape(outage_message(region))}</Message></Error>")
    return 503, {"Content-Type": "application/xml"}, body


def _bucket_region(response: Any, bucket_name: str) -> str | None:
    from moto.s3.exceptions import S3ClientError

    if not bucket_name:
        return None
    try:
        return str(response.backend.get_bucket(bucket_name).region_name)
    except S3ClientError:
        return None  # let moto answer NoSuchBucket


def _guard_s3_key(original: Callable[..., Any]) -> Callable[..., Any]:
    def _key_response(self: Any, request: Any, full_url: str) -> Any:
        region = _bucket_region(self, self.parse_bucket_name_from_url(request, full_url))
        if region is not None and faults.region_down(region):
            return s3_refusal(region)
        return original(self, request, full_url)

    return _key_response


def _guard_s3_bucket(original: Callable[..., Any]) -> Callable[..., Any]:
    def _bucket_response(self: Any, request: Any, full_url: str) -> Any:
        # Every request on a bucket of the downed region, its configuration included.
        region = _bucket_region(self, self.parse_bucket_name_from_url(request, full_url))
        if region is not None and faults.region_down(region):
            return s3_refusal(region)
        return original(self, request, full_url)

    return _bucket_response


_installed = False


def install() -> None:
    """Guard moto's dispatch of every regional service with the region-down fault."""
    global _installed
    if _installed:
        return
    from moto.core.responses import BaseResponse

    BaseResponse.call_action = _guard_regional(BaseResponse.call_action)  # type: ignore[method-assign]
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response

    DynamoHandler.call_action = _guard_dynamodb(DynamoHandler.call_action)  # type: ignore[method-assign]
    S3Response._key_response = _guard_s3_key(S3Response._key_response)  # type: ignore[method-assign]
    S3Response._bucket_response = _guard_s3_bucket(  # type: ignore[method-assign]
        S3Response._bucket_response)
    _installed = True
