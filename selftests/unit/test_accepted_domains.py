"""Get-AcceptedDomain exports in `sources:`: every dialect read, merged with the DKIM export,
and the dkim_enabled verdict of each kind of accepted domain; max_age on every export.

The exports are written here as each PowerShell writes them (property names and shapes from
Get-AcceptedDomain's object model as Exchange Online returns it: DomainName, DomainType,
Default, InitialDomain, IsCoexistenceDomain, SendingFromDomainDisabled; docs/exchange-online.md).
The expected verdicts come from what each domain is, not from the code.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dkimwatch.checks import Context
from dkimwatch.checks.exo import check_dkim_enabled
from dkimwatch.exo_accepted import export_kind, exported_at, parse_accepted
from dkimwatch.exo_export import ExportError
from dkimwatch.inventory import Domain, InventoryError, Policy, load_inventory
from dkimwatch.resolver import DnsClient, Resolver

NOW = datetime(2026, 11, 22, 9, tzinfo=UTC)

# The tenant: (domain, DomainType, InitialDomain, IsCoexistenceDomain, SendingFromDomainDisabled)
TENANT = [
    ("contoso.com", "Authoritative", False, False, False),  # signing, enabled
    ("fabrikam.com", "Authoritative", False, False, False),  # accepted, no DKIM config
    ("legacy.contoso.com", "InternalRelay", False, False, False),  # DKIM config disabled
    ("parked.contoso.com", "Authoritative", False, False, True),  # cannot send
    ("contoso.onmicrosoft.com", "Authoritative", True, False, False),  # initial domain
    ("contoso.mail.onmicrosoft.com", "Authoritative", False, True, False),  # coexistence
]
DKIM = [("contoso.com", True), ("legacy.contoso.com", False), ("contoso.onmicrosoft.com", True)]
# What each domain is, so what dkim_enabled must say of it.
EXPECTED = {
    "contoso.com": "passed",
    "fabrikam.com": "failed",  # missing from the DKIM export
    "legacy.contoso.com": "failed",  # disabled
    "parked.contoso.com": "skipped",  # SendingFromDomainDisabled
    "contoso.onmicrosoft.com": "passed",
    "contoso.mail.onmicrosoft.com": "skipped",  # hybrid coexistence
}


def ps7_records() -> list[dict[str, Any]]:
    """PowerShell 7 ConvertTo-Json of the REST objects: DomainName a string."""
    return [
        {
            "DomainName": name,
            "DomainType": kind,
            "Default": name == "contoso.com",
            "InitialDomain": initial,
            "MatchSubDomains": False,
            "SmtpDaneStatus": "Disabled",
            "SendingFromDomainDisabled": cannot_send,
            "SendingToDomainDisabled": False,
            "IsCoexistenceDomain": coexistence,
            "Name": name,
            "Identity": name,
            "WhenChangedUTC": "2026-10-01T08:00:00Z",
        }
        for name, kind, initial, coexistence, cannot_send in TENANT
    ]


def ps51_bytes() -> bytes:
    """Windows PowerShell 5.1: `> file` (UTF-16LE with BOM), DomainName serialised as the
    SmtpDomainWithSubdomains object, DomainType as the enum's number, no
    IsCoexistenceDomain (an older object), the {"value": [...], "Count": n} wrapper."""
    kinds = {"Authoritative": 0, "ExternalRelay": 1, "InternalRelay": 2}
    rows = []
    for name, kind, initial, _, cannot_send in TENANT:
        rows.append(
            {
                "DomainName": {
                    "SmtpDomain": {"Domain": name},
                    "Domain": name,
                    "Address": name,
                    "IncludeSubDomains": False,
                    "IsStar": False,
                },
                "DomainType": kinds[kind],
                "Default": name == "contoso.com",
                "InitialDomain": initial,
                "SendingFromDomainDisabled": cannot_send,
                "WhenChangedUTC": "\\/Date(1790000000000)\\/",
            }
        )
    text = json.dumps({"value": rows, "Count": len(rows)}, indent=4).replace("\\\\/", "\\/")
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def csv_text(delimiter: str = ",", type_line: bool = False) -> str:
    """Export-Csv: every value its ToString(), DomainName a string."""
    header = ["DomainName", "DomainType", "Default", "InitialDomain", "SendingFromDomainDisabled"]
    lines = (
        ["#TYPE Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain"]
        if type_line
        else []
    )
    lines.append(delimiter.join(f'"{h}"' for h in header))
    for name, kind, initial, _, cannot_send in TENANT:
        cells = [name, kind, str(name == "contoso.com"), str(initial), str(cannot_send)]
        lines.append(delimiter.join(f'"{c}"' for c in cells))
    return "\r\n".join(lines) + "\r\n"


def dkim_rows() -> list[dict[str, Any]]:
    def cname(selector: str, name: str) -> str:
        return f"{selector}-{name.replace('.', '-')}._domainkey.contoso.onmicrosoft.com"

    return [
        {
            "Domain": name,
            "Enabled": enabled,
            "Status": "Valid" if enabled else "CnameMissing",
            "Selector1CNAME": cname("selector1", name),
            "Selector2CNAME": cname("selector2", name),
        }
        for name, enabled in DKIM
    ]


DIALECTS = {
    "ps7": lambda: json.dumps(ps7_records(), indent=2).encode(),
    "ps51": ps51_bytes,
    "csv": lambda: csv_text().encode(),
    "csv-5.1-semicolon": lambda: ("\ufeff" + csv_text(";", type_line=True)).encode(),
}


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_every_dialect_reads_the_same_domains(dialect: str) -> None:
    data = DIALECTS[dialect]()
    assert export_kind(data) == "accepted"
    got = {d.alabel: d for d in parse_accepted(data, source="accepted")}
    assert list(got) == [name for name, *_ in TENANT]
    assert got["parked.contoso.com"].sending_disabled is True
    assert got["contoso.com"].sending_disabled is False and got["contoso.com"].can_send
    assert not got["parked.contoso.com"].can_send
    assert got["contoso.onmicrosoft.com"].is_initial
    assert not got["contoso.com"].is_initial
    # Known by IsCoexistenceDomain where exported, by its name everywhere.
    assert got["contoso.mail.onmicrosoft.com"].is_coexistence
    assert not got["contoso.mail.onmicrosoft.com"].can_send
    assert got["legacy.contoso.com"].domain_type in ("InternalRelay", "2")


def test_kind_of_an_export_is_told_by_its_fields() -> None:
    assert export_kind(json.dumps(dkim_rows()).encode()) == "dkim"
    assert export_kind(b'"Domain","Enabled"\r\n"a.example","True"\r\n') == "dkim"
    assert export_kind(b"not an export") == "dkim"  # the DKIM reader says what is wrong
    assert export_kind(json.dumps({"value": ps7_records()}).encode()) == "accepted"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[]", "accepted:1: file: no records"),
        (b'[{"DomainName": ""}]', "accepted:1: DomainName: missing in record 1"),
        (
            b'[{"DomainName": 7}]',
            "accepted:1: DomainName: expected a domain name, got the number 7",
        ),
        (
            b'[{"DomainName": "a.example"},\n {"DomainName": "A.example"}]',
            "accepted:2: DomainName: duplicate domain 'a.example' in record 2 (first on line 1)",
        ),
        (b'[{"DomainName": "bad..name"}]', "accepted:1: DomainName: expected a domain name"),
        (
            b'[{"DomainName": "a.example", "SendingFromDomainDisabled": "maybe"}]',
            "accepted:1: SendingFromDomainDisabled: expected True or False",
        ),
        (b'"DomainName";"x"\r\n', "accepted:1: file: no records"),
    ],
)
def test_bad_accepted_exports_are_one_line_errors(data: bytes, expected: str) -> None:
    with pytest.raises(ExportError) as err:
        parse_accepted(data, source="accepted")
    message = str(err.value)
    assert message.startswith(expected), message
    assert "\n" not in message


# --- merged into the inventory, and judged -----------------------------------------------


def tenant_dir(tmp_path: Path, accepted: bytes, extra: str = "") -> Path:
    (tmp_path / "dkim.json").write_text(json.dumps(dkim_rows()))
    (tmp_path / "accepted.export").write_bytes(accepted)
    inv = tmp_path / "domains.yaml"
    inv.write_text(f"version: 1\nsources: [dkim.json, accepted.export]\n{extra}")
    return inv


def verdict(domain: Domain) -> str:
    ctx = Context(
        resolver=Resolver(DnsClient(["127.0.0.1:9"], timeout=0.1, attempts=1)),
        policy=Policy(),
        tenant="contoso",
        now=NOW,
    )
    return check_dkim_enabled(ctx, domain).outcome


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_every_accepted_domain_gets_the_verdict_of_what_it_is(tmp_path: Path, dialect: str) -> None:
    inventory = load_inventory(tenant_dir(tmp_path, DIALECTS[dialect]()))
    assert {d.name for d in inventory.domains} == set(EXPECTED)
    assert {d.name: verdict(d) for d in inventory.domains} == EXPECTED


def test_the_verdicts_say_why_and_what_to_do(tmp_path: Path) -> None:
    inventory = load_inventory(tenant_dir(tmp_path, DIALECTS["ps7"]()))
    ctx = Context(
        resolver=Resolver(DnsClient(["127.0.0.1:9"], timeout=0.1, attempts=1)),
        policy=Policy(),
        tenant="contoso",
        now=NOW,
    )
    missing = check_dkim_enabled(ctx, inventory.domain("fabrikam.com"))
    assert "no DKIM signing config" in missing.message
    assert missing.remediation is not None
    steps = missing.remediation.split("; ")
    assert steps[0].endswith("New-DkimSigningConfig -DomainName fabrikam.com -Enabled $false")
    assert "dkimwatch gate fabrikam.com" in steps[2]
    assert steps[3].endswith("Set-DkimSigningConfig -Identity fabrikam.com -Enabled $true")
    disabled = check_dkim_enabled(ctx, inventory.domain("legacy.contoso.com"))
    assert "disabled" in disabled.message
    assert disabled.remediation is not None
    assert disabled.remediation.index("dkimwatch gate") < disabled.remediation.index(
        "Set-DkimSigningConfig -Identity legacy.contoso.com -Enabled $true"
    )
    parked = check_dkim_enabled(ctx, inventory.domain("parked.contoso.com"))
    assert "SendingFromDomainDisabled" in parked.message and "MX and DMARC are" in parked.message
    coexistence = check_dkim_enabled(ctx, inventory.domain("contoso.mail.onmicrosoft.com"))
    assert "coexistence" in coexistence.message


def test_without_a_dkim_export_dkim_enabled_is_skipped_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "accepted.json").write_bytes(DIALECTS["ps7"]())
    inv = tmp_path / "domains.yaml"
    inv.write_text("version: 1\nsources: [accepted.json]\n")
    inventory = load_inventory(inv)
    contoso = inventory.domain("contoso.com")
    assert contoso.exo_dkim is None
    assert verdict(contoso) == "skipped"
    plain = Domain(name="example.com", display="example.com")
    assert verdict(plain) == "skipped"


def test_an_inventory_entry_keeps_what_the_exports_say(tmp_path: Path) -> None:
    inv = tenant_dir(
        tmp_path, DIALECTS["ps7"](), "domains:\n  - name: parked.contoso.com\n  - other.example\n"
    )
    inventory = load_inventory(inv)
    parked = inventory.domain("parked.contoso.com")
    assert parked.sending_disabled and parked.line == 4
    # Listed by hand, absent from the tenant's DKIM export: Exchange Online has no config.
    assert inventory.domain("other.example").exo_dkim == "missing"
    assert verdict(inventory.domain("other.example")) == "failed"


# --- max_age ------------------------------------------------------------------------------


def aged(path: Path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_max_age_by_modification_time(tmp_path: Path) -> None:
    inv = tenant_dir(tmp_path, DIALECTS["csv"]())
    inv.write_text(
        "version: 1\nsources:\n  - dkim.json\n  - {path: accepted.export, max_age: 26h}\n"
    )
    aged(tmp_path / "accepted.export", 25)
    load_inventory(inv)  # fresh enough
    aged(tmp_path / "accepted.export", 27)
    with pytest.raises(InventoryError) as err:
        load_inventory(inv)
    message = str(err.value)
    assert message.startswith(f"{inv}:4: sources[1].max_age: accepted.export is 1d 3h 0m old")
    assert "its modification time" in message and "more than max_age 26h" in message
    assert "\n" not in message


def test_max_age_prefers_the_time_written_inside(tmp_path: Path) -> None:
    """The export script's wrapper says when it ran; a file checked out or copied later has
    a new modification time, but its ExportedAt stays."""
    made = datetime.now(UTC) - timedelta(days=3)
    wrapper = {"value": dkim_rows(), "ExportedAt": made.isoformat().replace("+00:00", "Z")}
    (tmp_path / "dkim.json").write_text(json.dumps(wrapper))  # modified now
    inv = tmp_path / "domains.yaml"
    inv.write_text("version: 1\nsources:\n  - path: dkim.json\n    max_age: 2d\n")
    assert exported_at((tmp_path / "dkim.json").read_bytes()) is not None
    with pytest.raises(InventoryError, match=r"dkim\.json is 3d 0h 0m old \(its ExportedAt: "):
        load_inventory(inv)
    inv.write_text("version: 1\nsources:\n  - path: dkim.json\n    max_age: 4d\n")
    assert load_inventory(inv).domain("contoso.com").exo_dkim == "enabled"


@pytest.mark.parametrize("value", ["26", "1w", "0h", "true", "-1h", "26 hours"])
def test_max_age_must_be_an_age(tmp_path: Path, value: str) -> None:
    inv = tenant_dir(tmp_path, DIALECTS["ps7"]())
    inv.write_text(f"version: 1\nsources:\n  - path: dkim.json\n    max_age: {value}\n")
    with pytest.raises(InventoryError, match=r":4: sources\[0\]\.max_age: expected an age"):
        load_inventory(inv)


@pytest.mark.parametrize(
    ("value", "expected"), [("any", "any"), ("Exchange_Online", "exchange_online"), ("off", "off")]
)
def test_policy_mx(tmp_path: Path, value: str, expected: str) -> None:
    inv = tmp_path / "domains.yaml"
    inv.write_text(f"version: 1\npolicy:\n  mx: {value}\ndomains: [a.example]\n")
    assert load_inventory(inv).policy.mx == expected


def test_policy_mx_rejects_other_values(tmp_path: Path) -> None:
    inv = tmp_path / "domains.yaml"
    inv.write_text("version: 1\npolicy:\n  mx: outlook\ndomains: [a.example]\n")
    with pytest.raises(
        InventoryError,
        match=r":3: policy\.mx: expected one of exchange_online, any, off, got 'outlook'",
    ):
        load_inventory(inv)


def test_an_inventory_enabled_is_judged_as_the_export_would_be() -> None:
    """enabled: in an inventory is Get-DkimSigningConfig's Enabled written down (dkimwatch
    import writes it): without an export it is what dkim_enabled judges."""
    off = Domain(name="legacy.example", display="legacy.example", enabled=False)
    on = Domain(name="a.example", display="a.example", enabled=True)
    assert verdict(off) == "failed" and verdict(on) == "passed"
    # An export, where there is one, is Exchange Online's word and wins.
    exported = Domain(name="a.example", display="a.example", enabled=False, exo_dkim="enabled")
    assert verdict(exported) == "passed"
