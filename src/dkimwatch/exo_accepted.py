"""Get-AcceptedDomain exports read into typed records, and what kind of export a file is.

Pure: bytes in, ``AcceptedDomain`` records out. The dialects are those of
``exo_export`` (Windows PowerShell 5.1 and PowerShell 7 ``ConvertTo-Json``, the REST shape,
``Export-Csv`` with or without ``#TYPE``), whose readers this module shares; errors are
``ExportError``s of one line, ``file:line: field: what was expected``.

``DomainName`` is an ``SmtpDomainWithSubdomains``: a string in REST and CSV exports, an
object (``{"Domain": …, "Address": …, "IncludeSubDomains": …}``) where ConvertTo-Json
serialised the object itself. The properties read are listed in
docs/exchange-online.md ("Get-AcceptedDomain").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from dkimwatch.exo_export import (
    ExportError,
    _Converter,
    _decode,
    _err,
    _export_records,
    _first_of_domain,
    _parse_instant,
    _Record,
    _show,
)
from dkimwatch.names import INITIAL_DOMAIN_SUFFIX, to_alabel

EXPECTED = (
    "expected a Get-AcceptedDomain export: JSON (ConvertTo-Json) or CSV (Export-Csv) "
    "with a DomainName column"
)
COEXISTENCE_SUFFIX = ".mail" + INITIAL_DOMAIN_SUFFIX  # contoso.mail.onmicrosoft.com
EXPORTED_AT = "ExportedAt"  # the wrapper field examples/exo/export.ps1 writes

ExportKind = Literal["dkim", "accepted"]


@dataclass(frozen=True)
class AcceptedDomain:
    domain: str  # as exported: lower case, no trailing dot (a U-label stays one)
    alabel: str
    domain_type: str | None  # Authoritative, InternalRelay, ExternalRelay; a number as its text
    default: bool | None
    initial: bool | None  # InitialDomain: the tenant's first *.onmicrosoft.com domain
    coexistence: bool | None  # IsCoexistenceDomain, where the export has it
    sending_disabled: bool | None  # SendingFromDomainDisabled, where the export has it
    line: int

    @property
    def is_initial(self) -> bool:
        if self.initial is not None:
            return self.initial
        labels = self.alabel.split(".")
        return self.alabel.endswith(INITIAL_DOMAIN_SUFFIX) and len(labels) == 3

    @property
    def is_coexistence(self) -> bool:
        """The hybrid coexistence domain (<tenant>.mail.onmicrosoft.com): mail routing
        between on-premises Exchange and Exchange Online, its DNS run by Microsoft."""
        return bool(self.coexistence) or self.alabel.endswith(COEXISTENCE_SUFFIX)

    @property
    def can_send(self) -> bool:
        return not self.sending_disabled and not self.is_coexistence


def load_accepted(path: Path | str) -> list[AcceptedDomain]:
    """Read a Get-AcceptedDomain export file; raise ExportError with a one-line message."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _err(str(path), 0, "file", f"cannot be read ({exc.strerror})") from None
    return parse_accepted(data, source=str(path))


def parse_accepted(data: bytes, *, source: str = "<export>") -> list[AcceptedDomain]:
    text = _decode(data, source, EXPECTED)
    records = _export_records(text, source, "DomainName", EXPECTED)
    out: list[AcceptedDomain] = []
    seen: dict[str, int] = {}
    for record in records:
        conv = _Converter(source, record, None)
        domain, alabel = _domain_name(source, record, conv)
        _first_of_domain(seen, source, record, "domainname", domain, alabel)
        out.append(
            AcceptedDomain(
                domain=domain,
                alabel=alabel,
                domain_type=_enum_text(conv, "domaintype"),
                default=conv.boolean("default"),
                initial=conv.boolean("initialdomain"),
                coexistence=conv.boolean("iscoexistencedomain"),
                sending_disabled=conv.boolean("sendingfromdomaindisabled"),
                line=record.line,
            )
        )
    return out


def _domain_name(source: str, record: _Record, conv: _Converter) -> tuple[str, str]:
    field = record.fields.get("domainname")
    value: Any = None if field is None else field.value
    if isinstance(value, dict):
        # The SmtpDomainWithSubdomains object itself: its Domain (or Address) is the name.
        inner = {k.lower(): v for k, v in value.items()}
        value = inner.get("domain", inner.get("address"))
        if isinstance(value, dict):  # {"SmtpDomain": {"Domain": …}} one level down
            value = {k.lower(): v for k, v in value.items()}.get("domain")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _err(
            source,
            record.line if field is None else field.line,
            "DomainName",
            f"missing in record {record.number}; expected the accepted domain's name",
        )
    if not isinstance(value, str):
        raise conv.error("domainname", f"expected a domain name, got {_show(value)}")
    name = value.strip().rstrip(".").lower()
    if name.startswith("*."):
        # A wildcard accepted domain (MatchSubDomains): its subdomains are not enumerable,
        # the parent is audited like any domain.
        name = name[2:]
    try:
        alabel = to_alabel(name)
    except ValueError as exc:
        raise conv.error("domainname", f"expected a domain name, got {value!r} ({exc})") from None
    return name, alabel


def _enum_text(conv: _Converter, key: str) -> str | None:
    value = conv.raw(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # 5.1 writes enums as numbers
    return conv.text(key)


def export_kind(data: bytes, source: str = "<export>") -> ExportKind:
    """Whether a file is a Get-AcceptedDomain export (records named by DomainName) or, as
    everything else is taken to be, a Get-DkimSigningConfig one (whose reader then says
    what is wrong with it)."""
    try:
        text = _decode(data, source)
    except ExportError:
        return "dkim"
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        return "dkim"
    if stripped[0] in "[{":
        try:
            root = json.loads(text)
        except (ValueError, RecursionError):
            return "dkim"
        first = _first_record(root)
        keys = {k.lower() for k in first} if first is not None else set()
        return "accepted" if "domainname" in keys and "domain" not in keys else "dkim"
    for line in stripped.splitlines():
        cells = {c.strip().strip('"').lower() for c in line.replace(";", ",").split(",")}
        if line.strip().startswith("#TYPE") or not line.strip():
            continue
        return "accepted" if "domainname" in cells and "domain" not in cells else "dkim"
    return "dkim"


def _first_record(root: Any) -> dict[str, Any] | None:
    if isinstance(root, dict):
        lowered = {k.lower(): v for k, v in root.items()}
        if "value" in lowered and isinstance(lowered["value"], list):
            root = lowered["value"]
        else:
            return root
    if isinstance(root, list):
        return next((r for r in root if isinstance(r, dict)), None)
    return None


def exported_at(data: bytes, source: str = "<export>") -> datetime | None:
    """When the export was made, if it says: the ``ExportedAt`` field of the
    ``{"value": [...], "ExportedAt": …}`` wrapper examples/exo/export.ps1 writes. None for
    every other export (ConvertTo-Json and Export-Csv record no time of their own)."""
    try:
        text = _decode(data, source)
        root = json.loads(text) if text.lstrip(" \t\r\n")[:1] == "{" else None
    except (ExportError, ValueError, RecursionError):
        return None
    if not isinstance(root, dict):
        return None
    value = {k.lower(): v for k, v in root.items()}.get(EXPORTED_AT.lower())
    if isinstance(value, dict):  # 5.1: {"value": "\/Date(…)\/", "DateTime": …}
        value = {k.lower(): v for k, v in value.items()}.get("value")
    if not isinstance(value, str):
        if value is None:
            return None
        raise _err(
            source,
            1,
            EXPORTED_AT,
            f"expected a date such as 2026-04-10T10:00:00Z, got {_show(value)}",
        )
    try:
        return _parse_instant(value, None)
    except ValueError as exc:
        raise _err(source, 1, EXPORTED_AT, f"{exc}, got {_show(value)}") from None
