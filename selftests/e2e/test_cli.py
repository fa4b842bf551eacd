"""The dkimwatch command as a user runs it: real processes, real sockets."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from selftests import tenantkit
from selftests.scripted_dns import free_udp_port

DKIMWATCH = [sys.executable, "-m", "dkimwatch.cli"]


def test_validate_good_and_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\ntenant: contoso\ndomains: [contoso.com, fabrikam.com]\n")
    out = subprocess.run([*DKIMWATCH, "validate", str(good)], capture_output=True, text=True)
    assert out.returncode == 0
    assert "2 domains" in out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ndomains:\n  - name: contoso.com\n    enabled: maybe\n")
    out = subprocess.run([*DKIMWATCH, "validate", str(bad)], capture_output=True, text=True)
    assert out.returncode == 4
    assert out.stderr.strip().count("\n") == 0
    assert f"{bad}:4: domains[contoso.com].enabled: expected true or false" in out.stderr


def test_validate_takes_inventories_as_pytest_domains_does(tmp_path: Path) -> None:
    folder = tenantkit.write_tenants(tmp_path)
    contoso, fabrikam = folder / "contoso.yaml", folder / "fabrikam.yaml"
    for args in (["--domains", str(folder)], [str(contoso), "--domains", str(fabrikam)]):
        out = subprocess.run([*DKIMWATCH, "validate", *args], capture_output=True, text=True)
        assert (out.returncode, out.stderr) == (0, "")
        lines = out.stdout.splitlines()
        assert [line.split(":")[0] for line in lines[:2]] == [str(contoso), str(fabrikam)]
        assert lines[1].endswith("tenant fabrikamcorp")
        assert lines[2] == f"2 inventories, {len(tenantkit.cases())} domains, each in one of them"
    fabrikam.write_text(fabrikam.read_text() + "  - healthy.example\n")
    out = subprocess.run([*DKIMWATCH, "validate", str(folder)], capture_output=True, text=True)
    assert (out.returncode, out.stdout) == (4, "")
    assert out.stderr.strip().count("\n") == 0
    assert f"healthy.example is also in {contoso}" in out.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    out = subprocess.run([*DKIMWATCH, "validate", str(empty)], capture_output=True, text=True)
    assert out.returncode == 4
    assert out.stderr.strip() == f"dkimwatch: {empty}:0: directory: no *.yaml inventory in it"


def test_serve_answers_until_interrupted(tmp_path: Path) -> None:
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "contoso.com.zone").write_text('$TTL 300\n@ TXT "v=spf1 -all"\n')
    port = free_udp_port()
    proc = subprocess.Popen(
        [*DKIMWATCH, "serve", str(zones), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"127.0.0.1:{port}" in line
        query = dns.message.make_query("contoso.com", "TXT")
        response = dns.query.udp(query, "127.0.0.1", port=port, timeout=2)
        assert response.rcode() == dns.rcode.NOERROR and response.answer
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode in (0, 130)


def test_serve_bad_zone_dir(tmp_path: Path) -> None:
    out = subprocess.run(
        [*DKIMWATCH, "serve", str(tmp_path / "missing")], capture_output=True, text=True
    )
    assert out.returncode == 4
    assert "not a directory" in out.stderr
    assert "Traceback" not in out.stderr


def test_console_script_is_installed() -> None:
    exe = shutil.which("dkimwatch", path=str(Path(sys.executable).parent))
    assert exe is not None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "dkimwatch" in out.stdout
