"""Summaries of run bundles for people: the list of runs and one run's story."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drlib.errors import EvidenceError
from drlib.evidence.chain import run_dirs
from drlib.evidence.finalize import METRICS_NAME
from drlib.evidence.manifest import MANIFEST_NAME, Manifest, read_manifest
from drlib.evidence.signoff import SignOff, read_signoffs


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with left-aligned columns."""
    cells = [[str(h) for h in headers]] + [["-" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


@dataclass(frozen=True)
class RunSummary:
    """What the list of runs shows about one run."""

    run_id: str
    environment: str | None
    scenario: str | None
    status: str
    rto_seconds: float | None
    rpo: str | None
    verdict: str | None
    signoffs: tuple[SignOff, ...]
    manifest: Manifest | None
    metrics: dict[str, Any]

    def row(self) -> list[Any]:
        """Its row in ``drlib evidence list``."""
        rto = None if self.rto_seconds is None else f"{self.rto_seconds:.1f} s"
        signed = ", ".join(s.reviewer for s in self.signoffs) or "no"
        return [self.run_id, self.environment, self.scenario, self.status, rto, self.rpo,
                self.verdict, signed]


LIST_HEADERS = ["run", "env", "scenario", "status", "RTO", "RPO", "verdict", "signed off"]


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """The run's metrics.json, or ``{}`` when it has none or it is unreadable."""
    try:
        data = json.loads((run_dir / METRICS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def rpo_text(measured: dict[str, Any]) -> str | None:
    """RPO over every store: total lost records and the longest span they cover."""
    rpo = measured.get("rpo")
    if not isinstance(rpo, dict) or not rpo:
        return None
    stores = [v for v in rpo.values() if isinstance(v, dict)]
    lost = sum(int(v.get("lost_records") or 0) for v in stores)
    span = max((float(v.get("span_seconds") or 0.0) for v in stores), default=0.0)
    untested = sorted(k for k, v in rpo.items() if isinstance(v, dict) and v.get("tested") is False)
    suffix = f" (NOT TESTED: {', '.join(untested)})" if untested else ""
    return f"{lost} lost / {span:.1f} s{suffix}"


_RUN_ID = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)_(?P<env>[a-z0-9]+)_(?P<scenario>[a-z0-9-]+?)"
                     r"(?:-\d+)?$")


def parse_run_id(run_id: str) -> dict[str, str]:
    """Start stamp, environment and scenario from a ``<UTC stamp>_<env>_<scenario>`` run id.

    Used only when a run recorded nothing else (it aborted before the drill wrote metrics).
    """
    match = _RUN_ID.match(run_id)
    if not match:
        return {}
    started = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return {"started_at": started.isoformat(), "environment": match["env"],
            "scenario": match["scenario"]}


def summarize_run(run_dir: Path) -> RunSummary:
    """The summary of one run folder, finalized or not."""
    metrics = read_metrics(run_dir)
    manifest: Manifest | None = None
    if (run_dir / MANIFEST_NAME).is_file():
        try:
            manifest = read_manifest(run_dir)
        except EvidenceError:
            manifest = None
    raw_measured = metrics.get("measured")
    measured: dict[str, Any] = raw_measured if isinstance(raw_measured, dict) else {}
    verdict = (manifest.verdict if manifest else None) or metrics.get("verdict")
    verdict_text = None
    if isinstance(verdict, dict) and "passed" in verdict:
        verdict_text = "pass" if verdict["passed"] else "fail"
    status = manifest.status if manifest else "not finalized"
    from_id = parse_run_id(run_dir.name)
    return RunSummary(
        run_id=run_dir.name,
        environment=(manifest.environment if manifest else None) or metrics.get("environment")
        or from_id.get("environment"),
        scenario=(manifest.scenario if manifest else None) or metrics.get("scenario")
        or from_id.get("scenario"),
        status=status,
        rto_seconds=measured.get("rto_seconds"),
        rpo=rpo_text(measured),
        verdict=verdict_text,
        signoffs=tuple(read_signoffs(run_dir)),
        manifest=manifest,
        metrics=metrics,
    )


def list_runs(outputs_dir: Path) -> list[RunSummary]:
    """Summaries of every run folder in ``outputs_dir``, oldest first."""
    return [summarize_run(p) for p in run_dirs(outputs_dir)]


def runs_table(summaries: Sequence[RunSummary]) -> str:
    """The table ``drlib evidence list`` prints."""
    return format_table(LIST_HEADERS, [s.row() for s in summaries])


def describe_run(run_dir: Path) -> str:
    """A readable account of one run: what, who, when, targets against measurements, findings."""
    summary = summarize_run(run_dir)
    manifest, metrics = summary.manifest, summary.metrics
    lines = [f"run        {summary.run_id}", f"status     {summary.status}"]
    if manifest is not None:
        identity = manifest.identity
        aws = identity.get("aws") or {}
        lines += [
            f"scenario   {manifest.scenario} in {manifest.environment}, target {manifest.target}"
            + (f" ({manifest.emulator_version})" if manifest.emulator_version else ""),
            f"regions    {_regions(manifest.regions)}",
            f"time       {manifest.started_at} -> {manifest.ended_at}",
            f"ran by     {aws.get('Arn', 'no AWS identity')}; "
            f"{identity.get('os_user')}@{identity.get('hostname')}",
            f"code       git {manifest.git.get('commit') or '?'}"
            + (" (uncommitted changes)" if manifest.git.get("dirty") else ""),
            f"chain      previous {manifest.chain.previous_run or 'genesis'}",
            f"files      {len(manifest.files)}",
        ]
    targets = (manifest.targets if manifest else None) or metrics.get("targets") or {}
    lines.append(f"RTO        measured {_seconds(summary.rto_seconds)}, "
                 f"target {_seconds(targets.get('rto_seconds'))}")
    lines.append(f"RPO        measured {summary.rpo or '-'}, "
                 f"target {_seconds(targets.get('rpo_seconds'))}")
    lines.append(f"verdict    {summary.verdict or '-'}")
    verdict = (manifest.verdict if manifest else None) or metrics.get("verdict") or {}
    for finding in verdict.get("findings", []) if isinstance(verdict, dict) else []:
        lines.append(f"  [{finding.get('severity')}] {finding.get('message')}")
    timeline = metrics.get("timeline") or []
    if timeline:
        lines.append("timeline")
        lines.append(_indent(format_table(
            ["step", "started", "ended", "outcome", "detail"],
            [[t.get("step"), t.get("started_at"), t.get("ended_at"), t.get("outcome"),
              t.get("detail")] for t in timeline])))
    for signoff in summary.signoffs:
        lines.append(f"signed off {signoff.reviewer} at {signoff.signed_at}: {signoff.comment}")
    if not summary.signoffs:
        lines.append("signed off no")
    return "\n".join(lines)


def _regions(regions: Any) -> str:
    if isinstance(regions, dict) and regions:
        return " / ".join(f"{k} {v}" for k, v in sorted(regions.items()))
    return "-"


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{float(value):g} s"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def utc_clock(stamp: Any, places: int = 3) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM:SS[.mmm]Z' (UTC); '' when absent.

    Without pandas for the ISO times drlib writes (the runner renders the auditor's report and
    need not import pandas and matplotlib for it); pandas reads any other form."""
    if not stamp:
        return ""
    try:
        moment: Any = datetime.fromisoformat(str(stamp))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
    except ValueError:
        import pandas as pd

        moment = pd.Timestamp(stamp)
        if moment.tzinfo is not None:
            moment = moment.tz_convert("UTC")
    text = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return (text[:-3] if places else text[:-7]) + "Z"
