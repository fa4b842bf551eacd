"""results.json keeps each DNS exchange once (its ``evidence`` table) and load_results,
the one reader, hands every result its exchanges back."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dkimwatch.checks import Verdict
from dkimwatch.report import RESULTS_FORMAT, ResultsFormatError, load_results
from dkimwatch.resolver import Evidence
from selftests import tenantkit
from selftests.suitekit import install_suite

pytest_plugins = ["pytester"]


def test_evidence_is_stored_once_and_read_back_whole(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    pytester.runpytest_subprocess("--now", tenantkit.NOW)
    path = pytester.path / "reports" / "results.json"
    raw = json.loads(path.read_text())
    assert raw["format"] == RESULTS_FORMAT
    table = raw["evidence"]
    uses = Counter(i for r in raw["results"] for i in r["evidence"])
    assert set(uses) == set(table)  # every id names an exchange, every exchange is used
    assert max(uses.values()) > 1  # shared answers (Microsoft's zones, SPF) appear once
    exchanges = [json.dumps(e, sort_keys=True) for e in table.values()]
    assert len(set(exchanges)) == len(exchanges)  # no exchange twice in the table

    doc = load_results(path)
    assert "evidence" not in doc
    for got, stored in zip(doc["results"], raw["results"], strict=True):
        assert got["evidence"] == [table[i] for i in stored["evidence"]]
        assert all(isinstance(e, dict) and e["qname"] for e in got["evidence"])
    assert doc["summary"] == raw["summary"]  # what the CI examples read is unchanged


def test_load_results_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"tool": "dkimwatch", "format": "dkimwatch-results/9"}))
    with pytest.raises(ResultsFormatError, match="dkimwatch-results/9"):
        load_results(path)
    doc = {"tool": "dkimwatch", "format": RESULTS_FORMAT, "evidence": {}, "results": []}
    doc["results"].append({"nodeid": "t::x", "evidence": ["e1"]})
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsFormatError, match="t::x"):
        load_results(path)
    old = {"tool": "dkimwatch", "results": [{"nodeid": "t", "evidence": [{"qname": "a."}]}]}
    path.write_text(json.dumps(old))  # format 1: evidence inline
    assert load_results(path) == old


def _exchange() -> Evidence:
    return Evidence(
        "_dmarc.a.example", "TXT", "127.0.0.1:53", "NOERROR", ("v=DMARC1",), 60, 1.0, "t"
    )


def test_verdicts_share_equal_exchanges() -> None:
    """Copies of an exchange (each pickled batch, each xdist verdict, brings its own) are
    held once: the second verdict takes the first one's object."""
    first = Verdict("dmarc", "a.example", None, "pass", "passed", "ok", evidence=(_exchange(),))
    second = Verdict("spf", "a.example", None, "pass", "passed", "ok", evidence=(_exchange(),))
    assert first.evidence[0] is not second.evidence[0]
    table: dict[Evidence, Evidence] = {}
    assert first.sharing(table) is first  # nothing to replace
    shared = second.sharing(table)
    assert shared.evidence[0] is first.evidence[0]
    assert shared == second
