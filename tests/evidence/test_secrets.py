"""Secrets are masked in parameters and found in any encoding inside bundle files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drlib.evidence.secrets import (
    MASK,
    find_secret_files,
    is_secret_name,
    mask_secrets,
    secret_values_in,
)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True), ("db_password", True), ("DB-PASSWORD", True), ("api_token", True),
        ("client_secret", True), ("apiKey", True), ("aws_credentials", True),
        ("environment", False), ("lag_threshold", False), ("secondary_region", False),
    ],
)
def test_is_secret_name(name: str, secret: bool) -> None:
    """Parameter names containing password/secret/token/key words are secret, others are not."""
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("given", "values", "expected"),
    [
        ({"password": "hunter22"}, (), {"password": MASK}),
        ({"nested": {"api_token": 123}}, (), {"nested": {"api_token": MASK}}),
        ({"password": ""}, (), {"password": ""}),
        ({"dsn": "postgres://u:hunter22@h/db"}, ("hunter22",), {"dsn": f"postgres://u:{MASK}@h/db"}),
        ({"hosts": ["a", "hunter22-b"]}, ("hunter22",), {"hosts": ["a", f"{MASK}-b"]}),
        ({"env": "dev", "n": 5}, ("hunter22",), {"env": "dev", "n": 5}),
        ("abcdef", ("abc", "abcdef"), MASK),
    ],
)
def test_mask_secrets(given: Any, values: tuple[str, ...], expected: Any) -> None:
    """Secret-named keys become ****, and every occurrence of a secret value is replaced."""
    assert mask_secrets(given, values) == expected


def test_secret_values_in_finds_nested_secret_parameters() -> None:
    """The values of secret-named parameters, at any depth, are collected for the file scan."""
    params = {"env": "dev", "db": {"master_password": "pw-1"}, "items": [{"token": "tk-2"}]}
    assert sorted(secret_values_in(params)) == ["pw-1", "tk-2"]


@pytest.mark.parametrize(
    "content",
    [
        'printed: pa"ss<&>word',                  # raw
        '{"text": "printed: pa\\"ss<&>word"}',    # inside JSON (a notebook output)
        "<pre>printed: pa&quot;ss&lt;&amp;&gt;word</pre>",  # inside HTML
        "<pre>printed: pa\"ss&lt;&amp;&gt;word</pre>",      # HTML text, quotes left as is
    ],
)
def test_find_secret_files_sees_every_encoding(tmp_path: Path, content: str) -> None:
    """A secret is found raw, JSON-escaped and HTML-escaped, and clean files are not flagged."""
    (tmp_path / "leak.txt").write_text(content)
    (tmp_path / "clean.txt").write_text("nothing to see")
    found = find_secret_files(tmp_path, ["clean.txt", "leak.txt"], ['pa"ss<&>word'])
    assert found == ["leak.txt"]
