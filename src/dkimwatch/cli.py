"""The ``dkimwatch`` command: helpers around the pytest suite.

``dkimwatch serve ZONEDIR``      the embedded authoritative DNS server, for trying things by hand
``dkimwatch validate [PATH]``    check an inventory and print what it holds
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dkimwatch import __version__
from dkimwatch.inventory import InventoryError, load_inventory

USAGE_ERROR = 4  # pytest's exit code for bad input, used here too


def _serve(args: argparse.Namespace) -> int:
    from dkimwatch.zoneserver import ZoneError, serve_forever

    try:
        serve_forever(Path(args.zonedir), args.host, args.port)
    except (ZoneError, ValueError) as exc:
        print(f"dkimwatch serve: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as exc:
        print(f"dkimwatch serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return 0


def _validate(args: argparse.Namespace) -> int:
    try:
        inventory = load_inventory(Path(args.inventory))
    except InventoryError as exc:
        print(f"dkimwatch: {exc}", file=sys.stderr)
        return USAGE_ERROR
    rotated = sum(1 for d in inventory.domains if d.rotation)
    targets = sum(1 for d in inventory.domains if d.targets)
    print(
        f"{inventory.path}: {len(inventory.domains)} domains "
        f"({targets} with expected CNAME targets, {rotated} with rotation data), "
        f"{len(inventory.waivers)} waivers, tenant {inventory.tenant or '(none)'}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dkimwatch",
        description="Compliance checks for the DKIM, SPF and DMARC records of Exchange Online "
        "domains. Run the audit itself with pytest (see README).",
    )
    parser.add_argument("--version", action="version", version=f"dkimwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve RFC 1035 zone files on loopback (UDP and TCP)")
    serve.add_argument("zonedir", help="directory of <origin>.zone files")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5300, help="port (default 5300)")
    serve.set_defaults(func=_serve)

    validate = sub.add_parser("validate", help="check an inventory file")
    validate.add_argument("inventory", nargs="?", default="domains.yaml")
    validate.set_defaults(func=_validate)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
