"""The typed fixes the checks propose, over real DNS (the embedded server): the right
record, in the right zone, with what DNS really holds, and nothing to delete that does not
exist. Each case is one a careful auditor finds wrong in a fix phrased from a message."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import dns.zone
import pytest

from dkimwatch.checks import (
    Context,
    Verdict,
    check_dmarc,
    check_spf,
)
from dkimwatch.fixes import Advice, ExoFix, RecordFix, SupportCase, remediation, zone_line
from dkimwatch.inventory import Domain, Policy, Rotation
from selftests.checkkit import DOMAIN, NOW, TENANT_ZONE, dkim_verdicts
from selftests.tenantkit import key_record, rsa_key_b64
from selftests.zonekit import Switchboard, zones_from_text

NEW_TARGET2 = "selector2-example-com._domainkey.contoso.n-v1.dkim.mail.microsoft"


def classic(selector: str, tenant: str = "contoso") -> str:
    return f"{selector}-example-com._domainkey.{tenant}.onmicrosoft.com"


def domain(*, expected: bool = False) -> Domain:
    """example.com, selector1 signing; ``expected``: the export's targets are known."""
    targets = tuple((s, classic(s)) for s in ("selector1", "selector2")) if expected else ()
    rotation = Rotation(datetime(2026, 5, 4, 10, 0, tzinfo=UTC), "selector2", "selector1")
    return Domain(DOMAIN, DOMAIN, targets=targets, rotation=rotation)


def records(verdict: Verdict) -> list[RecordFix]:
    return [f for f in verdict.fixes if isinstance(f, RecordFix)]


# --- a wildcard is not a record at the selector's name ------------------------------------


def test_a_wildcard_txt_is_not_offered_for_deletion(board: Switchboard) -> None:
    """*._domainkey answers for every selector: there is no TXT at selector1._domainkey to
    delete. Creating the CNAME makes the name exist, which ends the synthesis for it
    (RFC 4592), so that is the fix, with the wildcard named."""
    customer = (
        f"*._domainkey IN TXT {key_record()}\n"
        f"selector2._domainkey IN CNAME {classic('selector2')}.\n"
    )
    v = dkim_verdicts(board, customer, domain(expected=True))
    cname = v["dkim_cname/selector1"]
    assert cname.outcome == "failed"
    assert cname.details["found_instead"] == "txt"
    assert cname.details["synthesised_by"] == "*._domainkey.example.com"
    assert records(cname) == [
        RecordFix(
            "create", "selector1._domainkey.example.com", "CNAME", classic("selector1"), DOMAIN
        )
    ]
    advice = [f.text for f in cname.fixes if isinstance(f, Advice)]
    assert len(advice) == 1
    assert "no TXT record at selector1._domainkey.example.com to delete" in advice[0]
    assert "*._domainkey.example.com answers for it (RFC 4592)" in advice[0]
    # No verdict of the domain proposes deleting a record that does not exist.
    for verdict in v.values():
        assert not [f for f in records(verdict) if f.action != "create"], verdict.remediation
        assert "Delete TXT" not in (verdict.remediation or "")


def test_a_txt_of_its_own_beside_a_wildcard_is_deleted(board: Switchboard) -> None:
    """The same text at the selector's own name and in a wildcard: the name exists, so the
    record is real and its deletion is right (the answer alone could not tell)."""
    customer = (
        f"*._domainkey IN TXT {key_record()}\n"
        f"selector1._domainkey IN TXT {key_record()}\n"
        f"selector2._domainkey IN CNAME {classic('selector2')}.\n"
    )
    cname = dkim_verdicts(board, customer, domain(expected=True))["dkim_cname/selector1"]
    assert "synthesised_by" not in cname.details
    assert cname.details["found_instead"] == "txt"
    assert cname.message.startswith(
        "selector1._domainkey.example.com holds a TXT record instead of the Exchange Online CNAME"
    )
    deletes = [f for f in records(cname) if f.action == "delete"]
    assert [(f.owner, f.rtype, f.zone) for f in deletes] == [
        ("selector1._domainkey.example.com", "TXT", DOMAIN)
    ]
    assert deletes[0].value is not None and deletes[0].value.startswith("v=DKIM1")
    assert not [f for f in cname.fixes if isinstance(f, Advice) and "proxying" in f.text]


def test_a_key_copied_as_txt_to_the_signing_selector(board: Switchboard) -> None:
    """The customer copied the key as TXT to the selector's name: dkim_cname fails (delete
    the TXT, create the CNAME, its target derived from selector2's), while dkim_rotation,
    the key being valid, passes with a warning: receivers verify it today."""
    customer = (
        f"selector1._domainkey IN TXT {key_record()}\n"
        f"selector2._domainkey IN CNAME {classic('selector2')}.\n"
    )
    v = dkim_verdicts(board, customer, domain())
    cname = v["dkim_cname/selector1"]
    assert cname.details["found_instead"] == "txt"
    delete, create = records(cname)
    assert (delete.action, delete.rtype, delete.zone) == ("delete", "TXT", DOMAIN)
    assert delete.value is not None and delete.value.startswith("v=DKIM1; k=rsa; p=")
    assert (create.action, create.rtype, create.value) == ("create", "CNAME", classic("selector1"))
    rotation = v["dkim_rotation"]
    assert rotation.outcome == "passed", rotation.message
    assert "selector1's key is published as TXT instead of the CNAME" in rotation.warnings
    assert Verdict.from_json(rotation.to_json()) == rotation  # its warnings too


def test_wildcard_addresses_are_not_offered_for_deletion(board: Switchboard) -> None:
    customer = (
        f"*._domainkey IN A 192.0.2.7\nselector2._domainkey IN CNAME {classic('selector2')}.\n"
    )
    cname = dkim_verdicts(board, customer, domain(expected=True))["dkim_cname/selector1"]
    assert cname.details["found_instead"] == "a"
    assert [f.action for f in records(cname)] == ["create"]
    assert cname.message == (
        "selector1._domainkey.example.com answers with A records instead of a CNAME (proxied or "
        "flattened by the DNS provider?); no record of its own: *._domainkey.example.com "
        "synthesises it"
    )
    assert Advice("Turn off proxying/flattening for selector1._domainkey.example.com") in (
        cname.fixes
    )


# --- the other selector's target shape -----------------------------------------------------


@pytest.mark.parametrize("tenant", ["contoso", None], ids=["tenant", "no-tenant"])
def test_the_missing_selector_gets_the_other_selectors_format_and_partition(
    board: Switchboard, tenant: str | None
) -> None:
    """selector2 uses the new …n-v1.dkim.mail.microsoft form: selector1's target is of the
    same form, partition letter and tenant, never the classic onmicrosoft.com one."""
    customer = f"selector2._domainkey IN CNAME {NEW_TARGET2}.\n"
    cname = dkim_verdicts(board, customer, domain(), tenant=tenant)["dkim_cname/selector1"]
    assert cname.outcome == "failed"
    want = "selector1-example-com._domainkey.contoso.n-v1.dkim.mail.microsoft"
    assert records(cname) == [
        RecordFix("create", "selector1._domainkey.example.com", "CNAME", want, DOMAIN)
    ]
    # derived, not known: the cmdlet that shows the exact value comes with it
    assert (
        ExoFix(
            "Get-DkimSigningConfig -Identity example.com | fl Selector1CNAME",
            "Check the target against Selector1CNAME",
        )
        in cname.fixes
    )


def test_a_wrong_cname_is_replaced_in_the_other_selectors_format(board: Switchboard) -> None:
    customer = (
        "selector1._domainkey IN CNAME selector1-example-com._domainkey.fabrikam.onmicrosoft.com.\n"
        f"selector2._domainkey IN CNAME {NEW_TARGET2}.\n"
    )
    cname = dkim_verdicts(board, customer, domain())["dkim_cname/selector1"]
    assert records(cname) == [
        RecordFix(
            "replace",
            "selector1._domainkey.example.com",
            "CNAME",
            "selector1-example-com._domainkey.contoso.n-v1.dkim.mail.microsoft",
            DOMAIN,
            found="selector1-example-com._domainkey.fabrikam.onmicrosoft.com",
        )
    ]


def test_a_sibling_of_another_tenant_is_no_model(board: Switchboard) -> None:
    customer = (
        "selector2._domainkey IN CNAME "
        "selector2-example-com._domainkey.fabrikam.n-v1.dkim.mail.microsoft.\n"
    )
    cname = dkim_verdicts(board, customer, domain())["dkim_cname/selector1"]
    assert [f.value for f in records(cname)] == [classic("selector1")]


def test_without_tenant_or_sibling_the_fix_is_the_cmdlet_that_shows_the_target(
    board: Switchboard,
) -> None:
    cname = dkim_verdicts(board, "", domain(), tenant=None)["dkim_cname/selector1"]
    assert records(cname) == []
    assert cname.fixes == (
        ExoFix(
            "Get-DkimSigningConfig -Identity example.com | fl Selector1CNAME",
            "Create CNAME selector1._domainkey.example.com → the Selector1CNAME value this "
            "shows (TTL 3600)",
        ),
    )


# --- the domain appended twice -------------------------------------------------------------


def test_appended_twice_deletes_the_wrong_owner_then_creates_the_right_one(
    board: Switchboard,
) -> None:
    """One change in the domain's zone: the delete of the doubled name (with the target
    found there) first, then the create at the right name."""
    customer = (
        f"selector1._domainkey.example.com IN CNAME {classic('selector1')}.\n"  # no final dot
        f"selector2._domainkey IN CNAME {classic('selector2')}.\n"
    )
    cname = dkim_verdicts(board, customer, domain(expected=True))["dkim_cname/selector1"]
    assert cname.details["found_instead"] == "appended_twice"
    fixes = records(cname)
    assert fixes == [
        RecordFix(
            "delete",
            "selector1._domainkey.example.com.example.com",
            "CNAME",
            classic("selector1"),
            DOMAIN,
            300,
        ),
        RecordFix(
            "create", "selector1._domainkey.example.com", "CNAME", classic("selector1"), DOMAIN
        ),
    ]
    assert {f.zone for f in fixes} == {DOMAIN}
    assert [f.host for f in fixes] == [
        "selector1._domainkey.example.com",
        "selector1._domainkey",
    ]


# --- values found in DNS are data --------------------------------------------------------

HOSTILE = 'v=DKIM1; p="$(rm -rf ~)" ${HOME} back\\slash\nnext line'


def test_a_hostile_txt_is_deleted_verbatim_and_escaped_when_rendered(board: Switchboard) -> None:
    quoted = HOSTILE.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\010")
    customer = (
        f'selector1._domainkey IN TXT "{quoted}"\n'
        f"selector2._domainkey IN CNAME {classic('selector2')}.\n"
    )
    cname = dkim_verdicts(board, customer, domain(expected=True))["dkim_cname/selector1"]
    delete = records(cname)[0]
    assert (delete.action, delete.rtype, delete.value) == ("delete", "TXT", HOSTILE)
    # the sentence stays one line; the zone-file line parses back to the same bytes
    assert "\n" not in (cname.remediation or "")
    text = "@ 300 IN SOA ns. host. 1 2 3 4 5\n@ 300 IN NS ns.example.\n" + zone_line(delete)
    zone = dns.zone.from_text(text, origin=DOMAIN, relativize=False)
    rdataset = zone.find_rdataset("selector1._domainkey.example.com.", "TXT")
    assert [b"".join(r.strings).decode() for r in rdataset] == [HOSTILE]


# --- a key only Microsoft can publish: a support case, a rotation, or the CNAME first -------

CNAMES = "".join(f"{s}._domainkey IN CNAME {classic(s)}.\n" for s in ("selector1", "selector2"))
SHOW_STATUS = ExoFix("Get-DkimSigningConfig -Identity example.com | fl Status", "Check its Status")
ROTATE = ExoFix(
    "Rotate-DkimSigningConfig -Identity example.com",
    "Microsoft publishes this key: have it make a new one",
)


BROKEN = key_record(p="bm90IGEga2V5")  # base64 of "not a key": no public key in it


def key_at(selector: str, record: str | None = None) -> str:
    label = classic(selector).removesuffix("." + TENANT_ZONE)
    return f"{label} IN TXT {record or key_record()}\n"


def test_the_signing_selectors_missing_key_is_a_support_case(board: Switchboard) -> None:
    v = dkim_verdicts(board, CNAMES, domain(expected=True), microsoft=key_at("selector2"))
    target = v["dkim_target/selector1"]
    assert target.outcome == "failed", target.message
    problem = f"no key is published: {classic('selector1')} does not exist (NXDOMAIN)"
    assert target.fixes == (
        SupportCase(DOMAIN, "selector1", classic("selector1"), problem),
        SHOW_STATUS,
    )


def test_a_missing_key_behind_a_wrong_cname_is_the_cnames_to_fix(board: Switchboard) -> None:
    customer = CNAMES.replace(classic("selector1"), "gone.example.com")
    v = dkim_verdicts(board, customer, domain(expected=True), microsoft=key_at("selector2"))
    target = v["dkim_target/selector1"]
    assert target.outcome == "failed", target.message
    assert target.fixes == v["dkim_cname/selector1"].fixes
    assert [(f.action, f.value) for f in records(target)] == [("replace", classic("selector1"))]


def test_an_unusable_key_behind_the_cname_is_rotated_or_a_support_case(
    board: Switchboard,
) -> None:
    v = dkim_verdicts(board, CNAMES, domain(expected=True), microsoft=key_at("selector1", BROKEN))
    key = v["dkim_key/selector1"]
    assert key.outcome == "failed", key.message
    assert len(key.fixes) == 2 and key.fixes[0] == ROTATE
    case = key.fixes[1]
    assert isinstance(case, SupportCase)
    assert (case.domain, case.selector, case.target) == (DOMAIN, "selector1", classic("selector1"))
    assert case.problem.startswith("the key is not usable: ")


def test_a_stale_key_is_a_support_case_without_rotation(board: Switchboard) -> None:
    exported = (("selector1", f"v=DKIM1; k=rsa; p={rsa_key_b64(1024)}"),)
    dom = dataclasses.replace(domain(expected=True), public_keys=exported)
    v = dkim_verdicts(board, CNAMES, dom, microsoft=key_at("selector1"))
    key = v["dkim_key/selector1"]
    assert key.outcome == "failed", key.message
    assert len(key.fixes) == 1 and isinstance(key.fixes[0], SupportCase)
    assert key.fixes[0].problem.startswith("a stale key is published (SHA-256 ")
    assert (key.check, key.selector) == ("dkim_key", "selector1")
    assert (key.details["key_type"], key.details["key_bits"]) == ("rsa", 2048)
    published, expected = (
        key.details["fingerprint_sha256"],
        key.details["expected_fingerprint_sha256"],
    )
    assert published and expected and published != expected
    assert f"SHA-256 {published}, not {expected}" in key.fixes[0].problem
    # The exported key published: a pass that says it matches.
    same = (("selector1", f"v=DKIM1; k=rsa; p={rsa_key_b64(2048)}"),)
    dom = dataclasses.replace(domain(expected=True), public_keys=same)
    match = dkim_verdicts(board, CNAMES, dom, microsoft=key_at("selector1"))["dkim_key/selector1"]
    assert match.outcome == "passed" and match.details["matches_export"] is True
    assert match.details["fingerprint_sha256"] == published
    skipped = dkim_verdicts(board, CNAMES, dom, microsoft=key_at("selector2"))["dkim_key/selector1"]
    assert (skipped.result, skipped.outcome) == ("none", "skipped")


def test_an_unusable_key_copied_as_txt_is_replaced_by_the_cname(board: Switchboard) -> None:
    customer = CNAMES.replace(
        f"selector1._domainkey IN CNAME {classic('selector1')}.\n",
        f"selector1._domainkey IN TXT {BROKEN}\n",
    )
    key = dkim_verdicts(board, customer, domain(expected=True))["dkim_key/selector1"]
    assert key.outcome == "failed", key.message
    assert [(f.action, f.rtype) for f in records(key)] == [("delete", "TXT"), ("create", "CNAME")]
    assert not [f for f in key.fixes if isinstance(f, SupportCase) or f == ROTATE]


# --- fixes survive the trip through JSON (the helper process, results.json) -------------


def test_a_verdict_with_fixes_round_trips_through_json(board: Switchboard) -> None:
    customer = f"selector1._domainkey.example.com IN CNAME {classic('selector1')}.\n"
    verdict = dkim_verdicts(board, customer, domain(expected=True))["dkim_cname/selector1"]
    data = verdict.to_json()
    assert [f["kind"] for f in data["fixes"]] == ["dns", "dns", "advice"]
    assert data["remediation"] == remediation(verdict.fixes)
    again = Verdict.from_json(data)
    assert again == verdict  # every field, the evidence too
    assert again.fixes == verdict.fixes
    assert again.remediation == verdict.remediation


# --- SPF and DMARC: the record rewritten so that the check holds ---------------------------


def spf(board: Switchboard, record: str) -> Verdict:
    zones = zones_from_text(
        {
            DOMAIN: f'@ IN TXT "{record}"\n@ IN TXT "google-site-verification=x"\n',
            "outlook.com": 'spf.protection IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n',
        }
    )
    with board.serving(zones) as resolver:
        ctx = Context(resolver=resolver, policy=Policy(), tenant=None, now=NOW)
        return check_spf(ctx, Domain(DOMAIN, DOMAIN))


def test_spf_plus_all_is_replaced_keeping_every_other_term(board: Switchboard) -> None:
    record = "v=spf1 ip4:198.51.100.1 include:spf.protection.outlook.com +all"
    verdict = spf(board, record)
    assert verdict.outcome == "failed"
    assert verdict.fixes == (
        RecordFix(
            "replace",
            DOMAIN,
            "TXT",
            "v=spf1 ip4:198.51.100.1 include:spf.protection.outlook.com -all",
            DOMAIN,
            found=record,
        ),
    )


def test_spf_missing_include_is_added_first(board: Switchboard) -> None:
    record = "v=spf1 ip4:198.51.100.1 -all"
    verdict = spf(board, record)  # the default policy requires Exchange Online's include
    assert verdict.outcome == "failed"
    assert verdict.fixes == (
        RecordFix(
            "replace",
            DOMAIN,
            "TXT",
            "v=spf1 include:spf.protection.outlook.com ip4:198.51.100.1 -all",
            DOMAIN,
            found=record,
        ),
    )


@pytest.mark.parametrize(
    ("include", "suggested"),
    [
        ("spf.example.net", "v=spf1 include:spf.example.net -all"),
        (None, "v=spf1 include:spf.protection.outlook.com -all"),
    ],
)
def test_spf_missing_is_created_with_the_required_include(
    board: Switchboard, include: str | None, suggested: str
) -> None:
    zones = zones_from_text({DOMAIN: '@ IN TXT "google-site-verification=x"\n'})
    with board.serving(zones) as resolver:
        ctx = Context(resolver, Policy(spf_require_include=include), None, NOW)
        verdict = check_spf(ctx, Domain(DOMAIN, DOMAIN))
    assert (verdict.result, verdict.outcome) == ("fail", "failed")
    assert verdict.message == "no SPF record at example.com: 1 TXT record(s), none v=spf1"
    assert verdict.fixes == (RecordFix("create", DOMAIN, "TXT", suggested, DOMAIN),)


def test_spf_missing_name_says_what_dns_answered(board: Switchboard) -> None:
    with board.serving(zones_from_text({DOMAIN: "@ IN MX 0 .\n"})) as resolver:
        verdict = check_spf(Context(resolver, Policy(), None, NOW), Domain(DOMAIN, DOMAIN))
    assert verdict.message == "no SPF record at example.com: example.com has no TXT record (NODATA)"


def test_spf_near_miss_is_named_beside_the_other_records(board: Switchboard) -> None:
    zones = zones_from_text({DOMAIN: '@ IN TXT "v=spf1-all"\n@ IN TXT "other"\n'})
    with board.serving(zones) as resolver:
        verdict = check_spf(Context(resolver, Policy(), None, NOW), Domain(DOMAIN, DOMAIN))
    assert verdict.message.startswith(
        'no SPF record at example.com: 2 TXT record(s), none v=spf1; "v=spf1-all" is not selected'
    )


def test_several_spf_records_are_merged_into_one(board: Switchboard) -> None:
    zones = zones_from_text({DOMAIN: '@ IN TXT "v=spf1 -all"\n@ IN TXT "v=spf1 ~all"\n'})
    with board.serving(zones) as resolver:
        verdict = check_spf(Context(resolver, Policy(), None, NOW), Domain(DOMAIN, DOMAIN))
    assert (verdict.result, verdict.outcome) == ("permerror", "failed")
    assert verdict.message == (
        "example.com has 2 SPF records; RFC 7208 §4.5 makes that a permerror"
    )
    assert verdict.fixes == (
        Advice(
            'Merge them into one TXT record, e.g. "v=spf1 include:spf.protection.outlook.com -all"'
        ),
    )


def test_dmarc_missing_is_created_at_the_required_policy(board: Switchboard) -> None:
    with board.serving(zones_from_text({DOMAIN: '@ IN TXT "v=spf1 -all"\n'})) as resolver:
        ctx = Context(
            resolver=resolver, policy=Policy(dmarc_min_policy="quarantine"), tenant=None, now=NOW
        )
        verdict = check_dmarc(ctx, Domain(DOMAIN, DOMAIN))
    assert verdict.outcome == "failed"
    assert records(verdict) == [
        RecordFix(
            "create",
            "_dmarc.example.com",
            "TXT",
            "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com",
            DOMAIN,
        )
    ]


@pytest.mark.parametrize("minimum", ["none", "quarantine", "reject"])
def test_dmarc_missing_advises_moving_up_unless_created_at_reject(
    board: Switchboard, minimum: str
) -> None:
    with board.serving(zones_from_text({DOMAIN: '@ IN TXT "v=spf1 -all"\n'})) as resolver:
        ctx = Context(resolver, Policy(dmarc_min_policy=minimum), None, NOW)
        verdict = check_dmarc(ctx, Domain(DOMAIN, DOMAIN))
    move_up = Advice("Move to quarantine, then reject, once the reports show your mail passes")
    assert (move_up in verdict.fixes) == (minimum != "reject")
    assert len(verdict.fixes) == (1 if minimum == "reject" else 2)


def test_unauthorised_report_destination_is_a_record_in_its_own_zone(
    board: Switchboard,
) -> None:
    zones = zones_from_text(
        {
            DOMAIN: '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:d@reports.example.net"\n',
            "example.net": "",
        }
    )
    with board.serving(zones) as resolver:
        ctx = Context(resolver=resolver, policy=Policy(), tenant=None, now=NOW)
        verdict = check_dmarc(ctx, Domain(DOMAIN, DOMAIN))
    assert verdict.outcome == "failed"
    assert records(verdict) == [
        RecordFix(
            "create",
            "example.com._report._dmarc.reports.example.net",
            "TXT",
            "v=DMARC1",
            "example.net",
        )
    ]
