"""What one run can take: an inventory above the documented limits is refused at once with
one line naming the way out (several inventories, one run each), and a large run says what
it is doing before its first test."""

from __future__ import annotations

from pathlib import Path

import pytest

from dkimwatch.inventory import (
    MAX_DOMAINS,
    MAX_INVENTORY_BYTES,
    InventoryError,
    load_inventories,
    load_inventory,
)
from dkimwatch.shards import parse_shard, too_large
from selftests import tenantkit
from selftests.suitekit import install_suite

pytest_plugins = ["pytester"]

HEAD = "version: 1\ntenant: contoso\ndns:\n  nameservers: ['127.0.0.1:9']\ndomains:\n"


def names(count: int) -> str:
    return "".join(f"  - d{i}.example\n" for i in range(count))


def test_a_file_above_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    # An unterminated flow sequence: parsing it would end in a YAML error, not this one.
    big = tmp_path / "domains.yaml"
    big.write_text("version: 1\ndomains: [" + "d.example, " * (MAX_INVENTORY_BYTES // 11))
    assert big.stat().st_size > MAX_INVENTORY_BYTES
    with pytest.raises(InventoryError) as caught:
        load_inventory(big)
    message = str(caught.value)
    assert message.startswith(f"{big}:0: file: ")
    assert f"above the limit of {MAX_INVENTORY_BYTES / 1e6:.0f} MB" in message
    assert "several inventories" in message and "--domains=" in message
    assert "\n" not in message


def test_more_domains_than_one_run_takes_is_refused(tmp_path: Path) -> None:
    inventory = tmp_path / "domains.yaml"
    inventory.write_text(HEAD + names(MAX_DOMAINS + 1))
    assert inventory.stat().st_size < MAX_INVENTORY_BYTES
    with pytest.raises(InventoryError) as caught:
        load_inventory(inventory)
    message = str(caught.value)
    assert message.startswith(f"{inventory}:5: domains: {MAX_DOMAINS + 1:,} domains, above ")
    assert "several inventories" in message
    # The limit itself is accepted.
    inventory.write_text(HEAD + names(MAX_DOMAINS))
    assert len(load_inventory(inventory).domains) == MAX_DOMAINS


def test_pytest_refuses_a_huge_inventory_in_one_line(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    pytester.runpytest_subprocess("--now", tenantkit.NOW)
    reports = pytester.path / "reports"
    before = {p: p.read_bytes() for p in reports.rglob("*") if p.is_file()}
    big = pytester.path / "huge.yaml"
    big.write_text(HEAD + "  - d.example\n" * (MAX_INVENTORY_BYTES // 14 + 1))
    result = pytester.runpytest_subprocess(f"--domains={big}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = [line for line in result.stderr.lines if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"ERROR: {big}:0: file: "), err
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert {p: p.read_bytes() for p in reports.rglob("*") if p.is_file()} == before


def test_a_large_run_shows_progress_before_its_first_test(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    inventory = pytester.path / "large.yaml"
    inventory.write_text(HEAD + names(1_000))
    result = pytester.runpytest_subprocess(f"--domains={inventory}", "--collect-only", "-q")
    assert "dkimwatch: 1,000 domains, 11,000 tests: collecting" in result.stdout.lines
    small = pytester.path / "small.yaml"
    small.write_text(HEAD + names(10))
    result = pytester.runpytest_subprocess(f"--domains={small}", "--collect-only", "-q")
    assert not [line for line in result.stdout.lines if line.endswith("collecting")]


def test_an_estate_above_the_limit_runs_as_shards(tmp_path: Path) -> None:
    """The limit is per run: the estate in all is refused with the way out (shards), a
    shard's run reads it whole (limit None) and counts its own part."""
    estate = tenantkit.write_tenants(tmp_path)
    total = sum(len(load_inventory(p).domains) for p in estate.glob("*.yaml"))
    with pytest.raises(InventoryError) as caught:
        load_inventories([estate], limit=3)
    message = str(caught.value)
    assert f"{total:,} domains in all, above the limit of 3 for one run" in message
    assert "--shard I/N" in message
    assert len(load_inventories([estate], limit=None)) == 2
    assert too_large(parse_shard("1/2"), 60_000, 30_001, 30_000) == (
        "shard 1/2 holds 30,001 of the estate's 60,000 domains, above the limit of 30,000 "
        "for one run; use more shards (N of at least 3)"
    )
    assert too_large(parse_shard("1/3"), 60_000, 20_100, 30_000) is None
