"""The spf check: one valid SPF record, within RFC 7208's limits, that authorises
Exchange Online."""

from __future__ import annotations

from typing import Any

from dkimwatch.checks.spf_walk import (
    SPF_VOID_LIMIT,
    SpfTemp,
    SpfWalk,
    walk_spf,
)
from dkimwatch.checks.verdict import Builder, Context, Probe, Verdict, near_misses
from dkimwatch.fixes import Advice, Fix, RecordFix
from dkimwatch.model import Domain
from dkimwatch.records.spf import is_spf_record, parse_spf
from dkimwatch.records.taglist import clip
from dkimwatch.resolver import Answer, Status
from dkimwatch.standards import SPF_LOOKUP_LIMIT

# Exchange Online's include in the sovereign clouds (docs/exchange-online.md, "SPF, DMARC
# and MX"): a tenant there publishes these instead of the worldwide one.
EXO_SPF_INCLUDE = "spf.protection.outlook.com"
EXO_SOVEREIGN_SPF_INCLUDES = {
    "spf.protection.office365.us": "Microsoft 365 GCC High / DoD",
    "spf.protection.partner.outlook.cn": "Microsoft 365 operated by 21Vianet",
}


def _exo_include(walk: SpfWalk, required: str) -> tuple[str | None, str]:
    """(the include that satisfies ``required``, how), or (None, why not)."""
    if walk.reached.get(required):
        return required, ""
    if required == EXO_SPF_INCLUDE:
        for name, cloud in EXO_SOVEREIGN_SPF_INCLUDES.items():
            if walk.reached.get(name):
                return name, f"{name} ({cloud}), accepted as the equivalent of {required}"
    if required in walk.reached:
        return None, (
            f"{required} is included only behind a qualifier other than +, so it does not "
            "authorise Exchange Online's servers"
        )
    return None, f"{required} is not reachable through the include tree"


def check_spf(ctx: Context, domain: Domain) -> Verdict:
    probe = Probe(ctx.resolver)
    b = Builder("spf", domain, None, probe)
    answer = probe.ask(domain.name, "TXT")
    if answer.status is Status.TEMPERROR:
        return b.temperror(answer.describe())
    records = [r for r in answer.records if is_spf_record(r)] if answer.ok else []
    if len(records) != 1:
        return _not_one_record(ctx, b, answer, records)
    text = records[0]
    record = parse_spf(text)
    b.details["record"] = text
    shown = clip(text, 600)  # messages are one line: control characters escaped
    b.warnings.extend(record.warnings)
    if record.errors:
        return b.permerror(f'invalid SPF record "{shown}": {"; ".join(record.errors)}')
    walk = SpfWalk(sender=domain.name)
    try:
        tree = walk_spf(probe, walk, domain.name, text, None, True, ())
    except SpfTemp as exc:
        return b.temperror(f"SPF include tree could not be resolved: {exc}")
    b.details.update(
        tree=tree, lookups=walk.lookups, void_lookups=walk.voids, void_lookups_ipv6=walk.voids_v6
    )
    b.warnings.extend(walk.warnings)
    if len(text.encode()) > 450:
        b.warnings.append(
            f"record is {len(text.encode())} bytes; over 450 it may not fit a UDP answer"
        )
    if walk.voids_v6 > SPF_VOID_LIMIT >= walk.voids:
        b.warnings.append(
            f"for IPv6 clients, whose a mechanism asks AAAA, there are {walk.voids_v6} void "
            f"lookups: more than {SPF_VOID_LIMIT} is a permerror (RFC 7208 §4.6.4)"
        )
    over = _over_limits(walk)
    if over is not None:
        return b.permerror(*over)
    return _authorises(ctx, b, domain, text, tree, walk)


def _suggestion(ctx: Context) -> str:
    return f"v=spf1 include:{ctx.policy.spf_require_include or EXO_SPF_INCLUDE} -all"


def _not_one_record(ctx: Context, b: Builder, answer: Answer, records: list[str]) -> Verdict:
    """No SPF record (a failure) or several (a permerror, RFC 7208 §4.5)."""
    name = answer.qname
    if records:
        return b.permerror(
            f"{name} has {len(records)} SPF records; RFC 7208 §4.5 makes that a permerror",
            [Advice(f'Merge them into one TXT record, e.g. "{_suggestion(ctx)}"')],
        )
    found = f"{len(answer.records)} TXT record(s), none v=spf1" if answer.ok else answer.describe()
    near = near_misses(answer.records, "v=spf") if answer.ok else []
    if near:
        found += (
            f'; "{clip(near[0])}" is not selected as SPF: a record must start with '
            '"v=spf1" followed by a space or its end (RFC 7208 §4.5)'
        )
    create = RecordFix("create", name, "TXT", _suggestion(ctx), b.domain.name)
    return b.failed(f"no SPF record at {name}: {found}", [create])


def _over_limits(walk: SpfWalk) -> tuple[str, list[Fix]] | None:
    """(problems, fixes) when the walk met permerrors or RFC 7208's processing limits."""
    problems = list(walk.problems)
    fixes: list[Fix] = []
    if walk.lookups > SPF_LOOKUP_LIMIT:
        problems.append(
            f"more than {SPF_LOOKUP_LIMIT} DNS-querying terms through includes and redirects "
            f"(RFC 7208 §4.6.4): {walk.stopped}"
        )
        fixes.append(
            Advice(f"Flatten or remove includes to stay within {SPF_LOOKUP_LIMIT} lookups")
        )
    if walk.voids > SPF_VOID_LIMIT:
        problems.append(
            f"more than {SPF_VOID_LIMIT} void lookups (RFC 7208 §4.6.4): {walk.stopped}"
        )
        fixes.append(Advice("Remove mechanisms that point at names without records"))
    return ("; ".join(problems), fixes) if problems else None


def _authorises(
    ctx: Context, b: Builder, domain: Domain, text: str, tree: dict[str, Any], walk: SpfWalk
) -> Verdict:
    """A record within limits: neither every host nor too few (Exchange Online's include)."""
    shown = clip(text, 600)
    own_all = parse_spf(text).all_qualifier == "+"
    if tree.get("effective_all") == "+":
        how = "ends in +all" if own_all else "redirects to a record ending in +all"
        fix: Fix = (
            RecordFix("replace", domain.name, "TXT", _all_as(text, "-"), domain.name, found=text)
            if own_all
            else Advice(f'End the record in -all instead of redirecting: "{_suggestion(ctx)}"')
        )
        return b.failed(
            f'"{shown}" {how}: every host on the internet may send as {domain.name}', [fix]
        )
    if walk.pass_all:
        return b.failed(
            f'"{shown}" authorises every host on the internet: {"; ".join(walk.pass_all)}',
            [Advice("Remove the include, or have its owner end the record in -all or ~all")],
        )
    counts = f"{walk.lookups} DNS lookups of {SPF_LOOKUP_LIMIT}"
    required = ctx.policy.spf_require_include
    if required:
        found_include, how = _exo_include(walk, required)
        if found_include is None:
            fix = (
                Advice(f"Include {required} with no qualifier (include:{required})")
                if required in walk.reached
                else RecordFix(
                    "replace",
                    domain.name,
                    "TXT",
                    _with_include(text, required),
                    domain.name,
                    found=text,
                )
            )
            return b.failed(
                f'"{shown}": {how}: Exchange Online\'s servers are not authorised', [fix]
            )
        b.details["required_include"] = found_include
        if how:
            return b.passed(f'"{shown}" ({counts}); includes {how}')
    return b.passed(f'"{shown}" ({counts})')


def _all_as(text: str, qualifier: str) -> str:
    """The record with its all term given ``qualifier``, every other term as it was."""
    terms = text.split(" ")
    return " ".join(f"{qualifier}all" if t.lower() in ("all", "+all") else t for t in terms)


def _with_include(text: str, include: str) -> str:
    """The record with include:``include`` first after the version (evaluated before any
    all), every other term as it was."""
    version, _, rest = text.partition(" ")
    return f"{version} include:{include}" + (f" {rest}" if rest else "")
