"""The checks dkimwatch runs, each declared once.

Whatever names checks takes them from CHECKS: the inventory's waiver validation, the
plugin's parametrization, the order the helper judges in, the pytest markers, the report's
matrix. What cannot import it (README's "What is checked" table, tests/) is compared with
it by selftests/unit/test_registry.py.

A new check is its function (its family's module in checks/), one line below, its test function in
tests/test_<family>.py, and its demo data (bench/gen_tenant.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

from dkimwatch import exo
from dkimwatch.checks.dkim import (
    check_dkim_cname,
    check_dkim_key,
    check_dkim_rotation,
    check_dkim_target,
)
from dkimwatch.checks.dmarc import check_dmarc
from dkimwatch.checks.exo import check_dkim_enabled
from dkimwatch.checks.mx import check_mx
from dkimwatch.checks.spf import check_spf
from dkimwatch.checks.verdict import Context, Verdict
from dkimwatch.model import Domain

Scope = Literal["selector", "domain"]
# The inventory facts a verdict can depend on. History keeps a fingerprint of a test's
# inputs to tell a change of the inventory from a change in DNS (history.inventory_inputs).
Input = Literal[
    "entry.dkim",  # the DKIM entry: selectors, rotation, the selector's target and key
    "entry.exo",  # what the exports say of the domain (signing config, accepted domain)
    "enabled",  # the entry's enabled:
    "tenant",  # the inventory's tenant
    "policy.min_key_bits",
    "policy.spf_require_include",
    "policy.dmarc_min_policy",
    "policy.mx",
]
SelectorCheck = Callable[[Context, Domain, str], Verdict]
DomainCheck = Callable[[Context, Domain], Verdict]

# A check's family is its pytest marker (-m dkim); the text is what `pytest --markers` says.
FAMILIES: dict[str, str] = {
    "dkim": "DKIM selector and key checks",
    "spf": "SPF record checks",
    "dmarc": "DMARC record checks",
    "mx": "MX record checks (inbound mail)",
}

# The README table's "per" column for each scope.
PER: dict[Scope, str] = {"selector": "domain × selector", "domain": "domain"}


def _every_domain(domain: Domain) -> bool:
    return True


def _sends(domain: Domain) -> bool:
    """What users send from: not an accepted domain with SendingFromDomainDisabled, nor the
    hybrid coexistence domain (checks.exo.not_audited says so in dkim_enabled)."""
    return domain.can_send


def _has_selector_cnames(domain: Domain) -> bool:
    """The tenant's initial domain is signed without CNAMEs, so it has none to check."""
    return domain.can_send and not exo.is_initial_domain(domain.name)


def _not_coexistence(domain: Domain) -> bool:
    """The coexistence domain is Microsoft's, for routing only: nothing of it is checked."""
    return not domain.coexistence


@dataclass(frozen=True)
class Check:
    id: str  # the results' "check", waivers' check:, test_<id> in tests/
    scope: Scope  # one verdict per selector of a domain, or one per domain
    family: str  # its pytest marker and test module, tests/test_<family>.py
    function: SelectorCheck | DomainCheck
    holds_when: str  # README's "What is checked" text (Markdown)
    applies: Callable[[Domain], bool] = _every_domain
    inputs: tuple[Input, ...] = ()  # what of the inventory its verdict depends on
    gate: bool = False  # the enable gate (dkimwatch gate, pytest --gate) decides on it

    @property
    def test_module(self) -> str:
        return f"tests/test_{self.family}.py"


def per_selector(
    id: str,
    family: str,
    function: SelectorCheck,
    holds_when: str,
    applies: Callable[[Domain], bool] = _every_domain,
    *,
    inputs: tuple[Input, ...] = (),
    gate: bool = False,
) -> Check:
    return Check(id, "selector", family, function, holds_when, applies, inputs, gate)


def per_domain(
    id: str,
    family: str,
    function: DomainCheck,
    holds_when: str,
    applies: Callable[[Domain], bool] = _every_domain,
    *,
    inputs: tuple[Input, ...] = (),
    gate: bool = False,
) -> Check:
    return Check(id, "domain", family, function, holds_when, applies, inputs, gate)


# A DKIM check reads the domain's DKIM entry, and judges a CNAME's tenant and a key's size.
_DKIM: tuple[Input, ...] = ("entry.dkim", "tenant", "policy.min_key_bits", "enabled")

# In the order verdicts are listed (cases, the report's matrix, README's table).
# fmt: off
CHECKS: tuple[Check, ...] = (
    per_selector("dkim_cname", "dkim", check_dkim_cname, "`<selector>._domainkey.<domain>` is a CNAME to the expected target (or, with none given, a plausible Exchange Online target of the tenant, classic `…onmicrosoft.com` or `…<letter>-v1.dkim.mail.microsoft`); reaching it through a chain of CNAMEs in your own zone passes with a warning (receivers follow chains, Microsoft's enable pre-check and `Status` may not)", applies=_has_selector_cnames, inputs=_DKIM, gate=True),  # noqa: E501
    per_selector("dkim_target", "dkim", check_dkim_target, "the selector, CNAMEs followed, answers with a TXT record; missing is a failure for the active selector and expected (xfail) for the inactive one. Without rotation data a selector is presumed inactive when the other has a usable key (not revoked); when neither has one, both fail, as dkimwatch cannot tell which signs", applies=_sends, inputs=_DKIM, gate=True),  # noqa: E501
    per_selector("dkim_key", "dkim", check_dkim_key, "that TXT is one valid DKIM key: tag-list syntax, `v=DKIM1`, `k`, a non-empty `p` that decodes, RSA ≥ `min_key_bits` (warning below 2048), `h` not sha1-only, `s` allows email. A revoked key (empty `p=`, RFC 6376 §3.6.1) fails on the selector that signs and is expected (xfail) on the other: a retired key", applies=_sends, inputs=_DKIM, gate=True),  # noqa: E501
    per_domain("dkim_rotation", "dkim", check_dkim_rotation, "the selector that signs now (`selector_after_rotate` once `rotate_on` has passed) has its CNAME right and a valid key", applies=_sends, inputs=_DKIM, gate=True),  # noqa: E501
    per_domain("dkim_enabled", "dkim", check_dkim_enabled, "Exchange Online has a DKIM signing config for the domain and it is enabled (from the `Get-DkimSigningConfig` export in `sources:`, else an entry's `enabled:`; skipped, with the reason, without either)", inputs=("entry.exo", "enabled")),  # noqa: E501
    per_domain("spf", "spf", check_spf, "exactly one valid `v=spf1` record, ≤ 10 DNS-querying terms and ≤ 2 void lookups through includes and redirects, the required include reachable, no `+all`", applies=_sends, inputs=("policy.spf_require_include",)),  # noqa: E501
    per_domain("dmarc", "dmarc", check_dmarc, "exactly one valid `v=DMARC1` record (or the organisational domain's), policy ≥ `dmarc_min_policy` as receivers apply it (`t=y` and `pct` below 100 weaken it), external report destinations authorised; upper-case tag names (`V=DMARC1`, `P=reject`) warn, since some receivers read tag names case-sensitively", applies=_not_coexistence, inputs=("policy.dmarc_min_policy",)),  # noqa: E501
    per_domain("mx", "mx", check_mx, "`policy.mx: any` (default): at least one MX whose host has an address, or a null MX (RFC 7505) for a domain that takes no mail; a gateway in front of Exchange Online passes. `exchange_online`: the preferred MX is Exchange Online's, `<domain-label>.mail.protection.outlook.com` or `<token>.<letter>-v1.mx.microsoft` ([docs/exchange-online.md](docs/exchange-online.md#mx)). `off`: skipped", applies=_not_coexistence, inputs=("policy.mx",)),  # noqa: E501
)
# fmt: on

IDS: tuple[str, ...] = tuple(c.id for c in CHECKS)
BY_ID: dict[str, Check] = {c.id: c for c in CHECKS}
SELECTOR_IDS: tuple[str, ...] = tuple(c.id for c in CHECKS if c.scope == "selector")
DOMAIN_IDS: tuple[str, ...] = tuple(c.id for c in CHECKS if c.scope == "domain")
GATE: tuple[Check, ...] = tuple(c for c in CHECKS if c.gate)
GATE_IDS: tuple[str, ...] = tuple(c.id for c in GATE)

# The order in which pytest runs tests/: its files by name, each file's tests as written
# (selftests/unit/test_registry.py holds tests/ to that). It only decides which verdicts the
# helper produces first, never which it produces.
SUITE_ORDER: tuple[str, ...] = tuple(c.id for c in sorted(CHECKS, key=lambda c: c.test_module))


def cases(domain: Domain) -> list[tuple[str, str | None]]:
    """Every (check, selector) of one domain, in the stable order of the suite."""
    out: list[tuple[str, str | None]] = []
    for check in CHECKS:
        if not check.applies(domain):
            continue
        if check.scope == "selector":
            out.extend((check.id, s) for s in domain.selectors)
        else:
            out.append((check.id, None))
    return out


def gate_cases(domain: Domain) -> list[tuple[str, str | None]]:
    """The (check, selector) the enable gate judges: its per-selector checks for each
    selector, then its per-domain ones, whatever ``applies`` says (the gate itself refuses
    the initial domain, which has no CNAMEs)."""
    per_selector = [(c.id, s) for c in GATE if c.scope == "selector" for s in domain.selectors]
    return [*per_selector, *((c.id, None) for c in GATE if c.scope == "domain")]


def tests_per_domain(domain: Domain) -> int:
    """How many tests (verdicts) one domain gets."""
    return len(cases(domain))


def evaluate(ctx: Context, check: str, domain: Domain, selector: str | None = None) -> Verdict:
    found = BY_ID[check]
    if found.scope == "selector":
        if selector is None:
            raise ValueError(f"{check} needs a selector")
        return cast(SelectorCheck, found.function)(ctx, domain, selector)
    return cast(DomainCheck, found.function)(ctx, domain)


def readme_table() -> list[str]:
    """README's "What is checked" table, as it must read."""
    rows = ["| check | per | holds when |", "|---|---|---|"]
    rows.extend(f"| `{c.id}` | {PER[c.scope]} | {c.holds_when} |" for c in CHECKS)
    return rows


def marker_lines() -> list[str]:
    """The ini "markers" lines of the families."""
    return [f"{family}: {about}" for family, about in FAMILIES.items()]
