"""``drlib evidence ...``: verify, list, show, report, upload and sign off run bundles."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DEFAULT_OUTPUTS = Path("outputs")


def add_evidence_commands(subparsers: Any) -> None:
    """Add ``evidence`` and its actions to the ``drlib`` command's subparsers."""
    evidence = subparsers.add_parser("evidence", help="verify, list, show, upload, sign off runs")
    actions = evidence.add_subparsers(dest="evidence_command", required=True, metavar="ACTION")

    verify = actions.add_parser("verify", help="check runs and the chain; exit 1 if anything "
                                               "changed, 3 if nothing changed but a run is "
                                               "unsealed")
    verify.add_argument("run", nargs="?", default=None,
                        help="a run id or run folder (default: every run and the whole chain)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument("--bucket", default=None,
                        help="also compare RUN with its archived copy in this Object Lock bucket")
    verify.add_argument("--region", default="us-east-1", help="the bucket's region")
    verify.add_argument("--profile", default=None, help="named AWS profile (default: boto3's)")
    verify.set_defaults(func=_verify)

    listing = actions.add_parser("list", help="a table of every run")
    listing.set_defaults(func=_list)

    show = actions.add_parser("show", help="the summary of one run")
    show.add_argument("run", help="a run id or run folder")
    show.set_defaults(func=_show)

    upload = actions.add_parser("upload", help="archive a run in an S3 Object Lock bucket")
    upload.add_argument("run", help="a run id or run folder")
    upload.add_argument("--bucket", required=True, help="the evidence bucket (Object Lock on)")
    upload.add_argument("--region", default="us-east-1", help="the bucket's region")
    upload.add_argument("--retention-days", type=int, default=None,
                        help="explicit COMPLIANCE retention (default: the bucket's default)")
    upload.add_argument("--profile", default=None, help="named AWS profile (default: boto3's)")
    upload.set_defaults(func=_upload)

    signoff = actions.add_parser("sign-off", help="add a reviewer's chained sign-off to a run")
    signoff.add_argument("run", help="a run id or run folder")
    signoff.add_argument("--reviewer", required=True, help="the reviewer's name")
    signoff.add_argument("--comment", required=True, help="what was reviewed and concluded")
    signoff.set_defaults(func=_sign_off)

    seal = actions.add_parser("seal", help="seal a run left unsealed by a crash (status "
                                           "crashed)")
    seal.add_argument("run", help="a run id or run folder")
    seal.add_argument("--yes", action="store_true",
                      help="seal even when it cannot be told whether its runner still runs")
    seal.set_defaults(func=_seal)

    report = actions.add_parser("report", help="render the auditor's report of a sealed run "
                                               "that has none (sealing renders it)")
    report.add_argument("run", help="a run id or run folder")
    pdf = report.add_mutually_exclusive_group()
    pdf.add_argument("--pdf", dest="pdf", action="store_true", default=None,
                     help="require report.pdf (printed by headless Chromium)")
    pdf.add_argument("--no-pdf", dest="pdf", action="store_false",
                     help="no report.pdf (default: printed when Chromium is found)")
    report.set_defaults(func=_report)

    for sub in (verify, listing, show, report, upload, signoff, seal):
        sub.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS,
                         help="the outputs folder holding the run folders (default: outputs)")


def _verify(args: argparse.Namespace) -> int:
    from drlib.evidence.verify import verify

    reports = [verify(args.outputs, run=args.run)]
    if args.bucket:
        reports.append(_verify_archive(args))
    for report in reports:
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.table())
    codes = [report.exit_code if hasattr(report, "exit_code") else (0 if report.ok else 1)
             for report in reports]
    return 1 if 1 in codes else max(codes)


def _seal(args: argparse.Namespace) -> int:
    from drlib.evidence.chain import resolve_run
    from drlib.run_marker import seal_crashed

    run_dir = resolve_run(args.outputs, args.run)
    manifest = seal_crashed(run_dir, secrets=None, force=args.yes,
                            secrets_unavailable="sealed by hand: the secret values were not read")
    print(f"sealed run {manifest.run_id} as {manifest.status} ({manifest.secret_scan})")
    return 0


def _report(args: argparse.Namespace) -> int:
    from drlib.errors import EvidenceError
    from drlib.evidence.auditor import render_report
    from drlib.evidence.chain import resolve_run
    from drlib.evidence.verify import verify

    run_dir = resolve_run(args.outputs, args.run)
    check = verify(run_dir.parent, run=run_dir.name)
    changes = [p for p in check.problems if p.kind != "report-missing"]
    if changes or check.unsealed:
        raise EvidenceError(f"run {run_dir.name} is not an unaltered sealed run; no report is "
                            "rendered from it", expected="a sealed run that verifies",
                            found="\n" + check.table(),
                            fix="seal it first (drlib evidence seal RUN), or investigate the "
                                "changes")
    record = render_report(run_dir, pdf=args.pdf)
    for entry in record.files:
        print(f"{run_dir / entry['path']}  sha256 {entry['sha256']}")
    print(f"recorded in {run_dir / 'report.json'} with the manifest's SHA-256 "
          f"{record.manifest_sha256}; pdf: {record.pdf}")
    return 0


def _verify_archive(args: argparse.Namespace) -> Any:
    from drlib.aws import AwsClients
    from drlib.errors import ConfigError
    from drlib.evidence.archive import verify_archive
    from drlib.evidence.chain import resolve_run

    if args.run is None:
        raise ConfigError("--bucket needs a RUN to compare with its archived copy",
                          expected="drlib evidence verify RUN --bucket B", found="no RUN",
                          fix="name the run")
    clients = AwsClients(profiles={args.region: args.profile} if args.profile else {})
    return verify_archive(clients, resolve_run(args.outputs, args.run), args.bucket, args.region)


def _list(args: argparse.Namespace) -> int:
    from drlib.evidence.summary import list_runs, runs_table

    runs = list_runs(args.outputs)
    print(runs_table(runs) if runs else f"no runs in {args.outputs}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from drlib.evidence.chain import resolve_run
    from drlib.evidence.summary import describe_run
    from drlib.evidence.verify import verify

    run_dir = resolve_run(args.outputs, args.run)
    print(describe_run(run_dir))
    report = verify(run_dir.parent, run=run_dir.name)
    print(f"integrity  {report.table()}")
    if (run_dir / "report.html").is_file():
        print(f"report     {run_dir / 'report.html'} (the auditor's report, one file)")
    return 0


def _upload(args: argparse.Namespace) -> int:
    from drlib.aws import AwsClients
    from drlib.evidence.chain import resolve_run
    from drlib.evidence.upload import upload_run

    run_dir = resolve_run(args.outputs, args.run)
    clients = AwsClients(profiles={args.region: args.profile} if args.profile else {})
    report = upload_run(clients, run_dir, args.bucket, args.region,
                        retention_days=args.retention_days)
    print(report.table())
    return 0


def _sign_off(args: argparse.Namespace) -> int:
    from drlib.evidence.chain import resolve_run
    from drlib.evidence.signoff import sign_off

    run_dir = resolve_run(args.outputs, args.run)
    signoff = sign_off(run_dir, args.reviewer, args.comment)
    print(f"signed off run {signoff.run_id} as {signoff.reviewer} at {signoff.signed_at} "
          f"({signoff.path}, manifest sha256 {signoff.manifest_sha256})")
    return 0
