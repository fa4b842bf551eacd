"""DMARC policy discovery: where receivers find the policy of a domain without its own
record, by the Public Suffix List (RFC 7489) and by the DNS tree walk (RFC 9989)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dkimwatch.checks.verdict import Probe
from dkimwatch.names import registrable_domain
from dkimwatch.records.dmarc import (
    DmarcRecord,
    is_dmarc_record,
    parse_dmarc,
    tree_walk_names,
    tree_walk_organisational_domain,
)
from dkimwatch.resolver import Answer, Status


def organisational_domain(name: str) -> str:
    """RFC 7489's Organizational Domain: the registrable domain by the Public Suffix List."""
    org = registrable_domain(name)
    return (org or name).lower()


def _within(name: str, ancestor: str) -> bool:
    return name == ancestor or name.endswith("." + ancestor)


@dataclass
class DmarcFind:
    """One place a policy record was looked for: ``records`` are the v=DMARC1 TXTs there."""

    domain: str
    answer: Answer
    records: list[str]


def find_dmarc(probe: Probe, name: str, evidence_if_answered: bool = False) -> DmarcFind:
    """``evidence_if_answered``: a question that only adds information (a public suffix's
    policy) joins the verdict's evidence only when DNS answered it, so a verdict never
    rests on, nor shows as its ground, a question that got no answer."""
    qname = f"_dmarc.{name}"
    if evidence_if_answered:
        answer = probe.resolver.lookup(qname, "TXT")
        if answer.status is not Status.TEMPERROR:
            probe.ask(qname, "TXT")
    else:
        answer = probe.ask(qname, "TXT")
    records = [r for r in answer.records if is_dmarc_record(r)] if answer.ok else []
    return DmarcFind(name, answer, records)


@dataclass
class Discovery:
    """Where each generation of receivers takes the policy for a domain without its own."""

    org: str  # RFC 7489: by the PSL
    rfc7489: str | None = None  # domain whose record applies, or None
    bis: str | None = None  # RFC 9989 tree walk
    bis_org: str | None = None
    records: dict[str, str] = field(default_factory=dict)  # domain → its one record
    note: str = ""


def discover_dmarc(probe: Probe, domain: str) -> Discovery | str:
    """Policy discovery for a domain with no record of its own (RFC 7489 §6.6.3, RFC 9989
    §4.10.1); a temperror as its message. DNS errors at public-suffix levels of the tree
    walk (above the PSL organisational domain) end the walk without failing the check: they
    can only add a PSO policy, which matters only when the domain has none of its own."""
    org = organisational_domain(domain)
    found = Discovery(org=org)
    if org != domain:
        at_org = find_dmarc(probe, org)
        if at_org.answer.status is Status.TEMPERROR:
            return at_org.answer.describe()
        if len(at_org.records) == 1:
            found.rfc7489 = org
            found.records[org] = at_org.records[0]
    walk: list[tuple[str, DmarcRecord]] = []
    for name in tree_walk_names(domain):
        step = find_dmarc(probe, name, evidence_if_answered=not _within(name, org))
        if step.answer.status is Status.TEMPERROR:
            if _within(name, org):
                return step.answer.describe()
            found.note = (
                f"the DMARCbis tree walk stopped at _dmarc.{name}: {step.answer.describe()}"
            )
            break
        if len(step.records) != 1:
            continue  # several records at one name are all discarded (RFC 9989 §4.10 step 6)
        record = parse_dmarc(step.records[0])
        found.records[name] = step.records[0]
        walk.append((name, record))
        if record.psd in ("y", "n"):
            break
    found.bis_org = tree_walk_organisational_domain(domain, walk)
    if found.bis_org in found.records:
        found.bis = found.bis_org
    else:  # the Public Suffix Domain's policy (psd=y) when the organisation has none
        found.bis = next((n for n, r in walk if r.psd == "y"), None)
    return found


def describe_discovery(d: Discovery) -> str:
    if d.rfc7489 and d.rfc7489 == d.bis:
        return (
            f"inherited from _dmarc.{d.rfc7489}: the organisational domain both by the Public "
            "Suffix List (RFC 7489) and by the DMARCbis DNS tree walk (RFC 9989)"
        )
    parts = [
        f"RFC 7489 receivers (Public Suffix List, organisational domain {d.org}) "
        + (f"apply _dmarc.{d.rfc7489}" if d.rfc7489 else "find no policy"),
        "RFC 9989 receivers (DNS tree walk"
        + (f", organisational domain {d.bis_org})" if d.bis_org else ")")
        + (f" apply _dmarc.{d.bis}" if d.bis else " find no policy"),
    ]
    return "; ".join(parts)
