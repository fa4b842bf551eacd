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
from dkimwatch.checks import Verdict
from dkimwatch.inventory import load_inventory
from dkimwatch.report import ResultEntry, changes_html, failures_csv, load_results
from selftests import tenantkit
from selftests.suitekit import install_suite, latest_results

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


def entry(row: dict[str, Any]) -> ResultEntry:
    """A results.json entry of these tests (without evidence) as the reporter holds it."""
    verdict = Verdict.from_json(
        {"warnings": [], "remediation": None, "evidence": [], **row, "details": {}}
    )
    return ResultEntry(row["nodeid"], row["outcome"], verdict)


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
    assert changes.counts() == {
        "new_failures": 3,
        "fixed": 2,
        "still_failing": 1,
        "not_run": 1,
        "inventory_changes": 0,
    }
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
    assert changes.headline() == "first recorded run of this inventory: 1 failing"


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
    text = failures_csv(entry(r) for r in rows)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed == [
        ["domain", "selector", "check", "result", "message", "remediation", "fix"],
        ["a.example", "selector1", "dkim_cname", "fail", 'x, "y"\nz', "", ""],
        ["e.example", "", "dmarc", "temperror", '\'=HYPERLINK("http://x")', "", ""],
        ["b.example", "", "spf", "fail", "failed message", "", ""],
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


# --- which inventory, and each test's inventory inputs (pure) ------------------------------

INVENTORY = """\
version: 1
tenant: contoso
policy:
  min_key_bits: 1024
  dmarc_min_policy: none
domains:
  - name: a.example
    selector1_cname: selector1-a-example._domainkey.contoso.onmicrosoft.com
    selector2_cname: selector2-a-example._domainkey.contoso.onmicrosoft.com
    rotate_on: 2026-05-04T10:00:00Z
    selector_before_rotate: selector1
    selector_after_rotate: selector2
  - b.example
waivers:
  - domain: b.example
    check: spf
    reason: moving to a new provider
    expires: 2027-01-31
"""


def inputs_after(tmp_path: Path, old: str, new: str) -> tuple[dict[Any, str], dict[Any, str]]:
    """The inputs of INVENTORY, and of INVENTORY with ``old`` replaced by ``new``."""
    assert old in INVENTORY
    path = tmp_path / "domains.yaml"
    path.write_text(INVENTORY)
    before = history.inventory_inputs(load_inventory(path))
    path.write_text(INVENTORY.replace(old, new))
    return before, history.inventory_inputs(load_inventory(path))


def changed(before: dict[Any, str], after: dict[Any, str]) -> dict[Any, str]:
    """The tests whose inputs differ, and why."""
    return {
        k: history.inputs_changed(before[k], after[k])
        for k in before.keys() & after.keys()
        if before[k] != after[k]
    }


def test_inputs_change_only_for_the_tests_that_read_the_edited_field(tmp_path: Path) -> None:
    s2_cname = "selector2_cname: selector2-a-example._domainkey.contoso.onmicrosoft.com"
    before, after = inputs_after(tmp_path, s2_cname, s2_cname.replace("contoso", "fabrikam"))
    expected = "expected values changed (selectors, CNAME targets, rotation or public key)"
    assert changed(before, after) == {
        ("dkim_cname", "a.example", "selector2"): expected,
        ("dkim_target", "a.example", "selector2"): expected,
        ("dkim_key", "a.example", "selector2"): expected,
        ("dkim_rotation", "a.example", None): expected,
    }
    assert len(before) == 2 * 11  # every test of the inventory has its inputs

    before, after = inputs_after(tmp_path, "rotate_on: 2026-05-04", "rotate_on: 2026-06-04")
    assert {k[0] for k in changed(before, after)} == {
        "dkim_cname",
        "dkim_target",
        "dkim_key",
        "dkim_rotation",
    }
    assert {k[1] for k in changed(before, after)} == {"a.example"}

    before, after = inputs_after(
        tmp_path, "  - b.example\n", "  - name: b.example\n    enabled: false\n"
    )
    got = changed(before, after)
    assert {k[0] for k in got} == {
        "dkim_cname",
        "dkim_target",
        "dkim_key",
        "dkim_rotation",
        "dkim_enabled",
    }
    assert set(got.values()) == {"disabled (enabled: false)"}

    before, after = inputs_after(tmp_path, "dmarc_min_policy: none", "dmarc_min_policy: reject")
    assert changed(before, after) == {
        ("dmarc", "a.example", None): "policy changed",
        ("dmarc", "b.example", None): "policy changed",
    }

    before, after = inputs_after(tmp_path, "min_key_bits: 1024", "min_key_bits: 2048")
    assert {k[0] for k in changed(before, after)} == {
        "dkim_cname",
        "dkim_target",
        "dkim_key",
        "dkim_rotation",
    }

    # A waiver: its expiry is an input, its reason is not.
    before, after = inputs_after(tmp_path, "reason: moving", "reason: still moving")
    assert before == after
    before, after = inputs_after(tmp_path, "expires: 2027-01-31", "expires: 2027-03-31")
    assert changed(before, after) == {
        ("spf", "b.example", None): "waiver's expiry changed to 2027-03-31"
    }
    before, after = inputs_after(tmp_path, "check: spf", "check: dmarc")
    assert changed(before, after) == {
        ("spf", "b.example", None): "waiver removed",
        ("dmarc", "b.example", None): "waived until 2027-01-31",
    }

    # Layout, comments and the order of domains are no inputs.
    text = INVENTORY.replace("  - b.example\n", "")
    text = text.replace("domains:\n", "domains:\n  - b.example   # moved up\n")
    before, after = inputs_after(tmp_path, INVENTORY, text)
    assert before == after


def test_identity_is_the_tenant_and_the_inventory_path_in_the_project(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "inventories").mkdir(parents=True)
    one = history.identity("Contoso", root / "domains.yaml", root)
    assert one == history.Identity("contoso", "domains.yaml")
    # The same file named another way (.., a symlinked folder) is the same inventory.
    (tmp_path / "link").symlink_to(root)
    assert history.identity("contoso", root / "inventories" / ".." / "domains.yaml", root) == one
    assert history.identity("contoso", tmp_path / "link" / "domains.yaml", root) == one
    # Another file, another tenant, no tenant: other inventories, other folders.
    others = [
        history.identity("contoso", root / "inventories" / "domains.yaml", root),
        history.identity("fabrikam", root / "domains.yaml", root),
        history.identity(None, root / "domains.yaml", root),
        history.identity("contoso", tmp_path / "elsewhere.yaml", root),
    ]
    assert others[0].inventory == "inventories/domains.yaml"
    assert others[3].inventory == (tmp_path / "elsewhere.yaml").resolve().as_posix()
    slugs = [i.slug for i in (one, *others)]
    assert len(set(slugs)) == len(slugs)
    assert one.slug.startswith("contoso_domains.yaml-")
    assert others[1].slug.startswith("fabrikam_domains.yaml-")
    assert others[2].slug.startswith("no-tenant_domains.yaml-")
    assert all(re.fullmatch(r"[A-Za-z0-9._-]{1,80}", s) for s in slugs)


def test_only_a_tenant_the_file_names_is_part_of_the_identity(tmp_path: Path) -> None:
    """A tenant read from the exports comes and goes with export data: the file is the same
    inventory all the same."""
    export = tmp_path / "dkim.json"
    export.write_text('[{"Domain": "a.example"}, {"Domain": "northwind.onmicrosoft.com"}]')
    path = tmp_path / "domains.yaml"
    path.write_text("version: 1\nsources: [dkim.json]\n")
    inferred = load_inventory(path)
    assert inferred.tenant == "northwind"
    assert history.inventory_identity(inferred, tmp_path) == history.Identity(None, "domains.yaml")
    path.write_text("version: 1\ntenant: northwind\nsources: [dkim.json]\n")
    named = history.inventory_identity(load_inventory(path), tmp_path)
    assert named == history.Identity("northwind", "domains.yaml")


def test_load_previous_reads_only_its_own_inventory(tmp_path: Path) -> None:
    folder = tmp_path / "history" / "x"
    folder.mkdir(parents=True)
    mine, theirs = history.Identity("contoso", "domains.yaml"), history.Identity(None, "b.yaml")
    for started, who in ((T1, mine), (T2, theirs)):
        rec = history.make_record(
            [result("spf[a]", "failed")],
            started=started,
            finished=started,
            now=started,
            version="0",
            inventory_sha256="x",
            previous=None,
            identity=who,
        )
        (folder / history.record_name(started)).write_text(history.dumps_record(rec))
    # A record of before history was kept per inventory (format 1): never compared with.
    (folder / history.record_name(T3)).write_text('{"format": 1, "results": {}}')
    previous, name = history.load_previous(folder, mine)
    assert previous is not None and previous["started"] == T1
    assert name == history.record_name(T1)
    assert history.load_previous(folder, history.Identity("contoso", "c.yaml")) == (None, None)


def keyed(
    nodeid: str, outcome: str, check: str, domain: str, selector: str | None = None
) -> dict[str, Any]:
    return {**result(nodeid, outcome, check, selector), "domain": domain}


def test_diff_tells_inventory_changes_from_dns_changes() -> None:
    k = "dkim_key"
    inputs_before = {
        (k, "a", "s1"): "e1 p1 y -",  # the key: fixed, same inputs
        (k, "a", "s2"): "e1 p1 y -",  # disabled
        ("spf", "a", None): "- p2 - -",  # waived
        ("spf", "b", None): "- p2 - -",  # the domain is removed
        ("dmarc", "a", None): "- p3 - -",  # a new failure, same inputs
        ("dmarc", "c", None): "- p3 - -",  # failing, inputs changed, still failing
    }
    inputs_now = {
        (k, "a", "s1"): "e1 p1 y -",
        (k, "a", "s2"): "e1 p1 n -",
        (k, "a", "s3"): "e2 p1 y -",  # a selector added
        ("spf", "a", None): "- p2 - w2027-01-31",
        ("dmarc", "a", None): "- p3 - -",
        ("dmarc", "c", None): "- p4 - -",
        ("dkim_new", "a", None): "e1 p1 y -",  # a check new in dkimwatch: not the inventory
        ("spf", "d", None): "- p2 - -",  # a domain added
    }
    before_rows = [
        keyed("key[s1.a]", "failed", k, "a", "s1"),
        keyed("key[s2.a]", "failed", k, "a", "s2"),
        keyed("spf[a]", "failed", "spf", "a"),
        keyed("spf[b]", "failed", "spf", "b"),
        keyed("dmarc[a]", "passed", "dmarc", "a"),
        keyed("dmarc[c]", "failed", "dmarc", "c"),
    ]
    previous = history.make_record(
        before_rows,
        started=T1,
        finished=T1,
        now=T1,
        version="0",
        inventory_sha256="x",
        previous=None,
        inputs=inputs_before,
    )
    assert previous["results"]["key[s2.a]"]["inputs"] == "e1 p1 y -"
    now = [
        keyed("key[s1.a]", "passed", k, "a", "s1"),
        keyed("key[s2.a]", "skipped", k, "a", "s2"),
        keyed("key[s3.a]", "failed", k, "a", "s3"),
        keyed("spf[a]", "xfailed", "spf", "a"),
        keyed("dmarc[a]", "failed", "dmarc", "a"),
        keyed("dmarc[c]", "failed", "dmarc", "c"),
        keyed("new[a]", "failed", "dkim_new", "a"),
        keyed("spf[d]", "error", "spf", "d"),
    ]
    changes = history.diff(previous, now, started=T2, inputs=inputs_now)
    assert ids(changes.fixed) == ["key[s1.a]"]
    assert ids(changes.new_failures) == ["dmarc[a]", "new[a]"]
    assert ids(changes.still_failing) == ["dmarc[c]"]
    assert changes.not_run == []
    assert {
        r["nodeid"]: (r["before"], r["outcome"], r["why"]) for r in changes.inventory_changes
    } == {
        "key[s2.a]": ("failed", "skipped", "disabled (enabled: false)"),
        "key[s3.a]": (None, "failed", "selector added to the inventory"),
        "spf[a]": ("failed", "xfailed", "waived until 2027-01-31"),
        "spf[b]": ("failed", None, "domain removed from the inventory"),
        "spf[d]": (None, "error", "domain added to the inventory"),
    }
    assert changes.headline() == (
        f"since {T1}: 2 new failures, 1 fixed, 1 still failing, 5 inventory changes"
    )
    doc = changes.to_json()
    assert doc["counts"]["inventory_changes"] == 5
    assert json.loads(json.dumps(doc)) == doc
    html = changes_html(doc)
    assert "Inventory changes (5)" in html and "waived until 2027-01-31" in html
    assert "5 inventory changes" in html

    # A selection (-k): a failing test of the inventory that did not run is "not run".
    changes = history.diff(previous, now[:1], started=T2, inputs=inputs_now)
    assert ids(changes.not_run) == ["dmarc[c]", "key[s2.a]", "spf[a]"]
    assert ids(changes.inventory_changes) == ["spf[b]"]
    # Without the inventory's inputs nothing is put down to the inventory.
    changes = history.diff(previous, now, started=T2)
    assert changes.inventory_changes == []
    assert ids(changes.not_run) == ["spf[b]"]


# --- end to end: the real suite, twice, with a zone changed in between -----------------------


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """A run at the real time: a --now run is a what-if and adds no record. (The tenant's
    rotation lies in the past, and nothing else in it depends on the time.) The results of
    a partial run are read from reports/partial."""
    res = pytester.runpytest_subprocess(*args)
    path = latest_results(pytester.path)
    assert path is not None
    return res, load_results(path)


def all_records(pytester: pytest.Pytester) -> list[Path]:
    """Every history record under reports/, whichever inventory's."""
    return sorted((pytester.path / "reports" / "history").rglob("*.json"))


def history_dir(pytester: pytest.Pytester, doc: dict[str, Any]) -> Path:
    """The history folder of the inventory that the run of ``doc`` audited."""
    return pytester.path / "reports" / doc["changes"]["history"]


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
    folder = history_dir(pytester, doc1)
    assert folder.parent == reports / "history"
    assert doc1["changes"]["inventory"] == {"tenant": "contoso", "inventory": "domains.yaml"}
    assert doc1["changes"]["recorded"] == (
        f"{doc1['changes']['history']}/{history.record_name(doc1['started'])}"
    )
    first.stdout.fnmatch_lines(["*dkimwatch: changes since the last recorded run*"])
    first.stdout.fnmatch_lines(
        [f"first recorded run of this inventory: {len(failing(doc1))} failing"]
    )
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
        "inventory_changes": 0,
    }
    assert [r["nodeid"] for r in changes["new_failures"]] == [DMARC_NODE]
    assert changes["new_failures"][0]["since"] == doc2["started"]
    assert [(r["nodeid"], r["before"], r["outcome"]) for r in changes["fixed"]] == [
        (SPF_NODE, "failed", "passed")
    ]
    assert {r["nodeid"] for r in changes["still_failing"]} == failing(doc1) - {SPF_NODE}
    assert {r["since"] for r in changes["still_failing"]} == {doc1["started"]}
    assert changes["previous"]["started"] == doc1["started"]
    assert changes["previous"]["record"] == doc1["changes"]["recorded"].rsplit("/")[-1]

    records = history.records(folder)
    assert [f"{doc2['changes']['history']}/{p.name}" for p in records] == [
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
    assert list(rows[0]) == [
        "domain",
        "selector",
        "check",
        "result",
        "message",
        "remediation",
        "fix",
    ]
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
    assert re.search(
        r"not recorded in .*history/contoso_domains.yaml-\w+: partial run", third.stdout.str()
    )
    assert doc3["changes"]["recorded"] is None
    assert history.records(folder) == records

    # The next full run carries each failure's start forward.
    _, doc4 = run(pytester)
    since = {r["nodeid"]: r["since"] for r in doc4["changes"]["still_failing"]}
    assert since[DMARC_NODE] == doc2["started"]
    assert {v for k, v in since.items() if k != DMARC_NODE} == {doc1["started"]}
    assert doc4["changes"]["counts"]["new_failures"] == 0
    assert len(history.records(folder)) == 3


def test_only_a_complete_run_adds_a_record(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    _, full = run(pytester)
    assert len(all_records(pytester)) == 1

    # Stopped at the first failure: a partial run (reports/partial), and no baseline.
    stopped, doc = run(pytester, "-x")
    assert stopped.ret == pytest.ExitCode.TESTS_FAILED
    assert doc["changes"]["not_recorded"].startswith("partial run: stopped early")
    assert doc["changes"]["counts"]["not_run"] > 0
    assert len(all_records(pytester)) == 1

    # A what-if at another instant is compared, but is not the next night's baseline.
    what_if, doc = run(pytester, "--now", tenantkit.NOW)
    assert what_if.ret == pytest.ExitCode.TESTS_FAILED
    assert doc["changes"]["recorded"] is None
    assert doc["changes"]["not_recorded"] == (
        "what-if run (--now): not the baseline of the next run"
    )
    assert doc["changes"]["previous"]["started"] == full["started"]
    what_if.stdout.fnmatch_lines(["not recorded in *history/*: what-if run (--now)*"])
    assert len(all_records(pytester)) == 1

    # Interrupted (xdist stops the session at --maxfail): nothing is published at all.
    csv_before = (pytester.path / "reports" / "failures.csv").read_bytes()
    res = pytester.runpytest_subprocess("-n", "2", "--maxfail=1")
    assert res.ret == pytest.ExitCode.INTERRUPTED
    assert len(all_records(pytester)) == 1
    assert (pytester.path / "reports" / "failures.csv").read_bytes() == csv_before

    # Ctrl-C (KeyboardInterrupt in the middle of the run): the line says why.
    interrupt = pytester.path / "tests" / "test_zz_interrupt.py"
    interrupt.write_text("def test_ctrl_c():\n    raise KeyboardInterrupt\n")
    res = pytester.runpytest_subprocess()
    assert res.ret == pytest.ExitCode.INTERRUPTED
    res.stdout.fnmatch_lines(["not recorded in *history/*: run interrupted (nothing is published)"])
    assert len(all_records(pytester)) == 1
    assert (pytester.path / "reports" / "failures.csv").read_bytes() == csv_before
    interrupt.unlink()

    # Bad input: a usage error, nothing written.
    (pytester.path / "domains.yaml").write_text("version: 1\ndomains:\n  - name: [x\n")
    res = pytester.runpytest_subprocess()
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert len(all_records(pytester)) == 1
    assert (pytester.path / "reports" / "failures.csv").read_bytes() == csv_before
    [record] = all_records(pytester)
    assert full["changes"]["recorded"] == record.relative_to(pytester.path / "reports").as_posix()


def test_each_inventory_has_its_own_history(pytester: pytest.Pytester) -> None:
    """Two inventories audited in one checkout: each run compares with its own inventory's
    last run, never with the other's."""
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    reports = pytester.path / "reports"
    # A second inventory over the same zones: two of the domains, one of them failing SPF.
    entries = {c.domain: c.inventory for c in tenantkit.cases()}
    other = pytester.path / "inventories" / "small.yaml"
    other.parent.mkdir()
    other.write_text(
        "version: 1\ntenant: contoso\ndns:\n  zones: ../zones\n  timeout: 2.0\n"
        "  attempts: 2\ndomains:\n" + entries["healthy.example"] + entries["no-spf.example"]
    )

    _, a1 = run(pytester)
    b1_res, b1 = run(pytester, f"--domains={other}")
    # B's first run is B's first: A's failures are not "not run", B's are not compared.
    assert b1["changes"]["counts"]["not_run"] == 0
    assert b1["changes"]["previous"] is None
    b1_res.stdout.fnmatch_lines(["first recorded run of this inventory: 1 failing"])
    assert failing(b1) == {SPF_NODE}
    assert b1["changes"]["inventory"] == {
        "tenant": "contoso",
        "inventory": "inventories/small.yaml",
    }
    assert b1["changes"]["history"] != a1["changes"]["history"]

    # A again, then B again (named another way: the same file is the same inventory).
    _, a2 = run(pytester)
    assert a2["changes"]["previous"]["started"] == a1["started"]
    assert a2["changes"]["counts"]["not_run"] == 0
    assert a2["changes"]["counts"]["new_failures"] == 0
    assert a2["changes"]["counts"]["still_failing"] == len(failing(a1))
    b2_res, b2 = run(pytester, "--domains=inventories/../inventories/small.yaml")
    assert b2["changes"]["previous"]["started"] == b1["started"]
    assert b2["changes"]["counts"] == {
        "new_failures": 0,
        "fixed": 0,
        "still_failing": 1,
        "not_run": 0,
        "inventory_changes": 0,
    }
    b2_res.stdout.fnmatch_lines(
        [f"since {b1['started']}: 0 new failures, 0 fixed, 1 still failing"]
    )
    assert len(history.records(reports / a2["changes"]["history"])) == 2
    assert len(history.records(reports / b2["changes"]["history"])) == 2
    # The records say whose they are.
    record = json.loads(history.records(reports / b2["changes"]["history"])[-1].read_text())
    assert record["identity"] == b2["changes"]["inventory"]


def edit_entry(inventory: Path, domain: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the inventory entry of ``domain`` (its lines up to the
    next entry)."""
    text = inventory.read_text()
    start = text.index(f"- name: {domain}\n")
    end = text.find("\n  - ", start + 1)
    end = len(text) if end < 0 else end
    assert old in text[start:end]
    inventory.write_text(text[:start] + text[start:end].replace(old, new) + text[end:])


OTHER = "other-tenant.example"


def test_inventory_edits_are_inventory_changes_not_fixed_or_new(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    inventory = tenantkit.write_tenant(pytester.path)
    zones = pytester.path / "zones"
    _, doc1 = run(pytester)
    before = failing(doc1)

    # The inventory changes: one failing domain disabled, one failing check waived, one
    # failing domain removed, one new domain (no zone: DNS cannot answer) added...
    edit_entry(inventory, "active-key-missing.example", "enabled: true", "enabled: false")
    removed_entry = next(c.inventory for c in tenantkit.cases() if c.domain == OTHER)
    inventory.write_text(
        inventory.read_text().replace(removed_entry, "")
        + "  - added.example\n"
        + "waivers:\n  - domain: no-dmarc.example\n    check: dmarc\n    reason: moving\n"
    )
    # ... and, the same night, DNS changes: no-spf.example gets its SPF record.
    spf_zone = zones / "no-spf.example.zone"
    spf_zone.write_text(spf_zone.read_text() + tenantkit.SPF)

    second, doc2 = run(pytester)
    changes = doc2["changes"]
    # Only the DNS change is fixed; nothing is new, and removed tests are not "not run".
    assert [r["nodeid"] for r in changes["fixed"]] == [SPF_NODE]
    assert changes["new_failures"] == []
    assert changes["not_run"] == []
    why = {r["nodeid"]: (r["before"], r["outcome"], r["why"]) for r in changes["inventory_changes"]}
    disabled = "disabled (enabled: false)"
    added = {n for n in failing(doc2) if "added.example" in n}
    removed = {n for n in before if OTHER in n}
    assert added and removed
    assert why == {
        "tests/test_dkim.py::test_dkim_target[selector2._domainkey.active-key-missing.example]": (
            "failed",
            "xfailed",
            disabled,
        ),
        "tests/test_dkim.py::test_dkim_rotation[active-key-missing.example]": (
            "failed",
            "xfailed",
            disabled,
        ),
        # dkim_enabled judges enabled: itself: the disabled domain now fails it
        "tests/test_dkim.py::test_dkim_enabled[active-key-missing.example]": (
            "passed",
            "failed",
            disabled,
        ),
        "tests/test_dmarc.py::test_dmarc[no-dmarc.example]": ("failed", "xfailed", "waived"),
        **{n: ("failed", None, "domain removed from the inventory") for n in removed},
        **{
            n: (
                None,
                next(r["outcome"] for r in doc2["results"] if r["nodeid"] == n),
                "domain added to the inventory",
            )
            for n in added
        },
    }
    still = before - {SPF_NODE} - removed - {n for n in why if n in before}
    assert {r["nodeid"] for r in changes["still_failing"]} == still
    n = len(why)
    second.stdout.fnmatch_lines(
        [
            f"since {doc1['started']}: 0 new failures, 1 fixed, {len(still)} still failing, "
            f"{n} inventory changes",
            "  inventory change: tests/test_dkim.py::test_dkim_rotation[added.example] "
            "(absent → error): domain added to the inventory",
        ]
    )
    html = (pytester.path / "reports" / "report.html").read_text()
    assert f"Inventory changes ({n})" in html
    assert "domain removed from the inventory" in html


def test_mx_inputs_are_its_policy(tmp_path: Path) -> None:
    """mx reads policy.mx, nothing of the entry: changing it is an inventory change for mx
    alone."""
    before, after = inputs_after(
        tmp_path, "dmarc_min_policy: none", "dmarc_min_policy: none\n  mx: exchange_online"
    )
    assert changed(before, after) == {
        ("mx", "a.example", None): "policy changed",
        ("mx", "b.example", None): "policy changed",
    }
