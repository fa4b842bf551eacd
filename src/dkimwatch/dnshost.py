"""Who hosts a zone: the zone that holds a name (an SOA walk through the run's resolver) and
the DNS host recognised from the zone's NS names, so a fix can be shown in that host's
language.

Every lookup goes through the run's ``Resolver``, so its evidence is kept like every other
answer. A host is named only when every NS name of the zone matches that host's documented
pattern (docs/dns-hosts.md); no NS answer, a DNS error, NS names of several hosts or of none
we know give the generic host, with a note saying why: never a guess presented as fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dkimwatch.names import normalise, registrable_domain
from dkimwatch.resolver import Evidence, Status

if TYPE_CHECKING:
    from dkimwatch.resolver import Resolver


@dataclass(frozen=True)
class DnsHost:
    key: str  # azure, route53, cloudflare, google, godaddy, generic
    name: str  # as people call it
    fix_format: str  # the fix format shown first for zones it hosts (dkimwatch.fixformats)
    pattern: re.Pattern[str] | None = None  # an NS name of this host, lower case, no dot


HOSTS = (
    DnsHost(
        "azure",
        "Azure DNS",
        "azure-cli",
        re.compile(r"ns[1-4]-\d{2}\.azure-dns\.(?:com|net|org|info)"),
    ),
    DnsHost(
        "route53",
        "Amazon Route 53",
        "route53",
        re.compile(r"ns-\d{1,4}\.awsdns-\d{2}\.(?:com|net|org|co\.uk)"),
    ),
    DnsHost(
        "cloudflare",
        "Cloudflare",
        "terraform-cloudflare",
        re.compile(r"[a-z]+\.ns\.cloudflare\.com"),
    ),
    DnsHost(
        "google",
        "Google Cloud DNS",
        "zone",
        re.compile(r"ns-cloud-[a-z]\d\.googledomains\.com"),
    ),
    DnsHost("godaddy", "GoDaddy", "zone", re.compile(r"ns\d{2}\.domaincontrol\.com")),
)
GENERIC = DnsHost("generic", "generic DNS host", "nsupdate")


def recognise(nameservers: tuple[str, ...]) -> tuple[DnsHost, str]:
    """(host, note) for a zone's NS names; the generic host unless all of them match one."""
    names = tuple(normalise(n) for n in nameservers)
    if not names:
        return GENERIC, "no NS names to recognise a host by"
    matched = {
        h.key: h for n in names for h in HOSTS if h.pattern is not None and h.pattern.fullmatch(n)
    }
    unmatched = [n for n in names if not any(h.pattern and h.pattern.fullmatch(n) for h in HOSTS)]
    if len(matched) == 1 and not unmatched:
        host = next(iter(matched.values()))
        return host, f"NS {', '.join(names)}: {host.name}"
    if matched:
        return GENERIC, (
            f"NS {', '.join(names)} are not all of one host "
            f"({', '.join(h.name for h in matched.values())} and others)"
        )
    return GENERIC, f"NS {', '.join(names)}: no host dkimwatch recognises"


@dataclass(frozen=True)
class ZoneHost:
    """The zone holding a name and its host, with the lookups that said so."""

    name: str
    zone: str | None  # None: not found (DNS error, nothing answered)
    host: DnsHost
    nameservers: tuple[str, ...]
    note: str
    evidence: tuple[Evidence, ...] = ()

    @property
    def known(self) -> bool:
        return self.host is not GENERIC


def _floor(name: str) -> str:
    """The highest name the walk may reach: the registrable domain (never a public suffix
    such as com or co.uk, which is no customer's zone)."""
    return registrable_domain(name) or name


def find_zone(resolver: Resolver, name: str) -> ZoneHost:
    """The zone holding ``name`` and who hosts it, asked through ``resolver``.

    Walks from ``name`` towards the registrable domain; the first name with an SOA of its
    own (not reached through a CNAME) is the zone apex. Then the zone's NS names."""
    name = normalise(name)
    floor = _floor(name)
    evidence: list[Evidence] = []
    labels = name.split(".")
    zone: str | None = None
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        soa = resolver.lookup(candidate, "SOA")
        evidence.extend(soa.evidence)
        if soa.chain:
            pass  # a CNAME here: the name exists in the zone above, whatever its target says
        elif soa.status is Status.TEMPERROR:
            return ZoneHost(
                name,
                None,
                GENERIC,
                (),
                f"zone of {name} not found: {soa.describe()}",
                tuple(evidence),
            )
        elif soa.ok:
            zone = candidate
            break
        if candidate == floor:
            break
    if zone is None:
        return ZoneHost(
            name,
            None,
            GENERIC,
            (),
            f"no SOA at {name} or above it up to {floor}",
            tuple(evidence),
        )
    ns = resolver.lookup(zone, "NS")
    evidence.extend(ns.evidence)
    if not ns.ok or ns.chain:
        return ZoneHost(name, zone, GENERIC, (), f"NS of {zone}: {ns.describe()}", tuple(evidence))
    host, note = recognise(ns.records)
    return ZoneHost(
        name, zone, host, tuple(normalise(n) for n in ns.records), note, tuple(evidence)
    )
