"""Under CI=true a tier that would be skipped fails instead, naming what is missing.

The test-bed tiers (marker ``testbed``: NSD and Unbound) and the browser tier (marker
``browser``: Chromium) skip themselves when their programs are missing. On a developer's
machine that is allowed (``-ra`` lists the skips and their reasons); in CI a green run
with whole tiers skipped would hide that they never ran, so there the skip becomes a
failure. ``make test`` installs everything the tiers need.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

TIERS = ("testbed", "browser")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    tier = next((t for t in TIERS if item.get_closest_marker(t)), None)
    if tier is None or not report.skipped or not in_ci() or hasattr(report, "wasxfail"):
        return report
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"CI=true: the {tier} tier must run, but it would be skipped: "
        f"{reason.removeprefix('Skipped: ')} (make test installs what it needs)"
    )
    return report
