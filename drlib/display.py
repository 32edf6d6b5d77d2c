"""Charts as notebooks show them: inline images with alternative text.

A chart saved as PNG (or a matplotlib figure) is shown as an ``<img>`` with its data embedded and
an ``alt`` that says what it shows, so it appears in JupyterLab, in papermill's executed
notebook and in the HTML rendering an auditor opens offline, and a screen reader can name it.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHART_DESCRIPTIONS = {
    "timeline.png": "Timeline of the drill's steps: when each started and ended, and its outcome",
    "rto_rpo.png": "Measured RTO and RPO per store against the environment's targets",
    "measured_vs_aws.png": "Measured figures beside the reference figures they are compared with",
    "lag_cdf.png": "Replication lag per store during the drill, cumulative distribution",
    "lag_over_time.png": "Replication lag per store during the drill, over time",
    "load_lag_cdf.png": "Replication lag per store under load, cumulative distribution",
    "load_lag_over_time.png": "Replication lag per store under load, per second: median, 99th "
                              "percentile and maximum",
    "load_lag_vs_cloudwatch.png": "Replication lag per store: canary under load (per-second "
                                  "medians) beside CloudWatch's replication metrics",
    "load_throughput.png": "Canary writes under load per store and second: acknowledged "
                           "(with the total) and failed",
    "write_outcomes.png": "Canary writes per store over time (acknowledged, rejected, lost) "
                          "with the disaster, the cutover, the DNS move and the outage marked",
    "cost_by_component.png": "Estimated monthly cost per region and component",
    "cost_standby_share.png": "Share of the monthly cost spent on the standby region",
    "cost_actuals.png": "Daily cost from Cost Explorer against the daily estimate",
}


def describe_chart(path: Path | str) -> str:
    """What a chart file shows (its known description, else a sentence from its name)."""
    name = Path(path).name
    return CHART_DESCRIPTIONS.get(name, f"Chart {Path(name).stem.replace('_', ' ')}")


@dataclass(frozen=True)
class InlineImage:
    """A PNG shown inline: ``<img alt=...>`` for HTML, the PNG itself for other front ends."""

    png: bytes
    alt: str

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        encoded = base64.b64encode(self.png).decode("ascii")
        tag = (f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(self.alt)}" '
               'style="max-width: 100%">')
        return {"text/html": tag, "image/png": encoded, "text/plain": self.alt}


def chart(path: Path | str, alt: str | None = None) -> InlineImage:
    """A saved chart, shown inline with ``alt`` (default: its known description)."""
    return InlineImage(Path(path).read_bytes(), alt or describe_chart(path))


def figure(fig: Any, alt: str) -> InlineImage:
    """A matplotlib figure, shown inline with ``alt`` (no pyplot or inline backend needed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return InlineImage(buffer.getvalue(), alt)
