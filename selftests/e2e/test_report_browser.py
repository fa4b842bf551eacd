"""report.html as an auditor sees it: rendered by headless Chromium (scripts run), with a
zone whose TXT record carries markup meant to run in that browser."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from selftests import tenantkit
from selftests.suitekit import install_suite

pytest_plugins = ["pytester"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs chromium (make test installs it: apt-get install chromium)"
    ),
]

SCRIPT = "<script>document.title='PWNED'</script>"
IMG = "<img src=x onerror=\"document.title='PWNED'\">"
NODE = "tests/test_spf.py::test_spf[healthy.example]"


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",  # no hand-over to another running Chromium
            "--virtual-time-budget=10000",  # let pytest-html's scripts build the table
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


class Elements(HTMLParser):
    """Every element of the rendered DOM with its attributes, and the document title."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_renders_and_hostile_txt_stays_text(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    # Last night: a baseline (at the real time: a --now run is a what-if, never recorded).
    first = pytester.runpytest_subprocess()
    assert first.ret == pytest.ExitCode.TESTS_FAILED

    # Tonight healthy.example's SPF record carries markup (as two TXT strings).
    zone = pytester.path / "zones" / "healthy.example.zone"
    hostile = (
        f'@ 3600 IN TXT "v=spf1 include:spf.protection.outlook.com {SCRIPT} -all" '
        f'"{IMG.replace(chr(34), chr(92) + chr(34))}"\n'
    )
    zone.write_text(zone.read_text().replace(tenantkit.SPF, hostile))
    second = pytester.runpytest_subprocess("--now", tenantkit.NOW)
    assert second.ret == pytest.ExitCode.TESTS_FAILED
    reports = pytester.path / "reports"
    report = reports / "report.html"
    assert SCRIPT not in report.read_text()  # the source already holds it escaped

    profile = tmp_path / "chromium-profile"
    dom = chromium("--dump-dom", report.as_uri(), profile=profile).stdout
    parsed = Elements()
    parsed.feed(dom)

    # What a person sees: the title, the matrix, the changes, the failing row and its evidence.
    assert parsed.title == "dkimwatch: contoso, 2026-11-22"
    assert "Domain × check" in dom
    matrix = re.search(r'<div class="dkimwatch-matrix">.*?</table>', dom, flags=re.DOTALL)
    assert matrix is not None
    healthy_row = re.search(r"<tr><th[^>]*>healthy\.example</th>(.*?)</tr>", matrix.group(0))
    assert healthy_row is not None
    assert re.findall(r">(PASS|FAIL|XFAIL|SKIP|ERROR)<", healthy_row.group(1))[-3:] == [
        "FAIL",
        "PASS",
        "PASS",
    ]  # spf, dmarc, mx: the last three columns
    assert "Changes since" in dom and "New failures (1)" in dom
    assert NODE in dom  # the results table was built by pytest-html's scripts
    assert re.search(r"<b>spf</b> → <b>(fail|permerror)</b>", dom)
    # Findings only are rows; passed, skipped and waived checks are counted in the matrix.
    rows = re.findall(r'<tbody class="results-table-row (\w+)"', dom)
    assert rows and set(rows) <= {"failed", "error", "xpassed"}, set(rows)
    assert "Audit summary" in dom and "Tenants, worst first" in dom
    assert ", 'Skipped: " not in dom  # a skip's log reads as its reason, not a Python tuple

    # The hostile record is shown as text, and created nothing.
    assert "PWNED" not in parsed.title
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in dom
    assert "&lt;img src=x onerror=\"document.title='PWNED'\"&gt;" in dom
    for tag, attrs in parsed.elements:
        assert not (tag == "img" and attrs.get("src") == "x"), attrs
        assert "onerror" not in attrs, (tag, attrs)
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", dom, flags=re.DOTALL)
    assert scripts and not [s for s in scripts if "PWNED" in s]

    # And a picture of it, for people.
    shot = reports / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1400,2000", report.as_uri(), profile=profile)
    assert png_size(shot) == (1400, 2000)
    assert shot.stat().st_size > 50_000  # a blank page of that size is a few kilobytes


def test_a_link_to_a_test_opens_its_row(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """report.html#test=<node id> (what a matrix cell does on click) opens that test's row:
    with every row collapsed by default, the linked one is not."""
    from urllib.parse import quote

    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    pytester.runpytest_subprocess("--now", tenantkit.NOW, "-o", "render_collapsed=all")
    report = pytester.path / "reports" / "report.html"
    node = "tests/test_dkim.py::test_dkim_cname[selector1._domainkey.cname-missing.example]"
    assert f'data-n="{node}"' in report.read_text()  # the matrix cell carries it
    url = f"{report.as_uri()}#test={quote(node, safe='')}"
    dom = chromium("--dump-dom", url, profile=tmp_path / "profile").stdout
    rows = re.findall(
        r'<tbody class="results-table-row failed" id="([^"]+)">\s*'
        r'<tr class="collapsible"[^>]*>\s*<td class="(col-result[^"]*)"',
        dom,
    )
    state = dict(rows)
    assert state[node] == "col-result"
    others = [cls for nodeid, cls in rows if nodeid != node]
    assert others and all(cls == "col-result collapsed" for cls in others)
