"""The peer suites read their domain list, the floor's cases and the resolver from the
environment."""

from __future__ import annotations

import json
import os
from pathlib import Path


def domains() -> list[str]:
    path = Path(os.environ["BENCH_DOMAINS"])
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


SELECTORS = ("selector1", "selector2")


def selector_cases() -> list[str]:
    return [f"{s}._domainkey.{d}" for d in domains() for s in SELECTORS]


def floor_tests() -> dict[str, list[str]]:
    """The floor's test ids per check (BENCH_FLOOR_CASES, written by floor_cases.py from
    dkimwatch's registry)."""
    doc = json.loads(Path(os.environ["BENCH_FLOOR_CASES"]).read_text())
    if doc.get("format") != "dkimwatch-floor-cases/1":
        raise ValueError(f"{os.environ['BENCH_FLOOR_CASES']}: not a floor cases file")
    tests: dict[str, list[str]] = doc["tests"]
    return tests


def floor_outcomes() -> dict[str, dict[str, list[str]]]:
    """Per check, the test ids the floor ends as the suite did (outcome, message); empty:
    every test passes."""
    doc = json.loads(Path(os.environ["BENCH_FLOOR_CASES"]).read_text())
    outcomes: dict[str, dict[str, list[str]]] = doc.get("outcomes", {})
    return outcomes
