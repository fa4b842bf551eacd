"""Names: DNS names as dkimwatch queries them, and resolver addresses.

A leaf: it imports nothing of dkimwatch, so every module may import it.
"""

from __future__ import annotations

import ipaddress
import re

import idna

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SERVICE_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})$")  # _domainkey, _dmarc


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
