"""The embedded authoritative server over real loopback sockets (UDP and TCP)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from dkimwatch.resolver import DnsClient, Resolver, Status
from dkimwatch.zoneserver import ZoneError, ZoneServer, load_zones

LONG = "p=" + "B" * 900

ZONES = {
    "contoso.com": f"""\
$TTL 3600
@ SOA ns1.contoso.com. hostmaster.contoso.com. 1 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
@ TXT "v=spf1 include:spf.protection.outlook.com -all"
selector1._domainkey CNAME selector1-contoso-com._domainkey.contoso.onmicrosoft.com.
selector2._domainkey CNAME selector2-contoso-com._domainkey.contoso.onmicrosoft.com.
chain._domainkey CNAME hop.contoso.com.
hop CNAME selector1-contoso-com._domainkey.contoso.onmicrosoft.com.
away CNAME somewhere.example.net.
loop1 CNAME loop2
loop2 CNAME loop1
deep.below.ent TXT "x"
*.wild TXT "wildcard"
sub NS ns.sub
ns.sub A 192.0.2.53
big TXT "{LONG[:255]}" "{LONG[255:510]}" "{LONG[510:765]}" "{LONG[765:]}"
""",
    "contoso.onmicrosoft.com": """\
$TTL 3600
@ SOA ns.contoso.onmicrosoft.com. h.contoso.onmicrosoft.com. 1 3600 600 86400 60
selector1-contoso-com._domainkey TXT "v=DKIM1; k=rsa; p=AAAA"
""",
    # no SOA or NS: hand-written test zones often have none
    "bare.example": '$TTL 300\nwww TXT "hello"\n',
}


@pytest.fixture(scope="module")
def zone_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("zones")
    for origin, text in ZONES.items():
        (root / f"{origin}.zone").write_text(text)
    return root


@pytest.fixture(scope="module")
def server(zone_dir: Path) -> Iterator[ZoneServer]:
    with ZoneServer(zone_dir) as s:
        yield s


def ask(
    server: ZoneServer, name: str, rdtype: str, *, tcp: bool = False, edns: bool = True
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, use_edns=0 if edns else False)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, "127.0.0.1", timeout=2, port=server.port)


def answer_texts(response: dns.message.Message) -> list[str]:
    return [f"{rr.name} {dns.rdatatype.to_text(rr.rdtype)}" for rr in response.answer]


def test_answer_is_authoritative(server: ZoneServer) -> None:
    r = ask(server, "contoso.com", "TXT")
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA and not r.flags & dns.flags.RA
    assert answer_texts(r) == ["contoso.com. TXT"]


def test_nxdomain_and_nodata_are_different(server: ZoneServer) -> None:
    nx = ask(server, "nothing.contoso.com", "TXT")
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert nx.authority[0].rdtype == dns.rdatatype.SOA
    assert nx.authority[0].ttl == 300  # min(SOA TTL, minimum): RFC 2308
    nodata = ask(server, "contoso.com", "MX")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    ent = ask(server, "below.ent.contoso.com", "TXT")  # empty non-terminal exists
    assert ent.rcode() == dns.rcode.NOERROR and not ent.answer


def test_cname_is_chased_across_zones(server: ZoneServer) -> None:
    r = ask(server, "selector1._domainkey.contoso.com", "TXT")
    assert answer_texts(r) == [
        "selector1._domainkey.contoso.com. CNAME",
        "selector1-contoso-com._domainkey.contoso.onmicrosoft.com. TXT",
    ]
    chain = ask(server, "chain._domainkey.contoso.com", "TXT")
    assert len(chain.answer) == 3


def test_nxdomain_at_the_end_of_a_chain(server: ZoneServer) -> None:
    r = ask(server, "selector2._domainkey.contoso.com", "TXT")
    assert r.rcode() == dns.rcode.NXDOMAIN  # RFC 6604: the rcode of the last name
    assert answer_texts(r) == ["selector2._domainkey.contoso.com. CNAME"]
    assert r.authority[0].name.to_text() == "contoso.onmicrosoft.com."


def test_cname_query_and_out_of_zone_target(server: ZoneServer) -> None:
    r = ask(server, "selector1._domainkey.contoso.com", "CNAME")
    assert answer_texts(r) == ["selector1._domainkey.contoso.com. CNAME"]
    away = ask(server, "away.contoso.com", "TXT")
    assert away.rcode() == dns.rcode.NOERROR
    assert answer_texts(away) == ["away.contoso.com. CNAME"] and not away.authority


def test_cname_loop_terminates(server: ZoneServer) -> None:
    r = ask(server, "loop1.contoso.com", "TXT")
    assert r.rcode() == dns.rcode.NOERROR
    assert len(r.answer) == 2


def test_wildcard(server: ZoneServer) -> None:
    r = ask(server, "anything.wild.contoso.com", "TXT")
    assert answer_texts(r) == ["anything.wild.contoso.com. TXT"]


def test_referral_below_a_delegation(server: ZoneServer) -> None:
    r = ask(server, "www.sub.contoso.com", "A")
    assert not r.flags & dns.flags.AA
    assert r.authority[0].rdtype == dns.rdatatype.NS
    assert r.additional[0].name.to_text() == "ns.sub.contoso.com."


def test_refused_outside_the_zones(server: ZoneServer) -> None:
    r = ask(server, "example.org", "A")
    assert r.rcode() == dns.rcode.REFUSED and not r.flags & dns.flags.AA


def test_zone_without_soa(server: ZoneServer) -> None:
    assert ask(server, "www.bare.example", "TXT").answer
    nx = ask(server, "nope.bare.example", "TXT")
    assert nx.rcode() == dns.rcode.NXDOMAIN and nx.authority


def test_large_answer_truncates_over_udp_and_comes_whole_over_tcp(server: ZoneServer) -> None:
    udp = ask(server, "big.contoso.com", "TXT", edns=False)
    assert udp.flags & dns.flags.TC and not udp.answer
    tcp = ask(server, "big.contoso.com", "TXT", tcp=True)
    assert b"".join(tcp.answer[0][0].strings).decode() == LONG
    edns = ask(server, "big.contoso.com", "TXT")  # 1232 bytes of EDNS0 buffer are enough
    assert not edns.flags & dns.flags.TC and edns.answer


def test_queries_are_counted(server: ZoneServer) -> None:
    before = server.queries[("contoso.com", "NS")]
    ask(server, "Contoso.COM.", "NS")
    assert server.queries[("contoso.com", "NS")] == before + 1


def test_bad_zone_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.example.zone").write_text('$TTL 3600\nwww IN TXT "ok"\nmail IN MX nonsense\n')
    with pytest.raises(ZoneError) as info:
        load_zones(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'bad.example.zone'}:3: ")
    assert "\n" not in str(info.value)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ZoneError, match="not a directory"):
        load_zones(tmp_path / "nope")
    with pytest.raises(ZoneError, match=r"no <origin>\.zone files"):
        load_zones(tmp_path)


def test_refuses_non_loopback(zone_dir: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        ZoneServer(zone_dir, host="0.0.0.0")


def test_stop_frees_the_port(zone_dir: Path) -> None:
    server = ZoneServer(zone_dir)
    _, port = server.start()
    server.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))


def test_a_name_outside_the_zone_files_says_how_to_serve_it(
    server: ZoneServer, zone_dir: Path
) -> None:
    """REFUSED stays a temperror, but the message names the zone files the name is outside
    of and the fix (a zone file for it), carried as an extended DNS error (RFC 8914)."""
    r = ask(server, "spf.protection.outlook.com", "TXT")
    assert r.rcode() == dns.rcode.REFUSED
    [ede] = r.extended_errors()
    assert ede.code == dns.edns.EDECode.NOT_AUTHORITATIVE
    answer = Resolver(DnsClient([server.address], timeout=2.0, attempts=1)).lookup(
        "spf.protection.outlook.com", "TXT"
    )
    assert answer.status is Status.TEMPERROR
    assert answer.error == (
        f"{server.address} answered REFUSED (spf.protection.outlook.com is outside the zone "
        f"files in {zone_dir}: to serve it, add a zone file holding it there "
        "(e.g. spf.protection.outlook.com.zone))"
    )


def test_a_name_is_answered_from_the_deepest_zone_holding_it(tmp_path: Path) -> None:
    """Zone files of a parent and its child (and one beside them): each name is answered
    from the zone of its longest origin, whatever its case."""
    (tmp_path / "example.zone").write_text('$TTL 60\n@ TXT "parent"\nx.child TXT "parent x"\n')
    (tmp_path / "child.example.zone").write_text('$TTL 60\nx TXT "child x"\n')
    (tmp_path / "otherchild.example.zone").write_text('$TTL 60\nx TXT "other x"\n')
    with ZoneServer(tmp_path) as s:
        assert ask(s, "X.Child.EXAMPLE", "TXT").answer[0].to_text().endswith('"child x"')
        assert ask(s, "x.otherchild.example", "TXT").answer[0].to_text().endswith('"other x"')
        assert ask(s, "example", "TXT").answer[0].to_text().endswith('"parent"')
        assert ask(s, "y.child.example", "TXT").rcode() == dns.rcode.NXDOMAIN
        assert ask(s, "example.net", "TXT").rcode() == dns.rcode.REFUSED
        assert ask(s, ".", "TXT").rcode() == dns.rcode.REFUSED
