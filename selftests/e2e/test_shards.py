"""--shard I/N and `dkimwatch merge`: the shards of an estate, merged, are the single run.

The estate is tenantkit's (one domain per failure kind), served by the embedded zone server
over real sockets; merge replays the shards' own recorded answers.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dkimwatch import cli
from dkimwatch.inventory import load_inventory
from dkimwatch.report import load_results
from dkimwatch.shards import Shard, parse_shard
from selftests import tenantkit
from selftests.e2e import test_ci_examples as ci
from selftests.e2e import test_tenants
from selftests.suitekit import install_suite

pytest_plugins = ["pytester"]

N = 3


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
        assert json.loads((folder / "answers.json").read_text())["answers"]
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
    keys = json.loads((shards.path / "spread" / "answers.json").read_text())["answers"]
    assert set(keys) == set(
        json.loads((shards.path / "shard1" / "answers.json").read_text())["answers"]
    )


def test_merge_equals_the_single_run(
    shards: pytest.Pytester, capfd: pytest.CaptureFixture[str]
) -> None:
    single = audit(shards, "whole")
    assert single.ret == pytest.ExitCode.TESTS_FAILED
    code = cli.main(["merge", *(f"shard{i}" for i in range(1, N + 1)), "-o", "merged"])
    out, err = capfd.readouterr()
    assert code == pytest.ExitCode.TESTS_FAILED, (out, err)
    whole = load_results(shards.path / "whole" / "results.json")
    merged = load_results(shards.path / "merged" / "results.json")
    assert verdicts(merged) == verdicts(whole)
    assert merged["summary"] == whole["summary"] and merged["domains"] == whole["domains"]
    assert merged["shard"] is None and merged["partial"] is None
    assert merged["inventory"] == whole["inventory"]
    assert failure_rows(shards.path / "merged" / "failures.csv") == failure_rows(
        shards.path / "whole" / "failures.csv"
    )
    for name in ("report.html", "junit.xml", "badge.svg"):
        assert (shards.path / "merged" / name).is_file(), name
    # The merged run is the whole estate's baseline: it records history.
    assert merged["changes"]["recorded"], merged["changes"]
    assert "shard" not in merged["changes"]["inventory"]


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
    assert {"reports/results.json", "reports/answers.json"} <= set(upload["with"]["path"].split())
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
    pytester: pytest.Pytester, capfd: pytest.CaptureFixture[str], domains: list[str]
) -> None:
    install_suite(pytester)
    test_tenants.write_tenants(pytester.path)
    assert audit(pytester, "whole", *domains).ret == pytest.ExitCode.TESTS_FAILED
    for i in range(1, N + 1):
        assert audit(pytester, f"shard{i}", f"--shard={i}/{N}", *domains).ret in (0, 1)
    code = cli.main(["merge", *(f"shard{i}" for i in range(1, N + 1)), "-o", "merged"])
    out, err = capfd.readouterr()
    assert code == pytest.ExitCode.TESTS_FAILED, (out, err)
    whole = load_results(pytester.path / "whole" / "results.json")
    merged = load_results(pytester.path / "merged" / "results.json")
    tenant_of = {r["nodeid"]: (r["tenant"], r["inventory"]) for r in whole["results"]}
    assert {r["nodeid"]: (r["tenant"], r["inventory"]) for r in merged["results"]} == tenant_of
    assert verdicts(merged) == verdicts(whole)
    assert merged["inventories"] == whole["inventories"]
    assert merged["inventory"] == whole["inventory"]
    assert merged["summary"] == whole["summary"] and merged["domains"] == whole["domains"]
    badges = sorted(p.name for p in (pytester.path / "whole" / "badges").iterdir())
    assert sorted(p.name for p in (pytester.path / "merged" / "badges").iterdir()) == badges
    for badge in badges:
        assert (pytester.path / "merged" / "badges" / badge).read_text() == (
            pytester.path / "whole" / "badges" / badge
        ).read_text()
    assert failure_rows(pytester.path / "merged" / "failures.csv") == failure_rows(
        pytester.path / "whole" / "failures.csv"
    )
