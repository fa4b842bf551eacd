"""Run history: one compact record per completed run, and what changed since the last one.

A record is a JSON file under ``<reports>/history/``, named by the run's start time
(``20261122T090000Z.json``; a second run in the same second gets ``…Z.1.json``). It keeps,
per test node id, only what a comparison needs: outcome, result, domain, selector, check,
and for a failing test the start time of the first run in which it failed (``since``),
carried forward from record to record.

"Failing" means what makes pytest fail the run: the outcomes ``failed`` and ``error``. A
test that stops failing is "fixed" whatever it became (passed, waived, skipped); the
change says what it became. A test that failed last time and did not run this time (a
selection with ``-k``, or a domain removed from the inventory) is "not run", never fixed.

Everything here is pure except the three small file functions at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1
HISTORY_DIR = "history"
KEEP = 60  # records kept in the history folder (two months of nightly runs)
FAILING = frozenset({"failed", "error"})
_FIELDS = ("outcome", "result", "domain", "selector", "check")
_NAME = re.compile(r"^(\d{8}T\d{6}Z)(?:\.(\d+))?\.json$")


def is_failing(outcome: object) -> bool:
    return outcome in FAILING


def make_record(
    results: Iterable[Mapping[str, Any]],
    *,
    started: str,
    finished: str,
    now: str,
    version: str,
    inventory_sha256: str,
    previous: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The record of this run; ``since`` of failing tests is carried from ``previous``."""
    before = _entries(previous)
    entries: dict[str, dict[str, Any]] = {}
    for r in sorted(results, key=lambda r: str(r["nodeid"])):
        entry = {k: r.get(k) for k in _FIELDS}
        if is_failing(entry["outcome"]):
            entry["since"] = _since(before.get(str(r["nodeid"])), previous) or started
        entries[str(r["nodeid"])] = entry
    return {
        "format": FORMAT,
        "tool": "dkimwatch",
        "version": version,
        "started": started,
        "finished": finished,
        "now": now,
        "inventory_sha256": inventory_sha256,
        "results": entries,
    }


def _entries(record: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    if not record:
        return {}
    results = record.get("results")
    return dict(results) if isinstance(results, Mapping) else {}


def _since(entry: Mapping[str, Any] | None, record: Mapping[str, Any] | None) -> str | None:
    """When ``entry`` (of ``record``) started failing; None when it was not failing."""
    if entry is None or record is None or not is_failing(entry.get("outcome")):
        return None
    return str(entry.get("since") or record.get("started") or "") or None


@dataclass
class Changes:
    """What changed between the previous record and this run's results."""

    previous: dict[str, Any] | None  # started, now, version and file of the previous record
    new_failures: list[dict[str, Any]] = field(default_factory=list)
    fixed: list[dict[str, Any]] = field(default_factory=list)
    still_failing: list[dict[str, Any]] = field(default_factory=list)
    not_run: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "new_failures": len(self.new_failures),
            "fixed": len(self.fixed),
            "still_failing": len(self.still_failing),
            "not_run": len(self.not_run),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "previous": self.previous,
            "counts": self.counts(),
            "new_failures": self.new_failures,
            "fixed": self.fixed,
            "still_failing": self.still_failing,
            "not_run": self.not_run,
        }

    def headline(self) -> str:
        """One line: ``since 2026-11-22T09:00:00Z: 3 new failures, 2 fixed, 75 still failing``."""
        n = self.counts()
        if self.previous is None:
            failing = n["new_failures"]
            return f"first recorded run: {failing} failing"
        parts = [
            _plural(n["new_failures"], "new failure", "new failures"),
            f"{n['fixed']} fixed",
            f"{n['still_failing']} still failing",
        ]
        if n["not_run"]:
            parts.append(f"{n['not_run']} failing before not run")
        return f"since {self.previous.get('started')}: " + ", ".join(parts)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def diff(
    previous: Mapping[str, Any] | None,
    results: Sequence[Mapping[str, Any]],
    *,
    started: str,
    previous_name: str | None = None,
) -> Changes:
    """Compare this run's ``results`` (results.json entries) with the ``previous`` record.

    With no previous record every failing test is a new failure, failing since ``started``.
    """
    meta = None
    if previous is not None:
        meta = {
            "started": previous.get("started"),
            "now": previous.get("now"),
            "version": previous.get("version"),
            "record": previous_name,
        }
    changes = Changes(previous=meta)
    before = _entries(previous)
    seen: set[str] = set()
    for r in sorted(results, key=lambda r: str(r["nodeid"])):
        nodeid = str(r["nodeid"])
        seen.add(nodeid)
        old = before.get(nodeid)
        since = _since(old, previous)
        row = {
            "nodeid": nodeid,
            "domain": r.get("domain"),
            "selector": r.get("selector"),
            "check": r.get("check"),
            "outcome": r.get("outcome"),
            "result": r.get("result"),
            "before": old.get("outcome") if old is not None else None,
            "message": r.get("message", ""),
        }
        if is_failing(r.get("outcome")):
            if since is None:
                changes.new_failures.append({**row, "since": started})
            else:
                changes.still_failing.append({**row, "since": since})
        elif since is not None:
            changes.fixed.append({**row, "failing_since": since})
    for nodeid, old in sorted(before.items()):
        since = _since(old, previous)
        if nodeid in seen or since is None:
            continue
        changes.not_run.append(
            {
                "nodeid": nodeid,
                "domain": old.get("domain"),
                "selector": old.get("selector"),
                "check": old.get("check"),
                "before": old.get("outcome"),
                "since": since,
            }
        )
    return changes


# --- files --------------------------------------------------------------------------------


def record_name(started: str, taken: Iterable[str] = ()) -> str:
    """The file name for a run that started at ``started`` (ISO 8601, UTC), not in ``taken``."""
    stamp = re.sub(r"[^0-9TZ]", "", started.replace("+00:00", "Z"))
    names = set(taken)
    name = f"{stamp}.json"
    n = 0
    while name in names:
        n += 1
        name = f"{stamp}.{n}.json"
    return name


def _order(path: Path) -> tuple[str, int] | None:
    match = _NAME.match(path.name)
    return (match.group(1), int(match.group(2) or 0)) if match else None


def records(folder: Path) -> list[Path]:
    """The record files of ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [(key, p) for p in folder.iterdir() if p.is_file() and (key := _order(p))]
    return [p for _, p in sorted(found)]


def load_previous(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The newest readable record in ``folder`` and its file name; (None, None) when none.

    A record that cannot be read (edited by hand, another tool's file) is passed over."""
    for path in reversed(records(folder)):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("format") == FORMAT:
            return doc, path.name
    return None, None


def prune(folder: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the newest ``keep`` records; return what was deleted."""
    old = records(folder)[:-keep] if keep > 0 else []
    for path in old:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return old


def dumps_record(record: Mapping[str, Any]) -> str:
    """Compact JSON: one line per test keeps it small and still diffable by eye."""
    head = {k: v for k, v in record.items() if k != "results"}
    lines = [
        f"{json.dumps(nodeid, ensure_ascii=False)}:"
        f"{json.dumps(entry, ensure_ascii=False, separators=(',', ':'))}"
        for nodeid, entry in record.get("results", {}).items()
    ]
    fields = [
        f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(v, ensure_ascii=False)}"
        for k, v in head.items()
    ]
    fields.append('"results":{\n' + ",\n".join(lines) + "\n}")
    return "{" + ",".join(fields) + "}\n"
