"""A region whose data plane is down refuses clients, as in a regional outage.

While ``faults.region_down(region)``:

- DynamoDB item operations on tables of that region (the region of the request's SigV4 credential
  scope, which is how DynamoDB endpoints are regional) answer HTTP 503 with DynamoDB's JSON error
  ``ServiceUnavailable``: GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, BatchGetItem,
  BatchWriteItem, TransactGetItems, TransactWriteItems, ExecuteStatement, BatchExecuteStatement,
  ExecuteTransaction.
- S3 object operations on buckets located in that region (the bucket's own region, whatever
  endpoint the client signed for) answer HTTP 503 with S3's XML error ``ServiceUnavailable``:
  every request on an object (Get/Put/Head/Delete/Copy object, tagging, ACLs, multipart parts),
  listing a bucket's objects, versions or multipart uploads, and DeleteObjects.

Control-plane APIs keep answering (DescribeTable, ListTables, DescribeGlobalTable,
GetBucketReplication, GetBucketVersioning, HeadBucket, ListBuckets, ...), so a drill can observe the
outage and reconfigure the surviving region. On AWS a regional event can take the control plane too;
here we keep it so the drill's observations stay possible, and say so in the evidence.

The emulator's own replication workers do not go through this guard; they consult
``faults.region_down`` themselves.
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
    return (f"Service unavailable: the data plane of region {region} is down "
            "(drlib emulator fault region-down)")


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
        query = self._get_querystring(request, full_url)
        if s3_bucket_request_is_data_plane(request.method, query):
            region = _bucket_region(self, self.parse_bucket_name_from_url(request, full_url))
            if region is not None and faults.region_down(region):
                return s3_refusal(region)
        return original(self, request, full_url)

    return _bucket_response


_installed = False


def install() -> None:
    """Guard moto's DynamoDB and S3 data-plane dispatch with the region-down fault."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response

    DynamoHandler.call_action = _guard_dynamodb(DynamoHandler.call_action)  # type: ignore[method-assign]
    S3Response._key_response = _guard_s3_key(S3Response._key_response)  # type: ignore[method-assign]
    S3Response._bucket_response = _guard_s3_bucket(  # type: ignore[method-assign]
        S3Response._bucket_response)
    _installed = True
