"""Template properties moto's CloudFormation models drop when they create a resource.

moto creates these resources but ignores some of their declared properties, so the APIs then
answer what AWS would not (and drift detection would report a difference nobody made):

- ``AWS::EC2::VPC``: ``EnableDnsSupport`` and ``EnableDnsHostnames``;
- ``AWS::SNS::Topic``: ``Tags``;
- ``AWS::Lambda::Function``: ``TracingConfig``.

Each is applied right after moto's creation. (A health check's ``HealthCheckTags``, which moto
drops as well, are applied by :mod:`.route53_health_checks`, which makes health checks.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drlib.emulator.extensions.cfn_hooks import when_cloudformation_loaded
from drlib.emulator.extensions.cfn_resources_rds import as_bool

Fix = Callable[[Any, dict[str, Any], str, str], None]
_wrapped: set[str] = set()


def after_create(cls: Any, key: str, fix: Fix) -> None:
    """Run ``fix(resource, properties, account_id, region)`` after ``cls``'s creation."""
    if key in _wrapped:
        return
    original = cls.create_from_cloudformation_json.__func__

    def create(klass: Any, resource_name: str, cloudformation_json: Any, account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        resource = original(klass, resource_name, cloudformation_json, account_id, region_name,
                            **kwargs)
        fix(resource, dict(cloudformation_json.get("Properties") or {}), account_id, region_name)
        return resource

    cls.create_from_cloudformation_json = classmethod(create)
    _wrapped.add(key)


def _vpc(vpc: Any, p: dict[str, Any], account_id: str, region: str) -> None:
    for name, attribute in (("EnableDnsSupport", "enable_dns_support"),
                            ("EnableDnsHostnames", "enable_dns_hostnames")):
        if p.get(name) is not None:
            setattr(vpc, attribute, bool(as_bool(p[name])))


def _topic(topic: Any, p: dict[str, Any], account_id: str, region: str) -> None:
    from moto.sns.models import sns_backends

    tags = {str(t["Key"]): str(t["Value"]) for t in p.get("Tags") or []}
    if tags:
        sns_backends[account_id][region].tag_resource(topic.arn, tags)


def _function(function: Any, p: dict[str, Any], account_id: str, region: str) -> None:
    tracing = p.get("TracingConfig")
    if isinstance(tracing, dict) and tracing.get("Mode"):
        function.tracing_config = {"Mode": str(tracing["Mode"])}


def _patch() -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.ec2.models.vpcs import VPC
    from moto.sns.models import Topic

    after_create(VPC, "vpc", _vpc)
    after_create(Topic, "sns-topic", _topic)
    after_create(LambdaFunction, "lambda-function", _function)


def install() -> None:
    """Patch the models once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_patch)
