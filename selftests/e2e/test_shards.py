"""--shard I/N and `dkimwatch merge`: the shards of an estate, merged, are the single run.

The estate is tenantkit's (one domain per failure kind), served by the embedded zone server
over real sockets; merge replays the shards' own recorded answers.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from dkimwatch import cli
from dkimwatch.inventory import load_inventory
from dkimwatch.report import load_results
from dkimwatch.shards import MERGED_ENV, Shard, parse_shard
from selftests import tenantkit
from selftests.e2e import test_ci_examples as ci
from selftests.e2e import test_report_browser as browser
from selftests.e2e import test_tenants
from selftests.suitekit import install_suite

pytest_plugins = ["pytester"]

N = 3


@pytest.fixture
def tenant(pytester: pytest.Pytester) -> pytest.Pytester:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    # A record carrying markup: every merged output must escape it as the single run does.
    zone = pytester.path / "zones" / "healthy.example.zone"
    zone.write_text(zone.read_text().replace(tenantkit.SPF, HOSTILE_SPF))
    return pytester


def audit(pytester: pytest.Pytester, reports: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("--now", tenantkit.NOW, f"--reports={reports}", *args)


def verdicts(doc: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {
        r["nodeid"]: (r["outcome"], r["result"], r["message"], r["fixes"]) for r in doc["results"]
    }


def failure_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return sorted(csv.DictReader(f), key=lambda row: json.dumps(row, sort_keys=True))


def test_every_domain_is_in_exactly_one_shard(tmp_path: Path) -> None:
    names = [d.name for d in load_inventory(tenantkit.write_tenant(tmp_path)).domains]
    for n in (1, 2, 3, 7):
        for name in names:
            holders = [i for i in range(1, n + 1) if Shard(i, n).holds(name)]
            assert len(holders) == 1, (name, n, holders)
    # Three shards of this estate each hold some of it (the merge test needs that).
    assert all(any(Shard(i, N).holds(n) for n in names) for i in range(1, N + 1))


@pytest.mark.parametrize("text", ["0/3", "4/3", "x", "3", "1/0", "-1/3", "1/x", ""])
def test_bad_shard_values(text: str) -> None:
    with pytest.raises(ValueError, match="expected I/N"):
        parse_shard(text)


def test_bad_shard_is_a_usage_error(tenant: pytest.Pytester) -> None:
    result = audit(tenant, "reports", "--shard=4/3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "--shard: expected I/N" in err and "Traceback" not in err
    assert not (tenant.path / "reports" / "results.json").exists()


def test_an_empty_shard_is_a_complete_run(tenant: pytest.Pytester) -> None:
    names = [d.name for d in load_inventory(tenant.path / "domains.yaml").domains]
    empty = next(i for i in range(1, 100) if not any(Shard(i, 99).holds(n) for n in names))
    result = audit(tenant, "shard", f"--shard={empty}/99")
    assert result.ret == pytest.ExitCode.OK, result.stdout
    doc = load_results(tenant.path / "shard" / "results.json")
    assert doc["shard"] == f"{empty}/99" and doc["partial"] is None and doc["results"] == []
    assert (tenant.path / "shard" / "answers.json").is_file()


@pytest.fixture
def shards(tenant: pytest.Pytester) -> pytest.Pytester:
    for i in range(1, N + 1):
        result = audit(tenant, f"shard{i}", f"--shard={i}/{N}")
        assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stderr
    return tenant


def test_a_shard_is_a_complete_run_of_its_part(shards: pytest.Pytester) -> None:
    names = {d.name for d in load_inventory(shards.path / "domains.yaml").domains}
    seen: list[str] = []
    for i in range(1, N + 1):
        folder = shards.path / f"shard{i}"
        doc = load_results(folder / "results.json")
        assert doc["shard"] == f"{i}/{N}" and doc["partial"] is None
        mine = {r["domain"] for r in doc["results"]}
        assert mine == {n for n in names if Shard(i, N).holds(n)}
        seen.extend(mine)
        assert json.loads((folder / "answers.json").read_text())["views"][0]["answers"]
        # Its history is the shard's own, kept apart from the whole estate's (--now makes
        # this a what-if run, which records none).
        assert doc["changes"]["inventory"]["shard"] == f"{i}/{N}"
        assert doc["changes"]["history"].startswith(f"history/shard{i}of{N}_"), doc["changes"]
    assert sorted(seen) == sorted(names)


def test_a_shard_under_xdist_records_the_same_answers(shards: pytest.Pytester) -> None:
    result = audit(shards, "spread", f"--shard=1/{N}", "-n", "2")
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stderr
    one = load_results(shards.path / "shard1" / "results.json")
    spread = load_results(shards.path / "spread" / "results.json")
    assert spread["shard"] == f"1/{N}" and verdicts(spread) == verdicts(one)
    keys = json.loads((shards.path / "spread" / "answers.json").read_text())["views"][0]["answers"]
    assert set(keys) == set(
        json.loads((shards.path / "shard1" / "answers.json").read_text())["views"][0]["answers"]
    )


# --- merge equality: what a merge writes is what the single run wrote ----------------------
#
# Strict, with exactly these differences allowed, each for a reason:
# - started, finished: the merge's span is the shards' (first start, last finish);
# - resolvers and every server address in evidence, messages and fixes: each run (each
#   shard, and the single run) starts its own embedded zone server, on a port of its own;
# - queries: the shards each ask what they share (Microsoft's zones, SPF includes);
# - each exchange's `at` and `elapsed_ms`, each test's duration, junit.xml's times,
#   timestamp and hostname, report.html's "generated on" and "N tests took": clocks;
# - history's `since` and record names: a first failure's `since` is the run's start;
# - results.json's `merged_from` (the merge's only extra key) and report.html's
#   Environment rows Resolvers and Started (above).

PORT = re.compile(r"127\.0\.0\.1:\d+")
INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"


def scrub(text: str, started: str) -> str:
    """``text`` with what legitimately differs between two runs of one estate blanked."""
    text = text.replace(started, "STARTED")
    text = re.sub(r"\d{8}T\d{6}Z(\.\d+)?\.json", "RECORD.json", text)
    text = re.sub(  # report.html's line of the run's resolvers and DNS counts
        r"<b>resolvers</b> .*? · <b>DNS questions</b> \d+ · <b>queries sent</b> \d+",
        "RESOLVERS",
        text,
    )
    text = re.sub(rf"<td>[0-9.]+</td><td>{INSTANT}</td></tr>", "<td>MS</td><td>AT</td></tr>", text)
    return PORT.sub("127.0.0.1:PORT", text)


def results_json(folder: Path) -> dict[str, Any]:
    doc = load_results(folder / "results.json")
    for r in doc["results"]:
        r["evidence"] = [{**e, "at": "AT", "elapsed_ms": 0} for e in r["evidence"]]
    return doc


def junit_cases(path: Path) -> tuple[dict[str, str], list[Any]]:
    """junit.xml's suite counts and its test cases in order, times left out."""
    suite = ElementTree.parse(path).getroot().find("testsuite")
    assert suite is not None
    counts = {k: suite.attrib[k] for k in ("name", "errors", "failures", "skipped", "tests")}
    cases = [
        (
            {k: v for k, v in case.attrib.items() if k != "time"},
            [(e.tag, e.attrib, e.text) for e in case],
        )
        for case in suite.iter("testcase")
    ]
    return counts, cases


def html_parts(path: Path) -> tuple[dict[str, Any], str]:
    """report.html's data (pytest-html's rows and environment) and the page around it."""
    page = path.read_text(encoding="utf-8")
    match = re.search(r'data-jsonblob="([^"]*)"', page)
    assert match is not None
    data = json.loads(html.unescape(match.group(1)))
    page = page.replace(match.group(0), "")
    page = re.sub(r"Report generated on [^<]* by", "Report generated by", page)
    page = re.sub(r'(<p class="run-count">\d+ tests?) took [^<]*<', r"\1 took TIME<", page)
    for rows in data["tests"].values():
        for row in rows:
            row["duration"] = "TIME"
            row["resultsTableRow"] = [
                re.sub(r'(<td class="col-duration">)[^<]*<', r"\1TIME<", c)
                for c in row["resultsTableRow"]
            ]
    return data, page


def files_under(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_same_run(whole: Path, merged: Path, shards: list[str]) -> None:
    """Every output of ``merged`` is what the single run wrote into ``whole``, but for the
    differences listed above."""
    one, two = results_json(whole), results_json(merged)
    started = (one["started"], two["started"])

    def same(a: object, b: object) -> None:
        left = scrub(json.dumps(a, sort_keys=True), started[0])
        right = scrub(json.dumps(b, sort_keys=True), started[1])
        assert left == right

    # results.json: every result, in order, and every field of the run but the listed ones.
    assert [r["nodeid"] for r in two["results"]] == [r["nodeid"] for r in one["results"]]
    for a, b in zip(one["results"], two["results"], strict=True):
        same(a, b)
    keys = list(one)
    keys.insert(keys.index("results"), "merged_from")  # the merge's only extra key
    assert list(two) == keys
    assert two["merged_from"] == shards
    for key in one:
        if key not in ("started", "finished", "resolvers", "queries", "results", "inventories"):
            same(one[key], two[key])
    # Each inventory as the single run lists it; its resolvers every shard's (each started
    # its own embedded servers), as the top-level ones.
    if "inventories" in one:

        def apart(doc: dict[str, Any]) -> list[dict[str, Any]]:
            return [{k: v for k, v in i.items() if k != "resolvers"} for i in doc["inventories"]]

        same(apart(one), apart(two))
        for index, entry in enumerate(two["inventories"]):
            asked = [
                r
                for shard in shards
                for r in results_json(merged.parent / shard)["inventories"][index]["resolvers"]
            ]
            assert entry["resolvers"] == list(dict.fromkeys(asked))
    assert one["summary"] == two["summary"] and one["domains"] == two["domains"]

    # failures.csv, the badges, fixes/: byte for byte, but for server addresses.
    for name in ("failures.csv", "badge.svg"):
        same((whole / name).read_text(), (merged / name).read_text())
    for folder in ("fixes", "badges"):
        if (whole / folder).exists() or (merged / folder).exists():
            same(files_under(whole / folder), files_under(merged / folder))

    # The history record of each inventory.
    def record(folder: Path, doc: dict[str, Any]) -> list[dict[str, Any]]:
        parts = doc["changes"].get("inventories") or [doc["changes"]]
        out = []
        for part in parts:
            found = json.loads((folder / part["recorded"]).read_text())
            out.append({k: v for k, v in found.items() if k not in ("started", "finished")})
        return out

    same(record(whole, one), record(merged, two))

    # junit.xml: the same test cases in the same order, with the same outcomes and messages.
    assert junit_cases(merged / "junit.xml") == junit_cases(whole / "junit.xml")

    # report.html: the same rows (each with its evidence, escaped) in the same order, the
    # same summary sections, environment and page.
    data1, page1 = html_parts(whole / "report.html")
    data2, page2 = html_parts(merged / "report.html")
    assert list(data2["tests"]) == list(data1["tests"])
    env1, env2 = data1.pop("environment"), data2.pop("environment")
    differ = {k for k in env1.keys() | env2.keys() if env1.get(k) != env2.get(k)}
    assert differ <= {"Resolvers", "Started"}, differ
    assert list(env1) == list(env2)
    same(data1, data2)
    assert scrub(page1, started[0]) == scrub(page2, started[1])


HOSTILE_SPF = (
    '@ 3600 IN TXT "v=spf1 include:spf.protection.outlook.com '
    "<script>document.title='PWNED'</script> -all\"\n"
)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> None:
    """The single runs record history at the shards' instant, as the merged run does (a
    --now run otherwise records none), so that their records can be compared."""
    monkeypatch.setenv(MERGED_ENV, str(N))


def test_merge_equals_the_single_run(
    shards: pytest.Pytester, capfd: pytest.CaptureFixture[str], recording: None
) -> None:
    single = audit(shards, "whole")
    assert single.ret == pytest.ExitCode.TESTS_FAILED
    dirs = [f"shard{i}" for i in range(1, N + 1)]
    code = cli.main(["merge", *dirs, "-o", "merged"])
    out, err = capfd.readouterr()
    assert code == single.ret, (out, err)
    assert "replayed" not in err  # written from the shards' files, not by a run
    assert_same_run(shards.path / "whole", shards.path / "merged", dirs)
    merged = load_results(shards.path / "merged" / "results.json")
    assert merged["shard"] is None and merged["partial"] is None
    # The merged run is the whole estate's baseline: it records history.
    assert merged["changes"]["recorded"], merged["changes"]
    assert "shard" not in merged["changes"]["inventory"]
    # Hostile DNS data stays escaped, as in the single run.
    page = (shards.path / "merged" / "report.html").read_text()
    assert "<script>document.title" not in page and "PWNED" in page
    assert "FAILING healthy.example" in out

    # The order the shards are named in changes nothing.
    code = cli.main(["merge", "shard3", "shard1", "shard2", "-o", "again"])
    assert code == single.ret, capfd.readouterr()
    assert_same_run(shards.path / "whole", shards.path / "again", dirs)


@pytest.mark.browser
@pytest.mark.skipif(browser.CHROMIUM is None, reason="needs chromium (make test installs it)")
def test_the_merged_report_opens(
    shards: pytest.Pytester, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Rendered by headless Chromium (its scripts run): the findings table is built from the
    merged rows, the audit summary is there, and the hostile record stayed text."""
    assert cli.main(["merge", "shard1", "shard2", "shard3", "-o", "merged"]) == 1
    report = shards.path / "merged" / "report.html"
    dom = browser.chromium("--dump-dom", report.as_uri(), profile=tmp_path / "profile").stdout
    parsed = browser.Elements()
    parsed.feed(dom)
    assert parsed.title == "dkimwatch: contoso, 2026-11-22"
    assert "Audit summary" in dom and "Domain × check" in dom
    rows = re.findall(r'<tbody class="results-table-row (\w+)" id="([^"]+)"', dom)
    findings = [
        r["nodeid"]
        for r in load_results(shards.path / "merged" / "results.json")["results"]
        if r["outcome"] in ("failed", "error", "xpassed")
    ]
    assert sorted(node for _, node in rows) == sorted(findings) and findings
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in dom
    assert "PWNED" not in parsed.title


def test_merge_refuses_shards_cut_short_and_keeps_the_last_merge(
    shards: pytest.Pytester, capfd: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["merge", "shard1", "shard2", "shard3", "-o", "merged"]) == 1
    before = files_under(shards.path / "merged")
    # A shard's results.json that lost a result: the totals are not the suite's.
    path = shards.path / "shard2" / "results.json"
    doc = json.loads(path.read_text())
    doc["results"].pop()
    path.write_text(json.dumps(doc))
    capfd.readouterr()
    assert cli.main(["merge", "shard1", "shard2", "shard3", "-o", "merged"]) == 4
    err = capfd.readouterr().err.strip()
    assert "results; the inventory's suite has" in err and len(err.splitlines()) == 1, err
    assert files_under(shards.path / "merged") == before
    assert not list((shards.path / "merged").glob(".staging-*"))


def test_merge_without_a_report_html_replays(
    shards: pytest.Pytester, capfd: pytest.CaptureFixture[str]
) -> None:
    """A shard run with --html=PATH leaves no report.html in its reports: merge says so and
    replays the whole estate from the shards' answers instead."""
    (shards.path / "shard2" / "report.html").unlink()
    single = audit(shards, "whole")
    code = cli.main(["merge", "shard1", "shard2", "shard3", "-o", "merged"])
    out, err = capfd.readouterr()
    assert code == single.ret, (out, err)
    assert "report.html" in err and "replayed run of the whole estate" in err, err
    whole = load_results(shards.path / "whole" / "results.json")
    merged = load_results(shards.path / "merged" / "results.json")
    assert verdicts(merged) == verdicts(whole) and merged["summary"] == whole["summary"]
    assert (shards.path / "merged" / "report.html").is_file()


def _edit(folder: Path, **fields: Any) -> None:
    path = folder / "results.json"
    doc = json.loads(path.read_text())
    doc.update(fields)
    path.write_text(json.dumps(doc))


def test_merge_refuses_what_is_not_one_audit(
    shards: pytest.Pytester, capfd: pytest.CaptureFixture[str]
) -> None:
    def refused(*dirs: str) -> str:
        code = cli.main(["merge", *dirs, "-o", "merged"])
        err = capfd.readouterr().err.strip()
        assert code == pytest.ExitCode.USAGE_ERROR, err
        assert len(err.splitlines()) == 1 and not (shards.path / "merged").exists(), err
        return err

    assert "shard(s) 3 of 3 missing" in refused("shard1", "shard2")
    assert "shard 2/3 twice" in refused("shard1", "shard2", "shard2", "shard3")
    root = shards.path
    shutil.copytree(root / "shard3", root / "later")
    _edit(root / "later", now="2026-11-23T09:00:00Z")
    assert "evaluation instant" in refused("shard1", "shard2", "later")
    shutil.copytree(root / "shard3", root / "other")
    _edit(root / "other", inventory={"path": "domains.yaml", "sha256": "0" * 64})
    assert "inventory sha256" in refused("shard1", "shard2", "other")
    shutil.copytree(root / "shard3", root / "older")
    _edit(root / "older", version="0.0.1")
    assert "dkimwatch version" in refused("shard1", "shard2", "older")
    shutil.copytree(root / "shard3", root / "four")
    _edit(root / "four", shard="3/4")
    assert "shard count" in refused("shard1", "shard2", "four")
    shutil.copytree(root / "shard3", root / "unsharded")
    _edit(root / "unsharded", shard=None)
    assert "not a shard's results" in refused("shard1", "shard2", "unsharded")
    assert "cannot read" in refused("shard1", "shard2", "nowhere")
    # The inventory here changed since the shards audited it (another checkout).
    with (root / "domains.yaml").open("a") as f:
        f.write("# edited after the shards ran\n")
    assert "not the inventory the shards audited" in refused("shard1", "shard2", "shard3")


# --- the sharded pipelines in examples/ci ----------------------------------------------------

MERGE_READS = ("results.json", "report.html", "junit.xml", "answers.json")
SHARDED_GITHUB = ci.REPO / "examples" / "ci" / "github-actions-sharded.yml"
SHARDED_AZURE = ci.REPO / "examples" / "ci" / "azure-pipelines-sharded.yml"


def merge_lines(path: Path) -> list[str]:
    run, _ = ci.commands(path)
    return [ln.strip() for ln in run if "dkimwatch merge" in ln]


def test_github_actions_sharded_structure() -> None:
    doc = ci.load(SHARDED_GITHUB)
    jobs = doc["jobs"]
    audit, merge = jobs["audit"], jobs["merge"]
    shards = audit["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1)) and len(shards) > 1
    assert audit["strategy"]["fail-fast"] is False
    assert "instant" in str(audit["needs"]) and "audit" in str(merge["needs"])
    shard_step = ci.step({"jobs": {"audit": audit}}, ci.named("Audit shard"))
    assert "--shard=${{ matrix.shard }}/${{ strategy.job-total }}" in shard_step["run"]
    assert "--now=${{ needs.instant.outputs.now }}" in shard_step["run"]
    upload = ci.step({"jobs": {"audit": audit}}, ci.uses("actions/upload-artifact"))
    assert upload["with"]["name"] == "dkimwatch-shard-${{ matrix.shard }}"
    # What merge reads: results.json, report.html and junit.xml (answers.json for the replay).
    uploaded = set(upload["with"]["path"].split())
    assert {f"reports/{n}" for n in MERGE_READS} <= uploaded
    download = ci.step({"jobs": {"merge": merge}}, ci.uses("actions/download-artifact"))
    assert download["with"] == {"pattern": "dkimwatch-shard-*", "path": "shards"}
    assert merge_lines(SHARDED_GITHUB) == [
        "dkimwatch merge shards/dkimwatch-shard-* -o reports || [ $? -eq 1 ]"
    ]
    # The whole estate's history is the merge job's to restore and save.
    names = [str(s.get("uses", "")).split("@")[0] for s in merge["steps"]]
    assert {"actions/cache/restore", "actions/cache/save"} <= set(names)


def test_azure_pipelines_sharded_structure() -> None:
    doc = ci.load(SHARDED_AZURE)
    jobs = {j["job"]: j for j in doc["jobs"]}
    audit, merge = jobs["audit"], jobs["merge"]
    assert audit["strategy"]["parallel"] > 1
    assert audit["dependsOn"] == "instant" and merge["dependsOn"] == "audit"
    assert "dependencies.instant.outputs['instant.now']" in audit["variables"]["NOW"]
    script = ci.step({"jobs": [audit]}, ci.named("Audit shard"))["script"]
    assert "--shard=$(System.JobPositionInPhase)/$(System.TotalJobsInPhase)" in script
    assert "--now=$(NOW)" in script
    publish = ci.step({"jobs": [audit]}, ci.task("PublishPipelineArtifact"))
    assert publish["inputs"]["artifact"] == "dkimwatch-shard-$(System.JobPositionInPhase)"
    assert publish["inputs"]["targetPath"] == "reports"  # every file merge reads (MERGE_READS)
    download = next(s for s in merge["steps"] if "download" in s)
    assert download["patterns"] == "dkimwatch-shard-*/**"
    assert merge_lines(SHARDED_AZURE) == [
        "dkimwatch merge $(Pipeline.Workspace)/dkimwatch-shard-* -o reports || [ $? -eq 1 ]"
    ]
    assert jobs["verdict"]["dependsOn"] == "merge"


@pytest.mark.parametrize("path", [SHARDED_GITHUB, SHARDED_AZURE], ids=lambda p: p.name)
def test_sharded_commands_use_options_that_exist(path: Path) -> None:
    run, comments = ci.commands(path)
    assert set(ci.make_targets_in(run, comments)) <= ci.makefile_targets()
    flags = ci.pytest_flags_in(run + comments)
    assert {"--shard", "--now", "--domains", "--nameserver"} <= set(flags)
    assert set(flags) <= ci.pytest_options(), set(flags) - ci.pytest_options()
    # `dkimwatch merge`'s own options: what its parser knows.
    merge_help = subprocess.run(
        [sys.executable, "-m", "dkimwatch.cli", "merge", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in merge_lines(path):
        for flag in re.findall(r"(?<![\w-])--?[a-z][\w-]*", line.split("||")[0]):
            assert re.search(rf"(?<![\w-]){re.escape(flag)}\b", merge_help), flag


@pytest.mark.parametrize(
    "domains",
    [["--domains=tenants"], ["--domains=tenants/contoso.yaml", "--domains=tenants/fabrikam.yaml"]],
    ids=["directory", "files"],
)
def test_merge_of_many_tenants_equals_the_single_run(
    pytester: pytest.Pytester,
    capfd: pytest.CaptureFixture[str],
    domains: list[str],
    recording: None,
) -> None:
    install_suite(pytester)
    test_tenants.write_tenants(pytester.path)
    assert audit(pytester, "whole", *domains).ret == pytest.ExitCode.TESTS_FAILED
    for i in range(1, N + 1):
        assert audit(pytester, f"shard{i}", f"--shard={i}/{N}", *domains).ret in (0, 1)
    code = cli.main(["merge", *(f"shard{i}" for i in range(1, N + 1)), "-o", "merged"])
    out, err = capfd.readouterr()
    assert code == pytest.ExitCode.TESTS_FAILED, (out, err)
    dirs = [f"shard{i}" for i in range(1, N + 1)]
    assert_same_run(pytester.path / "whole", pytester.path / "merged", dirs)
    whole = load_results(pytester.path / "whole" / "results.json")
    merged = load_results(pytester.path / "merged" / "results.json")
    tenant_of = {r["nodeid"]: (r["tenant"], r["inventory"]) for r in whole["results"]}
    assert {r["nodeid"]: (r["tenant"], r["inventory"]) for r in merged["results"]} == tenant_of
    assert [i["tenant"] for i in merged["inventories"]] == [
        i["tenant"] for i in whole["inventories"]
    ]
    assert len(merged["inventories"]) > 1
    badges = sorted(p.name for p in (pytester.path / "whole" / "badges").iterdir())
    assert sorted(p.name for p in (pytester.path / "merged" / "badges").iterdir()) == badges
    # One history record per inventory, each the whole estate's (no shard in its identity).
    parts = merged["changes"]["inventories"]
    assert len(parts) == len(merged["inventories"])
    assert all(p["recorded"] and "shard" not in p["inventory"] for p in parts), parts
