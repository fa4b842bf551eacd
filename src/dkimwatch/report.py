"""Reporting: results.json, the badge, and the HTML pieces added to pytest-html's report.

Everything shown in HTML goes through html.escape: DNS data is hostile until proven
otherwise (a TXT record may hold markup).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from dkimwatch.checks import Verdict
from dkimwatch.registry import DOMAIN_IDS, IDS, SELECTOR_IDS
from dkimwatch.resolver import Evidence
from dkimwatch.standards import SPF_LOOKUP_LIMIT

# results.json's ``format``: 2 keeps each exchange once, in the top-level ``evidence``
# table (format 1, with no ``format`` key, repeated it in every result that used it).
RESULTS_FORMAT = "dkimwatch-results/2"

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
_SHORT = {
    "passed": "PASS",
    "failed": "FAIL",
    "error": "ERROR",
    "skipped": "SKIP",
    "xfailed": "XFAIL",
    "xpassed": "XPASS",
}
_CELL = {  # a matrix cell's class (AUDIT_CSS)
    "passed": "p",
    "failed": "f",
    "error": "e",
    "skipped": "s",
    "xfailed": "x",
    "xpassed": "xp",
}
_COLOUR = {
    "passed": "#2e7d32",
    "failed": "#c62828",
    "error": "#6a1b9a",
    "skipped": "#757575",
    "xfailed": "#ef6c00",
    "xpassed": "#1565c0",
}


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def atomic_write_pieces(path: Path, pieces: Iterable[str]) -> None:
    """atomic_write_text of the text ``pieces`` make, written as they come."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            for piece in pieces:
                out.write(piece)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class ResultEntry:
    """One entry of results.json's results: a test's verdict, the outcome pytest gave the
    test (one of OUTCOMES: a waiver makes a failing verdict xfailed) and the waiver."""

    nodeid: str
    outcome: str
    verdict: Verdict
    waiver: str | None = None
    # A run of many tenants: the domain's tenant and the path of the inventory listing it.
    tenant: str | None = None
    inventory: str | None = None

    def to_json(self, evidence_ids: Mapping[Evidence, str] | None = None) -> dict[str, Any]:
        """As results.json has it (docs/results-format.md); with ``evidence_ids``, its
        evidence as ids of results.json's evidence table."""
        data = {"nodeid": self.nodeid, **self.verdict.to_json(evidence_ids)}
        data["outcome"] = self.outcome  # in the verdict's place: the test's outcome
        if self.waiver is not None:
            data["waiver"] = self.waiver
        if self.tenant is not None:
            data["tenant"] = self.tenant
            data["inventory"] = self.inventory
        return data

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], exchanges: dict[int, Evidence] | None = None
    ) -> ResultEntry:
        """A result back from results.json as load_results reads it (evidence inline);
        ``exchanges`` shares one Evidence per evidence-table entry. results.json keeps the
        test's outcome, not the verdict's: it stands in for it (an xpassed test's verdict
        passed), which none of the outputs made from results reads."""
        shared = {} if exchanges is None else exchanges
        evidence = []
        for e in data.get("evidence") or ():
            found = shared.get(id(e))
            if found is None:
                found = shared[id(e)] = Evidence.from_json(e)
            evidence.append(found)
        outcome = data["outcome"]
        verdict = Verdict.from_json(
            data,
            outcome="passed" if outcome == "xpassed" else outcome,
            evidence=tuple(evidence),
        )
        return cls(
            str(data["nodeid"]),
            str(outcome),
            verdict,
            data.get("waiver"),
            data.get("tenant"),
            data.get("inventory"),
        )


def summary(results: Iterable[ResultEntry]) -> dict[str, int]:
    counts = Counter(r.outcome for r in results)
    return {k: counts.get(k, 0) for k in OUTCOMES}


def results_document(
    *,
    version: str,
    started: str,
    finished: str,
    now: str,
    resolvers: Sequence[str],
    inventory: Mapping[str, str],
    queries: Mapping[str, int],
    results: Sequence[ResultEntry],
    answers_from: Mapping[str, Any] | None = None,
    run_fields: Mapping[str, Any] | None = None,
    stream: bool = False,
) -> dict[str, Any]:
    """results.json's content but for ``changes`` (added once the history record is made):
    the results in node id order, each exchange once in the evidence table. ``run_fields``
    (partial, shard, inventories, merged_from) go before the results. ``stream``: the
    results are an iterator of rows and the evidence table an iterator of (id, exchange)
    pairs, made as dump_pieces writes them (read only once): a large estate's rows are
    never all held at once."""
    ordered = sorted(results, key=lambda r: r.nodeid)
    evidence_ids = evidence_table(ordered)
    rows = (r.to_json(evidence_ids) for r in ordered)
    exchanges = ((i, e.to_json()) for e, i in evidence_ids.items())
    doc: dict[str, Any] = {
        "tool": "dkimwatch",
        "format": RESULTS_FORMAT,
        "version": version,
        "started": started,
        "finished": finished,
        "now": now,
        "resolvers": list(resolvers),
    }
    if answers_from is not None:
        doc["answers_from"] = dict(answers_from)
    doc.update(
        {
            "inventory": dict(inventory),
            "queries": dict(queries),
            "summary": summary(ordered),
            "domains": domains_summary(domain_states(ordered)),
            **(run_fields or {}),
            "results": rows if stream else list(rows),
            "evidence": exchanges if stream else dict(exchanges),
        }
    )
    return doc


def evidence_table(results: Iterable[ResultEntry]) -> dict[Evidence, str]:
    """Every exchange of ``results`` once, with its id in results.json's ``evidence``
    table, in order of first use. Most exchanges serve many verdicts (a domain's SPF
    include tree, Microsoft's zones): each result lists ids, not copies."""
    ids: dict[Evidence, str] = {}
    for r in results:
        for e in r.verdict.evidence:
            if e not in ids:
                ids[e] = f"e{len(ids) + 1}"
    return ids


class ResultsFormatError(ValueError):
    """A results.json this version cannot read (another format, or not results.json)."""


def load_results(path: Path) -> dict[str, Any]:
    """results.json as a dict, each result's ``evidence`` the list of its exchanges (read
    from the evidence table; the table itself is left out). The one reader of
    results.json: format 1 (evidence inline, no ``format`` key) is read as it is."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ResultsFormatError(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("tool") != "dkimwatch":
        raise ResultsFormatError(f"{path}: not a dkimwatch results.json")
    form = doc.get("format")
    if form is None:
        return doc  # format 1
    if form != RESULTS_FORMAT:
        raise ResultsFormatError(
            f"{path}: results format {form!r}; this dkimwatch reads {RESULTS_FORMAT!r}"
        )
    table = doc.pop("evidence", None) or {}
    for r in doc.get("results") or ():
        try:
            r["evidence"] = [table[i] for i in r.get("evidence") or ()]
        except (KeyError, TypeError):
            raise ResultsFormatError(
                f"{path}: result {r.get('nodeid')!r} names evidence not in the evidence table"
            ) from None
    return doc


# --- where the answers came from ----------------------------------------------------------

LIVE_DNS, ZONE_FILES, REPLAY = "live DNS", "zone files", "replay"


def answers_from_text(answers_from: Mapping[str, Any]) -> str:
    """One sentence for people: where this run's DNS answers came from, and, when that was
    not live DNS, that the published records were not what was checked."""
    kind = str(answers_from.get("kind"))
    detail = str(answers_from.get("detail") or "")
    if kind == ZONE_FILES:
        return (
            f"zone files in {detail}, not live DNS: this run checked those files, "
            "not the records published on the internet"
        )
    if kind == REPLAY:
        text = f"a saved record ({detail}), not live DNS"
        recorded = answers_from.get("recorded_from")
        if isinstance(recorded, Mapping):
            text += f"; the record was made from {answers_from_text(recorded)}"
        else:
            text += ": the records published now were not asked"
        return text
    return f"live DNS ({detail})" if detail else "live DNS"


def answers_from_html(answers_from: Mapping[str, Any]) -> str:
    """The report's first line: where the answers came from; boxed when not live DNS, so
    that an offline run is never taken for a check of the published records."""
    text = escape(answers_from_text(answers_from))
    if answers_from.get("kind") == LIVE_DNS:
        return f'<p class="dkimwatch-answers-from"><b>Answers from</b> {text}</p>'
    return (
        '<p class="dkimwatch-answers-from" style="border:2px solid #ef6c00;padding:4px;'
        f'color:#222"><b>Answers from</b> {text}.</p>'
    )


# --- what a person counts: domains ---------------------------------------------------------


@dataclass(frozen=True)
class DomainState:
    """One domain's standing: ``failing`` when a check failed (whatever DNS said elsewhere),
    ``unresolved`` when nothing failed but DNS could not answer a check, else ``passing``.
    ``first`` is the result to show first: the earliest failed check in check order (a
    missing CNAME explains the missing key after it) that has a fix, or the earliest
    failed or unanswered one."""

    domain: str
    state: str
    first: ResultEntry | None
    failed: int
    unresolved: int


_RANK = {check: i for i, check in enumerate(IDS)}


def _check_order(r: ResultEntry) -> tuple[int, str]:
    v = r.verdict
    return _RANK.get(v.check, len(IDS)), v.selector or ""


def domain_states(results: Iterable[ResultEntry]) -> list[DomainState]:
    """Every domain of ``results``, by name."""
    by_domain: dict[str, list[ResultEntry]] = {}
    for r in results:
        by_domain.setdefault(r.verdict.domain, []).append(r)
    states = []
    for domain in sorted(by_domain):
        rows = by_domain[domain]
        # Sorted after the filter: the same order (a stable sort), and most domains pass.
        failed = sorted((r for r in rows if r.outcome == "failed"), key=_check_order)
        errors = sorted((r for r in rows if r.outcome == "error"), key=_check_order)
        first: ResultEntry | None
        if failed:
            first = next((r for r in failed if r.verdict.remediation), failed[0])
            state = "failing"
        elif errors:
            first, state = errors[0], "unresolved"
        else:
            first, state = None, "passing"
        states.append(DomainState(domain, state, first, len(failed), len(errors)))
    return states


def domains_summary(states: Sequence[DomainState]) -> dict[str, int]:
    """results.json's ``domains``: how many domains, failing, unresolved, passing."""
    counts = Counter(s.state for s in states)
    return {
        "total": len(states),
        "failing": counts["failing"],
        "unresolved": counts["unresolved"],
        "passing": counts["passing"],
    }


def _domains(n: int) -> str:
    return f"{n} domain{'' if n == 1 else 's'}"


def domains_headline(domains: Mapping[str, int]) -> str:
    """'3 domains failing, 2 unresolved (of 70)', or '70 domains passing'."""
    failing, unresolved = domains.get("failing", 0), domains.get("unresolved", 0)
    total = domains.get("total", 0)
    if not total:
        return "no domain checked"
    if failing:
        text = f"{_domains(failing)} failing"
        if unresolved:
            text += f", {unresolved} unresolved"
        return f"{text} (of {total})"
    if unresolved:
        return f"{_domains(unresolved)} unresolved (of {total})"
    return f"{_domains(total)} passing"


@dataclass(frozen=True)
class Partial:
    """What a partial run ran: ``selected`` of the suite's ``total`` checks, and ``why``."""

    selected: int
    total: int
    why: str

    def to_json(self) -> dict[str, int | str]:
        return {"selected": self.selected, "total": self.total, "why": self.why}

    def text(self) -> str:
        return f"partial run: {self.selected:,} of {self.total:,} checks ({self.why})"


def badge_svg(domains: Mapping[str, int], partial: Partial | None = None) -> str:
    """Counted in domains, as a person counts (one missing key fails several checks of one
    domain): red "3 domains failing, 2 unresolved", grey "2 domains unresolved" when DNS
    could not answer but nothing failed, green "70 domains passing". The report has the
    checks. A partial run's badge says so in its label, with how much it ran."""
    import anybadge

    failing, unresolved = domains.get("failing", 0), domains.get("unresolved", 0)
    total = domains.get("total", 0)
    if failing:
        value, colour = f"{_domains(failing)} failing", "red"
        if unresolved:
            value += f", {unresolved} unresolved"
    elif unresolved:
        value, colour = f"{_domains(unresolved)} unresolved", "lightgrey"
    elif total:
        value, colour = f"{_domains(total)} passing", "green"
    else:
        value, colour = "no domain checked", "lightgrey"
    label = "dkimwatch"
    if partial is not None:
        label = f"dkimwatch partial run: {partial.selected:,} of {partial.total:,} checks"
        if not partial.selected:
            value, colour = "nothing ran", "lightgrey"
    badge = anybadge.Badge(label=label, value=value, default_color=colour)
    # anybadge numbers masks per process; each badge is a file of its own, so the same id
    # in each keeps a badge the same whichever process (a run, a merge) writes it.
    badge.mask_str = "anybadge_1"
    return str(badge.badge_svg_text)


DOMAIN_LINES = 20  # failing and unresolved domains listed at the end of the terminal output
_LINE_PART = 160  # characters of a message or a fix on such a line


def terminal_text(value: object, limit: int = _LINE_PART) -> str:
    """DNS text made safe for a terminal line: control characters (an escape sequence in a
    TXT record would drive the terminal) shown as escapes, one line, shortened."""
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(value)
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def domain_lines(
    states: Sequence[DomainState], report: str, limit: int = DOMAIN_LINES
) -> list[str]:
    """One line per failing domain (what is wrong, the first fix), then one per unresolved
    domain (no fix: DNS did not answer, so nothing is known to be wrong); at most ``limit``,
    then where the rest are."""
    shown = [s for s in states if s.state == "failing"]
    shown += [s for s in states if s.state == "unresolved"]
    lines = []
    for s in shown[:limit]:
        assert s.first is not None  # a failing or unresolved domain has one to show
        v = s.first.verdict
        where = f"{v.check} {v.selector}" if v.selector else v.check
        if s.state == "failing":
            line = f"FAILING {s.domain}: {where}: {terminal_text(v.message)}"
            if v.remediation:
                line += f" → fix: {terminal_text(v.remediation)}"
            more = s.failed - 1
            if more:
                line += f" (+{more} more failing check{'' if more == 1 else 's'})"
        else:
            line = (
                f"UNRESOLVED {s.domain}: DNS gave no answer for {_checks(s.unresolved)} "
                # DNS's own words (a hint such as a name outside the zone files) get room
                f"({where}: {terminal_text(v.message, 2 * _LINE_PART)})"
            )
        lines.append(line)
    if len(shown) > limit:
        lines.append(f"… and {len(shown) - limit} more; see {report}")
    return lines


def _checks(n: int) -> str:
    return f"{n} check{'' if n == 1 else 's'}"


def spf_tree_html(tree: Mapping[str, Any]) -> str:
    """The SPF include tree of an spf verdict (details["tree"]) as nested lists: each
    record with how it was reached, its own DNS-querying terms and its subtree's total."""

    def item(node: Mapping[str, Any], depth: int) -> str:
        head = f"<code>{escape(str(node.get('domain')))}</code>"
        if node.get("via"):
            head = f"{escape(str(node['via']))} → {head}"
        head += (
            f": {escape(str(node.get('lookups', 0)))} DNS lookup(s) here, "
            f"{escape(str(node.get('total', 0)))} with what it includes"
        )
        if node.get("voids"):
            head += f", {escape(str(node['voids']))} void"
        if node.get("unresolved"):
            unresolved = ", ".join(escape(str(u)) for u in node["unresolved"])
            head += f"; counted, not resolved without a message: {unresolved}"
        if node.get("record"):
            head += f"<br><code>{escape(str(node['record']))}</code>"
        children = node.get("children") or ()
        # The walk ends at the 11th lookup, so real trees are shallow; the cap guards the HTML.
        inner = "".join(item(c, depth + 1) for c in children if isinstance(c, Mapping))
        nested = f"<ul>{inner}</ul>" if inner and depth < 16 else ""
        return f"<li>{head}{nested}</li>"

    total = escape(str(tree.get("total", 0)))
    return (
        f'<div class="dkimwatch-spf-tree"><b>SPF include tree</b>'
        f" ({total} of {SPF_LOOKUP_LIMIT} DNS lookups)"
        f"<ul>{item(tree, 0)}</ul></div>"
    )


# Put once in the report (the summary), not on every one of thousands of evidence tables.
EVIDENCE_CSS = (
    "<style>table.dkimwatch-evidence{border-collapse:collapse;font-size:90%;color:#222}"
    "table.dkimwatch-evidence td,table.dkimwatch-evidence th{border:1px solid #999;"
    "padding:2px}table.dkimwatch-evidence td.dkw-rr{word-break:break-all}"
    "table.dkimwatch-evidence td:last-child{white-space:nowrap}</style>"
)
HTML_RDATA_LIMIT = 160  # characters of one record shown for a passing verdict


def _answer_html(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return escape(text)
    return f"{escape(text[:limit])}… (+{len(text) - limit} chars, whole in results.json)"


def _detail_text(value: object) -> str:
    """A detail as a reader wants it: lists joined, mappings as key=value, not Python repr."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_detail_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " | ".join(_detail_text(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def evidence_html(verdict: Verdict, waiver: str | None = None) -> str:
    """The per-test block: message, warnings, remediation, and the DNS exchanges as a table."""
    parts = ['<div class="dkimwatch-verdict">']
    parts.append(
        f"<p><b>{escape(verdict.check)}</b> → <b>{escape(verdict.result)}</b>: "
        f"{escape(verdict.message)}</p>"
    )
    if waiver:
        parts.append(f"<p><b>Waiver:</b> {escape(waiver)}</p>")
    for warning in verdict.warnings:
        parts.append(f"<p>⚠ {escape(warning)}</p>")
    if verdict.remediation:
        parts.append(f"<p><b>Remediation:</b> {escape(verdict.remediation)}</p>")
    details = verdict.details
    shown = {k: v for k, v in details.items() if k != "tree"}
    if shown:
        parts.append(
            "<p>"
            + "; ".join(f"{escape(str(k))}: {escape(_detail_text(v))}" for k, v in shown.items())
            + "</p>"
        )
    if isinstance(details.get("tree"), Mapping):
        parts.append(spf_tree_html(details["tree"]))
    if verdict.evidence:
        # Lean: styles come once from EVIDENCE_CSS, and a passing verdict's long records
        # (keys) are shortened here; results.json keeps every record whole.
        limit = HTML_RDATA_LIMIT if verdict.outcome == "passed" else None
        parts.append(
            '<table class="dkimwatch-evidence">'
            "<tr><th>query</th><th>type</th><th>server</th><th>rcode</th><th>answers</th>"
            "<th>TTL</th><th>ms</th><th>at</th></tr>"
        )
        parts.extend(_evidence_row(ev, limit) for ev in verdict.evidence)
        parts.append("</table>")
    parts.append("</div>")
    return "".join(parts)


def _evidence_row(ev: Evidence, limit: int | None) -> str:
    answers = "<br>".join(_answer_html(str(a), limit) for a in ev.answers) or "—"
    return (
        f"<tr><td>{escape(str(ev.qname))}</td><td>{escape(str(ev.rdtype))}</td>"
        f"<td>{escape(str(ev.server))}/{escape(str(ev.transport))}</td>"
        f"<td>{escape(str(ev.rcode))}</td>"
        f'<td class="dkw-rr">{answers}</td>'
        f"<td>{escape(str(ev.ttl))}</td><td>{escape(str(ev.elapsed_ms))}</td>"
        f"<td>{escape(str(ev.at))}</td></tr>"
    )


def matrix_columns(results: Iterable[ResultEntry]) -> list[tuple[str, str | None]]:
    selectors = sorted({r.verdict.selector for r in results if r.verdict.selector})
    cols: list[tuple[str, str | None]] = []
    for check in SELECTOR_IDS:
        cols.extend((check, s) for s in selectors)
    cols.extend((check, None) for check in DOMAIN_IDS)
    return cols


# A matrix cell jumps to its test's row in pytest-html's table and opens it; so does a link
# to report.html#test=<node id> (from a CI message, a ticket). The node id travels in
# data-n or the URL, never inside script text.
_GOTO_SCRIPT = """<script>
function dkwGo(n) {
  for (const c of document.querySelectorAll('td.col-testId')) {
    if (c.textContent === n) {
      if (c.parentNode.querySelector('.col-result.collapsed')) c.click();
      c.scrollIntoView({block: 'center'});
      return false;
    }
  }
  return false;
}
window.addEventListener('load', () => {
  if (location.hash.startsWith('#test=')) {
    setTimeout(() => dkwGo(decodeURIComponent(location.hash.slice(6))), 0);
  }
});
</script>"""
_GOTO = "return dkwGo(this.dataset.n)"


# The outcomes that get a row of their own in report.html (with their evidence): what an
# auditor has to act on. Passed, skipped and xfailed (waived) tests are counted in the
# matrices only, at any size; results.json has every verdict with its evidence.
FINDINGS = ("failed", "error", "xpassed")

# One stylesheet for the audit section: a matrix of 10,000 domains is 100,000 cells, so a
# cell carries a one-letter class, not a style.
AUDIT_CSS = (
    "<style>"
    # The audit (pytest-html's summary, where it goes) and the findings come before
    # pytest-html's Environment table, which becomes the run's metadata at the end.
    "body{display:flex;flex-direction:column}#title{order:-4}.summary{order:-3}"
    "#results-table{order:-2}"
    ".dkimwatch-audit{color:#222}.dkimwatch-audit table{border-collapse:collapse;"
    "font-size:90%}.dkimwatch-audit td,.dkimwatch-audit th{border:1px solid #999;"
    "padding:2px 4px}.dkw-m td{color:#fff;text-align:center}.dkw-m td a{color:#fff;"
    "text-decoration:none}"
    + "".join(f".dkw-m td.{_CELL[o]}{{background:{c}}}" for o, c in _COLOUR.items())
    + ".dkw-bad{color:#c62828;font-weight:bold}.dkw-ok{color:#2e7d32}"
    "</style>"
)


def tenant_of(result: ResultEntry, default: str) -> str:
    """The tenant a result belongs to: its own ``tenant`` (a run of several inventories
    sets it) or else the run's one tenant."""
    own = getattr(result, "tenant", None) or getattr(result.verdict, "tenant", None)
    return str(own) if own else default


def by_tenant(results: Iterable[ResultEntry], default: str) -> dict[str, list[ResultEntry]]:
    groups: dict[str, list[ResultEntry]] = {}
    for r in results:
        groups.setdefault(tenant_of(r, default), []).append(r)
    return groups


@dataclass(frozen=True)
class TenantState:
    """One tenant's standing, for the overview: its domains counted as a person counts
    them (domains_summary), its failing checks, and since when the oldest one fails."""

    name: str
    domains: dict[str, int]
    findings: int  # failed and error tests
    since: str | None


def tenant_states(
    groups: Mapping[str, Sequence[ResultEntry]], since: Mapping[str, str]
) -> list[TenantState]:
    """Worst first: most failing domains, then most unresolved, then by name."""
    states = []
    for name, rows in groups.items():
        domains = domains_summary(domain_states(rows))
        failing = [since[r.nodeid] for r in rows if r.outcome == "failed" and r.nodeid in since]
        findings = sum(1 for r in rows if r.outcome in ("failed", "error"))
        states.append(TenantState(name, domains, findings, min(failing, default=None)))
    return sorted(states, key=lambda t: (-t.domains["failing"], -t.domains["unresolved"], t.name))


def audit_html(
    results: Sequence[ResultEntry], *, tenant: str, since: Mapping[str, str] | None = None
) -> str:
    """report.html's first screen: how many tenants and domains, how many compliant, what
    fails and since when; then the tenants worst first, each linking to its own section
    with its domain × check matrix. ``tenant`` names the results without their own
    (tenant_of); ``since`` is when each failing test started failing (history)."""
    since = since or {}
    groups = by_tenant(results, tenant)
    tenants = tenant_states(groups, since)
    domains = domains_summary(domain_states(results))
    counts = summary(results)
    line = ", ".join(f"{n:,} {k}" for k, n in counts.items() if n)
    compliant = domains["passing"]
    oldest = min((t.since for t in tenants if t.since), default=None)
    head = (
        f"<p style='font-size:130%'><b>{len(tenants):,} tenant{'' if len(tenants) == 1 else 's'}"
        f", {_domains(domains['total'])}</b>: <span class='dkw-ok'>{compliant:,} compliant"
        "</span>"
    )
    if domains["failing"]:
        head += f", <span class='dkw-bad'>{domains['failing']:,} failing</span>"
    if domains["unresolved"]:
        head += f", {domains['unresolved']:,} unresolved (DNS gave no answer)"
    head += "</p>"
    head += f"<p>{len(results):,} checks: {escape(line)}"
    if oldest:
        head += f"; the oldest failure dates from {escape(oldest)}"
    head += ".</p>"
    parts = [
        '<div class="dkimwatch-audit"><h2>Audit summary</h2>',
        head,
        _what_fails_html(results, since),
        _tenants_table_html(tenants),
    ]
    parts.append("<h2>Domain × check, per tenant</h2>")
    parts.append(_GOTO_SCRIPT)
    for index, t in enumerate(tenants):
        bad = t.domains["failing"] + t.domains["unresolved"]
        parts.append(
            f'<details id="dkw-t{index}"{" open" if bad else ""}><summary><b>'
            f"{escape(t.name)}</b>: {escape(domains_headline(t.domains))}</summary>"
            f"{matrix_html(groups[t.name])}</details>"
        )
    parts.append("</div>")
    return "".join(parts)


def _what_fails_html(results: Sequence[ResultEntry], since: Mapping[str, str]) -> str:
    """Per check: how many tests failed or got no answer, in how many domains, since when."""
    rows: dict[str, list[ResultEntry]] = {}
    for r in results:
        if r.outcome in ("failed", "error"):
            rows.setdefault(r.verdict.check, []).append(r)
    if not rows:
        return "<p class='dkw-ok'><b>Nothing fails.</b></p>"
    body = []
    for check in sorted(rows, key=lambda c: (-len(rows[c]), c)):
        found = rows[check]
        failed = sum(1 for r in found if r.outcome == "failed")
        first = min((since[r.nodeid] for r in found if r.nodeid in since), default="")
        body.append(
            f"<tr><td>{escape(check)}</td><td>{failed:,}</td><td>{len(found) - failed:,}</td>"
            f"<td>{len({r.verdict.domain for r in found}):,}</td><td>{escape(first)}</td></tr>"
        )
    return (
        "<h3>What fails</h3><table><tr><th>check</th><th>failed</th><th>no DNS answer</th>"
        f"<th>domains</th><th>failing since</th></tr>{''.join(body)}</table>"
    )


def _tenants_table_html(tenants: Sequence[TenantState]) -> str:
    body = []
    for index, t in enumerate(tenants):
        d = t.domains
        cls = " class='dkw-bad'" if d["failing"] else ""
        body.append(
            f"<tr><td><a href='#dkw-t{index}'>{escape(t.name)}</a></td><td>{d['total']:,}</td>"
            f"<td>{d['passing']:,}</td><td{cls}>{d['failing']:,}</td><td>{d['unresolved']:,}"
            f"</td><td>{t.findings:,}</td><td>{escape(t.since or '')}</td></tr>"
        )
    return (
        "<h3>Tenants, worst first</h3><div style='max-height:30em;overflow:auto'><table>"
        "<tr><th>tenant</th><th>domains</th><th>compliant</th><th>failing</th>"
        "<th>unresolved</th><th>failing checks</th><th>failing since</th></tr>"
        f"{''.join(body)}</table></div>"
    )


def matrix_html(results: Sequence[ResultEntry]) -> str:
    """Domain × check: colour (a class of AUDIT_CSS) plus text, failing domains first. A
    finding's cell links to its row in the findings table and carries its message."""
    if not results:
        return ""
    cols = matrix_columns(results)
    cells: dict[str, dict[tuple[str, str | None], ResultEntry]] = {}
    for r in results:
        v = r.verdict
        cells.setdefault(v.domain, {})[(v.check, v.selector)] = r

    def bad(domain: str) -> int:
        return sum(1 for r in cells[domain].values() if r.outcome in ("failed", "error"))

    domains = sorted(cells, key=lambda d: (-bad(d), d))
    head = "".join(
        f"<th>{escape(check)}{'<br>' + escape(sel) if sel else ''}</th>" for check, sel in cols
    )
    rows = []
    for domain in domains:
        tds = []
        for col in cols:
            cell = cells[domain].get(col)
            if cell is None:
                tds.append("<td></td>")
                continue
            outcome = cell.outcome
            short = _SHORT.get(outcome) or escape(outcome)
            if outcome in FINDINGS:
                tds.append(
                    f'<td class="{_CELL.get(outcome, "u")}" '
                    f'title="{escape(cell.verdict.message)}">'
                    f'<a href="#" data-n="{escape(cell.nodeid)}" onclick="{_GOTO}">{short}</a></td>'
                )
            else:
                tds.append(f'<td class="{_CELL.get(outcome, "u")}">{short}</td>')
        rows.append(f"<tr><th style='text-align:left'>{escape(domain)}</th>{''.join(tds)}</tr>")
    counts = summary(results)
    line = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    return (
        f'<div class="dkimwatch-matrix">'
        f"<p>{escape(domains_headline(domains_summary(domain_states(results))))}; "
        f"{len(results)} checks: {escape(line)}</p>"
        '<div style="max-height:40em;overflow:auto"><table class="dkw-m">'
        f"<tr><th>domain</th>{head}</tr>{''.join(rows)}</table></div></div>"
    )


def publish(staging: Path, target: Path, whole: tuple[str, ...] = ()) -> None:
    """Move every file of ``staging`` into ``target``, each with an atomic rename; files of
    subfolders (history/) after the top-level ones, into the same subfolders of ``target``.
    A subfolder named in ``whole`` (fixes/) replaces its old self as a whole, so no file of
    an earlier run stays in it."""
    target.mkdir(parents=True, exist_ok=True)
    items = sorted(staging.iterdir())
    for item in items:
        if item.is_file():
            os.replace(item, target / item.name)
    for item in items:
        if item.is_dir() and item.name in whole:
            old = target / f".{item.name}.old-{os.getpid()}"
            if (target / item.name).exists():
                os.replace(target / item.name, old)
            os.replace(item, target / item.name)
            shutil.rmtree(old, ignore_errors=True)
        elif item.is_dir():
            publish(item, target / item.name)
    shutil.rmtree(staging, ignore_errors=True)


def dumps(doc: Mapping[str, Any]) -> str:
    """results.json: one top-level field per line and one result per line (greppable, and
    diffs line by line). json.dumps(indent=...) runs the pure-Python encoder, slow at
    scale; compact pieces use the C one."""
    return "".join(dump_pieces(doc))


# json.dumps(value, ensure_ascii=False) makes an encoder per call: a noticeable cost with a
# call per result of a large estate.
_COMPACT = json.JSONEncoder(ensure_ascii=False)


def dump_pieces(doc: Mapping[str, Any]) -> Iterator[str]:
    """dumps' text in pieces, a result or an exchange each: written as they come, a large
    estate's results.json is never one string. ``results`` may be an iterator of rows and
    ``evidence`` one of (id, exchange) pairs (results_document(stream=True)); they are
    consumed."""

    compact = _COMPACT.encode
    yield "{\n "
    for n, (key, value) in enumerate(doc.items()):
        if n:
            yield ",\n "
        if key == "results" and isinstance(value, list | Iterator):
            yield '"results": ['
            empty = True
            for r in value:
                yield f"{'' if empty else ','}\n  {compact(r)}"
                empty = False
            yield "]" if empty else "\n ]"
        elif key == "evidence" and isinstance(value, dict | Iterator):
            yield '"evidence": {'
            empty = True
            for eid, e in value.items() if isinstance(value, dict) else value:
                yield f"{'' if empty else ','}\n  {compact(eid)}: {compact(e)}"
                empty = False
            yield "}" if empty else "\n }"
        else:
            yield f"{compact(key)}: {compact(value)}"
    yield "\n}\n"


FAILURES_CSV_HEADER = ("domain", "selector", "check", "result", "message", "remediation", "fix")
TENANT_COLUMN = "tenant"  # failures.csv's first column in a run of many tenants
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text: DNS data starting with ``=`` (or ``+``,
    ``-``, ``@``) would otherwise run as a formula when an auditor opens the file."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def failures_csv(
    results: Iterable[ResultEntry],
    fix_files: Mapping[str, str] | None = None,
    *,
    tenants: bool = False,
) -> str:
    """failures.csv: one row per failed or error test, in node id order, with its fix; the
    selector is empty for domain-level checks, the remediation for DNS errors (there is
    nothing known to fix). ``fix`` names the file under reports/ with the row's fix in its
    DNS host's format (``fix_files``, by node id). A run of many tenants (``tenants``) adds
    a first column, the domain's tenant."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((TENANT_COLUMN, *FAILURES_CSV_HEADER) if tenants else FAILURES_CSV_HEADER)
    files = fix_files or {}
    for r in sorted(results, key=lambda r: r.nodeid):
        if r.outcome not in ("failed", "error"):
            continue
        row = [getattr(r.verdict, k) for k in FAILURES_CSV_HEADER[:-1]]
        cells = [_csv_cell(v) for v in [*row, files.get(r.nodeid, "")]]
        writer.writerow([_csv_cell(r.tenant), *cells] if tenants else cells)
    return out.getvalue()


CHANGES_ROWS = 500  # rows shown per list in the HTML; results.json has them all


def changes_html(changes: Mapping[str, Any]) -> str:
    """The "what changed since the last run" section (``changes`` of results.json)."""
    counts = changes.get("counts") or {}
    previous = changes.get("previous")
    parts = ['<div class="dkimwatch-changes" style="color:#222">']
    if previous:
        parts.append(
            f"<h2>Changes since {escape(str(previous.get('started')))}</h2>"
            f"<p>{escape(_change_line(counts))} (compared with "
            f"<code>{escape(str(previous.get('record')))}</code>, evaluated at "
            f"{escape(str(previous.get('now')))})</p>"
        )
    else:
        parts.append(
            "<h2>Changes since the last run</h2>"
            f"<p>No earlier run of this inventory recorded: "
            f"{int(counts.get('new_failures', 0))} failing now.</p>"
        )
    lists = (
        ("new_failures", "New failures", "#c62828", "since"),
        ("fixed", "Fixed", "#2e7d32", "failing_since"),
        ("inventory_changes", "Inventory changes", "#1565c0", "failing_since"),
        ("not_run", "Failing last time, not run this time", "#757575", "since"),
        ("still_failing", "Still failing", "#c62828", "since"),
    )
    for key, title, colour, since_key in lists:
        rows = list(changes.get(key) or ())
        if not rows or (key == "new_failures" and not previous):
            continue
        table = _changes_table(rows, since_key, why=key == "inventory_changes")
        label = f"{escape(title)} ({len(rows)})"
        if key == "still_failing":
            parts.append(f"<details><summary><b>{label}</b></summary>{table}</details>")
        else:
            parts.append(f'<h3 style="color:{colour}">{label}</h3>{table}')
    parts.append("</div>")
    return "".join(parts)


def _change_line(counts: Mapping[str, Any]) -> str:
    new = int(counts.get("new_failures", 0))
    line = (
        f"{new} new failure{'' if new == 1 else 's'}, {int(counts.get('fixed', 0))} fixed, "
        f"{int(counts.get('still_failing', 0))} still failing"
    )
    inventory = int(counts.get("inventory_changes") or 0)
    if inventory:
        line += f", {inventory} inventory change{'' if inventory == 1 else 's'}"
    if counts.get("not_run"):
        line += f", {int(counts['not_run'])} failing before not run"
    return line


def _changes_table(rows: Sequence[Mapping[str, Any]], since_key: str, *, why: bool = False) -> str:
    columns = ["domain", "check", "selector", "before", "now", "failing since", "message"]
    if why:
        columns.insert(5, "why")
    head = "".join(f"<th>{h}</th>" for h in columns)
    body = []
    for r in rows[:CHANGES_ROWS]:
        now = r.get("outcome") or ("removed" if why else "not run")
        cells = [
            r.get("domain"),
            r.get("check"),
            r.get("selector") or "",
            r.get("before") or "—",
            now,
            r.get(since_key) or r.get("since") or "",
            r.get("message") or "",
        ]
        if why:
            cells.insert(5, r.get("why") or "")
        tds = [f'<td style="white-space:nowrap">{escape(str(c))}</td>' for c in cells[:-1]]
        tds.append(f"<td>{escape(str(cells[-1]))}</td>")  # the message may wrap
        body.append(f"<tr>{''.join(tds)}</tr>")
    more = ""
    if len(rows) > CHANGES_ROWS:
        more = f"<p>… and {len(rows) - CHANGES_ROWS} more in results.json.</p>"
    return (
        '<table class="dkimwatch-changes-table" border="1" cellpadding="3" '
        'style="border-collapse:collapse;font-size:90%;color:#222">'
        f"<tr>{head}</tr>{''.join(body)}</table>{more}"
    )
