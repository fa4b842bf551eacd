"""The dmarc check through real DNS: zones served by the embedded authoritative server on
loopback, asked by dkimwatch's own resolver. Discovery (own record, inherited, tree walk
and public suffix), report destinations, the policy against dmarc_min_policy, and policies
weakened by t=y or pct= or written with upper-case tag names."""

from __future__ import annotations

from typing import Any

import pytest

from dkimwatch.checks import Verdict, check_dmarc
from dkimwatch.fixes import RecordFix
from dkimwatch.inventory import Domain
from selftests.checkkit import DOMAIN, context
from selftests.zonekit import Switchboard, zones_from_text


def dmarc(board: Switchboard, zones: dict[str, str], name: str = DOMAIN, **policy: Any) -> Verdict:
    with board.serving(zones_from_text(zones)) as resolver:
        return check_dmarc(context(resolver, **policy), Domain(name, name))


# --- DMARC -------------------------------------------------------------------------------


def test_own_record(board: Switchboard) -> None:
    verdict = dmarc(
        board, {"example.com": '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:d@example.com"\n'}
    )
    assert verdict.result == "pass", verdict.message
    assert verdict.details["source"] == "_dmarc.example.com"
    assert "discovery" not in verdict.details


def test_several_records_mean_no_policy(board: Switchboard) -> None:
    verdict = dmarc(
        board,
        {"example.com": '_dmarc IN TXT "v=DMARC1; p=reject"\n_dmarc IN TXT "v=DMARC1; p=none"\n'},
    )
    assert (verdict.result, verdict.outcome) == ("fail", "failed")
    assert "no policy of this domain applies" in verdict.message


def test_subdomain_inherits_and_the_verdict_says_how(board: Switchboard) -> None:
    verdict = dmarc(
        board,
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


def test_tree_walk_and_psl_disagree(board: Switchboard) -> None:
    # a.mail.example.com: RFC 7489 goes straight to example.com; RFC 9989 walks up and
    # stops at mail.example.com, which declares itself an organisational domain (psd=n).
    verdict = dmarc(
        board,
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
        board,
        {
            "example.com": '_dmarc IN TXT "v=DMARC1; p=reject"\n'
            '_dmarc.mail IN TXT "v=DMARC1; p=none; psd=n"\n'
        },
        name="a.mail.example.com",
        dmarc_min_policy="reject",
    )
    assert strict.result == "fail"


def test_public_suffix_policy_is_mentioned_but_the_domain_still_fails(board: Switchboard) -> None:
    verdict = dmarc(
        board,
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


def test_unanswered_public_suffix_questions_are_noted_not_evidence(board: Switchboard) -> None:
    # No record of its own: a failure, and it must rest only on what DNS answered.
    verdict = dmarc(board, {"example.com": '@ IN TXT "v=spf1 -all"\n'})
    assert verdict.result == "fail"
    assert {e.rcode for e in verdict.evidence} <= {"NOERROR", "NXDOMAIN"}
    assert [e.qname for e in verdict.evidence] == ["_dmarc.example.com"]
    assert "_dmarc.com" in verdict.details["discovery_note"]


def test_dns_failure_at_the_organisational_domain_is_a_temperror(board: Switchboard) -> None:
    # The organisational domain's zone is not served: REFUSED.
    verdict = dmarc(
        board, {"mail.example.com": '@ IN TXT "v=spf1 -all"\n'}, name="mail.example.com"
    )
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
def test_external_report_destinations(vendor_zone: str, result: str, board: Switchboard) -> None:
    verdict = dmarc(
        board,
        {
            "example.com": '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:r@vendor.net,'
            'mailto:d@example.com"\n',
            "vendor.net": vendor_zone,
        },
    )
    assert verdict.result == result, verdict.message
    if result == "pass":
        assert verdict.details["authorised_destinations"] == [
            "r@vendor.net (via example.com._report._dmarc.vendor.net)"
        ]
    else:
        assert "has not authorised reports for example.com" in verdict.message


def test_inherited_record_is_authorised_for_the_organisational_domain(board: Switchboard) -> None:
    # RFC 7489 §7.1: the name asked is built from the domain the policy was found at.
    verdict = dmarc(
        board,
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
def test_policy_strength(
    record: str, minimum: str, result: str, fragment: str, board: Switchboard
) -> None:
    verdict = dmarc(board, {"example.com": f'_dmarc IN TXT "{record}"\n'}, dmarc_min_policy=minimum)
    assert verdict.result == result, verdict.message
    assert fragment in verdict.message


def test_notes_and_unknown_tags(board: Switchboard) -> None:
    verdict = dmarc(
        board, {"example.com": '_dmarc IN TXT "v=DMARC1; p=reject; pct=100; foo=bar"\n'}
    )
    assert verdict.result == "pass"
    assert any('unknown tag "foo"' in w for w in verdict.warnings)
    assert verdict.details["notes"] == [
        "pct= is not part of RFC 9989 (DMARCbis); its receivers ignore it"
    ]


def test_near_miss_record_is_named(board: Switchboard) -> None:
    verdict = dmarc(board, {"example.com": '_dmarc IN TXT "v=DMARC1 p=reject"\n'})
    assert verdict.result == "fail"
    assert 'must start with "v=DMARC1" and a ";"' in verdict.message


def test_invalid_record_is_a_permerror(board: Switchboard) -> None:
    verdict = dmarc(board, {"example.com": '_dmarc IN TXT "v=DMARC1; p=block"\n'})
    assert verdict.result == "permerror"


# --- DMARC: weakened policies and upper-case tag names ------------------------------------


def own_record(board: Switchboard, record: str, minimum: str) -> Verdict:
    """The dmarc verdict of example.com whose own record is ``record``."""
    return dmarc(board, {DOMAIN: f'_dmarc IN TXT "{record}"\n'}, dmarc_min_policy=minimum)


@pytest.mark.parametrize(
    ("record", "minimum", "message", "fixed"),
    [
        (
            "v=DMARC1; p=quarantine; t=y",
            "quarantine",
            "policy quarantine, but t=y asks RFC 9989 receivers to apply none instead, which "
            "is weaker than the required quarantine",
            "v=DMARC1; p=quarantine",
        ),
        (
            "v=DMARC1; p=reject; pct=50",
            "reject",
            "policy reject, but pct=50 has RFC 7489 receivers apply quarantine to 50% of "
            "failing mail, which is weaker than the required reject",
            "v=DMARC1; p=reject",
        ),
        (
            "v=DMARC1; p=none; t=y",
            "quarantine",
            "policy none is weaker than the required quarantine",
            "v=DMARC1; p=quarantine",
        ),
        (
            "v=DMARC1; p=none",
            "reject",
            "policy none is weaker than the required reject",
            "v=DMARC1; p=reject",
        ),
    ],
    ids=["t=y", "pct", "none-with-t=y", "none"],
)
def test_weakened_policy_reads_as_a_sentence(
    board: Switchboard, record: str, minimum: str, message: str, fixed: str
) -> None:
    """The fix is the record itself, rewritten so that the check holds (the policy raised,
    t=y and pct= that weaken it removed), replacing the record found."""
    verdict = own_record(board, record, minimum)
    assert verdict.outcome == "failed"
    assert verdict.message == message
    assert verdict.fixes == (
        RecordFix("replace", "_dmarc.example.com", "TXT", fixed, DOMAIN, found=record),
    )
    assert verdict.remediation == (
        f'Replace TXT _dmarc.example.com "{record}" with "{fixed}" (TTL 3600)'
    )


def test_weakened_policy_that_still_meets_the_minimum_says_why_in_brackets(
    board: Switchboard,
) -> None:
    verdict = own_record(board, "v=DMARC1; p=reject; t=y", "quarantine")
    assert verdict.outcome == "passed"
    assert verdict.message == (
        '"v=DMARC1; p=reject; t=y": policy reject (t=y asks RFC 9989 receivers to apply '
        "quarantine instead)"
    )


def test_upper_case_version_tag_passes_with_the_fix_as_a_warning(board: Switchboard) -> None:
    verdict = own_record(board, "V=DMARC1; p=reject", "none")
    assert verdict.outcome == "passed", verdict.message
    (warning,) = [w for w in verdict.warnings if "upper-case" in w]
    assert "some receivers do not see the record" in warning
    assert warning.endswith('write it in lower case: "v=DMARC1; p=reject"')
