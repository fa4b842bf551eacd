"""Many tenants in one run: a directory of inventories (or --domains given more than once),
each judged with its own tenant, policy and waivers, served by the embedded zone server over
real sockets; per-tenant results, failures.csv column, badges and history."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from selftests import tenantkit
from selftests.suitekit import install_suite, run
from selftests.tenantkit import FABRIKAM, FABRIKAM_SPF, OTHER, write_tenants

pytest_plugins = ["pytester"]


@pytest.fixture
def estate(pytester: pytest.Pytester) -> pytest.Pytester:
    install_suite(pytester)
    write_tenants(pytester.path)
    return pytester


def by_key(doc: dict[str, Any]) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    return {(r["domain"], r["check"], r["selector"]): r for r in doc["results"]}


def test_two_tenants_in_one_run(estate: pytest.Pytester) -> None:
    result, doc = run(estate, "--domains=tenants")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    rows = by_key(doc)
    contoso = {c.domain for c in tenantkit.cases()} - {OTHER}
    assert {d for d, _, _ in rows} == contoso | {OTHER}
    # Test ids stay DNS names; each result says whose domain it is and which file lists it.
    for (domain, _, _), r in rows.items():
        tenant, file = (FABRIKAM, "fabrikam.yaml") if domain == OTHER else ("contoso", "contoso")
        assert r["tenant"] == tenant, r["nodeid"]
        assert Path(r["inventory"]).name.startswith(file), r["nodeid"]
        assert "tenants/" not in r["nodeid"]
    # OTHER is judged with fabrikam's tenant: its CNAMEs into fabrikamcorp are right there
    # (in contoso's inventory they are wrong: tenantkit.EXPECTED).
    for selector in ("selector1", "selector2"):
        assert rows[(OTHER, "dkim_cname", selector)]["outcome"] == "passed"
        assert tenantkit.expected_outcome(OTHER, "dkim_cname", selector) == "failed"
    # Each inventory's policy judges its own domains only.
    assert rows[(OTHER, "spf", None)]["outcome"] == "failed"
    assert FABRIKAM_SPF in rows[(OTHER, "spf", None)]["message"]
    assert rows[("healthy.example", "spf", None)]["outcome"] == "passed"
    # contoso's own waiver holds for its domain; its other verdicts are as in a run of one.
    spf = rows[("no-spf.example", "spf", None)]
    assert spf["outcome"] == "xfailed"
    assert "CHG-7" in spf["waiver"]
    wrong = {
        key: (r["outcome"], tenantkit.expected_outcome(*key))
        for key, r in rows.items()
        if key[0] != OTHER
        and key != ("no-spf.example", "spf", None)
        and r["outcome"] != tenantkit.expected_outcome(*key)
    }
    assert not wrong, wrong
    assert [(i["tenant"], Path(i["path"]).name) for i in doc["inventories"]] == [
        ("contoso", "contoso.yaml"),
        (FABRIKAM, "fabrikam.yaml"),
    ]

    reports = estate.path / "reports"
    table = list(csv.reader(io.StringIO((reports / "failures.csv").read_text())))
    assert table[0][:3] == ["tenant", "domain", "selector"]
    failing = {(row[1], row[3], row[2] or None) for row in table[1:]}
    assert failing == {k for k, r in rows.items() if r["outcome"] in ("failed", "error")}
    assert [row[:4] for row in table[1:] if row[0] == FABRIKAM] == [[FABRIKAM, OTHER, "", "spf"]]
    assert {row[0] for row in table[1:]} == {"contoso", FABRIKAM}

    contoso_failing = len({d for d, _, _ in failing} - {OTHER})
    badge = (reports / "badges" / "contoso.svg").read_text()
    assert f"{contoso_failing} domains failing" in badge
    assert "1 domain failing" in (reports / "badges" / f"{FABRIKAM}.svg").read_text()
    assert f"{contoso_failing + 1} domains failing" in (reports / "badge.svg").read_text()


def test_history_per_inventory(estate: pytest.Pytester) -> None:
    """A recorded run (no --now) of two inventories adds one record to each one's history,
    with only its own results; a second run compares each with its own."""
    for _ in range(2):
        result = estate.runpytest_subprocess("--domains=tenants")
        assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    folders = sorted((estate.path / "reports" / "history").iterdir())
    assert len(folders) == 2
    seen = {}
    for folder in folders:
        records = sorted(folder.iterdir())
        assert len(records) == 2, records
        record = json.loads(records[-1].read_text())
        domains = {e["domain"] for e in record["results"].values()}
        seen[record["identity"]["tenant"]] = (domains, record["identity"]["inventory"])
    assert seen[FABRIKAM] == ({OTHER}, "tenants/fabrikam.yaml")
    assert seen["contoso"][0] == {c.domain for c in tenantkit.cases()} - {OTHER}
    doc = json.loads((estate.path / "reports" / "results.json").read_text())
    each = {i["inventory"]["tenant"]: i for i in doc["changes"]["inventories"]}
    assert each[FABRIKAM]["previous"] is not None  # compared with its own first record
    assert each[FABRIKAM]["counts"] == {
        "new_failures": 0,
        "fixed": 0,
        "still_failing": 1,  # its SPF, failing in its own previous record
        "not_run": 0,
        "inventory_changes": 0,
    }
    # The run's changes add up each inventory's.
    assert (
        each["contoso"]["counts"]["still_failing"] + 1
        == (doc["changes"]["counts"]["still_failing"])
    )
    assert each["contoso"]["recorded"].startswith(each["contoso"]["history"] + "/")


def test_k_selects_a_tenant(estate: pytest.Pytester) -> None:
    result, doc = run(estate, "--domains=tenants", "-k", FABRIKAM)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()  # its SPF
    assert doc["results"]
    assert {r["domain"] for r in doc["results"]} == {OTHER}
    assert doc["partial"] is not None  # a selection: reports/partial/, not the run's outputs


def test_domains_repeated_is_a_run_of_many(estate: pytest.Pytester) -> None:
    result, doc = run(
        estate, "--domains=tenants/contoso.yaml", "--domains=tenants/fabrikam.yaml", "-m", "dkim"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    assert {r["tenant"] for r in doc["results"]} == {"contoso", FABRIKAM}


def test_a_domain_in_two_inventories_is_an_error(estate: pytest.Pytester) -> None:
    fabrikam = estate.path / "tenants" / "fabrikam.yaml"
    fabrikam.write_text(fabrikam.read_text() + "  - healthy.example\n")
    result = estate.runpytest_subprocess("--domains=tenants", "--now", tenantkit.NOW)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1, lines
    assert "healthy.example" in lines[0]
    assert "fabrikam.yaml:" in lines[0] and "contoso.yaml" in lines[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (estate.path / "reports" / "results.json").exists()


def test_an_empty_directory_is_an_error(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    (pytester.path / "tenants").mkdir()
    result = pytester.runpytest_subprocess("--domains=tenants")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no *.yaml inventory" in result.stderr.str()


def test_xdist_judges_each_domain_with_its_own_inventory(estate: pytest.Pytester) -> None:
    """Under xdist the workers judge from the controller's answers: each with the tenant of
    the domain's own inventory, as in one process."""
    _, one = run(estate, "--domains=tenants", "-m", "dkim")
    result, spread = run(estate, "--domains=tenants", "-m", "dkim", "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    outcome = {k: (r["outcome"], r["tenant"]) for k, r in by_key(spread).items()}
    assert outcome == {k: (r["outcome"], r["tenant"]) for k, r in by_key(one).items()}
    assert outcome[(OTHER, "dkim_cname", "selector1")] == ("passed", FABRIKAM)
