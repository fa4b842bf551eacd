"""The enable gate: may `Set-DkimSigningConfig -Identity D -Enabled $true` be run now?

Exchange Online refuses to enable DKIM until both selector CNAMEs resolve to its targets,
and a negative answer cached by a resolver can hide a record that is already published.
The gate judges both CNAMEs with the same check as the suite (``dkim_cname``), through the
resolvers and, with ``authoritative``, at the domain's own authoritative servers, and says
either the command to run or the exact records to create.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dkimwatch import exo
from dkimwatch.checks import Context, Verdict, check_dkim_cname, selector_name
from dkimwatch.model import Domain, Inventory, to_alabel
from dkimwatch.resolver import AuthoritativeClient, DnsClient, Resolver

GATE_CHECKS = ("dkim_cname",)


class GateError(Exception):
    """The gate cannot be run as asked (one line)."""


@dataclass(frozen=True)
class RecordFix:
    """A DNS record to create or delete, in the forms DNS providers and zone files use."""

    action: str  # "create" | "delete"
    host: str  # relative to the domain, as providers ask for it: selector1._domainkey
    fqdn: str
    rtype: str
    value: str
    ttl: int = 3600

    def zone_line(self) -> str:
        value = f"{self.value}." if self.rtype == "CNAME" else self.value
        return f"{self.fqdn}. {self.ttl} IN {self.rtype} {value}"


@dataclass
class GateReport:
    domain: Domain
    views: dict[str, list[Verdict]] = field(default_factory=dict)  # view name -> verdicts
    fixes: list[RecordFix] = field(default_factory=list)

    @property
    def deciding(self) -> list[Verdict]:
        """The verdicts the decision rests on: the authoritative view when there is one."""
        return self.views.get("authoritative") or self.views["resolvers"]

    @property
    def ready(self) -> bool | None:
        """True: safe to enable; False: records missing or wrong; None: DNS did not answer."""
        verdicts = self.deciding
        if any(v.outcome == "error" for v in verdicts):
            return None
        return all(v.outcome == "passed" for v in verdicts)


def gate_domain(inventory: Inventory, name: str) -> Domain:
    """The inventory's entry for ``name``, or a bare entry when the tenant is known."""
    try:
        alabel = to_alabel(name)
    except ValueError as exc:
        raise GateError(f"{name!r} is not a valid domain name: {exc}") from None
    for d in inventory.domains:
        if d.name == alabel:
            return d
    if inventory.tenant is None:
        raise GateError(
            f"{name} is not in {inventory.path} and the inventory names no tenant: add the "
            "domain (with selector1_cname/selector2_cname from Get-DkimSigningConfig) or "
            "'tenant:'"
        )
    return Domain(name=alabel, display=name)


def run_gate(
    inventory: Inventory,
    name: str,
    resolvers: list[str],
    now: datetime,
    *,
    authoritative: bool = False,
    authoritative_port: int = 53,
) -> GateReport:
    domain = gate_domain(inventory, name)
    if exo.is_initial_domain(domain.name):
        raise GateError(
            f"{domain.name} is the tenant's initial domain: it needs no CNAMEs, DKIM can be "
            "enabled at any time"
        )
    timeout, attempts = inventory.dns.timeout, inventory.dns.attempts
    report = GateReport(domain)
    views: list[tuple[str, Resolver]] = [
        ("resolvers", Resolver(DnsClient(resolvers, timeout, attempts)))
    ]
    if authoritative:
        client = AuthoritativeClient(views[0][1], timeout, attempts, port=authoritative_port)
        views.append(("authoritative", Resolver(client)))
    for view, resolver in views:
        ctx = Context(resolver=resolver, policy=inventory.policy, tenant=inventory.tenant, now=now)
        report.views[view] = [check_dkim_cname(ctx, domain, s) for s in domain.selectors]
    report.fixes = _fixes(inventory, domain, report.deciding)
    return report


def _fixes(inventory: Inventory, domain: Domain, verdicts: list[Verdict]) -> list[RecordFix]:
    out: list[RecordFix] = []
    for verdict in verdicts:
        if verdict.outcome != "failed" or verdict.selector is None:
            continue
        selector = verdict.selector
        fqdn = selector_name(domain, selector)
        host = f"{selector}._domainkey"
        found = verdict.details.get("found_instead")
        if found == "appended_twice":
            doubled = f"{fqdn}.{domain.name}"
            out.append(
                RecordFix("delete", f"{host}.{domain.name}", doubled, "CNAME", "(any value)")
            )
        elif found == "txt":
            out.append(RecordFix("delete", host, fqdn, "TXT", "(the copied key)"))
        elif found == "a":
            out.append(RecordFix("delete", host, fqdn, "A", "(proxied/flattened addresses)"))
        elif found == "other_cname":
            out.append(RecordFix("delete", host, fqdn, "CNAME", "(the wrong target)"))
        target = domain.target_for(selector)
        if target is None:
            if inventory.tenant is None:
                continue
            target = exo.classic_target(selector, domain.name, inventory.tenant)
        out.append(RecordFix("create", host, fqdn, "CNAME", target))
    return out


def render(report: GateReport) -> str:
    d = report.domain
    lines: list[str] = []
    for view, verdicts in report.views.items():
        lines.append(f"as seen by the {view}:")
        for v in verdicts:
            mark = {"passed": "ok  ", "failed": "FAIL", "error": "DNS?"}.get(v.outcome, v.outcome)
            lines.append(f"  {mark} {selector_name(d, v.selector or '')}: {v.message}")
            servers = sorted({e.server for e in v.evidence})
            if servers:
                lines.append(f"       asked {', '.join(servers)}")
    ready = report.ready
    if ready:
        if "authoritative" in report.views and any(
            v.outcome != "passed" for v in report.views["resolvers"]
        ):
            lines.append(
                "note: the authoritative servers have the records, but your resolvers do not "
                "see them yet (a cached negative answer expires after the zone's SOA minimum TTL)"
            )
        lines.append(f"{d.name}: both CNAMEs are in place. Enable DKIM signing with:")
        lines.append(f"  Set-DkimSigningConfig -Identity {d.display} -Enabled $true")
        return "\n".join(lines)
    if ready is None:
        lines.append(
            f"{d.name}: NOT ready: DNS did not answer, so the CNAMEs could not be verified; "
            "try again or ask other resolvers (--nameserver, --authoritative)"
        )
        return "\n".join(lines)
    lines.append(f"{d.name}: NOT ready to enable DKIM signing. At the DNS provider of {d.name}:")
    deletes = [f for f in report.fixes if f.action == "delete"]
    creates = [f for f in report.fixes if f.action == "create"]
    for title, fixes in (("Delete", deletes), ("Create", creates)):
        if not fixes:
            continue
        width = max(len(f.host) for f in fixes)
        lines.append(f"{title}:")
        lines.append(f"  {'Host name'.ljust(width)}  Type   Value  (TTL)")
        for f in fixes:
            lines.append(f"  {f.host.ljust(width)}  {f.rtype.ljust(5)}  {f.value}  ({f.ttl})")
    if creates:
        lines.append("As zone-file lines:")
        lines.extend(f"  {f.zone_line()}" for f in creates)
    if creates and not d.targets:
        lines.append(
            f"Check each value against Get-DkimSigningConfig -Identity {d.display} | "
            "fl Selector1CNAME,Selector2CNAME (new domains may use ...dkim.mail.microsoft)"
        )
    lines.append(
        f"Then run: dkimwatch gate {d.display}  (and, once it passes, Set-DkimSigningConfig)"
    )
    return "\n".join(lines)
