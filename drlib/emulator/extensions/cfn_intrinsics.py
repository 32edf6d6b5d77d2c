"""CloudFormation intrinsic functions moto lacks or gets wrong.

- ``Fn::Cidr`` ``[ipBlock, count, cidrBits]`` (IPv4 and IPv6), as CloudFormation computes it;
- ``Fn::GetAZs``: the zones of the stack's own region ('' or ``!Ref AWS::Region``) or the one named;
- ``Fn::GetAtt`` with dotted attributes (``Cluster.Endpoint.Address``): the short form is split
  on the first dot only, as CloudFormation does, and a long-form or ``${A.B.C}`` list of more
  than two parts is rejoined;
- ``Ref: AWS::NoValue`` inside a list removes the element (moto left ``None`` there, which
  ``Fn::Join`` turned into the text "None");
- dynamic references ``{{resolve:ssm:...}}``, ``{{resolve:ssm-secure:...}}`` and
  ``{{resolve:secretsmanager:...}}``, resolved from the stack region's SSM and Secrets Manager
  when the resource that holds them is created (after its dependencies, so a secret made earlier
  in the same stack resolves).

Templates of new stacks, updates and change sets are read with libyaml's parser when PyYAML has
it (:func:`parse_template`): moto's pure-Python one took 0.02 to 0.5 s a template, about a tenth
of the emulator's work in a deploy of the project, with the same result.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import threading
from collections import OrderedDict
from typing import Any

from drlib.emulator.extensions.cfn_hooks import when_cloudformation_loaded

DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^{}]+?)\}\}")

_original_clean_json: Any = None


def cidr_blocks(ip_block: str, count: int, cidr_bits: int) -> list[str]:
    """``Fn::Cidr``: the first ``count`` subnets of ``ip_block`` with ``cidr_bits`` host bits."""
    network = ipaddress.ip_network(str(ip_block), strict=False)
    count, cidr_bits = int(count), int(cidr_bits)
    new_prefix = network.max_prefixlen - cidr_bits
    if not 1 <= count <= 256 or cidr_bits <= 0 or new_prefix < network.prefixlen:
        raise ValueError(f"Fn::Cidr cannot make {count} blocks of /{new_prefix} "
                         f"out of {ip_block}")
    blocks: list[str] = []
    for subnet in network.subnets(new_prefix=new_prefix):
        if len(blocks) == count:
            break
        blocks.append(str(subnet))
    if len(blocks) < count:
        raise ValueError(f"Fn::Cidr: {ip_block} holds only {len(blocks)} blocks of "
                         f"/{new_prefix}, {count} requested")
    return blocks


def split_get_att(value: Any) -> Any:
    """Normalise a ``Fn::GetAtt`` argument to ``[logical_id, attribute]`` (attribute may dot)."""
    if isinstance(value, str):
        return value.split(".", 1)
    if isinstance(value, list) and len(value) > 2 and all(isinstance(v, str) for v in value):
        return [value[0], ".".join(value[1:])]
    return value


SecretReference = tuple[str, str | None, str | None, str | None]


def parse_secretsmanager_reference(reference: str) -> SecretReference:
    """``secret-id[:SecretString[:json-key[:version-stage[:version-id]]]]`` split into parts.

    The secret id may be a full ARN, which has colons of its own (seven fields).
    """
    parts = reference.split(":")
    if reference.startswith("arn:"):
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, rest = parts[0], parts[1:]
    rest += [""] * (4 - len(rest))
    _secret_string, json_key, version_stage, version_id = rest[:4]
    return secret_id, json_key or None, version_stage or None, version_id or None


def resolve_dynamic_references(text: str, account_id: str, region: str) -> str:
    """Replace every ``{{resolve:...}}`` in ``text`` with the value it names."""
    return DYNAMIC_REFERENCE.sub(
        lambda m: _resolve_one(m.group(1), m.group(2), account_id, region), text)


def _resolve_one(service: str, reference: str, account_id: str, region: str) -> str:
    from moto.cloudformation.exceptions import ValidationError

    if service in ("ssm", "ssm-secure"):
        from moto.ssm.models import ssm_backends

        parameter = ssm_backends[account_id][region].get_parameter(reference)
        if parameter is None:
            raise ValidationError(message=f"Unable to resolve the SSM parameter {reference!r} "
                                          f"referenced by {{{{resolve:{service}:{reference}}}}}")
        return str(parameter.value)
    from moto.secretsmanager.models import secretsmanager_backends

    secret_id, json_key, version_stage, version_id = parse_secretsmanager_reference(reference)
    backend = secretsmanager_backends[account_id][region]
    try:
        value = backend.get_secret_value(secret_id, version_id, version_stage)  # type: ignore[arg-type]
    except Exception as exc:
        raise ValidationError(message=f"Unable to resolve the secret {secret_id!r} referenced by "
                                      f"a dynamic reference: {exc}") from exc
    secret_string = value.get("SecretString") or ""
    if json_key is None:
        return str(secret_string)
    try:
        field = json.loads(secret_string)[json_key]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(message=f"The secret {secret_id!r} has no JSON key {json_key!r}"
                              ) from exc
    return field if isinstance(field, str) else json.dumps(field)


def _zones(account_id: str, region: str) -> list[str]:
    from moto.ec2.models import ec2_backends

    zones = ec2_backends[account_id][region].describe_availability_zones()
    return sorted(z.name for z in zones if getattr(z, "zone_type", "availability-zone")
                  == "availability-zone")


def _account_and_region(resources_map: Any) -> tuple[str, str]:
    """moto passes its ResourceMap, or (for Conditions) the plain dict of parsed values."""
    if isinstance(resources_map, dict):
        return str(resources_map.get("AWS::AccountId")), str(resources_map.get("AWS::Region"))
    return resources_map._account_id, resources_map._region_name


def clean_json(resource_json: Any, resources_map: Any) -> Any:
    """moto's ``clean_json`` plus the intrinsics above (installed in its place)."""
    from moto.cloudformation.exceptions import ValidationError

    account_id, region = _account_and_region(resources_map)
    if isinstance(resource_json, list):
        # Ref AWS::NoValue (usually from Fn::If) removes a list element, as it removes a key.
        cleaned = [clean_json(item, resources_map) for item in resource_json]
        return [item for item in cleaned if item is not None]
    if isinstance(resource_json, dict):
        if "Fn::Cidr" in resource_json:
            args = clean_json(resource_json["Fn::Cidr"], resources_map)
            try:
                return cidr_blocks(*args)
            except (TypeError, ValueError) as exc:
                raise ValidationError(message=f"Template error: {exc}") from exc
        if "Fn::GetAZs" in resource_json:
            named = clean_json(resource_json["Fn::GetAZs"], resources_map)
            return _zones(account_id, named or region)
        if "Fn::GetAtt" in resource_json:
            args = split_get_att(clean_json(resource_json["Fn::GetAtt"], resources_map))
            resource_json = {**resource_json, "Fn::GetAtt": args}
    result = _original_clean_json(resource_json, resources_map)
    if isinstance(result, str) and "{{resolve:" in result and "${" not in result:
        result = resolve_dynamic_references(result, account_id, region)
    return result


def yaml_tag_constructor(loader: Any, tag: str, node: Any) -> dict[str, Any]:
    """YAML short forms (``!Ref``, ``!GetAtt A.B.C``, ``!Sub``...) to their long forms."""
    import yaml

    key = "Ref" if tag == "!Ref" else f"Fn::{tag[1:]}"
    if isinstance(node, yaml.SequenceNode):
        value: Any = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    if tag == "!GetAtt":
        value = split_get_att(value)
    return {key: value}


_template_loader: Any = None


_parsed: OrderedDict[str, dict[str, Any]] = OrderedDict()
"""The last :data:`PARSED_KEPT` templates read, by their text: a project's two regions deploy the
same templates, and updates and change sets send them again."""
_parsed_lock = threading.Lock()
PARSED_KEPT = 64


def parse_template(template: str) -> dict[str, Any]:
    """A template's text (YAML with short forms, or JSON) as moto's dict, a copy of its own
    (moto changes what it is given): read once per text among the last :data:`PARSED_KEPT`."""
    with _parsed_lock:
        kept = _parsed.get(template)
        if kept is not None:
            _parsed.move_to_end(template)
    if kept is None:
        kept = _parse_template(template)
        with _parsed_lock:
            _parsed[template] = kept
            while len(_parsed) > PARSED_KEPT:
                _parsed.popitem(last=False)
    return copy.deepcopy(kept)


def _parse_template(template: str) -> dict[str, Any]:
    """moto's own loader (PyYAML's full one, short forms through :func:`yaml_tag_constructor`)
    over libyaml's parser when PyYAML has it; JSON that is not YAML (tabs) falls back to
    ``json``, as in moto."""
    global _template_loader
    import yaml
    from yaml.parser import ParserError
    from yaml.scanner import ScannerError

    if _template_loader is None:
        base: Any = getattr(yaml, "CLoader", yaml.Loader)

        class TemplateLoader(base):
            """moto's loader with the short forms registered on this class only."""

        TemplateLoader.add_multi_constructor("", yaml_tag_constructor)
        _template_loader = TemplateLoader
    try:
        parsed: dict[str, Any] = yaml.load(template, Loader=_template_loader)
    except (ParserError, ScannerError):
        parsed = json.loads(template)
    return parsed


def _change_set_parse_template(self: Any) -> None:
    self.template_dict = parse_template(self.template)


def _patch() -> None:
    global _original_clean_json
    import sys

    from moto.cloudformation import models, parsing, utils

    if _original_clean_json is None:
        _original_clean_json = parsing.clean_json
        parsing.clean_json = clean_json
        models.Stack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign]
        models.ChangeSet._parse_template = _change_set_parse_template  # type: ignore[method-assign]
    utils.yaml_tag_constructor = yaml_tag_constructor
    models.yaml_tag_constructor = yaml_tag_constructor  # type: ignore[attr-defined]
    responses = sys.modules.get("moto.cloudformation.responses")
    if responses is not None:
        responses.yaml_tag_constructor = yaml_tag_constructor  # type: ignore[attr-defined]


def install() -> None:
    """Patch moto's template parser once its CloudFormation engine loads."""
    when_cloudformation_loaded(_patch)
