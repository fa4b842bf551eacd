"""The peer suites read their domain list and resolver from the environment."""

from __future__ import annotations

import os
from pathlib import Path


def domains() -> list[str]:
    path = Path(os.environ["BENCH_DOMAINS"])
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


SELECTORS = ("selector1", "selector2")


def selector_cases() -> list[str]:
    return [f"{s}._domainkey.{d}" for d in domains() for s in SELECTORS]
