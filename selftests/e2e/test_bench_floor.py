"""The benchmark's floor (bench/peers/test_floor.py) is like for like with the suite: for
the same inventory it collects the same test functions with the same ids, as many per
domain as the registry gives (a check added to the registry reaches the floor by itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

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


def test_the_floor_can_end_as_the_suite_did(tmp_path: Path) -> None:
    """With --outcomes, each floor test ends as the suite's test of that id did: the same
    counts per outcome, and the suite's message on each failure."""
    domains = REPO / "domains.yaml"
    reports = tmp_path / "reports"
    subprocess.run(
        [sys.executable, "-m", "pytest", f"--domains={domains}", f"--reports={reports}", "-q"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    doc = json.loads((reports / "results.json").read_text())
    cases = tmp_path / "floor-cases.json"
    floor_cases.write([domains], cases, reports / "results.json")
    junit = tmp_path / "floor.xml"
    argv = ["-c", str(PEERS / "pytest.ini"), f"--rootdir={PEERS}", str(PEERS / "test_floor.py")]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *argv, "-q", "-rN", f"--junitxml={junit}"],
        cwd=REPO,
        env={**os.environ, "BENCH_FLOOR_CASES": str(cases)},
        capture_output=True,
        text=True,
        check=False,
    )
    summary = doc["summary"]
    last = proc.stdout.strip().splitlines()[-1]
    for outcome in ("failed", "passed", "skipped", "xfailed"):
        if summary[outcome]:
            assert f"{summary[outcome]} {outcome}" in last, (outcome, last)
    failed = next(r for r in doc["results"] if r["outcome"] == "failed")
    said = {f.get("message") for f in ElementTree.parse(junit).iter("failure")}
    assert f"Failed: {failed['message']}" in said  # pytest names the exception
