"""Every rule a user configures or relies on, judged by its check through real DNS.

The pure functions behind these rules have their own tests; these make sure each rule
reaches the check that applies it: the inventory's policy (min_key_bits,
spf_require_include, dmarc_min_policy), the tenant a CNAME target must belong to, which
selector signs (with rotation data, and the fallback without it), a DNS failure kept
apart from a missing record, and the inactive selector's unpublished key as an xfail.
Zones are served by the embedded authoritative server on loopback and asked by
dkimwatch's own resolver. bench/MUTATION.md lists the mutation each test was seen to kill.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from dkimwatch.checks import (
    Context,
    Verdict,
    check_dkim_cname,
    check_dkim_key,
    check_dkim_rotation,
    check_dkim_target,
    check_dmarc,
    check_spf,
)
from dkimwatch.fixes import RecordFix
from dkimwatch.inventory import Domain, Policy, Rotation
from dkimwatch.resolver import Resolver
from dkimwatch.zoneserver import ZoneServer
from selftests.checkkit import DOMAIN, NOW, TENANT
from selftests.tenantkit import key_record
from selftests.zonekit import Switchboard, zones_from_text

ROTATED = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # before NOW
UPCOMING = datetime(2027, 1, 10, 10, 0, tzinfo=UTC)  # after NOW


def target(selector: str, tenant: str = TENANT) -> str:
    return f"{selector}-example-com._domainkey.{tenant}.onmicrosoft.com"


def key_label(selector: str) -> str:
    return f"{selector}-example-com._domainkey"


CNAMES = "".join(f"{s}._domainkey 3600 IN CNAME {target(s)}.\n" for s in ("selector1", "selector2"))
SPF_EXO = '@ IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n'
OUTLOOK = 'spf IN TXT "v=spf1 ip4:40.92.0.0/15 -all"\n'
PARTNER = 'spf IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n'  # example.net: a required include


def keys(s1: int | None = 2048, s2: int | None = 2048) -> str:
    """The tenant zone: a key of the given size behind each selector (None: no key)."""
    return "".join(
        f"{key_label(s)} IN TXT {key_record(bits)}\n"
        for s, bits in (("selector1", s1), ("selector2", s2))
        if bits is not None
    )


def rotated(after: str = "selector2", on: datetime = ROTATED) -> Rotation:
    before = "selector1" if after == "selector2" else "selector2"
    return Rotation(rotate_on=on, before=before, after=after)


def entry(*, rotation: Rotation | None = None, expected_targets: bool = True) -> Domain:
    targets = tuple((s, target(s)) for s in ("selector1", "selector2")) if expected_targets else ()
    return Domain(DOMAIN, DOMAIN, targets=targets, rotation=rotation)


@contextmanager
def dns_of(
    board: Switchboard, zones: dict[str, str], servfail: frozenset[str] = frozenset()
) -> Iterator[Resolver]:
    """Serve ``zones``; questions in ``servfail`` ("name TYPE", or a name: every type)
    get SERVFAIL."""
    server = ZoneServer(zones_from_text(zones))

    def respond(wire: bytes, tcp: bool) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        asked = f"{name} {dns.rdatatype.to_text(question.rdtype)}"
        if name in servfail or asked in servfail:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        return server.respond(wire, tcp)

    with board.serving(server) as resolver:
        board.target = respond
        yield resolver


def tenant_zones(
    customer: str = CNAMES + SPF_EXO, microsoft: str = "", **extra: str
) -> dict[str, str]:
    return {
        DOMAIN: customer,
        f"{TENANT}.onmicrosoft.com": microsoft,
        "protection.outlook.com": OUTLOOK,
        **extra,
    }


def judge(
    board: Switchboard,
    zones: dict[str, str],
    check: Any,
    *args: Any,
    servfail: frozenset[str] = frozenset(),
    tenant: str | None = TENANT,
    now: datetime = NOW,
    **policy: Any,
) -> Verdict:
    with dns_of(board, zones, servfail) as resolver:
        ctx = Context(resolver=resolver, policy=Policy(**policy), tenant=tenant, now=now)
        return check(ctx, *args)  # type: ignore[no-any-return]


# --- policy.min_key_bits ----------------------------------------------------------------


def test_min_key_bits_fails_a_key_below_it_in_dkim_key(board: Switchboard) -> None:
    zones = tenant_zones(microsoft=keys(s1=1024, s2=2048))
    default = judge(board, zones, check_dkim_key, entry(), "selector1")
    strict = judge(board, zones, check_dkim_key, entry(), "selector1", min_key_bits=2048)
    strong = judge(board, zones, check_dkim_key, entry(), "selector2", min_key_bits=2048)
    assert default.outcome == "passed", default.message
    assert any("2048" in w for w in default.warnings)  # below 2048: a warning only
    assert (strict.outcome, strict.result) == ("failed", "fail"), strict.message
    assert "1024" in strict.message and "2048" in strict.message
    assert strong.outcome == "passed", strong.message


def test_min_key_bits_fails_the_signing_selector_in_dkim_rotation(board: Switchboard) -> None:
    zones = tenant_zones(microsoft=keys(s1=2048, s2=1024))
    domain = entry(rotation=rotated(after="selector2"))
    default = judge(board, zones, check_dkim_rotation, domain)
    strict = judge(board, zones, check_dkim_rotation, domain, min_key_bits=2048)
    assert default.outcome == "passed", default.message
    assert strict.outcome == "failed", strict.message
    assert "selector2" in strict.message and "not usable" in strict.message


def test_min_key_bits_judges_the_next_selector_before_a_rotation(board: Switchboard) -> None:
    zones = tenant_zones(microsoft=keys(s1=2048, s2=1024))
    domain = entry(rotation=rotated(after="selector2", on=UPCOMING))  # selector1 signs now
    default = judge(board, zones, check_dkim_rotation, domain)
    strict = judge(board, zones, check_dkim_rotation, domain, min_key_bits=2048)
    assert default.outcome == strict.outcome == "passed"
    assert not any("not usable" in w for w in default.warnings), default.warnings
    assert any("selector2 will sign then, but its key is not usable" in w for w in strict.warnings)


# --- policy.spf_require_include ---------------------------------------------------------


def test_spf_require_include_is_what_the_record_must_reach(board: Switchboard) -> None:
    own = '@ IN TXT "v=spf1 include:spf.example.net -all"\n'
    zones_own = tenant_zones(customer=own, **{"example.net": PARTNER})
    zones_exo = tenant_zones(**{"example.net": PARTNER})
    domain = entry()
    required = {"spf_require_include": "spf.example.net"}
    assert judge(board, zones_own, check_spf, domain, **required).outcome == "passed"
    missing = judge(board, zones_exo, check_spf, domain, **required)
    assert missing.outcome == "failed", missing.message
    assert "spf.example.net is not reachable" in missing.message
    (fix,) = missing.fixes
    assert isinstance(fix, RecordFix) and (fix.action, fix.rtype) == ("replace", "TXT")
    assert fix.value is not None and "include:spf.example.net" in fix.value.split()
    # The default requires Exchange Online's include, which the first record lacks ...
    default = judge(board, zones_own, check_spf, domain)
    assert default.outcome == "failed", default.message
    assert "spf.protection.outlook.com" in default.message
    # ... and none required: any valid record passes.
    unrequired = judge(board, zones_own, check_spf, domain, spf_require_include=None)
    assert unrequired.outcome == "passed", unrequired.message
    assert "required_include" not in unrequired.details


# --- policy.dmarc_min_policy ------------------------------------------------------------


@pytest.mark.parametrize(
    ("published", "minimum", "outcome"),
    [
        ("none", "none", "passed"),
        ("none", "quarantine", "failed"),
        ("quarantine", "quarantine", "passed"),
        ("quarantine", "reject", "failed"),
        ("reject", "reject", "passed"),
    ],
)
def test_dmarc_min_policy(board: Switchboard, published: str, minimum: str, outcome: str) -> None:
    zones = tenant_zones(customer=CNAMES + f'_dmarc IN TXT "v=DMARC1; p={published}"\n')
    verdict = judge(board, zones, check_dmarc, entry(), dmarc_min_policy=minimum)
    assert verdict.outcome == outcome, verdict.message
    if outcome == "failed":
        assert f"weaker than the required {minimum}" in verdict.message
        assert verdict.remediation is not None and f"p={minimum}" in verdict.remediation


@pytest.mark.parametrize(
    ("tags", "fixed"),
    [
        ("pct=100", None),
        ("t=n", None),
        ("pct=99", "v=DMARC1; p=reject"),
        ("t=y", "v=DMARC1; p=reject"),
        ("t=y; pct=100", "v=DMARC1; p=reject; pct=100"),
        ("pct=50; t=n", "v=DMARC1; p=reject; t=n"),
    ],
)
def test_dmarc_pct_below_100_and_t_y_weaken_the_policy(
    board: Switchboard, tags: str, fixed: str | None
) -> None:
    """pct below 100 and t=y have receivers apply a lower policy; pct=100 and t=n (the
    defaults) weaken nothing, and the fix drops only the tags that weaken."""
    record = f"v=DMARC1; p=reject; {tags}"
    zones = tenant_zones(customer=CNAMES + f'_dmarc IN TXT "{record}"\n')
    verdict = judge(board, zones, check_dmarc, entry(), dmarc_min_policy="reject")
    if fixed is None:
        assert verdict.outcome == "passed", verdict.message
        assert verdict.message == f'"{record}": policy reject'
    else:
        assert verdict.outcome == "failed", verdict.message
        assert [f.value for f in verdict.fixes if isinstance(f, RecordFix)] == [fixed]


def test_dmarc_sp_is_the_policy_of_subdomains_only(board: Switchboard) -> None:
    """The organisation's own policy is p=; a subdomain without a record of its own inherits
    sp= (RFC 7489 §6.3), and the fix raises sp=, not p=."""
    record = "v=DMARC1; p=quarantine; sp=none"
    zones = tenant_zones(customer=CNAMES + f'_dmarc IN TXT "{record}"\nshop IN MX 0 .\n')
    own = judge(board, zones, check_dmarc, entry(), dmarc_min_policy="quarantine")
    assert own.outcome == "passed", own.message
    assert own.details["policy"] == "quarantine"
    shop = Domain("shop.example.com", "shop.example.com")
    sub = judge(board, zones, check_dmarc, shop, dmarc_min_policy="quarantine")
    assert sub.outcome == "failed", sub.message
    assert sub.message.startswith("policy none (sp=) (inherited from _dmarc.example.com")
    assert sub.fixes == (
        RecordFix(
            "replace",
            "_dmarc.example.com",
            "TXT",
            "v=DMARC1; p=quarantine; sp=quarantine",
            DOMAIN,
            found=record,
        ),
    )
    # Without sp=, subdomains inherit p=: the fix raises p=.
    plain = tenant_zones(customer=CNAMES + '_dmarc IN TXT "v=DMARC1; p=none"\nshop IN MX 0 .\n')
    weak = judge(board, plain, check_dmarc, shop, dmarc_min_policy="quarantine")
    assert weak.outcome == "failed", weak.message
    assert [f.value for f in weak.fixes if isinstance(f, RecordFix)] == ["v=DMARC1; p=quarantine"]


# --- the tenant a target must belong to -------------------------------------------------


OTHER_TENANT_CNAMES = "".join(
    f"{s}._domainkey 3600 IN CNAME {target(s, 'fabrikam')}.\n" for s in ("selector1", "selector2")
)


def test_target_of_another_tenant_fails_dkim_cname(board: Switchboard) -> None:
    """Without expected targets (a shorthand entry) the inventory's tenant decides."""
    zones = tenant_zones(customer=OTHER_TENANT_CNAMES)
    domain = entry(expected_targets=False)
    ours = judge(board, tenant_zones(), check_dkim_cname, domain, "selector1")
    theirs = judge(board, zones, check_dkim_cname, domain, "selector1")
    anyone = judge(board, zones, check_dkim_cname, domain, "selector1", tenant=None)
    assert ours.outcome == "passed", ours.message
    assert theirs.outcome == "failed", theirs.message
    assert "belongs to tenant 'fabrikam', not 'contoso'" in theirs.message
    assert theirs.remediation is not None and target("selector1") in theirs.remediation
    assert anyone.outcome == "passed", anyone.message  # no tenant: any tenant is plausible


def test_target_of_another_tenant_fails_dkim_rotation(board: Switchboard) -> None:
    # fabrikam publishes valid keys: only whose they are is wrong
    zones = tenant_zones(customer=OTHER_TENANT_CNAMES, **{"fabrikam.onmicrosoft.com": keys()})
    domain = entry(expected_targets=False, rotation=rotated())
    verdict = judge(board, zones, check_dkim_rotation, domain)
    assert verdict.outcome == "failed", verdict.message
    assert "belongs to tenant 'fabrikam'" in verdict.message


# --- which selector signs: with rotation data -------------------------------------------


@pytest.mark.parametrize(
    ("rotation", "signing"),
    [
        (rotated(after="selector2"), "selector2"),  # rotated: the after-selector signs
        (rotated(after="selector2", on=UPCOMING), "selector1"),  # not yet: before signs
        (rotated(after="selector1"), "selector1"),
        (rotated(after="selector1", on=NOW), "selector1"),  # at rotate_on: the after-selector
    ],
)
def test_rotation_data_decides_which_missing_key_fails(
    board: Switchboard, rotation: Rotation, signing: str
) -> None:
    """Only selector1's key is missing: a failure when it signs, an xfail when it does not."""
    zones = tenant_zones(microsoft=keys(s1=None))
    domain = entry(rotation=rotation)
    target_verdict = judge(board, zones, check_dkim_target, domain, "selector1")
    rotation_verdict = judge(board, zones, check_dkim_rotation, domain)
    when = rotation.rotate_on.strftime("%Y-%m-%dT%H:%M:%SZ")
    if rotation.rotate_on <= NOW:
        why = f"{rotation.after} signs since the rotation on {when}"
    else:
        why = f"{rotation.before} signs until the rotation on {when}, then {rotation.after}"
    assert why in target_verdict.message
    if signing == "selector1":
        assert target_verdict.outcome == "failed", target_verdict.message
        assert "selector1 signs mail now" in target_verdict.message
        assert rotation_verdict.outcome == "failed", rotation_verdict.message
        assert "selector1 signs mail, but no key is published" in rotation_verdict.message
    else:
        assert target_verdict.outcome == "xfailed", target_verdict.message
        assert rotation_verdict.outcome == "passed", rotation_verdict.message
        assert rotation_verdict.message.startswith(f"{signing} signs now")


def test_inactive_selector_without_key_is_xfailed_and_its_key_check_skipped(
    board: Switchboard,
) -> None:
    zones = tenant_zones(microsoft=keys(s1=None))
    domain = entry(rotation=rotated(after="selector2"))
    verdict = judge(board, zones, check_dkim_target, domain, "selector1")
    assert (verdict.outcome, verdict.result) == ("xfailed", "none"), verdict.message
    assert "selector2 signs since the rotation on 2026-05-04T10:00:00Z" in verdict.message
    key = judge(board, zones, check_dkim_key, domain, "selector1")
    assert key.outcome == "skipped", key.message


# --- which selector signs: without rotation data ----------------------------------------


def test_without_rotation_data_the_selector_with_a_key_is_presumed_to_sign(
    board: Switchboard,
) -> None:
    zones = tenant_zones(microsoft=keys(s2=None))
    domain = entry()
    s2 = judge(board, zones, check_dkim_target, domain, "selector2")
    assert s2.outcome == "xfailed", s2.message
    assert "selector1 has a key, so selector2 is presumed inactive" in s2.message
    rotation = judge(board, zones, check_dkim_rotation, domain)
    assert rotation.outcome == "passed", rotation.message
    assert "no rotation data; selector1 has a key" in rotation.message


def test_without_rotation_data_no_key_at_all_fails(board: Switchboard) -> None:
    """Neither selector has a key: whichever signs has none, so both are failures."""
    zones = tenant_zones(microsoft="")
    domain = entry()
    for selector in ("selector1", "selector2"):
        verdict = judge(board, zones, check_dkim_target, domain, selector)
        assert verdict.outcome == "failed", verdict.message
        assert "dkimwatch cannot tell which one signs" in verdict.message
    rotation = judge(board, zones, check_dkim_rotation, domain)
    assert rotation.outcome == "failed", rotation.message


# --- temperror versus missing -----------------------------------------------------------


def test_dns_failure_at_a_key_is_an_error_and_nxdomain_a_failure(board: Switchboard) -> None:
    zones = tenant_zones(microsoft=keys(s2=None))
    domain = entry(rotation=rotated(after="selector2"))
    broken = frozenset({f"selector2._domainkey.{DOMAIN} TXT"})
    missing = judge(board, zones, check_dkim_target, domain, "selector2")
    failing = judge(board, zones, check_dkim_target, domain, "selector2", servfail=broken)
    assert (missing.outcome, missing.result) == ("failed", "fail"), missing.message
    assert "NXDOMAIN" in missing.message
    assert (failing.outcome, failing.result) == ("error", "temperror"), failing.message
    assert "SERVFAIL" in failing.message
    for check in (check_dkim_key, check_dkim_cname):
        verdict = judge(board, zones, check, domain, "selector2", servfail=broken)
        if check is check_dkim_cname:  # the CNAME itself is answered
            assert verdict.outcome == "passed", verdict.message
        else:
            assert verdict.outcome == "error", verdict.message
    rotation = judge(board, zones, check_dkim_rotation, domain, servfail=broken)
    assert (rotation.outcome, rotation.result) == ("error", "temperror"), rotation.message


def test_dns_failure_of_the_other_selector_is_not_a_presumption(board: Switchboard) -> None:
    """Without rotation data a selector without key is inactive only if the other one has a
    key: when DNS cannot say, the verdict is a temperror, neither xfail nor failure."""
    zones = tenant_zones(microsoft=keys(s2=None))
    broken = frozenset({f"selector1._domainkey.{DOMAIN} TXT"})
    verdict = judge(board, zones, check_dkim_target, entry(), "selector2", servfail=broken)
    assert (verdict.outcome, verdict.result) == ("error", "temperror"), verdict.message
    assert (
        "and no rotation data, and DNS could not say whether the other selector has a key"
        in verdict.message
    )
    rotation = judge(board, zones, check_dkim_rotation, entry(), servfail=broken)
    assert rotation.outcome == "error", rotation.message


def test_dns_failure_at_one_key_is_no_pass_for_the_other(board: Switchboard) -> None:
    """Without rotation data, selector1's valid key does not make dkim_rotation pass while
    DNS cannot say what is behind selector2 (it may be the one that signs)."""
    zones = tenant_zones(microsoft=keys())
    broken = frozenset({f"selector2._domainkey.{DOMAIN} TXT"})
    answered = judge(board, zones, check_dkim_rotation, entry())
    assert answered.outcome == "passed", answered.message
    rotation = judge(board, zones, check_dkim_rotation, entry(), servfail=broken)
    assert (rotation.outcome, rotation.result) == ("error", "temperror"), rotation.message
    assert "cannot tell which selector signs" in rotation.message


@pytest.mark.parametrize("check", [check_spf, check_dmarc])
def test_dns_failure_of_spf_and_dmarc_is_an_error(board: Switchboard, check: Any) -> None:
    zones = tenant_zones(customer=CNAMES)  # no SPF, no DMARC: NODATA / NXDOMAIN
    missing = judge(board, zones, check, entry())
    assert (missing.outcome, missing.result) == ("failed", "fail"), missing.message
    name = DOMAIN if check is check_spf else f"_dmarc.{DOMAIN}"
    failing = judge(board, zones, check, entry(), servfail=frozenset({name}))
    assert (failing.outcome, failing.result) == ("error", "temperror"), failing.message


def test_dns_failure_inside_the_organisation_during_dmarc_discovery_is_an_error(
    board: Switchboard,
) -> None:
    """a.b.example.com has no record of its own; the tree walk asks _dmarc.b.example.com,
    inside the organisational domain, before example.com's. Without that answer the policy
    that applies is unknown (b.example.com's record, if any, would be RFC 9989's): an
    error, not example.com's policy. Above the organisation it only ends the walk."""
    zones = tenant_zones(customer=CNAMES + '_dmarc IN TXT "v=DMARC1; p=reject"\n')
    sub = Domain("a.b.example.com", "a.b.example.com")
    inherited = judge(board, zones, check_dmarc, sub)
    assert inherited.outcome == "passed", inherited.message
    inside = frozenset({"_dmarc.b.example.com"})
    failing = judge(board, zones, check_dmarc, sub, servfail=inside)
    assert (failing.outcome, failing.result) == ("error", "temperror"), failing.message
    assert "_dmarc.b.example.com" in failing.message
    above = judge(board, zones, check_dmarc, sub, servfail=frozenset({"_dmarc.com"}))
    assert above.outcome == "passed", above.message
    assert "_dmarc.com" in above.details["discovery_note"]


def test_dmarc_discovery_walks_past_a_name_with_several_records(board: Switchboard) -> None:
    """Several records at one name of the tree walk are all discarded and the walk goes on
    (RFC 9989 §4.10): example.com's policy still applies to a.b.example.com."""
    both = '_dmarc.b IN TXT "v=DMARC1; p=none"\n_dmarc.b IN TXT "v=DMARC1; p=quarantine"\n'
    zones = tenant_zones(customer=CNAMES + '_dmarc IN TXT "v=DMARC1; p=reject"\n' + both)
    verdict = judge(board, zones, check_dmarc, Domain("a.b.example.com", "a.b.example.com"))
    assert verdict.outcome == "passed", verdict.message
    assert verdict.details["source"] == "_dmarc.example.com"
