"""The benchmark's floor (bench/peers/test_floor.py) is like for like with the suite: for
the same inventory it collects the same test functions with the same ids, as many per
domain as the registry gives (a check added to the registry reaches the floor by itself)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dkimwatch import registry
from selftests.tenantkit import write_tenants

REPO = Path(__file__).resolve().parents[2]
PEERS = REPO / "bench" / "peers"
sys.path.insert(0, str(PEERS))

import floor_cases  # noqa: E402


def collected(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """The ``test_<check>[id]`` part of every node id ``pytest --collect-only`` lists."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *argv],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return sorted(line.split("::", 1)[1] for line in proc.stdout.splitlines() if "::" in line)


def suite_tests(domains: Path, reports: Path) -> list[str]:
    return collected([f"--domains={domains}", f"--reports={reports}"], REPO)


def floor_tests(domains: Path, cases: Path) -> list[str]:
    floor_cases.write([domains], cases)
    argv = ["-c", str(PEERS / "pytest.ini"), f"--rootdir={PEERS}", str(PEERS / "test_floor.py")]
    return collected(argv, REPO, {"BENCH_FLOOR_CASES": str(cases)})


@pytest.mark.parametrize("estate", ["demo", "tenants"])
def test_the_floor_collects_the_suites_tests(estate: str, tmp_path: Path) -> None:
    # The demo has every kind of domain (shorthand entries, a non-ASCII name, other tenants);
    # the tenants' directory is a run of many inventories.
    domains = REPO / "domains.yaml" if estate == "demo" else write_tenants(tmp_path)
    floor = floor_tests(domains, tmp_path / "floor-cases.json")
    assert floor == suite_tests(domains, tmp_path / "reports")
    per_domain = sum(registry.tests_per_domain(d) for d in floor_cases.domains_of([domains]))
    assert len(floor) == per_domain
