"""``dkimwatch fixes --format FORMAT [RESULTS]``: the fixes of a results.json rendered in
one format; bad input is one line and exit 4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dkimwatch.cli import main
from dkimwatch.fixes import ExoFix, RecordFix, to_json
from selftests.nsupdatekit import apply_nsupdate

TARGET = "selector1-contoso-com._domainkey.contoso.onmicrosoft.com"


def _results(path: Path, fixes: list[dict[str, object]] | None, outcome: str = "failed") -> Path:
    result: dict[str, object] = {
        "nodeid": "tests/test_dkim.py::test_dkim_cname[selector1._domainkey.contoso.com]",
        "domain": "contoso.com",
        "selector": "selector1",
        "check": "dkim_cname",
        "outcome": outcome,
        "result": "fail",
        "message": "selector1._domainkey.contoso.com has a TXT record\ninstead of a CNAME",
        "evidence": [],
    }
    if fixes is not None:
        result["fixes"] = fixes
    path.write_text(json.dumps({"tool": "dkimwatch", "results": [result]}))
    return path


OWNER = "selector1._domainkey.contoso.com"
FIXES = [
    to_json(RecordFix("delete", OWNER, "TXT", 'x" $(id)', "contoso.com")),
    to_json(RecordFix("create", OWNER, "CNAME", TARGET, "contoso.com")),
    to_json(ExoFix("Rotate-DkimSigningConfig -Identity contoso.com", "")),
]


def test_fixes_prints_nsupdate_that_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dns.zone

    path = _results(tmp_path / "results.json", FIXES)
    assert main(["fixes", "--format", "nsupdate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "; contoso.com dkim_cname selector1: selector1._domainkey.contoso.com has a TXT " in out
    assert "record\\ninstead" in out  # the finding's newline stays inside its comment
    zone = dns.zone.from_text(
        '@ 60 IN SOA ns h 1 2 3 4 5\n@ 60 IN NS ns\nselector1._domainkey 60 IN TXT "x\\" $(id)"\n',
        origin="contoso.com",
        relativize=False,
    )
    assert apply_nsupdate(out, {"contoso.com": zone}) == 2
    assert zone.get_rdataset("selector1._domainkey.contoso.com.", "TXT") is None
    assert zone.get_rdataset("selector1._domainkey.contoso.com.", "CNAME") is not None


def test_fixes_writes_files_and_names_several(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _results(tmp_path / "results.json", FIXES)
    assert main(["fixes", "--format", "exchange", str(path)]) == 0
    assert "Rotate-DkimSigningConfig -Identity contoso.com" in capsys.readouterr().out
    assert main(["fixes", "--format", "route53", str(path), "-o", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out/route53/contoso.com.json").read_text())["Changes"]
    assert (tmp_path / "out/route53/NOTES.txt").exists()


def test_waived_or_passing_results_give_no_fixes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _results(tmp_path / "results.json", FIXES, outcome="xfailed")
    assert main(["fixes", "--format", "nsupdate", str(path)]) == 0
    out = capsys.readouterr().out
    assert not [line for line in out.splitlines() if line.startswith(("update", "zone"))]
    assert "nothing to change in DNS" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "No such file"),
        ("{not json", "not JSON"),
        ('{"results": 3}', "not a dkimwatch results.json"),
        ("no-fixes", "have no 'fixes'"),
        ("bad-fix", "fixes[1]: not a fix"),
    ],
)
def test_bad_input_is_one_line_and_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str
) -> None:
    path = tmp_path / "results.json"
    if content == "no-fixes":
        _results(path, None)
    elif content == "bad-fix":
        _results(path, [{"kind": "dns", "owner": "x"}])
    elif content is not None:
        path.write_text(content)
    assert main(["fixes", "--format", "nsupdate", str(path)]) == 4
    err = capsys.readouterr().err
    assert err.startswith("dkimwatch fixes: ") and expected in err
    assert err.count("\n") == 1
