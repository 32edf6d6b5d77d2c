"""Cost Explorer on the emulator: costs derived from what is deployed, marked as emulated.

moto's ``get_cost_and_usage`` answers nothing unless results are seeded. Here it answers from
the resources in the emulator's backends (RDS instances, EC2 instances, NAT gateways, public IPv4
addresses, load balancers, S3 bytes stored, Route 53 zones and health checks, KMS keys, secrets,
CloudWatch alarms), priced with drlib's price table: each resource accrues its hourly rate
(monthly fees / 730) from its creation time, prorated for partial days. Request- and
transfer-based charges are not derived (nothing meters them); DynamoDB on-demand tables therefore
cost nothing here.

Every answer says it is emulated: each resource carries the tag ``drlib:emulated=true`` (group by
that tag to see it), every period is ``Estimated``, and ``DimensionValueAttributes`` holds an entry
``drlib:emulated`` whose ``source`` attribute reads "emulator (derived from deployed resources and
price table dated ...)". Results seeded through moto's own API still take precedence.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from drlib.cost.prices import HOURS_PER_MONTH, PriceTable, load_price_table
from drlib.emulator import control

log = logging.getLogger(__name__)

EMULATED_TAG = "drlib:emulated"
COST_METRICS = ("UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost",
                "NetAmortizedCost")
USAGE_METRICS = ("UsageQuantity", "NormalizedUsageAmount")
_METRIC_SPELLINGS = {m.lower(): m for m in (*COST_METRICS, *USAGE_METRICS)}
PRICE_REGION_FOR_GLOBAL = "us-east-1"  # Route 53 is global; AWS prices it as us-east-1

_installed = False
_first_seen: dict[str, dt.datetime] = {}
_lock = threading.Lock()
_table: PriceTable | None = None


def _now() -> dt.datetime:
    """The emulator's clock (a seam for tests)."""
    return dt.datetime.now(dt.UTC)


def price_table() -> PriceTable:
    """The price table the emulator prices resources with."""
    global _table
    if _table is None:
        _table = load_price_table()
    return _table


def source_label() -> str:
    """How results say where they come from."""
    return ("emulator (derived from deployed resources and price table dated "
            f"{price_table().date})")


@dataclass(frozen=True)
class Accrual:
    """One resource's running charge: USD per hour from ``since``."""

    service: str
    region: str  # "global" for Route 53, as Cost Explorer reports it
    resource_id: str
    usage: str
    usd_per_hour: float
    since: dt.datetime
    tags: Mapping[str, str]


# --- reading the backends ----------------------------------------------------------------------


def _aware(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    if isinstance(value, str):
        try:
            return _aware(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _created(obj: Any, key: str, *names: str) -> dt.datetime:
    """The resource's creation time, or when this extension first saw it (moto keeps none)."""
    for name in names:
        when = _aware(getattr(obj, name, None))
        if when is not None:
            return when
    with _lock:
        return _first_seen.setdefault(key, _now())


def _tag_dict(obj: Any, backend: Any, arn: str | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    raw = getattr(obj, "tags", None)
    if isinstance(raw, dict):
        tags.update({str(k): str(v) for k, v in raw.items()})
    elif isinstance(raw, list):
        tags.update({str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value", "")))
                     for t in raw if isinstance(t, dict)})
    for attr in ("tagger", "tagging_service"):
        service = getattr(backend, attr, None)
        if service is not None and arn:
            with contextlib.suppress(KeyError, AttributeError):
                tags.update(service.get_tag_dict_for_resource(arn))
    return {**tags, EMULATED_TAG: "true"}


def _regional(backends: Any, account_id: str) -> Iterator[tuple[str, Any]]:
    try:
        per_account = backends[account_id]
    except KeyError:
        return iter(())
    return iter(list(per_account.items()))


def _rate(item: str, region: str, variant: str | None = None, *, monthly: bool = False
          ) -> float | None:
    table = price_table()
    if not table.has(item, variant):
        log.info("cost explorer: no price for %s %s; the resource is not charged", item,
                 variant or "")
        return None
    price = table.price(item, region if region != "global" else PRICE_REGION_FOR_GLOBAL,
                        variant)
    return price / HOURS_PER_MONTH if monthly else price


def _accruals_rds(account_id: str) -> Iterator[Accrual]:
    from moto.rds.models import rds_backends

    for region, backend in _regional(rds_backends, account_id):
        for db in list(backend.databases.values()):
            cls = str(getattr(db, "db_instance_class", ""))
            rate = _rate("aurora.instance", region, cls)
            if rate is not None:
                yield Accrual("Amazon Relational Database Service", region,
                              db.db_instance_identifier, f"InstanceUsage:{cls}", rate,
                              _created(db, f"rds:{db.arn}", "created"),
                              _tag_dict(db, backend, None))


def _accruals_ec2(account_id: str) -> Iterator[Accrual]:
    from moto.ec2.models import ec2_backends

    for region, backend in _regional(ec2_backends, account_id):
        for reservation in list(backend.reservations.values()):
            for inst in reservation.instances:
                if inst.state != "running":
                    continue
                rate = _rate("ec2.instance", region, inst.instance_type)
                if rate is not None:
                    yield Accrual("Amazon Elastic Compute Cloud - Compute", region, inst.id,
                                  f"BoxUsage:{inst.instance_type}", rate,
                                  _created(inst, f"ec2:{inst.id}", "launch_time"),
                                  {**backend.tags.get(inst.id, {}), EMULATED_TAG: "true"})
        for address in list(backend.addresses):
            rate = _rate("vpc.public_ipv4", region)
            if rate is not None:  # AWS charges every public IPv4 address, in use or idle
                key = f"eip:{address.allocation_id}"
                yield Accrual("Amazon Virtual Private Cloud", region, address.allocation_id,
                              "PublicIPv4:InUseAddress", rate, _created(address, key),
                              {**backend.tags.get(address.allocation_id, {}),
                               EMULATED_TAG: "true"})
        for nat in list(backend.nat_gateways.values()):
            rate = _rate("nat.hour", region)
            if rate is not None and getattr(nat, "state", "available") != "deleted":
                yield Accrual("EC2 - Other", region, nat.id, "NatGateway-Hours", rate,
                              _created(nat, f"nat:{nat.id}", "_created_at"),
                              {**backend.tags.get(nat.id, {}), EMULATED_TAG: "true"})


def _accruals_elbv2(account_id: str) -> Iterator[Accrual]:
    from moto.elbv2.models import elbv2_backends

    for region, backend in _regional(elbv2_backends, account_id):
        for lb in list(backend.load_balancers.values()):
            rate = _rate("alb.hour", region)
            if rate is not None:
                yield Accrual("Amazon Elastic Load Balancing", region, lb.arn,
                              "LoadBalancerUsage", rate,
                              _created(lb, f"elb:{lb.arn}", "created_time"),
                              _tag_dict(lb, backend, lb.arn))


def _accruals_s3(account_id: str) -> Iterator[Accrual]:
    from moto.s3.models import s3_backends

    try:
        backend = s3_backends[account_id]["aws"]
    except KeyError:
        return
    for bucket in list(backend.buckets.values()):
        size = sum(getattr(k, "size", 0) or 0 for k in list(bucket.keys.values()))
        rate = _rate("s3.storage", bucket.region_name, monthly=True)
        if rate is not None and size:
            # the bucket's current bytes, charged as if held since the bucket was created
            yield Accrual("Amazon Simple Storage Service", bucket.region_name, bucket.name,
                          "TimedStorage-ByteHrs", rate * size / 1024**3,
                          _created(bucket, f"s3:{bucket.name}", "creation_date"),
                          _tag_dict(bucket, backend, bucket.arn))


def _health_check_items(check: Any) -> tuple[str, int]:
    kind = str(check.type_ or "")
    if kind in ("CALCULATED", "CLOUDWATCH_METRIC"):
        return "route53.health_check_aws", 0
    features = int(kind.startswith("HTTPS")) + int(kind.endswith("STR_MATCH"))
    features += int(str(check.request_interval) == "10") + int(bool(check.measure_latency))
    return "route53.health_check_aws", features


def _accruals_route53(account_id: str) -> Iterator[Accrual]:
    from moto.route53.models import route53_backends

    try:
        backend = route53_backends[account_id]["aws"]
    except KeyError:
        return
    for zone in list(backend.zones.values()):
        rate = _rate("route53.hosted_zone", "global", monthly=True)
        if rate is not None:
            yield Accrual("Amazon Route 53", "global", zone.id, "HostedZone", rate,
                          _created(zone, f"zone:{zone.id}"), {EMULATED_TAG: "true"})
    for check in list(backend.health_checks.values()):
        item, features = _health_check_items(check)
        base = _rate(item, "global", monthly=True) or 0.0
        extra = (_rate("route53.health_check_feature_aws", "global", monthly=True) or 0.0)
        yield Accrual("Amazon Route 53", "global", check.id, "Health-Check-AWS",
                      base + features * extra, _created(check, f"hc:{check.id}"),
                      {EMULATED_TAG: "true"})


def _accruals_monthly_fees(account_id: str) -> Iterator[Accrual]:
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.kms.models import kms_backends
    from moto.secretsmanager.models import secretsmanager_backends

    for region, backend in _regional(kms_backends, account_id):
        for key in list(backend.keys.values()):
            if key.key_manager != "CUSTOMER" or key.key_state == "PendingDeletion":
                continue
            rate = _rate("kms.key", region, monthly=True)
            if rate is not None:
                yield Accrual("AWS Key Management Service", region, key.id, "KMS-Keys", rate,
                              _created(key, f"kms:{key.id}", "creation_date"),
                              _tag_dict(key, backend, key.arn))
    for region, backend in _regional(secretsmanager_backends, account_id):
        for secret in list(backend.secrets.values()):
            rate = _rate("secretsmanager.secret", region, monthly=True)
            if rate is not None and not getattr(secret, "deleted_date", None):
                yield Accrual("AWS Secrets Manager", region, secret.arn,
                              "AWSSecretsManager-Secrets", rate,
                              _created(secret, f"secret:{secret.arn}", "created_date"),
                              _tag_dict(secret, backend, secret.arn))
    for region, backend in _regional(cloudwatch_backends, account_id):
        for alarm in list(backend.alarms.values()):
            rate = _rate("cloudwatch.alarm", region, monthly=True)
            if rate is not None:
                yield Accrual("AmazonCloudWatch", region, alarm.alarm_arn, "CW:AlarmMonitorUsage",
                              rate, _created(alarm, f"alarm:{alarm.alarm_arn}"),
                              _tag_dict(alarm, backend, alarm.alarm_arn))


def accruals(account_id: str) -> list[Accrual]:
    """Every charged resource of ``account_id`` in the emulator, with its hourly rate."""
    out: list[Accrual] = []
    for reader in (_accruals_rds, _accruals_ec2, _accruals_elbv2, _accruals_s3,
                   _accruals_route53, _accruals_monthly_fees):
        out.extend(reader(account_id))
    return out


# --- answering get_cost_and_usage --------------------------------------------------------------


def _validation(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("ValidationException", message)


def _periods(start: dt.date, end: dt.date, granularity: str) -> list[tuple[dt.date, dt.date]]:
    out = []
    day = start
    while day < end:
        if granularity == "DAILY":
            nxt = day + dt.timedelta(days=1)
        else:
            nxt = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        out.append((day, min(nxt, end)))
        day = min(nxt, end)
    return out


def _hours(accrual: Accrual, start: dt.date, end: dt.date, now: dt.datetime) -> float:
    lo = max(dt.datetime.combine(start, dt.time(), dt.UTC), accrual.since)
    hi = min(dt.datetime.combine(end, dt.time(), dt.UTC), now)
    return max(0.0, (hi - lo).total_seconds() / 3600)


def _matches(accrual: Accrual, expression: Mapping[str, Any] | None) -> bool:
    if not expression:
        return True
    if "And" in expression:
        return all(_matches(accrual, e) for e in expression["And"])
    if "Or" in expression:
        return any(_matches(accrual, e) for e in expression["Or"])
    if "Not" in expression:
        return not _matches(accrual, expression["Not"])
    if "Dimensions" in expression:
        dim = expression["Dimensions"]
        value = _dimension(accrual, dim.get("Key", ""))
        return value in dim.get("Values", [])
    if "Tags" in expression:
        tag = expression["Tags"]
        tag_value = accrual.tags.get(tag.get("Key", ""))
        values = tag.get("Values") or []
        if not values:
            return tag_value is not None
        return (tag_value or "") in values
    raise _validation(f"Unsupported filter expression in the emulator: {sorted(expression)}")


def _dimension(accrual: Accrual, key: str) -> str:
    dims = {"SERVICE": accrual.service, "REGION": accrual.region, "USAGE_TYPE": accrual.usage,
            "RESOURCE_ID": accrual.resource_id}
    if key not in dims:
        raise _validation(f"The emulator groups and filters by {', '.join(dims)} or TAG; "
                          f"got {key}")
    return dims[key]


def _group_key(accrual: Accrual, group: Mapping[str, str]) -> str:
    if group.get("Type") == "TAG":
        return f"{group['Key']}${accrual.tags.get(group['Key'], '')}"
    if group.get("Type") == "DIMENSION":
        return _dimension(accrual, group.get("Key", ""))
    raise _validation(f"GroupBy type {group.get('Type')} is not supported by the emulator")


def _metrics(metrics: list[str], usd: float, hours: float) -> dict[str, dict[str, str]]:
    out = {}
    for name in metrics:
        # AWS takes the documented CamelCase and its own UPPER_SNAKE spelling (the one its
        # ValidationException lists) alike; the answer is keyed by the name asked for.
        canonical = _METRIC_SPELLINGS.get(name.replace("_", "").lower())
        if canonical in COST_METRICS:
            out[name] = {"Amount": f"{usd:.10f}", "Unit": "USD"}
        elif canonical in USAGE_METRICS:
            out[name] = {"Amount": f"{hours:.10f}", "Unit": "N/A"}
        else:
            raise _validation(f"Unknown metric {name}")
    return out


def cost_and_usage(request: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """The get_cost_and_usage answer for ``request``, in botocore's response shape."""
    period = request.get("TimePeriod") or {}
    try:
        start = dt.date.fromisoformat(period["Start"])
        end = dt.date.fromisoformat(period["End"])
    except (KeyError, ValueError) as exc:
        raise _validation(f"TimePeriod needs Start and End as YYYY-MM-DD: {exc}") from exc
    if end <= start:
        raise _validation("Start date must be before End date")
    granularity = request.get("Granularity", "MONTHLY")
    if granularity not in ("DAILY", "MONTHLY"):
        raise _validation(f"The emulator answers DAILY or MONTHLY granularity, not {granularity}")
    metrics = list(request.get("Metrics") or [])
    if not metrics:
        raise _validation("Metrics is required")
    groups = list(request.get("GroupBy") or [])
    if len(groups) > 2:
        raise _validation("GroupBy accepts at most two groups")
    for group in groups:  # validate even when nothing is deployed
        _group_key(Accrual("", "", "", "", 0.0, dt.datetime.now(dt.UTC), {}), group)
    now = _now()
    charged = [a for a in accruals(account_id) if _matches(a, request.get("Filter"))]
    results = []
    for lo, hi in _periods(start, end, granularity):
        sums: dict[tuple[str, ...], list[float]] = {}
        for accrual in charged:
            hours = _hours(accrual, lo, hi, now)
            if hours <= 0:
                continue
            key = tuple(_group_key(accrual, g) for g in groups)
            total = sums.setdefault(key, [0.0, 0.0])
            total[0] += hours * accrual.usd_per_hour
            total[1] += hours
        entry: dict[str, Any] = {"TimePeriod": {"Start": lo.isoformat(), "End": hi.isoformat()},
                                 "Estimated": True}
        if groups:
            entry["Total"] = {}
            entry["Groups"] = [{"Keys": list(k), "Metrics": _metrics(metrics, usd, hours)}
                               for k, (usd, hours) in sorted(sums.items())]
        else:
            usd, hours = sums.get((), [0.0, 0.0])
            entry["Total"] = _metrics(metrics, usd, hours)
            entry["Groups"] = []
        results.append(entry)
    answer: dict[str, Any] = {
        "ResultsByTime": results,
        "DimensionValueAttributes": [{"Value": EMULATED_TAG, "Attributes": {
            EMULATED_TAG: "true", "source": source_label(),
            "price_table_date": price_table().date,
            "method": "hourly rate of each deployed resource since its creation, prorated"}}],
    }
    if groups:
        answer["GroupDefinitions"] = [{"Type": g["Type"], "Key": g["Key"]} for g in groups]
    return answer


def _record_creation(cls: Any, method: str, key: Callable[[Any], str]) -> None:
    """Wrap a moto create method so the created resource's time is known (moto keeps none)."""
    original = getattr(cls, method)

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        created = original(self, *args, **kwargs)
        with _lock:
            _first_seen.setdefault(key(created), _now())
        return created

    setattr(cls, method, create)


def install() -> None:
    """Answer get_cost_and_usage from the deployed resources unless results were seeded."""
    global _installed
    if _installed:
        return
    from moto.ce.models import CostExplorerBackend

    seeded = CostExplorerBackend.get_cost_and_usage

    def get_cost_and_usage(self: CostExplorerBackend, body: str) -> dict[str, Any]:
        if body in self.cost_usage_results or self.cost_usage_results_queue:
            return seeded(self, body)
        return cost_and_usage(json.loads(body or "{}"), self.account_id)

    CostExplorerBackend.get_cost_and_usage = get_cost_and_usage  # type: ignore[method-assign]
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend
    from moto.route53.models import Route53Backend

    _record_creation(Route53Backend, "create_hosted_zone", lambda z: f"zone:{z.id}")
    _record_creation(Route53Backend, "create_health_check", lambda c: f"hc:{c.id}")
    _record_creation(CloudWatchBackend, "put_metric_alarm", lambda a: f"alarm:{a.alarm_arn}")
    _record_creation(ElasticAddressBackend, "allocate_address",
                     lambda a: f"eip:{a.allocation_id}")
    control.on_reset(_first_seen.clear)
    _installed = True
