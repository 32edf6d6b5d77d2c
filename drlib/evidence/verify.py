"""Verification of evidence bundles: every file, every manifest, every link, every sign-off.

The report says exactly what changed: which run, which file, which hash was recorded and which
one is there now; the auditor's report of a run and its ``report.json`` too
(:func:`drlib.evidence.addendum.check_report`). A run folder without a manifest that no other
manifest chains to is *unsealed* (a drill still running, or one that crashed before sealing),
reported apart from changes: it is not tampering, and it has its own exit code
(:data:`EXIT_UNSEALED`). A deleted manifest that the next run chains to is a change
(``chain-missing-run``).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from drlib.errors import EvidenceError
from drlib.evidence.addendum import check_report
from drlib.evidence.chain import resolve_run, run_dirs
from drlib.evidence.manifest import (
    GENESIS,
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    bundle_files,
    content_digest,
    read_manifest_document,
    sha256_file,
)
from drlib.evidence.problems import Problem
from drlib.evidence.signoff import check_signoffs, signoff_files
from drlib.evidence.summary import format_table

EXIT_OK = 0
EXIT_CHANGED = 1
"""``drlib evidence verify``: something changed (tampering or damage); wins over unsealed."""
EXIT_UNSEALED = 3
"""``drlib evidence verify``: nothing changed, but some run folder is not sealed yet."""


@dataclass(frozen=True)
class Unsealed:
    """A run folder without a manifest: ``running`` (its runner lives), ``crashed`` (its runner
    is gone: seal it with ``drlib evidence seal RUN``) or ``unknown`` (no runner record, or
    another host)."""

    run: str
    state: str
    detail: str


@dataclass
class VerifyReport:
    """The outcome of :func:`verify`: the runs checked and every problem found."""

    outputs_dir: Path
    runs: list[str]
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    signoffs_checked: int = 0
    unsealed: list[Unsealed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing changed and every run is sealed."""
        return not self.problems and not self.unsealed

    @property
    def changed(self) -> bool:
        """Whether anything changed (tampering or damage); unsealed runs do not count."""
        return bool(self.problems)

    @property
    def exit_code(self) -> int:
        """0 all sealed and unchanged; 1 something changed; 3 only unsealed runs."""
        if self.problems:
            return EXIT_CHANGED
        return EXIT_UNSEALED if self.unsealed else EXIT_OK

    def table(self) -> str:
        """The problems as a readable table (or a one-line all-clear)."""
        if self.ok:
            return (f"OK: {len(self.runs)} run(s), {self.files_checked} file(s), "
                    f"{self.signoffs_checked} sign-off(s) verified in {self.outputs_dir}")
        if not self.problems:
            return (f"UNSEALED: nothing changed in {len(self.runs)} run(s) in "
                    f"{self.outputs_dir}, but {len(self.unsealed)} run folder(s) are not sealed"
                    "\n" + self._unsealed_table())
        return self._changed_table() + ("\n" + self._unsealed_table() if self.unsealed
                                        else "")

    def _unsealed_table(self) -> str:
        return format_table(["unsealed run", "state", "detail"],
                            [[u.run, u.state, u.detail] for u in self.unsealed])

    def _changed_table(self) -> str:
        rows = [[p.kind, p.run, p.path or "-", p.detail, _short(p.expected), _short(p.actual)]
                for p in self.problems]
        header = (f"CHANGED: {len(self.problems)} problem(s) in {len(self.runs)} run(s) "
                  f"in {self.outputs_dir}")
        return header + "\n" + format_table(
            ["kind", "run", "path", "detail", "recorded sha256", "found sha256"], rows)

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-able data (full hashes)."""
        return {"ok": self.ok, "outputs_dir": str(self.outputs_dir), "runs": self.runs,
                "files_checked": self.files_checked, "signoffs_checked": self.signoffs_checked,
                "changed": self.changed, "exit_code": self.exit_code,
                "problems": [dataclasses.asdict(p) for p in self.problems],
                "unsealed": [dataclasses.asdict(u) for u in self.unsealed]}

    def __str__(self) -> str:
        return self.table()


def _short(digest: str | None) -> str | None:
    # 16 hex digits identify a file's version unambiguously in a report a person reads.
    return None if digest is None else digest[:16]


def verify(outputs_dir: Path, run: str | Path | None = None) -> VerifyReport:
    """Verify one run (``run``: id or path) or every run and the whole chain in ``outputs_dir``."""
    outputs_dir = Path(outputs_dir).resolve()
    if run is not None:
        run_dir = resolve_run(outputs_dir, run)
        outputs_dir = run_dir.parent
        selected = [run_dir]
    else:
        if not outputs_dir.is_dir():
            raise EvidenceError(f"no outputs folder {outputs_dir}",
                                expected="a folder of run bundles", found="no such directory",
                                fix="pass --outputs DIR")
        selected = run_dirs(outputs_dir)
    report = VerifyReport(outputs_dir=outputs_dir, runs=[p.name for p in selected])
    manifests = _load_manifests(outputs_dir, report)
    for run_dir in selected:
        _verify_run(run_dir, manifests, report)
    names = {p.name for p in selected}
    chain = _chain_problems(manifests)
    report.problems.extend(problem for problem, involved in chain
                           if run is None or involved & names)
    # A manifest-less folder the chain points at lost its manifest (a change, reported by the
    # chain); any other one was never sealed.
    chained_to = {problem.run for problem, _ in chain if problem.kind == "chain-missing-run"}
    for name, loaded in manifests.items():
        if loaded is None and name in names and name in chained_to:
            report.problems.append(Problem("not-finalized", name, MANIFEST_NAME,
                                           "the run folder has no manifest.json"))
        elif (loaded is None and name in names
              and not (outputs_dir / name / MANIFEST_NAME).exists()):
            report.unsealed.append(_describe_unsealed(outputs_dir / name))
    return report


def _describe_unsealed(run_dir: Path) -> Unsealed:
    from drlib.run_marker import runner_state

    state, detail = runner_state(run_dir)
    return Unsealed(run_dir.name, state, detail)


@dataclass(frozen=True)
class _Loaded:
    manifest: Manifest
    digest_ok: bool
    recorded_digest: str | None
    actual_digest: str
    sha256: str


def _load_manifests(outputs_dir: Path, report: VerifyReport) -> dict[str, _Loaded | None]:
    """Every run's manifest: loaded, ``None`` when absent or unreadable (problems recorded)."""
    loaded: dict[str, _Loaded | None] = {}
    selected = set(report.runs)
    for run_dir in run_dirs(outputs_dir):
        name = run_dir.name
        if not (run_dir / MANIFEST_NAME).is_file():
            loaded[name] = None
            continue
        try:
            document = read_manifest_document(run_dir)
            manifest = Manifest.from_dict(document)
        except EvidenceError as exc:
            loaded[name] = None
            if name in selected:
                report.problems.append(Problem("manifest-unreadable", name, MANIFEST_NAME,
                                               exc.message + (f": {exc.found}" if exc.found
                                                              else "")))
            continue
        actual = content_digest(document)
        loaded[name] = _Loaded(manifest, document.get("content_sha256") == actual,
                               document.get("content_sha256"), actual,
                               sha256_file(run_dir / MANIFEST_NAME))
    return loaded


def _verify_run(run_dir: Path, manifests: dict[str, _Loaded | None],
                report: VerifyReport) -> None:
    run = run_dir.name
    report.signoffs_checked += len(signoff_files(run_dir))
    report.problems.extend(check_signoffs(run_dir))
    loaded = manifests.get(run)
    if loaded is None:
        return
    if not loaded.digest_ok:
        report.problems.append(Problem(
            "manifest-modified", run, MANIFEST_NAME,
            "manifest.json was edited after it was written",
            expected=loaded.recorded_digest, actual=loaded.actual_digest))
    try:
        present = set(bundle_files(run_dir))
    except EvidenceError as exc:
        report.problems.append(Problem("unsafe-file", run, None, exc.message))
        return
    listed = {entry.path: entry for entry in loaded.manifest.files}
    for path in sorted(present | set(listed)):
        report.problems.extend(_check_file(run_dir, path, listed.get(path), path in present))
        report.files_checked += 1
    problems, checked = check_report(run_dir, loaded.manifest)
    report.problems.extend(problems)
    report.files_checked += checked


def _check_file(run_dir: Path, path: str, entry: FileEntry | None,
                present: bool) -> list[Problem]:
    run = run_dir.name
    if entry is None:
        return [Problem("added", run, path, "not in the manifest",
                        actual=sha256_file(run_dir / path))]
    expected = entry.sha256
    if not present:
        return [Problem("removed", run, path, "listed in the manifest, missing from the folder",
                        expected=expected)]
    actual = sha256_file(run_dir / path)
    if actual != expected:
        return [Problem("modified", run, path, "content differs from the manifest",
                        expected=expected, actual=actual)]
    return []


def _chain_problems(manifests: dict[str, _Loaded | None]) -> list[tuple[Problem, set[str]]]:
    """Broken, dangling and forked links between the manifests of an outputs folder, each with
    the runs it involves."""
    problems: list[tuple[Problem, set[str]]] = []
    successors: dict[str, list[str]] = defaultdict(list)
    for name, loaded in sorted(manifests.items()):
        if loaded is None:
            continue
        link = loaded.manifest.chain
        successors[link.previous_run or GENESIS].append(name)
        if link.is_genesis:
            continue
        previous = link.previous_run or ""
        target = manifests.get(previous, "absent")
        if target == "absent":
            problems.append((Problem(
                "chain-missing-run", previous, None,
                f"run {name} chains to run {previous}, whose folder is gone",
                expected=link.previous_manifest_sha256), {name, previous}))
        elif target is None:
            problems.append((Problem(
                "chain-missing-run", previous, MANIFEST_NAME,
                f"run {name} chains to run {previous}, whose manifest is missing or unreadable",
                expected=link.previous_manifest_sha256), {name, previous}))
        elif isinstance(target, _Loaded) and target.sha256 != link.previous_manifest_sha256:
            problems.append((Problem(
                "chain-broken", previous, MANIFEST_NAME,
                f"the manifest of run {previous} changed after run {name} chained to it",
                expected=link.previous_manifest_sha256, actual=target.sha256), {name, previous}))
    for previous, names in sorted(successors.items()):
        if len(names) > 1:
            problems.append((Problem(
                "chain-forked", names[-1], MANIFEST_NAME,
                f"runs {', '.join(names)} all chain to {previous}; "
                "one of them was added outside the chain"), set(names)))
    return problems
