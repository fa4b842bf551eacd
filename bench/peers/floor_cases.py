"""The floor's tests, taken from dkimwatch's registry: for an inventory (a file, a directory
of tenants' files, or several), every test the suite runs, as (check, test id).

The same function names (``test_<check>``), the same ids and the same count per domain as
the suite (registry.cases, the suite's parametrization), so the floor cannot drift when a
check is added. Written to a JSON file before the floor runs: the timed floor reads that
list and imports nothing of dkimwatch.

    .venv/bin/python bench/peers/floor_cases.py --domains domains.yaml -o floor-cases.json

With ``--outcomes results.json`` (a run of the suite on the same inventory) the floor's
tests also end as the suite's did: each test the suite did not pass is skipped, xfailed or
failed by pytest's own calls with the suite's message, so pytest and pytest-html do the
work of a report of the same shape (rows, messages) while the tests still judge nothing.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from dkimwatch.checks.verdict import selector_name
from dkimwatch.inventory import load_inventories, load_inventory
from dkimwatch.model import Domain
from dkimwatch.registry import CHECKS, cases

FORMAT = "dkimwatch-floor-cases/1"


def domains_of(given: Sequence[Path]) -> list[Domain]:
    """The domains a run of ``--domains`` ``given`` audits, in the suite's order (a directory
    or several files: a run of many tenants, read as the suite reads it)."""
    if len(given) > 1 or given[0].is_dir():
        return [d for inv in load_inventories(list(given)) for d in inv.domains]
    return list(load_inventory(given[0]).domains)


def floor_cases(given: Sequence[Path]) -> dict[str, list[str]]:
    """Test ids per check, in registry order: what the suite parametrizes ``test_<check>``
    with (a selector check's id is the selector's key name, a domain check's the domain)."""
    ids: dict[str, list[str]] = {c.id: [] for c in CHECKS}
    for domain in domains_of(given):
        for check, selector in cases(domain):
            ids[check].append(selector_name(domain, selector) if selector else domain.name)
    return ids


def suite_outcomes(results: Path) -> dict[str, dict[str, list[str]]]:
    """Per check, the test id of every result a run did not pass, with its outcome and
    message (what the floor's test of that id does instead of passing)."""
    doc = json.loads(results.read_text(encoding="utf-8"))
    out: dict[str, dict[str, list[str]]] = {}
    for row in doc["results"]:
        if row["outcome"] == "passed":
            continue
        nodeid: str = row["nodeid"]
        case = nodeid[nodeid.index("[") + 1 : -1]
        out.setdefault(row["check"], {})[case] = [row["outcome"], row["message"]]
    return out


def write(given: Sequence[Path], out: Path, outcomes: Path | None = None) -> int:
    """Write the floor's cases for ``given`` to ``out`` (with the outcomes of a run's
    results.json, when given); the number of tests."""
    tests = floor_cases(given)
    doc: dict[str, object] = {"format": FORMAT, "tests": tests}
    if outcomes is not None:
        doc["outcomes"] = suite_outcomes(outcomes)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc) + "\n")
    return sum(len(ids) for ids in tests.values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--domains", type=Path, action="append", required=True)
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--outcomes", type=Path, help="a run's results.json: end as it did")
    args = parser.parse_args(argv)
    print(f"{args.out}: {write(args.domains, args.out, args.outcomes)} tests")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
