"""Route 53 TestDNSAnswer on the emulator: simple, failover, multivalue and alias records."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.extensions.route53_dns import choose_failover
from drlib.emulator.extensions.route53_health import set_health_check_time_scale
from drlib.emulator.server import Emulator

ZONE = "drill.example.com"


@pytest.mark.parametrize(("primary", "secondary", "p_ok", "s_ok", "chosen"), [
    ("P", "S", True, True, "P"),
    ("P", "S", True, False, "P"),
    ("P", "S", False, True, "S"),
    ("P", "S", False, False, "P"),
    ("P", None, False, False, "P"),
    (None, "S", False, False, "S"),
    (None, None, False, False, None),
])
def test_choose_failover_follows_route53_rules(primary: str | None, secondary: str | None,
                                               p_ok: bool, s_ok: bool, chosen: str | None) -> None:
    """Primary while healthy; secondary when only it is healthy; primary when both are not."""
    assert choose_failover(primary, secondary, p_ok, s_ok) == chosen


@pytest.fixture
def r53(aws: AwsClients) -> Any:
    """A Route 53 client against a clean emulator whose health checks change status at once."""
    set_health_check_time_scale(0)
    return aws.client("route53", "us-east-1")


@pytest.fixture
def zone(r53: Any) -> str:
    """A public hosted zone for the drill's names."""
    return str(r53.create_hosted_zone(Name=ZONE, CallerReference="zone")["HostedZone"]["Id"])


def _create(r53: Any, zone: str, *records: dict[str, Any]) -> None:
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": record} for record in records]})


def _a(name: str, *values: str, **extra: Any) -> dict[str, Any]:
    return {"Name": name, "Type": "A", "TTL": 60,
            "ResourceRecords": [{"Value": v} for v in values], **extra}


def _answer(r53: Any, zone: str, name: str, record_type: str = "A") -> dict[str, Any]:
    answer = dict(r53.test_dns_answer(HostedZoneId=zone, RecordName=name, RecordType=record_type))
    answer.pop("ResponseMetadata")
    return answer


def _check(r53: Any, fqdn: str) -> str:
    return str(r53.create_health_check(CallerReference=fqdn, HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": fqdn, "Port": 443,
        "RequestInterval": 10, "FailureThreshold": 3})["HealthCheck"]["Id"])


def _load_balancer(aws: AwsClients, region: str, name: str) -> dict[str, Any]:
    ec2 = aws.client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24",
                                 AvailabilityZone=f"{region}{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    return dict(aws.client("elbv2", region).create_load_balancer(
        Name=name, Subnets=subnets)["LoadBalancers"][0])


def test_simple_record_answer_has_botocore_shape(r53: Any, zone: str) -> None:
    """A simple A record answers its values with NOERROR over UDP from the zone's name server."""
    _create(r53, zone, _a(f"www.{ZONE}", "192.0.2.1", "192.0.2.2"))
    answer = _answer(r53, zone, f"WWW.{ZONE}.")
    name_servers = r53.get_hosted_zone(Id=zone)["DelegationSet"]["NameServers"]
    assert answer == {"Nameserver": name_servers[0], "RecordName": f"WWW.{ZONE}.",
                      "RecordType": "A", "RecordData": ["192.0.2.1", "192.0.2.2"],
                      "ResponseCode": "NOERROR", "Protocol": "UDP"}


def test_unknown_name_is_nxdomain_and_missing_type_is_empty(r53: Any, zone: str) -> None:
    """An unknown name is NXDOMAIN; a known name without that type is NOERROR with no data."""
    _create(r53, zone, _a(f"www.{ZONE}", "192.0.2.1"), _a(f"a.b.{ZONE}", "192.0.2.3"))
    missing = _answer(r53, zone, f"nothing.{ZONE}")
    assert (missing["ResponseCode"], missing["RecordData"]) == ("NXDOMAIN", [])
    no_type = _answer(r53, zone, f"www.{ZONE}", "AAAA")
    assert (no_type["ResponseCode"], no_type["RecordData"]) == ("NOERROR", [])
    empty_non_terminal = _answer(r53, zone, f"b.{ZONE}")
    assert (empty_non_terminal["ResponseCode"], empty_non_terminal["RecordData"]) == ("NOERROR", [])


def test_cname_answers_any_type(r53: Any, zone: str) -> None:
    """A CNAME at the name answers a query for another type with its target."""
    _create(r53, zone, {"Name": f"app.{ZONE}", "Type": "CNAME", "TTL": 60,
                        "ResourceRecords": [{"Value": "web.example.net"}]})
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == ["web.example.net"]


def test_failover_records_follow_primary_health(r53: Any, zone: str) -> None:
    """The PRIMARY answers while its check is healthy, the SECONDARY once it fails, and back."""
    primary_check = _check(r53, "app.us-east-1.example.net")
    secondary_check = _check(r53, "app.us-west-2.example.net")
    _create(r53, zone,
            _a(f"app.{ZONE}", "192.0.2.10", SetIdentifier="primary", Failover="PRIMARY",
               HealthCheckId=primary_check),
            _a(f"app.{ZONE}", "198.51.100.10", SetIdentifier="secondary", Failover="SECONDARY",
               HealthCheckId=secondary_check))
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == ["192.0.2.10"]
    faults.take_region_down("us-east-1")
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == ["198.51.100.10"]
    faults.take_region_down("us-west-2")  # both unhealthy: Route 53 answers the primary
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == ["192.0.2.10"]
    faults.clear()
    faults.fail_health_check(primary_check)
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == ["198.51.100.10"]
    faults.restore_health_check(primary_check)
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == ["192.0.2.10"]


def test_failover_waits_for_the_health_check_window(r53: Any, zone: str) -> None:
    """With AWS timing (scale 1.0) the answer does not move before the check is declared failed."""
    set_health_check_time_scale(1.0)
    check = _check(r53, "app.us-east-1.example.net")
    _create(r53, zone,
            _a(f"app.{ZONE}", "192.0.2.10", SetIdentifier="p", Failover="PRIMARY",
               HealthCheckId=check),
            _a(f"app.{ZONE}", "198.51.100.10", SetIdentifier="s", Failover="SECONDARY"))
    faults.take_region_down("us-east-1")
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == ["192.0.2.10"]
    set_health_check_time_scale(0)
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == ["198.51.100.10"]


def test_alias_failover_to_load_balancers(aws: AwsClients, r53: Any, zone: str) -> None:
    """Alias failover records answer the LB DNS name; EvaluateTargetHealth follows its region."""
    east = _load_balancer(aws, "us-east-1", "app-east")
    west = _load_balancer(aws, "us-west-2", "app-west")

    def alias(lb: dict[str, Any], role: str) -> dict[str, Any]:
        return {"Name": f"app.{ZONE}", "Type": "A", "SetIdentifier": role, "Failover": role,
                "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"],
                                "DNSName": f"dualstack.{lb['DNSName']}",
                                "EvaluateTargetHealth": True}}

    _create(r53, zone, alias(east, "PRIMARY"), alias(west, "SECONDARY"))
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == [f"dualstack.{east['DNSName']}"]
    faults.take_region_down("us-east-1")
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == [f"dualstack.{west['DNSName']}"]
    faults.bring_region_up("us-east-1")
    assert _answer(r53, zone, f"app.{ZONE}")["RecordData"] == [f"dualstack.{east['DNSName']}"]


def test_alias_target_health_waits_for_the_target_group_checks(aws: AwsClients, r53: Any,
                                                              zone: str) -> None:
    """A load balancer in a downed region is not unhealthy at once: Route 53 learns it from its
    target groups' checks (interval x unhealthy threshold, 30 s x 2 by default)."""
    east = _load_balancer(aws, "us-east-1", "lb-east")
    west = _load_balancer(aws, "us-west-2", "lb-west")
    _create(r53, zone, *[{"Name": f"lb.{ZONE}", "Type": "A", "SetIdentifier": role,
                          "Failover": role,
                          "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"],
                                          "DNSName": lb["DNSName"],
                                          "EvaluateTargetHealth": True}}
                         for lb, role in ((east, "PRIMARY"), (west, "SECONDARY"))])
    set_health_check_time_scale(1.0)
    faults.take_region_down("us-east-1")
    assert _answer(r53, zone, f"lb.{ZONE}")["RecordData"] == [east["DNSName"]]
    set_health_check_time_scale(0)
    assert _answer(r53, zone, f"lb.{ZONE}")["RecordData"] == [west["DNSName"]]


def test_alias_to_record_in_zone_answers_its_values(r53: Any, zone: str) -> None:
    """An alias to a record of the zone answers that record's values and follows its health."""
    check = _check(r53, "origin.us-east-1.example.net")
    _create(r53, zone,
            _a(f"origin.{ZONE}", "192.0.2.20", SetIdentifier="o", Failover="PRIMARY",
               HealthCheckId=check),
            _a(f"backup.{ZONE}", "198.51.100.20"))
    _create(r53, zone,
            {"Name": f"www.{ZONE}", "Type": "A", "SetIdentifier": "p", "Failover": "PRIMARY",
             "AliasTarget": {"HostedZoneId": zone.split("/")[-1], "DNSName": f"origin.{ZONE}",
                             "EvaluateTargetHealth": True}},
            {"Name": f"www.{ZONE}", "Type": "A", "SetIdentifier": "s", "Failover": "SECONDARY",
             "AliasTarget": {"HostedZoneId": zone.split("/")[-1], "DNSName": f"backup.{ZONE}",
                             "EvaluateTargetHealth": False}})
    assert _answer(r53, zone, f"www.{ZONE}")["RecordData"] == ["192.0.2.20"]
    faults.fail_health_check(check)
    assert _answer(r53, zone, f"www.{ZONE}")["RecordData"] == ["198.51.100.20"]


def test_multivalue_answers_healthy_values(r53: Any, zone: str) -> None:
    """Multivalue records answer every healthy value, and all of them when none is healthy."""
    east, west = _check(r53, "a.us-east-1.example.net"), _check(r53, "a.us-west-2.example.net")
    _create(r53, zone,
            _a(f"mv.{ZONE}", "192.0.2.1", SetIdentifier="e", MultiValueAnswer=True,
               HealthCheckId=east),
            _a(f"mv.{ZONE}", "192.0.2.2", SetIdentifier="w", MultiValueAnswer=True,
               HealthCheckId=west))
    assert sorted(_answer(r53, zone, f"mv.{ZONE}")["RecordData"]) == ["192.0.2.1", "192.0.2.2"]
    faults.take_region_down("us-east-1")
    assert _answer(r53, zone, f"mv.{ZONE}")["RecordData"] == ["192.0.2.2"]
    faults.take_region_down("us-west-2")
    assert sorted(_answer(r53, zone, f"mv.{ZONE}")["RecordData"]) == ["192.0.2.1", "192.0.2.2"]


def test_unemulated_routing_is_refused(r53: Any, zone: str) -> None:
    """Weighted records are refused with InvalidInput naming what is emulated."""
    _create(r53, zone, _a(f"w.{ZONE}", "192.0.2.1", SetIdentifier="one", Weight=10))
    with pytest.raises(ClientError) as error:
        _answer(r53, zone, f"w.{ZONE}")
    assert error.value.response["Error"]["Code"] == "InvalidInput"
    assert "weighted" in error.value.response["Error"]["Message"]


def test_unknown_zone_is_no_such_hosted_zone(r53: Any) -> None:
    """A query against an unknown hosted zone gives NoSuchHostedZone."""
    with pytest.raises(ClientError) as error:
        _answer(r53, "Z0000000000000", "www.example.com")
    assert error.value.response["Error"]["Code"] == "NoSuchHostedZone"


def test_answers_come_from_the_queried_zone_only(r53: Any, zone: str) -> None:
    """A record of another hosted zone with the same name is not answered by this zone."""
    other = r53.create_hosted_zone(Name=ZONE, CallerReference="other")["HostedZone"]["Id"]
    _create(r53, other, _a(f"only-other.{ZONE}", "192.0.2.99"))
    assert _answer(r53, zone, f"only-other.{ZONE}")["ResponseCode"] == "NXDOMAIN"
    assert _answer(r53, other, f"only-other.{ZONE}")["RecordData"] == ["192.0.2.99"]


# --- the DNS server ------------------------------------------------------------------------------

def _dig(emulator: Emulator, name: str, record_type: str = "A", tcp: bool = False) -> Any:
    """A dig-style query to the emulator's DNS server (dnspython), over UDP or TCP."""
    import dns.message
    import dns.query

    host, port = str(emulator.dns_address).rsplit(":", 1)
    query = dns.message.make_query(name, record_type)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, host, port=int(port), timeout=5)


def _values(response: Any) -> list[str]:
    return sorted(str(r) for rrset in response.answer for r in rrset)


def test_dns_server_answers_failover_records_and_follows_the_health_check(
        emulator: Emulator, r53: Any, zone: str) -> None:
    """Over UDP and TCP the failover name answers the PRIMARY with its TTL, the SECONDARY once
    the primary's health check fails, and the PRIMARY again when it recovers."""
    import dns.rcode

    set_health_check_time_scale(1.0)  # TTLs as declared (they follow the time scale)
    check = _check(r53, "app.us-east-1.example.net")
    _create(r53, zone,
            {**_a(f"app.{ZONE}", "192.0.2.10", SetIdentifier="p", Failover="PRIMARY",
                  HealthCheckId=check), "TTL": 30},
            {**_a(f"app.{ZONE}", "198.51.100.10", SetIdentifier="s", Failover="SECONDARY"),
             "TTL": 30})
    for tcp in (False, True):
        response = _dig(emulator, f"app.{ZONE}", tcp=tcp)
        assert response.rcode() == dns.rcode.NOERROR
        assert _values(response) == ["192.0.2.10"]
        assert response.answer[0].ttl == 30
    set_health_check_time_scale(0)
    faults.fail_health_check(check)
    assert _values(_dig(emulator, f"app.{ZONE}")) == ["198.51.100.10"]
    faults.restore_health_check(check)
    assert _values(_dig(emulator, f"app.{ZONE}")) == ["192.0.2.10"]


def test_dns_server_answers_alias_to_load_balancers_with_addresses(
        emulator: Emulator, aws: AwsClients, r53: Any, zone: str) -> None:
    """An alias to a load balancer answers the load balancer's own address (the one its DNS
    name resolves to), with Route 53's 60 s alias TTL, and moves with the target's health."""
    from drlib.emulator.dns_server import load_balancer_address

    set_health_check_time_scale(1.0)
    east = _load_balancer(aws, "us-east-1", "dns-east")
    west = _load_balancer(aws, "us-west-2", "dns-west")
    _create(r53, zone, *[{"Name": f"app.{ZONE}", "Type": "A", "SetIdentifier": role,
                          "Failover": role,
                          "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"],
                                          "DNSName": f"dualstack.{lb['DNSName']}",
                                          "EvaluateTargetHealth": True}}
                         for lb, role in ((east, "PRIMARY"), (west, "SECONDARY"))])
    east_address = load_balancer_address(east["DNSName"])
    west_address = load_balancer_address(west["DNSName"])
    assert east_address != west_address
    assert _values(_dig(emulator, east["DNSName"])) == [east_address]
    assert _values(_dig(emulator, west["DNSName"])) == [west_address]
    answer = _dig(emulator, f"app.{ZONE}")
    assert _values(answer) == [east_address]
    assert answer.answer[0].ttl == 60
    set_health_check_time_scale(0)
    faults.take_region_down("us-east-1")
    assert _values(_dig(emulator, f"app.{ZONE}")) == [west_address]
    faults.bring_region_up("us-east-1")
    assert _values(_dig(emulator, f"app.{ZONE}")) == [east_address]


def test_dns_server_rcodes(emulator: Emulator, r53: Any, zone: str) -> None:
    """NXDOMAIN for an unknown name in a zone, NOERROR without data for a missing type, REFUSED
    outside every hosted zone (it is not a recursive resolver)."""
    import dns.rcode

    _create(r53, zone, _a(f"www.{ZONE}", "192.0.2.1"))
    assert _dig(emulator, f"nothing.{ZONE}").rcode() == dns.rcode.NXDOMAIN
    no_type = _dig(emulator, f"www.{ZONE}", "AAAA")
    assert (no_type.rcode(), no_type.answer) == (dns.rcode.NOERROR, [])
    assert _dig(emulator, "example.org").rcode() == dns.rcode.REFUSED


def test_emulator_exports_its_dns_server(emulator: Emulator) -> None:
    """The client environment names the DNS server, as `drlib emulator status` prints it."""
    assert emulator.environment()["DRLIB_DNS_SERVER"] == emulator.dns_address
    assert str(emulator.dns_address).startswith("127.0.0.1:")
