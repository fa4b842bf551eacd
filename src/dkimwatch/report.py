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
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from dkimwatch.registry import DOMAIN_IDS, SELECTOR_IDS

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
_SHORT = {
    "passed": "PASS",
    "failed": "FAIL",
    "error": "ERROR",
    "skipped": "SKIP",
    "xfailed": "XFAIL",
    "xpassed": "XPASS",
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


def summary(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts = Counter(r["outcome"] for r in results)
    return {k: counts.get(k, 0) for k in OUTCOMES}


def results_document(
    *,
    version: str,
    started: str,
    finished: str,
    now: str,
    resolvers: Sequence[str],
    inventory: Mapping[str, Any],
    queries: Mapping[str, int],
    results: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    ordered = sorted(results, key=lambda r: str(r["nodeid"]))
    return {
        "tool": "dkimwatch",
        "version": version,
        "started": started,
        "finished": finished,
        "now": now,
        "resolvers": list(resolvers),
        "inventory": dict(inventory),
        "queries": dict(queries),
        "summary": summary(ordered),
        "results": ordered,
    }


def badge_svg(counts: Mapping[str, int]) -> str:
    """Green when everything holds, red with the failing count, grey when DNS could not answer
    but nothing failed."""
    import anybadge

    failing = counts.get("failed", 0) + counts.get("xpassed", 0)
    errors = counts.get("error", 0)
    if failing:
        value, colour = f"{failing} failing", "red"
        if errors:
            value += f", {errors} error"
    elif errors:
        value, colour = f"{errors} unresolved", "lightgrey"
    else:
        judged = counts.get("passed", 0)
        value, colour = f"{judged} passing", "green"
    badge = anybadge.Badge(label="dkimwatch", value=value, default_color=colour)
    return str(badge.badge_svg_text)


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
        f'<div class="dkimwatch-spf-tree"><b>SPF include tree</b> ({total} of 10 DNS lookups)'
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


def _answer_html(answer: Any, limit: int | None) -> str:
    text = str(answer)
    if limit is None or len(text) <= limit:
        return escape(text)
    return f"{escape(text[:limit])}… (+{len(text) - limit} chars, whole in results.json)"


def _detail_text(value: Any) -> str:
    """A detail as a reader wants it: lists joined, mappings as key=value, not Python repr."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_detail_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " | ".join(_detail_text(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def evidence_html(verdict: Mapping[str, Any]) -> str:
    """The per-test block: message, warnings, remediation, and the DNS exchanges as a table."""
    parts = ['<div class="dkimwatch-verdict">']
    parts.append(
        f"<p><b>{escape(str(verdict.get('check')))}</b> → "
        f"<b>{escape(str(verdict.get('result')))}</b>: "
        f"{escape(str(verdict.get('message', '')))}</p>"
    )
    waiver = verdict.get("waiver")
    if waiver:
        parts.append(f"<p><b>Waiver:</b> {escape(str(waiver))}</p>")
    for warning in verdict.get("warnings") or ():
        parts.append(f"<p>⚠ {escape(str(warning))}</p>")
    if verdict.get("remediation"):
        parts.append(f"<p><b>Remediation:</b> {escape(str(verdict['remediation']))}</p>")
    details = verdict.get("details") or {}
    shown = {k: v for k, v in details.items() if k != "tree"}
    if shown:
        parts.append(
            "<p>"
            + "; ".join(f"{escape(str(k))}: {escape(_detail_text(v))}" for k, v in shown.items())
            + "</p>"
        )
    if isinstance(details.get("tree"), Mapping):
        parts.append(spf_tree_html(details["tree"]))
    evidence = verdict.get("evidence") or ()
    if evidence:
        # Lean: styles come once from EVIDENCE_CSS, and a passing verdict's long records
        # (keys) are shortened here; results.json keeps every record whole.
        limit = HTML_RDATA_LIMIT if verdict.get("outcome") == "passed" else None
        parts.append(
            '<table class="dkimwatch-evidence">'
            "<tr><th>query</th><th>type</th><th>server</th><th>rcode</th><th>answers</th>"
            "<th>TTL</th><th>ms</th><th>at</th></tr>"
        )
        for ev in evidence:
            answers = "<br>".join(_answer_html(a, limit) for a in ev.get("answers", ())) or "—"
            parts.append(
                f"<tr><td>{escape(str(ev.get('qname')))}</td><td>{escape(str(ev.get('rdtype')))}</td>"
                f"<td>{escape(str(ev.get('server')))}/{escape(str(ev.get('transport', '')))}</td>"
                f"<td>{escape(str(ev.get('rcode')))}</td>"
                f'<td class="dkw-rr">{answers}</td>'
                f"<td>{escape(str(ev.get('ttl')))}</td><td>{escape(str(ev.get('elapsed_ms')))}</td>"
                f"<td>{escape(str(ev.get('at')))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</div>")
    return "".join(parts)


def matrix_columns(results: Iterable[Mapping[str, Any]]) -> list[tuple[str, str | None]]:
    selectors = sorted({str(r["selector"]) for r in results if r.get("selector")})
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


def matrix_html(results: Sequence[Mapping[str, Any]]) -> str:
    """Domain × check summary: colour plus text, failing domains first."""
    if not results:
        return ""
    cols = matrix_columns(results)
    cells: dict[str, dict[tuple[str, str | None], Mapping[str, Any]]] = {}
    for r in results:
        cells.setdefault(str(r["domain"]), {})[(str(r["check"]), r.get("selector"))] = r

    def bad(domain: str) -> int:
        return sum(1 for r in cells[domain].values() if r["outcome"] in ("failed", "error"))

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
            outcome = str(cell["outcome"])
            tds.append(
                f'<td style="background:{_COLOUR.get(outcome, "#999")};color:#fff;'
                f'text-align:center" title="{escape(str(cell.get("message", "")))}">'
                f'<a href="#" data-n="{escape(str(cell.get("nodeid", "")))}" onclick="{_GOTO}" '
                f'style="color:#fff;text-decoration:none">'
                f"{_SHORT.get(outcome, escape(outcome))}</a></td>"
            )
        rows.append(f"<tr><th style='text-align:left'>{escape(domain)}</th>{''.join(tds)}</tr>")
    counts = summary(results)
    line = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    return (
        f'{_GOTO_SCRIPT}<div class="dkimwatch-matrix"><h2>Domain × check</h2>'
        f"<p>{len(domains)} domains, {len(results)} checks: {escape(line)}</p>"
        '<div style="max-height:40em;overflow:auto">'
        '<table border="1" cellpadding="3" '
        'style="border-collapse:collapse;font-size:85%;color:#222">'
        f"<tr><th>domain</th>{head}</tr>{''.join(rows)}</table></div></div>"
    )


def publish(staging: Path, target: Path) -> None:
    """Move every file of ``staging`` into ``target``, each with an atomic rename; files of
    subfolders (history/) after the top-level ones, into the same subfolders of ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    items = sorted(staging.iterdir())
    for item in items:
        if item.is_file():
            os.replace(item, target / item.name)
    for item in items:
        if item.is_dir():
            publish(item, target / item.name)
    shutil.rmtree(staging, ignore_errors=True)


def dumps(doc: Mapping[str, Any]) -> str:
    """results.json: one top-level field per line and one result per line (greppable, and
    diffs line by line). json.dumps(indent=...) runs the pure-Python encoder, seconds per
    thousand domains; compact pieces use the C one."""

    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    fields = []
    for key, value in doc.items():
        if key == "results" and isinstance(value, list):
            rows = ",\n  ".join(compact(r) for r in value)
            fields.append(f'"results": [\n  {rows}\n ]' if value else '"results": []')
        else:
            fields.append(f"{compact(key)}: {compact(value)}")
    return "{\n " + ",\n ".join(fields) + "\n}\n"


FAILURES_CSV_HEADER = ("domain", "selector", "check", "result", "message")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text: DNS data starting with ``=`` (or ``+``,
    ``-``, ``@``) would otherwise run as a formula when an auditor opens the file."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def failures_csv(results: Iterable[Mapping[str, Any]]) -> str:
    """failures.csv: one row per failed or error test, in node id order; the selector is
    empty for domain-level checks."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FAILURES_CSV_HEADER)
    for r in sorted(results, key=lambda r: str(r["nodeid"])):
        if r.get("outcome") not in ("failed", "error"):
            continue
        writer.writerow(
            _csv_cell(r.get(k)) for k in ("domain", "selector", "check", "result", "message")
        )
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
            f"<p>No earlier run recorded: {int(counts.get('new_failures', 0))} failing now.</p>"
        )
    lists = (
        ("new_failures", "New failures", "#c62828", "since"),
        ("fixed", "Fixed", "#2e7d32", "failing_since"),
        ("not_run", "Failing last time, not run this time", "#757575", "since"),
        ("still_failing", "Still failing", "#c62828", "since"),
    )
    for key, title, colour, since_key in lists:
        rows = list(changes.get(key) or ())
        if not rows or (key == "new_failures" and not previous):
            continue
        table = _changes_table(rows, since_key)
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
    if counts.get("not_run"):
        line += f", {int(counts['not_run'])} failing before not run"
    return line


def _changes_table(rows: Sequence[Mapping[str, Any]], since_key: str) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("domain", "check", "selector", "before", "now", "failing since", "message")
    )
    body = []
    for r in rows[:CHANGES_ROWS]:
        cells = (
            r.get("domain"),
            r.get("check"),
            r.get("selector") or "",
            r.get("before") or "—",
            r.get("outcome") or "not run",
            r.get(since_key) or "",
            r.get("message") or "",
        )
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
