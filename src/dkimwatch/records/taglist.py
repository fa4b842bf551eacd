"""RFC 6376 §3.2 tag=value lists, the syntax shared by DKIM key records and DMARC records.

::

    tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
    tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
    tag-name  =  ALPHA *ALNUMPUNC              ; ALNUMPUNC = ALPHA / DIGIT / "_"
    tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
    tval      =  1*VALCHAR                     ; VALCHAR = %x21-3A / %x3C-7E

The parser never raises: anything that does not fit the grammar becomes a line in
``errors`` and the rest of the list is still read, so callers can report every problem
at once. Tag names are kept as written (DKIM tags are case-sensitive); callers that want
case-insensitive names (DMARC) fold them themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TagList", "clip", "parse_tag_list"]

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# FWS in DNS text: spaces and tabs; CR/LF survive only from zone files that folded the
# record, so they count as folding whitespace too.
_FWS = " \t\r\n"


@dataclass(frozen=True, slots=True)
class TagList:
    """A parsed tag-list: ``tags`` in order as written, ``errors`` one line each."""

    tags: tuple[tuple[str, str], ...] = ()
    errors: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        """The value of the first tag called exactly ``name``, or None."""
        for tag, value in self.tags:
            if tag == name:
                return value
        return None

    def names(self) -> tuple[str, ...]:
        return tuple(tag for tag, _ in self.tags)

    def __contains__(self, name: object) -> bool:
        return any(tag == name for tag, _ in self.tags)


def clip(text: str, limit: int = 60) -> str:
    """Offending text made safe to quote in a one-line message: control and other
    unprintable characters escaped (a CR in a record must not break the report line),
    then shortened to ``limit`` characters."""
    if not all(ch.isprintable() for ch in text):
        text = "".join(ch if ch.isprintable() else _escape(ch) for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(ch: str) -> str:
    named = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}
    if ch in named:
        return named[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def _bad_value_char(value: str) -> str | None:
    for ch in value:
        if ch in _FWS:
            continue
        if not ("\x21" <= ch <= "\x7e"):  # ";" cannot occur: we split on it
            return ch
    return None


def parse_tag_list(text: str) -> TagList:
    """Parse ``text`` as a tag-list. Never raises.

    Values are stripped of surrounding FWS; inner whitespace is kept as written (a
    base64 ``p=`` may be folded). Errors: a tag-spec without ``=``, an invalid tag name,
    a character outside VALCHAR, an empty tag-spec other than after the final ``;``,
    and duplicate tag names (RFC 6376 §3.2 makes the whole list invalid then; the first
    occurrence is kept in ``tags``).
    """
    tags: list[tuple[str, str]] = []
    errors: list[str] = []
    seen: set[str] = set()
    if not text.strip(_FWS):
        return TagList((), ("empty tag-list",))
    specs = text.split(";")
    for index, spec in enumerate(specs):
        if not spec.strip(_FWS):
            # "a=1;" is allowed; so is "a=1; " (whitespace after the final ";"), which
            # real records carry and verifiers accept.
            if index == len(specs) - 1 and index > 0:
                continue
            errors.append(f'empty tag-spec at position {index + 1} ("{clip(text)}")')
            continue
        if "=" not in spec:
            errors.append(f'tag-spec "{clip(spec.strip(_FWS))}" has no "="')
            continue
        raw_name, _, raw_value = spec.partition("=")
        name = raw_name.strip(_FWS)
        value = raw_value.strip(_FWS)
        if not _TAG_NAME.fullmatch(name):
            shown = clip(name) if name else ""
            errors.append(
                f'invalid tag name "{shown}" in "{clip(spec.strip(_FWS))}" '
                "(a letter, then letters, digits or _)"
            )
            continue
        bad = _bad_value_char(value)
        if bad is not None:
            errors.append(f'tag "{name}" has an invalid character U+{ord(bad):04X} in its value')
        if name in seen:
            errors.append(f'duplicate tag "{name}"')
            continue
        seen.add(name)
        tags.append((name, value))
    return TagList(tuple(tags), tuple(errors))
