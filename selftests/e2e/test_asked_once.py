"""Every (name, type) is asked once per run, also with xdist workers, and the run says how
many queries it sent: the embedded server counts what reaches it, results.json and the
report must show the same number.

The inventory is built so that many tests need the same names: SPF records that include
the same provider (one directly, the others through a CNAME that leads to it), DMARC
reports sent to one external destination, and subdomains that all fall back to their
organisational domain's DMARC record.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from dkimwatch.report import load_results
from dkimwatch.zoneserver import ZoneServer
from selftests import tenantkit

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
DOMAINS = [f"share{i}.example" for i in range(6)]
SUBDOMAINS = [f"{region}.share0.example" for region in ("eu", "us", "apac")]
SOA = "@ 3600 IN SOA ns1.{o}. hostmaster.{o}. 1 3600 600 86400 300\n@ 3600 IN NS ns1.{o}.\n"


def _zone(root: Path, origin: str, body: str) -> None:
    text = f"$ORIGIN {origin}.\n$TTL 3600\n" + SOA.format(o=origin) + body
    (root / f"{origin}.zone").write_text(text)


def _dkim(owner: str, domain: str) -> str:
    """Selector CNAMEs of ``domain``, written at ``owner`` (relative to its zone)."""
    return "".join(
        f"{s}._domainkey{owner} 3600 IN CNAME {tenantkit.target(s, domain)}.\n"
        for s in ("selector1", "selector2")
    )


def _entry(domain: str) -> str:
    return (
        f"  - name: {domain}\n"
        f"    selector1_cname: {tenantkit.target('selector1', domain)}\n"
        f"    selector2_cname: {tenantkit.target('selector2', domain)}\n"
        f"    rotate_on: {tenantkit.ROTATED}\n"
        "    selector_before_rotate: selector1\n"
        "    selector_after_rotate: selector2\n"
    )


def write_shared_tenant(root: Path) -> Path:
    zones = root / "zones"
    zones.mkdir()
    keys = []
    for i, domain in enumerate(DOMAINS):
        # share0 includes the provider directly; the others through their own CNAME to it.
        include = "_spf.mailer.example" if i == 0 else f"spf.{domain}"
        body = _dkim("", domain)
        exo = "include:spf.protection.outlook.com"
        body += f'@ 3600 IN TXT "v=spf1 include:{include} {exo} -all"\n'
        if i:
            body += "spf 3600 IN CNAME _spf.mailer.example.\n"
        body += '_dmarc 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:agg@reports.mailer.example"\n'
        for sub in SUBDOMAINS if domain == "share0.example" else ():
            label = sub.removesuffix(f".{domain}")
            body += _dkim(f".{label}", sub)  # no _dmarc: they inherit share0.example's
            body += f'{label} 3600 IN TXT "v=spf1 include:_spf.mailer.example -all"\n'
        _zone(zones, domain, body)
        keys.append(domain)
    keys.extend(SUBDOMAINS)
    microsoft = ""
    for domain in keys:
        for selector in ("selector1", "selector2"):
            label = tenantkit.target(selector, domain).removesuffix(".contoso.onmicrosoft.com")
            microsoft += f"{label} 3600 IN TXT {tenantkit.key_record(1024)}\n"
    _zone(zones, "contoso.onmicrosoft.com", microsoft)
    _zone(
        zones,
        "mailer.example",
        '_spf 3600 IN TXT "v=spf1 ip4:192.0.2.0/24 include:_spf2.mailer.example -all"\n'
        '_spf2 3600 IN TXT "v=spf1 a:out.mailer.example -all"\n'
        "out 3600 IN A 192.0.2.25\n"
        + "".join(
            f'{d}._report._dmarc.reports 3600 IN TXT "v=DMARC1"\n' for d in [*DOMAINS, *SUBDOMAINS]
        ),
    )
    _zone(
        zones,
        "protection.outlook.com",
        'spf 3600 IN TXT "v=spf1 ip4:40.92.0.0/15 include:spfd.protection.outlook.com -all"\n'
        'spfd 3600 IN TXT "v=spf1 ip4:51.4.72.0/24 -all"\n',
    )
    inventory = root / "domains.yaml"
    inventory.write_text(
        f"version: 1\ntenant: {tenantkit.TENANT}\ndns:\n  timeout: 2.0\n  attempts: 1\n"
        "domains:\n" + "".join(_entry(d) for d in keys)
    )
    return inventory


@pytest.fixture
def shared(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(REPO / "conftest.py", pytester.path / "conftest.py")
    shutil.copytree(REPO / "tests", pytester.path / "tests")
    (pytester.path / "pytest.ini").write_text(
        "[pytest]\ntestpaths = tests\naddopts = -p no:cacheprovider\n"
    )
    write_shared_tenant(pytester.path)
    return pytester


def test_every_question_is_asked_once_across_workers(shared: pytest.Pytester) -> None:
    with ZoneServer(shared.path / "zones") as server:
        result = shared.runpytest_subprocess(
            "--now",
            tenantkit.NOW,
            f"--nameserver={server.address}",
            "-n",  # an explicit number of workers: xdist really spreads (-n auto would not)
            "2",
        )
        asked = dict(server.queries)
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.str()
    result.stdout.fnmatch_lines(["*2 workers*"])
    doc = load_results(shared.path / "reports" / "results.json")
    domains = {r["domain"] for r in doc["results"]}
    assert domains == {*DOMAINS, *SUBDOMAINS}
    assert {r["outcome"] for r in doc["results"]} <= {"passed", "failed", "xfailed", "skipped"}

    twice = {key: n for key, n in asked.items() if n != 1}
    assert not twice, f"asked more than once: {twice}"
    # The names many tests share were asked, and asked once.
    for shared_name in (
        ("_spf.mailer.example", "TXT"),
        ("_spf2.mailer.example", "TXT"),
        ("out.mailer.example", "A"),
        ("spf.protection.outlook.com", "TXT"),
        ("_dmarc.share0.example", "TXT"),
    ):
        assert asked.get(shared_name) == 1, shared_name

    sent = sum(asked.values())
    assert doc["queries"]["sent"] == sent
    assert doc["queries"]["questions"] == len(asked)
    report = html.unescape((shared.path / "reports" / "report.html").read_text())
    shown = re.search(r"queries sent</b>\s*(\d+)", report)
    assert shown is not None
    assert int(shown.group(1)) == sent
