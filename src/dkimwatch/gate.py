"""The enable gate: may `Set-DkimSigningConfig -Identity D -Enabled $true` be run now?

Enabling is safe only when mail signed afterwards verifies: both selector CNAMEs resolve to
Exchange Online's targets (Exchange Online refuses to enable otherwise, and the other
selector signs after the next rotation), and the selector that signs once DKIM is enabled
has a valid key behind its CNAME (without it receivers reject every signature as
"DKIM invalid key"). The gate runs the suite's own DKIM checks (those the registry marks
``gate``) on the domain as it will be once enabled, through the resolvers and, with
``authoritative``, at the zones' own servers, and says either the command to run or what to
fix, and where.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dkimwatch import exo
from dkimwatch.checks import Context, Verdict, selector_name
from dkimwatch.checks.dkim import CNAME, KEY, TARGET
from dkimwatch.fixes import RecordFix, record_fixes, zone_line, zone_rdata
from dkimwatch.model import Domain, Inventory
from dkimwatch.names import to_alabel
from dkimwatch.records.taglist import clip
from dkimwatch.registry import evaluate, gate_cases
from dkimwatch.resolver import AuthoritativeClient, DnsClient, Evidence, Resolver
from dkimwatch.rotation import signing_selector

# What to look at in Exchange Online when a key only Microsoft can publish is missing or bad.
CONFIG_PROPERTIES = (
    "Enabled,Status,Selector1CNAME,Selector1KeySize,Selector1PublicKey,"
    "Selector2CNAME,Selector2KeySize,Selector2PublicKey,KeyCreationTime,RotateOnDate,"
    "SelectorBeforeRotateOnDate,SelectorAfterRotateOnDate"
)


class GateError(Exception):
    """The gate cannot be run as asked (one line)."""


def shown(text: str, limit: int = 4000) -> str:
    """DNS data (hostile) made safe for a terminal: control characters escaped visibly."""
    return clip(text, limit)


@dataclass
class GateReport:
    domain: Domain  # as judged: as it will be once DKIM is enabled
    entry: Domain  # the inventory's entry (its `enabled` as the inventory says)
    inventory: Path
    resolvers: str  # whom the gate asked, as shown on its first lines
    signer: tuple[str, str] | None  # (selector, why) from the rotation data
    views: dict[str, list[Verdict]] = field(default_factory=dict)  # view name -> verdicts
    fixes: list[RecordFix] = field(default_factory=list)  # the DNS changes, from the verdicts

    @property
    def deciding(self) -> list[Verdict]:
        """The verdicts the decision rests on: the authoritative view when there is one."""
        return self.views.get("authoritative") or self.views["resolvers"]

    def verdict(self, check: str, selector: str | None = None) -> Verdict | None:
        return next((v for v in self.deciding if v.check == check and v.selector == selector), None)

    def _passed(self, check: str, selector: str) -> bool:
        v = self.verdict(check, selector)
        return v is not None and v.outcome == "passed"

    @property
    def required(self) -> tuple[str, ...]:
        """The selectors one of which must have its CNAME right and a valid key: the one
        that signs, or, without rotation data, any of them."""
        return (self.signer[0],) if self.signer else self.domain.selectors

    @property
    def keyed(self) -> list[str]:
        """The required selectors whose CNAME is right and whose key is valid."""
        return [s for s in self.required if self._passed(CNAME, s) and self._passed(KEY, s)]

    @property
    def key_trouble(self) -> list[str]:
        """Required selectors whose CNAME is right but whose key is missing or unusable:
        only Microsoft can publish that key."""
        if self.keyed:
            return []
        return [s for s in self.required if self._passed(CNAME, s)]

    @property
    def ready(self) -> bool | None:
        """True: safe to enable; False: something is missing or wrong; None: DNS did not
        answer, so it could not be verified."""
        verdicts = self.deciding
        if any(v.outcome == "error" for v in verdicts):
            return None
        if any(v.outcome == "failed" for v in verdicts):
            return False
        return bool(self.keyed)


def _alabel(name: str) -> str:
    try:
        return to_alabel(name)
    except ValueError as exc:
        raise GateError(f"{name!r} is not a valid domain name: {exc}") from None


def _listed(inventory: Inventory, alabel: str) -> Domain | None:
    return next((d for d in inventory.domains if d.name == alabel), None)


def inventory_holding(inventories: Sequence[Inventory], name: str) -> Inventory:
    """The inventory of ``inventories`` that lists ``name``: the one whose tenant, policy
    and entry the gate judges it by (inventory.load_inventories lets no domain be in two)."""
    if len(inventories) == 1:
        _inventory_entry(inventories[0], name)  # not listed: the one inventory's message
        return inventories[0]
    alabel = _alabel(name)
    for inventory in inventories:
        if _listed(inventory, alabel) is not None:
            return inventory
    paths = ", ".join(str(inv.path) for inv in inventories)
    raise GateError(
        f"{shown(name, 253)} is in none of {paths}: add it to its tenant's inventory (with "
        "selector1_cname and selector2_cname from Get-DkimSigningConfig), or name the "
        "inventory that lists it (--domains)"
    )


def _inventory_entry(inventory: Inventory, name: str) -> Domain:
    entry = _listed(inventory, _alabel(name))
    if entry is not None:
        return entry
    # Judging an unknown domain against the inventory's tenant would call the CNAMEs of
    # another tenant's domain wrong and advise deleting them.
    raise GateError(
        f"{shown(name, 253)} is not in {inventory.path}: add it there (with selector1_cname "
        "and selector2_cname from Get-DkimSigningConfig), or name the inventory that lists it "
        "(--domains)"
    )


def gate_domain(inventory: Inventory, name: str) -> Domain:
    """The inventory's entry for ``name`` as it will be once DKIM is enabled: what the gate
    (and ``pytest --gate``) judges. An entry saying ``enabled: false`` would make the
    checks expect no key at all; once enabled, the signing selector needs one."""
    entry = _inventory_entry(inventory, name)
    if entry.enabled is False:
        return dataclasses.replace(entry, enabled=None)
    return entry


def run_gate(
    inventory: Inventory,
    name: str,
    resolvers: list[str],
    now: datetime,
    *,
    authoritative: bool = False,
    authoritative_port: int = 53,
    resolvers_note: str = "",
) -> GateReport:
    entry = _inventory_entry(inventory, name)
    domain = gate_domain(inventory, name)
    if exo.is_initial_domain(domain.name):
        raise GateError(
            f"{domain.name} is the tenant's initial domain: it needs no CNAMEs, DKIM can be "
            "enabled at any time"
        )
    asked = ", ".join(resolvers) + (f" ({resolvers_note})" if resolvers_note else "")
    if authoritative:
        asked += "; and each zone's own authoritative servers (found via NS through them)"
    report = GateReport(domain, entry, inventory.path, asked, signing_selector(domain, now))
    timeout, attempts = inventory.dns.timeout, inventory.dns.attempts
    views: list[tuple[str, Resolver]] = [
        ("resolvers", Resolver(DnsClient(resolvers, timeout, attempts)))
    ]
    if authoritative:
        client = AuthoritativeClient(views[0][1], timeout, attempts, port=authoritative_port)
        views.append(("authoritative", Resolver(client)))
    for view, resolver in views:
        ctx = Context(resolver=resolver, policy=inventory.policy, tenant=inventory.tenant, now=now)
        verdicts: list[Verdict] = []
        for check, selector in gate_cases(domain):
            verdicts.append(evaluate(ctx, check, domain, selector))
            if verdicts[-1].outcome == "error":
                # The answer is "DNS did not answer" already; each further question to a
                # dead server would only wait out its timeout.
                break
        report.views[view] = verdicts
    report.fixes = record_fixes(
        f for v in report.deciding if v.outcome == "failed" for f in v.fixes
    )
    return report


def _found(verdict: Verdict, qname: str, rtype: str) -> list[str]:
    """The values of the ``rtype`` records at ``qname`` in the verdict's evidence (the
    first server that answered with any), as the server sent them."""
    name = qname.rstrip(".").lower()
    for e in verdict.evidence:
        if e.qname.rstrip(".").lower() != name or e.rdtype != rtype:
            continue
        values = []
        for line in e.answers:
            parts = line.split(" ", 3)  # "owner ttl TYPE rdata"
            if len(parts) == 4 and parts[2] == rtype and parts[0].rstrip(".").lower() == name:
                values.append(parts[3].rstrip(".") if rtype == "CNAME" else parts[3])
        if values:
            return list(dict.fromkeys(values))
    return []


MARKS = {"passed": "ok  ", "failed": "FAIL", "error": "DNS?", "xfailed": "n/a ", "skipped": "n/a "}


def _evidence_line(e: Evidence) -> str:
    answers = "; ".join(e.answers) if e.answers else "(no records)"
    return shown(f"{e.qname} {e.rdtype} @{e.server}: {e.rcode} {answers}", 600)


def _signer_line(report: GateReport) -> str:
    if report.signer:
        selector, why = report.signer
        return f"signing selector: {selector} ({why})"
    return (
        f"signing selector: unknown: {report.inventory} has no rotation data for "
        f"{report.domain.name} (rotate_on, selector_before_rotate, selector_after_rotate), "
        "so at least one selector must have its CNAME right and a valid key (Microsoft "
        "publishes only the key of the selector that signs)"
    )


def _key_problems(report: GateReport, trouble: list[str]) -> list[Verdict]:
    """Per selector in trouble, the verdict that says what is wrong with its key."""
    problems: list[Verdict] = []
    for s in trouble:
        for check in (TARGET, KEY):
            v = report.verdict(check, s)
            if v is not None and v.outcome == "failed":
                problems.append(v)
                break
        else:
            v = report.verdict(TARGET, s)
            if v is not None:
                problems.append(v)
    return problems


def _support_facts(report: GateReport, problems: list[Verdict]) -> list[str]:
    """What a Microsoft support case needs: domain, selector, target, DNS evidence."""
    d = report.domain
    lines: list[str] = []
    lines.append(f"       domain: {d.name}")
    for v in problems:
        s = v.selector or ""
        qname = selector_name(d, s)
        cname = report.verdict(CNAME, s)
        targets = _found(cname, qname, "CNAME") if cname else []
        target = shown(targets[0]) if targets else d.target_for(s) or "(see evidence)"
        lines.append(f"       selector: {s}, target: {target}")
        lines.append("       evidence:")
        # The exchanges about this selector's name (a check also asks about the others).
        exchanges = [*(cname.evidence if cname else ()), *v.evidence]
        mine = dict.fromkeys(e for e in exchanges if e.qname.rstrip(".").lower() == qname)
        lines.extend(f"         {_evidence_line(e)}" for e in mine)
    return lines


def _key_block(report: GateReport) -> list[str]:
    """What to do about a key only Microsoft can publish."""
    d, entry = report.domain, report.entry
    trouble = report.key_trouble
    lines: list[str] = []
    problems = _key_problems(report, trouble)
    if report.signer:
        lines.append(
            f"{trouble[0]} signs once DKIM is enabled and its CNAME is right, but it has no "
            "valid key: receivers would reject its signatures ('DKIM invalid key')."
        )
    else:
        lines.append(
            f"No selector has its CNAME right and a valid key ({', '.join(trouble)}: CNAME "
            "right, no valid key): whichever signs, receivers would reject its signatures "
            "('DKIM invalid key')."
        )
    lines.extend(f"  {v.selector}: {shown(v.message)}" for v in problems)
    lines.append(
        "Only Microsoft can publish "
        + ("this key" if len(trouble) == 1 else "these keys")
        + " (behind the CNAME, in its own zone)."
    )
    if entry.enabled is not True:
        said = (
            f"DKIM signing is disabled for {d.name} in {report.inventory}"
            if entry.enabled is False
            else f"{report.inventory} does not say whether DKIM signing is enabled for {d.name}"
        )
        lines.append(
            f"{said}. While it is disabled, Microsoft may publish no key behind the CNAME (an "
            "empty TXT), so a key may appear only once DKIM is enabled; but the gate cannot "
            "verify a key that is not published, and enabling without one is what makes "
            "receivers reject mail."
        )
    lines.append("Next steps:")
    lines.append(f"  1. Get-DkimSigningConfig -Identity {d.display} | fl {CONFIG_PROPERTIES}")
    lines.append(
        "     Status should be Valid (CnameMissing: Exchange Online has not seen the CNAMEs "
        "yet, which can take from minutes to 4 days; NoDKIMKeys: it has no keys for the "
        "domain); SelectorBeforeRotateOnDate/SelectorAfterRotateOnDate and RotateOnDate say "
        "which selector signs, and its SelectorNPublicKey is the key that should be published"
    )
    if entry.enabled is True:
        lines.append(
            f"  2. Rotate-DkimSigningConfig -Identity {d.display}: Microsoft makes a new key, "
            "which signs after about 96 hours, at RotateOnDate (possible when Enabled and "
            "Status is Valid or CnameMissing, and no rotation is in progress)"
        )
    else:
        lines.append(
            f"  2. Rotate-DkimSigningConfig -Identity {d.display} works only once DKIM is "
            "enabled (and Status is Valid or CnameMissing): not a way to get the key before"
        )
    lines.append("  3. Open a Microsoft support case with these facts:")
    lines.extend(_support_facts(report, problems))
    return lines


def render(report: GateReport) -> str:
    d = report.domain
    lines: list[str] = [
        f"inventory: {report.inventory}",
        f"resolvers: {shown(report.resolvers)}",
        _signer_line(report),
    ]
    if report.entry.enabled is not True:
        said = "enabled: false" if report.entry.enabled is False else "no 'enabled'"
        lines.append(
            f"judged as it will be once DKIM is enabled (the inventory says {said}): "
            "'signs now' below means 'signs once enabled'"
        )
    for view, verdicts in report.views.items():
        servers = sorted({e.server for v in verdicts for e in v.evidence})
        asked = f" (asked {', '.join(servers)})" if servers else ""
        lines.append(f"as seen by the {view}:{asked}")
        for v in verdicts:
            mark = MARKS.get(v.outcome, v.outcome)
            where = selector_name(d, v.selector) if v.selector else d.name
            lines.append(f"  {mark} {v.check:<13} {where}: {shown(v.message)}")
            lines.extend(f"       warning: {shown(w)}" for w in v.warnings)
    ready = report.ready
    if ready:
        if "authoritative" in report.views and any(
            v.outcome != "passed" for v in report.views["resolvers"] if v.check == CNAME
        ):
            lines.append(
                "note: the authoritative servers have the records, but your resolvers do not "
                "see them yet (a cached negative answer expires after the zone's SOA minimum TTL)"
            )
        keyed = report.keyed
        who = (
            f"{keyed[0]}, the selector that signs, has a valid key"
            if report.signer
            else f"{', '.join(keyed)} {'has' if len(keyed) == 1 else 'have'} a valid key "
            "(no rotation data: Microsoft publishes only the signing selector's key)"
        )
        lines.append(f"{d.name}: both CNAMEs are in place and {who}. Enable DKIM signing with:")
        lines.append(f"  Set-DkimSigningConfig -Identity {d.display} -Enabled $true")
        return "\n".join(lines)
    if ready is None:
        lines.append(
            f"{d.name}: NOT ready: DNS did not answer, so the records could not be verified; "
            "try again or ask other resolvers (--nameserver, --authoritative)"
        )
        return "\n".join(lines)
    lines.append(f"{d.name}: NOT ready to enable DKIM signing.")
    if report.fixes:
        lines.extend(_fix_table(report))
    if report.key_trouble:
        lines.extend(_key_block(report))
    elif not report.fixes:
        lines.append("Fix what the FAIL lines above say.")
    lines.append(
        f"Then run: dkimwatch gate {d.display}  (and, once it passes, Set-DkimSigningConfig)"
    )
    return "\n".join(lines)


def _fix_table(report: GateReport) -> list[str]:
    """The verdicts' DNS changes as the provider's form asks for them: the records to
    delete (a replace deletes what it replaces), those to create, and the zone-file lines."""
    d = report.domain
    lines = [f"At the DNS provider of {d.name}:"]
    deletes = [
        (f.host, f.rtype, f.value if f.action == "delete" else f.found, f.ttl)
        for f in report.fixes
        if f.action != "create"
    ]
    publish = [f for f in report.fixes if f.action != "delete"]
    creates = [(f.host, f.rtype, f.value, f.ttl) for f in publish]
    for title, rows in (("Delete", deletes), ("Create", creates)):
        if not rows:
            continue
        width = max(len(host) for host, *_ in rows)
        lines.append(f"{title}:")
        lines.append(f"  {'Host name'.ljust(width)}  Type   Value  (TTL)")
        for host, rtype, value, ttl in rows:
            shown_value = "(any value)" if value is None else _cell(rtype, value)
            lines.append(f"  {host.ljust(width)}  {rtype.ljust(5)}  {shown_value}  ({ttl})")
    if publish:
        lines.append("As zone-file lines:")
        lines.extend(f"  {shown(zone_line(f))}" for f in publish)
    if publish and not d.targets:
        lines.append(
            f"Check each value against Get-DkimSigningConfig -Identity {d.display} | "
            "fl Selector1CNAME,Selector2CNAME (new domains may use ...dkim.mail.microsoft)"
        )
    return lines


def _cell(rtype: str, value: str) -> str:
    """A value in the table: a TXT quoted and escaped as in a zone file, names as DNS
    gave them; control characters escaped either way."""
    return shown(zone_rdata(rtype, value) if rtype == "TXT" else value, 120)
