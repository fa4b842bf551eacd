"""`sources:` in the inventory: Get-DkimSigningConfig exports read at run time, merged with
the inventory's own entries; and the export's keys compared with the published ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dkimwatch.checks import Context, check_dkim_key, check_dkim_rotation
from dkimwatch.exo_export import load_export
from dkimwatch.inventory import InventoryError, Policy, load_inventory
from dkimwatch.inventory_writer import to_inventory_yaml
from dkimwatch.resolver import DnsClient, Resolver
from dkimwatch.zoneserver import ZoneServer
from selftests.tenantkit import rsa_key_b64, target, txt

NOW = datetime(2026, 11, 22, 9, tzinfo=UTC)
KEY = f"v=DKIM1; k=rsa; p={rsa_key_b64(2048)}"
OTHER = f"v=DKIM1; k=rsa; p={rsa_key_b64(1024)}"


def export_row(domain: str, key1: str = KEY, status: str = "Valid") -> dict[str, object]:
    return {
        "Domain": domain,
        "Selector1CNAME": target("selector1", domain),
        "Selector2CNAME": target("selector2", domain),
        "Selector1PublicKey": key1 + ";",
        "Selector2PublicKey": OTHER + ";",
        "Enabled": True,
        "Status": status,
        "RotateOnDate": "2026-05-04T10:00:00Z",
        "SelectorBeforeRotateOnDate": "Selector2",
        "SelectorAfterRotateOnDate": "Selector1",
    }


def write(tmp_path: Path, rows: list[dict[str, object]], body: str) -> Path:
    (tmp_path / "dkim.json").write_text(json.dumps(rows))
    inv = tmp_path / "domains.yaml"
    inv.write_text(body)
    return inv


def test_export_domains_and_overrides(tmp_path: Path) -> None:
    inv = write(
        tmp_path,
        [export_row("a.example"), export_row("b.example", status="CnameMissing")],
        "version: 1\nsources: [dkim.json]\ndomains:\n"
        "  - name: b.example\n    enabled: false\n  - c.example\n",
    )
    inventory = load_inventory(inv)
    assert inventory.tenant == "contoso"  # read off the targets
    assert [d.name for d in inventory.domains] == ["b.example", "c.example", "a.example"]
    a = inventory.domain("a.example")
    assert a.target_for("selector2") == target("selector2", "a.example")
    assert a.rotation is not None and a.rotation.active_selector(NOW) == "selector1"
    assert a.public_key_for("selector1") == KEY + ";"
    assert a.source == f"{tmp_path / 'dkim.json'}:1"  # one-line JSON
    b = inventory.domain("b.example")
    assert b.enabled is False  # the inventory's word wins
    assert b.status == "CnameMissing"
    assert b.rotation is not None  # what the inventory leaves out comes from the export
    assert inventory.domain("c.example").source is None


@pytest.mark.parametrize(
    ("sources", "needle"),
    [
        ("[missing.json]", ":2: sources[0]: missing.json: no such file"),
        ("[{culture: de-DE}]", ":2: sources[0].path: missing"),
        ("[{path: dkim.json, cultur: x}]", "did you mean 'culture'?"),
        ("[3]", ":2: sources[0]: expected the path of an export"),
    ],
)
def test_bad_sources_are_one_line_errors(tmp_path: Path, sources: str, needle: str) -> None:
    inv = write(tmp_path, [export_row("a.example")], f"version: 1\nsources: {sources}\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_an_export_that_is_not_one_names_the_export(tmp_path: Path) -> None:
    (tmp_path / "dkim.json").write_text('[{"Name": "x"}]')
    inv = tmp_path / "domains.yaml"
    inv.write_text("version: 1\nsources: [dkim.json]\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    assert str(info.value).startswith(str(tmp_path / "dkim.json"))


def test_public_key_in_the_inventory_must_look_like_a_key(tmp_path: Path) -> None:
    inv = tmp_path / "domains.yaml"
    inv.write_text("version: 1\ndomains:\n  - name: a.example\n    selector1_public_key: abc\n")
    with pytest.raises(InventoryError, match=r":4: domains\[a.example\].selector1_public_key"):
        load_inventory(inv)


@pytest.fixture
def served(tmp_path: Path) -> tuple[Path, str]:
    zones = tmp_path / "zones"
    zones.mkdir()
    lines = []
    for d in ("same.example", "stale.example"):
        (zones / f"{d}.zone").write_text(
            f"$ORIGIN {d}.\n$TTL 300\n@ SOA ns h 1 60 60 60 60\n@ NS ns\n"
            f"selector1._domainkey CNAME {target('selector1', d)}.\n"
            f"selector2._domainkey CNAME {target('selector2', d)}.\n"
        )
        label = target("selector1", d).split(".contoso.onmicrosoft.com")[0]
        lines.append(f"{label} TXT {txt(KEY)}\n")
    (zones / "contoso.onmicrosoft.com.zone").write_text(
        "$ORIGIN contoso.onmicrosoft.com.\n$TTL 300\n@ SOA ns h 1 60 60 60 60\n@ NS ns\n"
        + "".join(lines)
    )
    inv = write(
        tmp_path,
        [export_row("same.example"), export_row("stale.example", key1=OTHER)],
        "version: 1\nsources: [dkim.json]\n",
    )
    return inv, str(zones)


def test_published_key_is_compared_with_the_exported_one(served: tuple[Path, str]) -> None:
    inv, zones = served
    inventory = load_inventory(inv)
    server = ZoneServer(Path(zones))
    host, port = server.start()
    try:
        ctx = Context(Resolver(DnsClient([f"{host}:{port}"], 1.0, 1)), Policy(), "contoso", NOW)
        same = check_dkim_key(ctx, inventory.domain("same.example"), "selector1")
        assert same.outcome == "passed", same.message
        assert same.details["matches_export"] is True
        assert same.details["exo_status"] == "Valid"
        stale = check_dkim_key(ctx, inventory.domain("stale.example"), "selector1")
        assert stale.outcome == "failed"
        assert stale.result == "fail"
        assert stale.details["fingerprint_sha256"] in stale.message
        assert stale.details["expected_fingerprint_sha256"] in stale.message
        rotation = check_dkim_rotation(ctx, inventory.domain("stale.example"))
        assert rotation.outcome == "failed"
        assert "not the one Exchange Online signs with" in rotation.message
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("extra", "tenant"),
    [
        # A second *.onmicrosoft.com domain of the tenant: the targets' prefix is the tenant.
        ([{"Domain": "contosomail.onmicrosoft.com"}], "contoso"),
        # Targets naming two tenants: none is guessed.
        (
            [{"Domain": "d.example", "Selector1CNAME": target("selector1", "d.example", "other")}],
            None,
        ),
    ],
)
def test_tenant_from_sources_as_import_reads_it(
    tmp_path: Path, extra: list[dict[str, object]], tenant: str | None
) -> None:
    """`sources:` and `dkimwatch import` read one export to the same tenant: the targets'
    prefix first, an initial domain only when no target names one, none when ambiguous."""
    rows: list[dict[str, object]] = [*extra, export_row("a.example")]
    inv = write(tmp_path, rows, "version: 1\nsources: [dkim.json]\n")
    assert load_inventory(inv).tenant == tenant
    imported = to_inventory_yaml(load_export(tmp_path / "dkim.json"), tenant=None, source="x")
    assert (f"\ntenant: {tenant}\n" in imported) if tenant else ("\ntenant:" not in imported)
