"""Get-DkimSigningConfig exports: every dialect to exact records, one-line errors, inventory."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dkimwatch.exo_export import (
    ExportError,
    SigningConfig,
    load_export,
    parse_export,
)
from dkimwatch.inventory import Inventory, load_inventory
from dkimwatch.inventory_writer import to_inventory_yaml

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"

# The public keys of the hand-written exports (freshly generated RSA keys, no private half kept).
K2048_A = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr76GKZt6mhN8211OOu+JrmD6P2WvunXoL8VfQCOqVJDuNIvS"
    "Cw4fyH+WstbT8eSzBnvsLyt2BIGQPIY/b/aFBETMX8I9rzX6N/Sh3cu09CG1MvRFBZd5wY7ewHerwtbczsHYDJkmnA0O"
    "03PwIFJNJlkB6sWRtigSnlvRfqoLr+3rCwlRGbZ0LMS9fliWkZx4TClHVDQIqUSV+amtMT9aE1WdLN4bh/6no9vY5jay"
    "xbfqXfI5Li1kUyU2khGclLMVhtZf4fHIzVSCYFHq3T5EAiFgFkk34LwwPHg4WrR6bNl4j3um93+UxdbiNmS/vXJfaGy4"
    "bi7N2u7MLVtvd3Z6lQIDAQAB"
)
K2048_B = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAruSCwpFqO1OeEYhBz1JSPTfVMs1CiGBSaieAUrai1LrZRc+L"
    "ypIfzZfmkdGTDXiUFic9bG+pmTbEkv+mzyUmilyjN1WkrSSWjobk2vnY9+Dq4VYDuqpQ5j/LFwecatwI5Mx5kah6QYo0"
    "YqDZAbEKYERSGRFslGtsvicWvDijX8tkvtit0yc5YTdzd42yGo7nQVAELPKbHCZcLmtwN9TzBRMpyRXcAObaEwnifiVu"
    "Pnpvtx8Y75jChNk301JjG/FUeu2p7cqx1kPrJSCoMTsSkUdFN2g4Nfh8PPzRlVJm2ElF/8XsL8XHB81N/BCHe3HvZtyN"
    "iQa+Ei9rrxlrFBSi9wIDAQAB"
)
K2048_C = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxKZCv9ERTjPi2AHgkenZ6TmQe5iMO8LlDYnydmv2vYVgSlBw"
    "auiXNrPOnsbbCknAFOHXkcslKDPcvRJNTY6nudBQc2+9xbDXWNdqB+YmsKtZwriZQRx+qXOLXYYolG9DvKTA/cBP1YMp"
    "KcKsTYnTsyhs/qOBlX9xWc9KT2plspojUukbnXdrofTWL1APRUPmuMZvNV5RRTjsR9euNizbIS8NxKajncdnVevcsg2P"
    "t5xgpjwNL6DHlQ14LP+41NHJA49mYVXcVP0DtRUJnrxRFygR3zyCsxXJQW8kkmFvGQJZNTXVbUlXY6oimspoJXeUX3BC"
    "CQDNwKvA0jnc3bAiQQIDAQAB"
)
K1024 = (
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDPlM+wjJjjl53qiS7tyYu6SxVmwFbsvfrg22VT6huV5+Vw/b2DtdkN"
    "EJA7uka4+AWCrpp7dp71Xnt6on/EzRAF2XayAoyeh8KBxBj3g0SRTW3pk+KNnRijpfw+e9X3sfAFmUeGXP6suM3ku+Uq"
    "fecHoNqkiwdIy4vzuzw1l/C7oQIDAQAB"
)


def rec(key: str) -> str:
    return f"v=DKIM1; k=rsa; p={key};"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def error_of(data: bytes | str, *, source: str = "x.json", culture: str | None = None) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(ExportError) as info:
        parse_export(raw, source=source, culture=culture)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"{source}:"), message
    return message


# -- every dialect, to the exact records ------------------------------------------------------

EXPECTED: dict[str, list[SigningConfig]] = {
    # Windows PowerShell 5.1 `ConvertTo-Json > file`: UTF-16LE + BOM, CRLF, \/Date()\/,
    # DateTime wrappers, enums as numbers (kept as their text: the mapping is not published).
    "ps51-list.json": [
        SigningConfig(
            domain="contoso.com",
            enabled=True,
            status="0",
            selector1_cname="selector1-contoso-com._domainkey.contoso.onmicrosoft.com",
            selector2_cname="selector2-contoso-com._domainkey.contoso.onmicrosoft.com",
            selector1_public_key=rec(K2048_A),
            selector2_public_key=rec(K1024),
            selector1_key_size=2048,
            selector2_key_size=1024,
            rotate_on=utc(2024, 7, 18, 1, 9, 42, 928000),
            selector_before_rotate="1",
            selector_after_rotate="0",
            key_creation_time=utc(2024, 7, 14, 1, 13, 2, 928000),
            last_checked=utc(2025, 11, 6, 10, 0, 0),
            is_default=False,
            line=2,
        ),
        SigningConfig(
            domain="fabrikam.com",
            enabled=False,
            status="1",
            selector1_cname="selector1-fabrikam-com._domainkey.contoso.n-v1.dkim.mail.microsoft",
            selector2_cname="selector2-fabrikam-com._domainkey.contoso.n-v1.dkim.mail.microsoft",
            selector1_public_key=rec(K2048_B),
            selector2_public_key=rec(K2048_C),
            selector1_key_size=2048,
            selector2_key_size=2048,
            rotate_on=utc(2019, 11, 19, 22, 32, 50),
            selector_before_rotate="1",
            selector_after_rotate="0",
            key_creation_time=utc(2019, 11, 19, 22, 32, 50),
            last_checked=None,  # \/Date(-62135596800000)\/ is DateTime.MinValue: never set
            is_default=False,
            line=48,
        ),
        SigningConfig(
            domain="contoso.onmicrosoft.com",
            enabled=True,
            status="0",
            selector1_cname=(
                "selector1-contoso-onmicrosoft-com._domainkey.contoso.onmicrosoft.com"
            ),
            selector2_cname=(
                "selector2-contoso-onmicrosoft-com._domainkey.contoso.onmicrosoft.com"
            ),
            selector1_public_key=rec(K2048_A),
            selector2_public_key=rec(K1024),
            selector1_key_size=2048,
            selector2_key_size=1024,
            rotate_on=utc(2019, 11, 19, 22, 32, 50),
            selector_before_rotate="1",
            selector_after_rotate="0",
            key_creation_time=utc(2019, 11, 19, 22, 32, 50),
            last_checked=utc(2025, 11, 10, 9, 30, 0),
            is_default=True,
            line=86,
        ),
    ],
    # 5.1, one domain: a bare object, UTF-8 + BOM, \/Date(ms+0100)\/ (the offset is only a
    # hint of the writer's zone; the number is UTC), enum names in another case.
    "ps51-single.json": [
        SigningConfig(
            domain="litware.com",
            enabled=True,
            status="Valid",
            selector1_cname="selector1-litware-com._domainkey.litwareinc.onmicrosoft.com",
            selector2_cname="selector2-litware-com._domainkey.litwareinc.onmicrosoft.com",
            selector1_public_key=rec(K2048_C),
            selector2_public_key=None,
            selector1_key_size=2048,
            selector2_key_size=2048,
            rotate_on=utc(2019, 11, 19, 22, 33, 39),
            selector_before_rotate="selector2",
            selector_after_rotate="selector1",
            key_creation_time=utc(2019, 11, 19, 22, 32, 50),
            last_checked=utc(2026, 1, 20, 7, 45, 12),
            is_default=False,
            line=1,
        )
    ],
    # PowerShell 7: ISO 8601 with Z, with an offset, with 7 fractional digits (truncated to
    # microseconds), without a suffix (UTC); a U-label domain; the tenant prefix keeps case.
    "ps7.json": [
        SigningConfig(
            domain="woodgrovebank.com",
            enabled=True,
            status="Valid",
            selector1_cname=(
                "selector1-woodgrovebank-com._domainkey.WoodgroveBank.onmicrosoft.com"
            ),
            selector2_cname=(
                "selector2-woodgrovebank-com._domainkey.WoodgroveBank.onmicrosoft.com"
            ),
            selector1_public_key=rec(K2048_B),
            selector2_public_key=rec(K2048_A),
            selector1_key_size=2048,
            selector2_key_size=2048,
            rotate_on=utc(2024, 4, 10, 10, 0, 0),
            selector_before_rotate="selector1",
            selector_after_rotate="selector2",
            key_creation_time=utc(2019, 11, 19, 22, 32, 50),
            last_checked=utc(2026, 7, 14, 18, 54, 40, 706697),
            is_default=False,
            line=2,
        ),
        SigningConfig(
            domain="bücher-woodgrove.de",
            enabled=False,
            status="CnameMissing",
            selector1_cname=(
                "selector1-xn--bcher-woodgrove-zvb-de01be2e._domainkey.WoodgroveBank"
                ".w-v1.dkim.mail.microsoft"
            ),
            selector2_cname=(
                "selector2-xn--bcher-woodgrove-zvb-de01be2e._domainkey.WoodgroveBank"
                ".w-v1.dkim.mail.microsoft"
            ),
            selector1_public_key=rec(K2048_C),
            selector2_public_key=None,
            selector1_key_size=2048,
            selector2_key_size=2048,
            rotate_on=utc(2025, 6, 2, 9, 15, 0, 500000),
            selector_before_rotate="selector2",
            selector_after_rotate="selector1",
            key_creation_time=utc(2025, 6, 2, 9, 15, 0, 500000),
            last_checked=utc(2025, 6, 2, 9, 20, 11, 123456),
            is_default=False,
            line=37,
        ),
    ],
    # The Exchange Online REST API: OData {"value": [...]}, @data.type/@odata.type sidecars.
    "rest.json": [
        SigningConfig(
            domain="fabrikam.io",
            enabled=True,
            status="Valid",
            selector1_cname="selector1-fabrikam-io._domainkey.Fabrikam.y-v1.dkim.mail.microsoft",
            selector2_cname="selector2-fabrikam-io._domainkey.Fabrikam.y-v1.dkim.mail.microsoft",
            selector1_public_key=rec(K2048_A),
            selector2_public_key=rec(K2048_B),
            selector1_key_size=2048,
            selector2_key_size=2048,
            rotate_on=utc(2026, 7, 14, 18, 54, 40, 706697),
            selector_before_rotate="selector2",
            selector_after_rotate="selector1",
            key_creation_time=utc(2026, 7, 14, 18, 54, 40, 706697),
            last_checked=utc(2026, 7, 20, 6, 0, 3, 250000),
            is_default=False,
            line=6,
        ),
        SigningConfig(
            domain="fabrikam.net",
            enabled=False,
            status="CnameMissing",
            selector1_cname="selector1-fabrikam-net._domainkey.Fabrikam.a-v1.dkim.mail.microsoft",
            selector2_cname="selector2-fabrikam-net._domainkey.Fabrikam.a-v1.dkim.mail.microsoft",
            selector1_public_key=rec(K2048_C),
            selector2_public_key=rec(K2048_A),
            selector1_key_size=2048,
            selector2_key_size=2048,
            rotate_on=utc(2026, 7, 14, 18, 59, 8, 654654),
            selector_before_rotate="selector2",
            selector_after_rotate="selector1",
            key_creation_time=utc(2026, 7, 14, 18, 59, 8, 654654),
            last_checked=utc(2026, 7, 14, 18, 59, 8, 654654),
            is_default=False,
            line=42,
        ),
    ],
    # 5.1 Export-Csv on en-US: #TYPE line, M/d/yyyy h:mm:ss tt; 11/19/2019 settles the order
    # of 4/10/2024 and 12/5/2025 for the whole file.
    "en-US.csv": [
        SigningConfig(
            domain="adatum.com",
            enabled=True,
            status="Valid",
            selector1_cname="selector1-adatum-com._domainkey.adatum.onmicrosoft.com",
            selector2_cname="selector2-adatum-com._domainkey.adatum.onmicrosoft.com",
            selector1_public_key=rec(K2048_A),
            selector2_public_key=rec(K2048_B),
            selector1_key_size=2048,
            selector2_key_size=2048,
            rotate_on=utc(2019, 11, 23, 22, 32, 50),
            selector_before_rotate="selector2",
            selector_after_rotate="selector1",
            key_creation_time=utc(2019, 11, 19, 22, 32, 50),
            last_checked=utc(2026, 1, 20, 7, 45, 12),
            is_default=False,
            line=3,
        ),
        SigningConfig(
            domain="adatum.org",
            enabled=False,
            status="CnameMissing",
            selector1_cname="selector1-adatum-org._domainkey.adatum.onmicrosoft.com",
            selector2_cname="selector2-adatum-org._domainkey.adatum.onmicrosoft.com",
            selector1_public_key=rec(K1024),
            selector2_public_key=None,
            selector1_key_size=1024,
            selector2_key_size=1024,
            rotate_on=utc(2024, 4, 10, 10, 0, 0),
            selector_before_rotate="selector2",
            selector_after_rotate="selector1",
            key_creation_time=utc(2024, 4, 10, 10, 0, 0),
            last_checked=utc(2024, 4, 10, 10, 5, 0),
            is_default=False,
            line=4,
        ),
        SigningConfig(
            domain="adatum.onmicrosoft.com",
            enabled=True,
            status="Valid",
            selector1_cname="selector1-adatum-onmicrosoft-com._domainkey.adatum.onmicrosoft.com",
            selector2_cname="selector2-adatum-onmicrosoft-com._domainkey.adatum.onmicrosoft.com",
            selector1_public_key=rec(K2048_A),
            selector2_public_key=rec(K2048_B),
            selector1_key_size=2048,
            selector2_key_size=2048,
            rotate_on=utc(2019, 3, 3, 0, 0, 0),  # 12:00:00 AM is midnight
            selector_before_rotate="selector2",
            selector_after_rotate="selector1",
            key_creation_time=utc(2019, 3, 3, 0, 0, 0),
            last_checked=utc(2025, 12, 5, 12, 30, 15),  # 12:30:15 PM is half past noon
            is_default=True,
            line=5,
        ),
    ],
    # Export-Csv -UseCulture on de-DE: ";" (also inside a quoted value), no #TYPE, UTF-8 +
    # BOM, dd.MM.yyyy HH:mm:ss; a NoDKIMKeys domain whose cells are empty.
    "de-DE.csv": [
        SigningConfig(
            domain="tailspintoys.de",
            enabled=True,
            status="Valid",
            selector1_cname="selector1-tailspintoys-de._domainkey.tailspintoys.onmicrosoft.com",
            selector2_cname="selector2-tailspintoys-de._domainkey.tailspintoys.onmicrosoft.com",
            selector1_public_key=rec(K2048_B),
            selector2_public_key=rec(K2048_A),
            selector1_key_size=2048,
            selector2_key_size=2048,
            rotate_on=utc(2019, 11, 23, 22, 32, 50),
            selector_before_rotate="selector1",
            selector_after_rotate="selector2",
            key_creation_time=utc(2019, 11, 19, 22, 32, 50),
            last_checked=utc(2026, 1, 5, 8, 0, 0),
            is_default=False,
            line=2,
        ),
        SigningConfig(
            domain="tailspintoys.at",
            enabled=False,
            status="NoDKIMKeys",
            selector1_cname=None,
            selector2_cname=None,
            selector1_public_key=None,
            selector2_public_key=None,
            selector1_key_size=None,
            selector2_key_size=None,
            rotate_on=None,
            selector_before_rotate=None,
            selector_after_rotate=None,
            key_creation_time=None,
            last_checked=None,
            is_default=False,
            line=3,
        ),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_export_parses_to_exact_records(name: str) -> None:
    assert load_export(EXPORTS / name) == EXPECTED[name]


def test_files_are_in_the_encodings_they_claim() -> None:
    assert (EXPORTS / "ps51-list.json").read_bytes().startswith(b"\xff\xfe[\x00\r\x00\n\x00")
    assert (EXPORTS / "ps51-single.json").read_bytes().startswith(b"\xef\xbb\xbf{\r\n")
    assert (EXPORTS / "de-DE.csv").read_bytes().startswith(b'\xef\xbb\xbf"Domain";')
    assert (EXPORTS / "en-US.csv").read_bytes().startswith(b"#TYPE ")


@pytest.mark.parametrize("name", ["ps7.json", "en-US.csv", "de-DE.csv", "rest.json"])
@pytest.mark.parametrize(
    "encode",
    [
        lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
        lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
        lambda t: t.encode("utf-16-le"),  # no BOM: [IO.File]::WriteAllText(…, Unicode)
        lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
        lambda t: t.replace("\n", "\r\n").replace("\r\r", "\r").encode("utf-8"),
    ],
    ids=["utf16le-bom", "utf16be-bom", "utf16le", "utf8-bom", "crlf"],
)
def test_same_records_in_any_encoding(name: str, encode: Callable[[str], bytes]) -> None:
    text = (EXPORTS / name).read_bytes().decode("utf-8-sig")
    assert parse_export(encode(text), source=name) == EXPECTED[name]


def test_culture_matching_the_file_changes_nothing() -> None:
    assert load_export(EXPORTS / "en-US.csv", culture="en-US") == EXPECTED["en-US.csv"]
    assert load_export(EXPORTS / "de-DE.csv", culture="de-DE") == EXPECTED["de-DE.csv"]


def test_culture_contradicting_the_file_names_field_and_value() -> None:
    data = (EXPORTS / "en-US.csv").read_bytes()
    message = error_of(data, source="en-US.csv", culture="en-GB")
    assert message == (
        "en-US.csv:3: RotateOnDate: expected a date such as 2026-04-10T10:00:00Z (month must "
        "be in 1..12, read as day/month), got '11/23/2019 10:32:50 PM' (record 1, adatum.com)"
    )


# -- CSV dates and cultures -------------------------------------------------------------------

HEADER = (
    '"Domain","Enabled","RotateOnDate","SelectorBeforeRotateOnDate","SelectorAfterRotateOnDate"'
)


def csv_of(*rows: str, header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode("utf-8")


def test_ambiguous_dates_need_a_culture() -> None:
    data = csv_of(
        '"a.example","True","4/10/2024 10:00:00 AM","selector1","selector2"',
        '"b.example","True","5/5/2024 10:00:00 AM","selector1","selector2"',
    )
    message = error_of(data, source="x.csv")
    assert message.startswith("x.csv:2: RotateOnDate: '4/10/2024 10:00:00 AM' can be read")
    assert "culture" in message
    us = parse_export(data, culture="en-US")
    gb = parse_export(data, culture="en-GB")
    assert us[0].rotate_on == utc(2024, 4, 10, 10, 0, 0)
    assert gb[0].rotate_on == utc(2024, 10, 4, 10, 0, 0)
    assert us[1].rotate_on == gb[1].rotate_on == utc(2024, 5, 5, 10, 0, 0)


def test_one_row_settles_the_order_for_the_file() -> None:
    data = csv_of(
        '"a.example","True","4/10/2024 10:00:00","selector1","selector2"',
        '"b.example","True","25/12/2024 18:30:00","selector1","selector2"',
    )
    configs = parse_export(data)
    assert configs[0].rotate_on == utc(2024, 10, 4, 10, 0, 0)
    assert configs[1].rotate_on == utc(2024, 12, 25, 18, 30, 0)


def test_contradicting_dates_are_an_error() -> None:
    data = csv_of(
        '"a.example","True","12/25/2024 10:00:00 AM","selector1","selector2"',
        '"b.example","True","25/12/2024 10:00:00","selector1","selector2"',
    )
    message = error_of(data, source="x.csv")
    assert message.startswith("x.csv:2: RotateOnDate: '12/25/2024 10:00:00 AM' is month/day")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-04-10 10:00:00", utc(2024, 4, 10, 10, 0, 0)),  # sv-SE, ISO-like
        ("2024/04/10 10:00:00", utc(2024, 4, 10, 10, 0, 0)),  # ja-JP
        ("2024-04-10T10:00:00Z", utc(2024, 4, 10, 10, 0, 0)),
        ("2024-04-10T12:00:00+02:00", utc(2024, 4, 10, 10, 0, 0)),
        ("10.04.2024 10:00:00", utc(2024, 4, 10, 10, 0, 0)),  # de-DE
        ("10.04.2024 10.00.00", utc(2024, 4, 10, 10, 0, 0)),  # fi-FI time separator
        ("10-04-2024 10:00:00", utc(2024, 4, 10, 10, 0, 0)),  # nl-NL
        ("10/04/2024 10:00", utc(2024, 4, 10, 10, 0, 0)),  # no seconds
        ("10/04/2024 10:00:00 p.m.", utc(2024, 4, 10, 22, 0, 0)),  # es-US style designator
        ("10/04/2024", utc(2024, 4, 10, 0, 0, 0)),
    ],
)
def test_culture_date_forms(text: str, expected: datetime) -> None:
    data = csv_of(f'"a.example","True","{text}","selector1","selector2"')
    assert parse_export(data, culture="en-GB")[0].rotate_on == expected


@pytest.mark.parametrize(
    "text",
    ["31/02/2024 10:00:00", "13/13/2024", "10/04/24 10:00:00", "tomorrow", "10/04/2024 13:00 PM"],
)
def test_bad_dates_name_field_and_value(text: str) -> None:
    data = csv_of(f'"a.example","True","{text}","selector1","selector2"')
    message = error_of(data, source="x.csv", culture="en-GB")
    assert message.startswith("x.csv:2: RotateOnDate: expected a date")
    assert repr(text) in message
    assert "record 1, a.example" in message


def test_unknown_culture() -> None:
    message = error_of(csv_of('"a.example","True","","",""'), source="x.csv", culture="bogus!")
    assert message == (
        "x.csv:0: culture: expected a culture name such as en-US, de-DE or en-GB, got 'bogus!'"
    )


# -- JSON details -----------------------------------------------------------------------------


def test_field_names_are_case_insensitive_and_values_normalised() -> None:
    data = json.dumps(
        {
            "DOMAIN": "Contoso.COM.",
            "selector1cname": "selector1-contoso-com._domainkey.Contoso.onmicrosoft.com.",
            "SELECTOR1KEYSIZE": "2048",
            "selectorbeforerotateondate": "SELECTOR1",
            "SelectorAfterRotateOnDate": "selector2",
            "enabled": "true",
            "rotateondate": "2024-04-10T10:00:00",
            "Status": " Valid ",
        }
    ).encode()
    (config,) = parse_export(data)
    assert config.domain == "contoso.com"
    assert config.selector1_cname == "selector1-contoso-com._domainkey.Contoso.onmicrosoft.com"
    assert config.selector1_key_size == 2048
    assert config.selector_before_rotate == "selector1"
    assert config.enabled is True
    assert config.rotate_on == utc(2024, 4, 10, 10, 0, 0)
    assert config.status == "Valid"


def test_ps51_array_wrapper_and_string_wrappers() -> None:
    # 5.1 writes some arrays as {"value": [...], "Count": n} and strings carrying notes as
    # {"value": "…", …}.
    data = json.dumps(
        {
            "value": [
                {"Domain": {"value": "a.example", "PSComputerName": "outlook.office365.com"}},
                {"Domain": "b.example", "LastChecked": {"value": "/Date(0)/", "DisplayHint": 2}},
            ],
            "Count": 2,
        },
        indent=4,
    ).encode()
    configs = parse_export(data)
    assert [c.domain for c in configs] == ["a.example", "b.example"]
    assert configs[1].last_checked == utc(1970, 1, 1, 0, 0, 0)
    assert [c.line for c in configs] == [3, 9]


def test_negative_epoch_and_offset_forms() -> None:
    data = b'{"Domain":"a.example","RotateOnDate":"\\/Date(-1000-0500)\\/"}'
    assert parse_export(data)[0].rotate_on == utc(1969, 12, 31, 23, 59, 59)


def test_missing_domain_names_the_record() -> None:
    data = b'[\n  {"Domain": "a.example"},\n  {"Enabled": true}\n]\n'
    message = error_of(data)
    assert message == ("x.json:3: Domain: missing in record 2; expected the accepted domain's name")


def test_field_error_points_at_the_field_line() -> None:
    data = b'[\n  {\n    "Domain": "a.example",\n    "RotateOnDate": "yesterday"\n  }\n]'
    message = error_of(data)
    assert message.startswith("x.json:4: RotateOnDate: expected a date such as")
    assert "'yesterday'" in message
    assert "(record 1, a.example)" in message


@pytest.mark.parametrize(
    ("record", "field", "needle"),
    [
        ({"Enabled": "maybe"}, "Enabled", "expected True or False"),
        ({"Selector1KeySize": "big"}, "Selector1KeySize", "expected a key size"),
        ({"Selector1KeySize": True}, "Selector1KeySize", "expected a key size"),
        ({"Selector1KeySize": 70000}, "Selector1KeySize", "expected a key size"),
        ({"SelectorBeforeRotateOnDate": "selector3"}, "SelectorBeforeRotateOnDate", "selector1"),
        ({"Selector1CNAME": "not a name"}, "Selector1CNAME", "expected a DNS name"),
        ({"Selector1CNAME": "selector1.contoso.com"}, "Selector1CNAME", "_domainkey"),
        ({"Selector1CNAME": 5}, "Selector1CNAME", "expected text"),
        ({"Selector1PublicKey": "System.Object[]"}, "Selector1PublicKey", "single value"),
        ({"KeyCreationTime": 1574202770000}, "KeyCreationTime", "expected a date"),
        ({"LastChecked": "/Date(99999999999999999)/"}, "LastChecked", "out of range"),
    ],
)
def test_bad_values(record: dict[str, object], field: str, needle: str) -> None:
    data = json.dumps({"Domain": "a.example", **record}).encode()
    message = error_of(data)
    assert message.startswith(f"x.json:1: {field}: ")
    assert needle in message


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("contoso.com", "Contoso.com."),
        ("bücher.example", "xn--bcher-kva.example"),  # one domain, U-label and A-label
    ],
)
def test_duplicate_domains(first: str, second: str) -> None:
    data = json.dumps([{"Domain": first}, {"Domain": second}], indent=2).encode()
    message = error_of(data)
    assert message.startswith("x.json:6: Domain: duplicate ")
    assert "(first on line 2)" in message


def test_duplicate_field_differing_in_case() -> None:
    message = error_of(b'{"Domain": "a.example", "domain": "b.example"}')
    assert message.startswith("x.json:1: domain: duplicate field in record 1")


def test_invalid_domain_from_ascii_export_gets_a_hint() -> None:
    message = error_of(csv_of('"m?nchen.de","True","","",""'), source="x.csv")
    assert message.startswith("x.csv:2: Domain: expected a domain name, got 'm?nchen.de'")
    assert "-Encoding UTF8" in message


def test_csv_column_count_mismatch() -> None:
    message = error_of(csv_of('"a.example","True"'), source="x.csv")
    assert message == "x.csv:2: record 1: expected 5 columns as in the header, got 2"


def test_csv_multiline_value_keeps_record_lines() -> None:
    data = (
        b'"Domain","AdminDisplayName","Enabled"\r\n'
        b'"a.example","two\r\nlines","True"\r\n'
        b"\r\n"
        b'"b.example","","False"\r\n'
    )
    configs = parse_export(data)
    assert [(c.domain, c.line, c.enabled) for c in configs] == [
        ("a.example", 2, True),
        ("b.example", 5, False),
    ]


# -- not an export --------------------------------------------------------------------------

NOT_AN_EXPORT = "expected a Get-DkimSigningConfig export: JSON (ConvertTo-Json) or CSV"


@pytest.mark.parametrize(
    ("data", "start"),
    [
        (b"", "x.json:1: file: the file is empty"),
        (b"  \r\n\t\n", "x.json:1: file: the file is empty"),
        (
            b"version: 1\ndomains:\n  - contoso.com\n",
            "x.json:1: Domain: no Domain column (got YAML)",
        ),
        (b"hello world\n", "x.json:1: Domain: no Domain column (got text)"),
        (
            b"\r\nRunspaceId : 1f0e\r\nDomain     : contoso.com\r\n",
            "x.json:2: Domain: no Domain column (got Format-List output; pipe to ConvertTo-Json",
        ),
        (
            b"Domain      Enabled\r\n------      -------\r\ncontoso.com True\r\n",
            "x.json:1: Domain: no Domain column (got Format-Table output;",
        ),
        (b'{"foo": 1}', "x.json:1: Domain: no record has a Domain field"),
        (b"[1, 2]", "x.json:1: Domain: no record has a Domain field"),
        (b"[]", "x.json:1: file: no records"),
        (b'{"value": []}', "x.json:1: file: no records"),
        (b'"Domain"\r\n', "x.json:1: file: no records"),
        (b"#TYPE Foo\r\n", "x.json:2: Domain: no header row"),
        (b"[{]", "x.json:1: json: invalid JSON at column 3"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "x.json:0: file: "),
        (b"\xff\xfe\x00\xd8", "x.json:0: file: not text: utf-16-le decoding fails"),
        (b"\xc3\x28 not utf-8", "x.json:0: file: not text: utf-8 decoding fails at byte 0"),
    ],
)
def test_not_an_export(data: bytes, start: str) -> None:
    message = error_of(data)
    assert message.startswith(start), message


def test_not_an_export_file() -> None:
    with pytest.raises(ExportError) as info:
        load_export(EXPORTS / "accepted-domains.json")
    assert str(info.value) == (
        f"{EXPORTS / 'accepted-domains.json'}:1: Domain: no record has a Domain field; "
        f"{NOT_AN_EXPORT} (Export-Csv) with a Domain column"
    )


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r":0: file: not found$"):
        load_export(tmp_path / "missing.json")
    with pytest.raises(ExportError, match=r":0: file: is a directory"):
        load_export(tmp_path)


def test_source_with_a_newline_still_gives_one_line() -> None:
    with pytest.raises(ExportError) as info:
        parse_export(b"", source="a\nb")
    assert len(str(info.value).splitlines()) == 1


# -- fuzzing: nothing but ExportError ---------------------------------------------------------

FIELDS = [
    "Domain",
    "domain",
    "Enabled",
    "IsDefault",
    "Status",
    "Selector1CNAME",
    "Selector2CNAME",
    "Selector1PublicKey",
    "Selector1KeySize",
    "Selector2KeySize",
    "RotateOnDate",
    "KeyCreationTime",
    "LastChecked",
    "SelectorBeforeRotateOnDate",
    "SelectorAfterRotateOnDate",
    "value",
    "KeyCreationTime@data.type",
]
DATEISH = st.sampled_from(
    [
        "/Date(1574202770000)/",
        "/Date(-62135596800000)/",
        "/Date(1574202770000+0100)/",
        "2019-11-19T22:32:50Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59.9999999-05:00",
        "11/19/2019 10:32:50 PM",
        "4/10/2024 10:00:00 AM",
        "19.11.2019 22:32:50",
        "selector1",
        "a.example",
        "selector1-a-example._domainkey.t.onmicrosoft.com",
        "True",
        "",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    DATEISH,
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), inner, max_size=4),
    ),
    max_leaves=12,
)
RECORD = st.dictionaries(st.sampled_from(FIELDS), JSONISH, max_size=8)


def only_export_errors(data: bytes, culture: str | None = None) -> None:
    try:
        configs = parse_export(data, source="fuzz", culture=culture)
    except ExportError as exc:
        message = str(exc)
    else:
        assert configs
        assert all(isinstance(c, SigningConfig) for c in configs)
        return
    assert len(message.splitlines()) == 1
    assert message.startswith("fuzz:")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_bytes(data: bytes) -> None:
    only_export_errors(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300), st.sampled_from(["utf-8", "utf-16", "utf-16-le"]))
def test_fuzz_text(text: str, codec: str) -> None:
    only_export_errors(text.encode(codec, errors="surrogatepass"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(RECORD, st.lists(RECORD, max_size=4), JSONISH), st.booleans())
def test_fuzz_json_shapes(value: object, wrap: bool) -> None:
    root = {"value": value} if wrap else value
    only_export_errors(json.dumps(root, indent=2).encode("utf-8"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(FIELDS), min_size=1, max_size=6),
    st.lists(st.lists(DATEISH | st.text(max_size=8), max_size=7), max_size=4),
    st.sampled_from([",", ";"]),
    st.sampled_from([None, "en-US", "de-DE"]),
)
def test_fuzz_csv(
    header: list[str], rows: list[list[str]], delimiter: str, culture: str | None
) -> None:
    def line(cells: list[str]) -> str:
        return delimiter.join('"' + c.replace('"', '""') + '"' for c in cells)

    text = "\r\n".join(["#TYPE Fuzz", line(header), *(line(r) for r in rows)])
    only_export_errors(text.encode("utf-8"), culture)


# -- to domains.yaml ------------------------------------------------------------------------


def write_and_load(tmp_path: Path, text: str) -> Inventory:
    path = tmp_path / "domains.yaml"
    path.write_text(text, encoding="utf-8")
    return load_inventory(path)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inventory_round_trip(tmp_path: Path, name: str) -> None:
    configs = load_export(EXPORTS / name)
    text = to_inventory_yaml(configs, tenant=None, source=str(EXPORTS / name))
    assert text.startswith(f"# Generated by dkimwatch from {EXPORTS / name} ")
    assert "sources:" not in text
    path = tmp_path / "domains.yaml"
    path.write_text(text, encoding="utf-8")
    inventory = load_inventory(path)
    assert [d.display for d in inventory.domains] == [c.domain for c in configs]
    for domain, config in zip(inventory.domains, configs, strict=True):
        if config.domain.endswith(".onmicrosoft.com"):
            # No CNAMEs or rotation; Enabled is kept for dkim_enabled.
            assert (domain.targets, domain.rotation) == ((), None)
            assert domain.enabled == config.enabled
            continue
        targets = dict(domain.targets)
        for selector, cname in (
            ("selector1", config.selector1_cname),
            ("selector2", config.selector2_cname),
        ):
            expected = cname.lower() if cname else None
            assert targets.get(selector) == expected
        assert domain.enabled == config.enabled
        if config.selector_before_rotate in ("selector1", "selector2"):
            assert domain.rotation is not None
            assert domain.rotation.rotate_on == config.rotate_on
            assert domain.rotation.before == config.selector_before_rotate
            assert domain.rotation.after == config.selector_after_rotate
        else:
            assert domain.rotation is None


@pytest.mark.parametrize(
    ("name", "tenant"),
    [
        ("ps51-list.json", "contoso"),  # classic and new-format targets of one tenant
        ("ps7.json", "WoodgroveBank"),  # the prefix keeps its case
        ("rest.json", "Fabrikam"),  # a-v1 and y-v1: one tenant, two partitions
        ("en-US.csv", "adatum"),
        ("de-DE.csv", "tailspintoys"),
    ],
)
def test_tenant_inferred_from_targets(tmp_path: Path, name: str, tenant: str) -> None:
    text = to_inventory_yaml(load_export(EXPORTS / name), tenant=None, source=name)
    assert f"\ntenant: {tenant}\n" in text


def test_tenant_from_the_initial_domain_and_given(tmp_path: Path) -> None:
    configs = parse_export(b'[{"Domain": "a.example"}, {"Domain": "northwind.onmicrosoft.com"}]')
    text = to_inventory_yaml(configs, tenant=None, source="x")
    assert "\ntenant: northwind\n" in text
    given_text = to_inventory_yaml(configs, tenant="Other.onmicrosoft.com", source="x")
    assert "\ntenant: Other\n" in given_text
    with pytest.raises(ValueError, match="tenant"):
        to_inventory_yaml(configs, tenant="not a tenant", source="x")


def test_several_tenants_leave_tenant_unset(tmp_path: Path) -> None:
    configs = parse_export(
        json.dumps(
            [
                {
                    "Domain": "a.example",
                    "Selector1CNAME": "selector1-a-example._domainkey.one.onmicrosoft.com",
                },
                {
                    "Domain": "b.example",
                    "Selector1CNAME": "selector1-b-example._domainkey.two.n-v1.dkim.mail.microsoft",
                },
            ]
        ).encode()
    )
    text = to_inventory_yaml(configs, tenant=None, source="x")
    assert "\ntenant:" not in text
    assert "# tenant not set: the export names several (one, two)" in text
    write_and_load(tmp_path, text)


def test_integer_enums_skip_rotation_with_a_note(tmp_path: Path) -> None:
    text = to_inventory_yaml(load_export(EXPORTS / "ps51-list.json"), tenant=None, source="x")
    assert (
        "  # contoso.com: rotation not imported: SelectorBeforeRotateOnDate is the enum "
        "number 1, whose name is not published;"
    ) in text
    assert "rotate_on" not in text
    write_and_load(tmp_path, text)


def test_partial_rotation_and_plain_entries(tmp_path: Path) -> None:
    configs = parse_export(
        b'[{"Domain": "a.example", "RotateOnDate": "2024-04-10T10:00:00Z"},'
        b' {"Domain": "b.example", "Enabled": false}]'
    )
    text = to_inventory_yaml(configs, tenant=None, source="in\nside")
    assert text.splitlines()[0] == (
        "# Generated by dkimwatch from in?side (Get-DkimSigningConfig export)."
    )
    assert "  # a.example: rotation not imported: the export gives only some of" in text
    assert "\n  - a.example\n" in text
    assert "\n  - name: b.example\n    enabled: false\n" in text
    write_and_load(tmp_path, text)


def test_yaml_values_are_quoted_when_needed(tmp_path: Path) -> None:
    configs = [
        SigningConfig(
            domain=name,
            enabled=None,
            status=None,
            selector1_cname=None,
            selector2_cname=None,
            selector1_public_key=None,
            selector2_public_key=None,
            selector1_key_size=None,
            selector2_key_size=None,
            rotate_on=None,
            selector_before_rotate=None,
            selector_after_rotate=None,
            key_creation_time=None,
            last_checked=None,
            is_default=None,
            line=1,
        )
        for name in ("bücher.example", "0x1f.example", "true.example", "2024-04-10.example")
    ]
    for tenant in ("True", "on", "1e5", "null"):
        text = to_inventory_yaml(configs, tenant=tenant, source="x")
        assert f'\ntenant: "{tenant}"\n' in text
        inventory = write_and_load(tmp_path, text)
        assert inventory.tenant == tenant
        assert [d.display for d in inventory.domains] == [c.domain for c in configs]
    assert '\n  - "bücher.example"\n' in text


def test_no_configs() -> None:
    with pytest.raises(ValueError, match="at least one domain"):
        to_inventory_yaml([], tenant=None, source="x")


@pytest.mark.parametrize(
    "export",
    [
        b'[{"Domain": "a.example", "RotateOnDate": "0001-01-01T00:00:00",'
        b' "SelectorBeforeRotateOnDate": "selector1", "SelectorAfterRotateOnDate": "selector2"}]',
        b'[{"Domain": "a.example", "RotateOnDate": "\\/Date(-62135596800000)\\/",'
        b' "SelectorBeforeRotateOnDate": "selector1", "SelectorAfterRotateOnDate": "selector2"}]',
        b'[{"Domain": "a.example", "RotateOnDate": {"value": "\\/Date(-62135596800000)\\/",'
        b' "DisplayHint": 2}, "SelectorBeforeRotateOnDate": "selector1",'
        b' "SelectorAfterRotateOnDate": "selector2"}]',
        b"Domain,RotateOnDate,SelectorBeforeRotateOnDate,SelectorAfterRotateOnDate\r\n"
        b"a.example,1/1/0001 12:00:00 AM,selector1,selector2\r\n",
    ],
    ids=["ps7", "ps51", "ps51-wrapped", "csv"],
)
def test_rotate_on_date_min_value_is_said_to_be_unset(tmp_path: Path, export: bytes) -> None:
    """All three rotation fields are given, but RotateOnDate is DateTime.MinValue: the
    comment must say that, not that only some fields were given."""
    (config,) = parse_export(export)
    assert config.rotate_on is None and config.rotate_on_unset
    assert (config.selector_before_rotate, config.selector_after_rotate) == (
        "selector1",
        "selector2",
    )
    text = to_inventory_yaml([config], tenant=None, source="x")
    assert "only some" not in text
    assert (
        "  # a.example: rotation not imported: RotateOnDate is 0001-01-01 (.NET "
        "DateTime.MinValue: never set), so the export does not say which selector signs; "
        "without it dkimwatch presumes that a selector with no key is the inactive one"
    ) in text
    assert "rotate_on" not in text
    inventory = write_and_load(tmp_path, text)
    assert inventory.domains[0].rotation is None


def test_absent_rotate_on_date_is_not_called_unset() -> None:
    (config,) = parse_export(
        b'[{"Domain": "a.example", "SelectorBeforeRotateOnDate": "selector1",'
        b' "SelectorAfterRotateOnDate": "selector2"}]'
    )
    assert not config.rotate_on_unset
    assert "only some of RotateOnDate" in to_inventory_yaml([config], tenant=None, source="x")
