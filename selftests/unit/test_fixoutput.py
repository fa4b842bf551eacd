"""reports/fixes/ and a row's fix in its host's format (src/dkimwatch/fixoutput.py): zones
and hosts found over real loopback sockets by the embedded zone server."""

from __future__ import annotations

from pathlib import Path

from dkimwatch.fixes import ExoFix, Fix, RecordFix
from dkimwatch.fixformats import FixContext
from dkimwatch.fixoutput import locate, row_fix, write_fixes
from selftests.zonekit import Switchboard, zones_from_text

SOA = "@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
TARGET = "selector1-contoso-com._domainkey.contoso.onmicrosoft.com"
CTX = FixContext("contoso.com", "dkim_cname", "selector1", "no CNAME")


def _fix(owner: str = "selector1._domainkey.contoso.com") -> RecordFix:
    return RecordFix("create", owner, "CNAME", TARGET, "contoso.com")


def test_a_fix_moves_to_the_zone_that_holds_its_owner(board: Switchboard) -> None:
    zones = {
        "contoso.com": SOA + "@ IN NS ns1.contoso.com.\n",
        "_domainkey.contoso.com": SOA + "@ IN NS ada.ns.cloudflare.com.\n",
    }
    with board.serving(zones_from_text(zones)) as resolver:
        items, hosts = locate([(CTX, _fix())], resolver)
    fix = items[0][1]
    assert isinstance(fix, RecordFix) and fix.zone == "_domainkey.contoso.com"
    assert fix.host == "selector1"
    fmt, text = row_fix(items, hosts)
    assert fmt == "terraform-cloudflare"
    assert 'resource "cloudflare_dns_record"' in text


def test_unknown_zone_keeps_the_domain_and_shows_nsupdate(board: Switchboard) -> None:
    with board.serving(zones_from_text({"other.example": SOA})) as resolver:
        items, hosts = locate([(CTX, _fix())], resolver)
    fix = items[0][1]
    assert isinstance(fix, RecordFix) and fix.zone == "contoso.com"
    fmt, text = row_fix(items, hosts)
    assert fmt == "nsupdate"
    assert "update add selector1._domainkey.contoso.com." in text


def test_azure_hosted_row_shows_az(board: Switchboard) -> None:
    ns = "".join(f"@ IN NS ns{i}-03.azure-dns.{t}.\n" for i, t in enumerate(["com", "net"], 1))
    with board.serving(zones_from_text({"contoso.com": SOA + ns})) as resolver:
        items, hosts = locate([(CTX, _fix())], resolver)
    assert row_fix(items, hosts)[0] == "azure-cli"


def test_a_row_without_dns_changes_shows_the_exchange_cmdlet() -> None:
    items: list[tuple[FixContext, Fix]] = [
        (CTX, ExoFix("Rotate-DkimSigningConfig -Identity c", ""))
    ]
    fmt, text = row_fix(items, {})
    assert fmt == "exchange" and "Rotate-DkimSigningConfig -Identity c" in text


def test_every_run_writes_nsupdate(tmp_path: Path) -> None:
    assert write_fixes(tmp_path / "fixes", []) == ["nsupdate.txt"]
    assert "nothing to change" in (tmp_path / "fixes/nsupdate.txt").read_text()
    written = write_fixes(tmp_path / "all", [(CTX, _fix())])
    assert {"nsupdate.txt", "zone/contoso.com.zone", "azure-cli.sh", "windows-dns.ps1"} <= set(
        written
    )
    assert all((tmp_path / "all" / name).is_file() for name in written)


def test_publishing_replaces_fixes_as_a_whole(tmp_path: Path) -> None:
    from dkimwatch.report import publish

    reports = tmp_path / "reports"
    (reports / "fixes" / "route53").mkdir(parents=True)
    (reports / "fixes" / "route53" / "old.example.json").write_text("{}")
    (reports / "history").mkdir()
    (reports / "history" / "kept.json").write_text("{}")
    staging = reports / ".staging-1"
    write_fixes(staging / "fixes", [(CTX, _fix())])
    (staging / "history").mkdir()
    (staging / "history" / "new.json").write_text("{}")
    publish(staging, reports, whole=("fixes",))
    assert not (reports / "fixes" / "route53" / "old.example.json").exists()  # no stale fix
    assert (reports / "fixes" / "nsupdate.txt").exists()
    assert {p.name for p in (reports / "history").iterdir()} == {"kept.json", "new.json"}
    assert [p.name for p in reports.iterdir() if p.name.startswith(".")] == []


def test_a_silent_resolver_is_asked_for_one_zone_walk_only(board: Switchboard) -> None:
    from dkimwatch.resolver import DnsClient, Resolver

    board.target = None  # every query dropped: the run's resolver times out
    resolver = Resolver(DnsClient([board.address], timeout=0.3, attempts=1))
    items = [(CTX, _fix()), (CTX, _fix("selector2._domainkey.fabrikam.com"))]
    located, hosts = locate(items, resolver)
    first, second = (hosts[f.owner] for _, f in located if isinstance(f, RecordFix))
    assert first.zone is None
    assert "timed out" in first.note
    assert second.note.startswith("not asked:") and not second.evidence
    assert row_fix(located, hosts)[0] == "nsupdate"


def test_a_failing_row_shows_its_fix_in_its_hosts_format_and_the_others(
    board: Switchboard,
) -> None:
    from dkimwatch.checks import Verdict
    from dkimwatch.fixoutput import fix_html, locate_verdict

    hostile = '<script>alert(1)</script> "$(id)"'
    verdict = Verdict(
        "spf",
        "contoso.com",
        None,
        "fail",
        "failed",
        "no SPF",
        fixes=(RecordFix("create", "contoso.com", "TXT", hostile, "contoso.com"),),
    )
    ns = "@ IN NS ns-1.awsdns-01.com.\n@ IN NS ns-2.awsdns-02.net.\n"
    with board.serving(zones_from_text({"contoso.com": SOA + ns})) as resolver:
        located = locate_verdict(verdict, resolver)
    assert located.details["fix_format"] == "route53"
    assert "awsdns" in str(located.details["fix_zones"])
    html = fix_html(located)
    assert "<b>Fix</b> (Amazon Route 53, route53)" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    shown, others = html.split("<details>")
    assert "ChangeBatch" not in shown and "&quot;Changes&quot;" in shown  # the JSON, first
    assert "nsupdate.txt" in others and "azure-cli.sh" in others
    passing = Verdict("spf", "contoso.com", None, "pass", "passed", "ok")
    assert locate_verdict(passing, resolver) is passing
    assert fix_html(passing) == ""
