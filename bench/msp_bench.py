"""The MSP benchmark (issue 16): 10,000 mostly healthy domains audited in one run, with
its HTML report, against pytest's floor with its HTML report of the same shape.

The tenant comes from gen_tenant's generator: 10,000 domains (200 tenants × 50 domains'
worth; measured as one inventory, the multi-inventory run being another branch's work),
about 3 % failing (a missing active key, a missing DMARC record), served offline from
its zone files by dkimwatch's embedded DNS server. Measured: wall time, peak RSS of the
process tree, report.html, results.json and junit.xml sizes, and the time headless
Chromium takes to load report.html (less a blank page's).

    .venv/bin/python bench/msp_bench.py                  # this checkout
    .venv/bin/python bench/msp_bench.py --repo /tmp/main-bench --label main
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import gen_tenant  # noqa: E402
from run_bench import NOW, TreeSampler, chromium  # noqa: E402

DOMAINS = 10_000
# A few per cent failing: what an MSP's healthy estate looks like.
WEIGHTS = {"healthy": 75, "healthy_both": 22, "active_key_missing": 2, "no_dmarc": 1}


def generate(out: Path, count: int) -> None:
    if (out / "domains.yaml").exists():
        return
    rng = random.Random(f"msp-{count}")
    kinds = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=count)
    names = [
        f"t{i // 50:03d}-d{i % 50:02d}-{rng.choice(gen_tenant.STEMS)}.example" for i in range(count)
    ]
    plans = [
        gen_tenant.Plan(k, n, rotate=gen_tenant._rotation(rng, future=False))
        for k, n in zip(kinds, names, strict=True)
    ]
    tenant = gen_tenant.Tenant("contoso", gen_tenant.KeyPool(4, "msp"))
    gen_tenant.build(tenant, plans, gen_tenant.DEMO_NOW)
    out.mkdir(parents=True, exist_ok=True)
    gen_tenant.write(tenant, out, out / "zones", out / "domains.yaml", "zones")
    (out / "domains.txt").write_text("".join(f"{n}\n" for n in names))


def timed(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict[str, float]:
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=out)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        code = proc.wait()
    wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    return {"wall_s": round(wall, 1), "peak_rss_mb": sampler.peak // 1024, "exit": code}


def size(path: Path) -> float | None:
    return round(path.stat().st_size / 1e6, 1) if path.exists() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=BENCH.parent, help="the checkout to run")
    parser.add_argument("--label", default="branch")
    parser.add_argument("--domains", type=int, default=DOMAINS)
    parser.add_argument("--skip-floor", action="store_true")
    args = parser.parse_args()
    cache = BENCH / ".cache" / "msp"
    tenant = cache / f"tenant-{args.domains}"
    generate(tenant, args.domains)
    out = cache / args.label
    reports = out / "reports"
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, object] = {
        "label": args.label,
        "repo": str(args.repo),
        "domains": args.domains,
    }
    argv = [
        str(args.repo / ".venv" / "bin" / "pytest"),
        f"--domains={tenant / 'domains.yaml'}",
        "--now",
        NOW,
        f"--reports={reports}",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    env = {}
    if not (args.repo / ".venv").exists():
        # Another checkout (a worktree of main) without its own venv: this venv's pytest,
        # that checkout's code first on the path.
        argv[0] = str(BENCH.parent / ".venv" / "bin" / "pytest")
        env["PYTHONPATH"] = str(args.repo / "src")
    result["dkimwatch"] = timed(argv, args.repo, env, out / "dkimwatch.log")
    result["report_html_mb"] = size(reports / "report.html")
    result["results_json_mb"] = size(reports / "results.json")
    result["junit_xml_mb"] = size(reports / "junit.xml")
    if not args.skip_floor:
        floor_html = out / "floor.html"
        floor = [
            str(BENCH.parent / ".venv" / "bin" / "pytest"),
            "-c",
            str(BENCH / "peers" / "pytest.ini"),
            f"--rootdir={BENCH / 'peers'}",
            str(BENCH / "peers" / "test_floor.py"),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--html={floor_html}",
            "--self-contained-html",
        ]
        peers = {"BENCH_DOMAINS": str(tenant / "domains.txt")}
        result["floor --html"] = timed(floor, BENCH.parent, peers, out / "floor.log")
        result["floor_html_mb"] = size(floor_html)
    result["chromium"] = chromium(reports / "report.html", out / "shots")
    print(json.dumps(result, indent=1))
    (out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
