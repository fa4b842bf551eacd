"""--record / --replay: an audit re-run months later from its saved DNS answers, with no
DNS at all, gives the same verdicts; and Ctrl-C in the middle of a run loses nothing."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from dkimwatch.report import load_results
from selftests import tenantkit
from selftests.suitekit import install_suite

pytest_plugins = ["pytester"]


def verdicts(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(r["nodeid"], r["outcome"], r["result"], r["message"]) for r in doc["results"]]


def test_replay_gives_the_recorded_verdicts_without_dns(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    inventory = tenantkit.write_tenant(pytester.path)
    record = pytester.path / "answers.json"
    pytester.runpytest_subprocess("--now", tenantkit.NOW, f"--record={record}", "-n", "2")
    recorded = load_results(pytester.path / "reports" / "results.json")
    assert json.loads(record.read_text())["format"] == "dkimwatch-answers/2"

    # No zone files any more, and the inventory points at a dead resolver: only the
    # recording can answer.
    for zone in (pytester.path / "zones").glob("*.zone"):
        zone.unlink()
    inventory.write_text(
        inventory.read_text().replace("  zones: zones\n", "  nameservers: ['127.0.0.1:9']\n")
    )
    result = pytester.runpytest_subprocess(f"--replay={record}")
    replayed = load_results(pytester.path / "reports" / "results.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert verdicts(replayed) == verdicts(recorded)
    assert replayed["now"] == recorded["now"]  # the recorded instant, not today
    assert replayed["resolvers"][0] == f"replay:{record}"


def test_replay_of_a_file_that_is_not_a_record_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    bogus = pytester.path / "bogus.json"
    bogus.write_text("{}")
    result = pytester.runpytest_subprocess(f"--replay={bogus}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "not a readable dkimwatch record" in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_ctrl_c_mid_run_keeps_the_previous_reports(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    inventory = tenantkit.write_tenant(pytester.path)
    pytester.runpytest_subprocess("--now", tenantkit.NOW)
    reports = pytester.path / "reports"
    before = {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()}
    assert "results.json" in before

    # A resolver that never answers: the run hangs in DNS until interrupted.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    inventory.write_text(
        inventory.read_text()
        .replace("  zones: zones\n", f"  nameservers: ['127.0.0.1:{port}']\n")
        .replace("timeout: 2.0", "timeout: 5")
        .replace("attempts: 2", "attempts: 1")
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--now", tenantkit.NOW],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        silent.settimeout(0.2)
        asked = False
        while not asked and time.monotonic() < deadline:
            try:
                silent.recvfrom(4096)  # the run is now waiting for DNS
                asked = True
            except TimeoutError:
                continue
        assert asked, "the run never asked DNS"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        silent.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (pytest.ExitCode.INTERRUPTED, 130, -signal.SIGINT), out
    after = {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()}
    assert after == before
    assert not list(reports.glob(".staging-*"))
    assert b"Traceback" not in out


def test_ctrl_c_while_the_run_starts_leaves_no_staging_folder(pytester: pytest.Pytester) -> None:
    """The helper asks DNS from the moment the run starts, so a Ctrl-C can come while the
    plugin is still registering itself: the reports stay and no staging folder is left."""
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    pytester.runpytest_subprocess("--now", tenantkit.NOW)
    reports = pytester.path / "reports"
    before = {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()}
    pytester.makepyfile(
        interrupter="""
        def pytest_plugin_registered(plugin, plugin_name, manager):
            if plugin_name == "dkimwatch-controller":
                raise KeyboardInterrupt
        """
    )
    result = pytester.runpytest_subprocess("-p", "interrupter", "--now", tenantkit.NOW)
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    after = {p.name: p.read_bytes() for p in reports.iterdir() if p.is_file()}
    assert after == before
    assert not list(reports.glob(".staging-*"))
