"""Every configured rule end to end: one pytester run of the shipped suite over a tenant
whose domains each break (or just keep) one rule, with a strict policy in domains.yaml.

The expected outcomes below are written by hand from what each domain carries, not taken
from a run. test_rules_checks.py holds the same rules check by check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from selftests import tenantkit
from selftests.suitekit import install_suite, outcomes, run
from selftests.tenantkit import key_record, target

pytest_plugins = ["pytester"]

SOA = "@ 3600 IN SOA ns1.{o}. hostmaster.{o}. 1 3600 600 86400 300\n@ 3600 IN NS ns1.{o}.\n"
SPF_PARTNER = '@ 3600 IN TXT "v=spf1 include:spf.example.net -all"\n'
SPF_OUTLOOK_ONLY = '@ 3600 IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n'
POLICY = "policy:\n  min_key_bits: 2048\n  spf_require_include: spf.example.net\n"
POLICY += "  dmarc_min_policy: quarantine\n"
# Inbound mail is not a rule under test here (selftests/unit/checks/test_mx.py holds mx).
POLICY += "  mx: off\n"
PAST = "2026-05-04T10:00:00Z"  # before tenantkit.NOW
FUTURE = "2027-01-10T10:00:00Z"  # after it


def dmarc(policy: str) -> str:
    return f'_dmarc 3600 IN TXT "v=DMARC1; p={policy}"\n'


def cnames(domain: str, tenant: str = tenantkit.TENANT) -> str:
    return "".join(
        f"{s}._domainkey 3600 IN CNAME {target(s, domain, tenant)}.\n"
        for s in ("selector1", "selector2")
    )


def dark_cname(domain: str) -> str:
    """selector1 → a valid target of the tenant in a zone no server answers for (REFUSED);
    selector2 → the usual target."""
    label = domain.replace(".", "-")
    return (
        f"selector1._domainkey 3600 IN CNAME selector1-{label}._domainkey.contoso.n-v1.dkim."
        "mail.microsoft.\n"
        f"selector2._domainkey 3600 IN CNAME {target('selector2', domain)}.\n"
    )


def keys(domain: str, tenant: str = tenantkit.TENANT, **bits: int | None) -> str:
    """Key records in a tenant's zone: selector → bits (None: no key); 2048 by default."""
    out = []
    for selector in ("selector1", "selector2"):
        size = bits.get(selector, 2048)
        if size is not None:
            label = target(selector, domain, tenant).split(f".{tenant}.onmicrosoft.com")[0]
            out.append(f"{label} 3600 IN TXT {key_record(size)}\n")
    return "".join(out)


def rotation(domain: str, after: str, on: str) -> str:
    before = "selector1" if after == "selector2" else "selector2"
    return (
        f"  - name: {domain}\n"
        f"    selector1_cname: {target('selector1', domain)}\n"
        f"    selector2_cname: {target('selector2', domain)}\n"
        f"    rotate_on: {on}\n"
        f"    selector_before_rotate: {before}\n"
        f"    selector_after_rotate: {after}\n"
    )


# domain: (customer zone lines or None for no zone at all, contoso keys, fabrikam keys,
# inventory entry)
TENANT: dict[str, tuple[str | None, str, str, str]] = {}


def _add(domain: str, customer: str | None, ms: str, entry: str, fab: str = "") -> None:
    TENANT[domain] = (customer, ms, fab, entry)


def _build() -> None:
    def zone(domain: str, *, spf: str = SPF_PARTNER, policy: str = "reject") -> str:
        return cnames(domain) + spf + dmarc(policy)

    d = "good.example"
    _add(d, zone(d), keys(d), rotation(d, "selector2", PAST))
    d = "weak-key.example"  # 1024-bit keys: fine by default, below the policy's 2048
    _add(d, zone(d), keys(d, selector1=1024, selector2=1024), rotation(d, "selector2", PAST))
    d = "lax-dmarc.example"  # p=none under dmarc_min_policy: quarantine
    _add(d, zone(d, policy="none"), keys(d), rotation(d, "selector2", PAST))
    d = "quarantine-dmarc.example"  # exactly the minimum
    _add(d, zone(d, policy="quarantine"), keys(d), rotation(d, "selector2", PAST))
    d = "outlook-only.example"  # lacks the policy's required include
    _add(d, zone(d, spf=SPF_OUTLOOK_ONLY), keys(d), rotation(d, "selector2", PAST))
    d = "foreign.example"  # no expected targets: CNAMEs to another tenant's (valid) keys
    _add(
        d,
        cnames(d, "fabrikam") + SPF_PARTNER + dmarc("reject"),
        "",
        f"  - {d}\n",
        fab=keys(d, "fabrikam"),
    )
    d = "unrotated-one-key.example"  # no rotation data: selector1 has the only key
    _add(d, zone(d), keys(d, selector2=None), f"  - {d}\n")
    d = "unrotated-no-key.example"  # no rotation data and no key: the signing one has none
    _add(d, zone(d), "", f"  - {d}\n")
    d = "before-rotation.example"  # selector1 signs until FUTURE; selector2 not published
    _add(d, zone(d), keys(d, selector2=None), rotation(d, "selector2", FUTURE))
    d = "rotated-to-1.example"  # selector1 signs since PAST, and its key is missing
    _add(d, zone(d), keys(d, selector1=None), rotation(d, "selector1", PAST))
    d = "at-rotation.example"  # rotate_on is the evaluation instant: selector1 signs from it
    _add(d, zone(d), keys(d, selector1=None), rotation(d, "selector1", tenantkit.NOW))
    d = "weak-next-key.example"  # selector2 signs from FUTURE; its key is below 2048
    _add(d, zone(d), keys(d, selector2=1024), rotation(d, "selector2", FUTURE))
    d = "half-dark.example"  # no rotation data; selector1's key unanswerable, selector2 none
    _add(d, dark_cname(d) + SPF_PARTNER + dmarc("reject"), "", f"  - {d}\n")
    d = "half-dark-keyed.example"  # the same, but selector2 has a valid key
    _add(d, dark_cname(d) + SPF_PARTNER + dmarc("reject"), keys(d, selector1=None), f"  - {d}\n")
    d = "empty.example"  # the zone exists and holds nothing: every record is missing
    _add(d, "", "", f"  - {d}\n")
    d = "unserved.example"  # no server answers for it (REFUSED): DNS failure, not missing
    _add(d, None, "", f"  - {d}\n")


_build()

ALL_ERROR = {
    k: "error"
    for k in (
        "dkim_cname/selector1",
        "dkim_cname/selector2",
        "dkim_target/selector1",
        "dkim_target/selector2",
        "dkim_key/selector1",
        "dkim_key/selector2",
        "dkim_rotation",
        "spf",
        "dmarc",
    )
}

# Hand-written: anything not listed passes.
EXPECTED: dict[str, dict[str, str]] = {
    "weak-key.example": {
        "dkim_key/selector1": "failed",
        "dkim_key/selector2": "failed",
        "dkim_rotation": "failed",
    },
    "lax-dmarc.example": {"dmarc": "failed"},
    "outlook-only.example": {"spf": "failed"},
    "foreign.example": {
        "dkim_cname/selector1": "failed",
        "dkim_cname/selector2": "failed",
        "dkim_rotation": "failed",
    },
    "unrotated-one-key.example": {
        "dkim_target/selector2": "xfailed",
        "dkim_key/selector2": "skipped",
    },
    "unrotated-no-key.example": {
        "dkim_target/selector1": "failed",
        "dkim_target/selector2": "failed",
        "dkim_key/selector1": "skipped",
        "dkim_key/selector2": "skipped",
        "dkim_rotation": "failed",
    },
    "before-rotation.example": {
        "dkim_target/selector2": "xfailed",
        "dkim_key/selector2": "skipped",
    },
    "rotated-to-1.example": {
        "dkim_target/selector1": "failed",
        "dkim_key/selector1": "skipped",
        "dkim_rotation": "failed",
    },
    "at-rotation.example": {
        "dkim_target/selector1": "failed",
        "dkim_key/selector1": "skipped",
        "dkim_rotation": "failed",
    },
    "weak-next-key.example": {"dkim_key/selector2": "failed"},  # dkim_rotation: a warning
    "half-dark.example": {
        "dkim_target/selector1": "error",
        "dkim_target/selector2": "error",  # inactive only if selector1 has a key: unknown
        "dkim_key/selector1": "error",
        "dkim_key/selector2": "skipped",
        "dkim_rotation": "error",
    },
    "half-dark-keyed.example": {
        "dkim_target/selector1": "error",
        "dkim_key/selector1": "error",
        "dkim_rotation": "error",  # selector2's key passes, but selector1 may be the signer
    },
    "empty.example": {
        "dkim_cname/selector1": "failed",
        "dkim_cname/selector2": "failed",
        "dkim_target/selector1": "failed",
        "dkim_target/selector2": "failed",
        "dkim_key/selector1": "skipped",
        "dkim_key/selector2": "skipped",
        "dkim_rotation": "failed",
        "spf": "failed",
        "dmarc": "failed",
    },
    "unserved.example": ALL_ERROR,
}


def write_tenant(root: Path) -> Path:
    zones = root / "zones"
    zones.mkdir(parents=True)
    contoso, fabrikam, entries = [], [], []
    for domain, (customer, ms, fab, entry) in TENANT.items():
        if customer is not None:
            (zones / f"{domain}.zone").write_text(
                f"$ORIGIN {domain}.\n$TTL 3600\n{SOA.format(o=domain)}{customer}"
            )
        contoso.append(ms)
        fabrikam.append(fab)
        entries.append(entry)
    extra = {
        "contoso.onmicrosoft.com": "".join(contoso),
        "fabrikam.onmicrosoft.com": "".join(fabrikam),
        "example.net": 'spf 3600 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n',
        "protection.outlook.com": 'spf 3600 IN TXT "v=spf1 ip4:40.92.0.0/15 -all"\n',
    }
    for origin, body in extra.items():
        (zones / f"{origin}.zone").write_text(
            f"$ORIGIN {origin}.\n$TTL 3600\n{SOA.format(o=origin)}{body}"
        )
    inventory = root / "domains.yaml"
    inventory.write_text(
        f"version: 1\ntenant: {tenantkit.TENANT}\n{POLICY}"
        "dns:\n  zones: zones\n  timeout: 1.0\n  attempts: 1\n"
        "domains:\n" + "".join(entries)
    )
    return inventory


# Checks with nothing to judge in this tenant: mx is off, and without an export or an
# `enabled:` entry Exchange Online's DKIM state is unknown to dkim_enabled.
NOT_JUDGED = {"mx": "skipped", "dkim_enabled": "skipped"}


def expected(domain: str, check: str, selector: str | None) -> str:
    default = NOT_JUDGED.get(check, "passed")
    return EXPECTED.get(domain, {}).get(f"{check}/{selector}" if selector else check, default)


def test_every_rule_reaches_its_verdict_end_to_end(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    write_tenant(pytester.path)
    result, doc = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    got = outcomes(doc)
    assert {d for d, _, _ in got} == set(TENANT)
    assert len(got) == tenantkit.suite_size(pytester.path / "domains.yaml")
    wrong = {k: (v, expected(*k)) for k, v in got.items() if v != expected(*k)}
    assert not wrong, wrong
    by_key = {(r["domain"], r["check"], r["selector"]): r for r in doc["results"]}
    weak = by_key[("weak-key.example", "dkim_key", "selector1")]
    assert "1024" in weak["message"] and "2048" in weak["message"]
    foreign = by_key[("foreign.example", "dkim_cname", "selector1")]
    assert "belongs to tenant 'fabrikam', not 'contoso'" in foreign["message"]
    assert "spf.example.net" in by_key[("outlook-only.example", "spf", None)]["message"]
    assert "quarantine" in by_key[("lax-dmarc.example", "dmarc", None)]["message"]
    ahead = by_key[("weak-next-key.example", "dkim_rotation", None)]
    assert any(
        "selector2 will sign then, but its key is not usable" in w for w in ahead["warnings"]
    )
    for r in doc["results"]:
        if r["outcome"] == "error":
            assert r["result"] == "temperror", r["nodeid"]
            assert "REFUSED" in {e["rcode"] for e in r["evidence"]}, r["nodeid"]
