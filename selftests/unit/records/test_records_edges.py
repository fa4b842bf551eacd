"""Edges of the record parsers that mutation testing found unguarded (bench/MUTATION.md):
each test pins a behaviour a surviving mutant changed without any selftest noticing."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from dkimwatch.records.dkim import judge_dkim_key, parse_dkim_key
from dkimwatch.records.dmarc import lower_policy, parse_dmarc, tree_walk_names
from dkimwatch.records.spf import dns_name_problem, expand_domain_spec, parse_spf
from dkimwatch.records.taglist import clip, parse_tag_list
from selftests.tenantkit import rsa_key_b64


def rsa_public_b64(bits: int, fmt: serialization.PublicFormat) -> str:
    """An RSA public key of exactly ``bits`` bits (a random odd modulus: only its size and
    encoding matter to a key record)."""
    n = random.Random(bits).getrandbits(bits) | (1 << (bits - 1)) | 1
    key = rsa.RSAPublicNumbers(65537, n).public_key()
    return base64.b64encode(key.public_bytes(serialization.Encoding.DER, fmt)).decode()


def ed25519_spki_b64() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


KEY = rsa_key_b64(1024)


# --- DKIM key records ---------------------------------------------------------------------


def test_colon_lists_allow_only_rfc_whitespace_around_colons() -> None:
    folded = parse_dkim_key(f"v=DKIM1; h=sha256 :\tsha1; p={KEY}")
    assert folded.errors == () and folded.hash_algs == ("sha256", "sha1")
    vertical_tab = parse_dkim_key(f"v=DKIM1; h=sha256:\x0bsha1; p={KEY}")
    assert any('has an invalid entry "\\x0bsha1"' in e for e in vertical_tab.errors), (
        vertical_tab.errors
    )


@pytest.mark.parametrize("tag", ["h", "s", "t"])
def test_an_invalid_list_entry_is_one_error_naming_its_tag(tag: str) -> None:
    record = parse_dkim_key(f"v=DKIM1; {tag}=bad!:worse!; p={KEY}")
    assert [e for e in record.errors if "invalid entry" in e] == [
        f'{tag}="bad!:worse!" has an invalid entry "bad!"'
    ]
    if tag == "h":
        assert record.hash_algs == ("bad!", "worse!")  # kept for the judgement's message


def test_unknown_t_flags_are_noted_and_known_ones_kept() -> None:
    record = parse_dkim_key(f"v=DKIM1; t=y:x:s; p={KEY}")
    assert record.errors == ()
    assert record.flags == ("y", "x", "s") and record.testing
    assert "unknown t= flags ignored: x" in record.notes


def test_empty_k_is_named_as_empty() -> None:
    assert "k= is empty" in parse_dkim_key(f"v=DKIM1; k=; p={KEY}").errors


def test_a_record_without_p_is_not_revoked() -> None:
    record = parse_dkim_key("v=DKIM1; k=rsa")
    assert record.revoked is False and record.public_key_b64 is None
    assert record.errors


def test_tags_are_kept_on_the_record() -> None:
    assert parse_dkim_key(f"v=DKIM1; k=rsa; p={KEY}").tags.get("k") == "rsa"


def test_an_ed25519_key_under_k_rsa_names_its_kind() -> None:
    record = parse_dkim_key(f"v=DKIM1; k=rsa; p={ed25519_spki_b64()}")
    assert "p= holds a Ed25519 key, not the RSA key that k=rsa declares" in record.errors


def test_bare_pkcs1_is_noted_for_short_and_long_der_lengths() -> None:
    """The DER length of the outer SEQUENCE is one byte below 128 (tiny keys) and several
    bytes above: the note must find the inner tag either way."""
    for bits in (512, 2048):
        bare = parse_dkim_key(
            f"v=DKIM1; p={rsa_public_b64(bits, serialization.PublicFormat.PKCS1)}"
        )
        assert bare.key_bits == bits
        assert any("bare PKCS#1 RSAPublicKey" in n for n in bare.notes), (bits, bare.notes)
        spki = parse_dkim_key(
            f"v=DKIM1; p={rsa_public_b64(bits, serialization.PublicFormat.SubjectPublicKeyInfo)}"
        )
        assert not any("PKCS#1" in n for n in spki.notes), (bits, spki.notes)


def test_4096_bits_is_the_last_size_every_verifier_handles() -> None:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    at = judge_dkim_key(parse_dkim_key(f"v=DKIM1; p={rsa_public_b64(4096, spki)}"))
    above = judge_dkim_key(parse_dkim_key(f"v=DKIM1; p={rsa_public_b64(4104, spki)}"))
    assert at.result == above.result == "pass"
    assert not any("verifiers need only support" in w for w in at.warnings)
    assert any("verifiers need only support up to 4096 bits" in w for w in above.warnings)


def test_a_failing_judgement_keeps_its_warnings_and_problems() -> None:
    failing = judge_dkim_key(parse_dkim_key(f"v=DKIM1; t=y; p={KEY}"), min_key_bits=2048)
    assert failing.result == "fail"
    assert failing.problems and failing.warnings
    invalid = parse_dkim_key("v=DKIM1; p=!!")
    judged = judge_dkim_key(invalid)
    assert judged.result == "permerror" and judged.problems == invalid.errors


# --- DMARC records --------------------------------------------------------------------------


def test_lower_policy_steps_down_one_level() -> None:
    assert [lower_policy(p) for p in ("reject", "quarantine", "none")] == [
        "quarantine",
        "none",
        "none",
    ]


def test_report_uri_keeps_address_domain_and_size_limit() -> None:
    record = parse_dmarc("v=DMARC1; p=none; rua=mailto:a@reports.example.com!10m")
    (uri,) = record.rua
    assert (uri.uri, uri.address, uri.domain, uri.size_limit) == (
        "mailto:a@reports.example.com",
        "a@reports.example.com",
        "reports.example.com",
        "10m",
    )
    other = parse_dmarc("v=DMARC1; p=none; rua=https://example.com/r!5k").rua
    assert [(u.uri, u.scheme, u.size_limit) for u in other] == [
        ("https://example.com/r", "https", "5k")
    ]


def test_every_uri_of_a_list_is_parsed_after_an_empty_one() -> None:
    record = parse_dmarc("v=DMARC1; p=none; rua=mailto:a@example.com,,mailto:b@example.net")
    assert [u.domain for u in record.rua] == ["example.com", "example.net"]


@pytest.mark.parametrize(
    ("domain", "valid"),
    [
        ("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 54 + ".example", False),
        ("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 53 + ".example", True),
        ("example.123", False),
        ("123.example", True),
    ],
)
def test_report_domain_length_and_numeric_tld(domain: str, valid: bool) -> None:
    """253 characters at most (254 is one too many); the top-level label is not numeric."""
    record = parse_dmarc(f"v=DMARC1; p=none; rua=mailto:a@{domain}")
    assert (not record.errors) is valid, (len(domain), record.errors)


@pytest.mark.parametrize(
    ("ri", "valid"), [("4294967295", True), ("4294967296", False), ("86400", True)]
)
def test_ri_is_a_32_bit_unsigned_integer(ri: str, valid: bool) -> None:
    record = parse_dmarc(f"v=DMARC1; p=none; ri={ri}")
    assert (not record.errors) is valid, record.errors


@pytest.mark.parametrize(
    ("size", "valid"), [("18446744073709551615", True), ("18446744073709551616", False)]
)
def test_size_limit_is_a_64_bit_unsigned_integer(size: str, valid: bool) -> None:
    record = parse_dmarc(f"v=DMARC1; p=none; rua=mailto:a@example.com!{size}")
    assert (not record.errors) is valid, record.errors


def test_tree_walk_names_of_long_names() -> None:
    # from 8 labels or more the walk jumps to the 7-label name
    long = tree_walk_names("h.g.f.e.d.c.b.a.example.com")
    assert long[0] == "e.d.c.b.a.example.com" and long[-1] == "com" and len(long) == 7


# --- SPF records ----------------------------------------------------------------------------


def test_ip_mechanisms_keep_every_field() -> None:
    record = parse_spf("v=spf1 ~ip4:192.0.2.0/24 -ip6:2001:db8::/32 ptr:example.org -all")
    assert record.errors == ()
    ip4, ip6, ptr, _ = record.mechanisms
    assert (ip4.qualifier, ip4.name, ip4.ip, ip4.cidr4, ip4.text) == (
        "~",
        "ip4",
        "192.0.2.0",
        24,
        "~ip4:192.0.2.0/24",
    )
    assert (ip6.qualifier, ip6.name, ip6.ip, ip6.cidr6, ip6.text) == (
        "-",
        "ip6",
        "2001:db8::",
        32,
        "-ip6:2001:db8::/32",
    )
    assert (ptr.qualifier, ptr.name, ptr.domain_spec, ptr.text) == (
        "+",
        "ptr",
        "example.org",
        "ptr:example.org",
    )


@pytest.mark.parametrize(
    ("term", "warned"),
    [
        ("ip4:0.0.0.0/0", "every IPv4 address"),
        ("+ip6:::/0", "every IPv6 address"),
        ("-ip4:0.0.0.0/0", None),
        ("ip4:192.0.2.0/1", None),
    ],
)
def test_only_a_passing_slash_0_authorises_everyone(term: str, warned: str | None) -> None:
    warnings = parse_spf(f"v=spf1 {term} -all").warnings
    hits = [w for w in warnings if "authorises every" in w]
    assert hits == ([f'"{term}" authorises {warned}'] if warned else [])


def test_dns_name_limits_are_63_per_label_and_253_in_all() -> None:
    assert dns_name_problem("a" * 63 + ".example") == ""
    assert dns_name_problem("a" * 64 + ".example") != ""
    name_253 = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(name_253) == 253
    assert dns_name_problem(name_253) == ""
    assert dns_name_problem(name_253 + ".") == ""  # the root's dot is not counted
    assert dns_name_problem(".".join(["a" * 63] * 3 + ["b" * 62])) != ""  # 254


def test_upper_case_macros_are_url_escaped() -> None:
    assert expand_domain_spec("%{D}.x.example", "a b.example", "o.example") == (
        "a%20b.example.x.example"
    )
    assert expand_domain_spec("%{D}.x", "a/b~c.example", "o.example") == "a%2Fb~c.example.x"
    assert expand_domain_spec("%{d}.x.example", "a-b_c.example", "o.example") == (
        "a-b_c.example.x.example"
    )
    assert expand_domain_spec("%{o2}.x", "d.example", "s.mail.example") == "mail.example.x"
    assert expand_domain_spec("%{o1r-}.x", "d.example", "a-b.example") == "a.x"


# --- tag-lists ------------------------------------------------------------------------------


def test_every_bad_tag_spec_is_reported_and_the_good_ones_kept() -> None:
    tags = parse_tag_list("a=1;;b;2c=3;a=4;d=5~;e=6; ")
    assert tags.tags == (("a", "1"), ("d", "5~"), ("e", "6"))
    assert len(tags.errors) == 4, tags.errors  # empty spec, no "=", bad name, duplicate
    assert "d" in tags and "z" not in tags
    assert tags.names() == ("a", "d", "e")


def test_a_lone_semicolon_is_an_empty_tag_spec() -> None:
    assert parse_tag_list(";").errors == ('empty tag-spec at position 1 (";")',)


def test_tilde_is_the_last_valid_value_character() -> None:
    assert parse_tag_list("a=~").errors == ()
    assert parse_tag_list("a=\x7f").errors == (
        'tag "a" has an invalid character U+007F in its value',
    )


def test_tag_lists_strip_only_rfc_whitespace() -> None:
    assert parse_tag_list("\x0c").errors != ("empty tag-list",)
    assert parse_tag_list("a=1;\x0c").errors  # a form feed is not FWS: not an empty spec
    assert parse_tag_list("a=\x0c1").errors  # nor whitespace in a value


def test_clip_keeps_exactly_the_limit() -> None:
    assert clip("x" * 60) == "x" * 60
    assert clip("x" * 61) == "x" * 59 + "…"
    assert clip("\x85\u2028") == "\\x85\\u2028"
