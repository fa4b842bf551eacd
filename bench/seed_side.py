"""The seed's size side by side: this checkout and others (0.1.0's, /work/wt/base) auditing
the same 70-domain inventory through the same test bed (NSD behind Unbound), alternating
(ABAB…), after one untimed warm-up each; wall and CPU (user+sys) medians, and the DNS
questions each run asked Unbound.

    .venv/bin/python bench/seed_side.py --baseline /work/wt/base --repeats 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from msp_bench import SEED_DOMAINS, Checkout, audit  # noqa: E402
from run_bench import BenchTestbed, unbound_queries  # noqa: E402
from run_bench import tenant as scale_tenant  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repo", type=Path, default=BENCH.parent, help="the checkout measured")
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        required=True,
        help="a checkout beside it (again for more; one without .venv runs in this one's)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--domains", type=int, default=SEED_DOMAINS)
    parser.add_argument(
        "--pycache",
        type=Path,
        help="cache bytecode under this folder (PYTHONPYCACHEPREFIX) instead of compiling "
        "every module on every run as PYTHONDONTWRITEBYTECODE=1 does",
    )
    args = parser.parse_args(argv)
    seed = scale_tenant(args.domains)
    inventory = seed / "domains.yaml"
    sides = {"this": Checkout.of(args.repo.resolve())}
    # Labels, not paths, name each side's folders under the temporary directory.
    sides.update({f"base{i}": Checkout.of(path.resolve()) for i, path in enumerate(args.baseline)})
    if args.pycache is not None:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(args.pycache.resolve())
    figures: dict[str, dict[str, list[float]]] = {
        name: {"wall_s": [], "cpu_s": [], "questions": []} for name in sides
    }
    with tempfile.TemporaryDirectory(prefix="dkw-seed-") as tmp:
        out = Path(tmp)
        with BenchTestbed(seed / "zones", workdir=out / "bed", verbosity=0) as bed:
            dns = f"--nameserver={bed.resolver}"
            for name, co in sides.items():
                audit(co, inventory, out / name, out / f"{name}.warm.log", dns)
            for rep in range(args.repeats):
                for name, co in sides.items():
                    before = unbound_queries(bed)
                    run = audit(co, inventory, out / name, out / f"{name}.{rep}.log", dns)
                    asked = unbound_queries(bed) - before
                    if run["exit"] not in (0, 1):
                        print(f"{name}: exit {run['exit']}: {run['last_line']}", file=sys.stderr)
                        return 1
                    figures[name]["wall_s"].append(run["wall_s"])
                    figures[name]["cpu_s"].append(run["cpu_s"])
                    figures[name]["questions"].append(asked)
                    print(
                        f"  {rep} {name}: {run['wall_s']} s wall, {run['cpu_s']} s CPU, {asked} q"
                    )
    for name, co in sides.items():
        med = {k: statistics.median(v) for k, v in figures[name].items()}
        print(
            f"{name} ({co.repo}): wall {med['wall_s']:.2f} s, CPU {med['cpu_s']:.2f} s, "
            f"{med['questions']:.0f} questions (medians of {args.repeats})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
