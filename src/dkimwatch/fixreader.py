"""The fixes of a results.json, with their findings' context, for ``dkimwatch fixes``.

Reads only what it needs: each failed result's ``domain``, ``check``, ``selector``,
``message``, ``evidence`` and ``fixes`` (typed fixes, dkimwatch.fixes.to_json), and from
``changes`` since when a still-failing test fails. Bad input is one ValueError line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dkimwatch.fixes import from_json
from dkimwatch.fixformats.base import FixContext, FixItem
from dkimwatch.report import ResultsFormatError, load_results


def _evidence_line(e: Any) -> str:
    if not isinstance(e, dict):
        return str(e)
    answers = "; ".join(str(a) for a in e.get("answers") or []) or "(no records)"
    return f"{e.get('qname')} {e.get('rdtype')} @{e.get('server')}: {e.get('rcode')} {answers}"


def read_fix_items(path: Path) -> list[FixItem]:
    """(context, fix) for every fix of every failed result, in results order."""
    try:
        data = load_results(path)  # the evidence table expanded into each result
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    except ResultsFormatError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ValueError(f"{path}: not a dkimwatch results.json (no results list)")
    results = [r for r in data["results"] if isinstance(r, dict)]
    if results and not any("fixes" in r for r in results):
        raise ValueError(
            f"{path}: its results have no 'fixes' (written by a dkimwatch without typed "
            "fixes): run the suite again"
        )
    since: dict[str, str] = {}
    changes = data.get("changes")
    if isinstance(changes, dict):
        for entry in changes.get("still_failing") or []:
            if isinstance(entry, dict) and entry.get("nodeid"):
                when = entry.get("failing_since") or entry.get("since")
                if when:
                    since[str(entry["nodeid"])] = str(when)
    items: list[FixItem] = []
    for n, result in enumerate(results, 1):
        if result.get("outcome") != "failed" or not result.get("fixes"):
            continue
        ctx = FixContext(
            domain=str(result.get("domain", "")),
            check=str(result.get("check", "")),
            selector=result.get("selector") or None,
            finding=str(result.get("message", "")),
            since=since.get(str(result.get("nodeid", ""))),
            evidence=tuple(_evidence_line(e) for e in result.get("evidence") or []),
        )
        for m, fix in enumerate(result["fixes"], 1):
            try:
                items.append((ctx, from_json(fix)))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"{path}: results[{n}] ({result.get('nodeid')}): fixes[{m}]: not a fix "
                    f"(expected kind dns, exchange, support or advice with its fields): {exc!r}"
                ) from None
    return items
