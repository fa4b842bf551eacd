"""What every fix format shares: the context of a fix, grouping, names and comments.

A format is a pure function from a sequence of (context, fix) to text files (relative
path → text). Values found in DNS are data: each format quotes them in its own syntax, and
every comment is one line with control characters escaped, so a newline in a value can
never start a command, a record or a resource of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass

from dkimwatch.fixes import Advice, ExoFix, Fix, RecordFix, SupportCase, zone_rdata

COMMENT_LIMIT = 400  # characters of a finding kept in a comment


@dataclass(frozen=True)
class FixContext:
    """Where a fix comes from: the domain, check and selector of the finding, and what a
    support case needs besides the fix (the verdict's evidence, since when it fails)."""

    domain: str
    check: str
    selector: str | None = None
    finding: str = ""
    since: str | None = None
    evidence: tuple[str, ...] = ()

    def heading(self) -> str:
        """One line naming the domain, check, selector and finding."""
        where = f"{self.domain} {self.check}" + (f" {self.selector}" if self.selector else "")
        return one_line(f"{where}: {self.finding}" if self.finding else where)


FixItem = tuple[FixContext, Fix]
Files = dict[str, str]
Renderer = Callable[[Sequence[FixItem]], Files]


@dataclass(frozen=True)
class Format:
    name: str
    title: str  # what it is, for --help and the report
    render: Renderer


def one_line(text: str, limit: int = COMMENT_LIMIT) -> str:
    """Text for a comment: control characters shown as escapes, cut at ``limit``."""
    out = []
    for char in text:
        if char.isprintable() or char == " ":
            out.append(char)
        else:
            out.append(repr(char)[1:-1] if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    shown = "".join(out)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def groups(items: Iterable[FixItem]) -> list[tuple[FixContext, list[Fix]]]:
    """Consecutive fixes of one finding, together, in order."""
    out: list[tuple[FixContext, list[Fix]]] = []
    for ctx, fix in items:
        if out and out[-1][0] == ctx:
            out[-1][1].append(fix)
        else:
            out.append((ctx, [fix]))
    return out


def by_zone(items: Iterable[FixItem]) -> dict[str, list[tuple[FixContext, list[RecordFix]]]]:
    """The DNS fixes per zone (in order of first appearance), grouped by finding."""
    zones: dict[str, list[FixItem]] = {}
    for ctx, fix in items:
        if isinstance(fix, RecordFix):
            zones.setdefault(fix.zone, []).append((ctx, fix))
    return {
        zone: [(ctx, [f for f in fixes if isinstance(f, RecordFix)]) for ctx, fixes in groups(its)]
        for zone, its in zones.items()
    }


def not_dns(items: Iterable[FixItem]) -> list[tuple[FixContext, Fix]]:
    return [(ctx, f) for ctx, f in items if isinstance(f, ExoFix | SupportCase | Advice)]


def other_fixes_note(items: Sequence[FixItem], prefix: str) -> list[str]:
    """Comment lines naming the fixes a DNS format cannot apply (Exchange Online changes,
    support cases, advice), so that a file of DNS changes never reads as the whole remedy."""
    lines = []
    for ctx, fix in not_dns(items):
        what = {"exchange": "in Exchange Online", "support": "support case", "advice": "advice"}
        lines.append(f"{prefix} {what[fix.kind]}: {ctx.heading()}")
        lines.append(f"{prefix}   {one_line(fix.describe())}")
    return lines


def command_script(
    items: Sequence[FixItem],
    file: str,
    header: str,
    commands: Callable[[RecordFix], list[str]],
) -> Files:
    """One script of shell commands (a ``#`` comment language: bash, PowerShell): the header,
    then per zone and finding the commands of each DNS fix, then a note of the fixes that are
    not DNS changes. Nothing to change in DNS: no file."""
    zones = by_zone(items)
    if not zones:
        return {}
    lines = [header]
    for zone, findings in zones.items():
        lines.append(f"# zone {one_line(zone)}")
        lines.extend(findings_lines(findings, commands, "#"))
        lines.append("")
    return {file: script_end(lines, items, "#")}


def findings_lines(
    findings: Iterable[tuple[FixContext, list[RecordFix]]],
    commands: Callable[[RecordFix], list[str]],
    comment: str,
) -> list[str]:
    """Per finding of one zone: a comment naming it, then the lines of each of its DNS
    fixes (a fix whose name cannot be written: a comment saying so)."""
    lines = []
    for ctx, fixes in findings:
        lines.append(f"{comment} {ctx.heading()}")
        for fix in fixes:
            try:
                lines.extend(commands(fix))
            except UnrenderableName as exc:
                lines.append(f"{comment} not rendered: {exc}")
    return lines


def script_end(lines: list[str], items: Sequence[FixItem], comment: str) -> str:
    """The script's text: its lines, then a note of the fixes that are not DNS changes."""
    others = other_fixes_note(items, comment)
    if others:
        lines.append(f"{comment} Not DNS changes (see exchange-online.ps1 and support-cases.txt):")
        lines.extend(others)
    return "\n".join(lines).rstrip("\n") + "\n"


class UnrenderableName(ValueError):
    """A name that is no DNS name (empty label, label over 63 octets, …)."""


def absolute_name(name: str) -> str:
    """A DNS name in master-file syntax with its final dot; every character that means
    something there (quote, semicolon, space, backslash, @, $, parentheses, control bytes)
    escaped. Raises UnrenderableName."""
    try:
        parsed = dns.name.from_text(name.rstrip(".") + ".")
    except dns.exception.DNSException as exc:
        raise UnrenderableName(f"{one_line(name, 120)} is not a DNS name: {exc}") from None
    return parsed.to_text()


_SAFE_FILE = re.compile(r"[^a-z0-9._-]")


def file_stem(zone: str) -> str:
    """A zone name as a file name: only a-z, 0-9, '.', '_' and '-' (anything else, such
    as '/' in a label found in DNS, becomes '_'; never '..' or a leading dot)."""
    stem = _SAFE_FILE.sub("_", zone.lower().rstrip(".")) or "_"
    stem = stem.replace("..", "__")
    return "_" + stem if stem.startswith(".") else stem


def master_rdata(rtype: str, value: str) -> str:
    """A record's data in master-file syntax: CNAME targets absolute and escaped, TXT
    quoted in 255-byte strings, any other type parsed and written back by dnspython (a
    value that does not parse is refused, never passed through). Raises UnrenderableName."""
    if rtype == "CNAME":
        return absolute_name(value)
    if rtype == "TXT":
        return zone_rdata(rtype, value)
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, rtype, value, origin=dns.name.root)
    except (dns.exception.DNSException, ValueError) as exc:
        raise UnrenderableName(
            f"{one_line(value, 120)} is not {rtype} data: {type(exc).__name__}"
        ) from None
    return str(rdata.to_text())


_RTYPE = re.compile(r"[A-Z][A-Z0-9]{0,9}")


def record_type(rtype: str) -> str:
    """A record type as written in every format (upper case mnemonic). Raises UnrenderableName."""
    if not _RTYPE.fullmatch(rtype):
        raise UnrenderableName(f"{one_line(rtype, 40)} is not a record type")
    return rtype


def bash_quoted(text: str) -> str:
    """One bash word that is exactly ``text``: single quotes, where nothing expands
    ($(…), ${…}, backquotes), or $'…' with escapes when it holds a control character, so
    that a command stays on one line. A NUL cannot be in a command's argument at all:
    UnrenderableName."""
    if "\x00" in text:
        raise UnrenderableName(f"{one_line(text, 120)} holds a NUL, which no command can pass")
    if all(c.isprintable() or c == " " for c in text):
        return "'" + text.replace("'", "'\\''") + "'"
    out = []
    for char in text:
        if char in "\\'":
            out.append("\\" + char)
        elif char.isprintable() or char == " ":
            out.append(char)
        else:
            out.append("".join(f"\\x{b:02x}" for b in char.encode()))
    return "$'" + "".join(out) + "'"


# PowerShell reads these four as single quotes too (about_Quoting_Rules).
_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def powershell_quoted(text: str) -> str:
    """One PowerShell argument that is exactly ``text``: a single-quoted string (nothing
    expands; each quote character doubled), joined with [char] codes for control
    characters, so that a command stays on one line."""
    parts: list[str] = []
    literal: list[str] = []

    def flush() -> None:
        parts.append("'" + "".join(literal) + "'")
        literal.clear()

    for char in text:
        if char in _PS_SINGLE_QUOTES:
            literal.append(char + char)
        elif char.isprintable() or char == " ":
            literal.append(char)
        else:
            flush()
            parts.append(f"[char]{ord(char)}")
    if not parts:
        return "'" + "".join(literal) + "'"
    flush()
    return "(" + " + ".join(parts) + ")"


def replaced(fix: RecordFix) -> str | None:
    """For a replace, the one record it replaces as found in DNS (None: the whole set of
    its type at the owner)."""
    return fix.found if fix.action == "replace" else None
