"""The run's fixes as files (``reports/fixes/``) and as the text a report row shows.

``locate`` puts every DNS fix in the zone that really holds its owner (dkimwatch.dnshost,
through the run's resolver) and notes who hosts that zone; ``write_fixes`` writes every
format (``nsupdate.txt`` always, even with nothing to change, so a pipeline can rely on
it); ``row_fix`` is one finding's fixes in the format of its zone's host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from html import escape
from pathlib import Path

from dkimwatch.checks import Verdict
from dkimwatch.dnshost import GENERIC, DnsHost, ZoneHost, find_zone
from dkimwatch.fixes import RecordFix
from dkimwatch.fixformats import FORMATS, render, render_all
from dkimwatch.fixformats.base import FixContext, FixItem
from dkimwatch.report import ResultEntry
from dkimwatch.resolver import Resolver

FIXES_DIR = "fixes"
_ANSWERED = ("NOERROR", "NXDOMAIN")


def fix_items(results: Iterable[ResultEntry]) -> list[FixItem]:
    """(context, fix) of every failed result, in node id order."""
    ordered = sorted(results, key=lambda r: r.nodeid)
    return verdict_items(r.verdict for r in ordered if r.outcome == "failed")


def verdict_items(verdicts: Iterable[Verdict]) -> list[FixItem]:
    """(context, fix) of each verdict's fixes, in the order given."""
    items: list[FixItem] = []
    for v in verdicts:
        ctx = FixContext(
            v.domain,
            v.check,
            v.selector,
            v.message,
            evidence=tuple(
                f"{e.qname} {e.rdtype} @{e.server}: {e.rcode} {'; '.join(e.answers)}"
                for e in v.evidence
            ),
        )
        items.extend((ctx, f) for f in v.fixes)
    return items


def fix_file(verdict: Verdict, items: Sequence[FixItem]) -> str:
    """The file under reports/fixes/ with one finding's fixes in its row's format."""
    if not items:
        return ""
    names = list(render(row_format(verdict), items))
    return f"{FIXES_DIR}/{names[0]}" if names else ""


def locate(
    items: Sequence[FixItem], resolver: Resolver
) -> tuple[list[FixItem], dict[str, ZoneHost]]:
    """The items with each DNS fix's zone as the SOA walk found it (unchanged when the walk
    found none), and what was found per owner name."""
    found: dict[str, ZoneHost] = {}
    out: list[FixItem] = []
    silent = ""  # once DNS fails to answer the walk, asking again would only wait it out
    for ctx, fix in items:
        if isinstance(fix, RecordFix):
            where = found.get(fix.owner)
            if where is None and silent:
                where = found[fix.owner] = ZoneHost(fix.owner, None, GENERIC, (), silent)
            elif where is None:
                where = found[fix.owner] = find_zone(resolver, fix.owner)
                if where.zone is None and any(e.rcode not in _ANSWERED for e in where.evidence):
                    silent = f"not asked: {where.note}"
            if where.zone is not None and where.zone != fix.zone:
                fix = replace(fix, zone=where.zone)
        out.append((ctx, fix))
    return out, found


def host_of(items: Sequence[FixItem], hosts: Mapping[str, ZoneHost]) -> DnsHost:
    """The host of the zones these fixes change: one host when they all agree, else generic."""
    seen = {
        hosts[f.owner].host.key: hosts[f.owner].host
        for _, f in items
        if isinstance(f, RecordFix) and f.owner in hosts
    }
    return next(iter(seen.values())) if len(seen) == 1 else GENERIC


def row_fix(items: Sequence[FixItem], hosts: Mapping[str, ZoneHost]) -> tuple[str, str]:
    """(format name, text) of one finding's fixes in its host's format; the Exchange Online
    format when none of them is a DNS change."""
    if not any(isinstance(f, RecordFix) for _, f in items):
        fmt = "exchange"
    else:
        fmt = host_of(items, hosts).fix_format
    files = render(fmt, items)
    if len(files) == 1:
        return fmt, next(iter(files.values()))
    return fmt, "".join(f"==> {name} <==\n{text}" for name, text in files.items())


def write_fixes(directory: Path, items: Sequence[FixItem]) -> list[str]:
    """Every format's files under ``directory`` (created); returns their relative paths.
    nsupdate.txt is always written."""
    files = render_all(items)
    assert "nsupdate.txt" in files  # the one file every run has
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)


__all__ = [
    "FIXES_DIR",
    "FORMATS",
    "fix_file",
    "fix_html",
    "fix_items",
    "host_of",
    "locate",
    "locate_verdict",
    "row_fix",
    "row_format",
    "write_fixes",
]


def locate_verdict(verdict: Verdict, resolver: Resolver) -> Verdict:
    """A failed verdict with its DNS fixes in the zones the SOA walk found (through the
    resolver that judged it, so the walk's questions are the run's, asked once and counted),
    and in ``details`` who hosts them: ``fix_host``, ``fix_format`` (the format its report
    row shows), ``fix_zones`` (how that was found)."""
    if verdict.outcome != "failed" or not any(isinstance(f, RecordFix) for f in verdict.fixes):
        return verdict
    ctx = FixContext(verdict.domain, verdict.check, verdict.selector, verdict.message)
    items, hosts = locate([(ctx, f) for f in verdict.fixes], resolver)
    notes = sorted({hosts[f.owner].note for _, f in items if isinstance(f, RecordFix)})
    host = host_of(items, hosts)
    details = {
        **verdict.details,
        "fix_host": host.name,
        "fix_format": host.fix_format,
        "fix_zones": "; ".join(notes),
    }
    return replace(verdict, fixes=tuple(f for _, f in items), details=details)


def row_format(verdict: Verdict) -> str:
    """The format a verdict's fixes are shown in: its host's (locate_verdict), nsupdate for
    DNS changes whose host is not known, Exchange Online when none is a DNS change."""
    if not any(isinstance(f, RecordFix) for f in verdict.fixes):
        return "exchange"
    fmt = verdict.details.get("fix_format")
    return fmt if isinstance(fmt, str) and fmt in FORMATS else GENERIC.fix_format


def fix_html(verdict: Verdict) -> str:
    """A failed verdict's fixes for its report row: in its host's format, the others a click
    away (every value escaped for HTML; each format has escaped it for its own syntax)."""
    if verdict.outcome != "failed" or not verdict.fixes:
        return ""
    ctx = FixContext(verdict.domain, verdict.check, verdict.selector, verdict.message)
    items: list[FixItem] = [(ctx, f) for f in verdict.fixes]
    fmt = row_format(verdict)
    host = str(verdict.details.get("fix_host") or "")
    label = f"{escape(host)}, {escape(fmt)}" if host else escape(fmt)
    parts = ['<div class="dkimwatch-fix">', f"<p><b>Fix</b> ({label})</p>"]
    for path, text in render(fmt, items).items():
        parts.append(f"<p>{escape(path)}</p><pre>{escape(text)}</pre>")
    parts.append("<details><summary>Other formats</summary>")
    for name in FORMATS:
        if name == fmt:
            continue
        for path, other in render(name, items).items():
            parts.append(f"<p>{escape(path)}</p><pre>{escape(other)}</pre>")
    parts.append("</details></div>")
    return "".join(parts)
