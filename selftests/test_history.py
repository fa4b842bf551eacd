"""Run history: the diff between runs (pure), and end to end through the real suite run
again after a zone changed (embedded DNS server, real sockets), with failures.csv."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from dkimwatch import history
from dkimwatch.report import changes_html, failures_csv
from selftests import tenantkit
from selftests.test_plugin import install_suite, latest_results

pytest_plugins = ["pytester"]

T1, T2, T3 = "2026-11-20T09:00:00Z", "2026-11-21T09:00:00Z", "2026-11-22T09:00:00Z"


def result(
    nodeid: str, outcome: str, check: str = "spf", selector: str | None = None
) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "domain": nodeid.split("[")[-1].rstrip("]"),
        "selector": selector,
        "check": check,
        "outcome": outcome,
        "result": {"passed": "pass", "failed": "fail", "error": "temperror"}.get(outcome, "none"),
        "message": f"{outcome} message",
    }


def record(
    results: list[dict[str, Any]], started: str, previous: dict[str, Any] | None
) -> dict[str, Any]:
    return history.make_record(
        results,
        started=started,
        finished=started,
        now=started,
        version="0",
        inventory_sha256="x",
        previous=previous,
    )


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["nodeid"] for r in rows]


# --- pure -----------------------------------------------------------------------------------


def test_diff_sorts_tests_into_new_fixed_still_and_not_run() -> None:
    before = record(
        [
            result("spf[a]", "passed"),
            result("spf[b]", "failed"),
            result("spf[c]", "error"),
            result("spf[d]", "failed"),
            result("spf[e]", "failed"),
            result("spf[f]", "skipped"),
        ],
        T1,
        None,
    )
    now = [
        result("spf[a]", "failed"),  # new failure
        result("spf[b]", "passed"),  # fixed
        result("spf[c]", "failed"),  # error -> failed: still failing
        result("spf[d]", "xfailed"),  # waived now: no longer failing
        result("spf[f]", "error"),  # skipped -> error: new
        result("spf[g]", "failed"),  # a test that did not exist: new
        # e did not run this time
    ]
    changes = history.diff(before, now, started=T2, previous_name="20261120T090000Z.json")
    assert ids(changes.new_failures) == ["spf[a]", "spf[f]", "spf[g]"]
    assert [r["before"] for r in changes.new_failures] == ["passed", "skipped", None]
    assert {r["since"] for r in changes.new_failures} == {T2}
    assert ids(changes.fixed) == ["spf[b]", "spf[d]"]
    assert [(r["before"], r["outcome"]) for r in changes.fixed] == [
        ("failed", "passed"),
        ("failed", "xfailed"),
    ]
    assert ids(changes.still_failing) == ["spf[c]"]
    assert changes.still_failing[0]["since"] == T1
    assert ids(changes.not_run) == ["spf[e]"]
    assert changes.counts() == {"new_failures": 3, "fixed": 2, "still_failing": 1, "not_run": 1}
    assert changes.headline() == (
        f"since {T1}: 3 new failures, 2 fixed, 1 still failing, 1 failing before not run"
    )
    doc = changes.to_json()
    assert doc["previous"] == {
        "started": T1,
        "now": T1,
        "version": "0",
        "record": "20261120T090000Z.json",
    }
    assert json.loads(json.dumps(doc)) == doc


def test_failing_since_is_carried_forward_across_records() -> None:
    r1 = record([result("spf[a]", "failed"), result("spf[b]", "passed")], T1, None)
    r2 = record([result("spf[a]", "failed"), result("spf[b]", "failed")], T2, r1)
    r3 = record([result("spf[a]", "error"), result("spf[b]", "failed")], T3, r2)
    assert r3["results"]["spf[a]"]["since"] == T1
    assert r3["results"]["spf[b]"]["since"] == T2
    changes = history.diff(r2, [result("spf[a]", "failed"), result("spf[b]", "failed")], started=T3)
    assert {r["nodeid"]: r["since"] for r in changes.still_failing} == {"spf[a]": T1, "spf[b]": T2}
    # A failure that was fixed and came back starts again.
    r4 = record([result("spf[a]", "passed")], T3, r3)
    r5 = record([result("spf[a]", "failed")], "2026-11-23T09:00:00Z", r4)
    assert r5["results"]["spf[a]"]["since"] == "2026-11-23T09:00:00Z"
    assert "since" not in r4["results"]["spf[a]"]


def test_first_run_has_no_previous() -> None:
    changes = history.diff(
        None, [result("spf[a]", "failed"), result("spf[b]", "passed")], started=T1
    )
    assert changes.previous is None
    assert ids(changes.new_failures) == ["spf[a]"]
    assert changes.headline() == "first recorded run: 1 failing"


def test_record_files_names_order_and_pruning(tmp_path: Path) -> None:
    folder = tmp_path / "history"
    assert history.load_previous(folder) == (None, None)
    name = history.record_name("2026-11-22T09:00:00Z")
    assert name == "20261122T090000Z.json"
    assert history.record_name("2026-11-22T09:00:00Z", [name]) == "20261122T090000Z.1.json"
    folder.mkdir()
    for started, n in ((T3, 0), (T1, 0), (T3, 1), (T2, 0)):
        rec = record([result("spf[a]", "failed")], started, None)
        rec["tag"] = f"{started}/{n}"
        taken = [p.name for p in folder.iterdir()]
        (folder / history.record_name(started, taken)).write_text(history.dumps_record(rec))
    (folder / "notes.txt").write_text("not a record")
    assert [p.name for p in history.records(folder)] == [
        "20261120T090000Z.json",
        "20261121T090000Z.json",
        "20261122T090000Z.json",
        "20261122T090000Z.1.json",
    ]
    previous, name = history.load_previous(folder)
    assert previous is not None
    assert (previous["tag"], name) == (f"{T3}/1", "20261122T090000Z.1.json")
    # A damaged newest record is passed over, not fatal.
    (folder / "20261123T000000Z.json").write_text('{"format": 1, "results": {')
    previous, name = history.load_previous(folder)
    assert name == "20261122T090000Z.1.json"
    removed = history.prune(folder, keep=2)
    assert [p.name for p in removed] == [
        "20261120T090000Z.json",
        "20261121T090000Z.json",
        "20261122T090000Z.json",
    ]
    assert sorted(p.name for p in folder.iterdir()) == [
        "20261122T090000Z.1.json",
        "20261123T000000Z.json",
        "notes.txt",
    ]


def test_record_is_compact_json_with_only_what_a_diff_needs() -> None:
    row = {**result("spf[a]", "failed"), "evidence": [{"qname": "a"}], "remediation": "x"}
    text = history.dumps_record(record([row, result("spf[b]", "passed")], T1, None))
    doc = json.loads(text)
    assert doc["results"]["spf[a]"] == {
        "outcome": "failed",
        "result": "fail",
        "domain": "a",
        "selector": None,
        "check": "spf",
        "since": T1,
    }
    assert "since" not in doc["results"]["spf[b]"]
    assert "evidence" not in text
    assert len(text.splitlines()) == 4  # the head, one line per test, the end


def test_failures_csv_rows_and_spreadsheet_safety() -> None:
    rows = [
        result("spf[b.example]", "failed"),
        {**result("cname[a.example]", "failed", "dkim_cname", "selector1"), "message": 'x, "y"\nz'},
        result("spf[c.example]", "passed"),
        result("dmarc[d.example]", "xfailed", "dmarc"),
        {**result("dmarc[e.example]", "error", "dmarc"), "message": '=HYPERLINK("http://x")'},
    ]
    text = failures_csv(rows)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed == [
        ["domain", "selector", "check", "result", "message"],
        ["a.example", "selector1", "dkim_cname", "fail", 'x, "y"\nz'],
        ["e.example", "", "dmarc", "temperror", '\'=HYPERLINK("http://x")'],
        ["b.example", "", "spf", "fail", "failed message"],
    ]


def test_changes_html_escapes_dns_text() -> None:
    before = record([result("spf[a]", "passed")], T1, None)
    hostile = {**result("spf[a]", "failed"), "message": "<img src=x onerror=alert(1)>"}
    html = changes_html(
        history.diff(before, [hostile], started=T2, previous_name="r.json").to_json()
    )
    assert f"Changes since {T1}" in html
    assert "New failures (1)" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html


# --- end to end: the real suite, twice, with a zone changed in between -----------------------


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    res = pytester.runpytest_subprocess("--now", tenantkit.NOW, *args)
    path = latest_results(pytester.path)
    assert path is not None
    return res, json.loads(path.read_text())


def failing(doc: dict[str, Any]) -> set[str]:
    return {r["nodeid"] for r in doc["results"] if r["outcome"] in ("failed", "error")}


SPF_NODE = "tests/test_spf.py::test_spf[no-spf.example]"
DMARC_NODE = "tests/test_dmarc.py::test_dmarc[healthy.example]"


def test_second_run_reports_what_changed(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    reports = pytester.path / "reports"
    zones = pytester.path / "zones"

    first, doc1 = run(pytester)
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    assert doc1["changes"]["previous"] is None
    assert doc1["changes"]["recorded"] == f"history/{history.record_name(doc1['started'])}"
    first.stdout.fnmatch_lines(["*dkimwatch: changes since the last recorded run*"])
    first.stdout.fnmatch_lines([f"first recorded run: {len(failing(doc1))} failing"])
    assert SPF_NODE in failing(doc1)
    assert DMARC_NODE not in failing(doc1)

    # Overnight: no-spf.example gets its SPF record, healthy.example loses its DMARC record.
    spf_zone = zones / "no-spf.example.zone"
    spf_zone.write_text(spf_zone.read_text() + tenantkit.SPF)
    healthy = zones / "healthy.example.zone"
    healthy.write_text(
        "".join(ln for ln in healthy.read_text().splitlines(True) if "_dmarc" not in ln)
    )

    second, doc2 = run(pytester)
    changes = doc2["changes"]
    still = len(failing(doc1)) - 1
    second.stdout.fnmatch_lines(
        [f"since {doc1['started']}: 1 new failure, 1 fixed, {still} still failing"]
    )
    second.stdout.fnmatch_lines(
        [
            f"  new failure: {DMARC_NODE} (passed → failed)",
            f"  fixed: {SPF_NODE} (failed → passed)",
        ]
    )
    assert changes["counts"] == {
        "new_failures": 1,
        "fixed": 1,
        "still_failing": still,
        "not_run": 0,
    }
    assert [r["nodeid"] for r in changes["new_failures"]] == [DMARC_NODE]
    assert changes["new_failures"][0]["since"] == doc2["started"]
    assert [(r["nodeid"], r["before"], r["outcome"]) for r in changes["fixed"]] == [
        (SPF_NODE, "failed", "passed")
    ]
    assert {r["nodeid"] for r in changes["still_failing"]} == failing(doc1) - {SPF_NODE}
    assert {r["since"] for r in changes["still_failing"]} == {doc1["started"]}
    assert changes["previous"]["started"] == doc1["started"]
    assert changes["previous"]["record"] == doc1["changes"]["recorded"].removeprefix("history/")

    records = history.records(reports / "history")
    assert [f"history/{p.name}" for p in records] == [
        doc1["changes"]["recorded"],
        changes["recorded"],
    ]
    latest = json.loads(records[-1].read_text())
    assert latest["results"][DMARC_NODE]["since"] == doc2["started"]
    assert latest["results"][SPF_NODE]["outcome"] == "passed"
    assert set(latest["results"]) == {r["nodeid"] for r in doc2["results"]}

    html = (reports / "report.html").read_text()
    assert f"Changes since {doc1['started']}" in html
    assert "New failures (1)" in html and "Fixed (1)" in html

    # failures.csv: exactly the failed/error tests of this run.
    with (reports / "failures.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["domain", "selector", "check", "result", "message"]
    got = {(r["domain"], r["selector"], r["check"]) for r in rows}
    want = {
        (r["domain"], r["selector"] or "", r["check"])
        for r in doc2["results"]
        if r["outcome"] in ("failed", "error")
    }
    assert got == want
    assert len(rows) == len(want)
    assert ("healthy.example", "", "dmarc") in got
    assert ("no-spf.example", "", "spf") not in got
    assert ("other-tenant.example", "selector1", "dkim_cname") in got
    dmarc_row = next(r for r in rows if r["domain"] == "healthy.example")
    assert dmarc_row["result"] == "fail" and "_dmarc.healthy.example" in dmarc_row["message"]

    # A selection (-k) shows its changes but is no baseline: no record is added.
    third, doc3 = run(pytester, "-k", "healthy.example")
    third.stdout.fnmatch_lines(["since *: 0 new failures, 0 fixed, 1 still failing, * not run"])
    assert re.search(r"not recorded in .*history: partial run", third.stdout.str())
    assert doc3["changes"]["recorded"] is None
    assert history.records(reports / "history") == records

    # The next full run carries each failure's start forward.
    _, doc4 = run(pytester)
    since = {r["nodeid"]: r["since"] for r in doc4["changes"]["still_failing"]}
    assert since[DMARC_NODE] == doc2["started"]
    assert {v for k, v in since.items() if k != DMARC_NODE} == {doc1["started"]}
    assert doc4["changes"]["counts"]["new_failures"] == 0
    assert len(history.records(reports / "history")) == 3


def test_only_a_complete_run_adds_a_record(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    folder = pytester.path / "reports" / "history"
    _, full = run(pytester)
    assert len(history.records(folder)) == 1

    # Stopped at the first failure: a partial run (reports/partial), and no baseline.
    stopped, doc = run(pytester, "-x")
    assert stopped.ret == pytest.ExitCode.TESTS_FAILED
    assert doc["changes"]["not_recorded"].startswith("partial run: stopped early")
    assert doc["changes"]["counts"]["not_run"] > 0
    assert len(history.records(folder)) == 1

    # Interrupted (xdist stops the session at --maxfail): nothing is published at all.
    csv_before = (pytester.path / "reports" / "failures.csv").read_bytes()
    res = pytester.runpytest_subprocess("--now", tenantkit.NOW, "-n", "2", "--maxfail=1")
    assert res.ret == pytest.ExitCode.INTERRUPTED
    assert len(history.records(folder)) == 1
    assert (pytester.path / "reports" / "failures.csv").read_bytes() == csv_before

    # Bad input: a usage error, nothing written.
    (pytester.path / "domains.yaml").write_text("version: 1\ndomains:\n  - name: [x\n")
    res = pytester.runpytest_subprocess("--now", tenantkit.NOW)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert len(history.records(folder)) == 1
    assert (pytester.path / "reports" / "failures.csv").read_bytes() == csv_before
    assert full["changes"]["recorded"] == f"history/{history.records(folder)[0].name}"
