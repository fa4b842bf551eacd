"""DMARC records: discovery, tags, report URIs, and the missing-p rule."""

from __future__ import annotations

import pytest

from dkimwatch.records.dmarc import (
    DmarcRecord,
    ReportUri,
    is_dmarc_record,
    lower_policy,
    parse_dmarc,
    policy_rank,
    tree_walk_names,
    tree_walk_organisational_domain,
)


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
    # The RFC 7489 size limit is accepted, with a warning that RFC 9989 removed it.
    assert rec.warnings == (
        'rua= "mailto:agg@reports.example.net!10m": the "!10m" size limit is RFC 7489 syntax '
        "that RFC 9989 removed; drop it so every receiver can use the address",
    )
    assert rec.notes == tuple(
        f"{tag}= is not part of RFC 9989 (DMARCbis); its receivers ignore it"
        for tag in ("pct", "rf", "ri")
    )
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


def test_upper_case_version_tag_is_a_warning_with_the_exact_fix() -> None:
    """The ABNF literal is case-insensitive, but DMARC borrows DKIM's case-sensitive
    tag-list: some receivers never see a record starting "V=DMARC1"."""
    rec = parse_dmarc("V=DMARC1; p=reject; rua=mailto:d@contoso.com")
    assert rec.errors == () and rec.effective_policy == "reject"
    assert rec.warnings == (
        "upper-case tag name V=: DMARC's tag-list comes from DKIM, whose tag names are "
        "case-sensitive (RFC 7489 §6.3, RFC 6376 §3.2), so some receivers do not see the "
        'record; write it in lower case: "v=DMARC1; p=reject; rua=mailto:d@contoso.com"',
    )


def test_upper_case_tag_names_are_named_and_fixed_as_written() -> None:
    rec = parse_dmarc("v=DMARC1; P=reject;  Rua = mailto:d@contoso.com;")
    assert rec.errors == () and rec.p == "reject"
    (warning,) = [w for w in rec.warnings if "upper-case" in w]
    assert warning.startswith("upper-case tag names P=, Rua=:")
    assert "do not see these tags; write them in lower case" in warning
    # Only the names change: spacing and values stay as published.
    assert warning.endswith('"v=DMARC1; p=reject;  rua = mailto:d@contoso.com;"')
    single = parse_dmarc("v=DMARC1; P=reject; rua=mailto:d@contoso.com")
    assert (
        'do not see this tag; write it in lower case: "v=DMARC1; p=reject;' in (single.warnings[0])
    )
    assert not any("upper-case" in w for w in parse_dmarc("v=DMARC1; p=Reject").warnings)


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
        ("v=DMARC1; p=none; rua=mailto:a b@x.com", "is not a valid URI"),
        ("v=DMARC1; p=none; rua=mailto:a@x.com%zz", "is not a valid URI"),
        ("v=DMARC1; p=none; rua=https://x.example/a b", "is not a valid URI"),
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
    rec = parse_dmarc("v=DMARC1; rua=mailto:not-an-address")
    assert rec.rua == ()
    assert not rec.p_inferred and rec.effective_policy is None


def test_other_uri_schemes_are_valid_but_warned() -> None:
    # Any URI is valid (RFC 7489 §6.3, RFC 9989 §4.7); receivers must only support mailto:.
    rec = parse_dmarc("v=DMARC1; p=reject; rua=https://contoso.com/r,mailto:d@contoso.com")
    assert rec.errors == ()
    assert [(u.scheme, u.domain) for u in rec.rua] == [("https", None), ("mailto", "contoso.com")]
    assert any("only have to support mailto:" in w for w in rec.warnings)
    # ...and a syntactically valid URI is what rescues a record without p= (§6.6.3 step 6).
    rescued = parse_dmarc("v=DMARC1; rua=https://x.example/")
    assert rescued.p_inferred and rescued.effective_policy == "none"


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


@pytest.mark.parametrize(
    ("policy", "lower"), [("reject", "quarantine"), ("quarantine", "none"), ("none", "none")]
)
def test_lower_policy(policy: str, lower: str) -> None:
    assert lower_policy(policy) == lower
    assert lower_policy("bogus") == "bogus"


@pytest.mark.parametrize(
    ("domain", "names"),
    [
        ("example.com", ("com",)),
        ("a.mail.example.com", ("mail.example.com", "example.com", "com")),
        ("com", ()),
        ("", ()),
        ("Example.COM.", ("com",)),
        # RFC 9989 §4.10's own example: 13 labels jump to 7, eight queries in all.
        (
            "a.b.c.d.e.f.g.h.i.j.mail.example.com",
            (
                "g.h.i.j.mail.example.com",
                "h.i.j.mail.example.com",
                "i.j.mail.example.com",
                "j.mail.example.com",
                "mail.example.com",
                "example.com",
                "com",
            ),
        ),
        # Exactly eight labels: the first step is to the 7-label parent.
        (
            "a.b.c.d.e.f.example.com",
            (
                "b.c.d.e.f.example.com",
                "c.d.e.f.example.com",
                "d.e.f.example.com",
                "e.f.example.com",
                "f.example.com",
                "example.com",
                "com",
            ),
        ),
    ],
)
def test_tree_walk_names(domain: str, names: tuple[str, ...]) -> None:
    assert tree_walk_names(domain) == names
    assert len(names) <= 7  # plus the Author Domain's own query: at most eight


def _found(*pairs: tuple[str, str]) -> list[tuple[str, DmarcRecord]]:
    return [(name, parse_dmarc(text)) for name, text in pairs]


@pytest.mark.parametrize(
    ("found", "org"),
    [
        # RFC 9989 §4.10.2's examples for the starting domain a.mail.example.com:
        (
            _found(
                ("mail.example.com", "v=DMARC1; p=none"),
                ("example.com", "v=DMARC1; p=reject"),
            ),
            "example.com",
        ),
        (_found(("mail.example.com", "v=DMARC1; p=none; psd=n")), "mail.example.com"),
        (_found(("com", "v=DMARC1; p=reject; psd=y")), "example.com"),
        (
            _found(("example.com", "v=DMARC1; p=none"), ("com", "v=DMARC1; p=reject; psd=y")),
            "example.com",
        ),
        ([], None),
    ],
)
def test_tree_walk_organisational_domain(
    found: list[tuple[str, DmarcRecord]], org: str | None
) -> None:
    assert tree_walk_organisational_domain("a.mail.example.com", found) == org


def test_psd_y_at_the_author_domain_itself_is_not_a_boundary() -> None:
    found = _found(("example.com", "v=DMARC1; p=none; psd=y"))
    assert tree_walk_organisational_domain("example.com", found) == "example.com"
