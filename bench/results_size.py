"""Where results.json's bytes go, and what other layouts of the same facts would weigh.

Issue 16 asks for results.json ≤ 40 MB at 10,000 domains (110,000 verdicts) "with every
verdict's evidence". This reads a results.json (format 2) and prints its size by part,
then the size of the same verdicts and evidence re-serialised in leaner layouts, each
keeping every verdict's outcome, message, details, fixes and DNS evidence:

  compact        the same document without the spaces after ``,`` and ``:``
  lean rows      rows without empty fields (``[]``, ``{}``, ``null``) and without the
                 per-row ``inventory`` (the ``inventories`` list names each tenant's file)
  no node ids    lean rows without ``nodeid`` (it follows from check, selector and domain)
  shared trees   the SPF include tree of each row's details stored once, as the evidence is
  per domain     rows grouped under their domain (domain and tenant written once)
  lean evidence  exchanges without ``transport`` when it is UDP, ``server`` and ``flags``

The sizes are of the serialised JSON (UTF-8, compact separators from "compact" on).

    .venv/bin/python bench/results_size.py bench/.cache/msp/<label>/single/results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

MB = 1_000_000


def size(obj: object, *, compact: bool = True) -> int:
    separators = (",", ":") if compact else (", ", ": ")
    return len(json.dumps(obj, separators=separators, ensure_ascii=False).encode())


def lean_row(row: dict[str, Any], *, nodeid: bool, tree: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "inventory" or (key == "nodeid" and not nodeid):
            continue
        if key == "details" and not tree and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "tree"}
        if value in (None, [], {}):
            continue
        out[key] = value
    return out


def shared_trees(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Every distinct SPF tree node once (children by id): what storing them like the
    evidence would add."""
    nodes: dict[str, str] = {}

    def intern(node: dict[str, Any]) -> str:
        children = [intern(child) for child in node.get("children", [])]
        text = json.dumps({**node, "children": children}, sort_keys=True)
        return nodes.setdefault(text, f"t{len(nodes) + 1}")

    for row in rows:
        tree = (row.get("details") or {}).get("tree")
        if isinstance(tree, dict):
            intern(tree)
    return {ident: json.loads(text) for text, ident in nodes.items()}


def lean_exchange(exchange: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in exchange.items() if k not in ("server", "flags")}
    if out.get("transport") == "udp":
        del out["transport"]
    return out


def per_domain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for row in rows:
        rest = dict(row)
        domain = rest.pop("domain")
        tenant = rest.pop("tenant", None)
        entry = grouped.setdefault(domain, {"domain": domain, "tenant": tenant, "verdicts": []})
        entry["verdicts"].append(rest)
    return list(grouped.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results.json (dkimwatch-results/2)")
    args = parser.parse_args()
    data = json.loads(args.results.read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = data["results"]
    evidence: dict[str, Any] = data["evidence"]
    verdicts, domains = len(rows), len({row["domain"] for row in rows})
    file_bytes = args.results.stat().st_size

    print(f"{args.results}: {file_bytes / MB:.1f} MB, {verdicts:,} verdicts, {domains:,} domains")
    print(f"  {file_bytes / verdicts:.0f} bytes a verdict, {file_bytes / domains:,.0f} a domain")
    print("by part (as written):")
    for key, value in data.items():
        part = size(value, compact=False)
        if part > 10_000:
            print(f"  {key:<12} {part / MB:8.1f} MB")
    fields: Counter[str] = Counter()
    for row in rows:
        for key, value in row.items():
            fields[key] += size({key: value}, compact=False) - 1
    print("rows by field:")
    for key, part in fields.most_common():
        print(f"  {key:<12} {part / MB:8.1f} MB  {part / verdicts:6.0f} B a verdict")

    lean = [lean_row(row, nodeid=True, tree=True) for row in rows]
    no_ids = [lean_row(row, nodeid=False, tree=True) for row in rows]
    no_trees = [lean_row(row, nodeid=False, tree=False) for row in rows]
    trees = shared_trees(rows)
    exchanges = {key: lean_exchange(value) for key, value in evidence.items()}
    layouts = [
        ("compact", size(rows), size(evidence)),
        ("lean rows", size(lean), size(evidence)),
        ("no node ids", size(no_ids), size(evidence)),
        ("shared trees", size(no_trees) + size(trees), size(evidence)),
        ("per domain", size(per_domain(no_trees)) + size(trees), size(evidence)),
        ("lean evidence", size(per_domain(no_trees)) + size(trees), size(exchanges)),
    ]
    print("the same verdicts and evidence in other layouts (each step adds to the last):")
    print(f"  {'layout':<14} {'verdicts MB':>11} {'evidence MB':>11} {'total MB':>9}")
    for name, row_bytes, evidence_bytes in layouts:
        total = row_bytes + evidence_bytes
        print(f"  {name:<14} {row_bytes / MB:11.1f} {evidence_bytes / MB:11.1f} {total / MB:9.1f}")
    messages = sum(len(row.get("message", "").encode()) for row in rows)
    lean_evidence = size(exchanges)
    print(
        f"messages alone: {messages / MB:.1f} MB; lean evidence alone: {lean_evidence / MB:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
