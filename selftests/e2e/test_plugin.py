"""The compliance suite end to end, through pytester: the real tests/ files, an inventory,
zone files on the embedded DNS server (real sockets), and the outputs they produce."""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from typing import Any

import pytest

from dkimwatch.report import FINDINGS
from selftests import tenantkit
from selftests.suitekit import REPO, install_suite, outcomes, run

pytest_plugins = ["pytester"]


def test_every_failure_kind(tenant: pytest.Pytester) -> None:
    result, doc = run(tenant)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    got = outcomes(doc)
    domains = {c.domain for c in tenantkit.cases()}
    assert {d for d, _, _ in got} == domains
    assert len(got) == tenantkit.suite_size(tenant.path / "domains.yaml")
    wrong = {
        key: (value, tenantkit.expected_outcome(*key))
        for key, value in got.items()
        if value != tenantkit.expected_outcome(*key)
    }
    assert not wrong, wrong
    # Every verdict carries evidence (dkim_enabled's is the export or the inventory, not
    # DNS), and failures say what to do.
    for r in doc["results"]:
        assert r["evidence"] or r["check"] == "dkim_enabled", r["nodeid"]
        assert r["message"]
        if r["outcome"] == "failed" and r["check"].startswith("dkim"):
            assert r["remediation"], r["nodeid"]
    by_id = {r["nodeid"]: r for r in doc["results"]}
    twice = by_id[
        "tests/test_dkim.py::test_dkim_cname[selector1._domainkey.appended-twice.example]"
    ]
    assert "appended twice" in twice["message"]
    other = by_id["tests/test_dkim.py::test_dkim_cname[selector2._domainkey.other-tenant.example]"]
    assert "fabrikamcorp" in other["message"]
    assert doc["now"] == tenantkit.NOW
    assert sum(doc["summary"].values()) == len(doc["results"])
    for name in ("report.html", "junit.xml", "badge.svg", "results.json"):
        assert (tenant.path / "reports" / name).stat().st_size > 0
    assert not list((tenant.path / "reports").glob(".staging-*"))


def test_selection_by_domain_and_marker(tenant: pytest.Pytester) -> None:
    result, doc = run(tenant, "-k", "healthy.example")
    result.assert_outcomes(
        passed=tenantkit.suite_size(tenant.path / "domains.yaml", "healthy.example")
    )
    assert {r["domain"] for r in doc["results"]} == {"healthy.example"}
    result, doc = run(tenant, "-m", "spf")
    assert {r["check"] for r in doc["results"]} == {"spf"}
    result = tenant.runpytest_subprocess("--now", tenantkit.NOW, "--collect-only", "-q")
    assert "tests/test_dkim.py::test_dkim_cname[selector1._domainkey.healthy.example]" in (
        result.stdout.str()
    )


def test_a_selected_run_asks_only_what_its_tests_need(tenant: pytest.Pytester) -> None:
    """A whole-suite run hands the resolving helper everything before collection; a run
    that selects (-k, test paths) waits for collection and asks only its tests' questions."""
    _, whole = run(tenant)
    _, one = run(tenant, "-k", "healthy.example")
    _, spf = run(tenant, "tests/test_spf.py")
    asked = whole["queries"]["questions"]
    assert whole["queries"]["sent"] == asked
    assert 0 < one["queries"]["questions"] < asked / 5
    assert {r["check"] for r in spf["results"]} == {"spf"}
    assert 0 < spf["queries"]["questions"] < asked / 2


def test_xdist_gives_the_same_verdicts(tenant: pytest.Pytester) -> None:
    _, serial = run(tenant)
    _, parallel = run(tenant, "-n", "2")

    def verdicts(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
        return [(r["nodeid"], r["outcome"], r["result"], r["message"]) for r in doc["results"]]

    assert verdicts(serial) == verdicts(parallel)
    assert serial["summary"] == parallel["summary"]


def test_dead_server_is_an_error_never_a_failure(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    # A loopback port where nothing listens: every question fails to get an answer.
    result, doc = run(pytester, "--nameserver", "127.0.0.1:9", "-k", "healthy or no-spf")
    assert doc["results"]
    # dkim_enabled asks no DNS (it judges the inventory's enabled:); every other check errs.
    assert {r["outcome"] for r in doc["results"] if r["check"] != "dkim_enabled"} == {"error"}
    assert {r["result"] for r in doc["results"] if r["check"] != "dkim_enabled"} == {"temperror"}
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_bad_inventory_is_one_line_and_keeps_previous_reports(tenant: pytest.Pytester) -> None:
    run(tenant)
    before = (tenant.path / "reports" / "results.json").read_text()
    bad = tenant.path / "bad.yaml"
    bad.write_text("version: 1\ndomains:\n  - name: x.example\n    selector1_cnam: y\n")
    result = tenant.runpytest_subprocess("--domains", str(bad))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"{bad}:4: domains[x.example].selector1_cnam: unknown key" in err
    assert "Traceback" not in err + result.stdout.str()
    assert (tenant.path / "reports" / "results.json").read_text() == before


def test_inventory_outside_the_project_with_a_space(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`--domains /elsewhere/domains.yaml` (no '='): pytest would root the session at the
    file's directory; dkimwatch runs it again as `--domains=…` and audits as asked."""
    install_suite(pytester)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    inventory = tenantkit.write_tenant(elsewhere)
    result, doc = run(pytester, "--domains", str(inventory), "-k", "healthy.example")
    result.assert_outcomes(passed=tenantkit.suite_size(inventory, "healthy.example"))
    assert {r["nodeid"].split("::")[0] for r in doc["results"]} == {
        "tests/test_dkim.py",
        "tests/test_spf.py",
        "tests/test_dmarc.py",
        "tests/test_mx.py",
    }
    assert doc["inventory"]["path"] == str(inventory)


def test_waiver_makes_a_failure_xfail(tenant: pytest.Pytester) -> None:
    inventory = tenant.path / "domains.yaml"
    inventory.write_text(
        inventory.read_text()
        + "waivers:\n  - domain: no-dmarc.example\n    check: dmarc\n"
        + '    reason: "retiring, CHG-1"\n    expires: 2027-01-31\n'
        + "  - domain: no-spf.example\n    check: spf\n    reason: old\n    expires: 2026-01-01\n"
    )
    _, doc = run(tenant, "-k", "no-dmarc or no-spf")
    got = {(r["domain"], r["check"]): r for r in doc["results"]}
    assert got[("no-dmarc.example", "dmarc")]["outcome"] == "xfailed"
    assert got[("no-dmarc.example", "dmarc")]["result"] == "fail"
    assert "CHG-1" in got[("no-dmarc.example", "dmarc")]["waiver"]
    assert got[("no-spf.example", "spf")]["outcome"] == "failed"
    assert "expired" in got[("no-spf.example", "spf")]["waiver"]


def test_hostile_txt_is_escaped_in_the_report(tenant: pytest.Pytester) -> None:
    zone = tenant.path / "zones" / "healthy.example.zone"
    zone.write_text(
        zone.read_text().replace(
            '"v=DMARC1; p=reject; rua=mailto:dmarc@healthy.example"',
            '"v=DMARC1; p=reject; rua=mailto:dmarc@healthy.example" '
            '"<script>alert(1)</script><img src=x onerror=alert(2)>"',
        )
    )
    run(tenant, "-k", "healthy.example")
    html = (tenant.path / "reports" / "partial" / "report.html").read_text()
    assert "<script>alert(1)" not in html
    assert "<img src=x onerror" not in html
    # The record is shown, escaped: pytest-html keeps each test's evidence table in the
    # data-jsonblob attribute that its script renders.
    match = re.search(r'data-jsonblob="([^"]*)"', html)
    assert match is not None
    blob = unescape(match.group(1))
    assert "<script>alert(1)" not in blob and "<img src=x" not in blob
    assert (
        "_dmarc.healthy.example 3600 TXT &quot;v=DMARC1; p=reject; rua=mailto:dmarc@healthy."
        "example&quot; &quot;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)"
        "&gt;&quot;"
    ) in blob


def test_the_report_data_holds_the_findings_alone(tenant: pytest.Pytester) -> None:
    """report.html carries a row for each finding and nothing for the other tests: at an
    MSP's size the test ids of every passed check would be most of the page."""
    _, doc = run(tenant)
    html = (tenant.path / "reports" / "report.html").read_text()
    match = re.search(r'data-jsonblob="([^"]*)"', html)
    assert match is not None
    tests = json.loads(unescape(match.group(1)))["tests"]
    findings = {r["nodeid"] for r in doc["results"] if r["outcome"] in FINDINGS}
    assert findings and {t.removesuffix("::setup") for t in tests} == findings
    assert all(rows for rows in tests.values())
    assert len(tests) < len(doc["results"]) // 2


LOADERS = """
import sys


def pytest_unconfigure(config):
    rewritten = sorted(
        name
        for name, module in list(sys.modules.items())
        if name.split(".")[0] in ("dkimwatch", "conftest")
        and type(getattr(module, "__loader__", None)).__name__ == "AssertionRewritingHook"
    )
    with open("rewritten.txt", "w") as out:
        out.write("\\n".join(rewritten))
"""


def test_the_shipped_settings_do_not_rewrite_dkimwatch(pytester: pytest.Pytester) -> None:
    """pyproject.toml's addopts turn pytest's assertion rewriting off for an audit: pytest
    would otherwise rewrite every module of dkimwatch (a plugin's distribution) on each run,
    for tests that assert nothing themselves."""
    shutil.copy(REPO / "conftest.py", pytester.path / "conftest.py")
    shutil.copytree(REPO / "tests", pytester.path / "tests")
    shutil.copy(REPO / "pyproject.toml", pytester.path / "pyproject.toml")
    tenantkit.write_tenant(pytester.path)
    pytester.makepyfile(loaders=LOADERS)
    result = pytester.runpytest_subprocess("--now", tenantkit.NOW, "-p", "loaders")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the demo tenant has findings
    loaded = (pytester.path / "rewritten.txt").read_text()
    assert loaded == "", f"rewritten by pytest: {loaded.split()}"


SPAWN_WATCH = """
import sys

import dkimwatch.helper

_start = dkimwatch.helper.Helper.__init__


def _watched(self):
    loaded = [name for name in ("dkimwatch.checks", "dkimwatch.run") if name in sys.modules]
    with open("at_helper_start.txt", "a") as out:
        out.write(" ".join(loaded) + "\\n")
    _start(self)


dkimwatch.helper.Helper.__init__ = _watched
"""


def test_the_helper_starts_before_the_controller_imports_the_checks(
    tenant: pytest.Pytester,
) -> None:
    """The controller starts the helper before it imports the checks and the run (its
    own longest wait in a small run), so that the two processes import side by side."""
    tenant.makepyfile(spawnwatch=SPAWN_WATCH)
    result, doc = run(tenant, "-p", "spawnwatch")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert len(doc["results"]) == tenantkit.suite_size(tenant.path / "domains.yaml")
    assert (tenant.path / "at_helper_start.txt").read_text() == "\n"  # one start, nothing yet
