"""`dkimwatch gate DOMAIN --format FORMAT`: the gate's fixes also in one host's language,
over real DNS (the embedded server of tenantkit's zones)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from dkimwatch.cli import main
from selftests import tenantkit
from selftests.unit.test_fixformats import AZ_FLAGS


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tenantkit.write_tenant(tmp_path_factory.mktemp("gate-format"))


def test_gate_prints_the_fixes_as_az_commands(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["gate", "appended-twice.example", "--domains", str(inventory), "--format", "azure-cli"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "As azure-cli:\n==> azure-cli.sh <==\n" in out
    commands = [shlex.split(line) for line in out.splitlines() if line.startswith("az ")]
    verbs = [(c[4], c[5]) for c in commands]
    assert ("cname", "remove-record") in verbs and ("cname", "set-record") in verbs
    for c in commands:
        assert {w for w in c if w.startswith("--")} <= AZ_FLAGS[(c[4], c[5])]
    target = tenantkit.target("selector1", "appended-twice.example")
    set_record = next(c for c in commands if c[5] == "set-record")
    assert set_record[set_record.index("--cname") + 1] == target


def test_gate_nsupdate_and_nothing_when_ready(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["gate", "cname-missing.example", "--domains", str(inventory), "--format", "nsupdate"]
    )
    out = capsys.readouterr().out
    assert code == 1
    target = tenantkit.target("selector1", "cname-missing.example")
    assert f"update add selector1._domainkey.cname-missing.example. 3600 IN CNAME {target}." in out
    code = main(["gate", "healthy.example", "--domains", str(inventory), "--format", "nsupdate"])
    out = capsys.readouterr().out
    assert code == 0
    assert "update add" not in out and "As nsupdate" not in out
