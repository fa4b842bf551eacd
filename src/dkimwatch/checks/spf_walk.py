"""The SPF include walk: a static check_host() over the record, its includes and redirects
(RFC 7208 §4.6.4 limits), as a tree with what it counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dkimwatch.checks.verdict import Probe
from dkimwatch.records.spf import (
    Mechanism,
    dns_name_problem,
    expand_domain_spec,
    is_spf_record,
    parse_spf,
)
from dkimwatch.resolver import Answer, Status
from dkimwatch.standards import SPF_LOOKUP_LIMIT

SPF_VOID_LIMIT = 2
SPF_MX_LIMIT = 10  # RFC 7208 §4.6.4: an mx term with more than 10 MX records is a permerror


@dataclass
class SpfWalk:
    """What a static evaluation of the whole record found, in check_host() order.

    Every term that check_host() could reach for some client is evaluated: mechanisms up
    to the first ``all`` of each record, includes, and redirect= when there is no ``all``.
    Counts stop where check_host() would stop: at the 11th DNS-querying term or the 3rd
    void lookup.
    """

    sender: str  # the audited domain: %{o}
    lookups: int = 0
    voids: int = 0
    voids_v6: int = 0  # the same count for IPv6 clients, whose a mechanism asks AAAA
    # include/redirect targets reached, with whether every step on the way passes mail
    # (a "+" include or a redirect): only those authorise the target's servers.
    reached: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # permerrors
    pass_all: list[str] = field(default_factory=list)  # includes that pass every host
    warnings: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the walk ended early (a processing limit)
    loop: str = ""  # the first include/redirect loop met, as a path


def _spf_record_of(probe: Probe, name: str) -> tuple[str | None, str | None, bool]:
    """(record, problem, void) for an include/redirect target; raises SpfTemp."""
    answer = probe.ask(name, "TXT")
    if answer.status is Status.TEMPERROR:
        raise SpfTemp(answer.describe())
    records = [r for r in answer.records if is_spf_record(r)] if answer.ok else []
    void = answer.missing
    if not records:
        return None, f"{name} has no SPF record ({answer.describe()})", void
    if len(records) > 1:
        return None, f"{name} has {len(records)} SPF records (RFC 7208 §4.5)", False
    return records[0], None, False


class SpfTemp(Exception):
    """DNS gave no answer where the walk needed one (the check's temperror)."""


def _ask_spf(probe: Probe, walk: SpfWalk, name: str, rdtype: str) -> Answer | None:
    """One address/MX question of the walk. A DNS failure is a temperror, unless a
    permerror was already found earlier in evaluation order: check_host() stops at the
    first error, so the permerror stands (None: stop the walk)."""
    answer = probe.ask(name, rdtype)
    if answer.status is Status.TEMPERROR:
        if walk.problems:
            walk.stopped = walk.stopped or f"DNS gave no answer for {name} {rdtype}"
            return None
        raise SpfTemp(answer.describe())
    return answer


def _count_lookup(walk: SpfWalk, node: dict[str, Any], what: str) -> bool:
    walk.lookups += 1
    node["lookups"] += 1
    if walk.lookups > SPF_LOOKUP_LIMIT:
        walk.stopped = f"the {walk.lookups}th DNS-querying term is {what}"
        return False
    return True


def _count_void(walk: SpfWalk, node: dict[str, Any], what: str, v6: bool = True) -> bool:
    walk.voids += 1
    walk.voids_v6 += int(v6)
    node["voids"] += 1
    if walk.voids > SPF_VOID_LIMIT:
        walk.stopped = f"void lookup number {walk.voids} is {what}"
        return False
    return True


def _spf_target(
    walk: SpfWalk, node: dict[str, Any], term: str, spec: str | None, current: str
) -> str | None:
    """The name a term queries, macros the audit can know expanded; None when it
    depends on the message (sender, client IP, HELO) or cannot be a DNS name."""
    if spec is None:
        return current
    target = expand_domain_spec(spec, current, walk.sender)
    if target is None:
        node.setdefault("unresolved", []).append(term)
        return None
    target = target.lower().rstrip(".")
    problem = dns_name_problem(target)
    if problem:
        walk.warnings.append(f'{term} in {current}: "{target}" {problem}: it never matches')
        return None
    return target


def walk_spf(
    probe: Probe,
    walk: SpfWalk,
    domain: str,
    text: str,
    via: str | None,
    passing: bool,
    path: tuple[str, ...],
) -> dict[str, Any]:
    """Evaluate one record and, recursively, its includes and redirect; return its node
    of the include tree: domain, how it was reached, the record, its own DNS-querying
    terms (``lookups``) and those of its subtree (``total``), voids, children."""
    record = parse_spf(text)
    node: dict[str, Any] = {
        "domain": domain,
        "via": via,
        "record": text,
        "lookups": 0,
        "total": 0,
        "voids": 0,
        "children": [],
        "effective_all": record.all_qualifier,  # following redirects: what ends evaluation
    }
    if domain in path and not walk.loop:
        walk.loop = " → ".join((*path, domain))
        walk.warnings.append(f"include/redirect loop: {walk.loop}")
    if record.errors:
        walk.problems.append(f"{domain}: invalid SPF record: {'; '.join(record.errors)}")
        return node
    before = walk.lookups
    for mechanism in record.evaluated_mechanisms:
        if walk.stopped:
            break
        if not mechanism.counts_lookup:
            continue
        what = f'"{mechanism.text}" in {domain}'
        if not _count_lookup(walk, node, what):
            break
        if mechanism.name == "ptr":
            # The PTR names come from the client's IP: nothing to look up without one.
            node.setdefault("unresolved", []).append(mechanism.text)
            continue
        target = _spf_target(walk, node, mechanism.text, mechanism.domain_spec, domain)
        if target is None:
            continue
        if mechanism.name == "include":
            inner = passing and mechanism.qualifier == "+"
            child = _follow_spf(probe, walk, node, target, mechanism.text, inner)
            if child is not None:
                sub = walk_spf(probe, walk, target, child, mechanism.text, inner, (*path, domain))
                node["children"].append(sub)
                if inner and sub["effective_all"] == "+":
                    walk.pass_all.append(f'"{mechanism.text}" in {domain} ends in +all')
            continue
        if not _address_term(probe, walk, node, mechanism, target, domain):
            break
    if record.redirect_effective and record.redirect and not walk.stopped:
        _redirect(probe, walk, node, record.redirect, domain, passing, path)
    node["total"] = walk.lookups - before
    return node


def _address_term(
    probe: Probe, walk: SpfWalk, node: dict[str, Any], term: Mechanism, target: str, domain: str
) -> bool:
    """An a or mx term: its question, void count and MX limit. False: the walk stops."""
    name = term.name
    answer = _ask_spf(probe, walk, target, "MX" if name == "mx" else "A")
    if answer is None:
        return False
    is_a = name == "a"
    if answer.missing and not _count_void(walk, node, f'"{term.text}" in {domain}', v6=not is_a):
        return False
    if name == "mx" and len(answer.records) > SPF_MX_LIMIT:
        walk.problems.append(
            f'"{term.text}" in {domain}: {target} has {len(answer.records)} MX '
            f"records; more than {SPF_MX_LIMIT} is a permerror (RFC 7208 §4.6.4)"
        )
    if is_a:
        # Only for the IPv6 warning: never fatal, and evidence only when answered.
        aaaa = probe.resolver.lookup(target, "AAAA")
        if aaaa.status is not Status.TEMPERROR:
            probe.ask(target, "AAAA")
        walk.voids_v6 += int(aaaa.missing)
    return True


def _redirect(
    probe: Probe,
    walk: SpfWalk,
    node: dict[str, Any],
    redirect: str,
    domain: str,
    passing: bool,
    path: tuple[str, ...],
) -> None:
    """The redirect= of a record without all: its target's result is the record's (§6.1)."""
    term = f"redirect={redirect}"
    if not _count_lookup(walk, node, f'"{term}" in {domain}'):
        return
    target = _spf_target(walk, node, term, redirect, domain)
    child = None
    if target is not None:
        child = _follow_spf(probe, walk, node, target, term, passing)
    if target is not None and child is not None:
        sub = walk_spf(probe, walk, target, child, term, passing, (*path, domain))
        node["children"].append(sub)
        node["effective_all"] = sub["effective_all"]
        walk.warnings.extend(f"{target} (redirect): {w}" for w in _redirect_warnings(child))


def _redirect_warnings(text: str) -> list[str]:
    """The warnings of a redirect target that matter to the domain redirecting to it."""
    return [w for w in parse_spf(text).warnings if '"?all"' in w or 'no "all"' in w]


def _follow_spf(
    probe: Probe, walk: SpfWalk, node: dict[str, Any], target: str, term: str, passing: bool
) -> str | None:
    """Fetch the record an include/redirect points at; note reachability, voids and
    "none" (a permerror for both, RFC 7208 §5.2, §6.1). Returns the record, or None."""
    walk.reached[target] = walk.reached.get(target, False) or passing
    try:
        text, problem, void = _spf_record_of(probe, target)
    except SpfTemp:
        if walk.problems:
            walk.stopped = walk.stopped or f"DNS gave no answer for {target} TXT"
            return None
        raise
    if void and not _count_void(walk, node, f'"{term}"'):
        return None
    if text is None:
        walk.problems.append(f"{term}: {problem}")
        return None
    return text
