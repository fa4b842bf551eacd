"""Who hosts a zone (src/dkimwatch/dnshost.py): the SOA walk and the NS lookups go over real
loopback sockets to the embedded zone server; host recognition is a pure function."""

from __future__ import annotations

import pytest

from dkimwatch import dnshost, names
from dkimwatch.checks.dmarc_discovery import organisational_domain
from dkimwatch.dnshost import GENERIC, find_zone, recognise
from selftests.zonekit import Switchboard, zones_from_text

SOA = "@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
AZURE_NS = (
    "@ IN NS ns1-07.azure-dns.com.\n@ IN NS ns2-07.azure-dns.net.\n"
    "@ IN NS ns3-07.azure-dns.org.\n@ IN NS ns4-07.azure-dns.info.\n"
)


@pytest.mark.parametrize(
    ("nameservers", "key"),
    [
        (("ns1-01.azure-dns.com.", "ns2-01.azure-dns.net", "ns3-01.azure-dns.org"), "azure"),
        (("ns4-01.azure-dns.info",), "azure"),
        (("ns-1536.awsdns-00.co.uk.", "ns-0.awsdns-00.com", "ns-512.awsdns-00.net"), "route53"),
        (("ns-1024.awsdns-00.org",), "route53"),
        (("ada.ns.cloudflare.com", "BOB.NS.CLOUDFLARE.COM."), "cloudflare"),
        (("ns-cloud-a1.googledomains.com", "ns-cloud-a2.googledomains.com"), "google"),
        (("ns05.domaincontrol.com", "ns06.domaincontrol.com"), "godaddy"),
        (("ns1.contoso.com", "ns2.contoso.com"), "generic"),
        ((), "generic"),
        # lookalikes are not the host
        (("ns1-01.azure-dns.com.evil.example",), "generic"),
        (("ns-1.awsdns-1.com",), "generic"),
        (("cloudflare.com",), "generic"),
        # NS of two hosts (a migration, or secondary DNS): no host is named
        (("ns1-01.azure-dns.com", "ada.ns.cloudflare.com"), "generic"),
        (("ns1-01.azure-dns.com", "ns1.contoso.com"), "generic"),
    ],
)
def test_hosts_are_recognised_only_from_all_their_ns_names(
    nameservers: tuple[str, ...], key: str
) -> None:
    host, note = recognise(nameservers)
    assert host.key == key
    assert note


def test_the_zone_and_its_host_come_from_soa_and_ns(board: Switchboard) -> None:
    zones = {
        "contoso.com": SOA
        + AZURE_NS
        + "selector1._domainkey IN CNAME sel.contoso.onmicrosoft.com.\n",
        "contoso.onmicrosoft.com": SOA + "@ IN NS ns1.\n",
    }
    with board.serving(zones_from_text(zones)) as resolver:
        found = find_zone(resolver, "selector1._domainkey.contoso.com")
    assert found.zone == "contoso.com"
    assert found.host.key == "azure"
    assert found.host.fix_format == "azure-cli"
    assert "ns1-07.azure-dns.com" in found.nameservers
    asked = {(e.qname, e.rdtype) for e in found.evidence}
    assert ("contoso.com", "SOA") in asked
    assert ("contoso.com", "NS") in asked


def test_a_delegated_subzone_is_the_zone_to_change(board: Switchboard) -> None:
    zones = {
        "contoso.com": SOA + "@ IN NS ns1.contoso.com.\n",
        "_domainkey.contoso.com": SOA
        + "@ IN NS ns-1.awsdns-01.com.\n@ IN NS ns-2.awsdns-02.net.\n",
    }
    with board.serving(zones_from_text(zones)) as resolver:
        found = find_zone(resolver, "selector1._domainkey.contoso.com")
    assert found.zone == "_domainkey.contoso.com"
    assert found.host.key == "route53"


def test_a_cname_to_an_unanswered_target_does_not_stop_the_walk(board: Switchboard) -> None:
    # the CNAME's target lies in a zone nobody serves here (REFUSED): the selector name
    # still exists in contoso.com, which is the zone to change
    zones = {
        "contoso.com": SOA
        + "@ IN NS ns01.domaincontrol.com.\n@ IN NS ns02.domaincontrol.com.\n"
        + "selector1._domainkey IN CNAME selector1.elsewhere.example.\n"
    }
    with board.serving(zones_from_text(zones)) as resolver:
        found = find_zone(resolver, "selector1._domainkey.contoso.com")
    assert (found.zone, found.host.key) == ("contoso.com", "godaddy")


def test_no_answer_is_the_generic_host_with_the_reason(board: Switchboard) -> None:
    with board.serving(zones_from_text({"other.example": SOA})) as resolver:
        found = find_zone(resolver, "selector1._domainkey.contoso.com")
    assert found.zone is None
    assert found.host is GENERIC
    assert "REFUSED" in found.note
    assert found.evidence  # what was asked is kept


def test_the_walk_never_names_a_public_suffix_as_the_zone(board: Switchboard) -> None:
    # a server that also serves "com": contoso.com does not exist, and the walk stops at the
    # registrable domain instead of proposing a change in the com zone
    zones = {"com": SOA + "@ IN NS ns-1.awsdns-01.com.\n"}
    with board.serving(zones_from_text(zones)) as resolver:
        found = find_zone(resolver, "selector1._domainkey.contoso.com")
    assert found.zone is None
    assert found.host is GENERIC
    assert "contoso.com" in found.note


def test_a_zone_without_ns_answer_is_generic(board: Switchboard) -> None:
    with board.serving(zones_from_text({"contoso.com": SOA})) as resolver:
        found = find_zone(resolver, "contoso.com")
    assert found.zone == "contoso.com"
    assert found.host is GENERIC
    assert "NS of contoso.com" in found.note


def test_the_walk_and_dmarc_share_one_parsed_public_suffix_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The list is parsed once per process, whichever asks first: the fixes' zone walk and
    # DMARC's organisational domain ask the same question of it.
    import publicsuffixlist

    parsed: list[object] = []

    class Counted(publicsuffixlist.PublicSuffixList):
        def __init__(self) -> None:
            parsed.append(self)
            super().__init__()

    monkeypatch.setattr(publicsuffixlist, "PublicSuffixList", Counted)
    names._parsed_psl.cache_clear()
    try:
        assert dnshost._floor("selector1._domainkey.mail.contoso.co.uk") == "contoso.co.uk"
        assert organisational_domain("_dmarc.mail.contoso.co.uk") == "contoso.co.uk"
        assert dnshost._floor("co.uk") == "co.uk"  # a public suffix is its own floor
    finally:
        names._parsed_psl.cache_clear()  # later tests parse the real class again
    assert len(parsed) == 1
