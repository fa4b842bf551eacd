"""Typed fixes: what to change so that a verdict holds, as data.

A verdict's remedy is a tuple of fixes. A DNS change is a ``RecordFix`` (create, delete or
replace one record set at one owner name, in one zone); a change only Exchange Online can
make is an ``ExoFix`` with the exact cmdlet; a key that Microsoft fails to publish is a
``SupportCase`` with the facts a support engineer asks for; anything no tool can apply
(turn off a provider's proxying, flatten SPF includes) is ``Advice``. Every output format
(the remediation sentence, zone-file lines, the gate's table, a provider's change set) is
a renderer of these; nothing derives a fix a second time from a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["create", "delete", "replace"]
FIX_TTL = 3600  # Microsoft's advice for the selector CNAMEs; used for every record we propose
TXT_STRING_MAX = 255  # bytes in one DNS character-string (RFC 1035 §3.3)


@dataclass(frozen=True)
class RecordFix:
    """One DNS record to change, in one zone.

    ``create`` adds the record ``value`` at ``owner``. ``delete`` removes the record found
    at ``owner``: ``value`` is its data as found in DNS (a TXT's text, an address, a CNAME's
    target), or None for every record of ``rtype`` at ``owner``; ``ttl`` is then the TTL
    DNS answered with. ``replace`` turns the one record ``found`` (its data as found in DNS;
    None: the whole set of ``rtype`` at ``owner``) into ``value``; other records of
    ``rtype`` at ``owner`` (another TXT beside an SPF record) stay. A CNAME is a set of one,
    so replacing it needs no ``found``, but carries it so the old target can be shown.

    ``owner`` and a CNAME's ``value``/``found`` are absolute names without the trailing
    dot. ``value`` is ready to publish (a TXT value unsplit: formats that need 255-byte
    strings split it with ``txt_strings``). Values found in DNS are kept verbatim, whatever
    they contain (a TXT's text as its bytes decode; a name in presentation form, unusual
    bytes of its labels as \\DDD): every renderer escapes them for its format
    (``zone_quoted``, ``describe``). ``zone`` is the zone the owner belongs in, as far as
    it is known (the customer's domain unless a zone walk said otherwise). Fixes of one
    verdict that belong together (delete the wrong owner, create the right one) come in
    the order to apply.
    """

    action: Action
    owner: str
    rtype: str
    value: str | None
    zone: str
    ttl: int = FIX_TTL
    found: str | None = None  # replace: the record found, which value replaces
    kind: Literal["dns"] = "dns"

    @property
    def host(self) -> str:
        """The owner relative to its zone, as DNS providers' forms ask for it ("@" at the apex)."""
        if self.owner == self.zone:
            return "@"
        if self.owner.endswith("." + self.zone):
            return self.owner[: -len(self.zone) - 1]
        return self.owner + "."  # outside its zone: only an absolute name is right

    def describe(self) -> str:
        """The fix in one line of prose (values found in DNS escaped)."""
        shown = _shown_value(self.rtype, self.value)
        if self.action == "delete":
            what = f"{self.rtype} {self.owner}" + (f" ({shown})" if self.value is not None else "")
            return f"Delete {what}"
        arrow = " → " if self.rtype == "CNAME" else " "
        if self.action == "replace":
            was = f"{arrow}{_shown_value(self.rtype, self.found)}" if self.found is not None else ""
            return f"Replace {self.rtype} {self.owner}{was} with {shown} (TTL {self.ttl})"
        return f"Create {self.rtype} {self.owner}{arrow}{shown} (TTL {self.ttl})"


@dataclass(frozen=True)
class ExoFix:
    """A change made in Exchange Online, with the exact cmdlet to run."""

    cmdlet: str
    why: str
    kind: Literal["exchange"] = "exchange"

    def describe(self) -> str:
        """The fix in one line of prose."""
        return f"{self.why}: {self.cmdlet}" if self.why else self.cmdlet


@dataclass(frozen=True)
class SupportCase:
    """A key Microsoft should publish and does not: what a support case needs."""

    domain: str
    selector: str
    target: str
    problem: str
    kind: Literal["support"] = "support"

    def describe(self) -> str:
        """The fix in one line of prose."""
        return (
            f"Open a Microsoft support case for {self.domain}: DKIM {self.selector} → "
            f"{self.target}: {self.problem}"
        )


@dataclass(frozen=True)
class Advice:
    """A remedy no tool can apply for the user, said in one sentence."""

    text: str
    kind: Literal["advice"] = "advice"

    def describe(self) -> str:
        """The fix in one line of prose."""
        return self.text


Fix = RecordFix | ExoFix | SupportCase | Advice
_KINDS: dict[str, type[RecordFix] | type[ExoFix] | type[SupportCase] | type[Advice]] = {
    "dns": RecordFix,
    "exchange": ExoFix,
    "support": SupportCase,
    "advice": Advice,
}


def remediation(fixes: Sequence[Fix]) -> str | None:
    """The one-line remediation sentence of a verdict: its fixes, in order."""
    if not fixes:
        return None
    return "; ".join(dict.fromkeys(f.describe() for f in fixes))


def to_json(fix: Fix) -> dict[str, Any]:
    """One fix as results.json carries it: its fields, with ``kind`` saying which."""
    return {k: getattr(fix, k) for k in fix.__dataclass_fields__}


def from_json(data: Mapping[str, Any]) -> Fix:
    """The fix back from ``to_json`` (unknown keys ignored)."""
    cls = _KINDS[str(data["kind"])]
    fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
    return cls(**fields)


def fixes_from_json(items: Iterable[Mapping[str, Any]]) -> tuple[Fix, ...]:
    return tuple(from_json(i) for i in items)


def record_fixes(fixes: Iterable[Fix]) -> list[RecordFix]:
    """The DNS changes among ``fixes``, each once, in order."""
    return list(dict.fromkeys(f for f in fixes if isinstance(f, RecordFix)))


# --- rendering helpers that more than one format needs ---------------------------------------


def txt_strings(value: str) -> tuple[str, ...]:
    """A TXT value cut into character-strings of at most 255 bytes, never inside a UTF-8
    sequence (a key of 2048 bits does not fit one string)."""
    data = value.encode()
    out: list[str] = []
    start = 0
    while start < len(data) or not out:
        end = min(start + TXT_STRING_MAX, len(data))
        while end < len(data) and end > start and (data[end] & 0xC0) == 0x80:
            end -= 1  # do not cut a multi-byte character
        out.append(data[start:end].decode())
        start = end
        if start >= len(data):
            break
    return tuple(out)


def zone_quoted(text: str, *, octal: bool = False) -> str:
    """One character-string in RFC 1035 master-file syntax: quoted, with quotes and
    backslashes escaped and every byte outside printable ASCII as \\DDD (decimal, as RFC
    1035 says; ``octal`` for Route 53, which reads the three digits as octal)."""
    parts: list[str] = []
    for byte in text.encode():
        char = chr(byte)
        if char in '"\\':
            parts.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            parts.append(char)
        else:
            parts.append(f"\\{byte:03o}" if octal else f"\\{byte:03d}")
    return '"' + "".join(parts) + '"'


def zone_rdata(rtype: str, value: str) -> str:
    """A value as master-file RDATA: TXT quoted in 255-byte strings, a CNAME absolute."""
    if rtype == "TXT":
        return " ".join(zone_quoted(s) for s in txt_strings(value))
    if rtype == "CNAME":
        return value.rstrip(".") + "."
    return value


def zone_line(fix: RecordFix) -> str:
    """The record a create or replace publishes, as a master-file line (for a delete: the
    record it removes, when its value is known)."""
    if fix.value is None:
        raise ValueError(f"{fix.action} of {fix.rtype} {fix.owner} has no value to publish")
    return f"{fix.owner}. {fix.ttl} IN {fix.rtype} {zone_rdata(fix.rtype, fix.value)}"


def _shown_value(rtype: str, value: str | None) -> str:
    """A value in a one-line sentence: unprintable characters escaped (a value found in DNS
    is data, and a newline in it must not start a line of its own)."""
    if value is None:
        return "any value"
    if not value.isprintable():
        value = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
    if rtype == "TXT":
        return '"' + value.replace('"', '\\"') + '"'
    return value
