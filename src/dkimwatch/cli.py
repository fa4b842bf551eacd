"""The ``dkimwatch`` command: helpers around the pytest suite.

``dkimwatch serve ZONEDIR``      the embedded authoritative DNS server, for trying things by hand
``dkimwatch validate [PATH…]``   check inventories (files, directories) and print what they hold
``dkimwatch import EXPORT``      turn a Get-DkimSigningConfig export into an inventory
``dkimwatch gate DOMAIN``        may DKIM signing be enabled for DOMAIN now? (exit 0: yes)
``dkimwatch fixes --format F``   the fixes of a results.json in one host's language
``dkimwatch merge DIR…``         the reports of ``--shard`` runs as one run's reports
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dkimwatch import __version__
from dkimwatch.inventory import Inventory, InventoryError, load_inventories

if TYPE_CHECKING:
    from dkimwatch.gate import GateReport

USAGE_ERROR = 4  # pytest's exit code for bad input, used here too


def _load_inventories(paths: Sequence[str]) -> list[Inventory] | None:
    """The inventories of ``paths`` (files, and directories of one ``*.yaml`` per tenant),
    read and checked as ``pytest --domains`` reads them, or None once the one-line error is
    on stderr."""
    try:
        return load_inventories([Path(p) for p in paths])
    except InventoryError as exc:
        print(f"dkimwatch: {exc}", file=sys.stderr)
        return None


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
    inventories = _load_inventories([*args.inventory, *args.domains] or ["domains.yaml"])
    if inventories is None:
        return USAGE_ERROR
    for inventory in inventories:
        rotated = sum(1 for d in inventory.domains if d.rotation)
        targets = sum(1 for d in inventory.domains if d.targets)
        print(
            f"{inventory.path}: {len(inventory.domains)} domains "
            f"({targets} with expected CNAME targets, {rotated} with rotation data), "
            f"{len(inventory.waivers)} waivers, tenant {inventory.tenant or '(none)'}"
        )
    if len(inventories) > 1:
        domains = sum(len(inv.domains) for inv in inventories)
        print(f"{len(inventories)} inventories, {domains} domains, each in one of them")
    return 0


def _import(args: argparse.Namespace) -> int:
    from dkimwatch.exo_export import ExportError, load_export
    from dkimwatch.inventory_writer import to_inventory_yaml
    from dkimwatch.report import atomic_write_text

    try:
        configs = load_export(Path(args.export), culture=args.culture)
    except ExportError as exc:
        print(f"dkimwatch import: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as exc:
        print(f"dkimwatch import: {args.export}: {exc.strerror}", file=sys.stderr)
        return USAGE_ERROR
    text = to_inventory_yaml(configs, tenant=args.tenant, source=str(args.export))
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        atomic_write_text(Path(args.output), text)
        print(f"{args.output}: {len(configs)} domains from {args.export}", file=sys.stderr)
    return 0


def _gate(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from dkimwatch.gate import GateError, inventory_holding, render, run_gate
    from dkimwatch.resolver import servers_to_ask

    inventories = _load_inventories(args.domains or ["domains.yaml"])
    if inventories is None:
        return USAGE_ERROR
    server = None
    try:
        # The inventory that lists the domain; an unknown domain: no DNS server started.
        inventory = inventory_holding(inventories, args.domain)
        zones = Path(args.zones) if args.zones else None
        servers, server = servers_to_ask(inventory, args.nameserver, zones)
        if args.nameserver:
            note = "--nameserver"
        elif server is not None:
            note = f"the embedded server over {zones or inventory.dns.zones}"
        else:
            system = (
                ", 'system' read from /etc/resolv.conf"
                if "system" in inventory.dns.nameservers
                else ""
            )
            note = f"dns.nameservers of {inventory.path}{system}"
        report = run_gate(
            inventory,
            args.domain,
            servers,
            datetime.now(UTC),
            authoritative=args.authoritative,
            authoritative_port=args.authoritative_port,
            resolvers_note=note,
        )
    except (GateError, ValueError) as exc:
        print(f"dkimwatch gate: {exc}", file=sys.stderr)
        return USAGE_ERROR
    finally:
        if server is not None:
            server.stop()
    print(render(report))
    if args.format and report.ready is False:
        print(_gate_fixes(report, args.format), end="")
    return 0 if report.ready else 1


def _gate_fixes(report: GateReport, fmt: str) -> str:
    """The failed verdicts' fixes in one format, after the gate's own text."""
    from dkimwatch.fixformats import render
    from dkimwatch.fixoutput import verdict_items

    items = verdict_items(v for v in report.deciding if v.outcome == "failed")
    files = render(fmt, items)
    if not files:
        return f"No {fmt} fixes: nothing the {fmt} format can apply.\n"
    out = [f"As {fmt}:\n"]
    for name, text in files.items():
        out.append(f"==> {name} <==\n{text}")
    return "".join(out)


def _fixes(args: argparse.Namespace) -> int:
    from dkimwatch.fixformats import render
    from dkimwatch.fixreader import read_fix_items
    from dkimwatch.report import atomic_write_text

    try:
        items = read_fix_items(Path(args.results))
    except ValueError as exc:
        print(f"dkimwatch fixes: {exc}", file=sys.stderr)
        return USAGE_ERROR
    files = render(args.format, items)
    if args.output:
        out = Path(args.output)
        for name, text in files.items():
            atomic_write_text(out / name, text)
        print(f"{out}: {', '.join(files) or 'nothing to write'}", file=sys.stderr)
        return 0
    if not files:
        print(f"dkimwatch fixes: no {args.format} fixes in {args.results}", file=sys.stderr)
    for name, text in files.items():
        if len(files) > 1:
            print(f"==> {name} <==")
        sys.stdout.write(text)
    return 0


def _merge(args: argparse.Namespace, extra: list[str]) -> int:
    from dkimwatch.merge import MergeError, merge

    try:
        return merge([Path(d) for d in args.dirs], Path(args.output), extra)
    except MergeError as exc:
        print(f"dkimwatch merge: {exc}", file=sys.stderr)
        return USAGE_ERROR


# Long: the whole command line declared in one place, subcommand by subcommand.
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

    validate = sub.add_parser(
        "validate", help="check inventories (files, or directories of one *.yaml per tenant)"
    )
    validate.add_argument("inventory", nargs="*", metavar="PATH", help="(default ./domains.yaml)")
    validate.add_argument(
        "--domains",
        action="append",
        default=[],
        metavar="PATH",
        help="the same, as pytest takes it",
    )
    validate.set_defaults(func=_validate)

    imp = sub.add_parser("import", help="inventory from a Get-DkimSigningConfig export")
    imp.add_argument("export", help="ConvertTo-Json (5.1 or 7), REST JSON, or Export-Csv file")
    imp.add_argument("-o", "--output", help="write here (atomically) instead of stdout")
    imp.add_argument("--tenant", help="initial domain label (default: read from the targets)")
    imp.add_argument("--culture", help="date culture of a CSV export, e.g. en-US, de-DE")
    imp.set_defaults(func=_import)

    gate = sub.add_parser(
        "gate",
        help="may DKIM be enabled for DOMAIN? prints the command, or what to fix and where",
    )
    gate.add_argument("domain")
    gate.add_argument(
        "--domains",
        action="append",
        metavar="PATH",
        help="inventory, or a directory of one *.yaml per tenant; repeatable (./domains.yaml)",
    )
    gate.add_argument(
        "--nameserver", action="append", default=[], metavar="HOST[:PORT]", help="resolver"
    )
    gate.add_argument("--zones", metavar="DIR", help="ask the embedded server over these zones")
    gate.add_argument(
        "--authoritative",
        action="store_true",
        help="also ask the domain's own authoritative servers (found via NS), past any cache",
    )
    gate.add_argument(
        "--authoritative-port", type=int, default=53, metavar="PORT", help=argparse.SUPPRESS
    )
    from dkimwatch.fixformats import FORMATS

    gate.add_argument(
        "--format",
        choices=list(FORMATS),
        metavar="FORMAT",
        help="also print the fixes in this format (" + ", ".join(FORMATS) + ")",
    )
    gate.set_defaults(func=_gate)

    fixes = sub.add_parser(
        "fixes",
        help="the fixes of a results.json in one format (nsupdate, zone, azure-cli, …)",
        description="Formats: " + "; ".join(f"{f.name}: {f.title}" for f in FORMATS.values()),
    )
    fixes.add_argument("results", nargs="?", default="reports/results.json", metavar="RESULTS")
    fixes.add_argument("--format", required=True, choices=list(FORMATS), metavar="FORMAT")
    fixes.add_argument("-o", "--output", metavar="DIR", help="write the files here instead")
    fixes.set_defaults(func=_fixes)

    merge = sub.add_parser(
        "merge",
        help="the shards of a --shard I/N job matrix as one run's reports",
        description="Reads each DIR's results.json, junit.xml and report.html, checks they "
        "are every shard of one audit, and writes into OUT the outputs one run over the "
        "whole estate writes. --domains=PATH names the inventory when it lies elsewhere "
        "here than where the shards read it. Exit status: 1 when a check failed or DNS "
        "could not answer one, as a run's.",
    )
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="a shard's reports folder")
    merge.add_argument(
        "-o", "--output", default="reports", metavar="OUT", help="where to write (reports/)"
    )
    merge.set_defaults(func=_merge)

    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "merge":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "merge":
        args.func = functools.partial(_merge, extra=extra)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
