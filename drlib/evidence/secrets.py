"""Keeping secrets out of evidence: masking parameters and scanning every file of a bundle.

A bundle is refused, not cleaned, when a secret appears in it: silently editing a notebook's
output would make the evidence say something other than what ran.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MASK = "****"

# A parameter whose name contains one of these (case-insensitive) holds a secret.
SECRET_NAME_PARTS: tuple[str, ...] = (
    "password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "credential",
)


def is_secret_name(name: str, parts: Iterable[str] = SECRET_NAME_PARTS) -> bool:
    """Whether a parameter called ``name`` holds a secret."""
    lowered = name.lower().replace("-", "_")
    return any(part in lowered for part in parts)


def mask_secrets(obj: Any, values: Iterable[str] = (),
                 names: Iterable[str] = SECRET_NAME_PARTS) -> Any:
    """A copy of ``obj`` with secret-named keys and every occurrence of a secret value masked.

    Mappings and sequences are walked recursively; values under a secret-named key become
    ``"****"`` whatever their type; strings containing a secret value have it replaced.
    """
    secret_values = _usable(values)
    name_parts = tuple(names)
    return _mask(obj, secret_values, name_parts)


def _mask(obj: Any, values: tuple[str, ...], names: tuple[str, ...]) -> Any:
    if isinstance(obj, Mapping):
        return {key: (MASK if isinstance(key, str) and is_secret_name(key, names) and value
                      not in (None, "") else _mask(value, values, names))
                for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_mask(item, values, names) for item in obj]
    if isinstance(obj, str):
        for value in values:
            obj = obj.replace(value, MASK)
        return obj
    return obj


def secret_values_in(parameters: Mapping[str, Any],
                     names: Iterable[str] = SECRET_NAME_PARTS) -> list[str]:
    """The string values of secret-named parameters (searched recursively)."""
    found: list[str] = []
    name_parts = tuple(names)

    def walk(obj: Any) -> None:
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                if isinstance(key, str) and is_secret_name(key, name_parts) and isinstance(
                        value, str) and value and value != MASK:  # masked already: no secret
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(obj, list | tuple):
            for item in obj:
                walk(item)

    walk(parameters)
    return found


def _usable(values: Iterable[str]) -> tuple[str, ...]:
    # Longest first, so a secret that contains another is masked whole.
    return tuple(sorted({v for v in values if isinstance(v, str) and v}, key=len, reverse=True))


def _encodings(value: str) -> set[bytes]:
    """The forms a secret takes inside the files of a bundle: raw, JSON-escaped, HTML-escaped."""
    forms = {value, json.dumps(value)[1:-1], html.escape(value), html.escape(value, quote=False)}
    return {form.encode("utf-8") for form in forms}


def find_secret_files(root: Path, files: Iterable[str], values: Iterable[str]) -> list[str]:
    """The files (paths relative to ``root``) that contain any of the secret ``values``."""
    forms = [form for value in _usable(values) for form in _encodings(value)]
    if not forms:
        return []
    return [rel for rel in files if _contains_any((root / rel).read_bytes(), forms)]


def _contains_any(data: bytes, forms: Iterable[bytes]) -> bool:
    return any(form in data for form in forms)


def text_contains_secret(text: str, values: Iterable[str]) -> bool:
    """Whether ``text`` contains any of the secret ``values`` in any of their encoded forms."""
    forms = [form for value in _usable(values) for form in _encodings(value)]
    return _contains_any(text.encode("utf-8"), forms)
