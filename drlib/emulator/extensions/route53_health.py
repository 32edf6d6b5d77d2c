"""Route 53 health checks that follow their configuration and the injected faults, with AWS timing.

moto 5.2.5 answers every ``GetHealthCheckStatus`` with "Success". Here a health check is healthy or
unhealthy by these rules, evaluated at the moment of the request:

1. ``Disabled``: always healthy (AWS stops checking and considers a disabled check healthy).
2. ``CALCULATED``: healthy when at least ``HealthThreshold`` of its ``ChildHealthChecks`` are
   healthy (evaluated by these rules), then ``Inverted`` flips it. ``GetHealthCheckStatus`` refuses
   calculated checks with ``InvalidInput``, as AWS does; their health still drives DNS answers.
3. Endpoint checks: the checkers see a failure while the endpoint's region has its data plane down
   (``faults.region_down``); ``Inverted`` flips what they see; an injected failure
   (``faults.health_check_failed``) makes the check fail whatever the inversion.
4. Timing: Route 53 changes a check's status only after ``FailureThreshold`` consecutive checks at
   ``RequestInterval`` seconds disagree with it, in both directions (failing and recovering). The
   emulator replays the fault log and the check's configuration history, and changes the status
   once the disagreement has lasted ``RequestInterval x FailureThreshold x time scale`` seconds.
   The time scale (default 1.0, i.e. AWS's real timing: 30 s x 3 = 90 s for a default check) is
   set with :func:`set_health_check_time_scale`, ``POST /_drlib/route53/health-check-time-scale
   {"scale": 0.05}``, ``drlib emulator fault health-check-time-scale 0.05``, or for a whole
   emulator process the environment variable ``DRLIB_HEALTH_CHECK_TIME_SCALE`` (read at start and
   at every reset, which restores it).

The region of an endpoint (:func:`endpoint_region`), first rule that gives one:

1. the region of the emulator's ELBv2 or classic load balancer whose DNS name equals the check's
   ``FullyQualifiedDomainName`` (case, a ``dualstack.`` prefix and a trailing dot ignored);
2. the name is a record of one of the emulator's hosted zones: the region of what the record points
   at (alias target, ``CNAME`` or ``A`` values), by these same rules, up to 5 hops;
3. a region name that appears as a label, or dash-separated part of a label, of the host name
   (``app.us-west-2.example.com``, ``x.eu-west-1.elb.amazonaws.com``, ``db-us-east-1.example.com``);
4. the region of an EC2 instance whose public or private IP equals ``IPAddress`` (or a value the
   name resolves to in rule 2);
5. none: region faults do not affect the check (injected failures still do).

Each observation (one per checker region: the check's ``Regions`` or AWS's default eight) reports
the status as ``Success: ...``/``Failure: ...`` followed by the emulator's figures in brackets.

"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drlib.emulator import control, faults

log = logging.getLogger(__name__)

DEFAULT_CHECKER_REGIONS = ("us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1",
                           "ap-southeast-2", "ap-northeast-1", "sa-east-1")
"""Where Route 53 checks from when a health check names no ``Regions`` (AWS's default)."""

CHECKER_IP = "127.0.0.1"
"""The emulated checkers run inside the emulator, on loopback."""

TIME_SCALE_ROUTE = "/_drlib/route53/health-check-time-scale"
TIME_SCALE_VARIABLE = "DRLIB_HEALTH_CHECK_TIME_SCALE"

_REGION_LABEL = re.compile(
    r"(?:^|[.-])((?:af|ap|ca|cn|eu|il|me|mx|sa|us|us-gov)-"
    r"(?:central|north|south|east|west|northeast|northwest|southeast|southwest)-\d+)(?=$|[.-])")


@dataclass
class _State:
    time_scale: float = 1.0
    history: dict[str, list[ConfigChange]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class ConfigChange:
    """A health check's settings that affect its status, from time ``at`` (epoch seconds) on."""

    at: float
    inverted: bool
    disabled: bool


@dataclass(frozen=True)
class Segment:
    """From ``start`` (epoch seconds) until the next segment: what the checkers conclude."""

    start: float
    failing: bool
    disabled: bool = False


@dataclass(frozen=True)
class Verdict:
    """The status Route 53 declares, since when, and what the checkers see right now."""

    healthy: bool
    since: float
    failing_now: bool
    failing_since: float


@dataclass(frozen=True)
class Evaluation:
    """A health check's status at one moment, with the reason, for status reports and DNS."""

    healthy: bool
    reason: str
    region: str | None = None
    verdict: Verdict | None = None


_state = _State()


# --- time scale ------------------------------------------------------------------------------

def set_health_check_time_scale(scale: float) -> float:
    """Multiply every health check's ``RequestInterval x FailureThreshold`` by ``scale``."""
    if not isinstance(scale, int | float) or isinstance(scale, bool) or not 0 <= scale <= 10:
        raise ValueError(
            f"the health-check time scale must be a number from 0 to 10, got {scale!r}")
    with _state.lock:
        _state.time_scale = float(scale)
    log.info("Route 53 health-check time scale set to %s", scale)
    return float(scale)


def default_time_scale() -> float:
    """The scale a start or a reset sets: ``DRLIB_HEALTH_CHECK_TIME_SCALE``, else 1.0."""
    raw = os.environ.get(TIME_SCALE_VARIABLE, "").strip()
    if not raw:
        return 1.0
    try:
        scale = float(raw)
    except ValueError:
        scale = -1.0
    if not 0 <= scale <= 10:
        raise ValueError(f"{TIME_SCALE_VARIABLE} must be a number from 0 to 10, got {raw!r}")
    return scale


def health_check_time_scale() -> float:
    """The current time scale (1.0 is AWS's real timing)."""
    with _state.lock:
        return _state.time_scale


def decision_window(request_interval: float, failure_threshold: int, scale: float) -> float:
    """Seconds a disagreement must last before Route 53 changes a check's status."""
    return float(request_interval) * int(failure_threshold) * scale


# --- pure rules ------------------------------------------------------------------------------

def declared_health(segments: Sequence[Segment], now: float, window: float) -> Verdict:
    """Replay what the checkers saw (``segments``, in time order) into Route 53's status at ``now``.

    The status starts healthy at the first segment; it changes once the checkers have disagreed
    with it for ``window`` seconds without interruption; a disabled segment is healthy at once.
    """
    merged: list[Segment] = []
    for seg in segments:
        if seg.start > now:
            break
        if merged and (merged[-1].failing, merged[-1].disabled) == (seg.failing, seg.disabled):
            continue
        merged.append(seg)
    if not merged:
        return Verdict(healthy=True, since=now, failing_now=False, failing_since=now)
    healthy, since = True, merged[0].start
    for i, seg in enumerate(merged):
        end = merged[i + 1].start if i + 1 < len(merged) else now
        if seg.disabled:
            if not healthy:
                healthy, since = True, seg.start
            continue
        wanted = not seg.failing
        if wanted != healthy and end - seg.start >= window:
            healthy, since = wanted, seg.start + window
    last = merged[-1]
    failing_now = last.failing and not last.disabled
    return Verdict(healthy=healthy, since=since, failing_now=failing_now, failing_since=last.start)


def region_in_hostname(hostname: str | None) -> str | None:
    """The AWS region named by a label of ``hostname`` (``x.us-west-2.elb.amazonaws.com``)."""
    if not hostname:
        return None
    match = _REGION_LABEL.search(hostname.lower())
    return match.group(1) if match else None


def normalise_dns_name(name: str) -> str:
    """Lower case, no trailing dot, no ``dualstack.`` prefix: how load balancer names compare."""
    name = name.strip().rstrip(".").lower()
    return name.removeprefix("dualstack.")


def fault_segments(log_events: Iterable[dict[str, Any]], health_check_id: str,
                   region: str | None, configs: Sequence[ConfigChange]) -> list[Segment]:
    """What the checkers of one endpoint check conclude over time, from the fault log and config.

    ``log_events`` are :func:`faults.snapshot` log entries; ``configs`` the check's settings
    history (the first entry is its creation).
    """
    points: list[tuple[float, str, str]] = []
    for event in log_events:
        points.append((_epoch(event["at"]), event["action"], event["target"]))
    for change in configs:
        points.append((change.at, "config", ""))
    points.sort(key=lambda p: p[0])
    created = configs[0].at
    injected = region_out = False
    config = configs[0]
    segments: list[Segment] = []
    for at, action, target in points:
        if action == "config":
            config = next(c for c in reversed(configs) if c.at <= at)
        elif action in ("fail-health-check", "restore-health-check") and target == health_check_id:
            injected = action == "fail-health-check"
        elif action in ("region-down", "region-up") and target == region:
            region_out = action == "region-down"
        elif action == "clear":
            injected = region_out = False
        else:
            continue
        failing = injected or (region_out != config.inverted)
        segment = Segment(start=max(at, created), failing=failing, disabled=config.disabled)
        if segments and segments[-1].start == segment.start:
            segments[-1] = segment  # changes before creation count from the creation
        else:
            segments.append(segment)
    return segments


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# --- configuration history -------------------------------------------------------------------

def record_config(health_check: Any, at: float | None = None) -> None:
    """Remember the check's inversion and disabling from ``at`` on (called on create and update)."""
    change = ConfigChange(at=time.time() if at is None else at,
                          inverted=bool(health_check.inverted),
                          disabled=bool(health_check.disabled))
    with _state.lock:
        history = _state.history.setdefault(health_check.id, [])
        if not history or (history[-1].inverted, history[-1].disabled) != (change.inverted,
                                                                           change.disabled):
            history.append(change)


def _config_history(health_check: Any) -> list[ConfigChange]:
    with _state.lock:
        history = list(_state.history.get(health_check.id, []))
    if not history:  # created before this extension saw it (e.g. while installing)
        record_config(health_check)
        return _config_history(health_check)
    return history


def _forget_history() -> None:
    with _state.lock:
        _state.history = {}
    set_health_check_time_scale(default_time_scale())


# --- endpoint regions ------------------------------------------------------------------------

def endpoint_region(account_id: str, fqdn: str | None, ip_address: str | None,
                    _hops: int = 0) -> str | None:
    """The region of a health check's endpoint, by the rules in this module's docstring."""
    if fqdn:
        wanted = normalise_dns_name(fqdn)
        for region, dns_name in _load_balancer_names(account_id):
            if normalise_dns_name(dns_name) == wanted:
                return region
        if _hops < 5:
            for target in _record_targets(account_id, wanted):
                found = (endpoint_region(account_id, None, target) if _is_ipv4(target)
                         else endpoint_region(account_id, target, None, _hops + 1))
                if found:
                    return found
        named = region_in_hostname(wanted)
        if named:
            return named
    if ip_address:
        return _instance_region(account_id, ip_address)
    return None


def _is_ipv4(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def _record_targets(account_id: str, name: str) -> list[str]:
    """What the record sets named ``name`` in the emulator's hosted zones point at."""
    from moto.route53.models import route53_backends

    targets: list[str] = []
    for _, backend in _created_regions(route53_backends, account_id):
        for zone in list(backend.zones.values()):
            for record in list(zone.rrsets):
                if normalise_dns_name(record.name) != name or record.type not in ("A", "CNAME"):
                    continue
                if record.alias_target:
                    targets.append(str(record.alias_target["DNSName"]))
                else:
                    targets += [str(v) for v in record.records or []]
    return targets


def _created_regions(backend_dict: Any, account_id: str) -> list[tuple[str, Any]]:
    if account_id not in backend_dict:
        return []
    return list(dict.items(backend_dict[account_id]))


def _load_balancer_names(account_id: str) -> list[tuple[str, str]]:
    from moto.elb.models import elb_backends
    from moto.elbv2.models import elbv2_backends

    names = []
    for backends in (elbv2_backends, elb_backends):
        for region, backend in _created_regions(backends, account_id):
            names += [(region, lb.dns_name) for lb in list(backend.load_balancers.values())]
    return names


def _instance_region(account_id: str, ip_address: str) -> str | None:
    from moto.ec2.models import ec2_backends

    for region, backend in _created_regions(ec2_backends, account_id):
        for reservation in list(backend.reservations.values()):
            for instance in reservation.instances:
                if ip_address in (instance.public_ip, instance.private_ip):
                    return region
    return None


# --- evaluation ------------------------------------------------------------------------------

def evaluate(backend: Any, health_check_id: str, now: float | None = None,
             _depth: int = 0) -> Evaluation:
    """The status of ``health_check_id`` in the Route 53 ``backend`` at ``now`` (epoch seconds)."""
    now = time.time() if now is None else now
    check = backend.health_checks.get(health_check_id)
    if check is None:  # a record may name a deleted check; Route 53 then treats it as healthy
        return Evaluation(healthy=True, reason="the health check does not exist")
    if check.disabled:
        return Evaluation(healthy=True, reason="the health check is disabled, so Route 53 "
                                               "considers it healthy")
    if check.type_ == "CALCULATED":
        return _evaluate_calculated(backend, check, now, _depth)
    region = endpoint_region(backend.account_id, check.fqdn, check.ip_address)
    window = decision_window(check.request_interval, check.failure_threshold,
                             health_check_time_scale())
    segments = fault_segments(faults.snapshot()["log"], check.id, region,
                              _config_history(check))
    verdict = declared_health(segments, now, window)
    return Evaluation(healthy=verdict.healthy, reason=_reason(check, region), region=region,
                      verdict=verdict)


def _evaluate_calculated(backend: Any, check: Any, now: float, depth: int) -> Evaluation:
    children = check.children or []
    if depth > 3:
        return Evaluation(healthy=True, reason="calculated health checks nested too deeply")
    healthy_children = sum(evaluate(backend, child, now, depth + 1).healthy for child in children)
    threshold = int(check.health_threshold or 0)
    healthy = healthy_children >= threshold
    reason = (f"{healthy_children} of {len(children)} child health checks healthy, "
              f"{threshold} needed")
    if check.inverted:
        healthy, reason = not healthy, f"inverted: {reason}"
    return Evaluation(healthy=healthy, reason=reason)


def _reason(check: Any, region: str | None) -> str:
    injected = faults.health_check_failed(check.id)
    down = region is not None and faults.region_down(region)
    if injected:
        return "failure injected into the health check"
    if down:
        what = f"region {region} data plane down"
        return f"inverted health check; the endpoint fails ({what})" if check.inverted else what
    if check.inverted:
        return "inverted health check; the endpoint answers"
    return "endpoint answers" + (f" (region {region})" if region else "")


def status_text(check: Any, evaluation: Evaluation) -> str:
    """``StatusReport.Status`` as AWS words it, then the emulator's figures in brackets."""
    if check.disabled:
        return f"Success: {evaluation.reason}"
    tcp = check.type_ == "TCP"
    endpoint_down = evaluation.region is not None and faults.region_down(evaluation.region)
    failed = ("Failure: Connection timed out. The endpoint or the internet connection is down, "
              "or requests are being blocked by your firewall" if tcp
              else "Failure: HTTP Status Code 503, Service Unavailable")
    if evaluation.healthy and check.inverted and endpoint_down:
        head = "Success: the health check is inverted and the endpoint failed"
    elif evaluation.healthy:
        head = "Success: TCP connection established" if tcp else "Success: HTTP Status Code 200, OK"
    elif check.inverted and not endpoint_down and not faults.health_check_failed(check.id):
        head = "Failure: the health check is inverted and the endpoint answered"
    else:
        head = failed
    scale = health_check_time_scale()
    window = decision_window(check.request_interval, check.failure_threshold, scale)
    figures = (f"emulator: {evaluation.reason}; status changes after FailureThreshold "
               f"{check.failure_threshold} x RequestInterval {check.request_interval} s "
               f"x time scale {scale:g} = {window:g} s")
    verdict = evaluation.verdict
    if verdict is not None and verdict.failing_now == verdict.healthy:
        figures += (f"; disagreeing for {time.time() - verdict.failing_since:.1f} s"
                    f" of {window:g} s")
    return f"{head} [{figures}]"


def checked_time(check: Any, now: float) -> datetime:
    """When the latest emulated check ran: checks tick every scaled ``RequestInterval``."""
    created = _config_history(check)[0].at
    tick = float(check.request_interval) * health_check_time_scale()
    last = now if tick <= 0 else created + math.floor((now - created) / tick) * tick
    return datetime.fromtimestamp(last, UTC)


# --- moto patches ----------------------------------------------------------------------------

def _get_health_check_status(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.route53.exceptions import InvalidInput

    check = self.backend.get_health_check(self._get_param("HealthCheckId"))
    if check.type_ == "CALCULATED":
        raise InvalidInput("You can't use GetHealthCheckStatus to get the status of a calculated "
                           "health check; use the Route 53 console or CloudWatch")
    now = time.time()
    evaluation = evaluate(self.backend, check.id, now)
    report = {"Status": status_text(check, evaluation), "CheckedTime": checked_time(check, now)}
    regions = check.regions or DEFAULT_CHECKER_REGIONS
    return ActionResult({"HealthCheckObservations": [
        {"Region": region, "IPAddress": CHECKER_IP, "StatusReport": report} for region in regions
    ]})


_installed = False


def install() -> None:
    """Patch moto's Route 53 health checks and register the time-scale control route."""
    global _installed
    if _installed:
        return
    from moto.route53.models import Route53Backend
    from moto.route53.responses import Route53

    original_create = Route53Backend.create_health_check
    original_update = Route53Backend.update_health_check

    def create_health_check(self: Any, caller_reference: str, health_check_args: Any) -> Any:
        check = original_create(self, caller_reference, health_check_args)
        record_config(check)
        return check

    def update_health_check(self: Any, health_check_id: str, health_check_args: Any) -> Any:
        check = original_update(self, health_check_id, health_check_args)
        record_config(check)
        return check

    Route53Backend.create_health_check = create_health_check  # type: ignore[method-assign]
    Route53Backend.update_health_check = update_health_check  # type: ignore[method-assign]
    Route53.get_health_check_status = _get_health_check_status  # type: ignore[method-assign]

    @control.route("GET", TIME_SCALE_ROUTE)
    def get_scale(body: dict[str, Any], query: dict[str, str]) -> dict[str, float]:
        return {"scale": health_check_time_scale()}

    @control.route("POST", TIME_SCALE_ROUTE)
    def post_scale(body: dict[str, Any], query: dict[str, str]) -> dict[str, float]:
        try:
            return {"scale": set_health_check_time_scale(body.get("scale"))}  # type: ignore[arg-type]
        except ValueError as exc:
            raise control.ControlError(str(exc)) from exc

    control.on_reset(_forget_history)
    set_health_check_time_scale(default_time_scale())
    _installed = True
