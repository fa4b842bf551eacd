"""Hostile DNS data is data: control bytes, invalid UTF-8, a 60 KB TXT, a 400-record RRset
and markup in every field a user sees. Nothing raises, every output stays valid, and what
is shown is escaped. Real sockets: the embedded server, TCP for the big answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from dkimwatch.report import load_results
from selftests import tenantkit
from selftests.suitekit import install_suite, run

pytest_plugins = ["pytester"]

MARKUP = "<script>alert(1)</script>"


def _chunks(text: str) -> str:
    return " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))


def test_hostile_records_give_verdicts_and_escaped_outputs(pytester: pytest.Pytester) -> None:
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    zone = pytester.path / "zones" / "healthy.example.zone"
    hostile = [
        # SPF with control bytes, a NUL and bytes that are not UTF-8
        '@ 3600 IN TXT "v=spf1 include:spf.protection.outlook.com \\000\\007\\027\\255\\254 -all"',
        # DMARC answered with 400 records: the valid one and 399 junk ones with markup
        *(f'_dmarc 3600 IN TXT "junk {i} {MARKUP}"' for i in range(399)),
    ]
    text = zone.read_text()
    text = text.replace(tenantkit.SPF, "")
    text += "\n".join(hostile) + "\n"
    zone.write_text(text)
    # A 60 KB key record behind selector1 (Microsoft's side), in 255-byte strings, via TCP.
    ms = pytester.path / "zones" / "contoso.onmicrosoft.com.zone"
    owner = tenantkit.target("selector1", "healthy.example").split(".contoso.")[0]
    big = "v=DKIM1; k=rsa; p=" + ("A" * 200 + MARKUP) * 260
    ms.write_text(
        "\n".join(line for line in ms.read_text().splitlines() if not line.startswith(owner + " "))
        + f"\n{owner} 3600 IN TXT {_chunks(big)}\n"
    )
    result, doc = run(pytester, "-k", "healthy.example")
    out = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in out
    assert "INTERNALERROR" not in out
    by = {(r["check"], r["selector"]): r for r in doc["results"]}
    assert by[("spf", None)]["outcome"] == "failed"  # unparseable bytes are not valid SPF
    assert by[("dkim_key", "selector1")]["outcome"] == "failed"  # junk base64
    # RFC 7489 §6.6.3: records not starting with v=DMARC1 are ignored; the one valid counts
    assert by[("dmarc", None)]["outcome"] == "passed"
    assert by[("dmarc", None)]["evidence"][0]["answers"]
    assert all(r["outcome"] != "error" for r in doc["results"])
    reports = pytester.path / "reports" / "partial"  # -k: a partial run
    html = (reports / "report.html").read_text()
    assert MARKUP not in html
    assert "\x00" not in html and "\x07" not in html
    ET.parse(reports / "junit.xml")  # still well-formed XML
    load_results(reports / "results.json")
    assert (reports / "failures.csv").read_text().count("\n") >= 3
