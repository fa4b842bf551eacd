"""The spf check through real DNS: zones served by the embedded authoritative server on
loopback, asked by dkimwatch's own resolver."""

from __future__ import annotations

from typing import Any

import pytest

from dkimwatch.checks import Verdict, check_spf
from dkimwatch.inventory import Domain
from selftests.checkkit import context
from selftests.zonekit import Switchboard, zones_from_text

# Microsoft's records as the demo tenant serves them (demo/zones/protection.outlook.com.zone).
OUTLOOK = """
spf IN TXT "v=spf1 ip4:40.92.0.0/15 include:spfd.protection.outlook.com -all"
spfd IN TXT "v=spf1 ip4:51.4.72.0/24 -all"
"""
SOVEREIGN = {
    "office365.us": 'spf.protection IN TXT "v=spf1 ip4:23.103.132.0/22 -all"\n',
    "partner.outlook.cn": 'spf.protection IN TXT "v=spf1 ip4:42.159.162.0/24 -all"\n',
}


def spf(
    board: Switchboard, apex: str, extra: dict[str, str] | None = None, **policy: Any
) -> Verdict:
    """The spf verdict for example.com whose zone holds ``apex`` (zone-file lines)."""
    zones = {"example.com": apex, "protection.outlook.com": OUTLOOK, **(extra or {})}
    with board.serving(zones_from_text(zones)) as resolver:
        return check_spf(context(resolver, **policy), Domain("example.com", "example.com"))


EXO = '@ IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n'


# --- SPF ---------------------------------------------------------------------------------


def test_exchange_online_record_passes_with_its_include_tree(board: Switchboard) -> None:
    verdict = spf(board, EXO)
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
def test_sovereign_cloud_includes_are_equivalent(
    include: str, cloud: str, board: Switchboard
) -> None:
    verdict = spf(board, f'@ IN TXT "v=spf1 include:{include} -all"\n', SOVEREIGN)
    assert verdict.result == "pass", verdict.message
    assert include in verdict.message and cloud in verdict.message
    assert "accepted as the equivalent of spf.protection.outlook.com" in verdict.message
    assert verdict.details["required_include"] == include


def test_sovereign_includes_do_not_satisfy_another_required_include(board: Switchboard) -> None:
    verdict = spf(
        board,
        '@ IN TXT "v=spf1 include:spf.protection.partner.outlook.cn -all"\n',
        SOVEREIGN,
        spf_require_include="spf.protection.office365.us",
    )
    assert verdict.result == "fail"


def test_required_include_reached_through_nested_include_and_redirect(board: Switchboard) -> None:
    nested = spf(
        board,
        '@ IN TXT "v=spf1 include:_spf.example.com -all"\n'
        '_spf IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n',
    )
    assert nested.result == "pass", nested.message
    redirected = spf(
        board,
        '@ IN TXT "v=spf1 redirect=_spf.example.com"\n'
        '_spf IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n',
    )
    assert redirected.result == "pass", redirected.message
    assert redirected.details["tree"]["children"][0]["via"] == "redirect=_spf.example.com"


def test_required_include_behind_softfail_qualifier_does_not_count(board: Switchboard) -> None:
    verdict = spf(board, '@ IN TXT "v=spf1 ~include:spf.protection.outlook.com -all"\n')
    assert verdict.result == "fail"
    assert "qualifier other than +" in verdict.message


def test_required_include_missing(board: Switchboard) -> None:
    verdict = spf(board, '@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n')
    assert verdict.result == "fail"
    assert "not reachable through the include tree" in verdict.message


def test_lookup_limit_counted_through_nested_includes(board: Switchboard) -> None:
    apex = '@ IN TXT "v=spf1 include:a.example.com include:spf.protection.outlook.com -all"\n'
    apex += 'a IN TXT "v=spf1 a a a a a a a a -all"\n'
    apex += "a IN A 192.0.2.1\n"
    verdict = spf(board, apex)
    # include a (1) + 8 x a (9) + include outlook (10) + its include spfd (11)
    assert verdict.result == "permerror"
    assert verdict.details["lookups"] == 11
    assert 'the 11th DNS-querying term is "include:spfd.protection.outlook.com"' in verdict.message


def test_terms_after_all_and_exp_do_not_count(board: Switchboard) -> None:
    apex = (
        '@ IN TXT "v=spf1 a a a a a a a a include:spf.protection.outlook.com -all '
        'include:never.example.com exp=explain.example.com"\n@ IN A 192.0.2.1\n'
    )
    verdict = spf(board, apex)
    assert verdict.result == "pass", verdict.message
    assert verdict.details["lookups"] == 10


def test_void_lookups_over_two(board: Switchboard) -> None:
    verdict = spf(
        board,
        '@ IN TXT "v=spf1 a:gone1.example.com a:gone2.example.com exists:gone3.example.com '
        'include:spf.protection.outlook.com -all"\n',
    )
    assert verdict.result == "permerror"
    assert 'void lookup number 3 is "exists:gone3.example.com"' in verdict.message
    two = spf(
        board,
        '@ IN TXT "v=spf1 a:gone1.example.com mx:gone2.example.com '
        'include:spf.protection.outlook.com -all"\n',
    )
    assert two.result == "pass" and two.details["void_lookups"] == 2


def test_more_than_ten_mx_records(board: Switchboard) -> None:
    mx = "".join(f"@ IN MX {i} mx{i}.example.com.\n" for i in range(11))
    verdict = spf(board, '@ IN TXT "v=spf1 mx include:spf.protection.outlook.com -all"\n' + mx)
    assert verdict.result == "permerror"
    assert "11 MX records" in verdict.message
    ten = "".join(f"@ IN MX {i} mx{i}.example.com.\n" for i in range(10))
    ok = spf(board, '@ IN TXT "v=spf1 mx include:spf.protection.outlook.com -all"\n' + ten)
    assert ok.result == "pass", ok.message


def test_include_and_redirect_to_nothing(board: Switchboard) -> None:
    include = spf(board, '@ IN TXT "v=spf1 include:nothing.example.com -all"\n')
    assert include.result == "permerror"
    assert "include:nothing.example.com: nothing.example.com has no SPF record" in include.message
    redirect = spf(board, '@ IN TXT "v=spf1 redirect=nothing.example.com"\n')
    assert redirect.result == "permerror"
    assert "redirect=nothing.example.com" in redirect.message


def test_syntax_error_inside_an_include_is_a_permerror(board: Switchboard) -> None:
    verdict = spf(
        board,
        '@ IN TXT "v=spf1 include:_spf.example.com include:spf.protection.outlook.com -all"\n'
        '_spf IN TXT "v=spf1 ip4:192.0.2.300 -all"\n',
    )
    assert verdict.result == "permerror"
    assert "_spf.example.com: invalid SPF record" in verdict.message


def test_several_spf_records_and_near_misses(board: Switchboard) -> None:
    several = spf(board, EXO + '@ IN TXT "v=spf1 -all"\n')
    assert several.result == "permerror"
    near = spf(board, '@ IN TXT "v=spf10 include:spf.protection.outlook.com -all"\n')
    assert near.result == "fail"
    assert 'must start with "v=spf1" followed by a space' in near.message


def test_plus_all_directly_through_redirect_and_through_include(board: Switchboard) -> None:
    direct = spf(board, '@ IN TXT "v=spf1 include:spf.protection.outlook.com +all"\n')
    assert direct.result == "fail" and "ends in +all" in direct.message
    redirect = spf(
        board,
        '@ IN TXT "v=spf1 include:spf.protection.outlook.com redirect=_spf.example.com"\n'
        '_spf IN TXT "v=spf1 +all"\n',
    )
    assert redirect.result == "fail" and "redirects to a record ending in +all" in redirect.message
    include = spf(
        board,
        '@ IN TXT "v=spf1 include:spf.protection.outlook.com include:open.example.com -all"\n'
        'open IN TXT "v=spf1 all"\n',
    )
    assert include.result == "fail"
    assert '"include:open.example.com" in example.com ends in +all' in include.message
    # A -include of such a record denies instead: no finding.
    deny = spf(
        board,
        '@ IN TXT "v=spf1 -include:open.example.com include:spf.protection.outlook.com -all"\n'
        'open IN TXT "v=spf1 all"\n',
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
def test_warnings(record: str, fragment: str, board: Switchboard) -> None:
    verdict = spf(board, f'@ IN TXT "{record}"\n')
    assert verdict.result == "pass", verdict.message
    assert any(fragment in w for w in verdict.warnings), verdict.warnings


def test_warning_of_the_record_redirected_to(board: Switchboard) -> None:
    verdict = spf(
        board,
        '@ IN TXT "v=spf1 redirect=_spf.example.com"\n'
        '_spf IN TXT "v=spf1 include:spf.protection.outlook.com ?all"\n',
    )
    assert verdict.result == "pass"
    assert any(w.startswith("_spf.example.com (redirect):") for w in verdict.warnings)


def test_messages_stay_on_one_line(board: Switchboard) -> None:
    # A CR inside the record (zone-file escape \013) is a syntax error, shown escaped.
    verdict = spf(board, '@ IN TXT "v=spf1 a:mail.example.com\\013ptr -all"\n')
    assert verdict.result == "permerror"
    assert "\r" not in verdict.message and "\\r" in verdict.message
    assert verdict.details["record"] == "v=spf1 a:mail.example.com\rptr -all"  # evidence as is


def test_long_record_in_several_strings(board: Switchboard) -> None:
    ip4s = " ".join(f"ip4:198.51.100.{i}" for i in range(30))
    text = f"v=spf1 {ip4s} include:spf.protection.outlook.com -all"
    chunks = " ".join(f'"{text[i : i + 200]}"' for i in range(0, len(text), 200))
    verdict = spf(board, f"@ IN TXT {chunks}\n")
    assert verdict.result == "pass", verdict.message
    assert verdict.details["record"] == text  # strings joined with nothing between them
    assert any("over 450" in w for w in verdict.warnings)


def test_macros_that_need_no_message_are_resolved(board: Switchboard) -> None:
    verdict = spf(
        board,
        '@ IN TXT "v=spf1 include:%{d}._spf.example.com exists:%{i}.bl.example.com -all"\n'
        'example.com._spf IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n',
    )
    assert verdict.result == "pass", verdict.message
    tree = verdict.details["tree"]
    assert tree["children"][0]["domain"] == "example.com._spf.example.com"
    assert tree["unresolved"] == ["exists:%{i}.bl.example.com"]
    assert verdict.details["lookups"] == 4  # the unresolved exists still counts


def test_ipv6_void_lookups_are_a_warning(board: Switchboard) -> None:
    apex = EXO.replace(" -all", " a:h1.example.com a:h2.example.com a:h3.example.com -all")
    hosts = "".join(f"h{i} IN A 192.0.2.{i}\n" for i in (1, 2, 3))
    verdict = spf(board, apex + hosts)
    assert verdict.result == "pass", verdict.message
    assert verdict.details["void_lookups_ipv6"] == 3
    assert any("for IPv6 clients" in w for w in verdict.warnings)
    # Other void terms count for IPv6 clients too: one missing AAAA plus two voids.
    mixed = spf(
        board,
        EXO.replace(" -all", " a:h1.example.com mx:gone1.example.com a:gone2.example.com -all")
        + "h1 IN A 192.0.2.1\n",
    )
    assert mixed.result == "pass", mixed.message
    assert (mixed.details["void_lookups"], mixed.details["void_lookups_ipv6"]) == (2, 3)
    assert any("there are 3 void lookups" in w for w in mixed.warnings)


def test_include_loop_hits_the_lookup_limit(board: Switchboard) -> None:
    verdict = spf(
        board,
        '@ IN TXT "v=spf1 include:a.example.com -all"\n'
        'a IN TXT "v=spf1 include:b.example.com"\n'
        'b IN TXT "v=spf1 include:a.example.com"\n',
    )
    assert verdict.result == "permerror"
    assert any(
        "loop: example.com → a.example.com → b.example.com → a.example.com" in w
        for w in verdict.warnings
    ), verdict.warnings


def test_undnsable_names_do_not_crash(board: Switchboard) -> None:
    label = "x" * 64
    verdict = spf(
        board, f'@ IN TXT "v=spf1 a:{label}.example.com include:spf.protection.outlook.com -all"\n'
    )
    assert verdict.result == "pass", verdict.message
    assert any("longer than 63 octets" in w for w in verdict.warnings)


def test_dns_failure_in_an_include_is_a_temperror_unless_a_permerror_came_first(
    board: Switchboard,
) -> None:
    # other.test is outside the served zones: the server REFUSES, DNS gives no answer.
    temp = spf(board, '@ IN TXT "v=spf1 include:spf.other.test -all"\n')
    assert temp.result == "temperror" and temp.outcome == "error"
    first = spf(
        board, '@ IN TXT "v=spf1 include:nothing.example.com include:spf.other.test -all"\n'
    )
    assert first.result == "permerror"


def test_a_void_include_counts_for_both_address_families_and_its_node(board: Switchboard) -> None:
    """An include whose name has no record is a void lookup (RFC 7208 §4.6.4) whatever the
    client's address family, counted in the tree where the include stands; and a permerror
    (§5.2)."""
    verdict = spf(board, EXO.replace(" -all", " include:gone.example.com -all"))
    assert verdict.result == "permerror", verdict.message
    assert (verdict.details["void_lookups"], verdict.details["void_lookups_ipv6"]) == (1, 1)
    assert verdict.details["tree"]["voids"] == 1
    two = spf(board, EXO.replace(" -all", " a:gone1.example.com a:gone2.example.com -all"))
    assert two.details["tree"]["voids"] == 2
