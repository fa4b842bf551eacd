"""Get-DkimSigningConfig exports (JSON or CSV) read into typed, immutable records.

Pure: bytes in, ``SigningConfig`` records out; no DNS, no clock. Every problem is an
ExportError whose text is one line, ``file:line: field: what was expected``, like
inventory.InventoryError, so the CLI and the plugin can show it as is.

Dialects accepted (docs/exchange-online.md, "Export formats"):

- Windows PowerShell 5.1 ``ConvertTo-Json``: ``"\\/Date(ms)\\/"`` dates, DateTime and string
  values wrapped as ``{"value": …, "DisplayHint": 2, "DateTime": …}``, enums as numbers,
  UTF-16LE with BOM (``>`` redirection), also UTF-8 with or without BOM.
- PowerShell 7 ``ConvertTo-Json``: ISO 8601 dates, with or without an offset.
- The Exchange Online REST shape: ``"Field@data.type"`` sidecar keys, an OData
  ``{"value": [...]}`` wrapper (5.1 writes the same wrapper around some arrays).
- One object or a list of objects.
- ``Export-Csv``: optional ``#TYPE`` line, ``,`` or ``;`` (``-UseCulture``), ``True``/``False``,
  empty for null, dates in the exporting machine's culture with no zone.
"""

from __future__ import annotations

import csv
import io
import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dkimwatch.names import to_alabel

EXPECTED = (
    "expected a Get-DkimSigningConfig export: JSON (ConvertTo-Json) or CSV (Export-Csv) "
    "with a Domain column"
)
SELECTORS = ("selector1", "selector2")

# Property names as Get-DkimSigningConfig spells them, keyed by their lower-case form:
# PowerShell property names are case-insensitive, so exports may differ in case.
_DATE_FIELDS = {
    "rotateondate": "RotateOnDate",
    "keycreationtime": "KeyCreationTime",
    "lastchecked": "LastChecked",
}
_MS_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# DateTime.MinValue, what .NET leaves in a DateTime that was never set.
_MIN_VALUE_MS = -62135596800000
# "\/Date(ms)\/" (JSON-decoded: "/Date(ms)/"). The optional offset only says which local
# time the writer had; the number is always milliseconds since the epoch in UTC.
_MS_DATE = re.compile(r"/Date\((-?[0-9]{1,17})(?:[+-][0-9]{4})?\)/")
# DateTime.ToString() in a culture: d/M/yyyy, M/d/yyyy, d.M.yyyy, d-M-yyyy or yyyy-M-d, an
# optional time with : or . between the parts, and an optional AM/PM designator.
_CULTURE_DATE = re.compile(
    r"(?P<a>[0-9]{1,4})(?P<sep>[./-])(?P<b>[0-9]{1,2})(?P=sep)(?P<c>[0-9]{1,4})\.?"
    r"(?:[ T]+(?P<h>[0-9]{1,2})[:.](?P<mi>[0-9]{2})(?:[:.](?P<s>[0-9]{2}))?"
    r"(?:\s*(?P<ampm>[AaPp])\.?\s?[Mm]\.?)?)?"
)
_CULTURE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
# Cultures whose short date puts the month first (M/d/yyyy). Every other culture writing
# a slash date puts the day first; year-first dates are unambiguous whatever the culture.
_MONTH_FIRST = frozenset({"en", "en-us", "en-ph", "fil-ph"})
_DIGITS = re.compile(r"[0-9]{1,5}")
_JSON_WS = re.compile(r"[ \t\n\r]*")  # exactly the whitespace json accepts


class ExportError(Exception):
    """A bad export; str() is ONE line: ``<file>:<line>: <field>: <what was expected>``.

    For JSON the line is the line of the record's opening brace or of the field's key.
    """


@dataclass(frozen=True)
class SigningConfig:
    domain: str  # as in the export (may be a U-label); lower-cased, no trailing dot
    enabled: bool | None
    status: str | None  # Valid, CnameMissing, NoDKIMKeys, ...; an enum number stays its text
    selector1_cname: str | None  # case kept (the tenant prefix keeps case), no trailing dot
    selector2_cname: str | None
    selector1_public_key: str | None  # the record text as given: "v=DKIM1; k=rsa; p=…;"
    selector2_public_key: str | None
    selector1_key_size: int | None
    selector2_key_size: int | None
    rotate_on: datetime | None  # timezone-aware UTC
    selector_before_rotate: str | None  # "selector1"/"selector2"; an enum number as its text
    selector_after_rotate: str | None
    key_creation_time: datetime | None
    last_checked: datetime | None
    is_default: bool | None
    line: int  # line (CSV/JSON) where this config starts
    # RotateOnDate was given as DateTime.MinValue (0001-01-01: never set), which rotate_on
    # reads as None; kept apart from an absent RotateOnDate so the import can say so.
    rotate_on_unset: bool = False


@dataclass(frozen=True)
class _Field:
    name: str  # as spelled in the export
    value: Any  # a JSON value, or CSV text (None for an empty cell)
    line: int


@dataclass(frozen=True)
class _Record:
    number: int  # 1-based position in the export
    line: int
    fields: dict[str, _Field]  # by lower-case name


def load_export(path: Path | str, *, culture: str | None = None) -> list[SigningConfig]:
    """Read a Get-DkimSigningConfig export file; raise ExportError with a one-line message."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _err(str(path), 0, "file", "not found") from None
    except IsADirectoryError:
        raise _err(str(path), 0, "file", f"is a directory; {EXPECTED}") from None
    except OSError as exc:
        raise _err(str(path), 0, "file", f"cannot be read ({exc.strerror})") from None
    return parse_export(data, source=str(path), culture=culture)


def parse_export(
    data: bytes, *, source: str = "<export>", culture: str | None = None
) -> list[SigningConfig]:
    """Parse the bytes of a Get-DkimSigningConfig export (JSON or CSV, any dialect above).

    ``culture`` (``en-US``, ``de-DE``, ``en-GB``, …) is the exporting machine's culture: it
    decides day/month order for slash dates the file itself leaves ambiguous.
    """
    order = _culture_order(culture, source) if culture else None
    text = _decode(data, source)
    return _build(_export_records(text, source), source, order)


def _export_records(
    text: str, source: str, name_field: str = "Domain", expected: str = EXPECTED
) -> list[_Record]:
    """The records of an export's text, JSON or CSV (Get-AcceptedDomain's reader shares this
    with ``DomainName``); an empty file, or one without records, is an error."""
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        raise _err(source, 1, "file", f"the file is empty; {expected}")
    # ConvertTo-Json output opens with [ or {; Export-Csv output with #TYPE or the header row.
    if stripped[0] in "[{":
        records = _json_records(text, source, name_field, expected)
    else:
        records = _csv_records(text, source, name_field, expected)
    if not records:
        raise _err(source, 1, "file", f"no records; {expected}")
    return records


def _err(source: str, line: int, field: str, problem: str) -> ExportError:
    # One line whatever the input held: values quoted with repr() cannot break it, but a
    # source name or an exception text could.
    message = f"{source}:{line}: {field}: {problem}"
    return ExportError("".join(ch if ch.isprintable() else " " for ch in message))


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    text = str(value)
    return repr(text if len(text) <= 60 else text[:60] + "…")


# -- bytes to text ------------------------------------------------------------------------


def _decode(data: bytes, source: str, expected: str = EXPECTED) -> str:
    if data.startswith(b"\xff\xfe\x00\x00"):
        codec, body = "utf-32-le", data[4:]
    elif data.startswith(b"\xef\xbb\xbf"):
        codec, body = "utf-8", data[3:]
    elif data.startswith(b"\xff\xfe"):
        codec, body = "utf-16-le", data[2:]
    elif data.startswith(b"\xfe\xff"):
        codec, body = "utf-16-be", data[2:]
    else:
        codec, body = _sniff_bomless(data), data
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        raise _err(
            source,
            0,
            "file",
            f"not text: {codec} decoding fails at byte {exc.start}; {expected}, in UTF-8 or "
            "UTF-16 (Windows PowerShell 5.1: -Encoding UTF8)",
        ) from None
    if "\x00" in text:
        raise _err(source, 0, "file", f"binary data, not text; {expected}")
    return text


def _sniff_bomless(data: bytes) -> str:
    """UTF-16 without a BOM (e.g. [IO.File]::WriteAllText with Unicode) shows as every other
    byte zero in ASCII-heavy text; anything else is read as UTF-8."""
    head = data[:64]
    if len(head) >= 4 and len(head) % 2 == 0:
        if not any(head[1::2]) and all(head[0::2]):
            return "utf-16-le"
        if not any(head[0::2]) and all(head[1::2]):
            return "utf-16-be"
    return "utf-8"


# -- JSON ---------------------------------------------------------------------------------


class _Lines:
    """Offset → 1-based line number (counting \\n, as json's own error positions do)."""

    def __init__(self, text: str) -> None:
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def __call__(self, pos: int) -> int:
        return bisect_right(self.starts, pos)


def _json_records(
    text: str, source: str, name_field: str = "Domain", expected: str = EXPECTED
) -> list[_Record]:
    """The records of a JSON export; ``name_field`` is the field every record is named by (the
    Get-AcceptedDomain reader shares this with ``DomainName``)."""
    lower = name_field.lower()
    try:
        root = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _err(
            source,
            exc.lineno,
            "json",
            f"invalid JSON at column {exc.colno} ({exc.msg}); {expected}",
        ) from None
    except (ValueError, RecursionError) as exc:
        # int() digit limits, nesting too deep for the parser
        raise _err(source, 0, "json", f"unreadable JSON ({exc}); {expected}") from None

    # The text is valid JSON now; walk it a second time for the line of every record and
    # field, which json.loads does not give.
    lines = _Lines(text)
    decoder = json.JSONDecoder()
    start = _JSON_WS.match(text, 0)
    pos = start.end() if start else 0
    elements = _json_elements(text, pos, root, decoder, lower)
    if elements is None:
        raise _err(source, lines(pos), "json", f"got {_show(root)}; {expected}")

    if elements and not any(
        isinstance(v, dict) and any(k.lower() == lower for k in v) for _, v in elements
    ):
        raise _err(
            source, lines(pos), name_field, f"no record has a {name_field} field; {expected}"
        )
    records = []
    for number, (value_pos, value) in enumerate(elements, start=1):
        line = lines(value_pos)
        if not isinstance(value, dict):
            raise _err(
                source,
                line,
                f"record {number}",
                f"expected an object with a {name_field} field, got {_show(value)}",
            )
        fields = _json_fields(text, value_pos, decoder, lines, source, number)
        records.append(_Record(number, line, fields))
    return records


def _json_elements(
    text: str, pos: int, root: Any, decoder: json.JSONDecoder, name_key: str
) -> list[tuple[int, Any]] | None:
    """(offset, value) of the records of the valid JSON ``root`` at ``pos``: an array's
    elements, the ``value`` array of an OData wrapper (an object without a ``name_key``
    field), or a lone object; None for anything else."""
    if isinstance(root, list):
        return _walk_array(text, pos, decoder)
    if not isinstance(root, dict):
        return None
    entries = _walk_object(text, pos, decoder)
    keys = {key.lower(): (value_pos, value) for key, _, value_pos, value in entries}
    if name_key not in keys and isinstance(keys.get("value", (0, None))[1], list):
        # OData {"value": [...]} from the REST API, or 5.1's {"value": [...], "Count": n}
        return _walk_array(text, keys["value"][0], decoder)
    return [(pos, root)]


def _json_fields(
    text: str, pos: int, decoder: json.JSONDecoder, lines: _Lines, source: str, number: int
) -> dict[str, _Field]:
    """The fields, by lower-case name, of record ``number``: the valid JSON object at ``pos``."""
    fields: dict[str, _Field] = {}
    for key, key_pos, _, item in _walk_object(text, pos, decoder):
        if "@" in key:  # "KeyCreationTime@data.type", "@odata.context": type sidecars
            continue
        if key.lower() in fields:
            raise _err(
                source,
                lines(key_pos),
                key,
                f"duplicate field in record {number} (also {fields[key.lower()].name!r} "
                f"on line {fields[key.lower()].line}); field names are case-insensitive",
            )
        fields[key.lower()] = _Field(key, _unwrap(item), lines(key_pos))
    return fields


def _unwrap(value: Any) -> Any:
    """5.1 writes a DateTime (or a string) carrying extra notes as {"value": …, …}."""
    while isinstance(value, dict):
        inner = [v for k, v in value.items() if k.lower() == "value"]
        if len(inner) != 1:
            break
        value = inner[0]
    return value


def _skip(text: str, pos: int) -> int:
    match = _JSON_WS.match(text, pos)
    return match.end() if match else pos


def _walk_object(text: str, pos: int, decoder: json.JSONDecoder) -> list[tuple[str, int, int, Any]]:
    """Entries (key, key offset, value offset, value) of the valid JSON object at ``pos``."""
    entries: list[tuple[str, int, int, Any]] = []
    pos = _skip(text, pos + 1)
    if text[pos] == "}":
        return entries
    while True:
        key, end = decoder.raw_decode(text, pos)
        key_pos = pos
        pos = _skip(text, _skip(text, end) + 1)  # past the colon
        value, end = decoder.raw_decode(text, pos)
        entries.append((str(key), key_pos, pos, value))
        pos = _skip(text, end)
        if text[pos] == "}":
            return entries
        pos = _skip(text, pos + 1)  # past the comma


def _walk_array(text: str, pos: int, decoder: json.JSONDecoder) -> list[tuple[int, Any]]:
    """Elements (offset, value) of the valid JSON array at ``pos``."""
    items: list[tuple[int, Any]] = []
    pos = _skip(text, pos + 1)
    if text[pos] == "]":
        return items
    while True:
        value, end = decoder.raw_decode(text, pos)
        items.append((pos, value))
        pos = _skip(text, end)
        if text[pos] == "]":
            return items
        pos = _skip(text, pos + 1)


# -- CSV ----------------------------------------------------------------------------------


def _csv_records(
    text: str, source: str, name_field: str = "Domain", expected: str = EXPECTED
) -> list[_Record]:
    pos, skipped, line_text = _csv_header_row(text, source, name_field, expected)
    stripped = line_text.strip()
    delimiter = _delimiter(line_text.rstrip("\r"), name_field)
    if delimiter is None:
        raise _err(
            source,
            skipped + 1,
            name_field,
            f"no {name_field} column (got {_kind_of(stripped)}); {expected}",
        )

    reader = csv.reader(io.StringIO(text[pos:], newline=""), delimiter=delimiter)
    records: list[_Record] = []
    try:
        header = [cell.strip() for cell in next(reader, [])]
        header_line = skipped + 1
        index = _csv_columns(header, source, header_line)
        previous = reader.line_num
        for row in reader:
            line = skipped + previous + 1
            previous = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise _err(
                    source,
                    line,
                    f"record {len(records) + 1}",
                    f"expected {len(header)} columns as in the header, got {len(row)}",
                )
            fields = {
                key: _Field(header[i], row[i] if row[i].strip() else None, line)
                for key, i in index.items()
            }
            records.append(_Record(len(records) + 1, line, fields))
    except csv.Error as exc:
        raise _err(
            source, skipped + reader.line_num, "csv", f"unreadable CSV ({exc}); {expected}"
        ) from None
    return records


def _csv_header_row(text: str, source: str, name_field: str, expected: str) -> tuple[int, int, str]:
    """(offset, lines skipped, text) of the header row. Before it: blank lines and at most
    one "#TYPE …" line (5.1 without -NoTypeInformation)."""
    pos, skipped, type_seen = 0, 0, False
    while True:
        end = text.find("\n", pos)
        line_text = text[pos:] if end < 0 else text[pos:end]
        stripped = line_text.strip()
        if stripped and not (stripped.startswith("#TYPE") and not type_seen):
            return pos, skipped, line_text
        type_seen = type_seen or bool(stripped)
        if end < 0:
            raise _err(source, skipped + 1, name_field, f"no header row; {expected}")
        pos, skipped = end + 1, skipped + 1


def _csv_columns(header: list[str], source: str, line: int) -> dict[str, int]:
    """Column index by lower-case name; unnamed and "@" (type sidecar) columns left out."""
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name or "@" in name:
            continue
        if name.lower() in index:
            raise _err(source, line, name, "duplicate column (column names are case-insensitive)")
        index[name.lower()] = i
    return index


def _kind_of(first_line: str) -> str:
    """A guess at what a non-export is, for the error: screen output saved by mistake is the
    usual one (Format-List, Format-Table), then YAML (an inventory given as the export)."""
    if re.match(r"(?i)(domain|identity|runspaceid|name)\s*:(\s|$)", first_line):
        return "Format-List output; pipe to ConvertTo-Json or Export-Csv instead"
    if re.match(r"(?i)domain\s{2,}\S", first_line):
        return "Format-Table output; pipe to ConvertTo-Json or Export-Csv instead"
    if re.match(r"[A-Za-z_][\w-]*:(\s|$)|-\s|---", first_line):
        return "YAML"
    return "text"


def _delimiter(header: str, name_field: str = "Domain") -> str | None:
    """The delimiter that makes the header row hold a Domain column: "," by default, ";"
    with -UseCulture in cultures whose list separator it is (de-DE, fr-FR, ...)."""
    for delimiter in (",", ";", "\t"):
        try:
            cells = next(csv.reader([header], delimiter=delimiter), [])
        except csv.Error:
            continue
        if any(cell.strip().lower() == name_field.lower() for cell in cells):
            return delimiter
    return None


# -- records to SigningConfig ---------------------------------------------------------------


def _build(records: list[_Record], source: str, order: str | None) -> list[SigningConfig]:
    order = _date_order(records, source, order)
    configs: list[SigningConfig] = []
    seen: dict[str, int] = {}
    for record in records:
        conv = _Converter(source, record, order)
        domain, alabel = conv.domain()
        _first_of_domain(seen, source, record, "domain", domain, alabel)
        configs.append(
            SigningConfig(
                domain=domain,
                enabled=conv.boolean("enabled"),
                status=conv.status(),
                selector1_cname=conv.cname("selector1cname"),
                selector2_cname=conv.cname("selector2cname"),
                selector1_public_key=conv.text("selector1publickey"),
                selector2_public_key=conv.text("selector2publickey"),
                selector1_key_size=conv.key_size("selector1keysize"),
                selector2_key_size=conv.key_size("selector2keysize"),
                rotate_on=conv.instant("rotateondate"),
                selector_before_rotate=conv.selector("selectorbeforerotateondate"),
                selector_after_rotate=conv.selector("selectorafterrotateondate"),
                key_creation_time=conv.instant("keycreationtime"),
                last_checked=conv.instant("lastchecked"),
                is_default=conv.boolean("isdefault"),
                line=record.line,
                rotate_on_unset=conv.unset_instant("rotateondate"),
            )
        )
    return configs


def _first_of_domain(
    seen: dict[str, int], source: str, record: _Record, key: str, domain: str, alabel: str
) -> None:
    """Note the line of a domain's record in ``seen`` (by A-label); a second record for the
    same domain is an error at its ``key`` field."""
    if alabel in seen:
        field = record.fields[key]
        raise _err(
            source,
            field.line,
            field.name,
            f"duplicate domain {domain!r} in record {record.number} (first on line {seen[alabel]})",
        )
    seen[alabel] = record.line


class _Converter:
    """Typed values of one record; every error names the field, its line and the record."""

    def __init__(self, source: str, record: _Record, order: str | None) -> None:
        self.source = source
        self.record = record
        self.order = order
        self.where = f"record {record.number}"

    def error(self, key: str, problem: str) -> ExportError:
        field = self.record.fields.get(key)
        if field is None:
            return _err(self.source, self.record.line, key, problem)
        return _err(self.source, field.line, field.name, f"{problem} ({self.where})")

    def raw(self, key: str) -> Any:
        field = self.record.fields.get(key)
        return None if field is None else field.value

    def text(self, key: str) -> str | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, f"expected text, got {_show(value)}")
        value = value.strip()
        if value.startswith(("System.Object[]", "System.Collections.")):
            # Export-Csv writes a collection's type name instead of its items.
            raise self.error(key, f"expected a single value, got {value!r}")
        return value or None

    def domain(self) -> tuple[str, str]:
        value = self.raw("domain")
        if value is None or (isinstance(value, str) and not value.strip()):
            raise _err(
                self.source,
                self.record.line,
                "Domain",
                f"missing in {self.where}; expected the accepted domain's name",
            )
        text = self.text("domain")
        assert text is not None  # checked just above
        name = text.rstrip(".").lower()
        try:
            alabel = to_alabel(name)
        except ValueError as exc:
            hint = (
                "; Export-Csv in Windows PowerShell 5.1 writes ASCII unless given -Encoding UTF8"
                if "?" in name
                else ""
            )
            raise self.error(
                "domain", f"expected a domain name, got {text!r} ({exc}){hint}"
            ) from None
        self.where = f"{self.where}, {name}"
        return name, alabel

    def boolean(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("true", "false"):
                return word == "true"
            if not word:
                return None
        raise self.error(key, f"expected True or False, got {_show(value)}")

    def status(self) -> str | None:
        value = self.raw("status")
        if isinstance(value, int) and not isinstance(value, bool):
            # An enum written as its number (5.1 ConvertTo-Json): the number-to-name map of
            # this enum is not published, so keep the number's text.
            return str(value)
        return self.text("status")

    def cname(self, key: str) -> str | None:
        text = self.text(key)
        if text is None:
            return None
        target = text.rstrip(".")
        try:
            checked = to_alabel(target, service_labels=True)
        except ValueError as exc:
            raise self.error(key, f"expected a DNS name, got {text!r} ({exc})") from None
        if "._domainkey." not in f".{checked}.":
            raise self.error(
                key,
                "expected a target like selector1-contoso-com._domainkey.contoso.onmicrosoft.com,"
                f" got {text!r}",
            )
        return target

    def key_size(self, key: str) -> int | None:
        value = self.raw(key)
        number: int | None = None
        if value is None:
            return None
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            if not value.strip():
                return None
            if _DIGITS.fullmatch(value.strip()):
                number = int(value.strip())
        if number is None or not 0 <= number <= 65535:  # UInt16 in Exchange
            raise self.error(key, f"expected a key size in bits such as 2048, got {_show(value)}")
        return number

    def selector(self, key: str) -> str | None:
        value = self.raw(key)
        if isinstance(value, int) and not isinstance(value, bool):
            # 5.1 ConvertTo-Json writes enums as numbers; which number is which selector is
            # not published, so keep the text rather than guess (to_inventory_yaml skips it).
            return str(value)
        text = self.text(key)
        if text is None:
            return None
        word = text.lower()
        if word in SELECTORS or _DIGITS.fullmatch(word):
            return word
        raise self.error(key, f"expected selector1 or selector2, got {text!r}")

    def unset_instant(self, key: str) -> bool:
        """True when the export gives the date as DateTime.MinValue (never set)."""
        value = self.raw(key)
        return isinstance(value, str) and bool(value.strip()) and self.instant(key) is None

    def instant(self, key: str) -> datetime | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(
                key, f"expected a date such as 2026-04-10T10:00:00Z, got {_show(value)}"
            )
        try:
            return _parse_instant(value, self.order)
        except ValueError as exc:
            raise self.error(key, f"{exc}, got {_show(value)}") from None


def _parse_instant(value: str, order: str | None) -> datetime | None:
    """A date of any dialect as an aware UTC datetime; None for DateTime.MinValue (unset).

    Values without a zone (PowerShell 7 Unspecified kind, Export-Csv) are UTC: Exchange
    Online keeps these times in UTC.
    """
    text = value.strip()
    if not text:
        return None
    expected = "expected a date such as 2026-04-10T10:00:00Z"
    ms = _MS_DATE.fullmatch(text)
    if ms:
        number = int(ms[1])
        if number == _MIN_VALUE_MS:
            return None
        try:
            return _MS_EPOCH + timedelta(milliseconds=number)
        except OverflowError:
            raise ValueError(f"{expected}; the /Date()/ value is out of range") from None
    local = _CULTURE_DATE.fullmatch(text)
    try:
        naive = _culture_date(local, order) if local else datetime.fromisoformat(text)
    except (ValueError, OverflowError) as exc:
        reason = str(exc) if isinstance(exc, _DateError) else "not a date in a known format"
        raise ValueError(f"{expected} ({reason})") from None
    if naive.replace(tzinfo=None) == datetime(1, 1, 1):
        return None
    try:
        if naive.tzinfo is None:
            return naive.replace(tzinfo=UTC)
        return naive.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{expected} (out of range)") from None


class _DateError(ValueError):
    """A culture date that cannot be read; its text is the reason."""


def _culture_date(m: re.Match[str], order: str | None) -> datetime:
    a, b, c = m["a"], m["b"], m["c"]
    if len(a) == 4:  # yyyy-M-d (ISO-like, sv-SE, ja-JP, …): the same in every culture
        year, month, day = int(a), int(b), int(c)
        if len(c) > 2:
            raise _DateError("year-first with a day of more than two digits")
    elif len(c) == 4 and len(a) <= 2:
        first, second, year = int(a), int(b), int(c)
        if m["sep"] != "/":  # d.M.yyyy and d-M-yyyy cultures all put the day first
            day, month = first, second
        elif order == "mdy" or (order is None and second > 12):
            month, day = first, second
        elif order == "dmy" or (order is None and first > 12) or first == second:
            day, month = first, second
        else:  # cannot happen after _date_order; kept as a guard
            raise _DateError("day and month are ambiguous; pass the exporting culture")
    else:
        raise _DateError("expected a four-digit year")
    hour = int(m["h"]) if m["h"] else 0
    if m["ampm"]:
        if not 1 <= hour <= 12:
            raise _DateError(f"hour {hour} with AM/PM")
        hour = hour % 12 + (12 if m["ampm"] in "Pp" else 0)
    try:
        return datetime(year, month, day, hour, int(m["mi"] or 0), int(m["s"] or 0))
    except ValueError as exc:
        where = f", read as {'month/day' if order == 'mdy' else 'day/month'}" if order else ""
        raise _DateError(f"{exc}{where}") from None


def _culture_order(culture: str, source: str) -> str:
    tag = culture.strip().replace("_", "-").lower()
    if not _CULTURE.fullmatch(tag):
        raise _err(
            source,
            0,
            "culture",
            f"expected a culture name such as en-US, de-DE or en-GB, got {culture!r}",
        )
    return "mdy" if tag in _MONTH_FIRST else "dmy"


def _date_order(records: list[_Record], source: str, given: str | None) -> str | None:
    """Day/month order for slash dates: the given culture's, else what the file settles (a
    part above 12 anywhere decides for the whole file); ambiguous and unsettled is an error."""
    if given:
        return given
    day_first: _Field | None = None
    month_first: _Field | None = None
    ambiguous: _Field | None = None
    for record in records:
        for key in _DATE_FIELDS:
            field = record.fields.get(key)
            if field is None or not isinstance(field.value, str):
                continue
            m = _CULTURE_DATE.fullmatch(field.value.strip())
            if not m or m["sep"] != "/" or len(m["a"]) > 2 or len(m["c"]) != 4:
                continue
            first, second = int(m["a"]), int(m["b"])
            if first > 12 >= second:
                day_first = day_first or field
            elif second > 12 >= first:
                month_first = month_first or field
            elif first != second and first <= 12 and second <= 12:
                ambiguous = ambiguous or field
    if day_first and month_first:
        raise _err(
            source,
            month_first.line,
            month_first.name,
            f"{month_first.value!r} is month/day but {day_first.value!r} on line "
            f"{day_first.line} is day/month; expected one date format in an export",
        )
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    if ambiguous:
        raise _err(
            source,
            ambiguous.line,
            ambiguous.name,
            f"{ambiguous.value!r} can be read day/month or month/day and no date in the file "
            "settles it; pass the exporting machine's culture (e.g. en-US for month/day, "
            "en-GB or de-DE for day/month)",
        )
    return None
