"""Benchmark: dkimwatch against its peers at 70, 1,000 and 10,000 domains, on the same DNS.

For each size: generate a tenant with gen_tenant's scale profile (cached under
bench/.cache/), serve its zones with NSD (customer, Microsoft) behind Unbound
(selftests/testbed.py, with caches big enough to hold the tenant), warm the resolver
with one untimed dkimwatch run that also records every answer, then time side by side,
interleaved, ``--repeats`` times (the median is reported):

  dkimwatch            the full suite with its HTML report, serial
  dkimwatch -n auto    the same with -n auto (dkimwatch answers it with no workers: one process)
  dkimwatch -n 2       xdist spreading for real over two workers (below 10,000 domains)
  dkimwatch replay     the same, answering from the recorded answers: no DNS at all
  dkimwatch spf+dmarc  ``-m "spf or dmarc"``: what checkdmarc checks, nothing else
  checkdmarc           checkdmarc 6.x's CLI, SPF and DMARC only (peers/checkdmarc_spf_dmarc.py)
  naive                pytest, dnspython inside each test, sequential (peers/test_naive.py)
  floor                the suite's tests (same names, ids and count, from dkimwatch's
                       registry: peers/floor_cases.py), each doing nothing (peers/test_floor.py)
  floor --html         the floor with pytest-html's self-contained report

Measured per run: wall time, CPU time of the process tree (user+sys, from the kernel's
accounting of waited-for children), DNS queries Unbound received (``unbound-control
stats_noreset``, total.num.queries before and after), dkimwatch's own count of queries
sent (results.json "queries"), peak RSS of the process tree (sum over its processes,
sampled every 50 ms), and the size of the report the run wrote.

    .venv/bin/python bench/run_bench.py                       # 70, 1000, 10000
    .venv/bin/python bench/run_bench.py --sizes 70,1000 --repeats 3
    .venv/bin/python bench/run_bench.py --chromium            # also open the largest report

Needs nsd and unbound (Debian), and checkdmarc in bench/.venv-peers
(python3 -m venv bench/.venv-peers && bench/.venv-peers/bin/pip install 'checkdmarc>=6,<7').
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from selftests.testbed import Testbed  # noqa: E402

sys.path.insert(0, str(REPO / "bench" / "peers"))
import floor_cases  # noqa: E402

BENCH = REPO / "bench"
CACHE = BENCH / ".cache"
PEERS = BENCH / "peers"
VENV_PY = REPO / ".venv" / "bin" / "python"
VENV_PYTEST = REPO / ".venv" / "bin" / "pytest"
PEERS_PY = BENCH / ".venv-peers" / "bin" / "python"
NOW = "2026-11-22T09:00:00Z"
MSP_BEGIN, MSP_END = "<!-- msp -->", "<!-- /msp -->"  # bench/msp_bench.py's part of RESULTS.md


class BenchTestbed(Testbed):
    """The selftests' test bed with Unbound caches big enough for 10,000 domains' answers
    (its defaults, 4 MB each, would evict a large tenant before the timed runs)."""

    def _unbound_conf(self) -> str:
        conf = super()._unbound_conf()
        extra = "    msg-cache-size: 256m\n    rrset-cache-size: 512m\n    key-cache-size: 4m\n"
        return conf.replace("    num-threads: 1\n", "    num-threads: 1\n" + extra, 1)


@dataclass
class Run:
    tool: str
    size: int
    wall: float
    cpu: float
    rss_kb: int
    queries_unbound: int
    queries_own: int | None
    report_bytes: int | None
    exit_code: int
    tests: str = ""


@dataclass
class Row:
    tool: str
    size: int
    runs: list[Run] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in self.runs))


# --- tenants ---------------------------------------------------------------------------------


def tenant(size: int) -> Path:
    """bench/.cache/scale-N: domains.yaml, zones/, expected.json, and domains.txt."""
    out = CACHE / f"scale-{size}"
    if not (out / "domains.yaml").exists() or not (out / "kinds.json").exists():
        subprocess.run(
            [str(VENV_PY), str(BENCH / "gen_tenant.py"), "scale", str(out), "--domains", str(size)],
            check=True,
        )
    listing = out / "domains.txt"
    if not listing.exists():
        kinds = json.loads((out / "kinds.json").read_text())
        listing.write_text("".join(f"{name}\n" for name in sorted(kinds)))
    return out


# --- measuring -------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = [pid]
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
            for child in text.split():
                found.extend(_children(int(child)))
    except OSError:
        pass
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeSampler(threading.Thread):
    """Peak of the summed RSS of a process and its descendants, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, sum(_rss_kb(p) for p in _children(self.pid)))
            self.done.wait(0.05)


def sampled(
    argv: Sequence[str], cwd: Path, env: dict[str, str], out: IO[str]
) -> tuple[int, float, float, int]:
    """Run ``argv`` to its end, output to ``out``: exit status, wall and CPU seconds
    (user+sys of the waited-for tree), and the process tree's peak RSS in kB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=out)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    code = proc.wait()
    wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return code, wall, cpu, sampler.peak


def unbound_queries(bed: Testbed) -> int:
    for line in bed.unbound_control("stats_noreset").splitlines():
        if line.startswith("total.num.queries="):
            return int(line.split("=", 1)[1])
    return 0


def measure(
    tool: str,
    size: int,
    argv: Sequence[str],
    bed: Testbed,
    *,
    env: dict[str, str] | None = None,
    report: Path | None = None,
    results: Path | None = None,
    log: Path,
) -> Run:
    before_q = unbound_queries(bed)
    with log.open("w") as out:
        code, wall, cpu, peak_kb = sampled(argv, REPO, env or {}, out)
    own = None
    if results is not None and results.exists():
        own = int(json.loads(results.read_text()).get("queries", {}).get("sent", 0))
    tail = log.read_text(errors="replace").strip().splitlines()
    return Run(
        tool=tool,
        size=size,
        wall=round(wall, 2),
        cpu=round(cpu, 2),
        rss_kb=peak_kb,
        queries_unbound=unbound_queries(bed) - before_q,
        queries_own=own,
        report_bytes=report.stat().st_size if report is not None and report.exists() else None,
        exit_code=code,
        tests=tail[-1][:160] if tail else "",
    )


# --- the compared commands -------------------------------------------------------------------


def dkimwatch_argv(tenant_dir: Path, resolver: str, reports: Path, *extra: str) -> list[str]:
    return [
        str(VENV_PYTEST),
        f"--domains={tenant_dir / 'domains.yaml'}",
        f"--nameserver={resolver}",
        "--now",
        NOW,
        f"--reports={reports}",
        "-q",
        *extra,
    ]


def commands(
    size: int, tenant_dir: Path, bed: Testbed, out: Path, record: Path
) -> list[tuple[str, list[str], dict[str, str], Path | None, Path | None]]:
    """(tool, argv, env, report file, results.json) of every compared run."""
    resolver = bed.resolver
    host, port = bed.resolver_addr
    peers_env = {
        "BENCH_DOMAINS": str(tenant_dir / "domains.txt"),
        "BENCH_NAMESERVER": resolver,
        "BENCH_FLOOR_CASES": str(out / "floor-cases.json"),
    }
    ini = ["-c", str(PEERS / "pytest.ini"), f"--rootdir={PEERS}"]
    runs: list[tuple[str, list[str], dict[str, str], Path | None, Path | None]] = []
    spread: tuple[tuple[str, tuple[str, ...]], ...] = ()
    if size < 10000:  # forced spreading, the evidence for declining -n (minutes at 10,000)
        spread = (("dkimwatch -n 2", ("-n", "2")),)
    for tool, extra in (
        ("dkimwatch", ()),
        ("dkimwatch -n auto", ("-n", "auto")),
        *spread,
        ("dkimwatch replay", (f"--replay={record}",)),
        ("dkimwatch spf+dmarc", ("-m", "spf or dmarc")),
    ):
        reports = out / tool.replace(" ", "_").replace("+", "_").replace("--", "")
        runs.append(
            (
                tool,
                dkimwatch_argv(tenant_dir, resolver, reports, *extra),
                {},
                reports / "report.html",
                reports / "results.json",
            )
        )
    cd_json = out / "checkdmarc.json"
    runs.append(
        (
            "checkdmarc",
            [
                str(PEERS_PY),
                str(PEERS / "checkdmarc_spf_dmarc.py"),
                "--port",
                str(port),
                "--",
                str(tenant_dir / "domains.txt"),
                "-n",
                host,
                "-o",
                str(cd_json),
            ],
            {},
            cd_json,
            None,
        )
    )
    for tool, suite in (("naive", "test_naive.py"), ("floor", "test_floor.py")):
        pytest_argv = [str(VENV_PYTEST), *ini, "-q", str(PEERS / suite)]
        runs.append((tool, pytest_argv, peers_env, None, None))
    floor_html = out / "floor.html"
    runs.append(
        (
            "floor --html",
            [
                str(VENV_PYTEST),
                *ini,
                "-q",
                str(PEERS / "test_floor.py"),
                f"--html={floor_html}",
                "--self-contained-html",
            ],
            peers_env,
            floor_html,
            None,
        )
    )
    return runs


def bench_size(size: int, repeats: int, skip: set[str]) -> tuple[list[Row], dict[str, Any]]:
    tenant_dir = tenant(size)
    out = CACHE / "out" / str(size)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix=f"dkw-bench-{size}-"))
    info: dict[str, Any] = {}
    # The floor's tests: the suite's, from the registry (untimed).
    info["floor_tests"] = floor_cases.write([tenant_dir / "domains.yaml"], out / "floor-cases.json")
    with BenchTestbed(tenant_dir / "zones", workdir=work, verbosity=0) as bed:
        record = out / "answers.json"
        warm_reports = out / "warm"
        # Warm-up (untimed): one dkimwatch run asks every question and records the answers.
        warm = measure(
            "warm-up",
            size,
            dkimwatch_argv(tenant_dir, bed.resolver, warm_reports, f"--record={record}"),
            bed,
            report=warm_reports / "report.html",
            results=warm_reports / "results.json",
            log=out / "warm.log",
        )
        info["warm-up"] = asdict(warm)
        print(f"  N={size} warm-up: {warm.wall:.1f}s, {warm.queries_unbound} queries", flush=True)
        rows: dict[str, Row] = {}
        info["commands"] = {}
        for rep in range(repeats):
            for tool, argv, env, report, results in commands(size, tenant_dir, bed, out, record):
                if tool in skip:
                    continue
                if results is not None:
                    shutil.rmtree(results.parent, ignore_errors=True)
                elif report is not None:
                    report.unlink(missing_ok=True)
                log = out / f"{tool.replace(' ', '_').replace('+', '_')}.{rep}.log"
                run = measure(
                    tool, size, argv, bed, env=env, report=report, results=results, log=log
                )
                rows.setdefault(tool, Row(tool, size)).runs.append(run)
                envtext = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
                info["commands"][tool] = (envtext + " " if envtext else "") + shlex.join(argv)
                print(
                    f"  N={size} #{rep + 1} {tool:<20} {run.wall:7.1f}s wall {run.cpu:7.1f}s cpu "
                    f"{run.rss_kb / 1024:6.0f} MB  {run.queries_unbound:7d} q  exit {run.exit_code}"
                    f"  {run.tests[:70]}",
                    flush=True,
                )
        info["resolver"] = bed.resolver
    shutil.rmtree(work, ignore_errors=True)
    return list(rows.values()), info


# --- output ----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    versions = subprocess.run(
        [str(VENV_PY), "-c", _VERSIONS], capture_output=True, text=True, check=False
    ).stdout.strip()
    peers = subprocess.run(
        [str(PEERS_PY), "-c", "import importlib.metadata as m; print(m.version('checkdmarc'))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    unbound = subprocess.run(["unbound", "-V"], capture_output=True, text=True, check=False)
    nsd = subprocess.run(["nsd", "-v"], capture_output=True, text=True, check=False)
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "checkdmarc": peers,
        "unbound": "Unbound " + unbound.stdout.split()[1] if unbound.stdout else "?",
        "nsd": (nsd.stderr or nsd.stdout).splitlines()[0] if (nsd.stderr or nsd.stdout) else "?",
    }


_VERSIONS = (
    "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
    "('pytest', 'pytest-xdist', 'pytest-html', 'dnspython', 'dkimwatch')))"
)


def _size(n: float | None) -> str:
    if n is None:
        return "—"
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{n / 1024:.0f} kB"


def table(rows: list[Row]) -> list[str]:
    lines = [
        "| N | tool | wall s (median) | runs | CPU s | DNS queries at Unbound | queries dkimwatch "
        "counted | peak RSS | report |",
        "|---:|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        walls = ", ".join(f"{r.wall:.1f}" for r in row.runs)
        own = {r.queries_own for r in row.runs if r.queries_own is not None}
        reports = [r.report_bytes for r in row.runs if r.report_bytes is not None]
        lines.append(
            f"| {row.size} | {row.tool} | {row.median('wall'):.1f} | {walls} | "
            f"{row.median('cpu'):.1f} | {int(row.median('queries_unbound'))} | "
            f"{', '.join(str(o) for o in sorted(own)) or '—'} | "
            f"{row.median('rss_kb') / 1024:.0f} MB | "
            f"{_size(statistics.median(reports)) if reports else '—'} |"
        )
    return lines


def ratios(rows: list[Row]) -> list[str]:
    by = {(r.size, r.tool): r.median("wall") for r in rows}
    out: list[str] = []
    sizes = sorted({r.size for r in rows})
    for n in sizes:

        def get(tool: str, size: int = n) -> float | None:
            return by.get((size, tool))

        dk, floor_html = get("dkimwatch"), get("floor --html")
        if dk and floor_html:
            out.append(f"- N={n}: dkimwatch / floor --html = {dk / floor_html:.2f} (target ≤ 1.3)")
        replay = get("dkimwatch replay")
        if replay and floor_html:
            out.append(
                f"- N={n}: dkimwatch replay (no DNS) / floor --html = {replay / floor_html:.2f}"
            )
        cd, sd = get("checkdmarc"), get("dkimwatch spf+dmarc")
        if cd and sd:
            out.append(f"- N={n}: checkdmarc / dkimwatch spf+dmarc = {cd / sd:.2f} (target ≥ 1.4)")
        if cd and dk:
            out.append(f"- N={n}: checkdmarc (2 checks) / dkimwatch (all checks) = {cd / dk:.2f}")
        for xdist in ("dkimwatch -n auto", "dkimwatch -n 2"):
            xd = get(xdist)
            if xd and dk:
                out.append(f"- N={n}: {xdist} / serial = {xd / dk:.2f} (target ≤ 1.0)")
        naive = get("naive")
        if naive and dk:
            out.append(f"- N={n}: naive / dkimwatch = {naive / dk:.2f}")
    for tool in ("dkimwatch", "dkimwatch -n auto", "floor --html"):
        big, small = by.get((10000, tool)), by.get((1000, tool))
        if big and small:
            out.append(f"- {tool}: t(10,000) / t(1,000) = {big / small:.2f} (target ≤ 11)")
    return out


def chromium(report: Path, shots: Path, timeout: float = 600) -> dict[str, Any]:
    """Open a report in headless Chromium (a screenshot is taken after the load event),
    timed against a blank page to take Chromium's own start-up out. A page that has not
    loaded after ``timeout`` seconds is given up on: the browser's whole process group is
    killed (its renderer can grow to many GB on a huge page)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        return {"error": "chromium not installed (apt-get install chromium)"}
    shots.mkdir(parents=True, exist_ok=True)
    blank = shots / "blank.html"
    blank.write_text("<!doctype html><title>blank</title><p>blank</p>")

    def shoot(page: Path, png: Path) -> tuple[float, int | None]:
        png.unlink(missing_ok=True)
        argv = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1400,1800",
            f"--screenshot={png}",
            f"file://{page}",
        ]
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
        return time.perf_counter() - start, code

    base, _ = shoot(blank, shots / "blank.png")
    png = shots / f"{report.parent.name}-{report.stem}.png"
    took, code = shoot(report, png)
    return {
        "report": str(report),
        "report_bytes": report.stat().st_size,
        "loaded": code == 0 and png.exists() and png.stat().st_size > 0,
        "chromium_exit": code if code is not None else f"killed after {timeout:g} s",
        "screenshot": str(png),
        "seconds_total": round(took, 1),
        "seconds_blank_page": round(base, 1),
        "seconds_load": round(took - base, 1),
    }


def write_results(
    rows: list[Row], infos: dict[int, dict[str, Any]], extra: dict[str, Any], path: Path
) -> None:
    m = machine()
    lines = [
        "# Benchmark results",
        "",
        f"Written by `bench/run_bench.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "Medians of the interleaved repetitions; every tool ran against the same Unbound,",
        "warmed by one untimed dkimwatch run. The machine is shared and noisy: compare rows of",
        "one size (they ran side by side), not absolute seconds across runs.",
        "",
        "## Machine",
        "",
        f"- nproc: {m['nproc']}; CPU: {m['cpu']}; RAM: {m['ram']}",
        f"- {m['os']}; Python {m['python']}",
        f"- {m['packages']}; checkdmarc {m['checkdmarc']} (separate venv)",
        f"- {m['unbound']}; {m['nsd']}",
        "",
        "## Results",
        "",
        *table(rows),
        "",
        "## Ratios (medians, same run)",
        "",
        *ratios(rows),
        "",
    ]
    if extra.get("chromium"):
        c = extra["chromium"]
        lines += ["## The largest report in headless Chromium", ""]
        lines += [f"- {k}: {v}" for k, v in c.items()]
        lines.append("")
    lines += ["## Commands", ""]
    for size, info in sorted(infos.items()):
        lines.append(f"N={size} (resolver {info.get('resolver')}; paths under the repo root):")
        lines.append("")
        lines.append("```sh")
        lines.extend(info.get("commands", {}).values())
        lines.append("```")
        lines.append("")
    text = "\n".join(lines)
    # From msp_bench.py's section on, the file is not this script's: msp_bench.py's figures,
    # the earlier runs' tables and the hand-written sections after them are kept as they are.
    old = path.read_text() if path.exists() else ""
    if MSP_BEGIN in old:
        kept = old.split(MSP_BEGIN, 1)[1]
        text = text.rstrip("\n") + f"\n\n{MSP_BEGIN}{kept}"
    path.write_text(text)
    raw = CACHE / "results-raw.json"
    raw.write_text(
        json.dumps(
            {"machine": m, "rows": [asdict(r) for r in rows], "info": infos, "extra": extra},
            indent=1,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sizes", default="70,1000,10000")
    parser.add_argument("--repeats", type=int, default=2, help="below 10,000 domains")
    parser.add_argument("--repeats-large", type=int, default=1, help="at 10,000 domains and up")
    parser.add_argument("--skip", action="append", default=[], help="a tool to leave out")
    parser.add_argument("--chromium", action="store_true", help="open the largest report")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--open", type=Path, help="only open this report in Chromium, timed")
    args = parser.parse_args(argv)
    if args.open:
        print(json.dumps(chromium(args.open.resolve(), CACHE / "out" / "chromium"), indent=1))
        return 0
    if not PEERS_PY.exists():
        print(f"missing {PEERS_PY}: see this script's docstring", file=sys.stderr)
        return 2
    rows: list[Row] = []
    infos: dict[int, dict[str, Any]] = {}
    extra: dict[str, Any] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        repeats = args.repeats if size < 10000 else args.repeats_large
        print(f"N={size}: {repeats} repetition(s)", flush=True)
        size_rows, infos[size] = bench_size(size, repeats, set(args.skip))
        rows.extend(size_rows)
        print("\n".join(table(rows)), flush=True)
        write_results(rows, infos, extra, args.out)
    if args.chromium:
        largest = max(infos)
        report = CACHE / "out" / str(largest) / "dkimwatch" / "report.html"
        if report.exists():
            extra["chromium"] = chromium(report, CACHE / "out" / "chromium")
            print(json.dumps(extra["chromium"], indent=1))
    print("\n".join(["", *table(rows), "", *ratios(rows)]))
    write_results(rows, infos, extra, args.out)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
