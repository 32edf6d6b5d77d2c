"""The emulator's control plane: start, regions, control API, background process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from drlib.aws import AwsClients
from drlib.emulator import daemon
from drlib.emulator.server import Emulator, running_emulator
from drlib.errors import EmulatorError


def test_regions_have_separate_state(aws: AwsClients) -> None:
    """A queue created in us-east-1 is not visible in us-west-2."""
    aws.client("sqs", "us-east-1").create_queue(QueueName="only-east")
    east = aws.client("sqs", "us-east-1").list_queues().get("QueueUrls", [])
    west = aws.client("sqs", "us-west-2").list_queues().get("QueueUrls", [])
    assert any(url.endswith("/only-east") for url in east)
    assert west == []


def test_health_route_names_the_moto_version(emulator: Emulator) -> None:
    """The health route answers with a version string that names the pinned moto."""
    answer = requests.get(f"{emulator.endpoint_url}/_drlib/health", timeout=5).json()
    assert answer["status"] == "ok"
    assert "moto 5.2.5" in answer["version"]


def test_unknown_control_route_lists_the_known_ones(emulator: Emulator) -> None:
    """A request to an unknown control route gets 404 and the list of routes."""
    response = requests.get(f"{emulator.endpoint_url}/_drlib/nope", timeout=5)
    assert response.status_code == 404
    assert "GET /_drlib/health" in response.json()["routes"]


def test_reset_forgets_resources(emulator: Emulator) -> None:
    """After reset, a bucket created before is gone."""
    clients = AwsClients(endpoint_url=emulator.endpoint_url)
    clients.client("s3", "us-east-1").create_bucket(Bucket="before-reset")
    emulator.reset()
    assert clients.client("s3", "us-east-1").list_buckets()["Buckets"] == []


def test_binds_loopback_only(tmp_path: Path) -> None:
    """The emulator listens on 127.0.0.1 and a second one on the same port is refused clearly."""
    with running_emulator(state_dir=tmp_path) as emu:
        assert emu.endpoint_url.startswith("http://127.0.0.1:")
        with pytest.raises(EmulatorError, match="Cannot bind"):
            Emulator(port=emu.port, state_dir=tmp_path).start()


def test_a_second_emulator_stopping_leaves_the_first_current(emulator: Emulator,
                                                             tmp_path: Path) -> None:
    """Extensions that call back into the emulator (runbook scripts, Lambda) keep reaching the
    session's emulator after a second one in this process stopped or failed to bind (CI: every
    later runbook script got "Could not connect to the endpoint URL" of the stopped one)."""
    from drlib.emulator import state

    with running_emulator(state_dir=tmp_path) as second:
        assert state.current.endpoint_url == second.endpoint_url
        with pytest.raises(EmulatorError, match="Cannot bind"):
            Emulator(port=emulator.port, state_dir=tmp_path / "third").start()
        assert state.current.endpoint_url == second.endpoint_url
    assert state.current.endpoint_url == emulator.endpoint_url
    assert state.current.state_dir == emulator.state_dir


@pytest.mark.slow
def test_background_start_status_stop(tmp_path: Path) -> None:
    """`drlib emulator start` returns once it answers; `status` sees it; `stop` ends it."""
    proc = daemon.start(state_dir=tmp_path)
    try:
        assert proc.answers()
        status = subprocess.run([sys.executable, "-m", "drlib.cli", "emulator", "status",
                                 "--state-dir", str(tmp_path)], capture_output=True, text=True,
                                check=False)
        assert status.returncode == 0, status.stderr
        assert "answering" in status.stdout
        with pytest.raises(EmulatorError, match="already running"):
            daemon.start(state_dir=tmp_path)
    finally:
        daemon.stop(state_dir=tmp_path)
    assert daemon.read_state(tmp_path) is None
    assert "stopped" in (tmp_path / daemon.LOG_FILE).read_text()


def test_listening_ports_are_chosen_outside_the_ephemeral_range() -> None:
    """Ports for the emulator, its DNS and PostgreSQL come from below 32768, where outgoing
    connections never take them between choosing and binding (seen under load in CI)."""
    from drlib.emulator.server import LISTEN_PORTS, free_loopback_port

    assert all(free_loopback_port() in LISTEN_PORTS for _ in range(20))


def test_cloudformation_is_imported_once_the_emulator_answers(tmp_path: Path) -> None:
    """moto's CloudFormation (with the models it creates) is imported in the background once
    the emulator answers, without any CloudFormation call; the emulator answers meanwhile."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from drlib.emulator.server import running_emulator\n"
        f"with running_emulator(state_dir=Path({str(tmp_path)!r})) as emu:\n"
        "    deadline = time.monotonic() + 60\n"
        "    while 'moto.cloudformation.parsing' not in sys.modules:\n"
        "        assert time.monotonic() < deadline, 'not imported'\n"
        "        time.sleep(0.05)\n"
        "    import boto3\n"
        "    s3 = boto3.client('s3', endpoint_url=emu.endpoint_url, region_name='us-east-1',\n"
        "                      aws_access_key_id='x', aws_secret_access_key='y')\n"
        "    print(len(s3.list_buckets()['Buckets']), 'moto.rds.models' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0", "True"]
