"""Applying nsupdate files to zones in memory, the way an RFC 2136 server would: every line
read by dnspython's tokenizer and rdata parser (a line that does not parse fails the test)."""

from __future__ import annotations

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import dns.zone


def apply_nsupdate(text: str, zones: dict[str, dns.zone.Zone]) -> int:
    """Apply ``zone`` / ``update add`` / ``update delete`` / ``send`` lines to ``zones`` (by
    origin without the final dot); returns how many updates were applied."""
    zone: dns.zone.Zone | None = None
    applied = 0
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        tok = dns.tokenizer.Tokenizer(line)
        word = tok.get_identifier()
        if word == "zone":
            zone = zones[tok.get_name().to_text(omit_final_dot=True)]
            tok.get_eol()
            continue
        if word == "send":
            tok.get_eol()
            continue
        assert word == "update", line
        assert zone is not None, f"update before any zone line: {line}"
        verb = tok.get_identifier()
        name = tok.get_name()
        assert name.is_subdomain(zone.origin), f"{name} is outside the zone {zone.origin}"
        applied += 1
        if verb == "add":
            ttl = tok.get_int()
            assert tok.get_identifier() == "IN", line
            rdtype = dns.rdatatype.from_text(tok.get_identifier())
            rdata = dns.rdata.from_text(
                dns.rdataclass.IN, rdtype, tok, dns.name.root, relativize=False
            )
            if rdtype == dns.rdatatype.CNAME:  # RFC 2136 §3.4.2.2: a CNAME replaces a CNAME
                zone.delete_rdataset(name, rdtype)
            zone.find_rdataset(name, rdtype, create=True).add(rdata, ttl)
            continue
        assert verb == "delete", line
        rdtype = dns.rdatatype.from_text(tok.get_identifier())
        token = tok.get()
        if token.is_eol_or_eof():
            zone.delete_rdataset(name, rdtype)
            continue
        tok.unget(token)
        rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, tok, dns.name.root, relativize=False)
        rdataset = zone.get_rdataset(name, rdtype)
        if rdataset is not None:
            rdataset.discard(rdata)
            if not rdataset:
                zone.delete_rdataset(name, rdtype)
    return applied
