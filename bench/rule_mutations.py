"""Hand-made mutations of the rules users rely on, each run against the rule selftests.

Every mutation breaks one rule the way a plausible slip would (a setting not passed on, a
comparison flipped, a DNS failure let through as "missing"). The script applies it to the
source, runs the check-level tests (selftests/test_rules_checks.py) and the end-to-end
run (selftests/test_rules_e2e.py), restores the source, and prints which caught it. A
mutation both survive is a hole in the selftests. Results: bench/MUTATION.md.

    nice -n 19 .venv/bin/python bench/rule_mutations.py [NAME ...]

It edits src/ in place and restores it even when interrupted; do not run it while
editing those files.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = {
    "checks": "selftests/test_rules_checks.py",
    "e2e": "selftests/test_rules_e2e.py",
}


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    what: str


M = Mutation
MUTATIONS = [
    M(
        "key-bits-dkim_key",
        "src/dkimwatch/checks.py",
        "    record = parse_dkim_key(records[0])\n"
        "    judgement = judge_dkim_key(record, ctx.policy.min_key_bits)\n"
        "    b.warnings.extend(judgement.warnings)\n    b.details.update(",
        "    record = parse_dkim_key(records[0])\n"
        "    judgement = judge_dkim_key(record)\n"
        "    b.warnings.extend(judgement.warnings)\n    b.details.update(",
        "dkim_key ignores policy.min_key_bits (the issue's surviving mutation)",
    ),
    M(
        "key-bits-rotation",
        "src/dkimwatch/checks.py",
        "    judgement = judge_dkim_key(record, ctx.policy.min_key_bits)\n"
        "    b.warnings.extend(judgement.warnings)\n    if judgement.result != ",
        "    judgement = judge_dkim_key(record)\n"
        "    b.warnings.extend(judgement.warnings)\n    if judgement.result != ",
        "dkim_rotation ignores policy.min_key_bits for the signing selector",
    ),
    M(
        "key-bits-foresight",
        "src/dkimwatch/checks.py",
        "judge_dkim_key(parse_dkim_key(records[0]), ctx.policy.min_key_bits)",
        "judge_dkim_key(parse_dkim_key(records[0]))",
        "the coming rotation's key is judged without policy.min_key_bits",
    ),
    M(
        "spf-include-fixed",
        "src/dkimwatch/checks.py",
        "    required = ctx.policy.spf_require_include\n",
        '    required = "spf.protection.outlook.com"\n',
        "spf ignores policy.spf_require_include (always Exchange Online's)",
    ),
    M(
        "spf-include-none",
        "src/dkimwatch/checks.py",
        "    required = ctx.policy.spf_require_include\n",
        "    required = None\n",
        "spf requires no include at all",
    ),
    M(
        "dmarc-minimum",
        "src/dkimwatch/checks.py",
        "    minimum = ctx.policy.dmarc_min_policy\n",
        '    minimum = "none"\n',
        "dmarc ignores policy.dmarc_min_policy",
    ),
    M(
        "tenant-judgement",
        "src/dkimwatch/exo.py",
        "    if tenant is not None and shape.tenant != tenant.lower():",
        "    if False:",
        "a CNAME target's tenant is never judged (the issue's single point of detection)",
    ),
    M(
        "tenant-not-passed",
        "src/dkimwatch/checks.py",
        "        problem = exo.judge_target(target, selector, domain.name, ctx.tenant)",
        "        problem = exo.judge_target(target, selector, domain.name, None)",
        "dkim_cname does not pass the inventory's tenant on",
    ),
    M(
        "fallback-hides-active",
        "src/dkimwatch/rotation.py",
        'return Role(True, "no rotation data, and no other selector has a key")',
        'return Role(False, "no rotation data, and no other selector has a key")',
        "without rotation data a missing key is always presumed inactive (hides the active)",
    ),
    M(
        "fallback-temperror-presumed",
        "src/dkimwatch/rotation.py",
        "        return Role(\n            None,",
        "        return Role(\n            False,",
        "without rotation data an unanswered other selector counts as having a key",
    ),
    M(
        "rotation-role-flipped",
        "src/dkimwatch/rotation.py",
        "return Role(active == selector, why)",
        "return Role(active != selector, why)",
        "with rotation data the selector that does NOT sign is taken as the signing one",
    ),
    M(
        "rotation-swapped",
        "src/dkimwatch/inventory.py",
        "return self.after if now >= self.rotate_on else self.before",
        "return self.before if now >= self.rotate_on else self.after",
        "before/after rotate_on swapped",
    ),
    M(
        "rotation-boundary",
        "src/dkimwatch/inventory.py",
        "return self.after if now >= self.rotate_on else self.before",
        "return self.after if now > self.rotate_on else self.before",
        "the after-selector signs only after rotate_on, not at it",
    ),
    M(
        "rotation-check-temperror-hidden",
        "src/dkimwatch/checks.py",
        "        if any(v is None for v in published.values()):\n"
        '            return b.temperror("cannot tell',
        '        if False:\n            return b.temperror("cannot tell',
        "dkim_rotation without rotation data ignores unanswered key questions",
    ),
    M(
        "target-temperror-as-missing",
        "src/dkimwatch/checks.py",
        '    answer = probe.ask(qname, "TXT")\n    if answer.status is Status.TEMPERROR:\n'
        "        return b.temperror(answer.describe())\n    via =",
        '    answer = probe.ask(qname, "TXT")\n    via =',
        "dkim_target reports an unanswered key question as a missing key",
    ),
    M(
        "spf-temperror-as-missing",
        "src/dkimwatch/checks.py",
        '    answer = probe.ask(domain.name, "TXT")\n    if answer.status is Status.TEMPERROR:\n'
        "        return b.temperror(answer.describe())\n",
        '    answer = probe.ask(domain.name, "TXT")\n',
        "spf reports an unanswered question as a missing record",
    ),
    M(
        "dmarc-temperror-as-missing",
        "src/dkimwatch/checks.py",
        "    if own.answer.status is Status.TEMPERROR:\n"
        "        return b.temperror(own.answer.describe())\n",
        "",
        "dmarc reports an unanswered question as a missing record",
    ),
    M(
        "inactive-not-xfailed",
        "src/dkimwatch/checks.py",
        '"none",\n            "xfailed",\n            f"no key{via} ({what}); expected:',
        '"none",\n            "skipped",\n            f"no key{via} ({what}); expected:',
        "the inactive selector's unpublished key is skipped instead of xfailed",
    ),
    M(
        "inactive-passes",
        "src/dkimwatch/checks.py",
        '    if not active:\n        return b.make(\n            "none",\n            "xfailed",',
        '    if not active:\n        return b.make(\n            "pass",\n            "passed",',
        "the inactive selector's unpublished key passes",
    ),
]


def run_suite(test: str) -> bool:
    """True when the suite passed (the mutation survived it)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", "selftests/pytest.ini", "-q", "-x", test],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0


def main(names: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not names or m.name in names]
    for suite in SUITES.values():
        if not run_suite(suite):
            print(f"{suite} fails without any mutation: fix that first", file=sys.stderr)
            return 2
    survivors = 0
    print(f"| mutation | {' | '.join(SUITES)} | what |")
    print(f"|---|{'---|' * len(SUITES)}---|")
    for m in chosen:
        path = ROOT / m.path
        original = path.read_text(encoding="utf-8")
        if original.count(m.old) != 1:
            print(f"{m.name}: the text to mutate is not found exactly once", file=sys.stderr)
            return 2
        try:
            path.write_text(original.replace(m.old, m.new), encoding="utf-8")
            caught = {k: not run_suite(t) for k, t in SUITES.items()}
        finally:
            path.write_text(original, encoding="utf-8")
        survivors += not any(caught.values())
        cells = " | ".join("killed" if c else "**survived**" for c in caught.values())
        print(f"| `{m.name}` | {cells} | {m.what} |", flush=True)
    print(f"\n{len(chosen) - survivors}/{len(chosen)} killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
