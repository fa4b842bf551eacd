"""SPF records (RFC 7208): syntax only, no DNS.

``parse_spf`` reads one ``v=spf1`` TXT string into terms and reports every problem that
makes ``check_host()`` return permerror before it would look anything up (§4.6: "If
there are any syntax errors anywhere in the record, check_host() returns immediately
with the result permerror"). Problems that only evaluation can see - the 10-lookup and
void-lookup limits, an include without a record, several records at one name - are for
the caller that walks the include tree. For that walk, ``SpfRecord.evaluated_mechanisms``
gives the terms check_host() can reach (up to the first ``all``), ``expand_domain_spec``
expands the macros that need no message (``%{d}``, ``%{o}``), and ``dns_name_problem`` says
whether a name can be asked at all.

Grammar (§4.6.1, §5, §6, §7.1), abridged::

    record     = "v=spf1" *( 1*SP ( directive / modifier ) ) *SP
    directive  = [ "+" / "-" / "?" / "~" ] mechanism
    modifier   = redirect / explanation / unknown-modifier   ; name "=" ...
    name       = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
    domain-spec = macro-string domain-end
    domain-end = ( "." toplabel [ "." ] ) / macro-expand
    macro-expand = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote

from dkimwatch.records.taglist import clip

__all__ = [
    "DNS_MECHANISMS",
    "MECHANISMS",
    "Mechanism",
    "Modifier",
    "SpfRecord",
    "dns_name_problem",
    "expand_domain_spec",
    "is_spf_record",
    "parse_spf",
]

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
# The mechanisms that cost a DNS query and count toward the lookup limit (§4.6.4,
# standards.SPF_LOOKUP_LIMIT).
DNS_MECHANISMS = ("include", "a", "mx", "ptr", "exists")

_ALL_MACRO_LETTERS = frozenset("slodiphcrtv")
# c, r and t are only for explanation text (§7.1), never in a domain-spec.
_DOMAIN_MACRO_LETTERS = frozenset("slodiphv")

_MODIFIER = re.compile(r"([^:/=]*)=(.*)", re.DOTALL)
_MODIFIER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
_DIRECTIVE = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9]*)(.*)", re.DOTALL)
_DUAL_CIDR = re.compile(
    r"(?::(?P<domain>.*?))?(?:/(?P<c4>[0-9]+))?(?://(?P<c6>[0-9]+))?", re.DOTALL
)
_MACRO_BODY = re.compile(r"([A-Za-z])([0-9]*)([rR]?)([.\-+,/_=]*)")
_TOPLABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
_IP4 = re.compile(rf"{_QNUM}\.{_QNUM}\.{_QNUM}\.{_QNUM}")
_IP6_CHARS = re.compile(r"[0-9A-Fa-f:.]+")
_CIDR = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True, slots=True)
class Mechanism:
    """A directive. ``qualifier`` is ``+`` when none is written; ``name`` is lowercased.

    ``domain_spec`` for include/a/mx/ptr/exists (None when a/mx/ptr use the current
    domain); ``ip`` for ip4/ip6 as written; ``cidr4``/``cidr6`` as written or None.
    ``text`` is the term as published.
    """

    qualifier: str
    name: str
    domain_spec: str | None = None
    ip: str | None = None
    cidr4: int | None = None
    cidr6: int | None = None
    text: str = ""

    @property
    def counts_lookup(self) -> bool:
        return self.name in DNS_MECHANISMS


@dataclass(frozen=True, slots=True)
class Modifier:
    """A ``name=value`` term; ``name`` is lowercased, ``value`` as written."""

    name: str
    value: str
    text: str = ""


Term = Mechanism | Modifier


@dataclass(frozen=True, slots=True)
class SpfRecord:
    """A parsed SPF record.

    ``errors`` are permerror-level syntax problems; ``warnings`` are legal but risky
    constructs. ``all_qualifier`` is the qualifier of the first ``all`` (the only one
    that can ever match), ``redirect``/``exp`` the modifier values. ``plus_all`` says
    that some ``all`` passes everything (``all`` or ``+all``).
    """

    raw: str
    terms: tuple[Term, ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    all_qualifier: str | None = None
    redirect: str | None = None
    exp: str | None = None
    plus_all: bool = False

    @property
    def mechanisms(self) -> tuple[Mechanism, ...]:
        return tuple(t for t in self.terms if isinstance(t, Mechanism))

    @property
    def modifiers(self) -> tuple[Modifier, ...]:
        return tuple(t for t in self.terms if isinstance(t, Modifier))

    @property
    def dns_mechanisms(self) -> tuple[Mechanism, ...]:
        """include, a, mx, ptr and exists: the mechanisms that cost a DNS lookup."""
        return tuple(m for m in self.mechanisms if m.name in DNS_MECHANISMS)

    @property
    def redirect_effective(self) -> bool:
        """redirect= is followed only when the record has no ``all`` (§6.1)."""
        return self.redirect is not None and self.all_qualifier is None

    @property
    def evaluated_mechanisms(self) -> tuple[Mechanism, ...]:
        """The mechanisms check_host() can reach: up to and including the first ``all``,
        which matches every client, so nothing after it is ever evaluated (§4.6.2)."""
        out: list[Mechanism] = []
        for mechanism in self.mechanisms:
            out.append(mechanism)
            if mechanism.name == "all":
                break
        return tuple(out)

    @property
    def lookup_terms(self) -> int:
        """DNS-querying terms of this record alone, as evaluation meets them: its DNS
        mechanisms up to the first ``all``, plus redirect= when it is followed. exp= does
        not count (§4.6.4). Includes are not expanded."""
        evaluated = sum(1 for m in self.evaluated_mechanisms if m.name in DNS_MECHANISMS)
        return evaluated + int(self.redirect_effective)


def is_spf_record(text: str) -> bool:
    """True when ``text`` is an SPF record: "v=spf1" (any case), then a space or the end.

    This is the record selection of RFC 7208 §4.5; "v=spf10" or " v=spf1" are not SPF.
    """
    return text[:6].lower() == "v=spf1" and (len(text) == 6 or text[6] == " ")


def _describe_char(ch: str) -> str:
    kind = "control" if ord(ch) < 0x20 or ord(ch) == 0x7F else "non-ASCII"
    return f"{kind} character U+{ord(ch):04X}"


def _check_macro_string(spec: str, letters: frozenset[str]) -> tuple[str, int]:
    """Validate a macro-string. Returns ("", end of its last macro-expand, 0 if none) or
    (reason, -1); the position tells what the string ends in."""
    last_macro_end = 0
    i = 0
    while i < len(spec):
        if spec[i] != "%":
            i += 1
            continue
        nxt = spec[i + 1 : i + 2]
        if nxt in ("%", "_", "-"):
            i += 2
            last_macro_end = i
            continue
        if nxt != "{":
            shown = spec[i : i + 2]
            return f'"{shown}": "%" must be followed by "{{", "%", "_" or "-"', -1
        end = spec.find("}", i + 2)
        if end < 0:
            return f'unterminated macro "{clip(spec[i:], 20)}"', -1
        body = spec[i + 2 : end]
        match = _MACRO_BODY.fullmatch(body)
        if match is None:
            return f'invalid macro "%{{{body}}}"', -1
        letter, digits = match.group(1).lower(), match.group(2)
        if letter not in letters:
            if letter in _ALL_MACRO_LETTERS:
                return f'macro "%{{{body}}}": "{letter}" is only allowed in explanation text', -1
            return f'macro "%{{{body}}}": "{letter}" is not a macro letter', -1
        if digits and int(digits) == 0:
            return f'macro "%{{{body}}}": the number of parts must be nonzero', -1
        i = end + 1
        last_macro_end = i
    return "", last_macro_end


def _check_domain_spec(spec: str) -> str:
    """The empty string when ``spec`` is a valid domain-spec, else the reason."""
    if not spec:
        return "empty domain-spec"
    reason, last_macro_end = _check_macro_string(spec, _DOMAIN_MACRO_LETTERS)
    if reason:
        return reason
    if last_macro_end == len(spec):
        return ""  # domain-end = macro-expand
    tail = spec[last_macro_end:]  # the literal text after the last macro
    if tail.endswith("."):
        tail = tail[:-1]
    if "." not in tail:
        return 'it must end in "." and a top-level label, or in a macro'
    top = tail.rsplit(".", 1)[1]
    if not top:
        return "empty top-level label"
    if not _TOPLABEL.fullmatch(top):
        return f'invalid top-level label "{top}"'
    if top.isdigit():
        return f'top-level label "{top}" is all digits'
    return ""


def dns_name_problem(name: str) -> str:
    """Why ``name`` cannot be asked in DNS, or the empty string when it can.

    SPF syntax allows names DNS does not (an empty label, a label over 63 octets, more
    than 253 octets): such a name is never found, and a resolver library refuses to
    even build the question, so callers test with this before they ask.
    """
    bare = name[:-1] if name.endswith(".") else name
    if not bare:
        return "is empty"
    labels = bare.split(".")
    if any(not label for label in labels):
        return "has an empty label"
    if any(len(label.encode("utf-8", "surrogatepass")) > 63 for label in labels):
        return "has a label longer than 63 octets"
    if len(bare.encode("utf-8", "surrogatepass")) > 253:
        return "is longer than 253 octets"
    return ""


def _dns_name_warning(spec: str) -> str:
    """Syntax allows labels DNS does not; such a name never matches."""
    if "%" in spec:
        return ""
    problem = dns_name_problem(spec)
    if problem == "has an empty label":
        return f'"{spec}" has an empty label and can never be found in DNS'
    if problem:
        return f'"{spec}" is longer than DNS allows and can never be found'
    return ""


# Macro letters whose value a static check knows without a message: d (the domain whose
# record is being evaluated) and o (the sender's domain, i.e. the audited domain).
_STATIC_MACRO_LETTERS = frozenset("do")
_MACRO_DELIMITERS = ".-+,/_="


def _macro_value(value: str, digits: str, reverse: str, delimiters: str, upper: bool) -> str:
    """Apply RFC 7208 §7.3 transformers: split on the delimiters (default "."), reverse
    on "r", keep the rightmost ``digits`` parts, join with "."; URL-escape for an
    upper-case macro letter."""
    parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
    if reverse:
        parts.reverse()
    if digits:
        parts = parts[-int(digits) :]
    out = ".".join(parts)
    return quote(out, safe="-._~") if upper else out


def _truncate_domain(name: str) -> str:
    """§7.3: an expanded name over 253 characters loses labels from the left until it fits."""
    while len(name) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name


def expand_domain_spec(spec: str, domain: str, sender_domain: str) -> str | None:
    """Expand the macros of a domain-spec that do not depend on the message (§7).

    ``domain`` is the current domain (``%{d}``), ``sender_domain`` the sender's (``%{o}``);
    ``%%``, ``%_`` and ``%-`` become "%", " " and "%20". Returns None when the spec needs
    anything only a real message supplies (sender local-part, client IP, HELO name, ...)
    or is not a valid macro-string. Never raises.
    """
    out: list[str] = []
    i = 0
    while i < len(spec):
        ch = spec[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        nxt = spec[i + 1 : i + 2]
        if nxt in ("%", "_", "-"):
            out.append({"%": "%", "_": " ", "-": "%20"}[nxt])
            i += 2
            continue
        end = spec.find("}", i + 2)
        if nxt != "{" or end < 0:
            return None
        match = _MACRO_BODY.fullmatch(spec[i + 2 : end])
        if match is None:
            return None
        letter, digits, reverse, delimiters = match.groups()
        if letter.lower() not in _STATIC_MACRO_LETTERS or (digits and int(digits) == 0):
            return None
        value = domain if letter.lower() == "d" else sender_domain
        out.append(_macro_value(value, digits, reverse, delimiters, letter.isupper()))
        i = end + 1
    return _truncate_domain("".join(out))


def _parse_cidr(digits: str, limit: int, what: str, term: str, errors: list[str]) -> int | None:
    if not _CIDR.fullmatch(digits):
        errors.append(f'invalid {what} CIDR length "/{digits}" in "{term}"')
        return None
    value = int(digits)
    if value > limit:
        errors.append(f'{what} CIDR length /{value} is out of range 0..{limit} in "{term}"')
        return None
    return value


class _Parser:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def domain(self, spec: str, term: str) -> None:
        reason = _check_domain_spec(spec)
        if reason:
            hint = ""
            if _IP4.fullmatch(spec):
                hint = f" (an IP address is not a domain: use ip4:{spec})"
            elif re.search(r"/[0-9]+$", spec):
                hint = " (this mechanism takes no CIDR length)"
            self.errors.append(f'invalid domain-spec "{spec}" in "{term}": {reason}{hint}')
            return
        warning = _dns_name_warning(spec)
        if warning:
            self.warnings.append(warning)

    def modifier(self, name: str, value: str, term: str) -> Modifier | None:
        if not _MODIFIER_NAME.fullmatch(name):
            self.errors.append(
                f'invalid modifier name "{name}" in "{term}" '
                "(a letter, then letters, digits, -, _ or .)"
            )
            return None
        lname = name.lower()
        if lname in ("redirect", "exp"):
            if not value:
                self.errors.append(f'"{term}" needs a domain after "="')
            else:
                self.domain(value, term)
        else:
            reason, _ = _check_macro_string(value, _ALL_MACRO_LETTERS)
            if reason:
                self.errors.append(f'invalid macro-string in modifier "{term}": {reason}')
            else:
                self.warnings.append(f'unknown modifier "{clip(term)}" is ignored by receivers')
        return Modifier(lname, value, term)

    def directive(self, term: str) -> Mechanism | None:
        match = _DIRECTIVE.fullmatch(term)
        if match is None:
            self.errors.append(f'unknown term "{term}"')
            return None
        qualifier, raw_name, rest = match.groups()
        name = raw_name.lower()
        qualifier = qualifier or "+"
        if name not in MECHANISMS:
            hint = ""
            if name in ("redirect", "exp"):
                hint = f' ({name} is a modifier: write "{name}=…")'
            self.errors.append(f'unknown mechanism "{raw_name}" in "{term}"{hint}')
            return None
        if name == "all":
            if rest:
                self.errors.append(f'"all" takes no argument: "{term}"')
                return None
            return Mechanism(qualifier, name, text=term)
        if name in ("include", "exists"):
            if not rest.startswith(":") or rest == ":":
                self.errors.append(f'"{name}" needs a domain: "{term}"')
                return None
            self.domain(rest[1:], term)
            return Mechanism(qualifier, name, domain_spec=rest[1:], text=term)
        if name == "ptr":
            if rest and not rest.startswith(":"):
                self.errors.append(f'"ptr" takes only ":domain", not "{rest}": "{term}"')
                return None
            spec = rest[1:] if rest else None
            if spec is not None:
                if not spec:
                    self.errors.append(f'empty domain after "ptr:" in "{term}"')
                    return None
                self.domain(spec, term)
            return Mechanism(qualifier, name, domain_spec=spec, text=term)
        if name in ("a", "mx"):
            return self._dual_cidr(qualifier, name, rest, term)
        return self._ip(qualifier, name, rest, term)

    def _dual_cidr(self, qualifier: str, name: str, rest: str, term: str) -> Mechanism | None:
        match = _DUAL_CIDR.fullmatch(rest)
        if match is None:
            self.errors.append(f'invalid argument "{rest}" for "{name}" in "{term}"')
            return None
        spec = match.group("domain")
        if spec is not None:
            if not spec:
                self.errors.append(f'empty domain after "{name}:" in "{term}"')
                return None
            self.domain(spec, term)
        c4 = c6 = None
        if match.group("c4") is not None:
            c4 = _parse_cidr(match.group("c4"), 32, "ip4", term, self.errors)
            if c4 is None:
                return None
        if match.group("c6") is not None:
            c6 = _parse_cidr(match.group("c6"), 128, "ip6", term, self.errors)
            if c6 is None:
                return None
        return Mechanism(qualifier, name, domain_spec=spec, cidr4=c4, cidr6=c6, text=term)

    def _ip(self, qualifier: str, name: str, rest: str, term: str) -> Mechanism | None:
        if not rest.startswith(":") or rest == ":":
            self.errors.append(f'"{name}" needs an address: "{term}"')
            return None
        address, slash, digits = rest[1:].partition("/")
        if name == "ip4":
            if not _IP4.fullmatch(address):
                self.errors.append(f'invalid IPv4 address "{address}" in "{term}"')
                return None
        else:
            valid = bool(_IP6_CHARS.fullmatch(address))
            if valid:
                try:
                    ipaddress.IPv6Address(address)
                except ValueError:
                    valid = False
            if not valid:
                self.errors.append(f'invalid IPv6 address "{address}" in "{term}"')
                return None
        cidr = None
        if slash:
            cidr = _parse_cidr(digits, 32 if name == "ip4" else 128, name, term, self.errors)
            if cidr is None:
                return None
            if cidr == 0 and qualifier == "+":
                family = "IPv4" if name == "ip4" else "IPv6"
                self.warnings.append(f'"{term}" authorises every {family} address')
        if name == "ip4":
            return Mechanism(qualifier, name, ip=address, cidr4=cidr, text=term)
        return Mechanism(qualifier, name, ip=address, cidr6=cidr, text=term)


def parse_spf(text: str) -> SpfRecord:
    """Parse one SPF record. Never raises; anything malformed becomes an error line.

    Terms are separated by one or more spaces (§4.6.1); any other whitespace or control
    character, and any non-ASCII character, is an error.
    """
    if not is_spf_record(text):
        return SpfRecord(
            raw=text,
            errors=(f'not an SPF record: "{clip(text, 40)}" does not start with "v=spf1 "',),
        )
    parser = _Parser()
    terms = _terms(parser, text[6:])
    errors, warnings = parser.errors, parser.warnings

    mechanisms = [t for t in terms if isinstance(t, Mechanism)]
    modifiers = [t for t in terms if isinstance(t, Modifier)]
    for name in ("redirect", "exp"):
        if sum(1 for m in modifiers if m.name == name) > 1:
            errors.append(f'"{name}=" appears more than once (RFC 7208 §6)')
    redirect = next((m.value for m in modifiers if m.name == "redirect"), None)
    exp = next((m.value for m in modifiers if m.name == "exp"), None)

    alls = [m for m in mechanisms if m.name == "all"]
    all_qualifier = alls[0].qualifier if alls else None
    plus_all = any(m.qualifier == "+" for m in alls)
    warnings.extend(_all_warnings(mechanisms, redirect))
    if any(m.name == "ptr" for m in mechanisms):
        warnings.append('"ptr" is slow and unreliable; RFC 7208 §5.5 says do not use it')

    return SpfRecord(
        raw=text,
        terms=tuple(terms),
        errors=tuple(errors),
        warnings=tuple(dict.fromkeys(warnings)),
        all_qualifier=all_qualifier,
        redirect=redirect,
        exp=exp,
        plus_all=plus_all,
    )


def _terms(parser: _Parser, rest: str) -> list[Term]:
    """The terms after "v=spf1 ", in order; a malformed one is an error in ``parser`` and
    left out."""
    terms: list[Term] = []
    for chunk in rest.split(" "):
        if not chunk:
            continue
        bad = next((ch for ch in chunk if not ("\x21" <= ch <= "\x7e")), None)
        if bad is not None:
            parser.errors.append(f'term "{clip(chunk)}" contains a {_describe_char(bad)}')
            continue
        modifier = _MODIFIER.fullmatch(chunk)
        term: Term | None
        if modifier is not None:
            term = parser.modifier(modifier.group(1), modifier.group(2), chunk)
        else:
            term = parser.directive(chunk)
        if term is not None:
            terms.append(term)
    return terms


def _all_warnings(mechanisms: list[Mechanism], redirect: str | None) -> list[str]:
    """What the record's "all" (or its absence) leaves open: +all, ?all, mechanisms after
    all, a redirect= that all makes dead, no all and no redirect=."""
    warnings: list[str] = []
    first_all = next((i for i, m in enumerate(mechanisms) if m.name == "all"), None)
    alls = [m for m in mechanisms if m.name == "all"]
    plus = next((m.text for m in alls if m.qualifier == "+"), None)
    if plus is not None:
        warnings.append(f'"{plus}" authorises every host on the internet to send as this domain')
    if alls and alls[0].qualifier == "?":
        warnings.append('"?all" gives neutral for unlisted hosts; use -all or ~all to protect')
    if first_all is not None:
        after = mechanisms[first_all + 1 :]
        if after:
            shown = " ".join(m.text for m in after)
            warnings.append(f'mechanisms after "{alls[0].text}" are never evaluated: "{shown}"')
        if redirect is not None:
            warnings.append(f'"redirect={redirect}" is ignored because the record has "all"')
    elif redirect is None:
        warnings.append('no "all" and no "redirect=": unlisted hosts get neutral, not fail')
    return warnings
