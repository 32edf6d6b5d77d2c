"""The aws layer: the only place drlib creates boto3 sessions and clients.

Clients speak to whatever endpoint boto3 is configured for. Against the embedded emulator that is
``AWS_ENDPOINT_URL`` (or ``endpoint_url`` here); against AWS it is the default. drlib above this
layer never knows which.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.utils import parse_timestamp

DEFAULT_PRIMARY_REGION = "us-east-1"
DEFAULT_SECONDARY_REGION = "us-west-2"

_RETRIES = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5,
                  read_timeout=30)


_MODELS: dict[str, dict[Any, Any]] = {}
"""What botocore's loaders of this process have read, by data path (``AWS_DATA_PATH``): the
service models (JSON) and the endpoints, the same for every session."""


class _ModelCache:
    """A loader's cache (``instance_cache`` keeps what a loader read in ``self._cache``): what
    it reads is shared through :data:`_MODELS`, except the lists of available services, which
    depend on the loader's own search paths (boto3 adds its own) and stay the loader's."""

    def __init__(self, shared: dict[Any, Any]) -> None:
        self._own: dict[Any, Any] = {}
        self._shared = shared

    def _store(self, key: Any) -> dict[Any, Any]:
        own = isinstance(key, tuple) and key[:1] == ("list_available_services",)
        return self._own if own else self._shared

    def __contains__(self, key: object) -> bool:
        return key in self._store(key)

    def __getitem__(self, key: Any) -> Any:
        return self._store(key)[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._store(key)[key] = value


def model_loader(data_path: str | None = None) -> botocore.loaders.Loader:
    """botocore's loader (``botocore.loaders.create_loader``) whose models are read once per
    process for its data path (:class:`_ModelCache`). A new session otherwise reads and parses
    each model again for its first client (about 50 ms of CPU, most of what making a client
    costs)."""
    loader = botocore.loaders.create_loader(data_path)
    loader._cache = _ModelCache(_MODELS.setdefault(data_path or "", {}))
    return loader


def timestamp(value: Any) -> datetime:
    """A response's timestamp: an ISO 8601 string with its offset (what CloudFormation, RDS and
    most query APIs answer) by ``datetime.fromisoformat``, about 0.4 us; anything else (epoch
    numbers, RFC 822 dates, no offset) by botocore's own parser, about 100 us, which a deploy's
    thousands of stack timestamps made a tenth of its client's CPU."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    found: datetime = parse_timestamp(value)
    return found


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session (``boto3.Session``'s keyword arguments) whose service models are read
    once per process and whose timestamps are read by :func:`timestamp`."""
    core = botocore.session.get_session()
    # Made when first needed, as botocore does: by then the session's profile is set (its
    # data_path may come from it, and reading it now would read AWS_PROFILE's).
    core.lazy_register_component(
        "data_loader", lambda: model_loader(core.get_config_variable("data_path")))
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=timestamp)
    return boto3.Session(botocore_session=core, **kwargs)


@dataclass(frozen=True)
class RegionPair:
    """The two regions of the workload."""

    primary: str = DEFAULT_PRIMARY_REGION
    secondary: str = DEFAULT_SECONDARY_REGION

    def other(self, region: str) -> str:
        """The region of the pair that is not ``region``."""
        if region == self.primary:
            return self.secondary
        if region == self.secondary:
            return self.primary
        raise ValueError(f"{region} is not in the region pair {self.primary}/{self.secondary}")


@dataclass
class AwsClients:
    """Creates and caches boto3 sessions and clients per region.

    ``profiles`` maps a region to a named profile (real AWS, one account per region if needed);
    ``endpoint_url`` overrides boto3's endpoint for every client (tests pass the emulator's).
    """

    profiles: Mapping[str, str | None] = field(default_factory=dict)
    endpoint_url: str | None = None
    credentials: Mapping[str, str] | None = None
    _sessions: dict[str, boto3.Session] = field(default_factory=dict, init=False, repr=False)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def session(self, region: str) -> boto3.Session:
        """The boto3 session for ``region`` (one per region, created once)."""
        with self._lock:
            if region not in self._sessions:
                kwargs: dict[str, Any] = {"region_name": region}
                profile = self.profiles.get(region)
                if profile:
                    kwargs["profile_name"] = profile
                if self.credentials:
                    kwargs.update(self.credentials)
                self._sessions[region] = new_session(**kwargs)
            return self._sessions[region]

    def client(self, service: str, region: str) -> Any:
        """A cached boto3 client for ``service`` in ``region``."""
        key = (service, region)
        session = self.session(region)
        with self._lock:
            if key not in self._clients:
                kwargs: dict[str, Any] = {"config": _RETRIES}
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                self._clients[key] = session.client(service, **kwargs)
            return self._clients[key]
