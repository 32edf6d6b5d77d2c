"""Work moto repeats that answers the same each time, done once or when first needed. Nothing a
client sees changes; the suite's CPU profile found both (``py-spy`` over ``make test``).

- **Which service a request is for.** moto's dispatcher asks, on every request, whether the
  host names one of moto's modules, by listing moto's package folder and checking each entry
  for being a folder (about 200 ``stat`` calls per request). The list is read once.
- **botocore's data.** moto makes boto3 sessions of its own (the regions of each service, of
  EC2's zones), each reading and parsing botocore's endpoints and models again (about 0.3 s
  each); the emulator's sessions share what was read (:func:`drlib.aws.model_loader`), and the
  regions of a service are computed once, not once per account's backend.
- **YAML documents.** moto reads a Systems Manager document's YAML with PyYAML's pure-Python
  safe loader; it now uses libyaml's (``CSafeLoader``, the same mapping, about ten times faster).
- **The public AMIs of an EC2 region.** Every new EC2 backend (each region touched, after each
  reset) loads about 1,300 public AMIs, each with a volume and a snapshot of its own (about
  0.1 s of CPU per region), though a drill never reads them. They are now loaded on the
  backend's first read of its images or snapshots, the same images and snapshots as before.
"""

from __future__ import annotations

import threading
from typing import Any

from drlib.emulator.lazy_patch import when_imported

_AMIS_LOADING = threading.RLock()
"""Held while a backend loads its AMIs: another thread reading them waits for all of them."""

_original_load_amis: Any = None


_regions: dict[str, list[str]] = {}


def install() -> None:
    """Read moto's module list once, botocore's data once, each service's regions once; make
    EC2's public AMIs load on first read."""
    import botocore.session
    import moto.backends
    from moto.core.base_backend import AccountSpecificBackend

    from drlib.aws import model_loader

    botocore.session.create_loader = model_loader
    generate_regions = AccountSpecificBackend._generate_regions
    if not getattr(generate_regions, "drlib_once", False):
        def regions_of(backend: Any, service_name: str) -> list[str]:
            if service_name not in _regions:
                _regions[service_name] = list(generate_regions(backend, service_name))
            return list(_regions[service_name])

        regions_of.drlib_once = True  # type: ignore[attr-defined]
        AccountSpecificBackend._generate_regions = regions_of  # type: ignore[method-assign,assignment]

    if not getattr(moto.backends.list_of_moto_modules, "drlib_once", False):
        modules = tuple(moto.backends.list_of_moto_modules())

        def list_of_moto_modules() -> tuple[str, ...]:
            return modules

        list_of_moto_modules.drlib_once = True  # type: ignore[attr-defined]
        moto.backends.list_of_moto_modules = list_of_moto_modules
    when_imported("moto.ec2.models", _load_amis_on_first_read)
    when_imported("moto.ssm.models", _ssm_documents_read_by_libyaml)


class _LibyamlSafeLoad:
    """PyYAML as moto's SSM models use it, ``safe_load`` over libyaml."""

    def __getattr__(self, name: str) -> Any:
        import yaml

        return getattr(yaml, name)

    @staticmethod
    def safe_load(stream: Any) -> Any:
        import yaml

        from drlib.emulator.automation.validation import SAFE_LOADER

        return yaml.load(stream, Loader=SAFE_LOADER)


def _ssm_documents_read_by_libyaml() -> None:
    import moto.ssm.models

    if not isinstance(moto.ssm.models.yaml, _LibyamlSafeLoad):
        moto.ssm.models.yaml = _LibyamlSafeLoad()  # type: ignore[assignment]


def _load_amis_on_first_read() -> None:
    global _original_load_amis
    from moto.ec2.models.amis import AmiBackend
    from moto.ec2.models.elastic_block_store import EBSBackend
    from moto.ec2.models.instances import InstanceBackend

    if _original_load_amis is not None:
        return
    _original_load_amis = AmiBackend._load_amis
    AmiBackend._load_amis = _defer_amis  # type: ignore[method-assign,assignment]
    AmiBackend.amis = property(_amis, _set_amis)  # type: ignore[assignment]
    EBSBackend.snapshots = property(_snapshots, _set_snapshots)  # type: ignore[assignment]
    # An instance reads its image after its LaunchTime is taken and before its volumes are
    # made: the loading must not fall between them (as it did not when the backend loaded
    # them at its making).
    run_instances = InstanceBackend.run_instances

    def run_instances_with_amis_read(backend: Any, *args: Any, **kwargs: Any) -> Any:
        _ensure_amis(backend)
        return run_instances(backend, *args, **kwargs)

    InstanceBackend.run_instances = run_instances_with_amis_read  # type: ignore[method-assign,assignment]


def _defer_amis(backend: Any) -> None:
    """In place of moto's ``_load_amis`` at the backend's making: load on first read."""
    backend.__dict__["_drlib_amis_loaded"] = False


def _ensure_amis(backend: Any) -> None:
    state = backend.__dict__
    if state.get("_drlib_amis_loaded", True):
        return
    with _AMIS_LOADING:
        # Loading reads ``amis`` and ``snapshots`` itself (same thread, re-entered): it goes on.
        if state["_drlib_amis_loaded"] or state.get("_drlib_amis_loading"):
            return
        state["_drlib_amis_loading"] = True
        try:
            _original_load_amis(backend)
        finally:
            state["_drlib_amis_loaded"] = True
            state.pop("_drlib_amis_loading", None)


def _amis(backend: Any) -> dict[str, Any]:
    _ensure_amis(backend)
    return backend.__dict__["_drlib_amis"]


def _set_amis(backend: Any, value: dict[str, Any]) -> None:
    backend.__dict__["_drlib_amis"] = value


def _snapshots(backend: Any) -> dict[str, Any]:
    _ensure_amis(backend)  # a public AMI's snapshot is listed as before
    return backend.__dict__["_drlib_snapshots"]


def _set_snapshots(backend: Any, value: dict[str, Any]) -> None:
    backend.__dict__["_drlib_snapshots"] = value
