"""Run surviving mutmut mutants again against the selftests as they are now, without
touching mutmut's cached verdicts (changing `[tool.mutmut]`'s test list discards them all).

    nice -n 19 .venv/bin/python bench/mutation_recheck.py PREFIX [-j 2]

PREFIX picks the survivors of `mutmut results` (e.g. dkimwatch.checks.mx). Each runs as
mutmut runs it: the mutated package in mutants/src, the mutant chosen by
MUTANT_UNDER_TEST, the selftests of its module (TESTS) from this worktree. Prints one line
per mutant (killed, survived, timeout) and the count of each. Results: bench/MUTATION.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKS = [
    "selftests/unit/checks/test_rules_checks.py",
    "selftests/unit/checks/test_dkim.py",
    "selftests/unit/checks/test_check_fixes.py",
    "selftests/unit/checks/test_spf.py",
    "selftests/unit/checks/test_dmarc.py",
]
# The selftests that judge each module of the checks package (the rest: CHECKS).
TESTS = {
    "dkimwatch.checks.exo": [
        "selftests/unit/checks/test_dkim_enabled.py",
        "selftests/unit/test_accepted_domains.py",
    ],
    "dkimwatch.checks.mx": ["selftests/unit/checks/test_mx.py"],
}
TIMEOUT = 600  # seconds per mutant: generous, the machine is shared


def survivors(prefix: str) -> list[str]:
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "mutmut"), "results"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    names = [line.strip().rpartition(":")[0] for line in out.splitlines() if "survived" in line]
    return [n for n in names if n.startswith(prefix)]


def recheck(name: str) -> str:
    module = name.rpartition(".x")[0]
    tests = TESTS.get(module, CHECKS)
    env = {**os.environ, "MUTANT_UNDER_TEST": name, "PYTHONPATH": str(ROOT / "mutants" / "src")}
    command = [sys.executable, "-m", "pytest", "-c", "selftests/pytest.ini", "-q", "-x"]
    command += ["-p", "no:cacheprovider", *tests]
    try:
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if proc.returncode == 0 else "killed"


def main(args: list[str]) -> int:
    jobs = int(args[args.index("-j") + 1]) if "-j" in args else 1
    prefixes = [a for i, a in enumerate(args) if a != "-j" and (i == 0 or args[i - 1] != "-j")]
    names = [n for p in prefixes or ["dkimwatch."] for n in survivors(p)]
    counts: Counter[str] = Counter()
    with ThreadPoolExecutor(jobs) as pool:
        for name, status in zip(names, pool.map(recheck, names), strict=True):
            counts[status] += 1
            print(f"{status} {name}", flush=True)
    print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
