"""moto's repeated work done once or when first needed, with the same answers
(``drlib.emulator.extensions.moto_speed``)."""

from __future__ import annotations

import os
import threading
from typing import Any

import moto
import moto.backends
import pytest

from drlib.aws import AwsClients

ACCOUNT = "123456789012"


def _fresh_ec2_backend(region: str) -> Any:
    from moto.ec2.models import ec2_backends

    backends = ec2_backends[ACCOUNT]
    backends.pop(region, None)
    return backends[region]


def test_moto_s_module_list_is_read_once_and_is_the_same(aws: AwsClients) -> None:
    """The dispatcher's list of moto's modules is the folder's listing, read once."""
    folder = os.path.dirname(moto.__file__)
    listed = sorted(name for name in os.listdir(folder)
                    if os.path.isdir(os.path.join(folder, name)) and not name.startswith("__"))
    assert list(moto.backends.list_of_moto_modules()) == listed
    assert moto.backends.list_of_moto_modules() is moto.backends.list_of_moto_modules()
    assert {"ec2", "s3", "dynamodb"} <= set(listed)


def test_public_amis_load_on_first_read_with_their_snapshots(aws: AwsClients) -> None:
    """A new region's EC2 backend has not loaded its public AMIs; its first read of images (or
    of snapshots) loads them all, each with its snapshot, as moto made them at once before."""
    from moto.ec2.models.amis import AMIS

    backend = _fresh_ec2_backend("eu-west-3")
    assert backend.__dict__["_drlib_amis_loaded"] is False
    snapshots = backend.snapshots  # the snapshots first: they are the AMIs' too
    assert backend.__dict__["_drlib_amis_loaded"] is True
    assert len(backend.amis) > len(AMIS)
    assert {s.from_ami for s in snapshots.values()} == set(backend.amis)
    # Through the API, in another region.
    ec2 = aws.client("ec2", "eu-central-1")
    found = ec2.describe_images(ImageIds=[AMIS[0]["ami_id"]])["Images"]
    assert [image["ImageId"] for image in found] == [AMIS[0]["ami_id"]]
    snapshot = found[0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    assert ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]["SnapshotId"] == \
        snapshot


def test_threads_reading_at_once_all_see_every_ami(aws: AwsClients) -> None:
    """While one thread loads, another that reads waits for all of them (none sees a part)."""
    backend = _fresh_ec2_backend("ap-south-1")
    barrier = threading.Barrier(4)
    counts: list[int] = []

    def read() -> None:
        barrier.wait()
        counts.append(len(backend.amis))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(counts) == 4
    assert set(counts) == {len(backend.amis)}
    assert counts[0] > 1000


def test_sessions_in_the_emulator_share_botocore_s_data_and_each_service_s_regions(
        aws: AwsClients) -> None:
    """moto's own sessions read botocore's data once; a service's regions, computed once, are
    those botocore lists in every partition."""
    import botocore.loaders
    import botocore.session
    from moto.core.base_backend import AccountSpecificBackend
    from moto.ec2.models import ec2_backends

    first, second = (botocore.session.get_session().get_component("data_loader")
                     for _ in range(2))
    assert first is not second
    assert first.load_data("endpoints") is second.load_data("endpoints")
    plain = botocore.session.get_session()
    plain.register_component("data_loader", botocore.loaders.Loader())
    expected = [region for partition in plain.get_available_partitions()
                for region in plain.get_available_regions("ec2", partition_name=partition)]
    assert ec2_backends[ACCOUNT].regions[:len(expected)] == expected
    assert AccountSpecificBackend._generate_regions(ec2_backends[ACCOUNT], "ec2") == expected


def test_ssm_yaml_documents_are_read_by_libyaml_to_the_same_content(aws: AwsClients) -> None:
    """A YAML document is read by moto with libyaml's safe loader, to what PyYAML's own reads."""
    import moto.ssm.models
    import yaml

    from drlib.emulator.extensions.moto_speed import _LibyamlSafeLoad

    content = ("schemaVersion: '0.3'\ndescription: a runbook\nmainSteps:\n"
               "  - name: Wait\n    action: aws:sleep\n    inputs: {Duration: PT1S}\n")
    ssm = aws.client("ssm", "us-east-1")
    ssm.create_document(Name="speed-check", Content=content, DocumentType="Automation",
                        DocumentFormat="YAML")
    assert isinstance(moto.ssm.models.yaml, _LibyamlSafeLoad)
    from moto.ssm.models import ssm_backends

    stored = ssm_backends[ACCOUNT]["us-east-1"]._documents["speed-check"]
    assert stored.get_default_version().content_json == yaml.safe_load(content)


def test_a_region_s_first_instance_has_its_amis_read_before_its_launch_time(
        aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loading does not fall between an instance's LaunchTime and its volumes (the cost of a
    volume accrues from its making): it happens before the instance is made."""
    from moto.core.utils import utcnow

    from drlib.emulator.extensions import moto_speed

    loaded: list[Any] = []
    original = moto_speed._original_load_amis

    def load(backend: Any) -> None:
        original(backend)
        loaded.append(utcnow())

    monkeypatch.setattr(moto_speed, "_original_load_amis", load)
    _fresh_ec2_backend("ca-central-1")
    from moto.ec2.models.amis import AMIS

    ec2 = aws.client("ec2", "ca-central-1")
    [made] = ec2.run_instances(ImageId=AMIS[0]["ami_id"], MinCount=1, MaxCount=1)["Instances"]
    from moto.ec2.models import ec2_backends

    instance = ec2_backends[ACCOUNT]["ca-central-1"].get_instance(made["InstanceId"])
    assert len(loaded) == 1
    assert loaded[0] <= instance.launch_time


@pytest.mark.parametrize("text", [
    "a:\t1\n", "a: 1\t\n", "- x\t# c\n", "a: b: c\n", "[1, 2\n", "a: [1, {b: 2}]\nc: 'x'\n",
    "schemaVersion: '0.3'\nmainSteps:\n  - {name: W, action: 'aws:sleep'}\n",
])
def test_documents_read_as_pyyaml_reads_them_errors_included(text: str) -> None:
    """Where libyaml would accept what PyYAML refuses (tabs), or words an error otherwise, the
    reading is PyYAML's own: the same mapping or the same error."""
    import yaml

    from drlib.emulator.automation.validation import safe_load

    def outcome(read: Any) -> Any:
        try:
            return ("read", read(text))
        except yaml.YAMLError as exc:
            return ("refused", str(exc))

    assert outcome(safe_load) == outcome(yaml.safe_load)
