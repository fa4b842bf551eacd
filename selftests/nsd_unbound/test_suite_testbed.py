"""The compliance suite through a real recursive resolver: the hand-made tenant served by
NSD (customer and Microsoft) behind Unbound, asked with --nameserver as a user's CI would."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dkimwatch.report import load_results
from selftests import tenantkit
from selftests.testbed import Testbed, missing_binaries

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
MISSING = missing_binaries()
pytestmark = [
    pytest.mark.testbed,
    pytest.mark.skipif(
        bool(MISSING), reason=f"needs {', '.join(MISSING)} (make test installs them)"
    ),
]


@pytest.fixture
def bed(tmp_path: Path) -> Iterator[tuple[Testbed, Path]]:
    inventory = tenantkit.write_tenant(tmp_path / "tenant")
    with Testbed(tmp_path / "tenant" / "zones", workdir=tmp_path / "bed") as testbed:
        yield testbed, inventory


def run(pytester: pytest.Pytester, inventory: Path, resolver: str) -> dict[str, Any]:
    shutil.copy(REPO / "conftest.py", pytester.path)
    if not (pytester.path / "tests").exists():
        shutil.copytree(REPO / "tests", pytester.path / "tests")
    (pytester.path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--domains={inventory}",
        f"--nameserver={resolver}",
        "--now",
        tenantkit.NOW,
    )
    return dict(load_results(pytester.path / "reports" / "results.json"))


def test_verdicts_through_unbound(pytester: pytest.Pytester, bed: tuple[Testbed, Path]) -> None:
    testbed, inventory = bed
    doc = run(pytester, inventory, testbed.resolver)
    assert doc["resolvers"] == [testbed.resolver]
    wrong = [
        (
            r["nodeid"],
            r["outcome"],
            tenantkit.expected_outcome(r["domain"], r["check"], r["selector"]),
        )
        for r in doc["results"]
        if r["outcome"] != tenantkit.expected_outcome(r["domain"], r["check"], r["selector"])
    ]
    assert not wrong
    assert len(doc["results"]) == tenantkit.suite_size(inventory)


def test_microsoft_down_is_an_error_not_a_missing_key(
    pytester: pytest.Pytester, bed: tuple[Testbed, Path]
) -> None:
    testbed, inventory = bed
    testbed.stop_microsoft()
    doc = run(pytester, inventory, testbed.resolver)
    by = {(r["domain"], r["check"], r["selector"]): r for r in doc["results"]}
    # The customer's CNAMEs still answer; everything behind them could not be had.
    assert by[("healthy.example", "dkim_cname", "selector1")]["outcome"] == "passed"
    for selector in ("selector1", "selector2"):
        target = by[("healthy.example", "dkim_target", selector)]
        assert target["outcome"] == "error", target
        assert target["result"] == "temperror"
        assert any(e["rcode"] == "SERVFAIL" for e in target["evidence"])
    assert by[("healthy.example", "dkim_rotation", None)]["outcome"] == "error"
    # SPF needs Microsoft's include: no answer there is no verdict either.
    assert by[("healthy.example", "spf", None)]["outcome"] == "error"
    assert by[("healthy.example", "dmarc", None)]["outcome"] == "passed"
    # A failure may only come from what the customer's own server said (its names are up).
    for r in doc["results"]:
        if r["outcome"] == "failed":
            assert all(e["rcode"] in ("NOERROR", "NXDOMAIN") for e in r["evidence"]), r


def test_generated_corpus_through_unbound(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A second tenant (other names, mixed-case tenant, new-format targets, pending
    rotations, IDN, subdomain), its expectations written from each domain's fault kind
    by bench/gen_tenant.py, never by running the suite."""
    gen = _load_generator()
    corpus = tmp_path / "corpus"
    gen.main(["corpus", str(corpus)])
    expected = json.loads((corpus / "expected.json").read_text())
    with Testbed(corpus / "zones", workdir=tmp_path / "bed") as testbed:
        doc = run(pytester, corpus / "domains.yaml", testbed.resolver)
    got = {r["nodeid"]: {"outcome": r["outcome"], "result": r["result"]} for r in doc["results"]}
    assert set(got) == set(expected)
    wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not wrong, wrong
    assert doc["summary"]["error"] == 0


def test_generated_corpus_from_its_exports_through_unbound(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """The same kind of tenant, described by its Get-DkimSigningConfig exports: PowerShell 7
    JSON read at run time through `sources:`, and Windows PowerShell 5.1 JSON (UTF-16LE,
    \\/Date()\\/) turned into an inventory by `dkimwatch import`. The exports carry the
    keys Exchange Online signs with, so another tenant's keys now fail dkim_key."""
    from dkimwatch.cli import main as dkimwatch

    gen = _load_generator()
    corpus = tmp_path / "corpus"
    gen.main(["corpus", str(corpus), "--seed", "exports"])
    expected = json.loads((corpus / "expected-export.json").read_text())
    assert (
        dkimwatch(["import", str(corpus / "export-ps51.json"), "-o", str(corpus / "i.yaml")]) == 0
    )
    with Testbed(corpus / "zones", workdir=tmp_path / "bed") as testbed:
        for inventory in (corpus / "domains-export.yaml", corpus / "i.yaml"):
            doc = run(pytester, inventory, testbed.resolver)
            got = {r["nodeid"]: (r["outcome"], r["result"]) for r in doc["results"]}
            want = {k: (v["outcome"], v["result"]) for k, v in expected.items()}
            assert set(got) == set(want), inventory
            wrong = {k: (got[k], v) for k, v in want.items() if got[k] != v}
            assert not wrong, (inventory, wrong)


def _load_generator() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_tenant", REPO / "bench" / "gen_tenant.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_dead_and_refusing_servers_make_every_check_an_error(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """A domain delegated to a port where nothing listens, and one its server REFUSES:
    Unbound answers SERVFAIL (or nothing); every check of both is an error, none failed."""
    extra = "  - dead-port.example\n  - refused.example\n"
    inventory = tenantkit.write_tenant(tmp_path / "tenant", extra_domains=extra)
    dead = f"127.0.10.1@{_unused_port('127.0.10.1')}"
    with Testbed(
        tmp_path / "tenant" / "zones",
        workdir=tmp_path / "bed",
        extra_stubs={"dead-port.example": dead},
    ) as testbed:
        doc = run(pytester, inventory, testbed.resolver)
    by_domain: dict[str, set[tuple[str, str]]] = {}
    for r in doc["results"]:
        if r["check"] == "dkim_enabled":  # asks no DNS: shorthand entries say nothing of it
            shorthand = r["domain"] in ("dead-port.example", "refused.example", "shorthand.example")
            assert r["outcome"] == ("skipped" if shorthand else "passed"), r
            continue
        by_domain.setdefault(r["domain"], set()).add((r["outcome"], r["result"]))
    assert by_domain["dead-port.example"] == {("error", "temperror")}
    assert by_domain["refused.example"] == {("error", "temperror")}
    assert by_domain["healthy.example"] == {("passed", "pass")}
    dead_results = [
        r
        for r in doc["results"]
        if r["domain"] == "dead-port.example" and r["check"] != "dkim_enabled"
    ]
    assert all("no answer" in r["message"] or "DNS" in r["message"] for r in dead_results), [
        r["message"] for r in dead_results
    ]
    assert all(r["evidence"] for r in dead_results)


def _unused_port(host: str) -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
