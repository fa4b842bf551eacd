"""`dkimwatch gate DOMAIN`: the admin's check before Set-DkimSigningConfig -Enabled $true,
over real DNS (the embedded server), with both exits and the records it asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

from dkimwatch.checks import Outcome, Verdict
from dkimwatch.cli import main
from dkimwatch.gate import GateReport, shown
from dkimwatch.model import Domain
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
    # the first unanswered question decides; the rest would only wait out their timeouts
    assert out.count("  DNS? ") == 1


def test_unknown_domain_without_tenant_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inv = tmp_path / "domains.yaml"
    inv.write_text("version: 1\ndomains:\n  - a.example\n")
    code, _, err = gate(capsys, "b.example", "--domains", str(inv), "--nameserver", "127.0.0.1:9")
    assert code == 4
    assert f"b.example is not in {inv}" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_domain_is_not_judged_against_the_inventorys_tenant(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Judged against the tenant, another tenant's correct CNAMEs looked wrong and the gate
    advised deleting them; a domain the inventory does not list is a usage error."""
    code, out, err = gate(capsys, "not-listed.example", "--domains", str(inventory))
    assert (code, out) == (4, "")
    assert err.strip() == (
        f"dkimwatch gate: not-listed.example is not in {inventory}: add it there (with "
        "selector1_cname and selector2_cname from Get-DkimSigningConfig), or name the "
        "inventory that lists it (--domains)"
    )


def test_default_inventory_is_domains_yaml_of_the_working_directory(
    inventory: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(inventory.parent)
    code, _, err = gate(capsys, "not-listed.example")
    assert code == 4
    assert "not-listed.example is not in domains.yaml" in err
    code, out, _ = gate(capsys, "healthy.example")
    assert code == 0, out


def test_output_names_the_inventory_and_the_resolvers_first(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "healthy.example", "--domains", str(inventory))
    assert code == 0, out
    first = out.splitlines()[:2]
    assert first[0] == f"inventory: {inventory}"
    assert first[1].startswith("resolvers: 127.0.0.1:")
    assert first[1].endswith(f"(the embedded server over {inventory.parent / 'zones'})")
    code, out, _ = gate(
        capsys, "healthy.example", "--domains", str(inventory), "--nameserver", "127.0.0.1:9"
    )
    assert code == 1  # nothing listens there
    assert out.splitlines()[:2] == [
        f"inventory: {inventory}",
        "resolvers: 127.0.0.1:9 (--nameserver)",
    ]
    listed = inventory.parent / "listed.yaml"
    listed.write_text(
        "version: 1\ntenant: contoso\ndns:\n  nameservers: ['127.0.0.1:9']\n  attempts: 1\n"
        "domains:\n  - healthy.example\n"
    )
    code, out, _ = gate(capsys, "healthy.example", "--domains", str(listed))
    assert code == 1
    assert out.splitlines()[:2] == [
        f"inventory: {listed}",
        f"resolvers: 127.0.0.1:9 (dns.nameservers of {listed})",
    ]


def test_signing_selectors_missing_key_is_not_ready(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The seed incident: both CNAMEs right, the signing selector's key not published at
    Microsoft's side. Enabling makes receivers reject mail ('DKIM invalid key')."""
    code, out, _ = gate(capsys, "active-key-missing.example", "--domains", str(inventory))
    assert code == 1
    assert "-Enabled $true" not in out
    assert "signing selector: selector2 (selector2 signs since the rotation on" in out
    assert "selector2 signs once DKIM is enabled and its CNAME is right, but it has no " in out
    assert "Create:" not in out and "Delete:" not in out  # nothing for the DNS provider
    d = "active-key-missing.example"
    assert (
        f"Get-DkimSigningConfig -Identity {d} | fl Enabled,Status,Selector1CNAME,"
        "Selector1KeySize,Selector1PublicKey,Selector2CNAME,Selector2KeySize,"
        "Selector2PublicKey,KeyCreationTime,RotateOnDate,SelectorBeforeRotateOnDate,"
        "SelectorAfterRotateOnDate"
    ) in out
    assert f"Rotate-DkimSigningConfig -Identity {d}: Microsoft makes a new key" in out
    facts = out.split("support case with these facts:")[1]
    assert f"domain: {d}" in facts
    assert f"selector: selector2, target: {tenantkit.target('selector2', d)}" in facts
    assert f"selector2._domainkey.{d} TXT @127.0.0.1:" in facts
    assert "NXDOMAIN" in facts
    assert f"selector1._domainkey.{d}" not in facts  # only the selector in question


def test_signing_selectors_unusable_key_is_not_ready(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "revoked.example", "--domains", str(inventory))
    assert code == 1
    assert "-Enabled $true" not in out
    assert "  selector2: selector2-revoked-example._domainkey.contoso.onmicrosoft.com: " in out
    assert "revoked" in out.split("NOT ready")[1]


def test_without_rotation_data_one_selector_with_a_valid_key_is_named(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "shorthand.example", "--domains", str(inventory))
    assert code == 0, out
    assert "signing selector: unknown: " in out and "has no rotation data" in out
    assert "both CNAMEs are in place and selector1 has a valid key (no rotation data" in out


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
    for where in (fresh, stale):  # Microsoft's side: selector1's key is published
        (where / "contoso.onmicrosoft.com.zone").write_text(
            ZONE.replace("gated.example.", "contoso.onmicrosoft.com.")
            + f"selector1-gated-example._domainkey TXT {tenantkit.key_record()}\n"
        )
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


# --- many inventories: --domains repeated, or a directory of one *.yaml per tenant ----------


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tenantkit.write_tenants(tmp_path_factory.mktemp("gate-tenants"))


def test_the_gate_judges_a_domain_by_the_inventory_of_its_tenant(
    tenants: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """other-tenant.example is fabrikamcorp's: its CNAMEs into fabrikamcorp are right by
    fabrikam.yaml (they are wrong by the contoso tenant's)."""
    code, out, err = gate(capsys, tenantkit.OTHER, "--domains", str(tenants))
    assert (code, err) == (0, ""), out + err
    assert out.splitlines()[0] == f"inventory: {tenants / 'fabrikam.yaml'}"
    assert out.rstrip().endswith(
        f"Set-DkimSigningConfig -Identity {tenantkit.OTHER} -Enabled $true"
    )
    contoso, fabrikam = (str(tenants / f"{t}.yaml") for t in ("contoso", "fabrikam"))
    code, out, _ = gate(capsys, "healthy.example", "--domains", fabrikam, "--domains", contoso)
    assert code == 0, out
    assert out.splitlines()[0] == f"inventory: {contoso}"
    code, out, _ = gate(
        capsys, "cname-missing.example", "--domains", contoso, "--domains", fabrikam
    )
    assert code == 1 and "NOT ready" in out


def test_a_domain_in_none_of_the_inventories_is_a_usage_error(
    tenants: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = gate(capsys, "not-listed.example", "--domains", str(tenants))
    assert (code, out) == (4, "")
    assert err.strip() == (
        f"dkimwatch gate: not-listed.example is in none of {tenants / 'contoso.yaml'}, "
        f"{tenants / 'fabrikam.yaml'}: add it to its tenant's inventory (with selector1_cname "
        "and selector2_cname from Get-DkimSigningConfig), or name the inventory that lists it "
        "(--domains)"
    )


def test_a_domain_in_two_inventories_is_the_runs_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tenantkit.write_tenants(tmp_path)
    fabrikam = folder / "fabrikam.yaml"
    fabrikam.write_text(fabrikam.read_text() + "  - healthy.example\n")
    code, out, err = gate(capsys, "healthy.example", "--domains", str(folder))
    assert (code, out) == (4, "")
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"dkimwatch: {fabrikam}:")
    assert f"healthy.example is also in {folder / 'contoso.yaml'}" in err


def test_pytest_gate_option_runs_only_the_gate_checks(
    pytester: pytest.Pytester, inventory: Path
) -> None:
    root = Path(__file__).resolve().parents[2]
    (pytester.path / "conftest.py").write_text((root / "conftest.py").read_text())
    for name in ("test_dkim.py", "test_spf.py", "test_dmarc.py"):
        (pytester.path / name).write_text((root / "tests" / name).read_text())
    result = pytester.runpytest_subprocess(
        f"--domains={inventory}", "--gate", "cname-missing.example", "-p", "no:cacheprovider"
    )
    # the same checks as `dkimwatch gate`: all four DKIM checks, not dkim_enabled, SPF or DMARC
    result.assert_outcomes(passed=4, failed=1, xfailed=1, skipped=1, deselected=3)


def test_pytest_gate_option_refuses_a_domain_not_in_the_inventory(
    pytester: pytest.Pytester, inventory: Path
) -> None:
    root = Path(__file__).resolve().parents[2]
    (pytester.path / "conftest.py").write_text((root / "conftest.py").read_text())
    (pytester.path / "test_dkim.py").write_text((root / "tests" / "test_dkim.py").read_text())
    result = pytester.runpytest_subprocess(
        f"--domains={inventory}", "--gate", "not-listed.example", "-p", "no:cacheprovider"
    )
    assert result.ret == 4
    result.stderr.fnmatch_lines([f"*--gate: not-listed.example is not in {inventory}*"])


# Domains of the gate's own cases, beside those of tenantkit: zone-file lines of the
# customer's zone, the Microsoft keys (selector -> TXT rdata) and the inventory entry.
HOSTILE_TXT = '"v=DKIM1; k=rsa; p=\\027[2J\\027]0;pwned\\007\\013x"'
GATE_CASES: dict[str, tuple[str, dict[str, str], str]] = {
    # the usual state before enabling: CNAMEs right, Microsoft has published no key
    "disabled-no-key.example": (
        "cnames",
        {},
        "    rotate_on: 2026-01-10T10:00:00Z\n    selector_before_rotate: selector1\n"
        "    selector_after_rotate: selector1\n    enabled: false\n",
    ),
    "disabled-keyed.example": (
        "cnames",
        {"selector1": tenantkit.key_record()},
        "    rotate_on: 2026-01-10T10:00:00Z\n    selector_before_rotate: selector1\n"
        "    selector_after_rotate: selector1\n    enabled: false\n",
    ),
    "no-rotation-no-key.example": ("cnames", {}, ""),
    "no-rotation-second-key.example": ("cnames", {"selector2": tenantkit.key_record()}, ""),
    "txt-instead.example": (
        f"selector1._domainkey 3600 IN TXT {HOSTILE_TXT}\n"
        "selector2._domainkey 3600 IN CNAME {s2}.\n",
        {"selector2": tenantkit.key_record()},
        "",
    ),
    "proxied.example": (
        "selector1._domainkey 3600 IN A 192.0.2.10\nselector1._domainkey 3600 IN A 192.0.2.11\n"
        "selector2._domainkey 3600 IN CNAME {s2}.\n",
        {"selector2": tenantkit.key_record()},
        "",
    ),
    # a wildcard TXT answers for selector1: there is no record there to delete
    "wildcard.example": (
        f"*._domainkey 3600 IN TXT {tenantkit.key_record()}\n"
        "selector2._domainkey 3600 IN CNAME {s2}.\n",
        {"selector2": tenantkit.key_record()},
        "",
    ),
    "hostile-key.example": (
        "cnames",
        {"selector2": '"v=DKIM1; k=rsa; p=\\027[2J\\027]0;pwned\\007"'},
        "",
    ),
    "hostile-cname.example": (
        "selector1._domainkey 3600 IN CNAME "
        "evil\\027[31m\\013._domainkey.contoso.onmicrosoft.com.\n"
        "selector2._domainkey 3600 IN CNAME {s2}.\n",
        {"selector2": tenantkit.key_record()},
        "",
    ),
}


@pytest.fixture(scope="module")
def gate_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gate-cases")
    zones = root / "zones"
    zones.mkdir()
    soa = "@ 3600 IN SOA ns1.{o}. hostmaster.{o}. 1 3600 600 86400 300\n@ 3600 IN NS ns1.{o}.\n"
    keys, entries = [], []
    for domain, (customer, published, extra) in GATE_CASES.items():
        s1, s2 = tenantkit.target("selector1", domain), tenantkit.target("selector2", domain)
        if customer == "cnames":
            customer = f"selector1._domainkey 3600 IN CNAME {s1}.\n"
            customer += "selector2._domainkey 3600 IN CNAME {s2}.\n"
        body = f"$ORIGIN {domain}.\n$TTL 3600\n" + soa.format(o=domain) + customer
        (zones / f"{domain}.zone").write_text(body.replace("{s2}", s2))
        for selector, rdata in published.items():
            label = tenantkit.target(selector, domain).split(".contoso.onmicrosoft.com")[0]
            keys.append(f"{label} 3600 IN TXT {rdata}\n")
        entries.append(
            f"  - name: {domain}\n    selector1_cname: {s1}\n    selector2_cname: {s2}\n" + extra
        )
    origin = "contoso.onmicrosoft.com"
    (zones / f"{origin}.zone").write_text(
        f"$ORIGIN {origin}.\n$TTL 3600\n" + soa.format(o=origin) + "".join(keys)
    )
    inventory = root / "domains.yaml"
    inventory.write_text(
        "version: 1\ntenant: contoso\ndns:\n  zones: zones\n  timeout: 2.0\n  attempts: 2\n"
        "domains:\n" + "".join(entries)
    )
    return inventory


def test_disabled_domain_without_key_is_not_ready_and_says_why(
    gate_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before enabling, Microsoft may publish no key at all: the gate says so, does not
    approve, and offers no Rotate-DkimSigningConfig (it needs DKIM enabled)."""
    d = "disabled-no-key.example"
    code, out, _ = gate(capsys, d, "--domains", str(gate_inventory))
    assert code == 1
    assert "-Enabled $true" not in out
    assert "judged as it will be once DKIM is enabled (the inventory says enabled: false)" in out
    assert "selector1 signs once DKIM is enabled and its CNAME is right, but it has no " in out
    assert "While it is disabled, Microsoft may publish no key behind the CNAME" in out
    assert f"Rotate-DkimSigningConfig -Identity {d} works only once DKIM is enabled" in out
    assert "Microsoft makes a new key" not in out
    assert f"selector: selector1, target: {tenantkit.target('selector1', d)}" in out


def test_disabled_domain_with_the_signing_key_published_is_ready(
    gate_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "disabled-keyed.example", "--domains", str(gate_inventory))
    assert code == 0, out
    assert "and selector1, the selector that signs, has a valid key." in out


def test_without_rotation_data_no_key_at_all_is_not_ready(
    gate_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "no-rotation-no-key.example", "--domains", str(gate_inventory))
    assert code == 1
    assert "-Enabled $true" not in out
    assert "has no rotation data for no-rotation-no-key.example" in out
    assert "No selector has its CNAME right and a valid key (selector1, selector2: " in out
    assert "Rotate-DkimSigningConfig -Identity no-rotation-no-key.example works only once" in out


def test_without_rotation_data_the_selector_with_the_key_is_named(
    gate_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "no-rotation-second-key.example", "--domains", str(gate_inventory))
    assert code == 0, out
    assert "both CNAMEs are in place and selector2 has a valid key (no rotation data" in out


def _row(out: str, title: str, host: str) -> str:
    section = out.split(f"{title}:\n")[1].split(":\n")[0]
    rows = [line for line in section.splitlines() if line.strip().startswith(host)]
    assert rows, out
    return "\n".join(rows)


def test_delete_rows_show_the_txt_found_escaped(
    gate_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "txt-instead.example", "--domains", str(gate_inventory))
    assert code == 1
    row = _row(out, "Delete", "selector1._domainkey")
    assert row.split()[1] == "TXT"
    assert '"v=DKIM1; k=rsa; p=\\027[2J\\027]0;pwned\\007\\013x"' in row
    assert not any(ch in out for ch in "\x1b\x07\x0b\r")


def test_a_wildcard_is_not_a_record_to_delete(
    gate_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The TXT that *._domainkey synthesises for selector1 has no record of its own: the
    gate asks only for the CNAME, which ends the synthesis for that name (RFC 4592)."""
    d = "wildcard.example"
    code, out, _ = gate(capsys, d, "--domains", str(gate_inventory))
    assert code == 1
    assert "Delete:" not in out
    row = _row(out, "Create", "selector1._domainkey")
    assert row.split()[1:3] == ["CNAME", tenantkit.target("selector1", d)]
    assert "no record of its own: *._domainkey.wildcard.example synthesises it" in out


def test_delete_rows_show_each_address_found(
    gate_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "proxied.example", "--domains", str(gate_inventory))
    assert code == 1
    rows = _row(out, "Delete", "selector1._domainkey").splitlines()
    # one row per address, in the order the server sent them (an RRset has none)
    assert sorted(r.split()[1:3] for r in rows) == [["A", "192.0.2.10"], ["A", "192.0.2.11"]]


def test_delete_rows_show_the_wrong_target_escaped(
    gate_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "hostile-cname.example", "--domains", str(gate_inventory))
    assert code == 1
    row = _row(out, "Delete", "selector1._domainkey")
    assert row.split()[1:3] == ["CNAME", "evil\\027[31m\\013._domainkey.contoso.onmicrosoft.com"]
    assert not any(ch in out for ch in "\x1b\x0b")


def test_hostile_key_text_is_escaped_in_messages_and_evidence(
    gate_inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gate(capsys, "hostile-key.example", "--domains", str(gate_inventory))
    assert code == 1
    assert not any(ch in out for ch in "\x1b\x07")
    facts = out.split("support case with these facts:")[1]
    assert "p=\\027[2J\\027]0;pwned\\007" in facts


def test_shown_escapes_raw_control_characters_visibly() -> None:
    """Evidence from a replayed record file is not dnspython's escaped text: the gate
    escapes what it prints itself."""
    assert shown("a\x1b[2Jb\r\n\x07\u202ec") == "a\\x1b[2Jb\\r\\n\\x07\\u202ec"


def test_pytest_gate_option_judges_a_disabled_domain_as_once_enabled(
    pytester: pytest.Pytester, gate_inventory: Path
) -> None:
    """The suite expects no key of a disabled domain (xfail); the gate asks about the
    moment after enabling, so pytest --gate fails as `dkimwatch gate` does."""
    root = Path(__file__).resolve().parents[2]
    (pytester.path / "conftest.py").write_text((root / "conftest.py").read_text())
    (pytester.path / "test_dkim.py").write_text((root / "tests" / "test_dkim.py").read_text())
    result = pytester.runpytest_subprocess(
        f"--domains={gate_inventory}", "--gate", "disabled-no-key.example", "-p", "no:cacheprovider"
    )
    # CNAMEs pass; selector1 (signs) has no key: dkim_target and dkim_rotation fail
    result.assert_outcomes(passed=2, failed=2, xfailed=1, skipped=2)


def test_no_failure_is_no_approval_without_a_valid_key() -> None:
    """The decision itself: nothing failed and DNS answered, yet no required selector has a
    passing key (its key check skipped), so the gate does not approve. Today's checks fail
    dkim_target in that case; the gate does not lean on that."""
    d = Domain("example.com", "example.com")

    def verdict(check: str, selector: str, outcome: Outcome) -> Verdict:
        return Verdict(
            check, d.name, selector, "pass" if outcome == "passed" else "none", outcome, ""
        )

    cnames = [verdict("dkim_cname", s, "passed") for s in d.selectors]
    keys = [verdict("dkim_key", s, "skipped") for s in d.selectors]
    report = GateReport(d, d, Path("domains.yaml"), "127.0.0.1", None)
    report.views["resolvers"] = [*cnames, *keys]
    assert report.keyed == [] and report.ready is False
    report.views["resolvers"] = [*cnames, verdict("dkim_key", "selector2", "passed")]
    assert report.keyed == ["selector2"] and report.ready is True
