"""The mx check through real DNS: zones served by the embedded authoritative server on
loopback, asked by dkimwatch's own resolver. One test per branch of checks/mx.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dkimwatch.checks import Context, Verdict
from dkimwatch.checks.mx import check_mx, exchange_online_host, parse_mx
from dkimwatch.inventory import Domain, Policy
from selftests.zonekit import Switchboard, zones_from_text

NOW = datetime(2026, 11, 22, 9, tzinfo=UTC)
# Exchange Online's hosts, both forms (docs/exchange-online.md, "MX").
OUTLOOK = "contoso-com.mail IN A 52.101.68.1\nfabrikam-com.mail IN A 52.101.68.2\n"
MX_MICROSOFT = "contoso-com.o-v1 IN A 52.101.11.1\n"
GATEWAY = "mx1 IN A 192.0.2.25\nmx2 IN AAAA 2001:db8::25\n"


def mx(
    board: Switchboard,
    apex: str,
    policy: str = "any",
    name: str = "contoso.com",
    extra: dict[str, str] | None = None,
) -> Verdict:
    """The mx verdict of ``name``, whose zone contoso.com holds ``apex`` (zone-file lines)."""
    zones = {
        "contoso.com": apex,
        "protection.outlook.com": OUTLOOK,
        "mx.microsoft": MX_MICROSOFT,
        "gateway.example": GATEWAY,
        **(extra or {}),
    }
    with board.serving(zones_from_text(zones)) as resolver:
        ctx = Context(resolver=resolver, policy=Policy(mx=policy), tenant="contoso", now=NOW)
        return check_mx(ctx, Domain(name=name, display=name))


EXO_MX = "@ IN MX 0 contoso-com.mail.protection.outlook.com.\n"
GATEWAY_MX = "@ IN MX 10 mx1.gateway.example.\n@ IN MX 20 mx2.gateway.example.\n"


def test_parse_mx() -> None:
    assert parse_mx("10 Mail.Example.com.") is not None
    assert str(parse_mx("10 Mail.Example.com.")) == "10 mail.example.com"
    assert str(parse_mx("0 .")) == "0 ."
    assert parse_mx("garbage") is None
    assert parse_mx("10") is None and parse_mx("ten mail.example.com.") is None
    assert exchange_online_host("contoso-com.mail.protection.outlook.com")
    assert exchange_online_host("contoso-com.o-v1.mx.microsoft") == "mx.microsoft"
    assert exchange_online_host("mx1.gateway.example") is None
    assert exchange_online_host("contoso-com.mail.protection.outlook.com.evil.example") is None


@pytest.mark.parametrize("policy", ["any", "exchange_online"])
def test_exchange_online_mx_passes(board: Switchboard, policy: str) -> None:
    v = mx(board, EXO_MX, policy)
    assert v.outcome == "passed", v.message
    assert v.message == (
        "contoso.com receives mail at contoso-com.mail.protection.outlook.com, Exchange Online "
        "(mail.protection.outlook.com); MX: 0 contoso-com.mail.protection.outlook.com"
    )
    assert v.details["mx"] == ["0 contoso-com.mail.protection.outlook.com"]
    asked = {(e.qname, e.rdtype) for e in v.evidence}
    assert ("contoso-com.mail.protection.outlook.com", "A") in asked


def test_the_dnssec_form_is_exchange_online_too(board: Switchboard) -> None:
    v = mx(board, "@ IN MX 0 contoso-com.o-v1.mx.microsoft.\n", "exchange_online")
    assert v.outcome == "passed", v.message
    assert "mx.microsoft" in v.message


def test_a_gateway_in_front_passes_any_and_fails_exchange_online(board: Switchboard) -> None:
    v = mx(board, GATEWAY_MX + "@ IN MX 30 contoso-com.mail.protection.outlook.com.\n")
    assert v.outcome == "passed", v.message
    assert "mx1.gateway.example" in v.message
    strict = mx(board, GATEWAY_MX, "exchange_online")
    assert strict.outcome == "failed"
    assert strict.message.startswith(
        "the preferred MX of contoso.com (10 mx1.gateway.example) is not Exchange Online's"
    )
    assert strict.message.endswith("MX: 10 mx1.gateway.example, 20 mx2.gateway.example")
    assert strict.remediation is not None and "mx: any" in strict.remediation


def test_a_backup_without_address_passes_with_a_warning(board: Switchboard) -> None:
    apex = "@ IN MX 10 gone.gateway.example.\n@ IN MX 20 mx2.gateway.example.\n"
    v = mx(board, apex)
    assert v.outcome == "passed", v.message
    assert "mx2.gateway.example" in v.message  # found by AAAA
    assert any("gone.gateway.example: does not exist" in w for w in v.warnings)


def test_no_host_with_an_address_fails(board: Switchboard) -> None:
    extra = {"gateway.example": 'mx1 IN TXT "no address"\n'}
    v = mx(
        board, "@ IN MX 10 mx1.gateway.example.\n@ IN MX 20 gone.gateway.example.\n", extra=extra
    )
    assert v.outcome == "failed"
    assert "mx1.gateway.example: no A or AAAA record" in v.message
    assert "gone.gateway.example: does not exist (NXDOMAIN)" in v.message


def test_exchange_online_host_without_address_fails(board: Switchboard) -> None:
    v = mx(board, "@ IN MX 0 nosuch-com.mail.protection.outlook.com.\n", "exchange_online")
    assert v.outcome == "failed"
    assert "does not exist" in v.message


def test_a_label_of_another_domain_warns(board: Switchboard) -> None:
    v = mx(board, "@ IN MX 0 fabrikam-com.mail.protection.outlook.com.\n", "exchange_online")
    assert v.outcome == "passed"
    assert any("not derived from contoso.com" in w for w in v.warnings)
    assert not mx(board, EXO_MX, "exchange_online").warnings


def test_a_label_that_differs_only_in_hyphens_and_dots_does_not_warn(board: Switchboard) -> None:
    """Microsoft's label of a hyphenated domain may drop its hyphens: no warning then."""
    host = "con-toso-contoso-com.mail.protection.outlook.com"
    outlook = OUTLOOK + "con-toso-contoso-com.mail IN A 52.101.68.3\n"
    v = mx(
        board,
        f"con-toso IN MX 0 {host}.\n",
        "exchange_online",
        name="con-toso.contoso.com",
        extra={"protection.outlook.com": outlook},
    )
    assert v.outcome == "passed", v.message
    assert not v.warnings


def test_null_mx(board: Switchboard) -> None:
    v = mx(board, "@ IN MX 0 .\n")
    assert v.outcome == "passed" and "RFC 7505" in v.message
    strict = mx(board, "@ IN MX 0 .\n", "exchange_online")
    assert strict.outcome == "failed" and "null MX" in strict.message
    assert strict.remediation is not None and "Create the MX record" in strict.remediation
    mixed = mx(board, "@ IN MX 0 .\n" + EXO_MX.replace(" 0 ", " 10 "))
    assert mixed.outcome == "failed" and "mixes a null MX" in mixed.message
    assert mixed.remediation == "Keep either the null MX (no mail) or the real MX records, not both"


def test_no_mx_fails(board: Switchboard) -> None:
    v = mx(board, '@ IN TXT "v=spf1 -all"\n')
    assert v.outcome == "failed"
    assert v.message.startswith(
        "no MX record at contoso.com (contoso.com has no MX record (NODATA))"
    )
    assert v.remediation is not None and "contoso-com.mail.protection.outlook.com" in v.remediation


def test_a_domain_that_does_not_exist_fails(board: Switchboard) -> None:
    v = mx(board, EXO_MX, name="shop.contoso.com")
    assert v.outcome == "failed"
    assert "does not exist in DNS (NXDOMAIN)" in v.message
    assert v.remediation is not None and "Create the MX record" in v.remediation


def test_dns_failure_of_the_mx_question_is_an_error(board: Switchboard) -> None:
    # fabrikam.com is in no zone the server has: REFUSED, a DNS failure, not "no MX".
    v = mx(board, EXO_MX, name="fabrikam.com")
    assert v.outcome == "error" and v.result == "temperror"
    assert "REFUSED" in v.message


def test_dns_failure_of_the_only_host_is_an_error(board: Switchboard) -> None:
    v = mx(board, "@ IN MX 10 mail.elsewhere.example.\n")
    assert v.outcome == "error", v.message
    assert "mail.elsewhere.example: DNS gave no answer" in v.message
    # ... but not when another host has an address: the pass rests on that one.
    ok = mx(board, "@ IN MX 10 mail.elsewhere.example.\n@ IN MX 20 mx1.gateway.example.\n")
    assert ok.outcome == "passed"
    assert any("mail.elsewhere.example: DNS gave no answer" in w for w in ok.warnings)


def test_off_and_microsoft_managed_domains_are_skipped(board: Switchboard) -> None:
    off = mx(board, EXO_MX, "off")
    assert (off.result, off.outcome) == ("none", "skipped")
    assert off.message == "not checked: the inventory's policy says mx: off"
    managed = mx(board, EXO_MX, name="contoso.onmicrosoft.com")
    assert (managed.result, managed.outcome) == ("none", "skipped")
    assert "Microsoft runs its DNS" in managed.message
    assert not managed.evidence
