"""What the outputs say: failures.csv with each fix, the terminal's last lines and the badge
counted in domains (failing, unresolved), and where the answers came from (zone files, a
saved record, live DNS). Pure functions on results, then the suite end to end (pytester,
the embedded DNS server over real sockets)."""

from __future__ import annotations

import csv
import io
from typing import cast

import pytest

from dkimwatch.checks import Outcome, Result, Verdict
from dkimwatch.fixes import Advice
from dkimwatch.report import (
    ResultEntry,
    badge_svg,
    domain_lines,
    domain_states,
    domains_summary,
    failures_csv,
    load_results,
)
from selftests import tenantkit
from selftests.suitekit import run

pytest_plugins = ["pytester"]


def result(
    domain: str,
    check: str,
    outcome: str,
    selector: str | None = None,
    message: str = "what is wrong",
    remediation: str | None = None,
) -> ResultEntry:
    result = {"passed": "pass", "failed": "fail", "error": "temperror"}.get(outcome, "none")
    name = f"{selector}._domainkey.{domain}" if selector else domain
    verdict = Verdict(
        check,
        domain,
        selector,
        cast(Result, result),
        cast(Outcome, outcome),
        message,
        fixes=(Advice(remediation),) if remediation else (),  # its sentence is the text
    )
    return ResultEntry(f"tests/test_x.py::test_{check}[{name}]", outcome, verdict)


def missing_key(domain: str) -> list[ResultEntry]:
    """One missing active key: dkim_target and dkim_rotation both fail, one domain broken."""
    fix = f"Open a Microsoft support case for {domain}"
    return [
        result(domain, "dkim_cname", "passed", "selector2"),
        result(domain, "dkim_target", "failed", "selector2", "no key published", fix),
        result(domain, "dkim_rotation", "failed", None, "selector2 signs but has no key", fix),
        result(domain, "spf", "passed"),
    ]


def mixed_run() -> list[ResultEntry]:
    """3 broken domains (4 failing checks), 2 DNS could not answer, 1 healthy."""
    return [
        *missing_key("a.example"),
        result("b.example", "spf", "failed", None, "no SPF record", "Create TXT b.example"),
        result("c.example", "dmarc", "failed", None, "no DMARC record", "Create TXT _dmarc"),
        result("c.example", "spf", "error", None, "no answer for c.example TXT: timed out"),
        result("d.example", "spf", "error", None, "no answer for d.example TXT: timed out"),
        result("e.example", "dmarc", "error", None, "no answer: SERVFAIL"),
        result("e.example", "spf", "passed"),
        result("f.example", "spf", "passed"),
        result("f.example", "dkim_target", "xfailed", "selector1"),
    ]


RED, GREY, GREEN = 'fill="#E05D44"', 'fill="#D3D3D3"', 'fill="#4C1"'  # anybadge's colours


def badge_text(svg: str) -> str:
    return svg.split("</text>")[-2].rsplit(">", 1)[-1]


def test_the_badge_counts_domains_not_checks() -> None:
    states = domain_states(mixed_run())
    domains = domains_summary(states)
    assert domains == {"total": 6, "failing": 3, "unresolved": 2, "passing": 1}
    svg = badge_svg(domains)
    assert badge_text(svg) == "3 domains failing, 2 unresolved"
    assert RED in svg

    only_dns = domain_states(
        [r for r in mixed_run() if r.verdict.domain in ("d.example", "e.example")]
    )
    grey = badge_svg(domains_summary(only_dns))
    assert badge_text(grey) == "2 domains unresolved"
    assert GREY in grey and RED not in grey

    healthy = domain_states([*missing_key("a.example")[:1], result("f.example", "spf", "passed")])
    green = badge_svg(domains_summary(healthy))
    assert badge_text(green) == "2 domains passing"
    assert GREEN in green
    assert badge_text(badge_svg(domains_summary(domain_states(missing_key("a.example"))))) == (
        "1 domain failing"
    )


def test_terminal_lines_one_per_failing_domain_then_unresolved() -> None:
    lines = domain_lines(domain_states(mixed_run()), report="reports/report.html")
    assert lines == [
        "FAILING a.example: dkim_target selector2: no key published → fix: Open a Microsoft "
        "support case for a.example (+1 more failing check)",
        "FAILING b.example: spf: no SPF record → fix: Create TXT b.example",
        # A domain with a failure is failing, whatever DNS did not answer elsewhere.
        "FAILING c.example: dmarc: no DMARC record → fix: Create TXT _dmarc",
        # DNS gave no answer: nothing is known to be wrong, so no fix.
        "UNRESOLVED d.example: DNS gave no answer for 1 check (spf: no answer for d.example "
        "TXT: timed out)",
        "UNRESOLVED e.example: DNS gave no answer for 1 check (dmarc: no answer: SERVFAIL)",
    ]


def test_terminal_lines_are_capped_and_dns_text_cannot_drive_the_terminal() -> None:
    rows = [
        result(f"d{i:02}.example", "spf", "failed", None, "bad\x1b[2J\nSPF", f"fix {i}")
        for i in range(25)
    ]
    lines = domain_lines(domain_states(rows), report="out/report.html")
    assert len(lines) == 21
    assert lines[0] == r"FAILING d00.example: spf: bad\x1b[2J\nSPF → fix: fix 0"
    assert lines[-1] == "… and 5 more; see out/report.html"
    assert not any("\x1b" in line or "\n" in line for line in lines)


def test_failures_csv_carries_the_fix_and_stays_spreadsheet_safe() -> None:
    rows = [
        *missing_key("a.example"),
        result("b.example", "spf", "failed", None, "no SPF", '=HYPERLINK("http://x")'),
        result("d.example", "spf", "error", None, "no answer"),
    ]
    fix_files = {
        next(r for r in rows if r.verdict.domain == "b.example").nodeid: "fixes/azure-cli.sh"
    }
    parsed = list(csv.reader(io.StringIO(failures_csv(rows, fix_files), newline="")))
    parsed = [row[:-1] for row in parsed] if parsed[0][-1] == "fix" else parsed
    fix_column = {
        (row[0], row[2]): row[-1] for row in csv.reader(io.StringIO(failures_csv(rows, fix_files)))
    }
    assert fix_column[("domain", "check")] == "fix"
    assert fix_column[("b.example", "spf")] == "fixes/azure-cli.sh"  # the file with its fix
    assert fix_column[("d.example", "spf")] == ""
    assert parsed == [
        ["domain", "selector", "check", "result", "message", "remediation"],
        [
            "a.example",
            "",
            "dkim_rotation",
            "fail",
            "selector2 signs but has no key",
            "Open a Microsoft support case for a.example",
        ],
        [
            "a.example",
            "selector2",
            "dkim_target",
            "fail",
            "no key published",
            "Open a Microsoft support case for a.example",
        ],
        ["b.example", "", "spf", "fail", "no SPF", '\'=HYPERLINK("http://x")'],
        ["d.example", "", "spf", "temperror", "no answer", ""],
    ]


# --- end to end -----------------------------------------------------------------------------


def test_zone_file_run_ends_with_failing_domains_and_says_where_answers_came_from(
    tenant: pytest.Pytester,
) -> None:
    res, doc = run(tenant)
    zones = tenant.path / "zones"
    out = res.stdout.lines
    # The last lines before pytest's own: after its short test summary.
    start = next(i for i, line in enumerate(out) if "dkimwatch: 7 domains failing (of 10)" in line)
    assert start > next(i for i, line in enumerate(out) if "short test summary info" in line)
    tail = out[start + 1 : start + 9]
    assert [line.split(":")[0] for line in tail[:7]] == [
        "FAILING active-key-missing.example",
        "FAILING appended-twice.example",
        "FAILING cname-missing.example",
        "FAILING no-dmarc.example",
        "FAILING no-spf.example",
        "FAILING other-tenant.example",
        "FAILING revoked.example",
    ]
    assert "dkim_cname selector1: no CNAME at" in tail[2]
    assert "→ fix: Create CNAME selector1._domainkey.cname-missing.example" in tail[2]
    assert tail[7] == f"answers from zone files in {zones}, not live DNS: this run checked " + (
        "those files, not the records published on the internet"
    )

    # results.json: the test counts as before, the domains as a person counts them.
    counts = tenantkit.expected_counts(tenant.path / "domains.yaml")
    assert doc["summary"]["failed"] == counts["failed"]
    assert doc["domains"] == {"total": 10, "failing": 7, "unresolved": 0, "passing": 3}
    assert doc["answers_from"] == {"kind": "zone files", "detail": str(zones)}
    reports = tenant.path / "reports"
    assert badge_text((reports / "badge.svg").read_text()) == "7 domains failing"
    html = (reports / "report.html").read_text()
    assert f"<b>Answers from</b> zone files in {zones}, not live DNS" in html
    assert f"&#34;Answers from&#34;: &#34;zone files in {zones}, not live DNS" in html  # metadata
    checks = f"{counts.total()} checks: {counts['passed']} passed, {counts['failed']} failed,"
    assert f"<p>7 domains failing (of 10); {checks}" in html  # matrix

    with (reports / "failures.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    row = next(r for r in rows if r["domain"] == "no-spf.example")
    assert row["remediation"].startswith('Create TXT no-spf.example "v=spf1 include:')
    # results.json: each result carries its typed fixes; remediation is their sentence
    spf = next(r for r in doc["results"] if r["check"] == "spf" and r["domain"] == "no-spf.example")
    assert spf["fixes"] == [
        {
            "action": "create",
            "owner": "no-spf.example",
            "rtype": "TXT",
            "value": "v=spf1 include:spf.protection.outlook.com -all",
            "zone": "no-spf.example",
            "ttl": 3600,
            "found": None,
            "kind": "dns",
        }
    ]
    assert spf["remediation"] == row["remediation"]
    assert all(r["fixes"] == [] for r in doc["results"] if r["outcome"] == "passed")


def test_names_outside_the_zone_files_are_unresolved_with_the_way_to_serve_them(
    tenant: pytest.Pytester,
) -> None:
    """Without protection.outlook.com's zone the SPF include and the MX hosts are REFUSED:
    temperrors (the domains are unresolved, not failing) whose message says how to serve
    the name."""
    (tenant.path / "zones" / "protection.outlook.com.zone").unlink()
    res, doc = run(tenant)
    zones = tenant.path / "zones"
    spf = next(
        r for r in doc["results"] if r["check"] == "spf" and r["domain"] == "healthy.example"
    )
    assert spf["outcome"] == "error" and spf["result"] == "temperror"
    assert (
        f"answered REFUSED (spf.protection.outlook.com is outside the zone files in {zones}: "
        "to serve it, add a zone file holding it there (e.g. spf.protection.outlook.com.zone))"
    ) in spf["message"]
    assert doc["domains"] == {"total": 10, "failing": 7, "unresolved": 3, "passing": 0}
    reports = tenant.path / "reports"
    assert badge_text((reports / "badge.svg").read_text()) == "7 domains failing, 3 unresolved"
    res.stdout.fnmatch_lines(
        [
            "*dkimwatch: 7 domains failing, 3 unresolved (of 10)*",
            # spf and mx (the MX hosts are in that zone too); spf comes first
            "UNRESOLVED healthy.example: DNS gave no answer for 2 checks (spf: *outside the zone*",
        ]
    )
    unresolved = [line for line in res.stdout.lines if line.startswith("UNRESOLVED")]
    assert len(unresolved) == 3 and not any("fix:" in line for line in unresolved)

    _, only = run(tenant, "-k", "healthy.example or shorthand.example")
    assert badge_text((reports / "partial" / "badge.svg").read_text()) == "2 domains unresolved"
    assert only["domains"]["unresolved"] == 2


def test_live_dns_and_replayed_runs_say_so(tenant: pytest.Pytester) -> None:
    record = tenant.path / "answers.json"
    run(tenant, "-k", "healthy.example", f"--record={record}")
    res, replayed = run(tenant, "-k", "healthy.example", f"--replay={record}")
    zones = tenant.path / "zones"
    assert replayed["answers_from"] == {
        "kind": "replay",
        "detail": str(record),
        "recorded_from": {"kind": "zone files", "detail": str(zones)},
    }
    html = (tenant.path / "reports" / "partial" / "report.html").read_text()
    assert (
        f"<b>Answers from</b> a saved record ({record}), not live DNS; the record was made "
        f"from zone files in {zones}, not live DNS"
    ) in html
    res.stdout.fnmatch_lines(["*dkimwatch: 1 domain passing*", "answers from a saved record *"])

    # Asked servers (here one where nothing listens): live DNS, and nothing passes.
    res, live = run(tenant, "-k", "healthy.example", "--nameserver=127.0.0.1:9")
    assert live["answers_from"] == {"kind": "live DNS", "detail": "127.0.0.1:9"}
    assert live["domains"] == {"total": 1, "failing": 0, "unresolved": 1, "passing": 0}
    html = (tenant.path / "reports" / "partial" / "report.html").read_text()
    assert "<b>Answers from</b> live DNS (127.0.0.1:9)" in html
    assert not any(line.startswith("answers from") for line in res.stdout.lines)
    assert load_results(tenant.path / "reports" / "partial" / "results.json") == live
