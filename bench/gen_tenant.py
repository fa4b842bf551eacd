"""Generate a synthetic Exchange Online tenant: inventory, zone files and expected verdicts.

Every domain gets one *kind* (healthy, active key missing, CNAME appended twice, …) taken
from the failure modes in docs/exchange-online.md, and the expected outcome of each test is
written down from the kind alone (docs/design.md's outcome table), never by running the suite.
That makes the expectations an independent oracle for the suite.

    python bench/gen_tenant.py demo                 # domains.yaml + demo/ (the shipped demo)
    python bench/gen_tenant.py corpus OUTDIR        # a second tenant with other names and mix
    python bench/gen_tenant.py scale OUTDIR --domains 2000   # for bench/

Output is deterministic for a profile and seed, key material included (RSA keys come from
a seeded prime search), so regenerating the demo changes nothing unless this file changed.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import idna
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

S1, S2 = "selector1", "selector2"
DEMO_NOW = "2026-11-22T09:00:00Z"  # every rotate_on of the demo lies before this
CORPUS_NOW = "2026-11-22T09:00:00Z"

# --- key material ---------------------------------------------------------------------------

_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]


def _probable_prime(n: int, rng: random.Random) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(24):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, rng: random.Random) -> int:
    while True:
        n = rng.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if (n - 1) % 65537 and _probable_prime(n, rng):
            return n


def rsa_public_key_b64(bits: int, seed: str) -> str:
    """A real RSA public key (product of two primes, e=65537), the same for the same seed."""
    rng = random.Random(f"rsa-{bits}-{seed}")
    while True:
        n = _prime(bits // 2, rng) * _prime(bits // 2, rng)
        if n.bit_length() == bits:
            break
    key = rsa.RSAPublicNumbers(65537, n).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


class KeyPool:
    """A handful of keys shared round-robin: generating one per selector would be slow."""

    def __init__(self, size: int, seed: str) -> None:
        self.keys = [rsa_public_key_b64(2048, f"{seed}-{i}") for i in range(size)]
        self.small = rsa_public_key_b64(1024, f"{seed}-small")
        self._next = 0

    def take(self) -> str:
        self._next += 1
        return self.keys[self._next % len(self.keys)]


def txt(value: str) -> str:
    """TXT rdata in 255-byte character strings."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255)) or '""'


# --- the model --------------------------------------------------------------------------------


@dataclass
class Tenant:
    name: str  # initial-domain label, e.g. contoso
    keys: KeyPool
    customer: dict[str, list[str]] = field(default_factory=dict)  # zone origin -> lines
    microsoft: dict[str, list[str]] = field(default_factory=dict)  # zone origin -> lines
    entries: list[str] = field(default_factory=list)  # inventory YAML entries
    expected: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # domain (A-label) -> kind
    # Outcomes that differ when the export is the inventory: it gives every domain
    # rotation data, shorthand ones included (domain -> "check/selector" -> outcome).
    export_outcomes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # The key Exchange Online signs each (domain, selector) with: what an export lists.
    exo_keys: dict[tuple[str, str], str] = field(default_factory=dict)
    exported: list[dict[str, object]] = field(default_factory=list)  # Get-DkimSigningConfig
    accepted: list[dict[str, object]] = field(default_factory=list)  # Get-AcceptedDomain
    mx_hosts: list[str] = field(default_factory=list)  # <token>.mail.protection.outlook.com
    # Domains only the exports list (accepted domains outside the DKIM export): their
    # expected verdicts as test ids, for the export run only.
    export_only: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Dom:
    """One customer domain while it is being built."""

    name: str  # as written in the inventory (may be a U-label)
    alabel: str
    zone: str  # origin of the zone that holds its records
    active: str | None  # the selector that signs now (None: no rotation data)
    inactive: str | None
    partition: str | None = None  # new-format target letter, e.g. "n"
    owner: str = ""  # owner prefix for records inside ``zone`` ("" at the apex)

    def rel(self, label: str) -> str:
        """Owner name relative to the zone for a label under the domain."""
        parts = [p for p in (label, self.owner) if p]
        return ".".join(parts) if parts else "@"


def target(tenant: str, selector: str, domain: str, partition: str | None = None) -> str:
    label = f"{selector}-{domain.replace('.', '-')}._domainkey"
    if partition:
        return f"{label}.{tenant}.{partition}-v1.dkim.mail.microsoft"
    return f"{label}.{tenant}.onmicrosoft.com"


def microsoft_zone(tenant: str, partition: str | None) -> str:
    return (
        f"{tenant}.{partition}-v1.dkim.mail.microsoft" if partition else f"{tenant}.onmicrosoft.com"
    )


class Builder:
    """Writes one domain's records and expected outcomes; kinds call its helpers."""

    def __init__(self, tenant: Tenant, dom: Dom) -> None:
        self.t = tenant
        self.d = dom
        self.lines = tenant.customer.setdefault(dom.zone, [])
        self.outcomes: dict[str, tuple[str, str]] = {}

    # records
    def record(self, label: str, rtype: str, rdata: str, ttl: int = 3600) -> None:
        self.lines.append(f"{self.d.rel(label)} {ttl} IN {rtype} {rdata}")

    def cname(self, selector: str, tenant: str | None = None) -> None:
        tgt = target(tenant or self.t.name, selector, self.d.alabel, self.d.partition)
        self.record(f"{selector}._domainkey", "CNAME", tgt + ".")

    def key(self, selector: str, value: str | None = None, tenant: str | None = None) -> None:
        """Publish the key behind the selector's target, on Microsoft's side."""
        ten = tenant or self.t.name
        tgt = target(ten, selector, self.d.alabel, self.d.partition)
        origin = microsoft_zone(ten, self.d.partition)
        owner = tgt[: -len(origin) - 1]
        record = value if value is not None else f"v=DKIM1; k=rsa; p={self.t.keys.take()}"
        if tenant is None and "p=" in record and not record.endswith("p="):
            self.t.exo_keys[(self.d.alabel, selector)] = record
        self.t.microsoft.setdefault(origin, []).append(f"{owner} 3600 IN TXT {txt(record)}")

    def spf(self, value: str = "v=spf1 include:spf.protection.outlook.com -all") -> None:
        self.record("", "TXT", txt(value))

    def dmarc(self, value: str | None = None) -> None:
        if value is None:
            value = f"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{self.d.alabel}"
        self.record("_dmarc", "TXT", txt(value))

    def mx(self) -> None:
        token = self.d.alabel.replace(".", "-")
        self.record("", "MX", f"0 {token}.mail.protection.outlook.com.")
        self.t.mx_hosts.append(f"{token}.mail")

    def standard(self, *, spf: bool = True, dmarc: bool = True) -> None:
        self.mx()
        if spf:
            self.spf()
        if dmarc:
            self.dmarc()

    # expectations (anything not set: passed/pass)
    def expect(self, check: str, selector: str | None, outcome: str, result: str) -> None:
        key = f"{check}/{selector}" if selector else check
        self.outcomes[key] = (outcome, result)

    def fail(self, check: str, selector: str | None = None, result: str = "fail") -> None:
        self.expect(check, selector, "failed", result)

    def unpublished(self, selector: str) -> None:
        """The inactive selector's key is not published: expected, so xfail; nothing to parse."""
        self.expect("dkim_target", selector, "xfailed", "none")
        self.expect("dkim_key", selector, "skipped", "none")

    def no_key(self, selector: str) -> None:
        """The signing selector has no key: a failure, and the key check has nothing to parse."""
        self.fail("dkim_target", selector)
        self.expect("dkim_key", selector, "skipped", "none")


def _sel(dom: Dom) -> tuple[str, str]:
    """(active, inactive); a domain without rotation data signs with selector1 here."""
    return dom.active or S1, dom.inactive or S2


# --- kinds ------------------------------------------------------------------------------------
# Each kind takes the builder, writes the records and states the verdicts that differ from pass.

Kind = Callable[[Builder], None]


def healthy_both(b: Builder) -> None:
    """Both keys published (a rotation just happened, or Microsoft publishes both)."""
    b.standard()
    for s in (S1, S2):
        b.cname(s)
        b.key(s)


def healthy(b: Builder) -> None:
    """The usual healthy state: Microsoft publishes only the signing selector's key."""
    a, i = _sel(b.d)
    b.standard()
    b.cname(S1)
    b.cname(S2)
    b.key(a)
    b.unpublished(i)


def small_key(b: Builder) -> None:
    """A 1024-bit key: allowed by min_key_bits 1024, with a warning (still passes)."""
    a, i = _sel(b.d)
    b.standard()
    b.cname(S1)
    b.cname(S2)
    b.key(a, f"v=DKIM1; k=rsa; p={b.t.keys.small}")
    b.unpublished(i)


def active_key_missing(b: Builder) -> None:
    """Field note: CNAMEs right, the signing selector's key missing at Microsoft."""
    a, i = _sel(b.d)
    b.standard()
    b.cname(S1)
    b.cname(S2)
    b.no_key(a)
    b.fail("dkim_rotation")
    b.unpublished(i)


def active_key_missing_old_kept(b: Builder) -> None:
    """As above, but the previous selector's key is still published (rotation half done)."""
    a, i = _sel(b.d)
    b.standard()
    b.cname(S1)
    b.cname(S2)
    b.key(i)
    b.no_key(a)
    b.fail("dkim_rotation")


def inactive_cname_missing(b: Builder) -> None:
    """selector2 (inactive) was never created: the next rotation will break signing."""
    a, i = _sel(b.d)
    b.standard()
    b.cname(a)
    b.key(a)
    b.key(i)  # Microsoft may still publish it; without the CNAME nobody can find it
    b.fail("dkim_cname", i)
    b.unpublished(i)


def cnames_missing(b: Builder) -> None:
    """No CNAMEs at all (keys exist at Microsoft)."""
    a, i = _sel(b.d)
    b.standard()
    b.key(a)
    for s in (S1, S2):
        b.fail("dkim_cname", s)
    b.no_key(a)
    b.unpublished(i)
    b.fail("dkim_rotation")


def other_tenant(b: Builder) -> None:
    """CNAMEs point at another tenant (a copy-paste from a sister company) whose keys exist."""
    other = "fabrikamcorp"
    b.standard()
    for s in (S1, S2):
        b.cname(s, tenant=other)
        b.key(s, tenant=other)
        b.fail("dkim_cname", s)
    b.fail("dkim_rotation")


def appended_twice(b: Builder) -> None:
    """Owner names written in full without the trailing dot: the zone appends the domain again."""
    a, i = _sel(b.d)
    b.standard()
    for s in (S1, S2):
        b.record(f"{s}._domainkey.{b.d.alabel}", "CNAME", target(b.t.name, s, b.d.alabel) + ".")
        b.fail("dkim_cname", s)
    b.key(a)
    b.no_key(a)
    b.unpublished(i)
    b.fail("dkim_rotation")


def revoked(b: Builder) -> None:
    """The signing selector's key is revoked (empty p=)."""
    a, i = _sel(b.d)
    b.standard()
    b.cname(S1)
    b.cname(S2)
    b.key(a, "v=DKIM1; k=rsa; p=")
    b.fail("dkim_key", a)
    b.fail("dkim_rotation")
    if b.d.active is None:
        # Without rotation data a revoked key is no key: neither selector has one, nothing
        # tells which signs, so the unpublished one fails too. The export says which signs.
        b.no_key(i)
        b.t.export_outcomes.setdefault(b.d.alabel, {})[f"dkim_target/{i}"] = ["xfailed", "none"]
    else:
        b.unpublished(i)


def revoked_inactive(b: Builder) -> None:
    """The selector that does not sign has a revoked key (empty p=): a retired key, as
    expected as an unpublished one; the key check has a record to judge, and xfails it."""
    a, i = _sel(b.d)
    b.standard()
    b.cname(S1)
    b.cname(S2)
    b.key(a)
    b.key(i, "v=DKIM1; k=rsa; p=")
    b.expect("dkim_key", i, "xfailed", "none")


def cname_chain(b: Builder) -> None:
    """The signing selector's CNAME reaches Microsoft's target through a second name in
    the customer's zone: receivers follow it, so dkim_cname passes (with a warning)."""
    a, i = _sel(b.d)
    b.standard()
    b.record(f"{a}._domainkey", "CNAME", f"{a}.dkim-alias.{b.d.alabel}.")
    tgt = target(b.t.name, a, b.d.alabel, b.d.partition)
    b.record(f"{a}.dkim-alias", "CNAME", tgt + ".")
    b.cname(i)
    b.key(a)
    b.unpublished(i)


def txt_instead_of_cname(b: Builder) -> None:
    """The key was copied into a TXT at the selector: signing works today, rotation won't."""
    a, i = _sel(b.d)
    b.standard()
    copied = f"v=DKIM1; k=rsa; p={b.t.keys.take()}"  # copied from the export: the right key
    b.t.exo_keys[(b.d.alabel, a)] = copied
    b.record(f"{a}._domainkey", "TXT", txt(copied))
    b.cname(i)
    b.fail("dkim_cname", a)
    b.unpublished(i)


def proxied(b: Builder) -> None:
    """A proxying DNS provider answers the inactive selector with A records, not the CNAME."""
    a, i = _sel(b.d)
    b.standard()
    b.cname(a)
    b.key(a)
    b.record(f"{i}._domainkey", "A", "192.0.2.80")
    b.record(f"{i}._domainkey", "A", "192.0.2.81")
    b.fail("dkim_cname", i)
    b.unpublished(i)


def healthy_inherits_dmarc(b: Builder) -> None:
    """A subdomain without its own DMARC record: the organisational domain's applies."""
    a, i = _sel(b.d)
    b.standard(dmarc=False)
    b.cname(S1)
    b.cname(S2)
    b.key(a)
    b.unpublished(i)


def disabled(b: Builder) -> None:
    """CNAMEs created ahead of Set-DkimSigningConfig -Enabled $true: no keys yet, expected."""
    b.standard()
    b.cname(S1)
    b.cname(S2)
    for s in (S1, S2):
        b.unpublished(s)
    b.expect("dkim_rotation", None, "xfailed", "none")


def healthy_dkim(b: Builder) -> None:
    a, _ = _sel(b.d)
    b.cname(S1)
    b.cname(S2)
    b.key(a)
    b.unpublished(_sel(b.d)[1])


def no_spf(b: Builder) -> None:
    b.mx()
    b.dmarc()
    healthy_dkim(b)
    b.fail("spf")


def spf_plus_all(b: Builder) -> None:
    b.mx()
    b.spf("v=spf1 include:spf.protection.outlook.com +all")
    b.dmarc()
    healthy_dkim(b)
    b.fail("spf")


def spf_without_exo(b: Builder) -> None:
    """SPF left over from the previous mail provider."""
    b.mx()
    b.spf(f"v=spf1 ip4:192.0.2.0/24 a:smtp.{b.d.alabel} -all")
    b.record("smtp", "A", "192.0.2.25")
    b.dmarc()
    healthy_dkim(b)
    b.fail("spf")


def spf_two_records(b: Builder) -> None:
    b.mx()
    b.spf()
    b.spf("v=spf1 ip4:192.0.2.0/24 -all")
    b.dmarc()
    healthy_dkim(b)
    b.fail("spf", result="permerror")


def no_dmarc(b: Builder) -> None:
    b.mx()
    b.spf()
    healthy_dkim(b)
    b.fail("dmarc")


def dmarc_invalid_policy(b: Builder) -> None:
    b.mx()
    b.spf()
    b.dmarc(f"v=DMARC1; p=block; rua=mailto:dmarc@{b.d.alabel}")
    healthy_dkim(b)
    b.fail("dmarc", result="permerror")


def dmarc_external_unauthorised(b: Builder) -> None:
    """Reports sent to a vendor that has not published the authorisation record."""
    b.mx()
    b.spf()
    b.dmarc("v=DMARC1; p=reject; rua=mailto:reports@dmarc-vendor.example")
    b.t.customer.setdefault("dmarc-vendor.example", [])
    healthy_dkim(b)
    b.fail("dmarc")


def dmarc_external_authorised(b: Builder) -> None:
    b.mx()
    b.spf()
    b.dmarc("v=DMARC1; p=reject; rua=mailto:reports@dmarc-vendor.example")
    b.t.customer.setdefault("dmarc-vendor.example", []).append(
        f'{b.d.alabel}._report._dmarc 3600 IN TXT "v=DMARC1"'
    )
    healthy_dkim(b)


def mx_gateway(b: Builder) -> None:
    """A filtering gateway receives mail first and relays it to Exchange Online: normal, and
    mx: any (the default) passes it."""
    b.record("", "MX", "10 mx1.mailgateway.example.")
    b.record("", "MX", "20 mx2.mailgateway.example.")
    gateway = b.t.customer.setdefault("mailgateway.example", [])
    if not gateway:
        gateway += ["mx1 3600 IN A 192.0.2.25", "mx2 3600 IN AAAA 2001:db8::25"]
    b.spf()
    b.dmarc()
    healthy_dkim(b)


def null_mx(b: Builder) -> None:
    """Sends mail but takes none: a null MX (RFC 7505) passes mx: any."""
    b.record("", "MX", "0 .")
    b.spf()
    b.dmarc()
    healthy_dkim(b)


def no_mx(b: Builder) -> None:
    """No MX at all: inbound mail falls back to the domain's address, or is lost."""
    b.spf()
    b.dmarc()
    healthy_dkim(b)
    b.fail("mx")


def mx_host_missing(b: Builder) -> None:
    """The MX names a host that does not exist (a decommissioned server)."""
    b.record("", "MX", f"10 oldmail.{b.d.alabel}.")
    b.spf()
    b.dmarc()
    healthy_dkim(b)
    b.fail("mx")


KINDS: dict[str, Kind] = {
    f.__name__: f
    for f in (
        healthy_both,
        healthy,
        small_key,
        active_key_missing,
        active_key_missing_old_kept,
        inactive_cname_missing,
        cnames_missing,
        other_tenant,
        appended_twice,
        revoked,
        revoked_inactive,
        cname_chain,
        txt_instead_of_cname,
        proxied,
        healthy_inherits_dmarc,
        disabled,
        no_spf,
        spf_plus_all,
        spf_without_exo,
        spf_two_records,
        no_dmarc,
        dmarc_invalid_policy,
        dmarc_external_unauthorised,
        dmarc_external_authorised,
        mx_gateway,
        null_mx,
        no_mx,
        mx_host_missing,
    )
}

# The MX cases: in the demo once each (mx_plans); the corpus keeps its mix.
MX_KINDS = ("mx_gateway", "null_mx", "no_mx", "mx_host_missing")

# Kinds whose expectations assume the inventory says which selector signs (rotation data).
NEEDS_ROTATION = {
    "active_key_missing",
    "active_key_missing_old_kept",
    "inactive_cname_missing",
    "cnames_missing",
    "appended_twice",
    "txt_instead_of_cname",
    "proxied",
    "disabled",
}

# --- names ------------------------------------------------------------------------------------

STEMS = [
    "contoso",
    "fabrikam",
    "northwind",
    "adventureworks",
    "tailspin",
    "wingtip",
    "woodgrove",
    "litware",
    "proseware",
    "alpineski",
    "blueyonder",
    "cohowinery",
    "fourthcoffee",
    "humongous",
    "lucernepub",
    "margiestravel",
    "treyresearch",
    "wideworld",
    "relecloud",
    "munsonpickles",
    "adatum",
    "southridge",
    "lamna",
    "fincher",
    "vanarsdel",
    "bellowscollege",
    "firstupconsultants",
    "graphicdesigninstitute",
    "schoolofart",
    "tasmaniantraders",
    "consolidatedmessenger",
    "nodpublishers",
    "libertysdelightfulsinfulbakery",
    "woodfordbank",
    "fineartschool",
    "highschoolbuilders",
    "worldwideimporters",
    "cpandl",
    "proseware-eu",
]
QUALIFIERS = ("", "-group", "-shop", "-labs", "-intl", "-mail", "-online", "-hr", "-legal")
TLDS = ("com", "com", "com", "net", "org", "co.uk", "de", "nl", "fr", "com.au", "io", "eu")


def domain_names(rng: random.Random, count: int, prefix: str) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        stem = rng.choice(STEMS)
        name = f"{prefix}{stem}{rng.choice(QUALIFIERS)}.{rng.choice(TLDS)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


# --- assembling a tenant ----------------------------------------------------------------------


@dataclass
class Plan:
    kind: str
    name: str
    shorthand: bool = False
    partition: str | None = None
    zone: str | None = None  # parent zone for a subdomain
    rotate: tuple[str, str, str] | None = None  # (rotate_on, before, after)


def _rotation(rng: random.Random, future: bool) -> tuple[str, str, str]:
    before, after = rng.choice(((S1, S2), (S2, S1)))
    if future:  # a rotation started < 96 h before now: the old selector still signs
        return f"2026-11-2{rng.randint(3, 5)}T{rng.randint(0, 23):02d}:00:00Z", before, after
    year, month = rng.choice(((2025, rng.randint(1, 12)), (2026, rng.randint(1, 10))))
    return (
        f"{year}-{month:02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z",
        (before),
        after,
    )


def build(tenant: Tenant, plans: list[Plan], now: str) -> None:
    for plan in plans:
        alabel = idna.encode(plan.name, uts46=True).decode()
        active = inactive = None
        if plan.rotate:
            rotate_on, before, after = plan.rotate
            active = after if rotate_on <= now else before
            inactive = S2 if active == S1 else S1
        if plan.zone:
            owner = alabel[: -len(plan.zone) - 1]
            dom = Dom(plan.name, alabel, plan.zone, active, inactive, plan.partition, owner)
        else:
            dom = Dom(plan.name, alabel, alabel, active, inactive, plan.partition)
        b = Builder(tenant, dom)
        KINDS[plan.kind](b)
        # dkim_enabled without an export judges the entry's enabled: (shorthand has none).
        if plan.shorthand:
            b.expect("dkim_enabled", None, "skipped", "none")
        elif plan.kind == "disabled":
            b.fail("dkim_enabled")
        tenant.kinds[alabel] = plan.kind
        tenant.accepted.append(accepted_row(plan.name))
        tenant.expected[alabel] = {k: list(v) for k, v in b.outcomes.items()}
        tenant.entries.append(_entry(tenant, plan, alabel))
        tenant.exported.append(_export_row(tenant, plan, alabel))


def accepted_row(
    name: str, *, initial: bool = False, coexistence: bool = False, cannot_send: bool = False
) -> dict[str, object]:
    """The domain as Get-AcceptedDomain shows it (PowerShell 7 / REST field names)."""
    return {
        "DomainName": name,
        "DomainType": "Authoritative",
        "Default": False,
        "InitialDomain": initial,
        "MatchSubDomains": False,
        "SmtpDaneStatus": "Disabled",
        "SendingFromDomainDisabled": cannot_send,
        "SendingToDomainDisabled": False,
        "IsCoexistenceDomain": coexistence,
        "Name": name,
    }


def add_accepted_only(tenant: Tenant) -> None:
    """Accepted domains the Get-DkimSigningConfig export leaves out, audited through the
    Get-AcceptedDomain export: one used for mail whose DKIM was never set up, one no one may
    send from, and the hybrid coexistence domain."""
    name = "munsonpickles-online.com"  # added to the tenant, DKIM never set up
    b = Builder(tenant, Dom(name, name, name, None, None))
    b.standard()
    no_dkim = {f"dkim_cname/{s}": ["failed", "fail"] for s in (S1, S2)}
    no_dkim |= {f"dkim_target/{s}": ["failed", "fail"] for s in (S1, S2)}
    no_dkim |= {f"dkim_key/{s}": ["skipped", "none"] for s in (S1, S2)}
    no_dkim |= {"dkim_rotation": ["failed", "fail"], "dkim_enabled": ["failed", "fail"]}
    tenant.export_only.update(nodeids(name, no_dkim))
    tenant.kinds[name] = "dkim_config_missing"
    tenant.accepted.append(accepted_row(name))

    name = "woodfordbank-archive.com"  # SendingFromDomainDisabled: only MX and DMARC
    b = Builder(tenant, Dom(name, name, name, None, None))
    b.mx()
    b.spf("v=spf1 -all")
    b.dmarc("v=DMARC1; p=reject")
    for nodeid, verdict in (
        (f"tests/test_dkim.py::test_dkim_enabled[{name}]", ("skipped", "none")),
        (f"tests/test_mx.py::test_mx[{name}]", ("passed", "pass")),
        (f"tests/test_dmarc.py::test_dmarc[{name}]", ("passed", "pass")),
    ):
        tenant.export_only[nodeid] = {"outcome": verdict[0], "result": verdict[1]}
    tenant.kinds[name] = "sending_disabled"
    tenant.accepted.append(accepted_row(name, cannot_send=True))

    name = f"{tenant.name}.mail.onmicrosoft.com".lower()  # Microsoft's; nothing to check
    tenant.export_only[f"tests/test_dkim.py::test_dkim_enabled[{name}]"] = {
        "outcome": "skipped",
        "result": "none",
    }
    tenant.kinds[name] = "coexistence"
    tenant.accepted.append(accepted_row(name, coexistence=True))


def _export_row(tenant: Tenant, plan: Plan, alabel: str) -> dict[str, object]:
    """The domain as Get-DkimSigningConfig shows it (PowerShell 7 / REST field names)."""
    # A shorthand domain signs with selector1 in the expectations: say so in the export.
    rotate_on, before, after = plan.rotate or ("2025-06-01T00:00:00Z", S2, S1)
    row: dict[str, object] = {"Domain": plan.name}
    for n, s in ((1, S1), (2, S2)):
        key = tenant.exo_keys.get((alabel, s)) or f"v=DKIM1; k=rsa; p={tenant.keys.take()}"
        tenant.exo_keys[(alabel, s)] = key
        row[f"Selector{n}KeySize"] = 1024 if tenant.keys.small in key else 2048
        row[f"Selector{n}CNAME"] = target(tenant.name, s, alabel, plan.partition)
        row[f"Selector{n}PublicKey"] = key + ";"
    missing_cname = plan.kind in ("cnames_missing", "appended_twice", "inactive_cname_missing")
    row.update(
        Enabled=plan.kind != "disabled",
        IsDefault=False,
        Algorithm="RsaSHA256",
        KeyCreationTime="2024-02-01T10:00:00Z",
        RotateOnDate=rotate_on,
        SelectorBeforeRotateOnDate=before.capitalize(),
        SelectorAfterRotateOnDate=after.capitalize(),
        Status="CnameMissing" if missing_cname else "Valid",
        Identity=plan.name,
        IsValid=True,
    )
    return row


def add_initial_domain(tenant: Tenant) -> None:
    """The tenant's own <tenant>.onmicrosoft.com: no CNAMEs; Microsoft publishes its key at
    the target name itself, and its SPF and DMARC in the same zone."""
    initial = f"{tenant.name}.onmicrosoft.com"
    lines = tenant.microsoft.setdefault(initial, [])
    lines.append('@ 3600 IN TXT "v=spf1 include:spf.protection.outlook.com -all"')
    lines.append('_dmarc 3600 IN TXT "v=DMARC1; p=reject"')
    label = initial.replace(".", "-")
    key = f"v=DKIM1; k=rsa; p={tenant.keys.take()}"
    lines.append(f"selector1-{label}._domainkey 3600 IN TXT {txt(key)}")
    row: dict[str, object] = {"Domain": initial}
    for n, s in ((1, S1), (2, S2)):
        row[f"Selector{n}KeySize"] = 2048
        row[f"Selector{n}CNAME"] = f"{s}-{label}._domainkey.{initial}"
        row[f"Selector{n}PublicKey"] = (
            key if n == 1 else f"v=DKIM1; k=rsa; p={tenant.keys.take()}"
        ) + ";"
    row.update(
        Enabled=True,
        IsDefault=True,
        RotateOnDate="2024-02-01T10:00:00Z",
        SelectorBeforeRotateOnDate="Selector2",
        SelectorAfterRotateOnDate="Selector1",
        Status="Valid",
    )
    tenant.exported.append(row)
    tenant.accepted.append(accepted_row(initial, initial=True))


def export_expected(tenant: Tenant) -> dict[str, dict[str, str]]:
    """Expected verdicts when the inventory is the export: as with the explicit inventory,
    except that keys the export does not list (another tenant's) now fail dkim_key, and the
    initial domain is audited too."""
    out: dict[str, dict[str, str]] = {}
    for alabel, exp in tenant.expected.items():
        exp = dict(exp)
        if tenant.kinds[alabel] == "other_tenant":
            for s in (S1, S2):
                exp[f"dkim_key/{s}"] = ["failed", "fail"]
        exp.update(tenant.export_outcomes.get(alabel, {}))
        # The export says Enabled for every domain, shorthand or not.
        disabled = tenant.kinds[alabel] == "disabled"
        exp["dkim_enabled"] = ["failed", "fail"] if disabled else ["passed", "pass"]
        out.update(nodeids(alabel, exp))
    out.update(tenant.export_only)
    initial = f"{tenant.name}.onmicrosoft.com".lower()
    label = initial.replace(".", "-")
    for s, outcome in ((S1, ("passed", "pass")), (S2, ("xfailed", "none"))):
        name = f"{s}-{label}._domainkey.{initial}"
        out[f"tests/test_dkim.py::test_dkim_target[{name}]"] = dict(
            zip(("outcome", "result"), outcome, strict=True)
        )
        key = ("passed", "pass") if s == S1 else ("skipped", "none")
        out[f"tests/test_dkim.py::test_dkim_key[{name}]"] = dict(
            zip(("outcome", "result"), key, strict=True)
        )
    out[f"tests/test_mx.py::test_mx[{initial}]"] = {"outcome": "skipped", "result": "none"}
    for nodeid in (
        f"tests/test_dkim.py::test_dkim_enabled[{initial}]",
        f"tests/test_dkim.py::test_dkim_rotation[{initial}]",
        f"tests/test_spf.py::test_spf[{initial}]",
        f"tests/test_dmarc.py::test_dmarc[{initial}]",
    ):
        out[nodeid] = {"outcome": "passed", "result": "pass"}
    return out


def _ps51_date(iso: str) -> dict[str, object]:
    """Windows PowerShell 5.1's ConvertTo-Json form of a DateTime with its note properties."""
    from datetime import datetime

    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    ms = int(when.timestamp() * 1000)
    return {
        "value": f"/Date({ms})/",
        "DisplayHint": 2,
        "DateTime": when.strftime("%A, %d %B %Y %H:%M:%S"),
    }


def write_exports(tenant: Tenant, out: Path) -> None:
    """export-ps7.json (UTF-8, ISO dates) and export-ps51.json (UTF-16LE with BOM,
    \\/Date(ms)\\/ wrapped in DateTime notes), as admins produce them."""
    (out / "export-ps7.json").write_text(json.dumps(tenant.exported, indent=2) + "\n")
    rows = []
    for row in tenant.exported:
        rows.append(
            {
                k: _ps51_date(str(v)) if k in ("RotateOnDate", "KeyCreationTime") else v
                for k, v in row.items()
            }
        )
    text = json.dumps(rows, indent=4).replace('"/Date(', '"\\/Date(').replace(')/"', ')\\/"')
    (out / "export-ps51.json").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    (out / "expected-export.json").write_text(
        json.dumps(export_expected(tenant), indent=1, sort_keys=True) + "\n"
    )
    if tenant.export_only:
        (out / "accepted-domains.json").write_text(json.dumps(tenant.accepted, indent=2) + "\n")


def _entry(tenant: Tenant, plan: Plan, alabel: str) -> str:
    if plan.shorthand:
        return f"  - {plan.name}\n"
    lines = [f"  - name: {plan.name}"]
    lines.append(f"    selector1_cname: {target(tenant.name, S1, alabel, plan.partition)}")
    lines.append(f"    selector2_cname: {target(tenant.name, S2, alabel, plan.partition)}")
    if plan.rotate:
        rotate_on, before, after = plan.rotate
        lines += [
            f"    rotate_on: {rotate_on}",
            f"    selector_before_rotate: {before}",
            f"    selector_after_rotate: {after}",
        ]
    lines.append(f"    enabled: {'false' if plan.kind == 'disabled' else 'true'}")
    return "\n".join(lines) + "\n"


def nodeids(alabel: str, expected: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}

    def put(nodeid: str, key: str) -> None:
        outcome, result = expected.get(key, ["passed", "pass"])
        out[nodeid] = {"outcome": outcome, "result": result}

    for check in ("dkim_cname", "dkim_target", "dkim_key"):
        for s in (S1, S2):
            put(f"tests/test_dkim.py::test_{check}[{s}._domainkey.{alabel}]", f"{check}/{s}")
    put(f"tests/test_dkim.py::test_dkim_rotation[{alabel}]", "dkim_rotation")
    put(f"tests/test_dkim.py::test_dkim_enabled[{alabel}]", "dkim_enabled")
    put(f"tests/test_mx.py::test_mx[{alabel}]", "mx")
    put(f"tests/test_spf.py::test_spf[{alabel}]", "spf")
    put(f"tests/test_dmarc.py::test_dmarc[{alabel}]", "dmarc")
    return out


SOA = (
    "$ORIGIN {o}.\n$TTL 3600\n"
    "@ 3600 IN SOA ns1.{o}. hostmaster.{o}. 2026112201 3600 600 1209600 300\n"
    "@ 3600 IN NS ns1.{o}.\n"
)

# What Microsoft publishes for the SPF include (abridged), in the protection.outlook.com zone.
EXO_SPF = [
    'spf 3600 IN TXT "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip4:52.100.0.0/15 '
    'ip4:104.47.0.0/17 ip6:2a01:111:f400::/48 include:spfd.protection.outlook.com -all"',
    'spfd 3600 IN TXT "v=spf1 ip4:51.4.72.0/24 ip4:51.5.72.0/24 -all"',
]


def write_zones(zones: Path, tenants: list[Tenant]) -> None:
    """The zone files of the tenants' domains and of Microsoft's side (several tenants: an
    estate of many tenants served by one zone directory)."""
    zones.mkdir(parents=True, exist_ok=True)
    for old in zones.glob("*.zone"):
        old.unlink()
    everything: dict[str, list[str]] = {}
    for tenant in tenants:
        for origin, lines in (*tenant.customer.items(), *tenant.microsoft.items()):
            everything.setdefault(origin, []).extend(lines)
    # Exchange Online's inbound hosts, one per domain MX (addresses from its published range).
    hosts = sorted({h for tenant in tenants for h in tenant.mx_hosts})
    everything["protection.outlook.com"] = EXO_SPF + [
        f"{h} 3600 IN A 52.101.{i // 250}.{i % 250 + 1}" for i, h in enumerate(hosts)
    ]
    for origin, lines in sorted(everything.items()):
        (zones / f"{origin}.zone").write_text(SOA.format(o=origin) + "\n".join(lines) + "\n")


def inventory_text(tenant: Tenant, zones_ref: str) -> str:
    return (
        "# Generated by bench/gen_tenant.py: a synthetic tenant, served offline from the zone\n"
        "# files by dkimwatch's embedded DNS server. Point `dns:` at a real resolver for yours.\n"
        f"version: 1\ntenant: {tenant.name}\n"
        f"dns:\n  zones: {zones_ref}\n  timeout: 2.0\n  attempts: 2\n"
        "policy:\n  min_key_bits: 1024\n  spf_require_include: spf.protection.outlook.com\n"
        "  dmarc_min_policy: none\n"
        "domains:\n" + "".join(tenant.entries)
    )


def write(tenant: Tenant, out: Path, zones: Path, inventory: Path, zones_ref: str) -> None:
    write_zones(zones, [tenant])
    inventory.write_text(inventory_text(tenant, zones_ref))
    expected: dict[str, dict[str, str]] = {}
    for alabel, exp in tenant.expected.items():
        expected.update(nodeids(alabel, exp))
    (out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    (out / "kinds.json").write_text(json.dumps(tenant.kinds, indent=1, sort_keys=True) + "\n")
    write_exports(tenant, out)
    accepted = ", accepted-domains.json" if tenant.export_only else ""
    (out / "domains-export.yaml").write_text(
        "# The same tenant, its domains taken from the Get-DkimSigningConfig export"
        + (
            " and the\n# Get-AcceptedDomain export (every accepted domain is audited).\n"
            if accepted
            else ".\n"
        )
        + "version: 1\ndns:\n  zones: zones\n  timeout: 2.0\n  attempts: 2\n"
        f"sources: [export-ps7.json{accepted}]\n"
    )


def demo_plans(rng: random.Random) -> list[Plan]:
    mix = [
        ("healthy_both", 10),
        ("healthy", 12),
        ("small_key", 1),
        ("active_key_missing", 10),
        ("active_key_missing_old_kept", 10),
        ("inactive_cname_missing", 2),
        ("cnames_missing", 2),
        ("other_tenant", 2),
        ("appended_twice", 2),
        ("revoked", 2),
        ("txt_instead_of_cname", 1),
        ("proxied", 1),
        ("disabled", 1),
        ("no_spf", 2),
        ("spf_plus_all", 1),
        ("spf_without_exo", 1),
        ("no_dmarc", 2),
        ("dmarc_invalid_policy", 1),
        ("dmarc_external_unauthorised", 1),
        ("dmarc_external_authorised", 1),
    ]
    kinds = [k for k, n in mix for _ in range(n)]
    rng.shuffle(kinds)
    names = domain_names(rng, len(kinds), "")
    plans = [
        Plan(k, n, rotate=_rotation(rng, future=False), partition=None)
        for k, n in zip(kinds, names, strict=True)
    ]
    # Shorthand entries (no rotation data): the healthy ones, both kinds of healthy.
    shorthand = [p for p in plans if p.kind in ("healthy", "healthy_both")][:8]
    for p in shorthand:
        p.shorthand = True
        p.rotate = None
    # New-format targets for domains added since May 2025 (letters seen in the field).
    explicit = [p for p in plans if p.kind == "healthy" and not p.shorthand]
    for p, letter in zip(explicit, "nq", strict=False):
        p.partition = letter
    # One internationalised domain, written as a U-label, and one subdomain of a healthy one.
    plans.append(
        Plan("healthy", "bücherstube-fabrikam.de", rotate=("2026-03-02T08:00:00Z", S1, S2))
    )
    parent = next(p for p in plans if p.kind == "healthy_both" and not p.shorthand)
    plans.append(
        Plan(
            "healthy_inherits_dmarc",
            f"eu.{parent.name}",
            zone=parent.name,
            rotate=("2026-06-15T12:00:00Z", S2, S1),
        )
    )
    # Two corners, named here so the rest of the tenant stays as it was: a selector CNAME
    # reaching Microsoft through a chain in the customer's zone, and a revoked key on the
    # selector that does not sign.
    plans.append(Plan("cname_chain", "tailspin-chain.net", rotate=("2026-02-10T07:00:00Z", S1, S2)))
    plans.append(
        Plan("revoked_inactive", "wingtip-retired.org", rotate=("2026-08-20T15:00:00Z", S2, S1))
    )
    return plans


def mx_plans() -> list[Plan]:
    """One domain of each MX case, with fixed names (no draw from the generator's random)."""
    rotate = ("2026-03-02T08:00:00Z", S1, S2)
    return [
        Plan("mx_gateway", "graphicdesigninstitute-mail.com", rotate=rotate),
        Plan("null_mx", "highschoolbuilders-noreply.org", rotate=rotate),
        Plan("no_mx", "nodpublishers-online.fr", rotate=rotate),
        Plan("mx_host_missing", "cohowinery-legal.net", rotate=rotate),
    ]


def corpus_plans(rng: random.Random) -> list[Plan]:
    plans: list[Plan] = []
    names = domain_names(rng, 80, "wg-")
    kinds = [k for k in KINDS if k not in ("healthy_inherits_dmarc", *MX_KINDS)]
    for i, name in enumerate(names):
        kind = kinds[i % len(kinds)]
        shorthand = kind not in NEEDS_ROTATION and kind != "other_tenant" and rng.random() < 0.3
        rotate = None if shorthand else _rotation(rng, future=rng.random() < 0.2)
        partition = rng.choice("aenqrwy") if rng.random() < 0.3 else None
        plans.append(Plan(kind, name, shorthand=shorthand, partition=partition, rotate=rotate))
    parent = next(p for p in plans if p.kind == "healthy")
    plans.append(Plan("healthy_inherits_dmarc", f"mail.{parent.name}", zone=parent.name))
    plans.append(Plan("healthy", "straße-wg-münchen.de", rotate=_rotation(rng, future=True)))
    return plans


def scale_plans(rng: random.Random, count: int) -> list[Plan]:
    weights = {"healthy": 60, "healthy_both": 20, "active_key_missing": 10, "no_dmarc": 5}
    kinds = rng.choices(list(weights), weights=list(weights.values()), k=count)
    names = [f"d{i:05d}-{rng.choice(STEMS)}.example" for i in range(count)]
    return [
        Plan(k, n, rotate=_rotation(rng, future=False)) for k, n in zip(kinds, names, strict=True)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=("demo", "corpus", "scale"))
    parser.add_argument("outdir", nargs="?", type=Path)
    parser.add_argument("--domains", type=int, default=2000, help="scale: number of domains")
    parser.add_argument("--seed", default="dkimwatch")
    args = parser.parse_args(argv)
    rng = random.Random(f"{args.profile}-{args.seed}")
    repo = Path(__file__).resolve().parents[1]
    if args.profile == "demo":
        tenant = Tenant("contoso", KeyPool(8, f"demo-{args.seed}"))
        build(tenant, demo_plans(rng), DEMO_NOW)
        add_initial_domain(tenant)
        # Built after the rest so that their keys leave every earlier domain's as it was.
        build(tenant, mx_plans(), DEMO_NOW)
        add_accepted_only(tenant)
        out = args.outdir or repo
        write(tenant, out / "demo", out / "demo" / "zones", out / "domains.yaml", "demo/zones")
    else:
        if args.outdir is None:
            parser.error(f"{args.profile} needs OUTDIR")
        out = args.outdir
        out.mkdir(parents=True, exist_ok=True)
        if args.profile == "corpus":
            tenant = Tenant("WoodgroveBank", KeyPool(6, f"corpus-{args.seed}"))
            build(tenant, corpus_plans(rng), CORPUS_NOW)
            add_initial_domain(tenant)
        else:
            tenant = Tenant("contoso", KeyPool(4, f"scale-{args.seed}"))
            build(tenant, scale_plans(rng, args.domains), DEMO_NOW)
        write(tenant, out, out / "zones", out / "domains.yaml", "zones")
    print(f"{len(tenant.entries)} domains written under {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
