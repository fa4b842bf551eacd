"""Run checkdmarc's own CLI (``checkdmarc._cli._main``) for SPF and DMARC only, on a port.

checkdmarc 6.x takes plain resolver addresses only (it builds
``dns.nameserver.Do53Nameserver(address)``, port 53), and its CLI always runs every check
(DNSSEC, SOA, NS, MTA-STS, MX, SPF, DMARC, TLS-RPT, BIMI). For a like-for-like comparison
with dkimwatch's SPF and DMARC checks against the benchmark's Unbound on a high port, this
wrapper changes exactly two things before handing over to the unchanged CLI:

1. ``dns.nameserver.Do53Nameserver``'s default port becomes ``--port`` (every plain
   nameserver checkdmarc builds then talks to that port; nothing else in dnspython changes);
2. the checks other than SPF and DMARC are replaced by stubs returning an empty result,
   so ``check_domains`` still runs its loop, its SPF and DMARC checks, its DNS cache and its
   JSON output exactly as shipped.

    bench/.venv-peers/bin/python bench/peers/checkdmarc_spf_dmarc.py --port 5300 -- \
        DOMAINS.txt -n 127.0.10.3 -o out.json
"""

from __future__ import annotations

import sys

import checkdmarc
import dns.nameserver
from checkdmarc import _cli


def _port_from_argv() -> int:
    args = sys.argv[1:]
    if len(args) < 3 or args[0] != "--port" or args[2] != "--":
        sys.exit("usage: checkdmarc_spf_dmarc.py --port PORT -- CHECKDMARC-ARGS...")
    port = int(args[1])
    sys.argv = [sys.argv[0], *args[3:]]
    return port


def main() -> None:
    port = _port_from_argv()
    original = dns.nameserver.Do53Nameserver.__init__

    def with_port(self: dns.nameserver.Do53Nameserver, address: str, port: int = port) -> None:
        original(self, address, port)

    dns.nameserver.Do53Nameserver.__init__ = with_port  # type: ignore[method-assign]

    skipped = {"skipped": "not part of the SPF+DMARC benchmark"}
    checkdmarc.check_dnssec = lambda *a, **k: None
    checkdmarc.check_soa = lambda *a, **k: {**skipped}
    checkdmarc.check_ns = lambda *a, **k: {"hostnames": [], "warnings": [], **skipped}
    checkdmarc.check_mta_sts = lambda *a, **k: {"valid": False, **skipped}
    checkdmarc.check_mx = lambda *a, **k: {"hosts": [], "warnings": [], **skipped}
    checkdmarc.check_smtp_tls_reporting = lambda *a, **k: {"valid": False, **skipped}
    checkdmarc.check_bimi = lambda *a, **k: {**skipped}
    _cli._main()


if __name__ == "__main__":
    main()
