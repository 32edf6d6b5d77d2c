"""The drill timeline: each step with its start, end and outcome, plus instantaneous events.

A :class:`Timeline` is filled by the drill runner as it goes and written into ``metrics.json``
(``timeline`` for steps, ``faults`` for events; see the metrics schema). It only records: the
runner enforces each step's timeout with :func:`drlib.waiting.wait_until`; the timeline notes when
a step ran past its timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd

from drlib.errors import ConfigError, DrillAborted, WaitTimeout

log = logging.getLogger(__name__)

Outcome = Literal["ok", "failed", "aborted", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "failed", "aborted", "skipped")

#: The event the RTO clock starts from.
DISASTER_DECLARED = "disaster-declared"


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_utc(value: datetime | str) -> datetime:
    """``value`` as an aware UTC datetime; naive datetimes are refused rather than guessed."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ConfigError(
            f"Naive datetime {value.isoformat()} in a drill record",
            expected="a timezone-aware UTC time",
            found="a datetime without tzinfo",
            fix="create times with datetime.now(UTC) or drlib.timeline.utc_now()",
        )
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of an aware datetime with millisecond precision, or None."""
    return None if value is None else value.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass
class StepRecord:
    """One drill step as it ran."""

    step: str
    started_at: datetime
    timeout_s: float
    ended_at: datetime | None = None
    outcome: Outcome | None = None
    detail: str = ""
    timed_out: bool = False
    runbook: str | None = None
    """The SSM Automation runbook whose step execution this is; None for drlib's own steps."""

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, or None while the step runs."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_record(self) -> dict[str, Any]:
        """The step as a metrics.json ``timeline`` entry."""
        return {
            "step": self.step,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "outcome": self.outcome,
            "detail": self.detail,
            "timeout_s": self.timeout_s,
            "timed_out": self.timed_out,
            "runbook": self.runbook,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StepRecord:
        """Rebuild a step from its metrics.json entry."""
        outcome = record.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise ConfigError(
                f"Unknown step outcome {outcome!r} for step {record.get('step')!r}",
                expected=" | ".join(OUTCOMES),
                found=repr(outcome),
                fix="correct the timeline entry in metrics.json",
            )
        ended = record.get("ended_at")
        return cls(
            step=str(record["step"]),
            started_at=to_utc(record["started_at"]),
            ended_at=None if ended is None else to_utc(ended),
            outcome=outcome,
            detail=str(record.get("detail", "")),
            timeout_s=float(record.get("timeout_s", 0.0)),
            timed_out=bool(record.get("timed_out", False)),
            runbook=record.get("runbook"),
        )


@dataclass
class TimelineEvent:
    """An instantaneous event: a fault injected, the disaster declared, a cut-over."""

    at: datetime
    action: str
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    kind: Literal["fault", "event"] = "event"

    def to_record(self) -> dict[str, Any]:
        """The event as a metrics.json ``faults`` entry (with its kind)."""
        return {"at": iso(self.at), "action": self.action, "target": self.target,
                "detail": dict(self.detail), "kind": self.kind}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TimelineEvent:
        """Rebuild an event from its metrics.json entry."""
        kind = record.get("kind", "fault")
        return cls(at=to_utc(record["at"]), action=str(record["action"]),
                   target=str(record.get("target", "")), detail=dict(record.get("detail") or {}),
                   kind="event" if kind == "event" else "fault")


class StepHandle:
    """What the body of ``with timeline.step(...)`` uses to annotate or skip its step."""

    def __init__(self, record: StepRecord) -> None:
        self.record = record
        self._forced: Outcome | None = None
        self._met_at: datetime | None = None

    @property
    def detail(self) -> str:
        """The step's detail text."""
        return self.record.detail

    @detail.setter
    def detail(self, text: str) -> None:
        self.record.detail = text

    def condition_met(self, at: datetime, resolution_s: float | None = None) -> None:
        """The step's condition became true at ``at`` (when its poll saw it, not when the body
        returns): the step ends there. ``resolution_s`` (the gap since the poll that still saw
        it false) is noted in the detail."""
        self._met_at = to_utc(at)
        if resolution_s is not None:
            note = f"condition observed true within {resolution_s:.3f} s"
            self.record.detail = f"{self.record.detail}; {note}" if self.record.detail else note

    def skip(self, reason: str) -> None:
        """Mark the step skipped (e.g. dry run, nothing to do); the body should then return."""
        self._forced = "skipped"
        self.record.detail = reason

    def abort(self, reason: str) -> None:
        """Mark the step aborted without raising (the runner decides what follows)."""
        self._forced = "aborted"
        self.record.detail = reason


class Timeline:
    """Steps and events of one drill, in the order they happened."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        self.steps: list[StepRecord] = []
        self.events: list[TimelineEvent] = []

    def now(self) -> datetime:
        """The timeline's clock (injected for tests)."""
        return to_utc(self._clock())

    @contextmanager
    def step(self, name: str, timeout_s: float, detail: str = "") -> Iterator[StepHandle]:
        """Record the step run by the ``with`` body.

        Outcome: ``ok`` when the body returns; ``failed`` when it raises (``aborted`` for
        :class:`DrillAborted`), and the exception propagates; or what the body set through the
        handle. A step that took longer than ``timeout_s``, or raised :class:`WaitTimeout`, is
        marked ``timed_out``.
        """
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        record = StepRecord(step=name, started_at=self.now(), timeout_s=timeout_s, detail=detail)
        self.steps.append(record)
        handle = StepHandle(record)
        log.info("step %s started (timeout %g s)", name, timeout_s)
        try:
            yield handle
        except BaseException as exc:
            record.ended_at = self.now()
            record.outcome = "aborted" if isinstance(exc, DrillAborted) else "failed"
            record.timed_out = isinstance(exc, WaitTimeout) or self._overran(record)
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            record.detail = f"{record.detail}; {first_line}" if record.detail else first_line
            log.warning("step %s %s: %s", name, record.outcome, first_line)
            raise
        record.ended_at = handle._met_at or self.now()
        record.outcome = handle._forced or "ok"
        if self._overran(record):
            record.timed_out = True
            note = f"took {record.duration_s:.1f} s, over its {timeout_s:g} s timeout"
            record.detail = f"{record.detail}; {note}" if record.detail else note
        log.info("step %s %s in %.3f s", name, record.outcome, record.duration_s or 0.0)

    @staticmethod
    def _overran(record: StepRecord) -> bool:
        duration = record.duration_s
        return duration is not None and duration > record.timeout_s

    def add_event(self, action: str, target: str = "", detail: Mapping[str, Any] | None = None,
                  *, at: datetime | None = None, kind: Literal["fault", "event"] = "event",
                  ) -> TimelineEvent:
        """Record an instantaneous event, now or at ``at``."""
        event = TimelineEvent(at=self.now() if at is None else to_utc(at), action=action,
                              target=target, detail=dict(detail or {}), kind=kind)
        self.events.append(event)
        log.info("%s %s %s", kind, action, target)
        return event

    def add_fault(self, action: str, target: str = "", detail: Mapping[str, Any] | None = None,
                  *, at: datetime | None = None) -> TimelineEvent:
        """Record an injected fault (region-down, replication-paused, ...)."""
        return self.add_event(action, target, detail, at=at, kind="fault")

    def declare_disaster(self, reason: str = "", *, at: datetime | None = None) -> TimelineEvent:
        """Record the moment the disaster is declared: the start of the RTO clock."""
        return self.add_event(DISASTER_DECLARED, detail={"reason": reason} if reason else None,
                              at=at)

    @property
    def disaster_declared_at(self) -> datetime | None:
        """When the disaster was (first) declared, or None."""
        times = [e.at for e in self.events if e.action == DISASTER_DECLARED]
        return min(times) if times else None

    @property
    def faults(self) -> list[TimelineEvent]:
        """The fault events only."""
        return [e for e in self.events if e.kind == "fault"]

    @property
    def status(self) -> Literal["passed", "failed", "aborted"]:
        """How the steps went: aborted if any step aborted, failed if any failed."""
        outcomes = {s.outcome for s in self.steps}
        if "aborted" in outcomes:
            return "aborted"
        if "failed" in outcomes or None in outcomes:
            return "failed"
        return "passed"

    def to_records(self) -> list[dict[str, Any]]:
        """The steps as metrics.json ``timeline`` entries, in start order."""
        return [s.to_record() for s in sorted(self.steps, key=lambda s: s.started_at)]

    def events_to_records(self) -> list[dict[str, Any]]:
        """The events as metrics.json ``faults`` entries, in time order."""
        return [e.to_record() for e in sorted(self.events, key=lambda e: e.at)]

    def to_frame(self) -> pd.DataFrame:
        """The steps as a DataFrame (datetime columns, one row per step, with duration_s)."""
        columns = ["step", "started_at", "ended_at", "outcome", "detail", "timeout_s",
                   "timed_out", "runbook", "duration_s"]
        rows = [{**r.__dict__, "duration_s": r.duration_s}
                for r in sorted(self.steps, key=lambda s: s.started_at)]
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("started_at", "ended_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def events_frame(self) -> pd.DataFrame:
        """The events as a DataFrame (at, action, target, kind, detail)."""
        rows = [e.__dict__ for e in sorted(self.events, key=lambda e: e.at)]
        frame = pd.DataFrame(rows, columns=["at", "action", "target", "detail", "kind"])
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    @classmethod
    def from_records(cls, steps: Sequence[Mapping[str, Any]],
                     events: Sequence[Mapping[str, Any]] = ()) -> Timeline:
        """Rebuild a timeline from metrics.json ``timeline`` and ``faults`` entries."""
        timeline = cls()
        timeline.steps = [StepRecord.from_record(r) for r in steps]
        timeline.events = [TimelineEvent.from_record(r) for r in events]
        return timeline
