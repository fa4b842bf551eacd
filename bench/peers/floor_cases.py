"""The floor's tests, taken from dkimwatch's registry: for an inventory (a file, a directory
of tenants' files, or several), every test the suite runs, as (check, test id).

The same function names (``test_<check>``), the same ids and the same count per domain as
the suite (registry.cases, the suite's parametrization), so the floor cannot drift when a
check is added. Written to a JSON file before the floor runs: the timed floor reads that
list and imports nothing of dkimwatch.

    .venv/bin/python bench/peers/floor_cases.py --domains domains.yaml -o floor-cases.json
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


def write(given: Sequence[Path], out: Path) -> int:
    """Write the floor's cases for ``given`` to ``out``; the number of tests."""
    tests = floor_cases(given)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"format": FORMAT, "tests": tests}) + "\n")
    return sum(len(ids) for ids in tests.values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--domains", type=Path, action="append", required=True)
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(f"{args.out}: {write(args.domains, args.out)} tests")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
