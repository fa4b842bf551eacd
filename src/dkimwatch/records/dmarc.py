"""DMARC policy records (RFC 7489, and RFC 9989 which obsoletes it).

Choices where the RFCs leave room, made to match what receivers do:

* Version. ``v=DMARC1`` must be the first tag. The ABNF writes the value as
  ``%x44 %x4d %x41 %x52 %x43 %x31``, i.e. case-sensitive (RFC 7489 §6.4; RFC 9989 keeps
  it), so ``v=dmarc1`` is not a DMARC record: receivers discard it (§6.6.3 step 3).
  The tag name ``v`` is an ABNF literal and so case-insensitive, and whitespace may
  surround ``=`` (``*WSP "=" *WSP``).
* Tag names and keyword values (``p=Reject``) are matched case-insensitively, as the
  ABNF literals are; duplicate tags are an error (RFC 6376 §3.2 tag-list rules). But
  RFC 7489 §6.3 takes its tag-list from DKIM, whose tag names are case-sensitive
  (RFC 6376 §3.2), and receivers that read them so do not see ``V=`` (so not the
  record) or ``P=``: a tag name with upper-case letters is a warning that gives the
  record with lower-case names.
* RFC 9989 removed ``pct``, ``rf`` and ``ri``; they are still validated (RFC 7489
  receivers honour them), ``pct`` below 100 is a warning and their mere presence a
  note. ``np``, ``t`` and ``psd`` (RFC 9989) are understood.
* Report URIs may be any valid URI (RFC 7489 §6.3, RFC 9989 §4.7); a ``mailto:`` one
  must hold a valid address. Receivers only have to support ``mailto:`` (RFC 9990,
  RFC 9991), so another scheme is a warning, not an error: the record still applies.
  Malformed URIs are errors and are left out of ``rua``/``ruf``. The RFC 7489 ``!size``
  suffix is accepted with a warning (RFC 9989 removed it).
* A missing or invalid ``p=`` (or an invalid ``sp=``/``np=``) is always an error: the
  record is not what its owner meant. What receivers then do is in ``p_inferred``
  (RFC 7489 §6.6.3 step 6): with at least one valid ``rua`` URI they act as if
  ``p=none`` was published (``p_inferred`` True, ``effective_policy`` "none");
  without one they ignore the record (``effective_policy`` None). ``p`` itself stays
  what was published when valid, else None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from dkimwatch.names import normalise
from dkimwatch.records.taglist import TagList, clip, parse_tag_list
from dkimwatch.standards import POLICIES

__all__ = [
    "POLICIES",
    "DmarcRecord",
    "ReportUri",
    "is_dmarc_record",
    "lower_policy",
    "parse_dmarc",
    "policy_rank",
    "tree_walk_names",
    "tree_walk_organisational_domain",
]

_POLICY_WORDS = "none, quarantine or reject"
_KNOWN_TAGS = (
    "v",
    "p",
    "sp",
    "np",
    "adkim",
    "aspf",
    "pct",
    "fo",
    "rf",
    "ri",
    "rua",
    "ruf",
    "t",
    "psd",
)
_VERSION = re.compile(r"[ \t\r\n]*[vV][ \t]*=[ \t]*DMARC1[ \t\r\n]*(?:;|$)")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.*)", re.DOTALL)
_SIZE = re.compile(r"([0-9]+)([kmgtKMGT]?)")
# RFC 3986 characters after "scheme:", with "," and "!" excluded (a DMARC URI list must
# percent-encode them) and "%" only as a %XX escape.
_URI_REST = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@$&'()*+;=]|%[0-9A-Fa-f]{2})+")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?")
_KEYWORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?")
_UINT32_MAX = 2**32 - 1
_UINT64_MAX = 2**64 - 1


@dataclass(frozen=True, slots=True)
class ReportUri:
    """One ``rua``/``ruf`` destination.

    ``uri`` is the URI as written without its ``!size`` suffix; ``address`` the
    percent-decoded mailbox and ``domain`` its lowercased domain; ``size_limit`` the
    suffix after ``!`` as written (e.g. "10m"), or None.
    """

    uri: str
    scheme: str
    address: str | None = None
    domain: str | None = None
    size_limit: str | None = None


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    """A parsed DMARC record. Tag values are as published (keywords lowercased), None
    when absent or invalid. ``effective_policy`` is what receivers apply to the domain
    itself: ``p``, "none" when ``p_inferred``, None when they ignore the record."""

    raw: str
    version: str | None = None
    p: str | None = None
    sp: str | None = None
    np: str | None = None
    adkim: str | None = None
    aspf: str | None = None
    pct: int | None = None
    fo: str | None = None
    rf: str | None = None
    ri: int | None = None
    t: str | None = None
    psd: str | None = None
    rua: tuple[ReportUri, ...] = ()
    ruf: tuple[ReportUri, ...] = ()
    unknown_tags: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    p_inferred: bool = False
    effective_policy: str | None = None

    @property
    def subdomain_policy(self) -> str | None:
        """What receivers apply to subdomains: sp, defaulting to p (RFC 7489 §6.3)."""
        if self.effective_policy is None or self.p_inferred:
            return self.effective_policy
        return self.sp or self.effective_policy

    @property
    def nonexistent_policy(self) -> str | None:
        """What receivers apply to non-existent subdomains: np, then sp, then p (RFC 9989)."""
        if self.effective_policy is None or self.p_inferred:
            return self.effective_policy
        return self.np or self.subdomain_policy

    @property
    def testing(self) -> bool:
        return self.t == "y"


def is_dmarc_record(text: str) -> bool:
    """True when the first tag of ``text`` is ``v=DMARC1`` (see the module docstring for
    case and whitespace). Records that fail this are discarded by receivers."""
    return _VERSION.match(text) is not None


def policy_rank(p: str) -> int:
    """none=0, quarantine=1, reject=2 (case-insensitive); -1 for anything else."""
    try:
        return POLICIES.index(p.strip().lower())
    except ValueError:
        return -1


def lower_policy(p: str) -> str:
    """The next weaker policy (reject → quarantine → none): what RFC 7489 receivers apply
    to mail left out by ``pct``, and RFC 9989 receivers to all failing mail under t=y."""
    rank = policy_rank(p)
    return POLICIES[max(rank - 1, 0)] if rank >= 0 else p


_TREE_WALK_MAX_QUERIES = 8  # RFC 9989 §4.10: Author Domains of any length cost at most 8


def tree_walk_names(domain: str) -> tuple[str, ...]:
    """The names whose ``_dmarc`` record the RFC 9989 DNS Tree Walk asks, in order,
    after the Author Domain itself had none (§4.10, §4.10.1).

    From a name of x labels the walk jumps to 7 labels when x >= 8, else to the parent,
    then drops one label at a time down to the top-level domain: eight queries at most,
    the Author Domain's own included.
    """
    labels = [label for label in normalise(domain).split(".") if label]
    count = len(labels)
    first = _TREE_WALK_MAX_QUERIES - 1 if count >= _TREE_WALK_MAX_QUERIES else count - 1
    return tuple(".".join(labels[-n:]) for n in range(first, 0, -1))


def tree_walk_organisational_domain(
    author: str, found: Sequence[tuple[str, DmarcRecord]]
) -> str | None:
    """The Organizational Domain by RFC 9989 §4.10.2 from the valid records a tree walk
    found (``(domain, record)``, longest name first, starting with the Author Domain's
    own if it has one): the first with psd=n; one label below the first with psd=y
    (unless that is the Author Domain itself); else the one with the fewest labels.
    None when the walk found no record."""
    author_labels = normalise(author).split(".")
    for name, record in found:
        if record.psd == "n":
            return name
        if record.psd == "y" and name != author:
            below = len(name.split(".")) + 1
            return ".".join(author_labels[-below:])
    if not found:
        return None
    return min(found, key=lambda item: len(item[0].split(".")))[0]


def _keyword(
    name: str, value: str, allowed: tuple[str, ...], errors: list[str], what: str
) -> str | None:
    lowered = value.lower()
    if lowered in allowed:
        return lowered
    errors.append(f'{name}="{clip(value)}" is not {what}')
    return None


def _valid_domain(domain: str) -> bool:
    labels = domain.split(".")
    return (
        len(domain) <= 253
        and len(labels) >= 2
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _parse_uri(tag: str, item: str, errors: list[str], warnings: list[str]) -> ReportUri | None:
    uri, bang, size = item.partition("!")  # "!" inside a URI must be percent-encoded
    size_limit: str | None = None
    if bang:
        match = _SIZE.fullmatch(size)
        if match is None or int(match.group(1)) > _UINT64_MAX:
            errors.append(
                f'{tag}= "{clip(item)}": size limit "!{clip(size)}" must be digits '
                "with an optional k, m, g or t"
            )
            return None
        size_limit = size
        # RFC 9989 (Appendix C.4) dropped the size limit and requires "!" percent-encoded:
        # its receivers may read "!10m" as part of the address and send nothing.
        warnings.append(
            f'{tag}= "{clip(item)}": the "!{clip(size)}" size limit is RFC 7489 syntax that '
            "RFC 9989 removed; drop it so every receiver can use the address"
        )
    scheme_match = _SCHEME.fullmatch(uri)
    if scheme_match is None:
        errors.append(f'{tag}= "{clip(item)}" is not a URI (expected mailto:address)')
        return None
    scheme, rest = scheme_match.group(1).lower(), scheme_match.group(2)
    if not rest or not _URI_REST.fullmatch(rest):
        errors.append(f'{tag}= "{clip(item)}" is not a valid URI (RFC 3986)')
        return None
    if scheme != "mailto":
        # Any URI is valid (RFC 7489 §6.3, RFC 9989 §4.7), but receivers only must support
        # mailto: and ignore the rest, so the record stands and the reports go nowhere.
        warnings.append(
            f'{tag}= "{clip(item)}": receivers only have to support mailto: URIs and '
            f"ignore {scheme}: ones, so reports are unlikely to arrive"
        )
        return ReportUri(uri, scheme, None, None, size_limit)
    address = unquote(rest.partition("?")[0])
    local, at, domain = address.rpartition("@")
    if not (at and _LOCAL_PART.fullmatch(local) and _valid_domain(domain)):
        errors.append(f'{tag}= "{clip(item)}": "{clip(address)}" is not a valid mail address')
        return None
    return ReportUri(uri, scheme, address, domain.lower(), size_limit)


def _parse_uris(
    tag: str, value: str, errors: list[str], warnings: list[str]
) -> tuple[ReportUri, ...]:
    if not value:
        errors.append(f"{tag}= is empty")
        return ()
    uris: list[ReportUri] = []
    for part in value.split(","):
        item = part.strip(" \t\r\n")
        if not item:
            errors.append(f'{tag}= "{clip(value)}" has an empty entry')
            continue
        uri = _parse_uri(tag, item, errors, warnings)
        if uri is not None:
            uris.append(uri)
    return tuple(uris)


def _lower_tag_names(text: str) -> str:
    """``text`` with every tag name in lower case, all else as written."""
    specs = []
    for spec in text.split(";"):
        name, eq, rest = spec.partition("=")
        specs.append(name.lower() + eq + rest if eq else spec)
    return ";".join(specs)


def _colon_keywords(value: str) -> list[str]:
    return [part.strip(" \t\r\n").lower() for part in value.split(":")]


def parse_dmarc(text: str) -> DmarcRecord:
    """Parse one DMARC record. Never raises; see the module docstring for the rules."""
    tags = parse_tag_list(text)
    errors = list(tags.errors)
    warnings: list[str] = []
    values, order = _first_values(tags, errors)
    version = values.get("v")
    discarded = not _version_ok(values, order, errors)
    # Policy problems are completed below, once we know whether rua= rescues the record.
    policy_errors: list[str] = []
    p, sp, np = _policies(values, order, policy_errors, warnings)
    flags = {
        name: _keyword(name, values[name], allowed, errors, what)
        for name, (allowed, what) in _FLAG_TAGS.items()
        if name in values
    }
    pct = _pct(values, errors)
    fo = _fo(values, errors)
    rf = _rf(values, errors, warnings)
    ri = _ri(values, errors)
    rua = _parse_uris("rua", values["rua"], errors, warnings) if "rua" in values else ()
    ruf = _parse_uris("ruf", values["ruf"], errors, warnings) if "ruf" in values else ()
    notes = _dropped_tag_notes(values)
    upper = _upper_case_warning(tags, text)
    if upper:
        warnings.append(upper)
    unknown = tuple(name for name, _ in tags.tags if name.lower() not in _KNOWN_TAGS)
    for name in unknown:
        warnings.append(f'unknown tag "{clip(name)}" is ignored by receivers')

    p_inferred = bool(policy_errors) and bool(rua) and not discarded
    errors.extend(_with_consequence(policy_errors, p_inferred))
    effective = _effective_policy(p, discarded, bool(policy_errors), p_inferred)
    t = flags.get("t")
    warnings.extend(_policy_warnings(p, bool(policy_errors), pct, t, bool(rua) or "rua" in values))

    return DmarcRecord(
        raw=text,
        version=version,
        p=p,
        sp=sp,
        np=np,
        adkim=flags.get("adkim"),
        aspf=flags.get("aspf"),
        pct=pct,
        fo=fo,
        rf=rf,
        ri=ri,
        t=t,
        psd=flags.get("psd"),
        rua=rua,
        ruf=ruf,
        unknown_tags=unknown,
        errors=tuple(errors),
        warnings=tuple(warnings),
        notes=tuple(notes),
        p_inferred=p_inferred,
        effective_policy=effective,
    )


# The one-keyword tags other than the policies: (allowed values, how an error names them).
_FLAG_TAGS: dict[str, tuple[tuple[str, ...], str]] = {
    "adkim": (("r", "s"), "r or s"),
    "aspf": (("r", "s"), "r or s"),
    "t": (("y", "n"), "y or n"),
    "psd": (("y", "n", "u"), "y, n or u"),
}


def _dropped_tag_notes(values: dict[str, str]) -> list[str]:
    """Tags RFC 9989 dropped: still valid for RFC 7489 receivers, ignored by the new ones."""
    return [
        f"{name}= is not part of RFC 9989 (DMARCbis); its receivers ignore it"
        for name in ("pct", "rf", "ri")
        if name in values
    ]


def _with_consequence(policy_errors: list[str], p_inferred: bool) -> list[str]:
    """The policy errors, each with what receivers then do."""
    consequence = (
        "receivers act as if p=none were published, since rua= is valid"
        if p_inferred
        else "receivers ignore the whole record"
    )
    return [f"{problem}: {consequence}" for problem in policy_errors]


def _effective_policy(
    p: str | None, discarded: bool, policy_errors: bool, p_inferred: bool
) -> str | None:
    """What receivers apply (RFC 7489 §6.6.3): nothing for a discarded record or a bad
    policy without rua=, "none" when a valid rua= rescues a bad policy, else p."""
    if discarded or (policy_errors and not p_inferred):
        return None
    if p_inferred:
        return "none"
    return p


def _first_values(tags: TagList, errors: list[str]) -> tuple[dict[str, str], list[str]]:
    """Each tag's value by lower-case name, and the names in record order; a repeated tag
    is an error and keeps its first value."""
    values: dict[str, str] = {}
    order: list[str] = []
    for name, value in tags.tags:
        key = name.lower()
        if key in values:
            errors.append(f'duplicate tag "{name}"')
            continue
        values[key] = value
        order.append(key)
    return values, order


def _version_ok(values: dict[str, str], order: list[str], errors: list[str]) -> bool:
    """Whether the record starts with v=DMARC1: receivers drop it otherwise (§6.6.3)."""
    version = values.get("v")
    if not order or order[0] != "v":
        errors.append('a DMARC record must start with "v=DMARC1"')
        return False
    if version != "DMARC1":
        hint = ' (missing ";"?)' if re.match(r"DMARC1[ \t]", version or "") else ""
        errors.append(f'v="{clip(version or "")}" must be exactly "DMARC1" (case-sensitive){hint}')
        return False
    return True


def _policies(
    values: dict[str, str], order: list[str], policy_errors: list[str], warnings: list[str]
) -> tuple[str | None, str | None, str | None]:
    """(p, sp, np), each None when absent or invalid."""
    p: str | None = None
    if "p" not in values:
        policy_errors.append("p= (the policy) is missing")
    else:
        p = _keyword("p", values["p"], POLICIES, policy_errors, _POLICY_WORDS)
        if order[0] == "v" and order.index("p") != 1:
            warnings.append("p= should directly follow v= for RFC 7489 receivers")
    sp = np = None
    if "sp" in values:
        sp = _keyword("sp", values["sp"], POLICIES, policy_errors, _POLICY_WORDS)
    if "np" in values:
        np = _keyword("np", values["np"], POLICIES, policy_errors, _POLICY_WORDS)
    return p, sp, np


def _pct(values: dict[str, str], errors: list[str]) -> int | None:
    if "pct" not in values:
        return None
    raw_pct = values["pct"]
    if re.fullmatch(r"[0-9]{1,3}", raw_pct) and int(raw_pct) <= 100:
        return int(raw_pct)
    errors.append(f'pct="{clip(raw_pct)}" is not an integer from 0 to 100')
    return None


def _fo(values: dict[str, str], errors: list[str]) -> str | None:
    if "fo" not in values:
        return None
    options = _colon_keywords(values["fo"])
    if all(option in ("0", "1", "d", "s") for option in options):
        return ":".join(options)
    errors.append(f'fo="{clip(values["fo"])}" must be 0, 1, d or s, separated by ":"')
    return None


def _rf(values: dict[str, str], errors: list[str], warnings: list[str]) -> str | None:
    if "rf" not in values:
        return None
    formats = _colon_keywords(values["rf"])
    if not all(_KEYWORD.fullmatch(f) for f in formats):
        errors.append(f'rf="{clip(values["rf"])}" is not a ":"-separated list of formats')
        return None
    unregistered = [f for f in formats if f != "afrf"]
    if unregistered:
        warnings.append(f"rf= lists unregistered report formats: {', '.join(unregistered)}")
    return ":".join(formats)


def _ri(values: dict[str, str], errors: list[str]) -> int | None:
    if "ri" not in values:
        return None
    raw_ri = values["ri"]
    if re.fullmatch(r"[0-9]+", raw_ri) and int(raw_ri) <= _UINT32_MAX:
        return int(raw_ri)
    errors.append(f'ri="{clip(raw_ri)}" is not a 32-bit unsigned number of seconds')
    return None


def _upper_case_warning(tags: TagList, text: str) -> str | None:
    """The warning for tag names written with upper-case letters, giving the record with
    them lower-cased; None when there are none."""
    upper = [name for name, _ in tags.tags if name != name.lower()]
    if not upper:
        return None
    several = len(upper) > 1
    unseen = "the record" if "v" in (n.lower() for n in upper) else "these tags"
    if not several and unseen != "the record":
        unseen = "this tag"
    fixed = clip(_lower_tag_names(text), 600)
    return (
        f"upper-case tag name{'s' if several else ''} "
        f"{', '.join(f'{clip(n)}=' for n in upper)}: DMARC's tag-list comes from DKIM, "
        "whose tag names are case-sensitive (RFC 7489 §6.3, RFC 6376 §3.2), so some "
        f"receivers do not see {unseen}; write {'them' if several else 'it'} in lower "
        f'case: "{fixed}"'
    )


def _policy_warnings(
    p: str | None, policy_errors: bool, pct: int | None, t: str | None, has_rua: bool
) -> list[str]:
    """What a valid record still leaves open: monitoring only, a partial or testing policy,
    no aggregate reports (``has_rua``: a valid rua= URI, or an rua= tag at all)."""
    warnings = []
    if p == "none" and not policy_errors:
        warnings.append("p=none: monitoring only, mail failing DMARC is delivered as usual")
    if pct is not None and pct < 100:
        warnings.append(
            f"pct={pct}: RFC 7489 receivers apply the policy to {pct}% of failing mail; "
            "RFC 9989 removed pct"
        )
    if t == "y":
        warnings.append("testing mode (t=y): receivers are asked not to apply the policy yet")
    if not has_rua:
        warnings.append("no rua=: nobody receives aggregate reports")
    return warnings
