"""The inventory loader: what a valid domains.yaml becomes, and one-line errors for bad ones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from dkimwatch import inventory
from dkimwatch.inventory import InventoryError, load_inventory
from dkimwatch.names import parse_nameserver, to_alabel

FULL = """\
version: 1
tenant: Contoso
dns:
  nameservers: ["127.0.0.1:5300", "::1"]
  timeout: 0.5
  attempts: 2
policy:
  min_key_bits: 2048
  spf_require_include: spf.protection.outlook.com
  dmarc_min_policy: quarantine
domains:
  - contoso.com
  - Bücher.example
  - name: fabrikam.com
    selectors: [selector1, selector2]
    selector1_cname: selector1-fabrikam-com._domainkey.contoso.onmicrosoft.com.
    selector2_cname: SELECTOR2-fabrikam-com._domainkey.contoso.onmicrosoft.com
    rotate_on: 2026-04-10T10:00:00Z
    selector_before_rotate: selector1
    selector_after_rotate: selector2
    enabled: true
waivers:
  - domain: contoso.com
    check: dmarc
    reason: "retiring, CHG-1234"
    expires: 2027-01-31
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "domains.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:")
    return message


def test_full_inventory(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, FULL))
    assert inv.tenant == "Contoso"
    assert inv.dns.nameservers == ("127.0.0.1:5300", "[::1]:53")
    assert inv.dns.timeout == 0.5 and inv.dns.attempts == 2
    assert inv.policy.min_key_bits == 2048
    assert inv.policy.dmarc_min_policy == "quarantine"
    assert [d.name for d in inv.domains] == ["contoso.com", "xn--bcher-kva.example", "fabrikam.com"]
    assert inv.domains[1].display == "Bücher.example"
    fab = inv.domain("fabrikam.com")
    assert (
        fab.target_for("selector1") == "selector1-fabrikam-com._domainkey.contoso.onmicrosoft.com"
    )
    assert (
        fab.target_for("selector2") == "selector2-fabrikam-com._domainkey.contoso.onmicrosoft.com"
    )
    assert fab.rotation is not None
    assert fab.rotation.rotate_on == datetime(2026, 4, 10, 10, tzinfo=UTC)
    assert fab.rotation.active_selector(datetime(2026, 4, 10, 9, 59, tzinfo=UTC)) == "selector1"
    assert fab.rotation.active_selector(datetime(2026, 4, 10, 10, tzinfo=UTC)) == "selector2"
    assert fab.enabled is True
    assert inv.domain("contoso.com").selectors == ("selector1", "selector2")
    waiver = inv.waiver_for("contoso.com", "dmarc")
    assert waiver is not None and waiver.expires == date(2027, 1, 31)
    assert waiver.active(date(2027, 1, 31)) and not waiver.active(date(2027, 2, 1))
    assert len(inv.sha256) == 64


def test_defaults(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "version: 1\ndomains: [contoso.com]\n"))
    assert inv.dns.nameservers == ("system",)
    assert inv.policy.spf_require_include == "spf.protection.outlook.com"
    assert inv.tenant is None


def test_rotation_without_offset_is_utc(tmp_path: Path) -> None:
    text = FULL.replace("2026-04-10T10:00:00Z", "'2026-04-10T12:00:00+02:00'")
    inv = load_inventory(write(tmp_path, text))
    rotation = inv.domain("fabrikam.com").rotation
    assert rotation is not None and rotation.rotate_on == datetime(2026, 4, 10, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("version: 1\ndomains: [contoso.com]\nsurprise: 1\n", 3, "unknown key"),
        ("version: 1\ndomain: [contoso.com]\n", 2, "did you mean 'domains'"),
        ("version: 2\ndomains: [contoso.com]\n", 1, "expected 1"),
        ("domains: [contoso.com]\n", 1, "version"),
        ("version: 1\ndomains:\n  - contoso.com\n  - contoso.com\n", 4, "duplicate domain"),
        ("version: 1\ndomains:\n  - contoso.com\n  - CONTOSO.com.\n", 4, "duplicate domain"),
        ("version: 1\ndomains:\n  - -bad-.com\n", 3, "not a valid domain name"),
        ("version: 1\ndomains:\n  - " + "a" * 64 + ".com\n", 3, "longer than 63"),
        ("version: 1\ndomains:\n  - localhost\n", 3, "two labels"),
        ("version: 1\ndomains:\n  - name: a.com\n    enabled: yes\n", 4, "true or false"),
        ("version: 1\ndomains:\n  - name: a.com\n    rotate_on: 2026-01-01\n", 4, "go together"),
        (
            "version: 1\ndomains:\n  - name: a.com\n    rotate_on: soon\n"
            "    selector_before_rotate: selector1\n    selector_after_rotate: selector2\n",
            4,
            "ISO 8601",
        ),
        (
            "version: 1\ndomains:\n  - name: a.com\n    rotate_on: 2026-01-01T00:00:00Z\n"
            "    selector_before_rotate: selector1\n    selector_after_rotate: selector9\n",
            6,
            "selector9",
        ),
        ("version: 1\ndomains:\n  - name: a.com\n    selector3_cname: x\n", 4, "unknown key"),
        ("version: 1\ndomains:\n  - name: a.com\n    selector1_cname: x.com\n", 4, "_domainkey"),
        ("version: 1\ndns:\n  timeout: fast\ndomains: [a.com]\n", 3, "number"),
        ("version: 1\ndns:\n  attempts: 0\ndomains: [a.com]\n", 3, "integer from 1"),
        ("version: 1\ndns:\n  nameservers: [dns.google]\ndomains: [a.com]\n", 3, "IP address"),
        ("version: 1\npolicy:\n  dmarc_min_policy: strict\ndomains: [a.com]\n", 3, "quarantine"),
        ("version: 1\ndomains: []\n", 2, "at least one"),
        ("version: 1\ndomains: [a.com\n", 3, "yaml"),
        ("version: 1\nversion: 1\ndomains: [a.com]\n", 2, "duplicate key"),
        ("", 1, "empty"),
        ("- a.com\n", 1, "mapping"),
        (
            "version: 1\ndomains: [a.com]\nwaivers:\n  - domain: b.com\n    check: dmarc\n"
            "    reason: x\n",
            4,
            "not a domain of this inventory",
        ),
        (
            "version: 1\ndomains: [a.com]\nwaivers:\n  - domain: a.com\n    check: dmark\n"
            "    reason: x\n",
            5,
            "did you mean 'dmarc'",
        ),
        ("version: 1\nsources: [x.json]\ndomains: [a.com]\n", 2, "sources"),
    ],
)
def test_bad_inventory(tmp_path: Path, text: str, line: int, needle: str) -> None:
    message = error_of(tmp_path, text)
    assert f":{line}: " in message, message
    assert needle in message, message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="not found"):
        load_inventory(tmp_path / "nope.yaml")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "domains.yaml"
    path.write_bytes("version: 1\ndomains: [a.com]\n".encode("utf-16"))
    with pytest.raises(InventoryError, match="UTF-8"):
        load_inventory(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", "127.0.0.1:53"),
        ("127.0.0.1:5300", "127.0.0.1:5300"),
        ("::1", "[::1]:53"),
        ("[::1]:5300", "[::1]:5300"),
    ],
)
def test_parse_nameserver(text: str, expected: str) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1:0", "127.0.0.1:http", "[::1", "resolver.local"])
def test_parse_nameserver_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_nameserver(text)


def test_idna2008() -> None:
    # IDNA 2008 keeps ß (IDNA 2003 would have mapped it to "ss").
    assert to_alabel("straße.de") == "xn--strae-oqa.de"
    assert to_alabel("Müller-Contoso.DE.") == "xn--mller-contoso-wob.de"


MERGED = """\
version: 1
domains:
  - &one
    name: one.example
    selectors: &sels [s1, s2]
    s1_cname: s1-one-example._domainkey.contoso.onmicrosoft.com
    enabled: true
  - &two
    name: two.example
    selectors: *sels
    s2_cname: s2-two-example._domainkey.contoso.onmicrosoft.com
    enabled: false
  - <<: *one
    name: three.example
  - {<<: [*two, *one], name: four.example, enabled: &on true}
  - {name: five.example, enabled: *on}
"""


def test_anchors_aliases_and_merge_keys(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, MERGED))
    by_name = {d.name: d for d in inv.domains}
    assert list(by_name) == [
        "one.example",
        "two.example",
        "three.example",
        "four.example",
        "five.example",
    ]
    assert by_name["two.example"].selectors == ("s1", "s2")  # a list alias
    three = by_name["three.example"]  # everything but the name from one.example
    assert three.selectors == ("s1", "s2") and three.enabled is True
    assert three.targets == by_name["one.example"].targets
    assert three.line == 13
    four = by_name["four.example"]  # explicit keys win, then two.example over one.example
    assert four.enabled is True
    assert dict(four.targets) == {
        "s1": "s1-one-example._domainkey.contoso.onmicrosoft.com",
        "s2": "s2-two-example._domainkey.contoso.onmicrosoft.com",
    }
    assert by_name["five.example"].enabled is True  # a scalar alias


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("version: 1\ndomains:\n  - !foo a.com\n", 3, "yaml: unsupported tag !foo"),
        ("version: 1\ndomains: [!!binary YS5jb20=]\n", 2, "yaml: unsupported tag !!binary"),
        ("version: 1\ndomains: !!set {a.com}\n", 2, "yaml: unsupported tag !!set"),
        ("version: 1\ndomains: [a.com]\ndns: {attempts: !!int x}\n", 3, "not a valid !!int"),
        ("version: 1\ndomains: [a.com]\n? [x]\n: 1\n", 3, "yaml: expected a name as key"),
        ("version: 1\ndomains: [a.com]\n1: x\n", 3, "1: unknown key"),
        ("version: 1\ndomains: &x [*x]\n", 2, "yaml: an alias refers to a collection"),
        ("version: 1\ndomains: [*x]\n", 2, "yaml: found undefined alias"),
        ("version: 1\ndomains:\n  - <<: 3\n    name: a.com\n", 3, "mapping or list of mappings"),
        (
            "version: 1\ndomains:\n  - <<: {enabled: true}\n    <<: {enabled: false}\n"
            "    name: a.com\n",
            4,
            "yaml: duplicate key",
        ),
        (
            "version: 1\ndomains:\n  - &d\n    name: b.com\n    enabled: 3\n  - <<: *d\n"
            "    name: a.com\n",
            5,  # b.com's own key; a merged key would report the merging mapping's line
            "true or false",
        ),
        ("version: 1\ndomains: " + "[" * 3_000 + "]" * 3_000 + "\n", 0, "nested too deeply"),
        # The C composer would overflow the C stack here: the pure parser must take it.
        ("version: 1\ndomains: " + "[" * 50_000 + "]" * 50_000 + "\n", 0, "nested too deeply"),
    ],
)
def test_bad_yaml(tmp_path: Path, text: str, line: int, needle: str) -> None:
    message = error_of(tmp_path, text)
    assert f":{line}: " in message, message
    assert needle in message, message


@pytest.mark.parametrize("pure", [True, False])
def test_both_parsers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pure: bool) -> None:
    # libyaml (ruamel.yaml.clib) and the pure-Python parser must read inventories the same.
    monkeypatch.setattr(inventory, "_may_nest_deeper", lambda text, limit: pure)
    inv = load_inventory(write(tmp_path, FULL))
    assert inv.domain("fabrikam.com").line == 14 and inv.waivers[0].line == 23
    message = error_of(tmp_path, "version: 1\ndomains: [a.com\n")
    assert ":3: yaml: " in message, message
    message = error_of(tmp_path, "version: 1\ndomains:\n  - name: a.com\n    enabled: yes\n")
    assert ":4: domains[a.com].enabled: expected true or false, got 'yes'" in message
    message = error_of(tmp_path, "version: 1\nversion: 1\ndomains: [a.com]\n")
    assert message.endswith(":2: yaml: duplicate key")
    with pytest.raises(InventoryError, match="empty"):
        load_inventory(write(tmp_path, "# nothing yet\n"))
    # Both read YAML 1.2 whatever the %YAML directive says (libyaml's composer ignores it).
    message = error_of(
        tmp_path, "%YAML 1.1\n---\nversion: 1\ndomains:\n  - {name: a.com, enabled: on}\n"
    )
    assert ":5: domains[a.com].enabled: expected true or false, got 'on'" in message


def test_deep_nesting_bound() -> None:
    assert not inventory._may_nest_deeper(FULL, 1000)
    assert inventory._may_nest_deeper("a: " + "[" * 600 + "]" * 600, 1000)
    assert not inventory._may_nest_deeper("- [a]\n" * 1000, 1000)  # many, but shallow
    assert inventory._may_nest_deeper("a:\n" + " " * 300 + "- x\n", 1000)  # indentation
