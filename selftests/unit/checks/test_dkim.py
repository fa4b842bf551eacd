"""Corners of the checks, through real DNS: zones served by the embedded authoritative
server on loopback, asked by dkimwatch's own resolver.

CNAME chains in the customer's zone, revoked keys on the selector that does not sign, what
dkim_target says when neither selector has a key, and DMARC records whose policy is
weakened by t=y or pct= or whose tag names are upper-case.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from dkimwatch.checks import (
    Context,
    Verdict,
    check_dkim_cname,
    check_dkim_key,
    check_dkim_rotation,
    check_dkim_target,
    check_dmarc,
)
from dkimwatch.fixes import RecordFix
from dkimwatch.inventory import Domain, Policy, Rotation
from selftests.tenantkit import key_record
from selftests.zonekit import Switchboard, zones_from_text

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
DOMAIN = "example.com"
TENANT = "contoso"
TENANT_ZONE = f"{TENANT}.onmicrosoft.com"


def target(selector: str) -> str:
    return f"{selector}-example-com._domainkey.{TENANT_ZONE}"


def owner(selector: str) -> str:
    """The target's owner name relative to the tenant's zone."""
    return target(selector)[: -len(TENANT_ZONE) - 1]


@pytest.fixture(scope="module")
def board() -> Iterator[Switchboard]:
    with Switchboard() as server:
        yield server


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


def judge(
    board: Switchboard,
    customer: str,
    microsoft: str,
    dom: Domain,
    *,
    tenant: str | None = TENANT,
) -> dict[str, Verdict]:
    """Every DKIM verdict of ``dom`` whose zone holds ``customer`` (zone-file lines) and
    Microsoft's zone ``microsoft``; keyed "check/selector" (selector checks) or "check"."""
    zones = zones_from_text({DOMAIN: customer, TENANT_ZONE: microsoft})
    out: dict[str, Verdict] = {}
    with board.serving(zones) as resolver:
        ctx = Context(resolver=resolver, policy=Policy(), tenant=tenant, now=NOW)
        for s in dom.selectors:
            out[f"dkim_cname/{s}"] = check_dkim_cname(ctx, dom, s)
            out[f"dkim_target/{s}"] = check_dkim_target(ctx, dom, s)
            out[f"dkim_key/{s}"] = check_dkim_key(ctx, dom, s)
        out["dkim_rotation"] = check_dkim_rotation(ctx, dom)
    return out


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
    v = judge(
        board,
        CHAINED,
        f"{owner('selector1')} IN TXT {key_record()}\n",
        domain(expected=expected, signing="selector1"),
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
    v = judge(board, customer, "", domain(signing="selector1"))
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
    cname = judge(board, customer, "", domain())["dkim_cname/selector1"]
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
    cname = judge(board, customer, "", domain())["dkim_cname/selector1"]
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
    v = judge(
        board,
        STRAIGHT,
        keys(key_record(), REVOKED),
        domain(signing="selector1" if rotation else None),
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
    v = judge(board, STRAIGHT, keys(REVOKED, key_record()), domain(signing="selector1"))
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
    v = judge(board, STRAIGHT, keys(REVOKED, None), domain())
    key = v["dkim_key/selector1"]
    assert (key.outcome, key.result) == ("failed", "fail")
    assert "cannot tell which one signs" in key.message
    assert "signs mail now" not in key.message
    missing = v["dkim_target/selector2"]
    assert (missing.outcome, missing.result) == ("failed", "fail")
    assert "signs mail now" not in missing.message


def test_revoked_key_on_a_disabled_domain_is_expected(board: Switchboard) -> None:
    v = judge(board, STRAIGHT, keys(REVOKED, None), domain(enabled=False))
    key = v["dkim_key/selector1"]
    assert (key.outcome, key.result) == ("xfailed", "none"), key.message


# --- neither selector has a key --------------------------------------------------------------


def test_no_key_on_either_selector_without_rotation_data_says_it_cannot_tell(
    board: Switchboard,
) -> None:
    v = judge(board, STRAIGHT, "", domain())
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
    v = judge(board, STRAIGHT, "", domain(signing="selector2"))
    signing = v["dkim_target/selector2"]
    assert signing.outcome == "failed"
    assert signing.message.startswith("selector2 signs mail now (selector2 signs since")
    other = v["dkim_target/selector1"]
    assert (other.outcome, other.result) == ("xfailed", "none")
    assert "signs mail now" not in other.message


# --- DMARC: weakened policies and upper-case tag names ------------------------------------


def dmarc(board: Switchboard, record: str, minimum: str) -> Verdict:
    zones = zones_from_text({DOMAIN: f'_dmarc IN TXT "{record}"\n'})
    with board.serving(zones) as resolver:
        ctx = Context(
            resolver=resolver, policy=Policy(dmarc_min_policy=minimum), tenant=None, now=NOW
        )
        return check_dmarc(ctx, Domain(DOMAIN, DOMAIN))


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
    verdict = dmarc(board, record, minimum)
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
    verdict = dmarc(board, "v=DMARC1; p=reject; t=y", "quarantine")
    assert verdict.outcome == "passed"
    assert verdict.message == (
        '"v=DMARC1; p=reject; t=y": policy reject (t=y asks RFC 9989 receivers to apply '
        "quarantine instead)"
    )


def test_upper_case_version_tag_passes_with_the_fix_as_a_warning(board: Switchboard) -> None:
    verdict = dmarc(board, "V=DMARC1; p=reject", "none")
    assert verdict.outcome == "passed", verdict.message
    (warning,) = [w for w in verdict.warnings if "upper-case" in w]
    assert "some receivers do not see the record" in warning
    assert warning.endswith('write it in lower case: "v=DMARC1; p=reject"')


# --- the CNAME's TTL (the zone's own, from an authoritative answer) ------------------------


@pytest.mark.parametrize(("ttl", "warned"), [(300, True), (3599, True), (3600, False)])
def test_a_cname_ttl_below_microsofts_advice_warns(
    board: Switchboard, ttl: int, warned: bool
) -> None:
    customer = "".join(
        f"{s}._domainkey {ttl} IN CNAME {target(s)}.\n" for s in ("selector1", "selector2")
    )
    cname = judge(board, customer, f"{owner('selector1')} IN TXT {key_record()}\n", domain())[
        "dkim_cname/selector1"
    ]
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
