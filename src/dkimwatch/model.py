"""The inventory's typed model: immutable values the checks judge and the loader builds.

Apart from the YAML loader (inventory.py), so that the checks and their registry can use
these types while the loader validates waivers against the registry's check ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

DEFAULT_SELECTORS: tuple[str, ...] = ("selector1", "selector2")


@dataclass(frozen=True)
class DnsSettings:
    nameservers: tuple[str, ...] = ("system",)
    zones: Path | None = None
    timeout: float = 2.0
    attempts: int = 3


@dataclass(frozen=True)
class Policy:
    min_key_bits: int = 1024
    spf_require_include: str | None = "spf.protection.outlook.com"
    dmarc_min_policy: str = "none"
    mx: str = "any"  # exchange_online | any | off (checks/mx.py)


@dataclass(frozen=True)
class Rotation:
    """When the signing selector changes: before ``rotate_on`` ``before`` signs, then ``after``."""

    rotate_on: datetime
    before: str
    after: str

    def active_selector(self, now: datetime) -> str:
        return self.after if now >= self.rotate_on else self.before


@dataclass(frozen=True)
class Domain:
    name: str  # A-label, lower case, no trailing dot: what is queried
    display: str  # as written by the user (U-label for IDNs)
    selectors: tuple[str, ...] = DEFAULT_SELECTORS
    targets: tuple[tuple[str, str], ...] = ()  # (selector, expected CNAME target)
    rotation: Rotation | None = None
    enabled: bool | None = None
    line: int = 0
    public_keys: tuple[tuple[str, str], ...] = ()  # (selector, key record) from an export
    status: str | None = None  # Get-DkimSigningConfig Status (Valid, CnameMissing, ...)
    source: str | None = None  # "<export>:<line>" when an export described this domain
    # What Get-DkimSigningConfig says: "enabled", "disabled", "unset" (no Enabled field),
    # "missing" (an export was given, this domain is not in it); None: no export given.
    exo_dkim: str | None = None
    sending_disabled: bool = False  # Get-AcceptedDomain SendingFromDomainDisabled
    coexistence: bool = False  # the hybrid coexistence domain (<tenant>.mail.onmicrosoft.com)

    @property
    def can_send(self) -> bool:
        return not self.sending_disabled and not self.coexistence

    def target_for(self, selector: str) -> str | None:
        return dict(self.targets).get(selector)

    def public_key_for(self, selector: str) -> str | None:
        return dict(self.public_keys).get(selector)


@dataclass(frozen=True)
class Waiver:
    domain: str
    check: str
    reason: str
    expires: date | None
    line: int = 0

    def active(self, today: date) -> bool:
        return self.expires is None or today <= self.expires


@dataclass(frozen=True)
class Inventory:
    path: Path
    sha256: str
    tenant: str | None = None
    sources: tuple[Path, ...] = ()
    dns: DnsSettings = field(default_factory=DnsSettings)
    policy: Policy = field(default_factory=Policy)
    domains: tuple[Domain, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    tenant_given: bool = False  # named by `tenant:` (else read from the exports, if at all)

    def domain(self, name: str) -> Domain:
        for d in self.domains:
            if d.name == name:
                return d
        raise KeyError(name)

    def waiver_for(self, domain: str, check: str) -> Waiver | None:
        for w in self.waivers:
            if w.domain == domain and w.check == check:
                return w
        return None
