"""`dkimwatch gate DOMAIN`: the admin's check before Set-DkimSigningConfig -Enabled $true,
over real DNS (the embedded server), with both exits and the records it asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

from dkimwatch.cli import main
from dkimwatch.zoneserver import ZoneServer
from selftests import tenantkit

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tenantkit.write_tenant(tmp_path_factory.mktemp("gate"))


def gate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["gate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_healthy_domain_passes_and_prints_the_enable_command(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "healthy.example", "--domains", str(inventory))
    assert code == 0
    assert out.rstrip().endswith("Set-DkimSigningConfig -Identity healthy.example -Enabled $true")
    assert "NOT ready" not in out


def test_missing_cname_fails_with_the_record_to_create(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "cname-missing.example", "--domains", str(inventory))
    assert code == 1
    assert "Set-DkimSigningConfig" not in out.split("NOT ready")[1].split("Then run")[0]
    target = tenantkit.target("selector1", "cname-missing.example")
    assert f"selector1._domainkey  CNAME  {target}  (3600)" in out
    assert f"selector1._domainkey.cname-missing.example. 3600 IN CNAME {target}." in out
    # selector2 is right: nothing to create for it
    assert "selector2._domainkey  CNAME" not in out


def test_appended_twice_says_what_to_delete(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "appended-twice.example", "--domains", str(inventory))
    assert code == 1
    assert "Delete:" in out
    assert "selector1._domainkey.appended-twice.example  CNAME" in out
    zone_lines = [line.strip() for line in out.splitlines() if " IN CNAME " in line]
    assert len(zone_lines) == 2
    assert all(line.startswith("selector") for line in zone_lines)


def test_other_tenant_is_replaced_by_this_tenant(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "other-tenant.example", "--domains", str(inventory))
    assert code == 1
    assert "fabrikamcorp" in out  # what is wrong is named
    assert tenantkit.target("selector2", "other-tenant.example") + "." in out


def test_dead_resolver_is_not_a_verdict(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(
        capsys, "healthy.example", "--domains", str(inventory), "--nameserver", "127.0.0.1:9"
    )
    assert code == 1
    assert "DNS did not answer" in out
    assert "Create:" not in out


def test_unknown_domain_without_tenant_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inv = tmp_path / "domains.yaml"
    inv.write_text("version: 1\ndomains:\n  - a.example\n")
    code, _, err = gate(capsys, "b.example", "--domains", str(inv), "--nameserver", "127.0.0.1:9")
    assert code == 4
    assert "names no tenant" in err
    assert len(err.strip().splitlines()) == 1


ZONE = """\
$ORIGIN gated.example.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 127.0.0.1
"""
CNAMES = """\
selector1._domainkey CNAME selector1-gated-example._domainkey.contoso.onmicrosoft.com.
selector2._domainkey CNAME selector2-gated-example._domainkey.contoso.onmicrosoft.com.
"""


def test_authoritative_view_sees_past_a_stale_resolver(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The admin just created the CNAMEs: the authoritative server has them, the resolver
    still answers from before. Without --authoritative the gate says no; with it, yes."""
    fresh, stale = tmp_path / "fresh", tmp_path / "stale"
    fresh.mkdir()
    stale.mkdir()
    (fresh / "gated.example.zone").write_text(ZONE + CNAMES)
    (stale / "gated.example.zone").write_text(ZONE)
    inv = tmp_path / "domains.yaml"
    inv.write_text("version: 1\ntenant: contoso\ndomains:\n  - gated.example\n")
    auth = ZoneServer(fresh)
    resolver = ZoneServer(stale)
    _, auth_port = auth.start()
    _, resolver_port = resolver.start()
    try:
        common = ["gated.example", "--domains", str(inv), "--nameserver"]
        code, out, _ = gate(capsys, *common, f"127.0.0.1:{resolver_port}")
        assert code == 1
        code, out, _ = gate(
            capsys,
            *common,
            f"127.0.0.1:{resolver_port}",
            "--authoritative",
            "--authoritative-port",
            str(auth_port),
        )
        assert code == 0, out
        assert "as seen by the authoritative:" in out
        assert f"asked 127.0.0.1:{auth_port}" in out
        assert "do not see them yet" in out
        assert auth.queries[("selector1._domainkey.gated.example", "CNAME")] >= 1
    finally:
        auth.stop()
        resolver.stop()


def test_pytest_gate_option_runs_only_the_gate_checks(
    pytester: pytest.Pytester, inventory: Path
) -> None:
    root = Path(__file__).resolve().parents[1]
    (pytester.path / "conftest.py").write_text((root / "conftest.py").read_text())
    for name in ("test_dkim.py", "test_spf.py", "test_dmarc.py"):
        (pytester.path / name).write_text((root / "tests" / name).read_text())
    result = pytester.runpytest_subprocess(
        f"--domains={inventory}", "--gate", "cname-missing.example", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1, failed=1, deselected=8)
