"""The MSP benchmark (issue 16): an estate of 200 tenants × 50 domains, side by side with
pytest's floor, in 10 shards merged, at the seed's size, and its growth toward 100,000.

The estate is an inventory directory (one ``<tenant>.yaml`` per tenant, each with its own
``tenant:`` and Exchange Online zone) generated with gen_tenant's kinds, about 3 % of the
domains failing (a missing active key, a missing DMARC record), its zones served offline
by NSD behind Unbound (run_bench's test bed, warmed by one untimed run that records every
answer; ``--dns zones``: the embedded server instead, slow beyond a few thousand zones, see
RESULTS.md). One invocation measures:

  single      ``pytest --domains=DIR``: wall, CPU, peak RSS of the process tree, report.html,
              results.json and junit.xml sizes, and headless Chromium's load of report.html
              (less a blank page's)
  floor       the suite's tests (same names, ids and count per domain: peers/floor_cases.py)
              doing nothing, with pytest-html's self-contained report
  shards      the same estate as ``--shard i/N`` one after the other, each with its own
              ``--reports`` folder, answering from the warm-up's record (``--replay``: the
              answers identical, as the issue has it; ``--shards-ask-dns``: from the DNS),
              then ``dkimwatch merge DIR… -o OUT``; each shard's and the merge's figures, and
              the merged results compared with the single run's (outcome, verdict, message
              and fixes per node id; summary and domain counts; failures.csv rows)
  seed        70 domains (gen_tenant's scale profile, as RESULTS.md's 70-domain row): the
              suite and floor --html, interleaved, medians
  growth      runs of the estate's first tenants (a tenth, a quarter, half) and one shard
              asking the DNS: time, RSS and report sizes per domain, fitted and projected to
              a 100,000-domain estate in shards (the formulas are printed with the figures)

Figures go to bench/.cache/msp/<label>/msp.json and msp.md; ``--update-results`` puts the
markdown between the ``<!-- msp -->`` markers of bench/RESULTS.md. The full size takes
about 10 minutes (the test bed's start with 10,201 zones, a warm-up, and ~6 runs' worth of
10,000 domains): run it on a quiet machine.

    .venv/bin/python bench/msp_bench.py --update-results          # 10,000 domains
    nice -n 19 .venv/bin/python bench/msp_bench.py --domains 500  # a quick check
    .venv/bin/python bench/msp_bench.py --repo /tmp/main-bench --label main
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import gen_tenant  # noqa: E402
from run_bench import MSP_BEGIN, MSP_END, NOW, BenchTestbed, chromium, sampled  # noqa: E402
from run_bench import tenant as scale_tenant  # noqa: E402

CACHE = BENCH / ".cache" / "msp"
RESULTS_MD = BENCH / "RESULTS.md"

DOMAINS = 10_000
PER_TENANT = 50
SHARDS = 10
SEED_DOMAINS = 70
# A few per cent failing: what an MSP's mostly healthy estate looks like.
WEIGHTS = {"healthy": 75, "healthy_both": 22, "active_key_missing": 2, "no_dmarc": 1}

# The targets.
TARGET_WALL_RATIO = 1.2  # single run / floor --html
TARGET_RSS_MB = 1024
TARGET_HTML_MB = 10.0
TARGET_LOAD_S = 5.0
TARGET_JSON_MB = 40.0
TARGET_MERGE_SHARE = 0.10  # merge / single run
# RESULTS.md's 70-domain row (run_bench.py, 2026-11-23, through the test bed's Unbound,
# 9 tests per domain then): "today" for "70 domains no slower than today".
BASELINE_70 = {"dkimwatch_s": 0.9, "floor_html_s": 0.5, "ratio": 2.03, "tests_per_domain": 9}
ESTATE_100K = 100_000


# --- the estate ------------------------------------------------------------------------------


def estate(domains: int, per_tenant: int) -> Path:
    """bench/.cache/msp/estate-N-T: tenants/NNN-<tenant>.yaml (T domains each, in tenant
    order), zones/ (every tenant's domains and Microsoft zones), kinds.json; generated once,
    then cached. Each tenant comes from its own seed, so the first tenants of any estate are
    the same (the growth runs audit the first K domains of this one)."""
    out = CACHE / f"estate-{domains}-{per_tenant}"
    if (out / "kinds.json").exists():
        return out
    keys = gen_tenant.KeyPool(4, "msp")  # shared: key generation is slow
    width = len(str(per_tenant - 1))
    tenants: list[gen_tenant.Tenant] = []
    kinds: dict[str, str] = {}
    for t in range(math.ceil(domains / per_tenant)):
        rng = random.Random(f"msp-{per_tenant}-{t}")
        tenant = gen_tenant.Tenant(f"{rng.choice(gen_tenant.STEMS)}{t:03d}", keys)
        count = min(per_tenant, domains - t * per_tenant)
        picked = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=count)
        plans = [
            gen_tenant.Plan(
                kind,
                f"t{t:03d}-d{j:0{width}d}-{rng.choice(gen_tenant.STEMS)}.example",
                rotate=gen_tenant._rotation(rng, future=False),
            )
            for j, kind in enumerate(picked)
        ]
        gen_tenant.build(tenant, plans, gen_tenant.DEMO_NOW)
        tenants.append(tenant)
        kinds.update(tenant.kinds)
    work = out.with_name(out.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    (work / "tenants").mkdir(parents=True)
    gen_tenant.write_zones(work / "zones", tenants)
    for t, tenant in enumerate(tenants):
        text = gen_tenant.inventory_text(tenant, "../zones")
        (work / "tenants" / f"{t:03d}-{tenant.name}.yaml").write_text(text)
    (work / "kinds.json").write_text(json.dumps(kinds, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    return out


def first_tenants(estate_dir: Path, domains: int, per_tenant: int) -> Path:
    """A directory of the estate's first tenants, ``domains`` domains in all (whole tenants),
    their files as they are (they name the estate's zones, ../zones)."""
    folder = estate_dir / f"first-{domains}"
    files = sorted((estate_dir / "tenants").glob("*.yaml"))[: domains // per_tenant]
    if not folder.exists():
        work = estate_dir / f"first-{domains}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        for f in files:
            shutil.copyfile(f, work / f.name)
        work.rename(folder)
    return folder


def failing_share(estate_dir: Path) -> float:
    kinds = json.loads((estate_dir / "kinds.json").read_text())
    failing = sum(1 for k in kinds.values() if k not in ("healthy", "healthy_both"))
    return failing / len(kinds)


# --- running and measuring -------------------------------------------------------------------


@dataclass(frozen=True)
class Checkout:
    """The checkout measured: its venv, or this one's with that checkout's code first."""

    repo: Path
    bin: Path
    env: dict[str, str]

    @classmethod
    def of(cls, repo: Path) -> Checkout:
        own = repo / ".venv" / "bin"
        if own.exists():
            return cls(repo, own, {})
        return cls(repo, BENCH.parent / ".venv" / "bin", {"PYTHONPATH": str(repo / "src")})

    def pytest(self, *args: str) -> list[str]:
        return [str(self.bin / "pytest"), *args]

    def python(self, *args: str) -> list[str]:
        return [str(self.bin / "python"), *args]


def timed(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``argv`` once: wall and CPU time (user+sys of the waited-for tree), peak RSS of
    the process tree, exit status, and the load average it started under."""
    load = os.getloadavg()[0]
    with log.open("w") as out:
        out.write(shlex.join(argv) + "\n")
        out.flush()
        code, wall, cpu, peak_kb = sampled(argv, cwd, env, out)
    lines = log.read_text(errors="replace").strip().splitlines()
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(peak_kb / 1024),
        "exit": code,
        "load_before": round(load, 2),
        "last_line": lines[-1][:200] if lines else "",
        "command": shlex.join(argv),
    }


def mb(path: Path) -> float | None:
    return round(path.stat().st_size / 1e6, 2) if path.exists() else None


def report_sizes(reports: Path) -> dict[str, float | None]:
    return {
        "report_html_mb": mb(reports / "report.html"),
        "results_json_mb": mb(reports / "results.json"),
        "junit_xml_mb": mb(reports / "junit.xml"),
    }


def audit(co: Checkout, domains: Path, reports: Path, log: Path, *extra: str) -> dict[str, Any]:
    """One dkimwatch run into a fresh ``reports`` folder, with its figures."""
    shutil.rmtree(reports, ignore_errors=True)
    argv = co.pytest(
        f"--domains={domains}",
        "--now",
        NOW,
        f"--reports={reports}",
        "-q",
        *extra,
    )
    return {**timed(argv, co.repo, co.env, log), **report_sizes(reports)}


def floor_run(
    co: Checkout, domains: Path, out: Path, name: str, outcomes: Path | None = None
) -> dict[str, Any]:
    """The floor with its HTML report, for the same inventory (its cases written untimed);
    with ``outcomes`` (the suite's results.json), its tests end as the suite's did."""
    cases = out / f"{name}-cases.json"
    write = co.python(
        str(BENCH / "peers" / "floor_cases.py"), f"--domains={domains}", "-o", str(cases)
    )
    if outcomes is not None:
        write.append(f"--outcomes={outcomes}")
    subprocess.run(
        write, cwd=co.repo, env={**os.environ, **co.env}, check=True, stdout=subprocess.DEVNULL
    )
    html = out / f"{name}.html"
    html.unlink(missing_ok=True)
    argv = co.pytest(
        "-c",
        str(BENCH / "peers" / "pytest.ini"),
        f"--rootdir={BENCH / 'peers'}",
        str(BENCH / "peers" / "test_floor.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        f"--html={html}",
        "--self-contained-html",
    )
    env = {**co.env, "BENCH_FLOOR_CASES": str(cases)}
    tests = sum(len(ids) for ids in json.loads(cases.read_text())["tests"].values())
    return {**timed(argv, co.repo, env, out / f"{name}.log"), "tests": tests, "html_mb": mb(html)}


def domain_total(results: Path) -> int | None:
    if not results.exists():
        return None
    return int(json.loads(results.read_text()).get("domains", {}).get("total", 0))


def tests_of(results: Path) -> int | None:
    if not results.exists():
        return None
    return int(sum(json.loads(results.read_text()).get("summary", {}).values()))


# --- merged against single -------------------------------------------------------------------


def outcome_table(results: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    doc = json.loads(results.read_text())
    verdicts = {
        r["nodeid"]: [r["outcome"], r["result"], r["message"], r.get("fixes")]
        for r in doc["results"]
    }
    return verdicts, {"summary": doc.get("summary"), "domains": doc.get("domains")}


def csv_rows(path: Path) -> list[str]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return sorted(json.dumps(row, sort_keys=True) for row in csv.DictReader(f))


def compare(single: Path, merged: Path) -> dict[str, Any]:
    """The merged run's verdicts against the single run's: "identical", or what differs."""
    if not (merged / "results.json").exists():
        return {"identical": False, "differences": ["merge wrote no results.json"]}
    one, one_counts = outcome_table(single / "results.json")
    other, other_counts = outcome_table(merged / "results.json")
    diffs: list[str] = []
    for nodeid in sorted(one.keys() | other.keys()):
        a, b = one.get(nodeid), other.get(nodeid)
        if a != b:
            diffs.append(f"{nodeid}: single {a!r:.120} merged {b!r:.120}")
    for key in ("summary", "domains"):
        if one_counts[key] != other_counts[key]:
            diffs.append(f"{key}: single {one_counts[key]} merged {other_counts[key]}")
    if csv_rows(single / "failures.csv") != csv_rows(merged / "failures.csv"):
        diffs.append("failures.csv rows differ")
    return {
        "identical": not diffs,
        "results_compared": len(one),
        "summary": one_counts["summary"],
        "domains": one_counts["domains"],
        "differences": diffs[:20],
        "differences_total": len(diffs),
    }


def evidence_coverage(results: Path) -> dict[str, int]:
    """How many results name DNS evidence (every verdict that asked DNS should)."""
    doc = json.loads(results.read_text())
    with_evidence = sum(1 for r in doc["results"] if r.get("evidence"))
    return {"results": len(doc["results"]), "with_evidence": with_evidence}


# --- growth and the 100,000-domain projection ------------------------------------------------


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares line y = a + b·x through ``points`` (a, b)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return my - b * mx, b


def projection(
    growth: list[dict[str, Any]],
    shards: list[dict[str, Any]],
    domains: int,
    runner_gb: float,
    headroom: float,
    merge: dict[str, Any] | None,
    max_domains: int | None,
) -> dict[str, Any]:
    """Per-domain growth fitted on the measured runs, the shards' extra cost of reading the
    whole estate, and what that makes of a 100,000-domain estate on ``runner_gb`` runners."""
    metrics = ("wall_s", "peak_rss_mb", "report_html_mb", "results_json_mb", "junit_xml_mb")
    fits = {m: fit([(g["domains"], g[m]) for g in growth if g.get(m) is not None]) for m in metrics}
    out: dict[str, Any] = {
        "points": [{k: g.get(k) for k in ("domains", *metrics)} for g in growth],
        "fits": {m: {"fixed": round(a, 3), "per_domain": b} for m, (a, b) in fits.items()},
    }
    # A shard reads every inventory of the estate, then audits its part: its cost beyond a
    # run of its own size is put down to the estate's size (per estate domain).
    extra: dict[str, float] = {}
    for m in ("wall_s", "peak_rss_mb"):
        a, b = fits[m]
        over = [s[m] - (a + b * s["domains"]) for s in shards if s.get("domains")]
        extra[m] = max(0.0, statistics.fmean(over) / domains) if over else 0.0
    out["shard_overhead_per_estate_domain"] = extra
    budget = runner_gb * 1024 * headroom

    def shard(k: float) -> dict[str, float]:
        row = {m: fits[m][0] + fits[m][1] * k for m in metrics}
        for m in ("wall_s", "peak_rss_mb"):
            row[m] += extra[m] * ESTATE_100K
        return {m: round(v, 1) for m, v in row.items()}

    a_rss, b_rss = fits["peak_rss_mb"]
    a_html, b_html = fits["report_html_mb"]
    fixed_rss = a_rss + extra["peak_rss_mb"] * ESTATE_100K

    def shards_for(limit: float, fixed: float, per: float) -> int | None:
        if per <= 0:
            return 1
        if limit <= fixed:
            return None  # not even one domain fits
        return math.ceil(ESTATE_100K / ((limit - fixed) / per))

    # A run takes at most max_domains of its own (a shard counts its part): a floor.
    least = math.ceil(ESTATE_100K / max_domains) if max_domains else 1
    need = {
        "limit": least,
        "runner": max(least, shards_for(budget, fixed_rss, b_rss) or least),
        "rss_1gb": shards_for(TARGET_RSS_MB, fixed_rss, b_rss),
        "html_10mb": shards_for(TARGET_HTML_MB, a_html, b_html),
    }
    out["shards_needed"] = need
    table: dict[str, dict[str, float]] = {}
    for n in sorted({10, 20, 50, 100, *(v for v in need.values() if v)}):
        row = shard(ESTATE_100K / n)
        row["serial_total_s"] = round(row["wall_s"] * n, 1)
        table[str(n)] = row
    out["per_shard"] = table
    whole = {m: round(fits[m][0] + fits[m][1] * ESTATE_100K, 1) for m in metrics}
    out["one_run_of_100k"] = whole
    out["runner_budget_mb"] = round(budget)
    scale = ESTATE_100K / domains
    single = next((g for g in growth if g["domains"] == domains), None)
    if merge and single:
        # A merge that replays the estate is a run over all of it plus what it does beyond
        # a single run (reading every shard's answers). One measurement cannot tell that
        # excess's fixed part from its growth: a range, excess fixed … excess ∝ estate.
        out["merge_of_100k"] = {
            m: sorted(
                [
                    round(whole[m] + merge[m] - single[m], 1),
                    round(whole[m] + (merge[m] - single[m]) * scale, 1),
                ]
            )
            for m in ("wall_s", "peak_rss_mb")
        }
    out["max_domains"] = max_domains
    out["over_limit"] = max_domains is not None and max_domains < ESTATE_100K
    out["formula"] = [
        "y(K) = fixed + per_domain·K, least squares over the growth runs (K domains each)",
        "shard of K domains in an estate of M: wall = a_t + b_t·K + o_t·M, "
        "RSS = a_m + b_m·K + o_m·M (o: the measured shards' excess over y(K), per estate "
        "domain, floored at 0)",
        f"shards for M = {ESTATE_100K:,} on a {runner_gb:g} GB runner: "
        f"ceil(M / ((budget − a_m − o_m·M) / b_m)), budget = {runner_gb:g} GB × {headroom:g}",
        "the merged report of the whole estate: report_html(M), results_json(M) as fitted",
        f"merge of M, wall and RSS: y(M) + d … y(M) + d × M / {domains:,}, d = merge − "
        f"single run, both measured at {domains:,} domains",
    ]
    return out


# --- output ----------------------------------------------------------------------------------


def machine(co: Checkout) -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    mem = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    versions = subprocess.run(
        co.python(
            "-c",
            "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
            "('pytest', 'pytest-html', 'dnspython', 'dkimwatch')))",
        ),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **co.env},
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "-C", str(co.repo), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem / 1024 / 1024:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "commit": commit,
    }


def max_domains(co: Checkout) -> int | None:
    """The checkout's limit of domains for one run (inventory.MAX_DOMAINS), if it has one."""
    code = "from dkimwatch.inventory import MAX_DOMAINS; print(MAX_DOMAINS)"
    proc = subprocess.run(
        co.python("-c", code),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **co.env},
    )
    return int(proc.stdout) if proc.returncode == 0 and proc.stdout.strip().isdigit() else None


def _n(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def markdown(r: dict[str, Any]) -> list[str]:
    s = r["single"]
    lines = [
        f"## The MSP estate (issue 16): {r['tenants']} tenants × {r['per_tenant']} domains",
        "",
        f"Written by `bench/msp_bench.py` ({r['label']}, commit {r['machine']['commit']}) on "
        f"{r['written']}; {r['machine']['nproc']} cores, {r['machine']['ram']}, "
        f"{r['machine']['packages']}. Load average before each run is in the JSON "
        f"(`{r['json']}`); one run each unless said.",
        "",
        f"The estate: {r['domains']:,} domains in {r['tenants']} inventories "
        f"(`--domains=DIR`), {r['failing_share'] * 100:.1f} % of the domains failing; "
        f"{_n(s.get('tests'))} tests ({r['tests_per_domain']} per domain). DNS: "
        + (
            "the test bed (NSD behind Unbound, `--nameserver`), warmed by one untimed run "
            "that also recorded every answer"
            if r["dns"] == "testbed"
            else "the zone files through the embedded server (`dns.zones`), after one "
            "untimed run that recorded every answer"
        )
        + ".",
        "",
        "| run | wall s | CPU s | peak RSS | report.html | results.json | junit.xml |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| single run | {_n(s['wall_s'])} | {_n(s['cpu_s'])} | {_n(s['peak_rss_mb'])} MB | "
        f"{_n(s['report_html_mb'])} MB | {_n(s['results_json_mb'])} MB | "
        f"{_n(s['junit_xml_mb'])} MB |",
    ]
    f = r.get("floor")
    if f:
        lines.append(
            f"| floor --html ({_n(f['tests'])} tests) | {_n(f['wall_s'])} | {_n(f['cpu_s'])} | "
            f"{_n(f['peak_rss_mb'])} MB | {_n(f['html_mb'])} MB | — | — |"
        )
    fo = r.get("floor_outcomes")
    if fo:
        lines.append(
            f"| floor --html, ending as the suite did | {_n(fo['wall_s'])} | {_n(fo['cpu_s'])} | "
            f"{_n(fo['peak_rss_mb'])} MB | {_n(fo['html_mb'])} MB | — | — |"
        )
    sh = r.get("shards")
    if sh:
        for row in sh["runs"]:
            lines.append(
                f"| shard {row['shard']} ({_n(row['domains'])} domains) | {_n(row['wall_s'])} | "
                f"{_n(row['cpu_s'])} | {_n(row['peak_rss_mb'])} MB | "
                f"{_n(row['report_html_mb'])} MB | {_n(row['results_json_mb'])} MB | "
                f"{_n(row['junit_xml_mb'])} MB |"
            )
        m = sh["merge"]
        lines.append(
            f"| `dkimwatch merge` of {sh['count']} | {_n(m['wall_s'])} | {_n(m['cpu_s'])} | "
            f"{_n(m['peak_rss_mb'])} MB | {_n(m['report_html_mb'])} MB | "
            f"{_n(m['results_json_mb'])} MB | {_n(m['junit_xml_mb'])} MB |"
        )
    c = r.get("chromium") or {}
    lines += ["", "| target | measured | met? |", "|---|---|---|"]
    if f:
        ratio = s["wall_s"] / f["wall_s"]
        lines.append(
            f"| wall ≤ {TARGET_WALL_RATIO} × floor --html | {ratio:.2f} ({_n(s['wall_s'])} s "
            f"against {_n(f['wall_s'])} s) | {_met(ratio <= TARGET_WALL_RATIO)} |"
        )
    if fo:
        ratio = s["wall_s"] / fo["wall_s"]
        lines.append(
            f"| wall ≤ {TARGET_WALL_RATIO} × floor --html whose tests end as the suite's "
            f"(pytest's own skip, xfail and fail with the suite's messages; its report lists "
            f"each) | {ratio:.2f} ({_n(s['wall_s'])} s "
            f"against {_n(fo['wall_s'])} s) | {_met(ratio <= TARGET_WALL_RATIO)} |"
        )
    lines += [
        f"| peak RSS ≤ 1 GB | {_n(s['peak_rss_mb'])} MB | "
        f"{_met(s['peak_rss_mb'] <= TARGET_RSS_MB)} |",
        f"| report.html ≤ {TARGET_HTML_MB:g} MB | {_n(s['report_html_mb'])} MB | "
        f"{_met(s['report_html_mb'] is not None and s['report_html_mb'] <= TARGET_HTML_MB)} |",
    ]
    if c.get("seconds_load") is not None:
        loaded = bool(c.get("loaded"))
        lines.append(
            f"| loaded in headless Chromium ≤ {TARGET_LOAD_S:g} s | {c['seconds_load']} s "
            f"(blank page {c['seconds_blank_page']} s; loaded: {loaded}) | "
            f"{_met(loaded and c['seconds_load'] <= TARGET_LOAD_S)} |"
        )
    elif c:
        lines.append(f"| loaded in headless Chromium ≤ {TARGET_LOAD_S:g} s | {c} | — |")
    ev = r.get("evidence") or {}
    lines.append(
        f"| results.json ≤ {TARGET_JSON_MB:g} MB with every verdict's evidence | "
        f"{_n(s['results_json_mb'])} MB; {_n(ev.get('with_evidence'))} of "
        f"{_n(ev.get('results'))} results name DNS evidence | "
        f"{_met(s['results_json_mb'] is not None and s['results_json_mb'] <= TARGET_JSON_MB)} |"
    )
    if sh:
        cmp_ = sh["compare"]
        share = sh["merge"]["wall_s"] / s["wall_s"]
        said = (
            "identical"
            if cmp_["identical"]
            else f"{cmp_['differences_total']} difference(s): {'; '.join(cmp_['differences'][:3])}"
        )
        lines += [
            f"| {sh['count']} shards merged = the single run | {said} "
            f"({_n(cmp_.get('results_compared'))} results; answers: {sh['answers']}) | "
            f"{_met(cmp_['identical'])} |",
            f"| merge ≤ 10 % of the single run's time | {share * 100:.0f} % "
            f"({_n(sh['merge']['wall_s'])} s; shards in all {_n(sh['total_wall_s'])} s) | "
            f"{_met(share <= TARGET_MERGE_SHARE)} |",
        ]
    seed = r.get("seed")
    side = (seed or {}).get("side_by_side")
    if seed and side:
        lines.append(
            f"| {SEED_DOMAINS} domains no slower than today | {_n(seed['dkimwatch_s'], 2)} s "
            f"against {_n(side['median_s'], 2)} s for the baseline checkout ({side['repo']}), "
            f"side by side on the same inventory and DNS (medians of {seed['repeats']}; "
            f"{seed['tests_per_domain']} tests per domain now) | "
            f"{_met(seed['dkimwatch_s'] <= side['median_s'])} |"
        )
    elif seed:
        base = BASELINE_70
        lines.append(
            f"| {SEED_DOMAINS} domains no slower than today | {_n(seed['dkimwatch_s'], 2)} s "
            f"(median of {seed['repeats']}; floor --html {_n(seed['floor_html_s'], 2)} s, "
            f"{seed['ratio']:.2f} ×) against RESULTS.md's {base['dkimwatch_s']} s "
            f"({base['ratio']:.2f} × floor --html; "
            f"{base['tests_per_domain']} tests per domain then, {seed['tests_per_domain']} now; "
            f"Unbound then, {'Unbound' if r['dns'] == 'testbed' else 'zone files'} now) | "
            f"{_met(seed['dkimwatch_s'] <= base['dkimwatch_s'])} |"
        )
    p = r.get("projection")
    if p:
        lines += ["", "### Growth and 100,000 domains (on paper)", ""]
        lines += ["| domains | wall s | peak RSS MB | report.html MB | results.json MB |"]
        lines += ["|---:|---:|---:|---:|---:|"]
        for g in p["points"]:
            lines.append(
                f"| {_n(g['domains'])} | {_n(g['wall_s'])} | {_n(g['peak_rss_mb'])} | "
                f"{_n(g['report_html_mb'])} | {_n(g['results_json_mb'])} |"
            )
        lines += ["", "Fitted (least squares over these runs), per domain:", ""]
        for m, v in p["fits"].items():
            lines.append(f"- {m}: {v['fixed']:g} + {v['per_domain']:.5g} × K")
        o = p["shard_overhead_per_estate_domain"]
        lines.append(
            f"- a shard's excess over a run of its size, per domain of the estate it reads: "
            f"{o['wall_s']:.3g} s, {o['peak_rss_mb']:.3g} MB"
        )
        lines += ["", *(f"- {x}" for x in p["formula"]), ""]
        need = p["shards_needed"]
        lines.append(
            f"A {ESTATE_100K:,}-domain estate: one run of it would take "
            f"~{_n(p['one_run_of_100k']['wall_s'], 0)} s and "
            f"~{_n(p['one_run_of_100k']['peak_rss_mb'], 0)} MB, with a "
            f"{_n(p['one_run_of_100k']['report_html_mb'])} MB report.html and a "
            f"{_n(p['one_run_of_100k']['results_json_mb'])} MB results.json (the merged "
            f"outputs' size). Shards needed: {_n(need['runner'])} for a "
            f"{r['runner_gb']:g} GB runner (budget {_n(p['runner_budget_mb'])} MB), "
            f"{_n(need['rss_1gb'])} for ≤ 1 GB each, {_n(need['html_10mb'])} for a shard "
            "report.html ≤ 10 MB."
        )
        if p.get("merge_of_100k"):
            mg = p["merge_of_100k"]
            lines.append(
                "`dkimwatch merge` of it, from the merge measured here: "
                f"{_n(mg['wall_s'][0], 0)} … {_n(mg['wall_s'][1], 0)} s, "
                f"{_n(mg['peak_rss_mb'][0], 0)} … {_n(mg['peak_rss_mb'][1], 0)} MB."
            )
        if p.get("over_limit"):
            lines += [
                "",
                f"**Limit**: one run takes at most {p['max_domains']:,} domains "
                "(`MAX_DOMAINS`); a `--shard` run reads the whole estate and counts its own "
                f"part, so a {ESTATE_100K:,}-domain estate needs at least "
                f"{_n(need.get('limit'))} shards whatever the runner's memory.",
            ]
        lines += [
            "",
            "| shards | domains each | wall s each | all, one after the other s | RSS MB each "
            "| report.html MB each |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for n, row in p["per_shard"].items():
            lines.append(
                f"| {n} | {ESTATE_100K // int(n):,} | {_n(row['wall_s'])} | "
                f"{_n(row['serial_total_s'], 0)} | {_n(row['peak_rss_mb'], 0)} | "
                f"{_n(row['report_html_mb'])} |"
            )
    lines += ["", "Commands (paths as run):", "", "```sh"]
    lines += [s["command"]]
    if f:
        lines.append(f["command"])
    if sh:
        lines += [sh["runs"][0]["command"] + "   # … each shard", sh["merge"]["command"]]
    lines += ["```", ""]
    return lines


def update_results(md: list[str], path: Path) -> None:
    """Put ``md`` between the msp markers of ``path`` (appended with them if absent)."""
    text = path.read_text() if path.exists() else ""
    block = "\n".join([MSP_BEGIN, *md, MSP_END])
    if MSP_BEGIN in text and MSP_END in text:
        head, rest = text.split(MSP_BEGIN, 1)
        tail = rest.split(MSP_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


# --- the parts -------------------------------------------------------------------------------


@contextmanager
def serving(mode: str, zones: Path) -> Iterator[tuple[str, ...]]:
    """The DNS the runs ask, as extra pytest arguments. "testbed": NSD serving ``zones``
    behind Unbound (run_bench's test bed, as RESULTS.md's tables), ``--nameserver`` at it.
    "zones": the inventories' own ``dns.zones`` through the embedded server (no argument)."""
    if mode == "zones":
        yield ()
        return
    work = Path(tempfile.mkdtemp(prefix="dkw-msp-"))
    try:
        with BenchTestbed(zones, workdir=work, verbosity=0) as bed:
            yield (f"--nameserver={bed.resolver}",)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_shards(
    co: Checkout,
    tenants: Path,
    out: Path,
    count: int,
    answers: tuple[str, ...],
    replay: Path | None,
) -> dict[str, Any]:
    """``--shard i/count`` one after the other, then ``dkimwatch merge`` of their folders."""
    rows: list[dict[str, Any]] = []
    folders: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    extra = (f"--replay={replay}",) if replay else answers
    for i in range(1, count + 1):
        folder = out / f"shard{i}"
        row = audit(co, tenants, folder, out / f"shard{i}.log", f"--shard={i}/{count}", *extra)
        row.update(
            shard=f"{i}/{count}",
            domains=domain_total(folder / "results.json"),
            answers_json_mb=mb(folder / "answers.json"),
        )
        rows.append(row)
        folders.append(folder)
        print(f"  shard {i}/{count}: {row['wall_s']} s, {row['peak_rss_mb']} MB", flush=True)
    merged = out / "merged"
    shutil.rmtree(merged, ignore_errors=True)
    argv = co.python("-m", "dkimwatch.cli", "merge", *map(str, folders), "-o", str(merged))
    merge = {**timed(argv, co.repo, co.env, out / "merge.log"), **report_sizes(merged)}
    print(f"  merge: {merge['wall_s']} s, {merge['peak_rss_mb']} MB", flush=True)
    return {
        "count": count,
        "answers": "--replay of the warm-up's record" if replay else "asked the DNS",
        "runs": rows,
        "total_wall_s": round(sum(r["wall_s"] for r in rows), 2),
        "merge": merge,
    }


def run_seed(
    co: Checkout, out: Path, repeats: int, dns_mode: str, baseline: Checkout | None = None
) -> dict[str, Any]:
    """The seed's size (gen_tenant's scale profile, as RESULTS.md's row): one untimed
    warm-up, then the suite and floor --html interleaved (and the baseline checkout's suite,
    when given, on the same inventory and DNS); medians."""
    seed = scale_tenant(SEED_DOMAINS)
    inventory = seed / "domains.yaml"
    suite: list[float] = []
    floor: list[float] = []
    before: list[float] = []
    tests = None
    with serving(dns_mode, seed / "zones") as dns:
        audit(co, inventory, out / "seed-reports", out / "seed.warm.log", *dns)
        if baseline is not None:
            audit(baseline, inventory, out / "seed-base", out / "seed-base.warm.log", *dns)
        for rep in range(repeats):
            run = audit(co, inventory, out / "seed-reports", out / f"seed.{rep}.log", *dns)
            suite.append(run["wall_s"])
            tests = tests_of(out / "seed-reports" / "results.json")
            floor.append(floor_run(co, inventory, out, "seed-floor")["wall_s"])
            if baseline is not None:
                base = audit(
                    baseline, inventory, out / "seed-base", out / f"seed-base.{rep}.log", *dns
                )
                before.append(base["wall_s"])
    d, fl = statistics.median(suite), statistics.median(floor)
    side = (
        {"repo": str(baseline.repo), "runs_s": before, "median_s": statistics.median(before)}
        if baseline is not None
        else None
    )
    return {
        "side_by_side": side,
        "inventory": str(inventory),
        "repeats": repeats,
        "dkimwatch_runs_s": suite,
        "floor_html_runs_s": floor,
        "dkimwatch_s": d,
        "floor_html_s": fl,
        "ratio": d / fl,
        "tests_per_domain": round((tests or 0) / SEED_DOMAINS, 2),
        "baseline": BASELINE_70,
    }


def growth_sizes(text: str | None, domains: int, per_tenant: int) -> list[int]:
    """Sizes of the growth runs below the estate's, whole tenants (a tenth, a quarter and
    half of the estate unless given)."""
    wanted = [int(x) for x in text.split(",") if x.strip()] if text else []
    if not text:
        wanted = [round(domains * f) for f in (0.1, 0.25, 0.5)]
    rounded = {max(per_tenant, n // per_tenant * per_tenant) for n in wanted}
    return sorted(n for n in rounded if n < domains)


def render(path: Path, headroom: float, update: bool) -> int:
    """The markdown of a measured run (its msp.json), the projection recomputed from it."""
    r = json.loads(path.read_text())
    if r.get("growth"):
        co = Checkout.of(Path(r["repo"]))
        r["projection"] = projection(
            r["growth"],
            [r["shard_asking_dns"]] if "shard_asking_dns" in r else [],
            r["domains"],
            r["runner_gb"],
            headroom,
            (r.get("shards") or {}).get("merge"),
            max_domains(co),
        )
        path.write_text(json.dumps(r, indent=1) + "\n")
    md = markdown(r)
    path.with_suffix(".md").write_text("\n".join(md) + "\n")
    if update:
        update_results(md, RESULTS_MD)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repo", type=Path, default=BENCH.parent, help="the checkout to run")
    parser.add_argument("--label", default="branch", help="names the output folder")
    parser.add_argument("--domains", type=int, default=DOMAINS, help="the estate's size")
    parser.add_argument("--per-tenant", type=int, default=PER_TENANT)
    parser.add_argument("--shards", type=int, default=SHARDS)
    parser.add_argument(
        "--dns",
        choices=("testbed", "zones"),
        default="testbed",
        help="testbed: NSD behind Unbound, warmed (default); zones: the embedded server",
    )
    parser.add_argument(
        "--shards-ask-dns",
        action="store_true",
        help="shards ask the DNS instead of replaying the warm-up's recorded answers",
    )
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--skip-shards", action="store_true")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument("--skip-chromium", action="store_true")
    parser.add_argument("--seed-repeats", type=int, default=5)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout (e.g. of 0.1.0) whose suite runs beside this one at the seed's size",
    )
    parser.add_argument("--growth", help="sizes of the growth runs, e.g. 1000,2500,5000")
    parser.add_argument("--runner-gb", type=float, default=24.0)
    parser.add_argument("--headroom", type=float, default=0.8, help="share of RAM for a shard")
    parser.add_argument("--update-results", action="store_true", help="write RESULTS.md's part")
    parser.add_argument(
        "--render",
        type=Path,
        help="only write the markdown again from a run's msp.json (the projection recomputed)",
    )
    args = parser.parse_args(argv)
    if args.render:
        return render(args.render, args.headroom, args.update_results)

    co = Checkout.of(args.repo.resolve())
    out = CACHE / args.label
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"estate: {args.domains} domains, {args.per_tenant} per tenant", flush=True)
    estate_dir = estate(args.domains, args.per_tenant)
    tenants = estate_dir / "tenants"
    r: dict[str, Any] = {
        "label": args.label,
        "repo": str(co.repo),
        "machine": machine(co),
        "written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "json": str(out / "msp.json"),
        "dns": args.dns,
        "domains": args.domains,
        "per_tenant": args.per_tenant,
        "tenants": len(list(tenants.glob("*.yaml"))),
        "failing_share": failing_share(estate_dir),
        "runner_gb": args.runner_gb,
    }
    with serving(args.dns, estate_dir / "zones") as dns:
        # Untimed: warms the resolver's cache and records every answer (the shards' replay).
        print("warm-up", flush=True)
        record = out / "answers.json"
        warm = audit(co, tenants, out / "warm", out / "warm.log", *dns, f"--record={record}")
        r["warm_up"] = warm
        print(f"  {warm['wall_s']} s, {warm['last_line']}", flush=True)
        print("single run", flush=True)
        single = out / "single"
        s = audit(co, tenants, single, out / "single.log", *dns)
        s["tests"] = tests_of(single / "results.json")
        s["domains"] = args.domains
        r["single"] = s
        r["tests_per_domain"] = round((s["tests"] or 0) / args.domains, 2)
        print(f"  {s['wall_s']} s, {s['peak_rss_mb']} MB, {s['last_line']}", flush=True)
        if (single / "results.json").exists():
            r["evidence"] = evidence_coverage(single / "results.json")
        if not args.skip_floor:
            print("floor --html", flush=True)
            r["floor"] = floor_run(co, tenants, out, "floor")
            print(f"  {r['floor']['wall_s']} s, {r['floor']['tests']} tests", flush=True)
            if (single / "results.json").exists():
                print("floor --html, ending as the suite did", flush=True)
                r["floor_outcomes"] = floor_run(
                    co, tenants, out, "floor-outcomes", single / "results.json"
                )
                print(f"  {r['floor_outcomes']['wall_s']} s", flush=True)
        if not args.skip_shards:
            print(f"{args.shards} shards, then merge", flush=True)
            replay = None if args.shards_ask_dns else record
            sh = run_shards(co, tenants, out / "shards", args.shards, dns, replay)
            sh["compare"] = compare(single, out / "shards" / "merged")
            r["shards"] = sh
            print(f"  merged = single: {sh['compare']['identical']}", flush=True)
            if replay is not None and not args.skip_growth:
                # The projection's shard asks the DNS, as a CI job's would.
                print(f"shard 1/{args.shards} asking the DNS", flush=True)
                folder = out / "shard-dns"
                one = audit(
                    co, tenants, folder, out / "shard-dns.log", f"--shard=1/{args.shards}", *dns
                )
                one["domains"] = domain_total(folder / "results.json")
                r["shard_asking_dns"] = one
        growth: list[dict[str, Any]] = []
        if not args.skip_growth:
            for n in growth_sizes(args.growth, args.domains, args.per_tenant):
                print(f"growth: {n} domains", flush=True)
                folder = first_tenants(estate_dir, n, args.per_tenant)
                g = audit(co, folder, out / f"growth-{n}", out / f"growth-{n}.log", *dns)
                g["domains"] = n
                growth.append(g)
                print(f"  {g['wall_s']} s, {g['peak_rss_mb']} MB", flush=True)
    if not args.skip_chromium and (single / "report.html").exists():
        r["chromium"] = chromium(single / "report.html", out / "shots", timeout=300)
        print(f"chromium: {r['chromium'].get('seconds_load')} s", flush=True)
    if not args.skip_seed:
        print(f"{SEED_DOMAINS} domains × {args.seed_repeats}", flush=True)
        baseline = Checkout.of(args.baseline.resolve()) if args.baseline else None
        r["seed"] = run_seed(co, out, args.seed_repeats, args.dns, baseline)
        print(f"  {r['seed']['dkimwatch_s']} s, floor --html {r['seed']['floor_html_s']} s")
    if growth:
        growth.append(s)  # the single run is the largest point
        r["growth"] = growth
        if args.shards_ask_dns:
            shard_runs = r.get("shards", {}).get("runs", [])
        else:
            shard_runs = [r["shard_asking_dns"]] if "shard_asking_dns" in r else []
        r["projection"] = projection(
            growth,
            shard_runs,
            args.domains,
            args.runner_gb,
            args.headroom,
            r.get("shards", {}).get("merge"),
            max_domains(co),
        )
    r["took_s"] = round(time.perf_counter() - started, 1)
    (out / "msp.json").write_text(json.dumps(r, indent=1) + "\n")
    md = markdown(r)
    (out / "msp.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print(f"written: {out / 'msp.json'}, {out / 'msp.md'} (took {r['took_s']} s)")
    if args.update_results:
        update_results(md, RESULTS_MD)
        print(f"updated: {RESULTS_MD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
