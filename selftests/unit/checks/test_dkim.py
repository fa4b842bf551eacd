"""The DKIM checks (dkim_cname, dkim_target, dkim_key, dkim_rotation) through real DNS:
zones served by the embedded authoritative server on loopback, asked by dkimwatch's own
resolver.

CNAME chains in the customer's zone, revoked keys on the selector that does not sign, what
dkim_target says when neither selector has a key, the CNAME's TTL, and a key name holding
several records. test_rules_checks.py holds the rules (key size, tenant, which selector
signs), test_check_fixes.py the fixes these checks propose.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dkimwatch.checks import check_dkim_key
from dkimwatch.fixes import RecordFix
from dkimwatch.inventory import Domain, Rotation
from selftests.checkkit import DOMAIN, TENANT, TENANT_ZONE, context, dkim_verdicts
from selftests.tenantkit import key_record
from selftests.zonekit import Switchboard, zones_from_text


def target(selector: str) -> str:
    return f"{selector}-example-com._domainkey.{TENANT_ZONE}"


def owner(selector: str) -> str:
    """The target's owner name relative to the tenant's zone."""
    return target(selector)[: -len(TENANT_ZONE) - 1]


def domain(
    *, expected: bool = True, signing: str | None = None, enabled: bool | None = None
) -> Domain:
    """example.com; ``expected``: the export's targets are known; ``signing``: rotation data
    saying this selector signs now."""
    targets = tuple((s, target(s)) for s in ("selector1", "selector2")) if expected else ()
    rotation = None
    if signing is not None:
        other = "selector2" if signing == "selector1" else "selector1"
        rotation = Rotation(datetime(2026, 5, 4, 10, 0, tzinfo=UTC), other, signing)
    return Domain(DOMAIN, DOMAIN, targets=targets, rotation=rotation, enabled=enabled)


# --- CNAME chains in the customer's zone ---------------------------------------------------

CHAINED = f"""
selector1._domainkey IN CNAME s1.alias.example.com.
s1.alias IN CNAME {target("selector1")}.
selector2._domainkey IN CNAME {target("selector2")}.
"""


@pytest.mark.parametrize("expected", [True, False], ids=["expected-target", "plausible-target"])
def test_cname_chain_reaching_the_target_passes_with_a_warning(
    board: Switchboard, expected: bool
) -> None:
    v = dkim_verdicts(
        board,
        CHAINED,
        domain(expected=expected, signing="selector1"),
        microsoft=f"{owner('selector1')} IN TXT {key_record()}\n",
    )
    cname = v["dkim_cname/selector1"]
    assert cname.outcome == "passed", cname.message
    assert "not an Exchange Online DKIM target" not in cname.message
    assert "through a chain of CNAMEs" in cname.message
    assert target("selector1") in cname.message
    (warning,) = [w for w in cname.warnings if "chain" in w]
    assert "RFC 1034 §3.6.2" in warning and "Set-DkimSigningConfig" in warning
    assert cname.details["cname_chain"] == [
        "selector1._domainkey.example.com",
        "s1.alias.example.com",
        target("selector1"),
    ]
    # Every hop asked is evidence of the verdict.
    asked = {(e.qname, e.rdtype) for e in cname.evidence}
    assert ("s1.alias.example.com", "CNAME") in asked
    # The other checks agree: the key is reached through the chain and is valid.
    assert v["dkim_target/selector1"].outcome == "passed"
    assert "s1.alias.example.com" in v["dkim_target/selector1"].message
    assert v["dkim_key/selector1"].outcome == "passed"
    assert not any("directly" in w for w in v["dkim_key/selector1"].warnings)
    rotation = v["dkim_rotation"]
    assert rotation.outcome == "passed", rotation.message
    assert any("chain" in w for w in rotation.warnings)
    # The straight CNAME of selector2 is a plain pass without the warning.
    assert v["dkim_cname/selector2"].outcome == "passed"
    assert not any("chain" in w for w in v["dkim_cname/selector2"].warnings)


def test_cname_chain_to_the_wrong_exchange_online_target_is_judged_at_its_end(
    board: Switchboard,
) -> None:
    wrong = target("selector1").replace(TENANT, "fabrikamcorp")
    customer = f"""
selector1._domainkey IN CNAME s1.alias.example.com.
s1.alias IN CNAME {wrong}.
selector2._domainkey IN CNAME {target("selector2")}.
"""
    v = dkim_verdicts(board, customer, domain(signing="selector1"))
    cname = v["dkim_cname/selector1"]
    assert cname.outcome == "failed"
    assert "not an Exchange Online DKIM target" not in cname.message
    assert "belongs to tenant 'fabrikamcorp'" in cname.message
    assert "s1.alias.example.com" in cname.message
    # the selector's own CNAME is the record to change: it points at the first hop
    assert cname.fixes == (
        RecordFix(
            "replace",
            "selector1._domainkey.example.com",
            "CNAME",
            target("selector1"),
            DOMAIN,
            found="s1.alias.example.com",
        ),
    )


def test_cname_chain_ending_nowhere_is_not_an_exchange_online_target(board: Switchboard) -> None:
    customer = f"""
selector1._domainkey IN CNAME s1.alias.example.com.
s1.alias IN CNAME keys.example.com.
selector2._domainkey IN CNAME {target("selector2")}.
"""
    cname = dkim_verdicts(board, customer, domain())["dkim_cname/selector1"]
    assert cname.outcome == "failed"
    assert "leads through s1.alias.example.com → keys.example.com" in cname.message
    assert "not an Exchange Online DKIM target" in cname.message


def test_cname_loop_in_the_customer_zone_fails(board: Switchboard) -> None:
    customer = f"""
selector1._domainkey IN CNAME s1.alias.example.com.
s1.alias IN CNAME s1.back.example.com.
s1.back IN CNAME s1.alias.example.com.
selector2._domainkey IN CNAME {target("selector2")}.
"""
    cname = dkim_verdicts(board, customer, domain())["dkim_cname/selector1"]
    assert cname.outcome == "failed"
    assert "does not end" in cname.message


# --- a revoked key on the selector that does not sign ------------------------------------

STRAIGHT = f"""
selector1._domainkey IN CNAME {target("selector1")}.
selector2._domainkey IN CNAME {target("selector2")}.
"""
REVOKED = '"v=DKIM1; k=rsa; p="'


def keys(selector1: str | None, selector2: str | None) -> str:
    """Microsoft's zone: the TXT behind each selector's target (None: nothing)."""
    lines = [
        f"{owner(s)} IN TXT {value}\n"
        for s, value in (("selector1", selector1), ("selector2", selector2))
        if value is not None
    ]
    return "".join(lines)


@pytest.mark.parametrize("rotation", [True, False], ids=["rotation-data", "presumed"])
def test_revoked_key_on_the_selector_that_does_not_sign_is_a_retirement(
    board: Switchboard, rotation: bool
) -> None:
    v = dkim_verdicts(
        board,
        STRAIGHT,
        domain(signing="selector1" if rotation else None),
        microsoft=keys(key_record(), REVOKED),
    )
    key = v["dkim_key/selector2"]
    assert (key.outcome, key.result) == ("xfailed", "none"), key.message
    assert "revoked" in key.message and "RFC 6376 §3.6.1" in key.message
    if rotation:
        assert "selector1 signs since the rotation" in key.message
    else:
        assert "selector1 has a key, so selector2 is presumed inactive" in key.message
    # The record is there: dkim_target holds, and says what it is.
    target_verdict = v["dkim_target/selector2"]
    assert target_verdict.outcome == "passed"
    assert "revoked" in target_verdict.message
    # The signing selector is unaffected: its key is valid, and so is the rotation.
    assert v["dkim_target/selector1"].outcome == "passed"
    assert v["dkim_key/selector1"].outcome == "passed"
    assert v["dkim_rotation"].outcome == "passed", v["dkim_rotation"].message
    assert v["dkim_rotation"].message.startswith("selector1 signs now")


def test_revoked_key_on_the_selector_that_signs_stays_a_failure(board: Switchboard) -> None:
    v = dkim_verdicts(
        board, STRAIGHT, domain(signing="selector1"), microsoft=keys(REVOKED, key_record())
    )
    key = v["dkim_key/selector1"]
    assert (key.outcome, key.result) == ("failed", "fail")
    assert "key revoked (empty p=)" in key.message
    assert "selector1 signs mail now (selector1 signs since the rotation" in key.message
    assert v["dkim_key/selector2"].outcome == "passed"
    assert v["dkim_rotation"].outcome == "failed"


def test_revoked_key_does_not_count_as_a_key_for_the_presumption(board: Switchboard) -> None:
    """Without rotation data a revoked selector1 and a missing selector2: neither has a
    usable key, so neither is presumed inactive, and neither verdict claims to know which
    one signs."""
    v = dkim_verdicts(board, STRAIGHT, domain(), microsoft=keys(REVOKED, None))
    key = v["dkim_key/selector1"]
    assert (key.outcome, key.result) == ("failed", "fail")
    assert "cannot tell which one signs" in key.message
    assert "signs mail now" not in key.message
    missing = v["dkim_target/selector2"]
    assert (missing.outcome, missing.result) == ("failed", "fail")
    assert "signs mail now" not in missing.message


def test_revoked_key_on_a_disabled_domain_is_expected(board: Switchboard) -> None:
    v = dkim_verdicts(board, STRAIGHT, domain(enabled=False), microsoft=keys(REVOKED, None))
    key = v["dkim_key/selector1"]
    assert (key.outcome, key.result) == ("xfailed", "none"), key.message


# --- neither selector has a key --------------------------------------------------------------


def test_no_key_on_either_selector_without_rotation_data_says_it_cannot_tell(
    board: Switchboard,
) -> None:
    v = dkim_verdicts(board, STRAIGHT, domain())
    for s in ("selector1", "selector2"):
        verdict = v[f"dkim_target/{s}"]
        assert (verdict.outcome, verdict.result) == ("failed", "fail")
        assert "signs mail now" not in verdict.message
        assert "cannot tell which one signs" in verdict.message
        assert "whichever signs, receivers reject its signatures" in verdict.message
    assert v["dkim_rotation"].outcome == "failed"


def test_no_key_on_either_selector_with_rotation_data_names_the_one_that_signs(
    board: Switchboard,
) -> None:
    v = dkim_verdicts(board, STRAIGHT, domain(signing="selector2"))
    signing = v["dkim_target/selector2"]
    assert signing.outcome == "failed"
    assert signing.message.startswith("selector2 signs mail now (selector2 signs since")
    other = v["dkim_target/selector1"]
    assert (other.outcome, other.result) == ("xfailed", "none")
    assert "signs mail now" not in other.message


# --- the CNAME's TTL (the zone's own, from an authoritative answer) ------------------------


@pytest.mark.parametrize(("ttl", "warned"), [(300, True), (3599, True), (3600, False)])
def test_a_cname_ttl_below_microsofts_advice_warns(
    board: Switchboard, ttl: int, warned: bool
) -> None:
    customer = "".join(
        f"{s}._domainkey {ttl} IN CNAME {target(s)}.\n" for s in ("selector1", "selector2")
    )
    cname = dkim_verdicts(
        board, customer, domain(), microsoft=f"{owner('selector1')} IN TXT {key_record()}\n"
    )["dkim_cname/selector1"]
    assert (cname.check, cname.selector, cname.outcome) == ("dkim_cname", "selector1", "passed")
    assert any("AA" in e.flags.split() for e in cname.evidence if e.flags)
    low = [w for w in cname.warnings if "Microsoft recommends at least 3600 s" in w]
    assert low == (
        [
            f"the CNAME's TTL is {ttl} s; Microsoft recommends at least 3600 s (short "
            "TTLs make receivers' lookups fail now and then)"
        ]
        if warned
        else []
    )


# --- DKIM keys ---------------------------------------------------------------------------


def test_several_dkim_key_records_at_one_name_are_a_permerror(board: Switchboard) -> None:
    key = "v=DKIM1; k=ed25519; p=yi50DjK5O9pqbFpNHklsv9lqaS0ArSYu02qp1S0DW1Y="
    rrset = f'selector1._domainkey IN TXT "{key}"\nselector1._domainkey IN TXT "{key} "\n'
    zones = {"example.com": rrset}
    with board.serving(zones_from_text(zones)) as resolver:
        verdict = check_dkim_key(
            context(resolver), Domain("example.com", "example.com"), "selector1"
        )
    assert verdict.result == "permerror"
    assert "holds 2 TXT records" in verdict.message
