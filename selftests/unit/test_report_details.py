"""The evidence block of report.html shows what auditors need from a verdict's details:
the SPF include tree with its lookup counts, and a DKIM key's type, size and fingerprint."""

from __future__ import annotations

import json

from dkimwatch.checks import Verdict
from dkimwatch.report import evidence_html, spf_tree_html

SPF_DETAILS = {
    "record": "v=spf1 include:spf.protection.outlook.com exists:%{i}.x.example -all",
    "lookups": 3,
    "tree": {
        "domain": "example.com",
        "via": None,
        "record": "v=spf1 include:spf.protection.outlook.com exists:%{i}.x.example -all",
        "lookups": 2,
        "total": 3,
        "voids": 0,
        "unresolved": ["exists:%{i}.x.example"],
        "children": [
            {
                "domain": "spf.protection.outlook.com",
                "via": "include:spf.protection.outlook.com",
                "record": "v=spf1 <script>alert(1)</script> -all",
                "lookups": 1,
                "total": 1,
                "voids": 1,
                "children": [],
            }
        ],
    },
}
SPF_VERDICT = Verdict(
    "spf",
    "example.com",
    None,
    "pass",
    "passed",
    '"v=spf1 include:spf.protection.outlook.com exists:%{i}.x.example -all"',
    details=SPF_DETAILS,
)


def test_spf_include_tree_is_rendered_with_lookup_counts() -> None:
    html = evidence_html(SPF_VERDICT)
    assert '<div class="dkimwatch-spf-tree"><b>SPF include tree</b> (3 of 10 DNS lookups)' in html
    assert "<code>example.com</code>: 2 DNS lookup(s) here, 3 with what it includes" in html
    assert (
        "include:spf.protection.outlook.com → <code>spf.protection.outlook.com</code>: "
        "1 DNS lookup(s) here, 1 with what it includes, 1 void"
    ) in html
    assert "counted, not resolved without a message: exists:%{i}.x.example" in html
    # nested under its parent, and DNS data escaped
    assert html.index("<code>example.com</code>") < html.index("<ul><li>include:")
    assert "<script>" not in html and "&lt;script&gt;" in html
    # the tree is not also dumped as a Python dict
    assert "'children'" not in html


def test_tree_from_results_json_renders_as_written_by_hand() -> None:
    """results.json hands the tree back as parsed JSON; the expected HTML is written out
    here by hand, not produced by the renderer under test."""
    tree = json.loads(
        '{"domain": "example.com", "via": null, "record": "v=spf1 include:a.example -all",'
        ' "lookups": 1, "total": 2, "voids": 0, "children": [{"domain": "a.example",'
        ' "via": "include:a.example", "record": "v=spf1 a -all", "lookups": 1, "total": 1,'
        ' "voids": 1, "children": []}]}'
    )
    assert spf_tree_html(tree) == (
        '<div class="dkimwatch-spf-tree"><b>SPF include tree</b> (2 of 10 DNS lookups)<ul>'
        "<li><code>example.com</code>: 1 DNS lookup(s) here, 2 with what it includes"
        "<br><code>v=spf1 include:a.example -all</code><ul>"
        "<li>include:a.example → <code>a.example</code>: 1 DNS lookup(s) here, 1 with what "
        "it includes, 1 void<br><code>v=spf1 a -all</code></li>"
        "</ul></li></ul></div>"
    )


def test_tree_of_odd_shapes_skips_what_is_not_a_node() -> None:
    html = spf_tree_html({"domain": "example.com", "children": ["not a node", None, 3]})
    assert "SPF include tree" in html and "<code>example.com</code>" in html
    assert "not a node" not in html
    assert html.count("<li>") == 1  # only the root: nothing else is a node


def test_dkim_key_details_are_shown() -> None:
    details = {"key_type": "rsa", "key_bits": 2048, "fingerprint_sha256": "ab" * 32}
    verdict = Verdict(
        "dkim_key",
        "a.example",
        "selector1",
        "pass",
        "passed",
        "valid rsa-2048 key",
        details=details,
    )
    html = evidence_html(verdict)
    assert f"key_type: rsa; key_bits: 2048; fingerprint_sha256: {'ab' * 32}" in html
