"""A partial run never passes for a complete one: a run that selects part of the suite (or
runs none of it, or stops early) leaves reports/ byte for byte as it was and writes its
own outputs to reports/partial/, saying how much of the suite it ran and why. Through the
real suite (pytester), an inventory and zone files on the embedded DNS server."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from dkimwatch import registry
from dkimwatch.model import Domain
from dkimwatch.report import load_results
from selftests import tenantkit
from selftests.suitekit import REPO, install_suite

pytest_plugins = ["pytester"]


def snapshot(reports: Path) -> dict[str, bytes]:
    """Every file of reports/ (history/ included) but the partial run's own folder and
    pytest's cache."""
    return {
        str(p.relative_to(reports)): p.read_bytes()
        for p in sorted(reports.rglob("*"))
        if p.is_file() and p.relative_to(reports).parts[0] not in ("partial", ".cache")
    }


def partial_doc(pytester: pytest.Pytester) -> dict[str, Any]:
    return dict(load_results(pytester.path / "reports" / "partial" / "results.json"))


@pytest.fixture
def audited(pytester: pytest.Pytester) -> pytest.Pytester:
    """The suite and a tenant, audited once completely: reports/ holds that run."""
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = load_results(pytester.path / "reports" / "results.json")
    assert doc["partial"] is None
    assert len(list((pytester.path / "reports" / "history").iterdir())) == 1
    assert not (pytester.path / "reports" / "partial").exists()
    return pytester


# tests in the whole suite
SUITE = sum(registry.tests_per_domain(Domain(c.domain, c.domain)) for c in tenantkit.cases())


DOMAINS = len({c.domain for c in tenantkit.cases()})  # spf: one test per domain
SELECTIONS = [
    (["-k", "healthy.example"], SUITE // DOMAINS, "-k healthy.example"),
    (["-m", "spf"], DOMAINS, "-m spf"),
    (["tests/test_spf.py"], DOMAINS, "test paths tests/test_spf.py"),
    (
        ["--deselect", "tests/test_spf.py::test_spf[healthy.example]"],
        SUITE - 1,
        "--deselect tests/test_spf.py::test_spf[healthy.example]",
    ),
    # the gate: both CNAMEs, both targets, both keys and the signing selector
    (["--gate", "healthy.example"], 7, "--gate healthy.example"),
    (["-x"], None, "stopped early"),
]


def test_a_partial_run_leaves_reports_alone_and_says_what_it_ran(
    audited: pytest.Pytester,
) -> None:
    reports = audited.path / "reports"
    before = snapshot(reports)
    for args, selected, why in SELECTIONS:
        result = audited.runpytest_subprocess(*args)
        assert snapshot(reports) == before, args
        doc = partial_doc(audited)
        partial = doc["partial"]
        assert partial["total"] == SUITE
        assert partial["selected"] == len(doc["results"])
        if selected is not None:
            assert partial["selected"] == selected, args
        else:
            assert 0 < partial["selected"] < SUITE
        assert why in partial["why"]
        headline = f"partial run: {partial['selected']} of {SUITE} checks"
        assert headline in (reports / "partial" / "badge.svg").read_text()
        assert headline in (reports / "partial" / "report.html").read_text()
        out = result.stdout.str()
        assert headline in out
        assert f"Generated html report: {(reports / 'partial' / 'report.html').as_uri()}" in out
        assert doc["changes"]["recorded"] is None


def test_no_test_selected_touches_nothing_and_keeps_exit_5(audited: pytest.Pytester) -> None:
    reports = audited.path / "reports"
    before = snapshot(reports)
    audited.runpytest_subprocess("-k", "healthy.example")
    (reports / "partial" / "left-over.txt").write_text("from an older partial run")
    result = audited.runpytest_subprocess("-k", "nosuchdomain")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert snapshot(reports) == before
    assert "0 passing" not in (reports / "badge.svg").read_text()
    # The partial folder is replaced as a whole: nothing of the earlier partial run stays.
    assert not (reports / "partial" / "left-over.txt").exists()
    doc = partial_doc(audited)
    assert doc["partial"] == {"selected": 0, "total": SUITE, "why": "-k nosuchdomain; no test ran"}
    badge = (reports / "partial" / "badge.svg").read_text()
    assert f"partial run: 0 of {SUITE} checks" in badge
    assert "nothing ran" in badge
    assert not list(reports.glob(".staging-*"))
    assert not list(reports.glob(".partial-old-*"))


def test_a_complete_run_prints_where_its_report_is(pytester: pytest.Pytester) -> None:
    """Not the staging folder the report was written to and that is gone once published."""
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    result = pytester.runpytest_subprocess()
    out = result.stdout.str()
    final = pytester.path / "reports" / "report.html"
    assert f"Generated html report: {final.as_uri()}" in out
    assert ".staging-" not in out
    assert final.exists()


def test_a_skip_points_at_the_test_not_the_plugin(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    result = pytester.runpytest_subprocess("-rs", "-m", "dkim")
    skips = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert skips
    for line in skips:
        why = r"(no key record at |no Get-DkimSigningConfig export )"  # dkim_key, dkim_enabled
        assert re.match(rf"SKIPPED \[\d+\] tests/test_dkim\.py:\d+: {why}", line), line


def shipped_config(pytester: pytest.Pytester) -> None:
    """The suite with the project's own pyproject.toml (its addopts and cache_dir)."""
    shutil.copy(REPO / "conftest.py", pytester.path / "conftest.py")
    shutil.copytree(REPO / "tests", pytester.path / "tests")
    shutil.copy(REPO / "pyproject.toml", pytester.path / "pyproject.toml")


def test_last_failed_reruns_the_failures_as_a_partial_run(pytester: pytest.Pytester) -> None:
    shipped_config(pytester)
    tenantkit.write_tenant(pytester.path)
    reports = pytester.path / "reports"
    # No run before: --lf has no failures to go by, runs everything, and that is complete.
    first = pytester.runpytest_subprocess("--lf")
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    whole = load_results(reports / "results.json")
    assert whole["partial"] is None
    assert len(whole["results"]) == SUITE
    assert whole["changes"]["recorded"]
    failing = {r["nodeid"] for r in whole["results"] if r["outcome"] in ("failed", "error")}
    assert (reports / ".cache").is_dir()
    assert not (pytester.path / ".pytest_cache").exists()

    before = snapshot(reports)
    again = pytester.runpytest_subprocess("--lf")
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    assert snapshot(reports) == before
    doc = partial_doc(pytester)
    assert {r["nodeid"] for r in doc["results"]} == failing
    assert doc["partial"]["selected"] == len(failing)
    assert "--lf" in doc["partial"]["why"]

    # --ff runs everything (the failures first): a complete run.
    pytester.runpytest_subprocess("--ff")
    doc = load_results(reports / "results.json")
    assert doc["partial"] is None
    assert doc["started"] != whole["started"]


def test_the_cache_does_not_keep_every_test_id_ever_run(pytester: pytest.Pytester) -> None:
    """pytest's cache would add each run's test ids (for --nf) to a list read and rewritten
    by every later run: an estate's run would slow the next small one. Kept for --nf only."""
    shipped_config(pytester)
    tenantkit.write_tenant(pytester.path)
    stored = pytester.path / "reports" / ".cache" / "v" / "cache" / "nodeids"
    stored.parent.mkdir(parents=True)
    stored.write_text(json.dumps([f"tests/test_spf.py::test_spf[d{i}.example]" for i in range(50)]))
    pytester.runpytest_subprocess()
    assert json.loads(stored.read_text()) == []
    assert (stored.parent / "lastfailed").is_file()  # --lf still has its failures
    pytester.runpytest_subprocess("--nf")
    assert len(json.loads(stored.read_text())) == SUITE


def test_outside_the_project_says_how_to_point_at_the_suite(pytester: pytest.Pytester) -> None:
    """No ini file, no conftest.py, no tests/: pytest collects nothing, and dkimwatch says
    what works instead."""
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    hint = [line for line in result.stdout.lines if line.startswith("dkimwatch:")]
    assert hint == [
        f"dkimwatch: no compliance suite here; run pytest in {REPO}, or name its "
        f"tests: pytest {REPO / 'tests'} --domains=PATH"
    ]
