"""Targets: where a drill runs, ``local`` (the embedded emulator) or ``aws``.

This is the one place that maps a target name to what differs between them: which endpoint and
credentials boto3 uses, and how a regional disaster is injected. Everything above it receives an
:class:`AwsClients` and a :class:`DisasterInjector` and never asks which target it has.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from drlib.aws import AwsClients, RegionPair
from drlib.errors import ConfigError


class DisasterInjector(Protocol):
    """Makes the primary region's data plane fail, and gives it back."""

    description: str

    def inject(self, region: str, health_check_ids: Sequence[str] = ()) -> dict[str, Any]:
        """Lose ``region``; return what was done (for the timeline)."""

    def restore(self, region: str, health_check_ids: Sequence[str] = ()) -> dict[str, Any]:
        """Give ``region`` back; return what was done."""


@dataclass(frozen=True)
class Target:
    """A resolved target: clients for both regions, how to inject a disaster, its label."""

    name: str
    regions: RegionPair
    clients: AwsClients
    disaster: DisasterInjector
    emulator_version: str | None
    time_scale: float = 1.0
    """The pace of the target's waits against AWS's (1.0 on AWS; the emulator may run its
    Route 53 detection and DNS TTLs faster, and says so)."""


def open_target(name: str, regions: RegionPair) -> Target:
    """Resolve ``name`` (``local`` or ``aws``) into a :class:`Target`."""
    if name == "local":
        from drlib.emulator.connect import local_target_parts

        endpoint, version, injector, scale = local_target_parts()
        clients = AwsClients(endpoint_url=endpoint)
        return Target(name, regions, clients, injector, version, scale)
    if name == "aws":
        from drlib.aws_disaster import HealthCheckInversion

        primary = os.environ.get("DRLIB_AWS_PROFILE_PRIMARY") or os.environ.get("AWS_PROFILE")
        secondary = os.environ.get("DRLIB_AWS_PROFILE_SECONDARY") or primary
        clients = AwsClients(profiles={regions.primary: primary, regions.secondary: secondary})
        return Target(name, regions, clients, HealthCheckInversion(clients), None)
    raise ConfigError(f"Unknown target {name!r}", expected="local or aws", found=name,
                      fix="use --target local (the embedded emulator) or --target aws")
