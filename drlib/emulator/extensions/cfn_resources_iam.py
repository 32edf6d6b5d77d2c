"""CloudFormation IAM roles: ``ManagedPolicyArns`` attached, as AWS does.

moto ignores ``ManagedPolicyArns`` on ``AWS::IAM::Role`` and only knows AWS-managed policies when
told to load all of them. Here each ARN is attached through the IAM backend's
``attach_role_policy`` (an AWS-managed policy is first made known from moto's own copy of the
AWS catalogue), and the role's managed policies are detached before it is deleted with its stack.
"""

from __future__ import annotations

import contextlib
from typing import Any

from drlib.emulator.extensions.cfn_hooks import when_cloudformation_loaded

_wrapped: set[str] = set()

_aws_managed_policies: dict[str, Any] = {}
_whole_catalogue_read: list[bool] = [False]


def aws_managed_policy(name: str) -> Any:
    """moto's copy of the AWS-managed policy ``name`` (None if AWS has none of that name). The
    catalogue is a 4.7 MB JSON text (0.4 s to read whole): a policy is read alone from where
    its top-level key is; only a name not found that way has the whole text read."""
    import json

    from moto.iam.aws_managed_policies import aws_managed_policies_data as catalogue

    if name in _aws_managed_policies or _whole_catalogue_read[0]:
        return _aws_managed_policies.get(name)
    key = f"\n {json.dumps(name)}:"
    at = catalogue.find(key)
    if at >= 0:
        with contextlib.suppress(ValueError):  # not moto's layout after all: read it whole
            found = json.JSONDecoder().raw_decode(catalogue, at + len(key))[0]
            if isinstance(found, dict):
                _aws_managed_policies[name] = found
                return found
    _aws_managed_policies.update(json.loads(catalogue))
    _whole_catalogue_read[0] = True
    return _aws_managed_policies.get(name)


def ensure_aws_managed_policy(backend: Any, arn: str) -> None:
    """Make an AWS-managed policy known to the IAM backend (as on AWS, where they all exist)."""
    from moto.iam.models import AWSManagedPolicy

    if arn in backend.managed_policies or not arn.startswith("arn:aws:iam::aws:policy/"):
        return
    name = arn.rsplit("/", 1)[1]
    data = aws_managed_policy(name)
    if data is None:
        return  # unknown to AWS too: attaching fails with NoSuchEntity, as it should
    policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
    backend.managed_policies[policy.arn] = policy


def _patch_role() -> None:
    from moto.iam.models import Role, iam_backends
    from moto.utilities.utils import get_partition

    if "role" in _wrapped:
        return
    original = Role.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(klass: Any, resource_name: str, cloudformation_json: Any, account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        role = original(klass, resource_name, cloudformation_json, account_id, region_name,
                        **kwargs)
        backend = iam_backends[account_id][get_partition(region_name)]
        for arn in (cloudformation_json.get("Properties") or {}).get("ManagedPolicyArns") or []:
            ensure_aws_managed_policy(backend, arn)
            backend.attach_role_policy(arn, role.name)
        return role

    Role.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]
    _wrapped.add("role")


def delete_role(role: Any, account_id: str, region: str) -> None:
    """Detach the role's managed policies, then delete it as moto's model does."""
    from moto.iam.models import Role, iam_backends
    from moto.utilities.utils import get_partition

    backend = iam_backends[account_id][get_partition(region)]
    if role.id not in backend.roles:
        return
    for arn in list(role.managed_policies):
        backend.detach_role_policy(arn, role.name)
    Role.delete_from_cloudformation_json(role.name, {}, account_id, region)



def _patch() -> None:
    from drlib.emulator.extensions.cfn_deletion import register_deleter

    _patch_role()
    register_deleter("AWS::IAM::Role", delete_role)


def install() -> None:
    """Patch the IAM role model once moto's CloudFormation engine loads."""
    when_cloudformation_loaded(_patch)
