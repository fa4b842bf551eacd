"""Typed fixes (src/dkimwatch/fixes.py) as pure functions; zone lines checked by dnspython's
own master-file parser, not by string comparison alone."""

from __future__ import annotations

import dns.zone
import pytest

from dkimwatch.fixes import (
    Advice,
    ExoFix,
    RecordFix,
    SupportCase,
    fixes_from_json,
    remediation,
    to_json,
    txt_strings,
    zone_line,
    zone_quoted,
)

KEY = "v=DKIM1; k=rsa; p=" + "A" * 392  # a 2048-bit key's length: more than one string


def _parse_line(line: str, origin: str) -> dns.zone.Zone:
    text = (
        f"$ORIGIN {origin}.\n@ 3600 IN SOA ns. host. 1 2 3 4 5\n@ 3600 IN NS ns.example.\n{line}\n"
    )
    return dns.zone.from_text(text, origin=origin, relativize=False)


def test_txt_strings_cut_at_255_bytes_and_join_back() -> None:
    parts = txt_strings(KEY)
    assert len(parts) == 2
    assert all(len(p.encode()) <= 255 for p in parts)
    assert "".join(parts) == KEY
    assert txt_strings("") == ("",)


def test_txt_strings_never_cut_inside_a_utf8_character() -> None:
    value = "é" * 300  # two bytes each
    parts = txt_strings(value)
    assert "".join(parts) == value
    assert all(len(p.encode()) <= 255 for p in parts)


def test_zone_line_of_a_long_txt_parses_back_to_the_same_value() -> None:
    fix = RecordFix("create", "selector1._domainkey.contoso.com", "TXT", KEY, "contoso.com")
    zone = _parse_line(zone_line(fix), "contoso.com")
    rdataset = zone.find_rdataset("selector1._domainkey.contoso.com.", "TXT")
    assert b"".join(next(iter(rdataset)).strings).decode() == KEY
    assert rdataset.ttl == 3600


@pytest.mark.parametrize(
    "hostile",
    ['x" ; rm -rf / ; "', "back\\slash", "new\nline $(id) ${HOME}", "tab\tand\x00nul"],
)
def test_hostile_txt_values_stay_one_record_in_a_zone_file(hostile: str) -> None:
    fix = RecordFix("create", "_dmarc.contoso.com", "TXT", hostile, "contoso.com")
    line = zone_line(fix)
    assert "\n" not in line
    zone = _parse_line(line, "contoso.com")
    rdataset = zone.find_rdataset("_dmarc.contoso.com.", "TXT")
    assert [b"".join(r.strings).decode() for r in rdataset] == [hostile]


def test_zone_quoted_escapes_quotes_backslashes_and_bytes() -> None:
    assert zone_quoted('a"b\\c\n') == '"a\\"b\\\\c\\010"'


def test_cname_zone_line_is_absolute() -> None:
    fix = RecordFix(
        "create",
        "selector1._domainkey.contoso.com",
        "CNAME",
        "selector1-contoso-com._domainkey.contoso.onmicrosoft.com",
        "contoso.com",
    )
    assert zone_line(fix).endswith(
        "IN CNAME selector1-contoso-com._domainkey.contoso.onmicrosoft.com."
    )
    zone = _parse_line(zone_line(fix), "contoso.com")
    target = next(iter(zone.find_rdataset("selector1._domainkey.contoso.com.", "CNAME"))).target
    assert str(target) == "selector1-contoso-com._domainkey.contoso.onmicrosoft.com."


def test_a_delete_has_no_line_to_publish() -> None:
    fix = RecordFix("delete", "selector1._domainkey.contoso.com", "TXT", None, "contoso.com")
    with pytest.raises(ValueError, match="no value"):
        zone_line(fix)


def test_host_is_relative_to_the_zone() -> None:
    def host(owner: str, zone: str) -> str:
        return RecordFix("create", owner, "TXT", "x", zone).host

    assert host("selector1._domainkey.contoso.com", "contoso.com") == "selector1._domainkey"
    assert host("contoso.com", "contoso.com") == "@"
    assert host("sub.contoso.com", "sub.contoso.com") == "@"
    # an owner outside the zone (never proposed on purpose) stays absolute, never truncated
    assert host("evilcontoso.com", "contoso.com") == "evilcontoso.com."


def test_remediation_sentence_names_every_fix_once_in_order() -> None:
    fixes = (
        RecordFix(
            "delete", "selector1._domainkey.contoso.com", "TXT", 'v=DKIM1; p="x', "contoso.com"
        ),
        RecordFix(
            "create",
            "selector1._domainkey.contoso.com",
            "CNAME",
            "selector1-contoso-com._domainkey.contoso.onmicrosoft.com",
            "contoso.com",
        ),
        Advice("Turn off proxying"),
        Advice("Turn off proxying"),
    )
    assert remediation(fixes) == (
        'Delete TXT selector1._domainkey.contoso.com ("v=DKIM1; p=\\"x"); '
        "Create CNAME selector1._domainkey.contoso.com → "
        "selector1-contoso-com._domainkey.contoso.onmicrosoft.com (TTL 3600); Turn off proxying"
    )
    assert remediation(()) is None


def test_a_newline_found_in_dns_does_not_break_the_sentence() -> None:
    fix = RecordFix("delete", "a.contoso.com", "TXT", "one\ntwo", "contoso.com")
    assert "\n" not in fix.describe()
    assert "one\\ntwo" in fix.describe()


def test_every_kind_round_trips_through_json() -> None:
    fixes = (
        RecordFix("replace", "contoso.com", "TXT", "v=spf1 -all", "contoso.com", ttl=300),
        ExoFix("Rotate-DkimSigningConfig -Identity contoso.com", "Microsoft publishes this key"),
        SupportCase(
            "contoso.com",
            "selector2",
            "selector2-contoso-com._domainkey.contoso.onmicrosoft.com",
            "no TXT since 2026-11-20T09:00:00Z",
        ),
        Advice("Flatten or remove includes to stay within 10 lookups"),
    )
    assert fixes_from_json([to_json(f) for f in fixes]) == fixes
    assert {to_json(f)["kind"] for f in fixes} == {"dns", "exchange", "support", "advice"}


def test_a_replace_names_the_record_it_replaces() -> None:
    txt = RecordFix(
        "replace",
        "_dmarc.contoso.com",
        "TXT",
        "v=DMARC1; p=reject",
        "contoso.com",
        found="v=DMARC1; p=none",
    )
    assert txt.describe() == (
        'Replace TXT _dmarc.contoso.com "v=DMARC1; p=none" with "v=DMARC1; p=reject" (TTL 3600)'
    )
    cname = RecordFix("replace", "s1._domainkey.contoso.com", "CNAME", "b.example", "contoso.com")
    assert cname.describe() == "Replace CNAME s1._domainkey.contoso.com with b.example (TTL 3600)"
    found = RecordFix(
        "replace", "s1._domainkey.contoso.com", "CNAME", "b.example", "contoso.com", found="a.x"
    )
    assert found.describe() == (
        "Replace CNAME s1._domainkey.contoso.com → a.x with b.example (TTL 3600)"
    )
    assert fixes_from_json([to_json(found)]) == (found,)
