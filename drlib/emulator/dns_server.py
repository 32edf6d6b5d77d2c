"""The emulator's hosted zones served over real DNS (UDP and TCP on a loopback port).

Clients resolve the application's name exactly as on AWS: a resolver asks this server, caches the
answer for its TTL, and connects where it points. Answers come from the Route 53 backend at the
moment of the query, health-aware through the same rules as ``TestDNSAnswer``
(:mod:`route53_dns`): failover, multivalue, simple and alias records, health checks with their
FailureThreshold x RequestInterval timing, alias target health.

- The zone is the hosted zone whose name is the longest suffix of the query name (public and
  private zones alike: there is one view on loopback).
- TTLs are the record sets' own; an alias has the TTL Route 53 gives its target (60 s for a load
  balancer, :data:`ALIAS_TTL`; an alias to a record of the zone takes that record's TTL). TTLs
  follow the health-check time scale (:func:`route53_health.health_check_time_scale`), like every
  other AWS wait on the emulator, so a scaled drill is never presented with AWS's TTLs.
- A load balancer's DNS name (and an alias to it) answers A records with a stable loopback
  address per load balancer (:func:`load_balancer_address`): what a client connects to, without
  a lookup table built at start. The name of a load balancer that no longer exists is NXDOMAIN.
- Weighted, latency, geolocation and CIDR routing are answered SERVFAIL (``TestDNSAnswer`` refuses
  them with InvalidInput); a name outside every zone is REFUSED (this is no recursive resolver).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import socketserver
import struct
import threading
import time
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from drlib.emulator.extensions import route53_dns, route53_health
from drlib.emulator.server import POLL_INTERVAL_S, free_loopback_port

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
#: Route 53 answers an alias to an Elastic Load Balancing name with the load balancer's TTL.
ALIAS_TTL = 60
ACCOUNT_ID = "123456789012"
#: Load balancer addresses: 127.53.0.0/16 on loopback (all of 127/8 is local on Linux).
ADDRESS_PREFIX = (127, 53)


def load_balancer_address(dns_name: str) -> str:
    """A stable loopback address for one load balancer's DNS name."""
    digest = hashlib.sha256(route53_dns._norm(dns_name).encode()).digest()
    return f"{ADDRESS_PREFIX[0]}.{ADDRESS_PREFIX[1]}.{digest[0]}.{digest[1] % 254 + 1}"


def _route53_backend() -> Any:
    from moto.route53.models import route53_backends

    return route53_backends[ACCOUNT_ID]["aws"]


def _load_balancer(name: str) -> str | None:
    """The canonical DNS name of the load balancer ``name`` designates (its own name, or with
    the ``dualstack.`` prefix aliases use), if one exists."""
    wanted = route53_dns._norm(name)
    candidates = {wanted, wanted.removeprefix("dualstack.")}
    for _region, dns_name in route53_health._load_balancer_names(ACCOUNT_ID):
        if route53_dns._norm(dns_name) in candidates:
            return route53_dns._norm(dns_name)
    return None


def _scaled_ttl(ttl: int) -> int:
    scale = route53_health.health_check_time_scale()
    return max(0, round(ttl * scale))


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


class Answer:
    """What the server says about one question: rcode and the answer records."""

    def __init__(self, rcode: int, rrsets: list[dns.rrset.RRset] | None = None) -> None:
        self.rcode = rcode
        self.rrsets = rrsets or []


def answer_question(qname: str, qtype: str, now: float | None = None) -> Answer:
    """The answer to ``qname``/``qtype`` from the hosted zones and load balancers, now."""
    now = time.time() if now is None else now
    name = route53_dns._norm(qname)
    lb_name = _load_balancer(name)
    if lb_name is not None:
        if qtype != "A":
            return Answer(dns.rcode.NOERROR)
        return Answer(dns.rcode.NOERROR, [_rrset(name, "A", ALIAS_TTL,
                                                 [load_balancer_address(lb_name)])])
    backend = _route53_backend()
    zones = [z for z in list(backend.zones.values())
             if name == route53_dns._norm(z.name) or name.endswith("." + route53_dns._norm(z.name))]
    if not zones:
        return Answer(dns.rcode.REFUSED)
    zone = max(zones, key=lambda z: len(route53_dns._norm(z.name)))
    resolver = route53_dns._Resolver(backend, zone, now)
    try:
        return _answer_in_zone(resolver, name, qtype)
    except Exception as exc:  # unemulated routing (InvalidInput) or a broken record
        log.info("DNS %s %s: %s", name, qtype, exc)
        return Answer(dns.rcode.SERVFAIL)


def _answer_in_zone(resolver: Any, name: str, qtype: str) -> Answer:
    records = resolver.records(name)
    matching = [r for r in records if r.type == qtype]
    cname = [r for r in records if r.type == "CNAME"] if not matching else []
    if not matching and not cname:
        code = dns.rcode.NOERROR if resolver.name_exists(name) else dns.rcode.NXDOMAIN
        return Answer(code)
    chosen = resolver.choose(matching or cname, 0)
    rrsets: list[dns.rrset.RRset] = []
    for record in chosen:
        rtype = record.type
        values, ttl = _values(resolver, record, rtype)
        if values:
            rrsets.append(_rrset(name, rtype, ttl, values))
    return Answer(dns.rcode.NOERROR, _merge(rrsets))


def _values(resolver: Any, record: Any, rtype: str) -> tuple[list[str], int]:
    """The record's values (an alias resolved to addresses) and the TTL clients get."""
    alias = record.alias_target
    if not alias:
        return [str(v) for v in record.records or []], int(record.ttl or 0)
    target = route53_dns._norm(alias["DNSName"])
    in_zone = [r for r in resolver.records(target) if r.type == rtype]
    if in_zone:
        values = resolver.answer(target, rtype, 1) or []
        ttl = min(int(r.ttl or ALIAS_TTL) for r in in_zone if not r.alias_target) \
            if any(not r.alias_target for r in in_zone) else ALIAS_TTL
        return _addresses(values, rtype), ttl
    lb_name = _load_balancer(target) if rtype == "A" else None
    if lb_name is not None:
        return [load_balancer_address(lb_name)], ALIAS_TTL
    return [], ALIAS_TTL


def _addresses(values: list[str], rtype: str) -> list[str]:
    out = []
    for value in values:
        if rtype != "A" or _is_ip(value):
            out.append(value)
        elif (lb_name := _load_balancer(value)) is not None:
            out.append(load_balancer_address(lb_name))
    return out


def _rrset(name: str, rtype: str, ttl: int, values: list[str]) -> dns.rrset.RRset:
    texts = [f'"{v}"' if rtype == "TXT" and not v.startswith('"') else v for v in values]
    return dns.rrset.from_text_list(name + ".", _scaled_ttl(ttl), "IN", rtype, texts)


def _merge(rrsets: list[dns.rrset.RRset]) -> list[dns.rrset.RRset]:
    merged: dict[tuple[Any, Any], dns.rrset.RRset] = {}
    for rrset in rrsets:
        key = (rrset.name, rrset.rdtype)
        if key in merged:
            merged[key].update_ttl(min(merged[key].ttl, rrset.ttl))
            merged[key].union_update(rrset)
        else:
            merged[key] = rrset
    return list(merged.values())


def respond(wire: bytes) -> bytes | None:
    """The wire-format response to a wire-format query (None for garbage)."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response.to_wire()
    question = query.question[0]
    answer = answer_question(str(question.name), dns.rdatatype.to_text(question.rdtype))
    response.set_rcode(dns.rcode.Rcode(answer.rcode))
    response.answer.extend(answer.rrsets)
    return response.to_wire()


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        reply = respond(data)
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn = self.request
        conn.settimeout(5)
        while True:
            header = conn.recv(2)
            if len(header) < 2:
                return
            (length,) = struct.unpack("!H", header)
            data = b""
            while len(data) < length:
                chunk = conn.recv(length - len(data))
                if not chunk:
                    return
                data += chunk
            reply = respond(data)
            if reply is None:
                return
            conn.sendall(struct.pack("!H", len(reply)) + reply)


class _Udp(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Tcp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class DnsServer:
    """UDP and TCP DNS on ``127.0.0.1:port`` (one port for both, as DNS does)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_loopback_port(udp_too=True)
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> DnsServer:
        """Bind both sockets and serve from daemon threads."""
        self._servers = [_Udp((LOOPBACK, self.port), _UdpHandler),
                         _Tcp((LOOPBACK, self.port), _TcpHandler)]
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, args=(POLL_INTERVAL_S,),
                                      daemon=True,
                                      name=f"drlib-dns-{type(server).__name__}-{self.port}")
            thread.start()
            self._threads.append(thread)
        log.info("DNS for the hosted zones on %s (UDP and TCP)", self.address)
        return self

    def stop(self) -> None:
        """Stop both servers; safe to call twice."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []
