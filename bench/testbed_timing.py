"""How fast DNS failures come back: the figures the test-bed selftests used to assert.

Selftests assert behaviour, not speed (on a busy 2-core machine a time limit is a coin
toss). This measures what they used to bound, on the same NSD + Unbound test bed and the
same zones as selftests/nsd_unbound/test_testbed.py:

* a name under no served zone (or a CNAME out of them) answered SERVFAIL/REFUSED;
* with Microsoft's server stopped: the first SERVFAIL, the next one (server known down),
  and restarting the server;
* dkimwatch's resolver against a silent server: timeout × attempts.

    nice -n 19 .venv/bin/python bench/testbed_timing.py [--repeats 5]

Needs nsd and unbound (Debian). Prints a Markdown table (median, min, max seconds).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selftests.nsd_unbound.test_testbed import ZONES, _write_zones, ask  # noqa: E402
from selftests.testbed import Testbed, missing_binaries  # noqa: E402

from dkimwatch.resolver import DnsClient, Resolver  # noqa: E402


def timed(action: Callable[[], object]) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    missing = missing_binaries()
    if missing:
        print(f"needs {', '.join(missing)} (Debian packages nsd and unbound)", file=sys.stderr)
        return 2
    rows: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        rows.setdefault(name, []).append(seconds)

    with tempfile.TemporaryDirectory() as tmp:
        zones = _write_zones(Path(tmp) / "zones", ZONES)
        with Testbed(zones, workdir=Path(tmp) / "run") as bed:
            for i in range(args.repeats):
                bed.flush_resolver()
                for qname in ("contoso.zz", "www.example.org", "stray._domainkey.contoso.com"):
                    add(f"unknown name {qname}", ask(bed.resolver_addr, qname, timeout=10)[1])
                bed.stop_microsoft()
                try:
                    add(
                        "outage: first SERVFAIL",
                        ask(bed.resolver_addr, "outage._domainkey.contoso.com", timeout=10)[1],
                    )
                    add(
                        "outage: next SERVFAIL (server known down)",
                        ask(
                            bed.resolver_addr,
                            f"selector{i + 3}-contoso-com._domainkey.contoso.onmicrosoft.com",
                            timeout=10,
                        )[1],
                    )
                finally:
                    add("restart Microsoft's NSD", timed(bed.start_microsoft))
    # dkimwatch's own resolver against a socket that never answers: timeout × attempts.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        server = "{}:{}".format(*silent.getsockname())
        for i in range(args.repeats):
            resolver = Resolver(DnsClient([server], timeout=0.2, attempts=3))
            start = time.monotonic()
            resolver.lookup(f"silent{i}.example", "A")
            add("resolver: silent server, timeout 0.2 s × 3 attempts", time.monotonic() - start)
    print("| what | median s | min s | max s | runs |\n|---|---:|---:|---:|---:|")
    for name, values in rows.items():
        print(
            f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | "
            f"{max(values):.3f} | {len(values)} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
