"""The proof that the fixes are right: the demo tenant is audited, its nsupdate.txt (the
fixes of its failing checks, as ``dkimwatch fixes --format nsupdate`` renders them) is
applied to the demo's customer zone files with dnspython, and the suite runs again: every
finding whose fixes all lie in a customer zone now passes, and nothing that passed fails."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import dns.zone
import pytest

from dkimwatch.fixes import RecordFix
from dkimwatch.fixformats import render
from dkimwatch.fixreader import read_fix_items
from selftests.nsupdatekit import apply_nsupdate

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-22T09:00:00Z"  # the instant demo/expected.json was written for


def _run(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--now", NOW)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    doc = json.loads((pytester.path / "reports" / "results.json").read_text())
    return {r["nodeid"]: r for r in doc["results"]}


def test_applying_nsupdate_to_the_demo_fixes_what_lies_in_customer_zones(
    pytester: pytest.Pytester,
) -> None:
    shutil.copy(REPO / "conftest.py", pytester.path)
    shutil.copy(REPO / "domains.yaml", pytester.path)
    shutil.copytree(REPO / "tests", pytester.path / "tests")
    shutil.copytree(REPO / "demo", pytester.path / "demo")
    (pytester.path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    zone_dir = pytester.path / "demo" / "zones"

    before = _run(pytester)
    reports = pytester.path / "reports"
    assert (reports / "fixes" / "nsupdate.txt").is_file()  # every run writes it
    with (reports / "failures.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    named = {row["fix"] for row in rows if row["fix"]}
    assert "fixes/nsupdate.txt" in named  # the demo's zones are on a generic host
    assert all((reports / name).is_file() for name in named), named
    page = (reports / "report.html").read_text()
    assert "generic DNS host, nsupdate" in page and "Other formats" in page  # failing rows
    customer = {r["domain"] for r in before.values()}
    items = read_fix_items(pytester.path / "reports" / "results.json")
    assert items, "the demo's failures carry no fixes"
    in_customer_zones = [
        (ctx, fix) for ctx, fix in items if isinstance(fix, RecordFix) and fix.zone in customer
    ]
    text = render("nsupdate", in_customer_zones)["nsupdate.txt"]
    zones = {
        zone: dns.zone.from_file(str(zone_dir / f"{zone}.zone"), origin=zone, relativize=False)
        for zone in {fix.zone for _, fix in in_customer_zones if isinstance(fix, RecordFix)}
    }
    assert apply_nsupdate(text, zones) >= len(in_customer_zones)  # a replace is two lines
    for name, zone in zones.items():
        zone.to_file(str(zone_dir / f"{name}.zone"), relativize=False)

    # findings whose every fix is a DNS change in a customer zone
    fixable = {
        nodeid
        for nodeid, r in before.items()
        if r["outcome"] == "failed"
        and r.get("fixes")
        and all(f["kind"] == "dns" and f["zone"] in customer for f in r["fixes"])
    }
    assert len(fixable) >= 5, sorted(fixable)
    after = _run(pytester)

    # A DNS fix can unmask a problem only Microsoft can fix: once a selector's CNAME points
    # at the right Exchange Online target, the verdict depends on the key published there.
    # The demo's Microsoft zones have none for two kinds (other_tenant: the keys exist only
    # in the other tenant; txt_instead_of_cname: the copied key is not published at the
    # target). Such a verdict proposes no DNS change, only a support case or a cmdlet; any
    # other failure after the fix, or any pass turned into an error, fails this test.
    def microsoft_side(r: dict[str, Any]) -> bool:
        return bool(r.get("fixes")) and all(
            f["kind"] in ("support", "exchange") for f in r["fixes"]
        )

    still = {n: after[n] for n in fixable if after[n]["outcome"] != "passed"}
    not_fixed = {n: r["message"] for n, r in still.items() if not microsoft_side(r)}
    assert not not_fixed, not_fixed
    broken = {
        n: after[n]
        for n, r in before.items()
        if r["outcome"] == "passed" and after[n]["outcome"] in ("failed", "error")
    }
    not_unmasked = {n: r["message"] for n, r in broken.items() if not microsoft_side(r)}
    assert not not_unmasked, not_unmasked
    unmasked_domains = {after[n]["domain"] for n in [*still, *broken]}
    kinds = json.loads((REPO / "demo" / "kinds.json").read_text())
    assert {kinds[d] for d in unmasked_domains} <= {"other_tenant", "txt_instead_of_cname"}, {
        d: kinds[d] for d in unmasked_domains
    }
