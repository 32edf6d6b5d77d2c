"""moto 5.2.5's gaps in the Route 53 health-check API itself (their status: ``route53_health``).

- ``GetHealthCheckCount`` was neither routed nor implemented: it answers the number of checks.
- ``ListHealthChecks`` pages with ``MaxItems`` (1 to 1000, default 100) and ``Marker`` (the id of
  the first check of the page) and returns ``Marker``, ``IsTruncated``, ``MaxItems`` and, when
  truncated, ``NextMarker``, in creation order (moto returned every check and left the required
  fields out).
- ``AWS::Route53::HealthCheck`` resources keep their whole ``HealthCheckConfig``, template strings
  converted (moto dropped ``Inverted``, ``Disabled``, ``ChildHealthChecks``, ``HealthThreshold``,
  ``Regions``, ``MeasureLatency`` and ``EnableSNI``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def page_of_health_checks(ids: Sequence[str], marker: str | None,
                          max_items: int) -> tuple[list[str], str | None]:
    """The ids of one ListHealthChecks page from ``marker`` on, and the next page's marker."""
    start = 0
    if marker:
        if marker not in ids:
            from moto.route53.exceptions import InvalidInput

            raise InvalidInput(f"The marker {marker} is not the id of a health check")
        start = list(ids).index(marker)
    page = list(ids[start:start + max_items])
    following = ids[start + max_items] if start + max_items < len(ids) else None
    return page, following


def _list_health_checks(self: Any) -> Any:
    # moto ignores MaxItems and Marker and leaves out the required Marker, IsTruncated, MaxItems.
    from moto.core.responses import ActionResult
    from moto.route53.exceptions import InvalidInput

    raw_max = self._get_param("MaxItems") or "100"
    if not str(raw_max).isdigit() or not 1 <= int(raw_max) <= 1000:
        raise InvalidInput(f"MaxItems must be a number from 1 to 1000, got {raw_max}")
    checks = self.backend.health_checks
    page, following = page_of_health_checks(list(checks), self._get_param("Marker"),
                                            int(raw_max))
    result: dict[str, Any] = {"HealthChecks": [checks[i] for i in page],
                              "Marker": self._get_param("Marker") or "",
                              "IsTruncated": following is not None, "MaxItems": str(raw_max)}
    if following is not None:
        result["NextMarker"] = following
    return ActionResult(result)


def health_check_args_from_template(config: dict[str, Any]) -> dict[str, Any]:
    """moto's health-check arguments from a template's ``HealthCheckConfig`` (strings allowed)."""

    def flag(name: str) -> bool | None:
        value = config.get(name)
        return None if value is None else str(value).lower() == "true"

    def number(name: str) -> int | None:
        value = config.get(name)
        return None if value is None else int(value)

    return {
        "ip_address": config.get("IPAddress"), "port": number("Port"), "type": config["Type"],
        "resource_path": config.get("ResourcePath"),
        "fqdn": config.get("FullyQualifiedDomainName"), "search_string": config.get("SearchString"),
        "request_interval": number("RequestInterval"),
        "failure_threshold": number("FailureThreshold"),
        "health_threshold": number("HealthThreshold"), "measure_latency": flag("MeasureLatency"),
        "inverted": flag("Inverted"), "disabled": flag("Disabled"), "enable_sni": flag("EnableSNI"),
        "children": list(config.get("ChildHealthChecks") or []),
        "regions": list(config.get("Regions") or []),
    }


def _create_from_template(cls: Any, resource_name: str, cloudformation_json: Any,
                          account_id: str, region_name: str, **kwargs: Any) -> Any:
    # moto drops Inverted, Disabled, ChildHealthChecks, HealthThreshold and Regions here
    # (and the HealthCheckTags).
    from moto.route53.models import route53_backends
    from moto.utilities.utils import get_partition

    args = health_check_args_from_template(cloudformation_json["Properties"]["HealthCheckConfig"])
    backend = route53_backends[account_id][get_partition(region_name)]
    check = backend.create_health_check(caller_reference=resource_name, health_check_args=args)
    tags = [{"Key": str(t["Key"]), "Value": str(t["Value"])}
            for t in cloudformation_json["Properties"].get("HealthCheckTags") or []]
    if tags:  # moto drops HealthCheckTags too
        backend.change_tags_for_resource("healthcheck", check.id, tags, [])
    return check


def _get_health_check_count(self: Any) -> Any:
    from moto.core.responses import ActionResult

    return ActionResult({"HealthCheckCount": len(self.backend.health_checks)})


_installed = False


def install() -> None:
    """Patch moto's Route 53 health-check listing, count and template creation."""
    global _installed
    if _installed:
        return
    from moto.route53 import urls
    from moto.route53.models import HealthCheck
    from moto.route53.responses import Route53

    Route53.list_health_checks = _list_health_checks  # type: ignore[method-assign]
    Route53.get_health_check_count = _get_health_check_count  # type: ignore[attr-defined]
    # The Flask app for route53 is built from this dict on the first Route 53 request.
    urls.url_paths[r"{0}/(?P<api_version>[\d_-]+)/healthcheckcount$"] = Route53.dispatch
    HealthCheck.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        _create_from_template)
    _installed = True
