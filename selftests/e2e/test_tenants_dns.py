"""Many tenants in one run, each inventory with its own ``dns:`` settings: each domain is
asked through its own inventory's resolvers (two sets of zone files behind two embedded
servers, or zone files beside a resolver the test starts), over real sockets.

The two sets of zones disagree on a name both tenants' domains ask (the SPF include
spf.protection.outlook.com), and each holds zones only its own tenant's domains need, so
the verdicts show which server each domain asked."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dkimwatch.cli import main
from dkimwatch.report import answers_from_text, load_results
from dkimwatch.zoneserver import ZoneServer
from selftests import tenantkit
from selftests.suitekit import install_suite, run
from selftests.tenantkit import FABRIKAM, FABRIKAM_SPF, OTHER, write_tenants

pytest_plugins = ["pytester"]

HEALTHY = "healthy.example"
SPF_INCLUDE = "spf.protection.outlook.com"
# fabrikam's include tree reaches the gateway its policy requires; contoso's does not.
FABRIKAM_OUTLOOK_SPF = f"v=spf1 include:{FABRIKAM_SPF} -all"


def fabrikam_zones(root: Path) -> Path:
    """zones-fabrikam/: what fabrikam's domain needs, with its own spf.protection.outlook.com;
    contoso's zones/ lose fabrikamcorp.onmicrosoft.com (only fabrikam's server has it)."""
    shared, own = root / "zones", root / "zones-fabrikam"
    own.mkdir()
    for name in (f"{OTHER}.zone", f"{FABRIKAM}.onmicrosoft.com.zone"):
        shutil.copy(shared / name, own / name)
    (shared / f"{FABRIKAM}.onmicrosoft.com.zone").unlink()
    outlook = (shared / "protection.outlook.com.zone").read_text()
    start = outlook.index('spf 3600 IN TXT "')
    end = outlook.index("\n", start)
    (own / "protection.outlook.com.zone").write_text(
        f'{outlook[:start]}spf 3600 IN TXT "{FABRIKAM_OUTLOOK_SPF}"{outlook[end:]}'
    )
    soa = "@ 3600 IN SOA ns1.{o}. hostmaster.{o}. 1 3600 600 86400 300\n@ 3600 IN NS ns1.{o}.\n"
    gateway = FABRIKAM_SPF.split(".", 1)[1]
    (own / f"{gateway}.zone").write_text(
        f"$ORIGIN {gateway}.\n$TTL 3600\n{soa.format(o=gateway)}"
        'spf 3600 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n'
    )
    return own


def fabrikam_dns(body: str) -> str:
    return f"dns:\n{body}  timeout: 1.5\n  attempts: 3\n"


@pytest.fixture
def two_zone_sets(pytester: pytest.Pytester) -> pytest.Pytester:
    """tenants/contoso.yaml on zones/, tenants/fabrikam.yaml on zones-fabrikam/ (and its
    own timeout and attempts)."""
    install_suite(pytester)
    write_tenants(pytester.path, fabrikam_dns=fabrikam_dns("  zones: ../zones-fabrikam\n"))
    fabrikam_zones(pytester.path)
    return pytester


@pytest.fixture
def fabrikam_resolver(pytester: pytest.Pytester) -> Iterator[str]:
    """tenants/fabrikam.yaml asks a resolver on loopback (started here, serving
    zones-fabrikam/) through dns.nameservers; contoso stays on zones/."""
    install_suite(pytester)
    write_tenants(pytester.path)
    with ZoneServer(fabrikam_zones(pytester.path)) as server:
        address = f"{server.host}:{server.port}"
        inventory = pytester.path / "tenants" / "fabrikam.yaml"
        text = inventory.read_text()
        start, end = text.index("dns:\n"), text.index("policy:")
        inventory.write_text(
            text[:start] + fabrikam_dns(f"  nameservers: ['{address}']\n") + text[end:]
        )
        yield address


def by_key(doc: dict[str, Any]) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    return {(r["domain"], r["check"], r["selector"]): r for r in doc["results"]}


def servers_asked(row: dict[str, Any], qname: str) -> set[str]:
    return {e["server"] for e in row["evidence"] if e["qname"] == qname}


def assert_each_tenant_asked_its_own(doc: dict[str, Any]) -> tuple[str, str]:
    """The verdicts only each tenant's own server can give; (contoso's, fabrikam's server)."""
    rows = by_key(doc)
    contoso, fabrikam = (i["resolvers"] for i in doc["inventories"])
    assert len(contoso) == 1 and len(fabrikam) == 1 and contoso != fabrikam, doc["inventories"]
    assert set(doc["resolvers"]) == {contoso[0], fabrikam[0]}
    # fabrikam's spf.protection.outlook.com reaches the include its policy requires (in
    # contoso's zones it does not: test_tenants sees this SPF fail).
    spf = rows[(OTHER, "spf", None)]
    assert spf["outcome"] == "passed", spf["message"]
    assert servers_asked(spf, SPF_INCLUDE) == {fabrikam[0]}
    # The same name asked for contoso's domain: contoso's server and answer.
    healthy = rows[(HEALTHY, "spf", None)]
    assert healthy["outcome"] == "passed", healthy["message"]
    assert servers_asked(healthy, SPF_INCLUDE) == {contoso[0]}
    # fabrikamcorp.onmicrosoft.com is only in fabrikam's zones: its keys are found.
    for selector in ("selector1", "selector2"):
        assert rows[(OTHER, "dkim_target", selector)]["outcome"] == "passed"
        assert rows[(OTHER, "dkim_cname", selector)]["outcome"] == "passed"
    # contoso's domains (only in contoso's zones) are judged as in a run of their own.
    wrong = {
        key: (r["outcome"], tenantkit.expected_outcome(*key))
        for key, r in rows.items()
        if key[0] != OTHER
        and key != ("no-spf.example", "spf", None)  # contoso's waiver
        and r["outcome"] != tenantkit.expected_outcome(*key)
    }
    assert not wrong, wrong
    assert not [k for k, r in rows.items() if r["outcome"] == "error"]
    return contoso[0], fabrikam[0]


def test_each_inventory_asks_its_own_zone_files(two_zone_sets: pytest.Pytester) -> None:
    result, doc = run(two_zone_sets, "--domains=tenants")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str() + result.stderr.str()
    contoso, fabrikam = assert_each_tenant_asked_its_own(doc)
    # Both are zone files: the run's answers_from names both directories, each
    # inventory's its own.
    assert doc["answers_from"]["kind"] == "zone files"
    assert "zones-fabrikam" in doc["answers_from"]["detail"]
    own = [Path(i["answers_from"]["detail"]).name for i in doc["inventories"]]
    assert own == ["zones", "zones-fabrikam"]
    # The header names each inventory's resolvers; so does report.html.
    out = result.stdout.str()
    assert f"dkimwatch: resolvers of contoso (tenants/contoso.yaml): {contoso}" in out
    assert f"dkimwatch: resolvers of {FABRIKAM} (tenants/fabrikam.yaml): {fabrikam}" in out
    html = (two_zone_sets.path / "reports" / "report.html").read_text()
    assert f"{FABRIKAM} (tenants/fabrikam.yaml): {fabrikam}" in html
    assert f"contoso (tenants/contoso.yaml): {contoso}" in html


def test_zone_files_beside_a_resolver(pytester: pytest.Pytester, fabrikam_resolver: str) -> None:
    result, doc = run(pytester, "--domains=tenants")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str() + result.stderr.str()
    _contoso, fabrikam = assert_each_tenant_asked_its_own(doc)
    assert fabrikam == fabrikam_resolver
    # The run's answers came partly from zone files: said at the top; fabrikam's own
    # (live DNS, its resolver) beside its entry and in the header.
    assert doc["answers_from"]["kind"] == "zone files"
    each = {i["tenant"]: i for i in doc["inventories"]}
    assert "answers_from" not in each["contoso"]
    assert each[FABRIKAM]["answers_from"] == {"kind": "live DNS", "detail": fabrikam_resolver}
    assert f"answers for {FABRIKAM} from live DNS ({fabrikam_resolver})" in result.stdout.str()


def test_each_inventory_asks_its_own_with_xdist(
    pytester: pytest.Pytester, fabrikam_resolver: str
) -> None:
    _, one = run(pytester, "--domains=tenants")
    result, spread = run(pytester, "--domains=tenants", "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str() + result.stderr.str()
    assert_each_tenant_asked_its_own(spread)

    def seen(doc: dict[str, Any]) -> dict[Any, Any]:
        return {
            k: (r["outcome"], sorted({e["server"] for e in r["evidence"]}))
            for k, r in by_key(doc).items()
        }

    # The zone server of contoso gets another port in each run: compare by role.
    ports = {one["inventories"][0]["resolvers"][0]: "contoso"}
    ports2 = {spread["inventories"][0]["resolvers"][0]: "contoso"}
    first = {k: (o, [ports.get(s, s) for s in v]) for k, (o, v) in seen(one).items()}
    second = {k: (o, [ports2.get(s, s) for s in v]) for k, (o, v) in seen(spread).items()}
    assert first == second


def test_record_and_replay_keep_each_inventorys_answers(
    pytester: pytest.Pytester, fabrikam_resolver: str
) -> None:
    record = pytester.path / "answers.json"
    _, recorded = run(pytester, "--domains=tenants", f"--record={record}")
    views = json.loads(record.read_text())["views"]
    assert sorted(tuple(v["tenants"]) for v in views) == [("contoso",), (FABRIKAM,)]
    # Nothing answers any more: the zone files are gone, fabrikam's resolver is mute.
    for zone in pytester.path.glob("zones*/*.zone"):
        zone.unlink()
    fabrikam = pytester.path / "tenants" / "fabrikam.yaml"
    fabrikam.write_text(fabrikam.read_text().replace(fabrikam_resolver, "127.0.0.1:9"))
    result, replayed = run(pytester, "--domains=tenants", f"--replay={record}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str() + result.stderr.str()

    def verdicts(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(r["nodeid"], r["outcome"], r["message"]) for r in doc["results"]]

    assert verdicts(replayed) == verdicts(recorded)
    rows = by_key(replayed)
    assert servers_asked(rows[(OTHER, "spf", None)], SPF_INCLUDE) == {fabrikam_resolver}


def test_gate_asks_the_inventory_that_lists_the_domain(
    two_zone_sets: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(two_zone_sets.path)
    assert main(["validate", "--domains=tenants"]) == 0
    capsys.readouterr()
    # OTHER's keys are only in fabrikam's zones (asking contoso's server is REFUSED).
    code = main(["gate", OTHER, "--domains=tenants"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "inventory: tenants/fabrikam.yaml" in out
    assert "zones-fabrikam" in out.splitlines()[1]
    assert f"Set-DkimSigningConfig -Identity {OTHER} -Enabled $true" in out
    code = main(["gate", HEALTHY, "--domains=tenants"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "zones-fabrikam" not in out


def test_pytest_gate_asks_the_inventory_that_lists_the_domain(
    two_zone_sets: pytest.Pytester,
) -> None:
    """pytest --gate judges the domain with its own inventory's resolvers too: OTHER's keys
    are only in fabrikam's zones (contoso's server refuses the name)."""
    result, doc = run(two_zone_sets, "--domains=tenants", "--gate", OTHER)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    rows = by_key(doc)
    assert {k[0] for k in rows} == {OTHER}
    assert rows[(OTHER, "dkim_target", "selector1")]["outcome"] == "passed"
    fabrikam = next(i["resolvers"] for i in doc["inventories"] if i["tenant"] == FABRIKAM)
    target = rows[(OTHER, "dkim_target", "selector1")]
    assert {e["server"] for e in target["evidence"]} == set(fabrikam)


def test_the_command_line_overrides_every_inventory(two_zone_sets: pytest.Pytester) -> None:
    """--zones serves every inventory's domains: fabrikam's zones are not asked."""
    result, doc = run(two_zone_sets, "--domains=tenants", "--zones=zones", "-m", "dkim or spf")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str() + result.stderr.str()
    rows = by_key(doc)
    assert len(doc["resolvers"]) == 1
    assert [i["resolvers"] for i in doc["inventories"]] == [doc["resolvers"]] * 2
    assert rows[(OTHER, "spf", None)]["outcome"] == "failed"  # contoso's include tree
    assert rows[(OTHER, "dkim_target", "selector1")]["outcome"] == "error"  # REFUSED
    assert "resolvers of" not in result.stdout.str()


@pytest.mark.parametrize("replayed", [False, True], ids=["from-files", "replayed"])
def test_merge_of_shards_keeps_each_inventorys_resolvers(
    two_zone_sets: pytest.Pytester, capfd: pytest.CaptureFixture[str], replayed: bool
) -> None:
    """Shards of a run whose inventories ask different servers merge into the single run's
    verdicts; merge's replay (a shard without report.html) gives each domain its own
    inventory's recorded answers."""
    pytester = two_zone_sets

    def audit(reports: str, *args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(
            "--now", tenantkit.NOW, f"--reports={reports}", "--domains=tenants", *args
        )

    assert audit("whole").ret == pytest.ExitCode.TESTS_FAILED
    for i in (1, 2):
        assert audit(f"shard{i}", f"--shard={i}/2").ret in (0, 1)
    if replayed:
        (pytester.path / "shard2" / "report.html").unlink()
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(pytester.path)
    try:
        code = main(["merge", "shard1", "shard2", "-o", "merged"])
    finally:
        monkeypatch.undo()
    out, err = capfd.readouterr()
    assert code == pytest.ExitCode.TESTS_FAILED, (out, err)
    assert ("replayed run of the whole estate" in err) is replayed, err
    whole = load_results(pytester.path / "whole" / "results.json")
    merged = load_results(pytester.path / "merged" / "results.json")

    def verdicts(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
        return {r["nodeid"]: (r["outcome"], r["message"]) for r in doc["results"]}

    assert verdicts(merged) == verdicts(whole)
    spf = by_key(merged)[(OTHER, "spf", None)]
    assert spf["outcome"] == "passed"
    assert servers_asked(spf, SPF_INCLUDE) <= set(merged["inventories"][1]["resolvers"])
    # report.html's Environment names where each inventory's answers came from, as the
    # single run's does.
    html = (pytester.path / "merged" / "report.html").read_text()
    for entry in merged["inventories"]:
        assert f"{entry['tenant']}: {answers_from_text(entry['answers_from'])}" in html
