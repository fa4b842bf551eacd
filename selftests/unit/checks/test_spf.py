"""The spf, dmarc and dkim_key checks through real DNS: zones served by the embedded
authoritative server on loopback, asked by dkimwatch's own resolver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from dkimwatch.checks import Context, Verdict, check_dkim_key, check_dmarc, check_spf
from dkimwatch.inventory import Domain, Policy
from dkimwatch.resolver import Resolver
from selftests.zonekit import Switchboard, zones_from_text

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

# Microsoft's records as the demo tenant serves them (demo/zones/protection.outlook.com.zone).
OUTLOOK = """
spf IN TXT "v=spf1 ip4:40.92.0.0/15 include:spfd.protection.outlook.com -all"
spfd IN TXT "v=spf1 ip4:51.4.72.0/24 -all"
"""
SOVEREIGN = {
    "office365.us": 'spf.protection IN TXT "v=spf1 ip4:23.103.132.0/22 -all"\n',
    "partner.outlook.cn": 'spf.protection IN TXT "v=spf1 ip4:42.159.162.0/24 -all"\n',
}


@pytest.fixture(scope="module")
def board() -> Iterator[Switchboard]:
    with Switchboard() as server:
        yield server


@pytest.fixture(autouse=True)
def _use_board(board: Switchboard) -> None:
    global BOARD
    BOARD = board


BOARD: Switchboard | None = None


@contextmanager
def dns_of(zones: dict[str, str]) -> Iterator[Resolver]:
    assert BOARD is not None
    with BOARD.serving(zones_from_text(zones)) as resolver:
        yield resolver


def ctx_for(resolver: Resolver, **policy: Any) -> Context:
    return Context(resolver=resolver, policy=Policy(**policy), tenant=None, now=NOW)


def spf(apex: str, extra: dict[str, str] | None = None, **policy: Any) -> Verdict:
    """The spf verdict for example.com whose zone holds ``apex`` (zone-file lines)."""
    zones = {"example.com": apex, "protection.outlook.com": OUTLOOK, **(extra or {})}
    with dns_of(zones) as resolver:
        return check_spf(ctx_for(resolver, **policy), Domain("example.com", "example.com"))


def dmarc(zones: dict[str, str], name: str = "example.com", **policy: Any) -> Verdict:
    with dns_of(zones) as resolver:
        return check_dmarc(ctx_for(resolver, **policy), Domain(name, name))


EXO = '@ IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n'


# --- SPF ---------------------------------------------------------------------------------


def test_exchange_online_record_passes_with_its_include_tree() -> None:
    verdict = spf(EXO)
    assert verdict.result == "pass", verdict.message
    assert verdict.details["lookups"] == 2 and verdict.details["void_lookups"] == 0
    tree = verdict.details["tree"]
    assert (tree["domain"], tree["via"], tree["lookups"], tree["total"]) == (
        "example.com",
        None,
        1,
        2,
    )
    (outlook,) = tree["children"]
    assert (outlook["domain"], outlook["via"], outlook["lookups"], outlook["total"]) == (
        "spf.protection.outlook.com",
        "include:spf.protection.outlook.com",
        1,
        1,
    )
    assert outlook["children"][0]["domain"] == "spfd.protection.outlook.com"
    assert verdict.details["required_include"] == "spf.protection.outlook.com"


@pytest.mark.parametrize(
    ("include", "cloud"),
    [
        ("spf.protection.office365.us", "GCC High / DoD"),
        ("spf.protection.partner.outlook.cn", "21Vianet"),
    ],
)
def test_sovereign_cloud_includes_are_equivalent(include: str, cloud: str) -> None:
    verdict = spf(f'@ IN TXT "v=spf1 include:{include} -all"\n', SOVEREIGN)
    assert verdict.result == "pass", verdict.message
    assert include in verdict.message and cloud in verdict.message
    assert "accepted as the equivalent of spf.protection.outlook.com" in verdict.message
    assert verdict.details["required_include"] == include


def test_sovereign_includes_do_not_satisfy_another_required_include() -> None:
    verdict = spf(
        '@ IN TXT "v=spf1 include:spf.protection.partner.outlook.cn -all"\n',
        SOVEREIGN,
        spf_require_include="spf.protection.office365.us",
    )
    assert verdict.result == "fail"


def test_required_include_reached_through_nested_include_and_redirect() -> None:
    nested = spf(
        '@ IN TXT "v=spf1 include:_spf.example.com -all"\n'
        '_spf IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n'
    )
    assert nested.result == "pass", nested.message
    redirected = spf(
        '@ IN TXT "v=spf1 redirect=_spf.example.com"\n'
        '_spf IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n'
    )
    assert redirected.result == "pass", redirected.message
    assert redirected.details["tree"]["children"][0]["via"] == "redirect=_spf.example.com"


def test_required_include_behind_softfail_qualifier_does_not_count() -> None:
    verdict = spf('@ IN TXT "v=spf1 ~include:spf.protection.outlook.com -all"\n')
    assert verdict.result == "fail"
    assert "qualifier other than +" in verdict.message


def test_required_include_missing() -> None:
    verdict = spf('@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n')
    assert verdict.result == "fail"
    assert "not reachable through the include tree" in verdict.message


def test_lookup_limit_counted_through_nested_includes() -> None:
    apex = '@ IN TXT "v=spf1 include:a.example.com include:spf.protection.outlook.com -all"\n'
    apex += 'a IN TXT "v=spf1 a a a a a a a a -all"\n'
    apex += "a IN A 192.0.2.1\n"
    verdict = spf(apex)
    # include a (1) + 8 x a (9) + include outlook (10) + its include spfd (11)
    assert verdict.result == "permerror"
    assert verdict.details["lookups"] == 11
    assert 'the 11th DNS-querying term is "include:spfd.protection.outlook.com"' in verdict.message


def test_terms_after_all_and_exp_do_not_count() -> None:
    apex = (
        '@ IN TXT "v=spf1 a a a a a a a a include:spf.protection.outlook.com -all '
        'include:never.example.com exp=explain.example.com"\n@ IN A 192.0.2.1\n'
    )
    verdict = spf(apex)
    assert verdict.result == "pass", verdict.message
    assert verdict.details["lookups"] == 10


def test_void_lookups_over_two() -> None:
    verdict = spf(
        '@ IN TXT "v=spf1 a:gone1.example.com a:gone2.example.com exists:gone3.example.com '
        'include:spf.protection.outlook.com -all"\n'
    )
    assert verdict.result == "permerror"
    assert 'void lookup number 3 is "exists:gone3.example.com"' in verdict.message
    two = spf(
        '@ IN TXT "v=spf1 a:gone1.example.com mx:gone2.example.com '
        'include:spf.protection.outlook.com -all"\n'
    )
    assert two.result == "pass" and two.details["void_lookups"] == 2


def test_more_than_ten_mx_records() -> None:
    mx = "".join(f"@ IN MX {i} mx{i}.example.com.\n" for i in range(11))
    verdict = spf('@ IN TXT "v=spf1 mx include:spf.protection.outlook.com -all"\n' + mx)
    assert verdict.result == "permerror"
    assert "11 MX records" in verdict.message
    ten = "".join(f"@ IN MX {i} mx{i}.example.com.\n" for i in range(10))
    ok = spf('@ IN TXT "v=spf1 mx include:spf.protection.outlook.com -all"\n' + ten)
    assert ok.result == "pass", ok.message


def test_include_and_redirect_to_nothing() -> None:
    include = spf('@ IN TXT "v=spf1 include:nothing.example.com -all"\n')
    assert include.result == "permerror"
    assert "include:nothing.example.com: nothing.example.com has no SPF record" in include.message
    redirect = spf('@ IN TXT "v=spf1 redirect=nothing.example.com"\n')
    assert redirect.result == "permerror"
    assert "redirect=nothing.example.com" in redirect.message


def test_syntax_error_inside_an_include_is_a_permerror() -> None:
    verdict = spf(
        '@ IN TXT "v=spf1 include:_spf.example.com include:spf.protection.outlook.com -all"\n'
        '_spf IN TXT "v=spf1 ip4:192.0.2.300 -all"\n'
    )
    assert verdict.result == "permerror"
    assert "_spf.example.com: invalid SPF record" in verdict.message


def test_several_spf_records_and_near_misses() -> None:
    several = spf(EXO + '@ IN TXT "v=spf1 -all"\n')
    assert several.result == "permerror"
    near = spf('@ IN TXT "v=spf10 include:spf.protection.outlook.com -all"\n')
    assert near.result == "fail"
    assert 'must start with "v=spf1" followed by a space' in near.message


def test_plus_all_directly_through_redirect_and_through_include() -> None:
    direct = spf('@ IN TXT "v=spf1 include:spf.protection.outlook.com +all"\n')
    assert direct.result == "fail" and "ends in +all" in direct.message
    redirect = spf(
        '@ IN TXT "v=spf1 include:spf.protection.outlook.com redirect=_spf.example.com"\n'
        '_spf IN TXT "v=spf1 +all"\n'
    )
    assert redirect.result == "fail" and "redirects to a record ending in +all" in redirect.message
    include = spf(
        '@ IN TXT "v=spf1 include:spf.protection.outlook.com include:open.example.com -all"\n'
        'open IN TXT "v=spf1 all"\n'
    )
    assert include.result == "fail"
    assert '"include:open.example.com" in example.com ends in +all' in include.message
    # A -include of such a record denies instead: no finding.
    deny = spf(
        '@ IN TXT "v=spf1 -include:open.example.com include:spf.protection.outlook.com -all"\n'
        'open IN TXT "v=spf1 all"\n'
    )
    assert deny.result == "pass", deny.message


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ("v=spf1 include:spf.protection.outlook.com ?all", '"?all" gives neutral'),
        ("v=spf1 include:spf.protection.outlook.com", 'no "all" and no "redirect="'),
        ("v=spf1 ptr include:spf.protection.outlook.com -all", '"ptr" is slow'),
    ],
)
def test_warnings(record: str, fragment: str) -> None:
    verdict = spf(f'@ IN TXT "{record}"\n')
    assert verdict.result == "pass", verdict.message
    assert any(fragment in w for w in verdict.warnings), verdict.warnings


def test_warning_of_the_record_redirected_to() -> None:
    verdict = spf(
        '@ IN TXT "v=spf1 redirect=_spf.example.com"\n'
        '_spf IN TXT "v=spf1 include:spf.protection.outlook.com ?all"\n'
    )
    assert verdict.result == "pass"
    assert any(w.startswith("_spf.example.com (redirect):") for w in verdict.warnings)


def test_messages_stay_on_one_line() -> None:
    # A CR inside the record (zone-file escape \013) is a syntax error, shown escaped.
    verdict = spf('@ IN TXT "v=spf1 a:mail.example.com\\013ptr -all"\n')
    assert verdict.result == "permerror"
    assert "\r" not in verdict.message and "\\r" in verdict.message
    assert verdict.details["record"] == "v=spf1 a:mail.example.com\rptr -all"  # evidence as is


def test_long_record_in_several_strings() -> None:
    ip4s = " ".join(f"ip4:198.51.100.{i}" for i in range(30))
    text = f"v=spf1 {ip4s} include:spf.protection.outlook.com -all"
    chunks = " ".join(f'"{text[i : i + 200]}"' for i in range(0, len(text), 200))
    verdict = spf(f"@ IN TXT {chunks}\n")
    assert verdict.result == "pass", verdict.message
    assert verdict.details["record"] == text  # strings joined with nothing between them
    assert any("over 450" in w for w in verdict.warnings)


def test_macros_that_need_no_message_are_resolved() -> None:
    verdict = spf(
        '@ IN TXT "v=spf1 include:%{d}._spf.example.com exists:%{i}.bl.example.com -all"\n'
        'example.com._spf IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n'
    )
    assert verdict.result == "pass", verdict.message
    tree = verdict.details["tree"]
    assert tree["children"][0]["domain"] == "example.com._spf.example.com"
    assert tree["unresolved"] == ["exists:%{i}.bl.example.com"]
    assert verdict.details["lookups"] == 4  # the unresolved exists still counts


def test_ipv6_void_lookups_are_a_warning() -> None:
    apex = EXO.replace(" -all", " a:h1.example.com a:h2.example.com a:h3.example.com -all")
    hosts = "".join(f"h{i} IN A 192.0.2.{i}\n" for i in (1, 2, 3))
    verdict = spf(apex + hosts)
    assert verdict.result == "pass", verdict.message
    assert verdict.details["void_lookups_ipv6"] == 3
    assert any("for IPv6 clients" in w for w in verdict.warnings)
    # Other void terms count for IPv6 clients too: one missing AAAA plus two voids.
    mixed = spf(
        EXO.replace(" -all", " a:h1.example.com mx:gone1.example.com a:gone2.example.com -all")
        + "h1 IN A 192.0.2.1\n"
    )
    assert mixed.result == "pass", mixed.message
    assert (mixed.details["void_lookups"], mixed.details["void_lookups_ipv6"]) == (2, 3)
    assert any("there are 3 void lookups" in w for w in mixed.warnings)


def test_include_loop_hits_the_lookup_limit() -> None:
    verdict = spf(
        '@ IN TXT "v=spf1 include:a.example.com -all"\n'
        'a IN TXT "v=spf1 include:b.example.com"\n'
        'b IN TXT "v=spf1 include:a.example.com"\n'
    )
    assert verdict.result == "permerror"
    assert any(
        "loop: example.com → a.example.com → b.example.com → a.example.com" in w
        for w in verdict.warnings
    ), verdict.warnings


def test_undnsable_names_do_not_crash() -> None:
    label = "x" * 64
    verdict = spf(
        f'@ IN TXT "v=spf1 a:{label}.example.com include:spf.protection.outlook.com -all"\n'
    )
    assert verdict.result == "pass", verdict.message
    assert any("longer than 63 octets" in w for w in verdict.warnings)


def test_dns_failure_in_an_include_is_a_temperror_unless_a_permerror_came_first() -> None:
    # other.test is outside the served zones: the server REFUSES, DNS gives no answer.
    temp = spf('@ IN TXT "v=spf1 include:spf.other.test -all"\n')
    assert temp.result == "temperror" and temp.outcome == "error"
    first = spf('@ IN TXT "v=spf1 include:nothing.example.com include:spf.other.test -all"\n')
    assert first.result == "permerror"


# --- DMARC -------------------------------------------------------------------------------


def test_own_record() -> None:
    verdict = dmarc(
        {"example.com": '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:d@example.com"\n'}
    )
    assert verdict.result == "pass", verdict.message
    assert verdict.details["source"] == "_dmarc.example.com"
    assert "discovery" not in verdict.details


def test_several_records_mean_no_policy() -> None:
    verdict = dmarc(
        {"example.com": '_dmarc IN TXT "v=DMARC1; p=reject"\n_dmarc IN TXT "v=DMARC1; p=none"\n'}
    )
    assert (verdict.result, verdict.outcome) == ("fail", "failed")
    assert "no policy of this domain applies" in verdict.message


def test_subdomain_inherits_and_the_verdict_says_how() -> None:
    verdict = dmarc(
        {"example.com": '_dmarc IN TXT "v=DMARC1; p=reject; sp=quarantine"\n'},
        name="mail.example.com",
    )
    assert verdict.result == "pass", verdict.message
    assert "inherited from _dmarc.example.com" in verdict.message
    assert "Public Suffix List (RFC 7489)" in verdict.message
    assert "DMARCbis DNS tree walk (RFC 9989)" in verdict.message
    assert verdict.details["policy"] == "quarantine"  # sp= applies to the subdomain
    # The walk went on above example.com; the server does not serve "com": noted, not fatal.
    assert "_dmarc.com" in verdict.details["discovery_note"]


def test_tree_walk_and_psl_disagree() -> None:
    # a.mail.example.com: RFC 7489 goes straight to example.com; RFC 9989 walks up and
    # stops at mail.example.com, which declares itself an organisational domain (psd=n).
    verdict = dmarc(
        {
            "example.com": '_dmarc IN TXT "v=DMARC1; p=reject"\n'
            '_dmarc.mail IN TXT "v=DMARC1; p=none; psd=n"\n'
        },
        name="a.mail.example.com",
    )
    assert verdict.result == "pass", verdict.message
    assert verdict.details["policy"] == "none"  # the weaker of the two
    assert "RFC 7489 receivers" in verdict.message and "apply _dmarc.example.com" in verdict.message
    assert "apply _dmarc.mail.example.com" in verdict.message
    assert any("receivers disagree" in w for w in verdict.warnings)
    strict = dmarc(
        {
            "example.com": '_dmarc IN TXT "v=DMARC1; p=reject"\n'
            '_dmarc.mail IN TXT "v=DMARC1; p=none; psd=n"\n'
        },
        name="a.mail.example.com",
        dmarc_min_policy="reject",
    )
    assert strict.result == "fail"


def test_public_suffix_policy_is_mentioned_but_the_domain_still_fails() -> None:
    verdict = dmarc(
        {
            "example.test": '@ IN TXT "v=spf1 -all"\n',
            "test": '_dmarc IN TXT "v=DMARC1; p=reject; psd=y"\n',
        },
        name="example.test",
    )
    assert verdict.result == "fail"
    assert "no DMARC record at _dmarc.example.test" in verdict.message
    assert (
        "RFC 9989 receivers (DNS tree walk, organisational domain example.test) apply _dmarc.test"
        in verdict.message
    )


def test_unanswered_public_suffix_questions_are_noted_not_evidence() -> None:
    # No record of its own: a failure, and it must rest only on what DNS answered.
    verdict = dmarc({"example.com": '@ IN TXT "v=spf1 -all"\n'})
    assert verdict.result == "fail"
    assert {e.rcode for e in verdict.evidence} <= {"NOERROR", "NXDOMAIN"}
    assert [e.qname for e in verdict.evidence] == ["_dmarc.example.com"]
    assert "_dmarc.com" in verdict.details["discovery_note"]


def test_dns_failure_at_the_organisational_domain_is_a_temperror() -> None:
    # The organisational domain's zone is not served: REFUSED.
    verdict = dmarc({"mail.example.com": '@ IN TXT "v=spf1 -all"\n'}, name="mail.example.com")
    assert verdict.result == "temperror"


@pytest.mark.parametrize(
    ("vendor_zone", "result"),
    [
        ('example.com._report._dmarc IN TXT "v=DMARC1"\n', "pass"),
        ('*._report._dmarc IN TXT "v=DMARC1"\n', "pass"),  # the wildcard form
        ('other.com._report._dmarc IN TXT "v=DMARC1"\n', "fail"),
        ('example.com._report._dmarc IN TXT "v=spf1 -all"\n', "fail"),
    ],
)
def test_external_report_destinations(vendor_zone: str, result: str) -> None:
    verdict = dmarc(
        {
            "example.com": '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:r@vendor.net,'
            'mailto:d@example.com"\n',
            "vendor.net": vendor_zone,
        }
    )
    assert verdict.result == result, verdict.message
    if result == "pass":
        assert verdict.details["authorised_destinations"] == [
            "r@vendor.net (via example.com._report._dmarc.vendor.net)"
        ]
    else:
        assert "has not authorised reports for example.com" in verdict.message


def test_inherited_record_is_authorised_for_the_organisational_domain() -> None:
    # RFC 7489 §7.1: the name asked is built from the domain the policy was found at.
    verdict = dmarc(
        {
            "example.com": '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:r@vendor.net"\n',
            "vendor.net": 'example.com._report._dmarc IN TXT "v=DMARC1"\n',
        },
        name="mail.example.com",
    )
    assert verdict.result == "pass", verdict.message


@pytest.mark.parametrize(
    ("record", "minimum", "result", "fragment"),
    [
        (
            "v=DMARC1; p=reject; pct=50",
            "reject",
            "fail",
            "pct=50 has RFC 7489 receivers apply quarantine",
        ),
        ("v=DMARC1; p=reject; pct=50", "quarantine", "pass", ""),
        (
            "v=DMARC1; p=quarantine; t=y",
            "quarantine",
            "fail",
            "t=y asks RFC 9989 receivers to apply none",
        ),
        ("v=DMARC1; p=none", "quarantine", "fail", "weaker than the required quarantine"),
        ("v=DMARC1; p=reject; pct=100", "reject", "pass", ""),
    ],
)
def test_policy_strength(record: str, minimum: str, result: str, fragment: str) -> None:
    verdict = dmarc({"example.com": f'_dmarc IN TXT "{record}"\n'}, dmarc_min_policy=minimum)
    assert verdict.result == result, verdict.message
    assert fragment in verdict.message


def test_notes_and_unknown_tags() -> None:
    verdict = dmarc({"example.com": '_dmarc IN TXT "v=DMARC1; p=reject; pct=100; foo=bar"\n'})
    assert verdict.result == "pass"
    assert any('unknown tag "foo"' in w for w in verdict.warnings)
    assert verdict.details["notes"] == [
        "pct= is not part of RFC 9989 (DMARCbis); its receivers ignore it"
    ]


def test_near_miss_record_is_named() -> None:
    verdict = dmarc({"example.com": '_dmarc IN TXT "v=DMARC1 p=reject"\n'})
    assert verdict.result == "fail"
    assert 'must start with "v=DMARC1" and a ";"' in verdict.message


def test_invalid_record_is_a_permerror() -> None:
    verdict = dmarc({"example.com": '_dmarc IN TXT "v=DMARC1; p=block"\n'})
    assert verdict.result == "permerror"


# --- DKIM keys ---------------------------------------------------------------------------


def test_several_dkim_key_records_at_one_name_are_a_permerror() -> None:
    key = "v=DKIM1; k=ed25519; p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y="
    rrset = f'selector1._domainkey IN TXT "{key}"\nselector1._domainkey IN TXT "{key} "\n'
    zones = {"example.com": rrset}
    with dns_of(zones) as resolver:
        verdict = check_dkim_key(
            ctx_for(resolver), Domain("example.com", "example.com"), "selector1"
        )
    assert verdict.result == "permerror"
    assert "holds 2 TXT records" in verdict.message


def test_a_void_include_counts_for_both_address_families_and_its_node() -> None:
    """An include whose name has no record is a void lookup (RFC 7208 §4.6.4) whatever the
    client's address family, counted in the tree where the include stands; and a permerror
    (§5.2)."""
    verdict = spf(EXO.replace(" -all", " include:gone.example.com -all"))
    assert verdict.result == "permerror", verdict.message
    assert (verdict.details["void_lookups"], verdict.details["void_lookups_ipv6"]) == (1, 1)
    assert verdict.details["tree"]["voids"] == 1
    two = spf(EXO.replace(" -all", " a:gone1.example.com a:gone2.example.com -all"))
    assert two.details["tree"]["voids"] == 2
