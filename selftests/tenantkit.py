"""A small hand-made tenant for the plugin's selftests: one domain per failure kind.

Each domain is named after what is wrong with it, so a failing assertion reads as a
sentence. Zone files are written as a user would write them, and served by the embedded
server over real sockets.
"""

from __future__ import annotations

import base64
import textwrap
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dkimwatch import registry
from dkimwatch.inventory import load_inventory

TENANT = "contoso"
NOW = "2026-11-22T09:00:00Z"
ROTATED = "2026-05-04T10:00:00Z"  # selector2 signs since then (before: selector1)


@lru_cache(maxsize=4)
def rsa_key_b64(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def txt(value: str) -> str:
    """A TXT rdata of 255-byte strings (long keys don't fit one string)."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


def key_record(bits: int = 2048, p: str | None = None) -> str:
    return txt(f"v=DKIM1; k=rsa; p={rsa_key_b64(bits) if p is None else p}")


def target(selector: str, domain: str, tenant: str = TENANT) -> str:
    return f"{selector}-{domain.replace('.', '-')}._domainkey.{tenant}.onmicrosoft.com"


@dataclass
class Case:
    domain: str
    customer: str  # extra zone lines of the customer zone
    microsoft: dict[str, str]  # owner (relative to the tenant zone) -> TXT rdata
    inventory: str  # YAML of the inventory entry
    rotated: bool = True


def _entry(domain: str, *, rotation: bool = True) -> str:
    if not rotation:
        return f"  - {domain}\n"
    return textwrap.indent(
        textwrap.dedent(
            f"""\
          - name: {domain}
            selector1_cname: {target("selector1", domain)}
            selector2_cname: {target("selector2", domain)}
            rotate_on: {ROTATED}
            selector_before_rotate: selector1
            selector_after_rotate: selector2
            enabled: true
        """
        ),
        "  ",
    )


def _cnames(domain: str) -> str:
    return (
        f"selector1._domainkey 3600 IN CNAME {target('selector1', domain)}.\n"
        f"selector2._domainkey 3600 IN CNAME {target('selector2', domain)}.\n"
    )


def _keys(domain: str, *, s1: str | None = "ok", s2: str | None = "ok") -> dict[str, str]:
    out = {}
    for selector, what in (("selector1", s1), ("selector2", s2)):
        if what is None:
            continue
        label = target(selector, domain).split(f".{TENANT}.onmicrosoft.com")[0]
        out[label] = key_record(p="" if what == "revoked" else None)
    return out


SPF = '@ 3600 IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n'
DMARC = '_dmarc 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"\n'


def cases() -> list[Case]:
    def healthy(domain: str, **keys: str | None) -> Case:
        return Case(domain, _cnames(domain) + SPF + DMARC, _keys(domain, **keys), _entry(domain))

    out = [
        healthy("healthy.example"),
        healthy("inactive-unpublished.example", s1=None),
        healthy("active-key-missing.example", s2=None),
        healthy("revoked.example", s2="revoked"),
    ]
    d = "cname-missing.example"
    out.append(
        Case(
            d,
            f"selector2._domainkey 3600 IN CNAME {target('selector2', d)}.\n" + SPF + DMARC,
            _keys(d),
            _entry(d),
        )
    )
    d = "other-tenant.example"
    out.append(
        Case(
            d,
            f"selector1._domainkey 3600 IN CNAME {target('selector1', d, 'fabrikamcorp')}.\n"
            f"selector2._domainkey 3600 IN CNAME {target('selector2', d, 'fabrikamcorp')}.\n"
            + SPF
            + DMARC,
            {},
            _entry(d),
        )
    )
    d = "appended-twice.example"
    out.append(
        Case(
            d,
            # no trailing dot on the owner: the zone appends its origin a second time
            f"selector1._domainkey.{d} 3600 IN CNAME {target('selector1', d)}.\n"
            f"selector2._domainkey.{d} 3600 IN CNAME {target('selector2', d)}.\n" + SPF + DMARC,
            _keys(d),
            _entry(d),
        )
    )
    d = "no-spf.example"
    out.append(Case(d, _cnames(d) + DMARC, _keys(d), _entry(d)))
    d = "no-dmarc.example"
    out.append(Case(d, _cnames(d) + SPF, _keys(d), _entry(d)))
    d = "shorthand.example"
    out.append(Case(d, _cnames(d) + SPF + DMARC, _keys(d, s2=None), _entry(d, rotation=False)))
    return out


# Expected outcome per (check, selector) for each domain; anything not listed: passed.
EXPECTED: dict[str, dict[str, str]] = {
    "inactive-unpublished.example": {
        "dkim_target/selector1": "xfailed",
        "dkim_key/selector1": "skipped",
    },
    "active-key-missing.example": {
        "dkim_target/selector2": "failed",
        "dkim_key/selector2": "skipped",
        "dkim_rotation": "failed",
    },
    "revoked.example": {"dkim_key/selector2": "failed", "dkim_rotation": "failed"},
    "cname-missing.example": {
        "dkim_cname/selector1": "failed",
        "dkim_target/selector1": "xfailed",
        "dkim_key/selector1": "skipped",
    },
    "other-tenant.example": {
        "dkim_cname/selector1": "failed",
        "dkim_cname/selector2": "failed",
        "dkim_rotation": "failed",
    },
    "appended-twice.example": {
        "dkim_cname/selector1": "failed",
        "dkim_cname/selector2": "failed",
        "dkim_target/selector1": "xfailed",
        "dkim_target/selector2": "failed",
        "dkim_key/selector1": "skipped",
        "dkim_key/selector2": "skipped",
        "dkim_rotation": "failed",
    },
    "no-spf.example": {"spf": "failed"},
    "no-dmarc.example": {"dmarc": "failed"},
    "shorthand.example": {
        "dkim_target/selector2": "xfailed",
        "dkim_key/selector2": "skipped",
        "dkim_enabled": "skipped",  # no enabled: and no export: unknown
    },
}


def write_tenant(root: Path, extra_domains: str = "") -> Path:
    """Write zones/ and domains.yaml under ``root``; return the inventory path."""
    zones = root / "zones"
    zones.mkdir(parents=True, exist_ok=True)
    soa = "@ 3600 IN SOA ns1.{o}. hostmaster.{o}. 1 3600 600 86400 300\n@ 3600 IN NS ns1.{o}.\n"
    ms_lines = []
    fab_lines = []
    entries = []
    mx_hosts = []
    for case in cases():
        body = soa.format(o=case.domain) + case.customer.replace("{domain}", case.domain)
        # Every domain receives its mail at Exchange Online (the mx check holds).
        mx_hosts.append(f"{case.domain.replace('.', '-')}.mail")
        body += f"@ 3600 IN MX 0 {mx_hosts[-1]}.protection.outlook.com.\n"
        (zones / f"{case.domain}.zone").write_text(f"$ORIGIN {case.domain}.\n$TTL 3600\n{body}")
        for owner, rdata in case.microsoft.items():
            ms_lines.append(f"{owner} 3600 IN TXT {rdata}\n")
        if case.domain == "other-tenant.example":
            for selector in ("selector1", "selector2"):
                label = target(selector, case.domain, "fabrikamcorp").split(".fabrikamcorp.")[0]
                fab_lines.append(f"{label} 3600 IN TXT {key_record()}\n")
        entries.append(case.inventory)
    for origin, lines in (
        (f"{TENANT}.onmicrosoft.com", ms_lines),
        ("fabrikamcorp.onmicrosoft.com", fab_lines),
    ):
        (zones / f"{origin}.zone").write_text(
            f"$ORIGIN {origin}.\n$TTL 3600\n" + soa.format(o=origin) + "".join(lines)
        )
    (zones / "protection.outlook.com.zone").write_text(
        "$ORIGIN protection.outlook.com.\n$TTL 3600\n"
        + soa.format(o="protection.outlook.com")
        + 'spf 3600 IN TXT "v=spf1 ip4:40.92.0.0/15 include:spfd.protection.outlook.com -all"\n'
        + 'spfd 3600 IN TXT "v=spf1 ip4:51.4.72.0/24 -all"\n'
        + "".join(f"{h} 3600 IN A 52.101.68.{i + 1}\n" for i, h in enumerate(mx_hosts))
    )
    inventory = root / "domains.yaml"
    inventory.write_text(
        f"version: 1\ntenant: {TENANT}\ndns:\n  zones: zones\n  timeout: 2.0\n  attempts: 2\n"
        "domains:\n" + "".join(entries) + extra_domains
    )
    return inventory


def expected_outcome(domain: str, check: str, selector: str | None) -> str:
    key = f"{check}/{selector}" if selector else check
    return EXPECTED.get(domain, {}).get(key, "passed")


def suite_size(inventory: Path, domain: str | None = None) -> int:
    """How many tests the suite runs for the written inventory (or one of its domains)."""
    domains = load_inventory(inventory).domains
    return sum(registry.tests_per_domain(d) for d in domains if domain in (None, d.name))


# --- many tenants: a directory of inventories -----------------------------------------------

OTHER = "other-tenant.example"  # its CNAMEs point into fabrikamcorp's tenant
FABRIKAM = "fabrikamcorp"
FABRIKAM_SPF = "spf.fabrikam-gateway.example"


def dns_block(zones: str = "../zones") -> str:
    return f"dns:\n  zones: {zones}\n  timeout: 2.0\n  attempts: 2\n"


def write_tenants(root: Path, *, fabrikam_dns: str | None = None) -> Path:
    """tenants/contoso.yaml (every domain of the tenant but OTHER, with a waiver for
    no-spf's SPF) and tenants/fabrikam.yaml (OTHER, under its own tenant); the zones of
    write_tenant. Returns the folder."""
    write_tenant(root)
    folder = root / "tenants"
    folder.mkdir()
    entries = "".join(c.inventory for c in cases() if c.domain != OTHER)
    (folder / "contoso.yaml").write_text(
        f"version: 1\ntenant: {TENANT}\n{dns_block()}domains:\n{entries}"
        + textwrap.dedent(
            """\
            waivers:
              - domain: no-spf.example
                check: spf
                reason: "SPF moves with the mail gateway, CHG-7"
            """
        )
    )
    # fabrikam's own policy wants an SPF include its domain lacks: its SPF fails there.
    (folder / "fabrikam.yaml").write_text(
        f"version: 1\ntenant: {FABRIKAM}\n{fabrikam_dns or dns_block()}"
        f"policy:\n  spf_require_include: {FABRIKAM_SPF}\ndomains:\n  - {OTHER}\n"
    )
    return folder


def expected_counts(inventory: Path) -> Counter[str]:
    """How many tests of the written inventory end in each outcome, by expected_outcome."""
    return Counter(
        expected_outcome(d.name, check, selector)
        for d in load_inventory(inventory).domains
        for check, selector in registry.cases(d)
    )
