"""The nightly pipelines in examples/ci: their structure, that every command they run exists
(make targets, pytest options), that what they publish is what dkimwatch writes, and that
their red/green verdict scripts give the right answer on real reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from selftests import tenantkit

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
GITHUB = REPO / "examples" / "ci" / "github-actions.yml"
AZURE = REPO / "examples" / "ci" / "azure-pipelines.yml"
CRON = re.compile(r"^(\S+\s+){4}\S+$")


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def walk_steps(doc: Any) -> Iterator[dict[str, Any]]:
    """Every step of every job (GitHub: jobs is a mapping; Azure: a list)."""
    jobs = doc["jobs"]
    for job in jobs.values() if isinstance(jobs, dict) else jobs:
        yield from job.get("steps", [])


def step(doc: Any, predicate: Any) -> dict[str, Any]:
    found = [s for s in walk_steps(doc) if predicate(s)]
    assert len(found) == 1, found
    return found[0]


def uses(name: str) -> Any:
    return lambda s: str(s.get("uses", "")).split("@")[0] == name


def task(name: str) -> Any:
    return lambda s: str(s.get("task", "")).split("@")[0] == name


def named(name: str) -> Any:
    return lambda s: s.get("name", s.get("displayName")) == name


def scripts(doc: Any) -> list[str]:
    return [
        str(s.get("run", s.get("script"))) for s in walk_steps(doc) if "run" in s or "script" in s
    ]


# --- structure ------------------------------------------------------------------------------


def test_github_actions_nightly_structure() -> None:
    doc = load(GITHUB)
    assert set(doc) >= {"name", "on", "jobs"}
    triggers = doc["on"]
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert all(CRON.match(s["cron"]) for s in triggers["schedule"])
    audit = doc["jobs"]["audit"]
    assert audit["runs-on"].startswith("ubuntu")
    steps = audit["steps"]
    names = [str(s.get("uses", s.get("name"))).split("@")[0] for s in steps]
    assert names[:2] == ["actions/checkout", "actions/setup-python"]
    assert str(steps[1]["with"]["python-version"]) == "3.11"
    venv = step(doc, uses("actions/cache"))
    assert venv["with"]["path"] == ".venv"
    assert "hashFiles('pyproject.toml')" in venv["with"]["key"]
    # The history travels between runs: restored by prefix, saved even when the run is red.
    restore = step(doc, uses("actions/cache/restore"))
    save = step(doc, uses("actions/cache/save"))
    assert restore["with"]["path"] == save["with"]["path"] == "reports/history"
    assert restore["with"]["key"] == save["with"]["key"]
    assert restore["with"]["key"].startswith(restore["with"]["restore-keys"])
    assert save["if"].startswith("always()")
    upload = step(doc, uses("actions/upload-artifact"))
    assert upload["if"] == "always()"
    audit_step = step(doc, named("Audit"))
    verdict = step(doc, named("Fail on red"))
    assert "make report" in audit_step["run"]
    # Red is decided last, and only when the audit ran (no always()).
    assert steps.index(verdict) == len(steps) - 1
    assert steps.index(save) > steps.index(audit_step)
    assert "if" not in verdict
    badge = doc["jobs"]["badge"]
    assert badge["needs"] == "audit"
    assert badge["if"].startswith("always()")
    assert badge["permissions"] == {"pages": "write", "id-token": "write"}
    assert step(doc, uses("actions/deploy-pages"))
    assert step(doc, uses("actions/upload-pages-artifact"))["with"]["path"] == "site"


def test_azure_pipelines_nightly_structure() -> None:
    doc = load(AZURE)
    assert doc["trigger"] == "none" and doc["pr"] == "none"
    (schedule,) = doc["schedules"]
    assert CRON.match(schedule["cron"])
    assert schedule["always"] is True
    assert schedule["branches"]["include"]
    jobs = {job["job"]: job for job in doc["jobs"]}
    assert set(jobs) == {"audit", "verdict"}
    assert jobs["verdict"]["dependsOn"] == "audit"
    python = step(doc, task("UsePythonVersion"))
    assert str(python["inputs"]["versionSpec"]) == "3.11"
    caches = [s for s in walk_steps(doc) if task("Cache")(s)]
    by_path = {c["inputs"]["path"]: c["inputs"] for c in caches}
    assert set(by_path) == {".venv", "reports/history"}
    assert "pyproject.toml" in by_path[".venv"]["key"]
    history = by_path["reports/history"]
    assert "$(Build.BuildId)" in history["key"]
    assert history["key"].startswith(f"{history['restoreKeys'].strip()} |")
    tests = step(doc, task("PublishTestResults"))
    assert tests["condition"] == "always()"
    assert tests["inputs"]["testResultsFormat"] == "JUnit"
    assert tests["inputs"]["testResultsFiles"] == "reports/junit.xml"
    published = step(
        doc, lambda s: task("PublishPipelineArtifact")(s) or task("PublishBuildArtifacts")(s)
    )
    assert published["condition"] == "always()"
    assert published["inputs"]["targetPath"] == "reports"
    download = jobs["verdict"]["steps"][1]
    assert download == {"download": "current", "artifact": published["inputs"]["artifact"]}
    # The audit job must stay green on findings (else the Cache task saves no history):
    # nothing in it fails the job on failed checks.
    assert tests["inputs"]["failTaskOnFailedTests"] is False
    assert all("sys.exit" not in str(s.get("script", "")) for s in jobs["audit"]["steps"])


# --- every command exists -------------------------------------------------------------------


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, flags=re.MULTILINE))


@cache
def pytest_options() -> frozenset[str]:
    """Every option `pytest --help` knows, with dkimwatch's (entry point) and plugins'."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO / "examples",
    ).stdout
    return frozenset(re.findall(r"(?<![\w-])(--[a-z][\w-]*|-[a-zA-Z])\b", out))


def commands(path: Path) -> tuple[list[str], list[str]]:
    """Lines of the scripts the pipeline runs, and of its comments (which tell a user what
    to run for a real tenant)."""
    doc = load(path)
    run = [ln for script in scripts(doc) for ln in script.splitlines()]
    comments = [ln.split("#", 1)[1] for ln in path.read_text().splitlines() if "#" in ln]
    return run, comments


def make_targets_in(run: list[str], comments: list[str]) -> list[str]:
    made = []
    for line in run:  # `make a b VAR=x`, up to a shell separator
        for match in re.finditer(r"\bmake((?:[ \t]+[\w.=-]+)+)", line):
            made += [w for w in match.group(1).split() if "=" not in w]
    for line in comments:  # prose: only the word right after `make`
        made += re.findall(r"\bmake[ \t]+([a-z][\w.-]*)\b(?![\w.-]*=)", line)
    return made


def pytest_flags_in(lines: list[str]) -> list[str]:
    flags = []
    for line in lines:
        if "pytest" in line.lower():
            flags += [f.split("=")[0] for f in re.findall(r"(?<![\w-])--?[a-z][\w=.:/-]*", line)]
    return flags


@pytest.mark.parametrize("path", [GITHUB, AZURE], ids=lambda p: p.name)
def test_commands_use_make_targets_and_options_that_exist(path: Path) -> None:
    targets = makefile_targets()
    assert {"report", "test"} <= targets
    options = pytest_options()
    assert {"--domains", "--nameserver", "--zones", "-n", "-k"} <= options
    run, comments = commands(path)
    made = make_targets_in(run, comments)
    flags = pytest_flags_in(run + comments)
    assert "report" in make_targets_in(run, []), "the pipeline does not run make report"
    assert set(made) <= targets, set(made) - targets
    assert "--domains" in flags and "--nameserver" in flags  # the real-tenant hint
    assert set(flags) <= options, set(flags) - options


def test_the_scan_would_catch_a_wrong_target_or_option() -> None:
    run = ["rm -f x && make report nightly PYTEST_ARGS=-q; echo done"]
    comments = [" then make lint runs ruff", " PYTEST_ARGS: --domain=x.yaml -n auto (pytest)"]
    assert make_targets_in(run, comments) == ["report", "nightly", "lint"]
    assert pytest_flags_in(comments) == ["--domain", "-n"]
    assert "nightly" not in makefile_targets() and "lint" in makefile_targets()
    assert "--domain" not in pytest_options() and "--nameservers" not in pytest_options()


# --- what they publish, and their verdict, on real reports ----------------------------------


def published_paths() -> set[str]:
    gha, azp = load(GITHUB), load(AZURE)
    paths = set(step(gha, uses("actions/upload-artifact"))["with"]["path"].split())
    paths.add(step(gha, uses("actions/cache/save"))["with"]["path"])
    paths.add(step(azp, task("PublishTestResults"))["inputs"]["testResultsFiles"])
    paths.add(step(azp, task("PublishPipelineArtifact"))["inputs"]["targetPath"])
    for doc in (gha, azp):
        for script in scripts(doc):
            paths.update(re.findall(r"reports/[\w./]+", script))
    return paths


def bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_published_paths_are_what_dkimwatch_writes(tenant: pytest.Pytester) -> None:
    tenant.runpytest_subprocess()  # at the real time: a --now run adds no history record
    paths = published_paths()
    assert {"reports/junit.xml", "reports/results.json", "reports/history"} <= {
        p.rstrip("/") for p in paths
    }
    for p in paths:
        target = tenant.path / p
        assert target.exists(), f"{p}: the pipelines publish it, but a run did not write it"
        if p.rstrip("/") in ("reports", "reports/history"):
            assert target.is_dir() and any(target.iterdir())
        else:
            assert target.is_file() and target.stat().st_size > 0, p


def test_verdict_steps_are_red_on_failures_and_green_when_all_hold(
    tenant: pytest.Pytester, tmp_path: Path
) -> None:
    gha = step(load(GITHUB), named("Fail on red"))["run"]
    summary_script = step(load(GITHUB), named("Job summary"))["run"]
    azp = load(AZURE)
    (verdict_job,) = [j for j in azp["jobs"] if j["job"] == "verdict"]
    azure = verdict_job["steps"][-1]["script"]
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "dkimwatch-reports").symlink_to(tenant.path / "reports")
    azure = azure.replace("$(Pipeline.Workspace)", str(workspace))

    def verdicts() -> tuple[int, int]:
        return bash(gha, tenant.path).returncode, bash(azure, tenant.path).returncode

    # A complete run of an inventory that holds only the healthy domain: green.
    inventory = tenant.path / "domains.yaml"
    everything = inventory.read_text()
    healthy = next(c.inventory for c in tenantkit.cases() if c.domain == "healthy.example")
    inventory.write_text(everything.split("domains:\n")[0] + "domains:\n" + healthy)
    tenant.runpytest_subprocess("--now", tenantkit.NOW)
    passed = json.loads((tenant.path / "reports/results.json").read_text())["summary"]["passed"]
    assert passed == tenantkit.suite_size(inventory)
    assert verdicts() == (0, 0)
    inventory.write_text(everything)

    zone = tenant.path / "zones" / "healthy.example.zone"
    zone.write_text("".join(ln for ln in zone.read_text().splitlines(True) if "_dmarc" not in ln))
    tenant.runpytest_subprocess()  # at the real time: a --now run adds no history record
    assert verdicts() == (1, 1)
    out = bash(azure, tenant.path).stdout
    assert "still_failing:" in out

    # The job summary says what changed since the previous full run.
    tenant.runpytest_subprocess()
    summary_file = tmp_path / "summary.md"
    done = bash(summary_script, tenant.path, GITHUB_STEP_SUMMARY=str(summary_file))
    assert done.returncode == 0, done.stderr
    text = summary_file.read_text()
    assert "### dkimwatch" in text
    assert re.search(r"Since \S+: 0 new failures, 0 fixed, \d+ still failing", text), text
