"""The realistic DNS test bed (NSD customer + NSD Microsoft + Unbound) behaves like the Internet.

Every query goes through Unbound, as dkimwatch's would, except where a test looks at one
authoritative server on purpose.
"""

from __future__ import annotations

import base64
import ipaddress
import random
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

import selftests.testbed
from selftests.testbed import (
    CUSTOMER_HOST,
    MICROSOFT_HOST,
    RESOLVER_HOST,
    Testbed,
    TestbedError,
    ZoneFile,
    missing_binaries,
    split_zones,
)

MISSING = missing_binaries()
pytestmark = [
    pytest.mark.testbed,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"DNS test bed needs {', '.join(MISSING)} (Debian packages nsd and unbound)",
    ),
]


def _key(bits: int, seed: int) -> str:
    """A DKIM TXT value of realistic size (random bytes of an RSA SubjectPublicKeyInfo's size)."""
    der_len = {2048: 294, 4096: 550}[bits]
    p = base64.b64encode(random.Random(seed).randbytes(der_len)).decode()
    return f"v=DKIM1; k=rsa; p={p}"


def _txt(value: str) -> str:
    """Zone-file TXT rdata: character-strings of at most 255 bytes."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


KEY_CONTOSO = _key(2048, 1)
KEY_OUTAGE = _key(2048, 2)
KEY_BIG = _key(4096, 3)  # ~800 bytes: over the 512 of plain DNS
KEY_FABRIKAM = _key(2048, 4)
HUGE = "x" * 1500  # over the 1232 EDNS buffer Unbound asks NSD with, so NSD → Unbound is TCP

SOA_CUSTOMER = "ns1-01.azure-dns.com. azuredns-hostmaster.microsoft.com. 1 3600 300 2419200 300"
SOA_MICROSOFT = (
    "ns1.bdm.microsoftonline.com. azuredns-hostmaster.microsoft.com. 1 3600 300 2419200 300"
)

ZONES = {
    "contoso.com": f"""\
$TTL 3600
@                    SOA   {SOA_CUSTOMER}
@                    NS    ns1-01.azure-dns.com.
@                    TXT   "v=spf1 include:spf.protection.outlook.com -all"
_dmarc               TXT   "v=DMARC1; p=reject; rua=mailto:dmarc@contoso.com"
selector1._domainkey CNAME selector1-contoso-com._domainkey.contoso.onmicrosoft.com.
selector2._domainkey CNAME selector2-contoso-com._domainkey.contoso.onmicrosoft.com.
outage._domainkey    CNAME outage-contoso-com._domainkey.contoso.onmicrosoft.com.
big._domainkey       CNAME big-contoso-com._domainkey.contoso.onmicrosoft.com.
stray._domainkey     CNAME selector1-contoso-com._domainkey.elsewhere.example.
huge                 TXT   {_txt(HUGE)}
""",
    "fabrikam.com": f"""\
$TTL 3600
@                    SOA   {SOA_CUSTOMER}
@                    NS    ns1-01.azure-dns.com.
selector1._domainkey CNAME selector1-fabrikam-com._domainkey.contoso.n-v1.dkim.mail.microsoft.
""",
    # Microsoft publishes only the selector in use: selector2-contoso-com is absent.
    "contoso.onmicrosoft.com": f"""\
$TTL 3600
@                                SOA  {SOA_MICROSOFT}
@                                NS   ns1.bdm.microsoftonline.com.
selector1-contoso-com._domainkey TXT  {_txt(KEY_CONTOSO)}
outage-contoso-com._domainkey    TXT  {_txt(KEY_OUTAGE)}
big-contoso-com._domainkey       TXT  {_txt(KEY_BIG)}
""",
    "contoso.n-v1.dkim.mail.microsoft": f"""\
$TTL 3600
@                                 SOA  {SOA_MICROSOFT}
@                                 NS   ns1.bdm.microsoftonline.com.
selector1-fabrikam-com._domainkey TXT  {_txt(KEY_FABRIKAM)}
""",
}


def _write_zones(directory: Path, zones: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for origin, text in zones.items():
        (directory / f"{origin}.zone").write_text(text)
    return directory


@pytest.fixture(scope="session")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    root = tmp_path_factory.mktemp("testbed")
    zones = _write_zones(root / "zones", ZONES)
    # One directory for both operators: the test bed splits it by origin suffix.
    with Testbed(zones, workdir=root / "run") as bed:
        yield bed


def ask(
    server: tuple[str, int],
    qname: str,
    rdtype: str = "TXT",
    *,
    timeout: float = 5.0,
    edns: bool = True,
) -> tuple[dns.message.Message, float]:
    """One query like dkimwatch's (UDP, TCP when truncated); the answer and seconds taken."""
    query = dns.message.make_query(qname, rdtype, use_edns=0 if edns else None)
    start = time.monotonic()
    response, _ = dns.query.udp_with_fallback(query, server[0], port=server[1], timeout=timeout)
    return response, time.monotonic() - start


def txt_of(response: dns.message.Message) -> str:
    (rrset,) = [r for r in response.answer if r.rdtype == dns.rdatatype.TXT]
    (rdata,) = list(rrset)
    return b"".join(rdata.strings).decode()


def rrset(response: dns.message.Message, rdtype: str) -> dns.rrset.RRset | None:
    wanted = dns.rdatatype.from_text(rdtype)
    return next((r for r in response.answer if r.rdtype == wanted), None)


# -- pure helpers ------------------------------------------------------------------------


def test_zones_split_by_origin_suffix() -> None:
    zones = [ZoneFile(origin, Path(f"/z/{origin}.zone")) for origin in sorted(ZONES)]
    customer, microsoft = split_zones([*zones, ZoneFile("notonmicrosoft.com", Path("/z/n.zone"))])
    assert [z.origin for z in customer] == ["contoso.com", "fabrikam.com", "notonmicrosoft.com"]
    assert [z.origin for z in microsoft] == [
        "contoso.n-v1.dkim.mail.microsoft",
        "contoso.onmicrosoft.com",
    ]


def test_bad_zone_file_is_named_in_the_error(tmp_path: Path) -> None:
    zones = _write_zones(tmp_path / "zones", {"broken.example": "@ IN SOA only-one-field\n"})
    bed = Testbed(zones, workdir=tmp_path / "run")
    with pytest.raises(TestbedError, match=r"broken\.example\.zone") as info:
        bed.start()
    assert "invalid zone file" in str(info.value)
    assert bed.pids() == []


# -- through the resolver ----------------------------------------------------------------


def test_servers_on_their_own_loopback_addresses(testbed: Testbed) -> None:
    assert testbed.customer_addr[0] == CUSTOMER_HOST
    assert testbed.microsoft_addr[0] == MICROSOFT_HOST
    assert testbed.resolver == f"{RESOLVER_HOST}:{testbed.resolver_addr[1]}"
    assert [z.origin for z in testbed.microsoft_zones] == [
        "contoso.n-v1.dkim.mail.microsoft",
        "contoso.onmicrosoft.com",
    ]


def test_cname_chain_crosses_to_microsoft_txt(testbed: Testbed) -> None:
    response, _ = ask(testbed.resolver_addr, "selector1._domainkey.contoso.com")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.RA
    assert not response.flags & dns.flags.AA  # a resolver's answer, not an authority's
    cname = rrset(response, "CNAME")
    assert cname is not None
    assert str(cname[0].target) == "selector1-contoso-com._domainkey.contoso.onmicrosoft.com."
    assert txt_of(response) == KEY_CONTOSO

    # Each half really lives on its own server.
    customer_only, _ = ask(testbed.customer_addr, "selector1._domainkey.contoso.com")
    assert customer_only.flags & dns.flags.AA
    assert rrset(customer_only, "CNAME") is not None
    assert rrset(customer_only, "TXT") is None
    target = "selector1-contoso-com._domainkey.contoso.onmicrosoft.com"
    microsoft_only, _ = ask(testbed.microsoft_addr, target)
    assert microsoft_only.flags & dns.flags.AA
    assert txt_of(microsoft_only) == KEY_CONTOSO
    refused, _ = ask(testbed.customer_addr, target)
    assert refused.rcode() == dns.rcode.REFUSED


def test_new_style_dkim_mail_microsoft_target(testbed: Testbed) -> None:
    response, _ = ask(testbed.resolver_addr, "selector1._domainkey.fabrikam.com")
    assert response.rcode() == dns.rcode.NOERROR
    assert txt_of(response) == KEY_FABRIKAM


def test_nxdomain_and_nodata(testbed: Testbed) -> None:
    missing, _ = ask(testbed.resolver_addr, "nope._domainkey.contoso.com")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert any(r.rdtype == dns.rdatatype.SOA for r in missing.authority)

    nodata, _ = ask(testbed.resolver_addr, "_dmarc.contoso.com", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert nodata.answer == []


def test_unpublished_inactive_selector_is_cname_then_nxdomain(testbed: Testbed) -> None:
    response, _ = ask(testbed.resolver_addr, "selector2._domainkey.contoso.com")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert rrset(response, "CNAME") is not None
    assert rrset(response, "TXT") is None


def test_big_txt_truncated_over_udp_then_whole_over_tcp(testbed: Testbed) -> None:
    host, port = testbed.resolver_addr
    qname = "big._domainkey.contoso.com"
    plain = dns.message.make_query(qname, "TXT")  # no EDNS: 512-byte UDP limit
    truncated = dns.query.udp(plain, host, port=port, timeout=5)
    assert truncated.flags & dns.flags.TC
    response, used_tcp = dns.query.udp_with_fallback(plain, host, port=port, timeout=5)
    assert used_tcp
    assert txt_of(response) == KEY_BIG
    assert len(KEY_BIG) > 512


def test_txt_beyond_edns_buffer(testbed: Testbed) -> None:
    host, port = testbed.resolver_addr
    query = dns.message.make_query("huge.contoso.com", "TXT", use_edns=0, payload=1232)
    response, used_tcp = dns.query.udp_with_fallback(query, host, port=port, timeout=5)
    assert used_tcp
    assert txt_of(response) == HUGE


def test_unknown_names_fail_and_only_loopback_is_queried(testbed: Testbed) -> None:
    """How fast they fail is measured by bench/testbed_timing.py, not asserted here."""
    testbed.flush_resolver()  # so that dump_infra lists only what these queries touched
    for qname in ("contoso.zz", "www.example.org", "stray._domainkey.contoso.com"):
        response, _ = ask(testbed.resolver_addr, qname, timeout=3)
        assert response.rcode() in (dns.rcode.SERVFAIL, dns.rcode.REFUSED), qname
    contacted = testbed.upstreams_contacted()
    assert contacted, "Unbound should have asked the loopback root stub"
    assert contacted <= {testbed.customer_addr, testbed.microsoft_addr}
    assert all(ipaddress.ip_address(host).is_loopback for host, _ in contacted)


def test_microsoft_outage_servfails_then_recovers(
    testbed: Testbed, record_property: Callable[[str, object], None]
) -> None:
    """SERVFAIL while Microsoft's server is down, answers again once it is back. The times
    are recorded as properties; bench/testbed_timing.py measures them."""
    qname = "outage._domainkey.contoso.com"  # asked by no other test: nothing cached
    testbed.stop_microsoft()
    try:
        assert not testbed.running()["microsoft"]
        response, first = ask(testbed.resolver_addr, qname, timeout=10)
        assert response.rcode() == dns.rcode.SERVFAIL
        # Now known to be down: the next Microsoft-side name fails at once.
        target = "selector9-contoso-com._domainkey.contoso.onmicrosoft.com"
        response, again = ask(testbed.resolver_addr, target, timeout=10)
        assert response.rcode() == dns.rcode.SERVFAIL
        # The customer's own server is unaffected.
        response, _ = ask(testbed.resolver_addr, "_dmarc.contoso.com")
        assert response.rcode() == dns.rcode.NOERROR
    finally:
        start = time.monotonic()
        testbed.start_microsoft()
        restart = time.monotonic() - start
    response, _ = ask(testbed.resolver_addr, qname)
    assert response.rcode() == dns.rcode.NOERROR
    assert txt_of(response) == KEY_OUTAGE
    for name, seconds in (
        ("servfail_s", first),
        ("servfail_again_s", again),
        ("restart_s", restart),
    ):
        record_property(name, round(seconds, 3))
    print(f"outage: SERVFAIL after {first:.3f} s, then {again:.3f} s; restart {restart:.3f} s")


# -- lifecycle ---------------------------------------------------------------------------


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def _crash_inside(bed: Testbed, seen: list[int]) -> None:
    with bed:
        seen.extend(bed.pids())
        response, _ = ask(bed.resolver_addr, "_dmarc.contoso.com")
        assert response.rcode() == dns.rcode.NOERROR
        raise RuntimeError("boom")


def test_stop_leaves_no_process_even_after_an_exception(tmp_path: Path) -> None:
    customer = _write_zones(tmp_path / "customer", {"contoso.com": ZONES["contoso.com"]})
    microsoft = _write_zones(tmp_path / "microsoft", {})  # NSD #2 with no zone at all
    bed = Testbed(customer, microsoft, workdir=tmp_path / "run")
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="boom"):
        _crash_inside(bed, pids)
    assert len(pids) >= 7  # NSD forks xfrd + main + server, twice; Unbound is one process
    assert [pid for pid in pids if _running(pid)] == []
    assert bed.pids() == []


def test_reload_serves_new_zones_on_the_same_ports(tmp_path: Path) -> None:
    zones = _write_zones(tmp_path / "zones", {"contoso.com": ZONES["contoso.com"]})
    with Testbed(zones, workdir=tmp_path / "run") as bed:
        before = (bed.customer_addr, bed.microsoft_addr, bed.resolver_addr)
        response, _ = ask(bed.resolver_addr, "selector1._domainkey.contoso.com")
        assert response.rcode() == dns.rcode.SERVFAIL  # target zone not served yet
        _write_zones(zones, {"contoso.onmicrosoft.com": ZONES["contoso.onmicrosoft.com"]})
        bed.reload()
        assert (bed.customer_addr, bed.microsoft_addr, bed.resolver_addr) == before
        response, _ = ask(bed.resolver_addr, "selector1._domainkey.contoso.com")
        assert txt_of(response) == KEY_CONTOSO


@pytest.mark.parametrize(
    ("host", "server"), [(CUSTOMER_HOST, "nsd-customer"), (RESOLVER_HOST, "unbound")]
)
def test_startup_failure_shows_the_server_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, server: str
) -> None:
    zones = _write_zones(tmp_path / "zones", {"contoso.com": ZONES["contoso.com"]})
    real_free_port = selftests.testbed._free_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind((host, 0))
        taken = squatter.getsockname()[1]
        monkeypatch.setattr(
            selftests.testbed,
            "_free_port",
            lambda h, exclude=(): taken if h == host else real_free_port(h),
        )
        bed = Testbed(zones, workdir=tmp_path / "run")
        with pytest.raises(TestbedError, match=f"{server} on {host}:{taken} exited") as info:
            bed.start()
    assert "already in use" in str(info.value).lower()  # the tail of the server's own log
    assert bed.pids() == []
