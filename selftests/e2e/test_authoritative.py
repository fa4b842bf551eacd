"""--authoritative: each name is asked at its own zone's servers (found via NS through the
resolver), so a resolver's stale or negative cache cannot decide a verdict. Real sockets:
the "resolver" and the two authoritative servers are embedded servers on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dkimwatch.report import load_results
from dkimwatch.zoneserver import ZoneServer
from selftests.tenantkit import key_record

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
CUSTOMER_IP, MICROSOFT_IP = "127.0.0.11", "127.0.0.12"

CUSTOMER = f"""\
$ORIGIN auth.example.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A {CUSTOMER_IP}
"""
CUSTOMER_NEW = """\
selector1._domainkey CNAME selector1-auth-example._domainkey.contoso.onmicrosoft.com.
selector2._domainkey CNAME selector2-auth-example._domainkey.contoso.onmicrosoft.com.
"""
MICROSOFT = f"""\
$ORIGIN contoso.onmicrosoft.com.
$TTL 300
@ SOA ns hostmaster 1 3600 600 86400 300
@ NS ns
ns A {MICROSOFT_IP}
"""


def _zones(root: Path, name: str, files: dict[str, str]) -> Path:
    path = root / name
    path.mkdir()
    for origin, text in files.items():
        (path / f"{origin}.zone").write_text(text)
    return path


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, int]]:
    key = f"selector1-auth-example._domainkey {300} IN TXT {key_record()}\n"
    stale = _zones(
        tmp_path, "stale", {"auth.example": CUSTOMER, "contoso.onmicrosoft.com": MICROSOFT}
    )
    customer = _zones(tmp_path, "customer", {"auth.example": CUSTOMER + CUSTOMER_NEW})
    microsoft = _zones(tmp_path, "microsoft", {"contoso.onmicrosoft.com": MICROSOFT + key})
    resolver = ZoneServer(stale)
    auth_customer = ZoneServer(customer, host=CUSTOMER_IP)
    _, port = auth_customer.start()
    auth_microsoft = ZoneServer(microsoft, host=MICROSOFT_IP, port=port)
    auth_microsoft.start()
    resolver.start()
    try:
        yield resolver.address, port
    finally:
        for server in (resolver, auth_customer, auth_microsoft):
            server.stop()


def _run(pytester: pytest.Pytester, tmp_path: Path, *args: str) -> dict[str, Any]:
    shutil.copy(REPO / "conftest.py", pytester.path)
    if not (pytester.path / "tests").exists():
        shutil.copytree(REPO / "tests", pytester.path / "tests")
    (pytester.path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    inventory = tmp_path / "domains.yaml"
    inventory.write_text(
        "version: 1\ntenant: contoso\ndns:\n  timeout: 1.0\n  attempts: 1\n"
        "domains:\n  - auth.example\n"
    )
    pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--domains={inventory}", "-m", "dkim", *args
    )
    # -m dkim: a partial run, whose outputs are in reports/partial.
    return dict(load_results(pytester.path / "reports" / "partial" / "results.json"))


def test_authoritative_answers_override_a_stale_resolver(
    pytester: pytest.Pytester, tmp_path: Path, servers: tuple[str, int]
) -> None:
    resolver, port = servers
    stale = _run(pytester, tmp_path, f"--nameserver={resolver}")
    assert {r["outcome"] for r in stale["results"] if r["check"] == "dkim_cname"} == {"failed"}

    fresh = _run(
        pytester,
        tmp_path,
        f"--nameserver={resolver}",
        "--authoritative",
        f"--authoritative-port={port}",
    )
    got = {(r["check"], r["selector"]): r["outcome"] for r in fresh["results"]}
    assert got == {
        ("dkim_cname", "selector1"): "passed",
        ("dkim_cname", "selector2"): "passed",
        ("dkim_target", "selector1"): "passed",
        ("dkim_target", "selector2"): "xfailed",
        ("dkim_key", "selector1"): "passed",
        ("dkim_key", "selector2"): "skipped",
        ("dkim_rotation", None): "passed",
        ("dkim_enabled", None): "skipped",  # no export, no enabled: in the inventory
    }
    asked = {e["server"] for r in fresh["results"] for e in r["evidence"]}
    assert f"{CUSTOMER_IP}:{port}" in asked
    assert f"{MICROSOFT_IP}:{port}" in asked
    assert fresh["resolvers"][0].startswith("authoritative")
    # The zone's own TTL (300 s, an authoritative answer) is below Microsoft's 3600 s advice.
    cname = next(r for r in fresh["results"] if r["check"] == "dkim_cname")
    assert any("TTL is 300 s" in w for w in cname["warnings"])
