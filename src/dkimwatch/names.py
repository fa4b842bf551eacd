"""Names: DNS names as dkimwatch queries them, resolver addresses, and tenant names.

A leaf: it imports nothing of dkimwatch, so every module may import it.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache

import idna

INITIAL_DOMAIN_SUFFIX = ".onmicrosoft.com"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SERVICE_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})$")  # _domainkey, _dmarc
_TENANT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# The tenant prefix of an Exchange Online DKIM target, classic or partitioned format
# (docs/exchange-online.md, "CNAME targets"); it keeps the case Microsoft gave it.
_TARGET_TENANT = re.compile(
    r"\._domainkey\.(?P<tenant>[A-Za-z0-9-]+)\."
    r"(?:onmicrosoft\.com|[A-Za-z]-v1\.dkim\.mail\.microsoft)$",
    re.IGNORECASE,
)
_INITIAL_DOMAIN = re.compile(r"^(?P<tenant>[a-z0-9-]+)\.onmicrosoft\.com$")


def normalise(name: str) -> str:
    """A DNS name as compared: lower case, no surrounding space, no trailing dot."""
    return name.strip().rstrip(".").lower()


def to_alabel(name: str, *, service_labels: bool = False) -> str:
    """Normalise a domain name to lower-case A-labels with no trailing dot (IDNA 2008, UTS 46).

    ``service_labels`` admits underscore labels such as ``_domainkey`` (record names, not hosts).
    """
    text = name.strip().rstrip(".")
    if not text:
        raise ValueError("empty name")
    if text.isascii():
        out = text.lower()
    else:
        try:
            out = idna.encode(text, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"not a valid internationalised name ({exc})") from None
    labels = out.split(".")
    pattern = _SERVICE_LABEL if service_labels else _LABEL
    for label in labels:
        if not pattern.match(label):
            if len(label.encode()) > 63:
                raise ValueError(f"label {label[:20]!r}… is longer than 63 bytes")
            raise ValueError(f"label {label!r} is not a valid host name label")
    if len(out) > 253:
        raise ValueError("name is longer than 253 bytes")
    if len(labels) < 2:
        raise ValueError("a mail domain needs at least two labels")
    return out


_psl_lock = threading.Lock()


def registrable_domain(name: str) -> str | None:
    """The registrable domain of ``name`` by the Public Suffix List (None for a public
    suffix itself, or a name under none). One parsed list serves the whole process: DMARC's
    organisational domain and the fixes' zone walk ask the same question."""
    # lru_cache alone would let concurrent first calls each parse the list, and checks run
    # on many threads at once.
    with _psl_lock:
        privatesuffix = _parsed_psl()
    return privatesuffix(name)


@lru_cache(maxsize=1)
def _parsed_psl() -> Callable[[str], str | None]:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList().privatesuffix


def parse_nameserver(text: str) -> str:
    """Validate ``HOST[:PORT]`` / ``[V6]:PORT`` and return it normalised as ``HOST:PORT``."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"expected HOST:PORT with a numeric port, got {text!r}")
        port = int(port_text)
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"expected an IP address (optionally :PORT), got {text!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1..65535, got {port}")
    return f"[{addr}]:{port}" if addr.version == 6 else f"{addr}:{port}"


def tenant_label(text: str) -> str:
    """The tenant as the label of its initial domain: ``contoso`` and ``contoso.onmicrosoft.com``
    both give ``contoso`` (case kept: Microsoft keeps it in the target prefix)."""
    label = text.strip()
    if label.lower().endswith(INITIAL_DOMAIN_SUFFIX):
        label = label[: -len(INITIAL_DOMAIN_SUFFIX)]
    if not _TENANT.match(label):
        raise ValueError(
            "expected the initial domain label (contoso for contoso.onmicrosoft.com), "
            f"got {text.strip()!r}"
        )
    return label


def tenants_named(targets: Iterable[str | None], domains: Iterable[str]) -> list[str]:
    """The tenants an export names, each once in its first spelling.

    The CNAME targets decide: their tenant prefix is what dkim_cname compares a target with.
    Only when no target names one do the ``<tenant>.onmicrosoft.com`` domains count (a tenant
    may hold more than one, and only the initial one is the targets' prefix).
    """
    spellings: dict[str, str] = {}  # lower case → first spelling
    for target in targets:
        m = _TARGET_TENANT.search((target or "").strip().rstrip("."))
        if m:
            spellings.setdefault(m["tenant"].lower(), m["tenant"])
    if not spellings:
        for domain in domains:
            m = _INITIAL_DOMAIN.match(normalise(domain))
            if m:
                spellings.setdefault(m["tenant"], m["tenant"])
    return [s for s in spellings.values() if _TENANT.match(s)]


def infer_tenant(targets: Iterable[str | None], domains: Iterable[str]) -> str | None:
    """The one tenant the targets (else the initial domains) name; None for none or several."""
    found = tenants_named(targets, domains)
    return found[0] if len(found) == 1 else None
