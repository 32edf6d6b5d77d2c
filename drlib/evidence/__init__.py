"""Evidence of drill runs that stands up to an audit.

One folder per run, sealed by :func:`finalize_run` with a manifest that hashes every file and
chains to the previous run; :func:`verify` says exactly what changed; :func:`sign_off` adds a
reviewer's chained sign-off; :func:`upload_run` archives a bundle under S3 Object Lock.
"""

from drlib.evidence.archive import verify_archive
from drlib.evidence.finalize import finalize_run
from drlib.evidence.manifest import FileEntry, Manifest, read_manifest
from drlib.evidence.problems import Problem
from drlib.evidence.secrets import mask_secrets
from drlib.evidence.signoff import SignOff, sign_off
from drlib.evidence.summary import describe_run, list_runs, runs_table
from drlib.evidence.upload import UploadReport, upload_run
from drlib.evidence.verify import VerifyReport, verify

__all__ = [
    "FileEntry",
    "Manifest",
    "Problem",
    "SignOff",
    "UploadReport",
    "VerifyReport",
    "describe_run",
    "finalize_run",
    "list_runs",
    "mask_secrets",
    "read_manifest",
    "runs_table",
    "sign_off",
    "upload_run",
    "verify",
    "verify_archive",
]
