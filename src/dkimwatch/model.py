"""The inventory's typed model: immutable values the checks judge and the loader builds.

Apart from the YAML loader (inventory.py), so that the checks and their registry can use
these types while the loader validates waivers against the registry's check ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import idna

DEFAULT_SELECTORS: tuple[str, ...] = ("selector1", "selector2")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SERVICE_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})$")  # _domainkey, _dmarc


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


def to_alabel(name: str, *, service_labels: bool = False) -> str:
    """Normalise a domain name to lower-case A-labels with no trailing dot (IDNA 2008, UTS 46).

    ``service_labels`` admits underscore labels such as ``_domainkey`` (record names, not hosts).
    """
    text = name.strip().rstrip(".")
    if not text:
        raise ValueError("empty name")
    if text.isascii():
        out = text.lower()
    else:
        try:
            out = idna.encode(text, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"not a valid internationalised name ({exc})") from None
    labels = out.split(".")
    pattern = _SERVICE_LABEL if service_labels else _LABEL
    for label in labels:
        if not pattern.match(label):
            if len(label.encode()) > 63:
                raise ValueError(f"label {label[:20]!r}… is longer than 63 bytes")
            raise ValueError(f"label {label!r} is not a valid host name label")
    if len(out) > 253:
        raise ValueError("name is longer than 253 bytes")
    if len(labels) < 2:
        raise ValueError("a mail domain needs at least two labels")
    return out


def parse_nameserver(text: str) -> str:
    """Validate ``HOST[:PORT]`` / ``[V6]:PORT`` and return it normalised as ``HOST:PORT``."""
    import ipaddress

    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"expected HOST:PORT with a numeric port, got {text!r}")
        port = int(port_text)
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"expected an IP address (optionally :PORT), got {text!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1..65535, got {port}")
    return f"[{addr}]:{port}" if addr.version == 6 else f"{addr}:{port}"
