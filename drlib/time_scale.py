"""The pace of a drill's emulated waits, declared with every figure it touches.

On AWS every wait runs at AWS's pace (scale 1.0). The local target may run two of AWS's waits
faster: Route 53 health-check detection (RequestInterval x FailureThreshold) and the DNS TTLs
clients cache. A figure measured across them (RTO, write outage) is then a rehearsal figure, not
AWS's; metrics.json, the manifest, the verdict and the console say so, and ``--aws-timing`` runs
them 1:1.
"""

from __future__ import annotations

from typing import Any

DEFAULT_LOCAL_SCALE = 0.1
"""The default drill's pace on the emulator: Route 53 detection and DNS TTLs at a tenth of
AWS's (dev: 2 s of detection instead of 20 s, a 6 s TTL instead of 60 s)."""

SCALED_WAITS = ("Route 53 health-check detection (RequestInterval x FailureThreshold)",
                "DNS record TTLs (how long clients keep an answer)")


def statement(scale: float) -> str:
    """One sentence an auditor can read next to the figures."""
    if scale == 1.0:
        return "AWS's pace: every emulated wait ran as long as on AWS (time scale 1.0)"
    return (f"time scale {scale:g}: Route 53 detection and DNS TTLs ran at {scale:g} of their "
            f"AWS duration; RTO and write-outage figures are a rehearsal at that pace, not "
            f"AWS's (drlib drill --aws-timing runs them 1:1)")


def time_scale_record(scale: float) -> dict[str, Any]:
    """The ``time_scale`` block of metrics.json and the manifest."""
    return {"factor": scale, "aws_pace": scale == 1.0,
            "scaled_waits": [] if scale == 1.0 else list(SCALED_WAITS),
            "statement": statement(scale)}
