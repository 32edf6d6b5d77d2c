"""Work moto repeats that answers the same each time, done once or when first needed. Nothing a
client sees changes; CPU profiles (``py-spy`` over ``make test`` and over a deploy) found it.

- **Which service a request is for.** moto's dispatcher asks, on every request, whether the
  host names one of moto's modules, by listing moto's package folder and checking each entry
  for being a folder (about 200 ``stat`` calls per request). The list is read once.
- **botocore's data.** moto makes boto3 sessions of its own (the regions of each service, of
  EC2's zones), each reading and parsing botocore's endpoints and models again (about 0.3 s
  each); the emulator's sessions share what was read (:func:`drlib.aws.model_loader`), and the
  regions of a service are computed once, not once per account's backend.
- **YAML documents.** moto reads a Systems Manager document's YAML with PyYAML's pure-Python
  safe loader; it now uses libyaml's where it reads the same (``validation.safe_load``: the
  same mapping, about ten times faster; PyYAML's own for text with a tab and for errors).
- **The public AMIs of an EC2 region.** Every new EC2 backend (each region touched, after each
  reset) loads about 1,300 public AMIs, each with a volume and a snapshot of its own (about
  0.1 s of CPU per region), though a drill never reads them. They are now loaded on the
  backend's first read of its images, snapshots or volumes, and before it runs an instance:
  the same images, snapshots and volumes as before.
"""

from __future__ import annotations

import threading
from typing import Any

from drlib.emulator.lazy_patch import when_imported
from drlib.emulator.patching import wrap_once

MARK = "_drlib_moto_speed"

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
    wrap_once(AccountSpecificBackend, "_generate_regions", _regions_once, MARK)
    wrap_once(moto.backends, "list_of_moto_modules", _listed_once, MARK)
    when_imported("moto.ec2.models", _load_amis_on_first_read)
    when_imported("moto.ssm.models", _ssm_documents_read_by_libyaml)


def _listed_once(original: Any) -> Any:
    modules = tuple(original())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    return list_of_moto_modules


def _regions_once(original: Any) -> Any:
    def regions_of(backend: Any, service_name: str) -> list[str]:
        if service_name not in _regions:  # moto extends a copy (AccountSpecificBackend.regions)
            _regions[service_name] = list(original(backend, service_name))
        return _regions[service_name]

    return regions_of


class _LibyamlSafeLoad:
    """PyYAML as moto's SSM models use it, ``safe_load`` over libyaml."""

    def __getattr__(self, name: str) -> Any:
        import yaml

        return getattr(yaml, name)

    @staticmethod
    def safe_load(stream: Any) -> Any:
        from drlib.emulator.automation.validation import safe_load

        return safe_load(stream)


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
    # What the loading fills: the images, and (made and deleted, or kept) the volumes and
    # snapshots of each. Reading any of them first waits for, or does, the loading.
    AmiBackend.amis = _loaded_first("amis")  # type: ignore[assignment]
    EBSBackend.snapshots = _loaded_first("snapshots")  # type: ignore[assignment]
    EBSBackend.volumes = _loaded_first("volumes")  # type: ignore[assignment]
    # An instance reads its image after its LaunchTime is taken and before its volumes are
    # made: the loading must not fall between them (as it did not when the backend loaded
    # them at its making).
    wrap_once(InstanceBackend, "run_instances", _amis_read_first, MARK)


def _amis_read_first(run_instances: Any) -> Any:
    def run_instances_with_amis_read(backend: Any, *args: Any, **kwargs: Any) -> Any:
        _ensure_amis(backend)
        return run_instances(backend, *args, **kwargs)

    return run_instances_with_amis_read


def _loaded_first(name: str) -> property:
    """The backend's attribute ``name``, read once its AMIs are loaded."""
    key = f"_drlib_{name}"

    def read(backend: Any) -> Any:
        _ensure_amis(backend)
        return backend.__dict__[key]

    def write(backend: Any, value: Any) -> None:
        backend.__dict__[key] = value

    return property(read, write)


def _defer_amis(backend: Any) -> None:
    """In place of moto's ``_load_amis`` at the backend's making: load on first read."""
    backend.__dict__["_drlib_amis_loaded"] = False


def _ensure_amis(backend: Any) -> None:
    state = backend.__dict__
    if state.get("_drlib_amis_loaded", True):
        return
    with _AMIS_LOADING:
        # Loading reads ``amis``, ``volumes`` and ``snapshots`` itself (the same thread, back
        # in here): it goes on. Another thread waits above for the whole loading.
        if state["_drlib_amis_loaded"] or state.get("_drlib_amis_loading"):
            return
        state["_drlib_amis_loading"] = True
        try:
            _original_load_amis(backend)
            state["_drlib_amis_loaded"] = True  # not after a failure: the next read tries again
        finally:
            state.pop("_drlib_amis_loading", None)
