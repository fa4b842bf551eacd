"""DMARC records: discovery, tags, report URIs, and the missing-p rule."""

from __future__ import annotations

import pytest

from dkimwatch.records.dmarc import ReportUri, is_dmarc_record, parse_dmarc, policy_rank


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=DMARC1; p=reject", True),
        ("v=DMARC1", True),
        ("v=DMARC1;", True),
        ("v = DMARC1 ; p=none", True),
        ("V=DMARC1; p=none", True),  # "v" is an ABNF literal: case-insensitive
        ("  v=DMARC1; p=none", True),  # FWS before a tag-name (RFC 6376 §3.2)
        ("v=dmarc1; p=none", False),  # %x44 %x4d ...: the value is case-sensitive
        ("v=DMARC1 p=none", False),  # v's value would be "DMARC1 p=none"
        ("v=DMARC10; p=none", False),
        ("p=none; v=DMARC1", False),
        ("v=spf1 -all", False),
        ("", False),
    ],
)
def test_is_dmarc_record(text: str, expected: bool) -> None:
    assert is_dmarc_record(text) is expected


def test_policy_rank() -> None:
    assert [policy_rank(p) for p in ("none", "quarantine", "reject")] == [0, 1, 2]
    assert policy_rank("Reject") == 2
    assert policy_rank("bogus") == -1


def test_full_record() -> None:
    rec = parse_dmarc(
        "v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=r; pct=100; fo=1:d; "
        "rf=afrf; ri=86400; t=n; psd=n; "
        "rua=mailto:dmarc@contoso.com,mailto:agg@reports.example.net!10m; "
        "ruf=mailto:forensic@contoso.com"
    )
    assert rec.errors == ()
    assert rec.warnings == ()
    assert (rec.version, rec.p, rec.sp, rec.np) == ("DMARC1", "reject", "quarantine", "reject")
    assert (rec.adkim, rec.aspf, rec.pct, rec.fo, rec.rf, rec.ri, rec.t, rec.psd) == (
        "s",
        "r",
        100,
        "1:d",
        "afrf",
        86400,
        "n",
        "n",
    )
    assert rec.rua == (
        ReportUri("mailto:dmarc@contoso.com", "mailto", "dmarc@contoso.com", "contoso.com"),
        ReportUri(
            "mailto:agg@reports.example.net",
            "mailto",
            "agg@reports.example.net",
            "reports.example.net",
            "10m",
        ),
    )
    assert rec.ruf[0].domain == "contoso.com"
    assert rec.effective_policy == "reject"
    assert rec.subdomain_policy == "quarantine"
    assert rec.nonexistent_policy == "reject"
    assert not rec.p_inferred and not rec.testing


def test_defaults_and_case() -> None:
    rec = parse_dmarc("V = DMARC1 ; P=Quarantine ; RUA = mailto:D@Contoso.COM")
    assert rec.errors == ()
    assert rec.p == "quarantine"
    assert rec.rua[0].address == "D@Contoso.COM"
    assert rec.rua[0].domain == "contoso.com"
    assert (rec.sp, rec.np, rec.adkim, rec.pct) == (None, None, None, None)
    assert rec.subdomain_policy == rec.nonexistent_policy == "quarantine"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("p=none; v=DMARC1", 'must start with "v=DMARC1"'),
        ("v=dmarc1; p=none", 'v="dmarc1" must be exactly "DMARC1"'),
        ("v=DMARC1 p=none", 'missing ";"?'),
        ("v=DMARC1; p=block", 'p="block" is not none, quarantine or reject'),
        ("v=DMARC1; p=none; sp=off", 'sp="off" is not none'),
        ("v=DMARC1; p=none; np=yes", 'np="yes" is not none'),
        ("v=DMARC1; p=none; adkim=strict", 'adkim="strict" is not r or s'),
        ("v=DMARC1; p=none; aspf=x", 'aspf="x" is not r or s'),
        ("v=DMARC1; p=none; pct=101", 'pct="101" is not an integer from 0 to 100'),
        ("v=DMARC1; p=none; pct=5.5", 'pct="5.5"'),
        ("v=DMARC1; p=none; fo=2", 'fo="2" must be 0, 1, d or s'),
        ("v=DMARC1; p=none; rf=af rf", 'rf="af rf"'),
        ("v=DMARC1; p=none; ri=4294967296", "32-bit unsigned"),
        ("v=DMARC1; p=none; ri=-1", 'ri="-1"'),
        ("v=DMARC1; p=none; t=yes", 't="yes" is not y or n'),
        ("v=DMARC1; p=none; psd=maybe", 'psd="maybe"'),
        ("v=DMARC1; p=none; rua=", "rua= is empty"),
        ("v=DMARC1; p=none; rua=dmarc@contoso.com", "is not a URI"),
        ("v=DMARC1; p=none; rua=https://contoso.com/r", "only sent to mailto: URIs"),
        ("v=DMARC1; p=none; rua=mailto:contoso.com", "is not a valid mail address"),
        ("v=DMARC1; p=none; rua=mailto:a@b@contoso.com", "is not a valid mail address"),
        ("v=DMARC1; p=none; rua=mailto:a@localhost", "is not a valid mail address"),
        ("v=DMARC1; p=none; rua=mailto:a@-x.com", "is not a valid mail address"),
        ("v=DMARC1; p=none; rua=mailto:a@x.com!10x", 'size limit "!10x"'),
        ("v=DMARC1; p=none; rua=mailto:a@x.com,,mailto:b@x.com", "has an empty entry"),
        ("v=DMARC1; p=none; ruf=mailto:a@x.com!", 'size limit "!"'),
        ("v=DMARC1; p=none; p=reject", 'duplicate tag "p"'),
        ("v=DMARC1; p=none; P=reject", 'duplicate tag "P"'),
        ("v=DMARC1;; p=none", "empty tag-spec"),
    ],
)
def test_errors(text: str, fragment: str) -> None:
    rec = parse_dmarc(text)
    assert any(fragment in e for e in rec.errors), rec.errors
    for message in (*rec.errors, *rec.warnings):
        assert "\n" not in message and "\r" not in message


def test_uri_details() -> None:
    rec = parse_dmarc(
        "v=DMARC1; p=none; rua = mailto:a%21b@x.example!50M , "
        "mailto:reports@y.example?subject=dmarc ,mailto:c@z.example!1t"
    )
    assert rec.errors == ()
    assert [(u.address, u.domain, u.size_limit) for u in rec.rua] == [
        ("a!b@x.example", "x.example", "50M"),
        ("reports@y.example", "y.example", None),
        ("c@z.example", "z.example", "1t"),
    ]
    assert rec.rua[1].uri == "mailto:reports@y.example?subject=dmarc"


def test_missing_p_with_valid_rua_is_inferred_none() -> None:
    rec = parse_dmarc("v=DMARC1; rua=mailto:dmarc@contoso.com")
    assert rec.p is None
    assert rec.p_inferred
    assert rec.effective_policy == rec.subdomain_policy == rec.nonexistent_policy == "none"
    assert rec.errors == (
        "p= (the policy) is missing: receivers act as if p=none were published, "
        "since rua= is valid",
    )


def test_invalid_sp_with_valid_rua_downgrades_everything() -> None:
    # RFC 7489 §6.6.3 step 6: an invalid sp= also makes receivers fall back to p=none.
    rec = parse_dmarc("v=DMARC1; p=reject; sp=quarantin; rua=mailto:d@contoso.com")
    assert rec.p == "reject"
    assert rec.p_inferred
    assert rec.effective_policy == "none"


def test_invalid_p_without_rua_discards_the_record() -> None:
    rec = parse_dmarc("v=DMARC1; p=rejectt")
    assert not rec.p_inferred
    assert rec.effective_policy is None
    assert any("receivers ignore the whole record" in e for e in rec.errors)


def test_invalid_p_with_only_invalid_rua_discards_the_record() -> None:
    rec = parse_dmarc("v=DMARC1; rua=https://x.example/")
    assert rec.rua == ()
    assert not rec.p_inferred and rec.effective_policy is None


def test_bad_version_discards_even_a_valid_policy() -> None:
    rec = parse_dmarc("v=DMARC2; p=reject; rua=mailto:d@contoso.com")
    assert rec.p == "reject"
    assert rec.effective_policy is None and not rec.p_inferred


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("v=DMARC1; p=none; rua=mailto:d@x.example", "p=none: monitoring only"),
        ("v=DMARC1; p=reject; pct=20; rua=mailto:d@x.example", "RFC 9989 removed pct"),
        ("v=DMARC1; p=reject; t=y; rua=mailto:d@x.example", "testing mode (t=y)"),
        ("v=DMARC1; p=reject; foo=bar; rua=mailto:d@x.example", 'unknown tag "foo"'),
        ("v=DMARC1; p=reject", "no rua="),
        ("v=DMARC1; rua=mailto:d@x.example; p=reject", "p= should directly follow v="),
        ("v=DMARC1; p=reject; rf=iodef; rua=mailto:d@x.example", "unregistered report formats"),
    ],
)
def test_warnings(text: str, fragment: str) -> None:
    rec = parse_dmarc(text)
    assert rec.errors == (), rec.errors
    assert any(fragment in w for w in rec.warnings), rec.warnings


def test_unknown_tags_listed() -> None:
    rec = parse_dmarc("v=DMARC1; p=reject; foo=1; Bar=2; rua=mailto:d@x.example")
    assert rec.unknown_tags == ("foo", "Bar")


def test_t_y_and_pct_zero() -> None:
    rec = parse_dmarc("v=DMARC1; p=quarantine; pct=0; t=y; rua=mailto:d@x.example")
    assert rec.errors == ()
    assert rec.pct == 0 and rec.testing
