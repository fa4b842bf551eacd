"""The shipped demo tenant: `make report` must show exactly the failures it was built with."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dkimwatch.report import load_results

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-22T09:00:00Z"  # the instant demo/expected.json was written for


def test_demo_tenant_matches_its_expected_verdicts(pytester: pytest.Pytester) -> None:
    shutil.copy(REPO / "conftest.py", pytester.path)
    shutil.copy(REPO / "domains.yaml", pytester.path)
    shutil.copytree(REPO / "tests", pytester.path / "tests")
    shutil.copytree(REPO / "demo", pytester.path / "demo")
    (pytester.path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--now", NOW, "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the demo has broken domains on purpose
    doc = load_results(pytester.path / "reports" / "results.json")
    expected = json.loads((REPO / "demo" / "expected.json").read_text())
    got = {r["nodeid"]: {"outcome": r["outcome"], "result": r["result"]} for r in doc["results"]}
    assert set(got) == set(expected)
    wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not wrong, wrong
    assert doc["summary"]["error"] == 0
    assert 60 <= len({r["domain"] for r in doc["results"]}) <= 80


def test_demo_tenant_from_its_exports_matches_its_expected_verdicts(
    pytester: pytest.Pytester,
) -> None:
    """The same tenant from its Get-DkimSigningConfig and Get-AcceptedDomain exports
    (demo/domains-export.yaml): every accepted domain audited, dkim_enabled judged from the
    export: a domain missing from it and a disabled one fail, the domain no one may send
    from and the coexistence domain are skipped with the reason, the initial domain passes."""
    shutil.copy(REPO / "conftest.py", pytester.path)
    shutil.copytree(REPO / "tests", pytester.path / "tests")
    shutil.copytree(REPO / "demo", pytester.path / "demo")
    (pytester.path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--now", NOW, "--domains=demo/domains-export.yaml"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = load_results(pytester.path / "reports" / "results.json")
    expected = json.loads((REPO / "demo" / "expected-export.json").read_text())
    got = {r["nodeid"]: {"outcome": r["outcome"], "result": r["result"]} for r in doc["results"]}
    assert set(got) == set(expected), set(got) ^ set(expected)
    wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not wrong, wrong
    assert doc["summary"]["error"] == 0
    kinds = json.loads((REPO / "demo" / "kinds.json").read_text())
    for kind in ("dkim_config_missing", "disabled", "sending_disabled", "coexistence"):
        assert kind in kinds.values()
