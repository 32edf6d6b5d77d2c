"""The embedded emulator: moto in server mode, in-process, on a loopback port.

:class:`Emulator` runs moto's WSGI application (wrapped by the drlib control middleware and with
every extension installed) in a background thread. It binds loopback only.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import requests

from drlib.errors import EmulatorError
from drlib.waiting import wait_until

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DUMMY_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
DEFAULT_REGION = "us-east-1"


def default_state_dir() -> Path:
    """Where the emulator keeps its log, pid file and data-plane files."""
    return Path(os.environ.get("DRLIB_STATE_DIR", ".drlib")).resolve() / "emulator"


POLL_INTERVAL_S = 0.05
"""How often a serving thread looks for a stop request (the emulator's HTTP server, the DNS
servers' UDP and TCP): a stop waits up to this long for each, not socketserver's 0.5 s."""

LISTEN_PORTS = range(20000, 32768)
"""Where listening ports are chosen: below Linux's ephemeral range (32768-60999), which the
kernel hands to every outgoing connection, so a port chosen free is not taken by a client's
connection before the server binds it (a drill under load opens thousands)."""


def free_loopback_port(udp_too: bool = False) -> int:
    """A TCP port on loopback that nothing listens on right now (outside the ephemeral range);
    with ``udp_too``, free for UDP as well (the DNS server listens on both)."""
    import random

    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp_too else (socket.SOCK_STREAM,)
    for port in random.sample(LISTEN_PORTS, 200):
        if _free_for(port, kinds):
            return port
    for _ in range(50):  # all taken: any free one
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if _free_for(port, kinds):
            return port
    raise OSError("no loopback port free" + (" for both UDP and TCP" if udp_too else ""))


def _free_for(port: int, kinds: tuple[int, ...]) -> bool:
    """Whether ``port`` binds on loopback for every socket kind of ``kinds``."""
    sockets = []
    try:
        for kind in kinds:
            sock = socket.socket(socket.AF_INET, kind)
            sockets.append(sock)
            sock.bind((LOOPBACK, port))
        return True
    except OSError:
        return False
    finally:
        for sock in sockets:
            sock.close()


def import_cloudformation() -> None:
    """Import moto's CloudFormation, and with it the models of every resource type it creates
    (about 1.2 s of CPU), which the first ``CreateStack`` would otherwise import while its
    client waits: started once the emulator answers, it overlaps the client's own start (a
    deploy's Sceptre reading its project). No service module imports CloudFormation's at its
    top, so a request importing its service's modules meanwhile cannot deadlock with it."""
    try:
        import moto.cloudformation.parsing  # noqa: F401
    except Exception:  # the first CreateStack imports it again, and fails as it would have
        log.exception("importing moto's CloudFormation in the background failed")


def emulator_version() -> str:
    """The version string recorded in evidence: drlib's emulator on top of a pinned moto."""
    from drlib import __version__

    return f"drlib-emulator {__version__} (moto {version('moto')})"


#: The environment variable naming the DNS server clients resolve through (``HOST:PORT``);
#: drlib's canaries use it when set and the system resolver otherwise.
DNS_SERVER_VARIABLE = "DRLIB_DNS_SERVER"


def client_environment(endpoint_url: str, region: str = DEFAULT_REGION,
                       dns_address: str | None = None) -> dict[str, str]:
    """The environment that points boto3, the AWS CLI, Sceptre and notebooks at the emulator
    (and DNS clients at its DNS server, when its address is given)."""
    env = {
        "AWS_ENDPOINT_URL": endpoint_url,
        **DUMMY_CREDENTIALS,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    if dns_address:
        env[DNS_SERVER_VARIABLE] = dns_address
    return env


class Emulator:
    """moto plus drlib's extensions, serving on ``127.0.0.1:port`` from a daemon thread."""

    def __init__(self, port: int | None = None, state_dir: Path | None = None) -> None:
        self.port = port or free_loopback_port()
        self.state_dir = (state_dir or default_state_dir()).resolve()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.dns: Any = None  # the DnsServer, once started
        self._state: Any = None  # this emulator's entry in drlib.emulator.state

    @property
    def endpoint_url(self) -> str:
        """The URL every AWS client uses to reach the emulator."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def dns_address(self) -> str | None:
        """``127.0.0.1:PORT`` of the DNS server for the hosted zones, while it runs."""
        return None if self.dns is None else str(self.dns.address)

    def environment(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """The client environment for this emulator (see :func:`client_environment`)."""
        return client_environment(self.endpoint_url, region, self.dns_address)

    def start(self, timeout: float = 30.0) -> Emulator:
        """Install the extensions, bind the port, and return once the server answers."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from drlib.emulator import state
        from drlib.emulator.control import ControlMiddleware
        from drlib.emulator.extensions import install_all

        if self._thread is not None:
            raise EmulatorError("This emulator is already running", found=self.endpoint_url)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._state = state.configure(state_dir=self.state_dir, endpoint_url=self.endpoint_url)
        install_all()
        # Each start takes the pace its environment declares (a second emulator in one process
        # shares the extensions installed by the first).
        from drlib.emulator.extensions.route53_health import (
            default_time_scale,
            set_health_check_time_scale,
        )

        set_health_check_time_scale(default_time_scale())
        # One access-log line per AWS call drowns everything else; keep warnings and errors.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = ControlMiddleware(DomainDispatcherApplication(create_backend_app))
        try:
            self._server = make_server(LOOPBACK, self.port, app, threaded=True,
                                       request_handler=MotoRequestHandler)
        except (OSError, SystemExit) as exc:  # werkzeug exits on a port in use
            state.release(self._state)  # the emulator already on that port stays current
            raise EmulatorError(
                f"Cannot bind the emulator to {LOOPBACK}:{self.port}",
                expected="a free loopback port",
                found=str(exc) or "the port is in use",
                fix="choose another --port, or omit it to pick a free one",
            ) from exc
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        args=(POLL_INTERVAL_S,),
                                        name=f"drlib-emulator-{self.port}", daemon=True)
        self._thread.start()
        from drlib.emulator.dns_server import DnsServer

        self.dns = DnsServer().start()
        wait_until(self._answers, description=f"the emulator on {self.endpoint_url} to answer",
                   timeout=timeout, interval=0.02)
        log.info("emulator listening on %s (state in %s)", self.endpoint_url, self.state_dir)
        threading.Thread(target=import_cloudformation, name="drlib-emulator-cloudformation",
                         daemon=True).start()
        return self

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.endpoint_url}/_drlib/health", timeout=2).ok
        except requests.RequestException:
            return False

    def reset(self) -> None:
        """Forget every resource in every region and reset every extension (moto's own reset
        route does both, as :mod:`drlib.emulator.extensions.core` arranges)."""
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=60).raise_for_status()

    def stop(self) -> None:
        """Stop the data plane, then the server; safe to call twice."""
        from drlib.emulator.control import run_shutdown_hooks

        if self._thread is None:
            return
        run_shutdown_hooks()
        if self.dns is not None:
            self.dns.stop()
            self.dns = None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._thread = None
        from drlib.emulator import state

        state.release(self._state)
        log.info("emulator on %s stopped", self.endpoint_url)


@contextmanager
def running_emulator(
    port: int | None = None, state_dir: Path | None = None, *, set_environment: bool = False
) -> Iterator[Emulator]:
    """Run an emulator for the duration of a ``with`` block.

    With ``set_environment`` the client environment is exported to ``os.environ`` for the block
    (child processes such as papermill kernels and Sceptre inherit it) and restored afterwards.
    """
    emulator = Emulator(port=port, state_dir=state_dir).start()
    saved: dict[str, str | None] = {}
    try:
        if set_environment:
            for key, value in emulator.environment().items():
                saved[key] = os.environ.get(key)
                os.environ[key] = value
        yield emulator
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        emulator.stop()
