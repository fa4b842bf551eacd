"""selftests/conftest.py: a skipped tier fails under CI=true and stays a skip elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SELFTESTS = Path(__file__).resolve().parents[1]

TIER_TESTS = """
import pytest

pytestmark = [pytest.mark.testbed, pytest.mark.skipif(True, reason="needs nsd-checkzone")]

def test_bed():
    pass
"""
OTHER_TESTS = """
import pytest

@pytest.mark.skip(reason="not a tier")
def test_plain_skip():
    pass

@pytest.mark.browser
def test_browser_runs():
    pass

@pytest.mark.browser
@pytest.mark.xfail(reason="known", run=False)
def test_browser_xfail():
    pass
"""


@pytest.fixture
def tiers(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(SELFTESTS / "conftest.py", pytester.path / "conftest.py")
    pytester.makeini(
        "[pytest]\nmarkers =\n    testbed: test bed\n    browser: browser\naddopts = -ra\n"
    )
    pytester.makepyfile(test_tier=TIER_TESTS, test_other=OTHER_TESTS)
    return pytester


def test_ci_turns_a_skipped_tier_into_a_failure_naming_what_is_missing(
    tiers: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = tiers.runpytest_subprocess()
    result.assert_outcomes(errors=1, passed=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*CI=true: the testbed tier must run, but it would be skipped: needs nsd-checkzone*"]
    )


def test_without_ci_a_skipped_tier_is_a_reported_skip(
    tiers: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = tiers.runpytest_subprocess()
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    result.stdout.fnmatch_lines(["SKIPPED*needs nsd-checkzone"])
    assert result.ret == pytest.ExitCode.OK
