"""Reporting: results.json, the badge, and the HTML pieces added to pytest-html's report.

Everything shown in HTML goes through html.escape: DNS data is hostile until proven
otherwise (a TXT record may hold markup).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from dkimwatch.checks import DOMAIN_CHECKS, SELECTOR_CHECKS

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
            + "; ".join(f"{escape(str(k))}: {escape(str(v))}" for k, v in shown.items())
            + "</p>"
        )
    evidence = verdict.get("evidence") or ()
    if evidence:
        parts.append(
            '<table class="dkimwatch-evidence" border="1" cellpadding="2" '
            'style="border-collapse:collapse;font-size:90%">'
            "<tr><th>query</th><th>type</th><th>server</th><th>rcode</th><th>answers</th>"
            "<th>TTL</th><th>ms</th><th>at</th></tr>"
        )
        for ev in evidence:
            answers = "<br>".join(escape(str(a)) for a in ev.get("answers", ())) or "—"
            parts.append(
                f"<tr><td>{escape(str(ev.get('qname')))}</td><td>{escape(str(ev.get('rdtype')))}</td>"
                f"<td>{escape(str(ev.get('server')))}/{escape(str(ev.get('transport', '')))}</td>"
                f"<td>{escape(str(ev.get('rcode')))}</td>"
                f'<td style="word-break:break-all">{answers}</td>'
                f"<td>{escape(str(ev.get('ttl')))}</td><td>{escape(str(ev.get('elapsed_ms')))}</td>"
                f"<td>{escape(str(ev.get('at')))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</div>")
    return "".join(parts)


def matrix_columns(results: Iterable[Mapping[str, Any]]) -> list[tuple[str, str | None]]:
    selectors = sorted({str(r["selector"]) for r in results if r.get("selector")})
    cols: list[tuple[str, str | None]] = []
    for check in SELECTOR_CHECKS:
        cols.extend((check, s) for s in selectors)
    cols.extend((check, None) for check in DOMAIN_CHECKS)
    return cols


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
                f"{_SHORT.get(outcome, escape(outcome))}</td>"
            )
        rows.append(f"<tr><th style='text-align:left'>{escape(domain)}</th>{''.join(tds)}</tr>")
    counts = summary(results)
    line = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    return (
        '<div class="dkimwatch-matrix"><h2>Domain × check</h2>'
        f"<p>{len(domains)} domains, {len(results)} checks: {escape(line)}</p>"
        '<div style="max-height:40em;overflow:auto">'
        '<table border="1" cellpadding="3" style="border-collapse:collapse;font-size:85%">'
        f"<tr><th>domain</th>{head}</tr>{''.join(rows)}</table></div></div>"
    )


def publish(staging: Path, target: Path) -> None:
    """Move every file of ``staging`` into ``target``, each with an atomic rename."""
    target.mkdir(parents=True, exist_ok=True)
    for item in sorted(staging.iterdir()):
        if item.is_file():
            os.replace(item, target / item.name)
    shutil.rmtree(staging, ignore_errors=True)


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
