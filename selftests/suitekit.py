"""The shipped compliance suite in a pytester directory, and what its runs wrote: what the
end-to-end selftests (selftests/e2e/) share."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from dkimwatch.report import load_results
from selftests import tenantkit

REPO = Path(__file__).resolve().parents[1]


def install_suite(pytester: pytest.Pytester) -> None:
    """The user-facing suite exactly as shipped: root conftest.py and tests/."""
    shutil.copy(REPO / "conftest.py", pytester.path / "conftest.py")
    shutil.copytree(REPO / "tests", pytester.path / "tests")
    (pytester.path / "pytest.ini").write_text(
        "[pytest]\ntestpaths = tests\naddopts = -p no:cacheprovider\n"
    )


def latest_results(root: Path) -> Path | None:
    """results.json of the newest run under root: reports/ for a complete run,
    reports/partial/ for one that selected (or stopped early)."""
    paths = [p for p in (root / "reports", root / "reports" / "partial") if p.exists()]
    found = [p / "results.json" for p in paths if (p / "results.json").exists()]
    return max(found, key=lambda p: p.stat().st_mtime_ns, default=None)


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    result = pytester.runpytest_subprocess("--now", tenantkit.NOW, *args)
    path = latest_results(pytester.path)
    doc = load_results(path) if path is not None else {}
    return result, doc


def outcomes(doc: dict[str, Any]) -> dict[tuple[str, str, str | None], str]:
    return {(r["domain"], r["check"], r["selector"]): r["outcome"] for r in doc["results"]}
