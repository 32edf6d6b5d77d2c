"""CloudFormation YAML templates as plain data, short forms (``!Ref``, ``!If``, ``!GetAtt a.b``)
in their long forms, read with libyaml's parser when PyYAML has it (about ten times faster than
the pure-Python one: the project's templates were three of a deploy's 16 s) and cached per file
version within a process."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TemplateLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe loader (it builds no objects) with CloudFormation's short-form tags."""


def _short_form(loader: Any, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)  # YAML has no fourth kind of node
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")  # only the first dot separates
        value = [resource, attribute]
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _short_form)


def load_template(text: str) -> dict[str, Any]:
    """A CloudFormation template (YAML or JSON) as plain data with long-form intrinsics."""
    return dict(yaml.load(text, Loader=_TemplateLoader) or {})


def read_template(path: Path) -> dict[str, Any]:
    """The template in ``path`` (see :func:`load_template`); a private copy of the version of the
    file read last in this process."""
    stat = Path(path).stat()
    return copy.deepcopy(_read(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=64)
def _read(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    return load_template(Path(path).read_text())
