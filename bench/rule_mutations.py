"""Hand-made mutations of the rules users rely on, each run against the rule selftests.

Every mutation breaks one rule the way a plausible slip would (a setting not passed on, a
comparison flipped, a DNS failure let through as "missing"). The script applies it to the
source, runs the check-level tests of its rule (selftests/unit/checks/test_rules_checks.py, plus the
test file of the check or command it breaks when that file holds the rule) and the
end-to-end run (selftests/e2e/test_rules_e2e.py), restores the source, and prints which
caught it. A mutation both survive is a hole in the selftests. Results: bench/MUTATION.md.

    nice -n 19 .venv/bin/python bench/rule_mutations.py [NAME ...]

It edits src/ in place and restores it even when interrupted; do not run it while
editing those files (nor while mutmut copies src/ into mutants/).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = "selftests/unit/checks/test_rules_checks.py"
E2E = "selftests/e2e/test_rules_e2e.py"
MX_TESTS = "selftests/unit/checks/test_mx.py"
ENABLED_TESTS = "selftests/unit/test_accepted_domains.py"
GATE_TESTS = "selftests/e2e/test_gate.py"


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    what: str
    # The check-level tests: the rule tests, and the rule's own test file where it has one.
    tests: tuple[str, ...] = (RULES,)


M = Mutation
DKIM = "src/dkimwatch/checks/dkim.py"
MUTATIONS = [
    M(
        "key-bits-dkim_key",
        DKIM,
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
        DKIM,
        "    judgement = judge_dkim_key(record, ctx.policy.min_key_bits)\n"
        "    b.warnings.extend(judgement.warnings)\n    expected_key =",
        "    judgement = judge_dkim_key(record)\n"
        "    b.warnings.extend(judgement.warnings)\n    expected_key =",
        "dkim_rotation ignores policy.min_key_bits for the signing selector",
    ),
    M(
        "key-bits-foresight",
        DKIM,
        "judge_dkim_key(parse_dkim_key(records[0]), ctx.policy.min_key_bits)",
        "judge_dkim_key(parse_dkim_key(records[0]))",
        "the coming rotation's key is judged without policy.min_key_bits",
    ),
    M(
        "spf-include-fixed",
        "src/dkimwatch/checks/spf.py",
        "    required = ctx.policy.spf_require_include\n",
        '    required = "spf.protection.outlook.com"\n',
        "spf ignores policy.spf_require_include (always Exchange Online's)",
    ),
    M(
        "spf-include-none",
        "src/dkimwatch/checks/spf.py",
        "    required = ctx.policy.spf_require_include\n",
        "    required = None\n",
        "spf requires no include at all",
    ),
    M(
        "dmarc-minimum",
        "src/dkimwatch/checks/dmarc.py",
        "    minimum = ctx.policy.dmarc_min_policy\n    if policy_rank(",
        '    minimum = "none"\n    if policy_rank(',
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
        "src/dkimwatch/checks/dkim_cname.py",
        "    else:\n        why = exo.judge_target(target, selector, domain.name, ctx.tenant)",
        "    else:\n        why = exo.judge_target(target, selector, domain.name, None)",
        "dkim_cname does not pass the inventory's tenant on",
    ),
    M(
        "fallback-hides-active",
        "src/dkimwatch/rotation.py",
        "    return Role(\n        True,\n",
        "    return Role(\n        False,\n",
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
        "src/dkimwatch/model.py",
        "return self.after if now >= self.rotate_on else self.before",
        "return self.before if now >= self.rotate_on else self.after",
        "before/after rotate_on swapped",
    ),
    M(
        "rotation-boundary",
        "src/dkimwatch/model.py",
        "return self.after if now >= self.rotate_on else self.before",
        "return self.after if now > self.rotate_on else self.before",
        "the after-selector signs only after rotate_on, not at it",
    ),
    M(
        "rotation-check-temperror-hidden",
        DKIM,
        "        if any(v is None for v in published.values()):\n"
        '            return b.temperror("cannot tell',
        '        if False:\n            return b.temperror("cannot tell',
        "dkim_rotation without rotation data ignores unanswered key questions",
    ),
    M(
        "target-temperror-as-missing",
        DKIM,
        "    qname, answer, records = _ask_key(probe, domain, selector)\n"
        "    if answer.status is Status.TEMPERROR:\n"
        "        return b.temperror(answer.describe())\n    via =",
        "    qname, answer, records = _ask_key(probe, domain, selector)\n    via =",
        "dkim_target reports an unanswered key question as a missing key",
    ),
    M(
        "spf-temperror-as-missing",
        "src/dkimwatch/checks/spf.py",
        '    answer = probe.ask(domain.name, "TXT")\n    if answer.status is Status.TEMPERROR:\n'
        "        return b.temperror(answer.describe())\n",
        '    answer = probe.ask(domain.name, "TXT")\n',
        "spf reports an unanswered question as a missing record",
    ),
    M(
        "dmarc-temperror-as-missing",
        "src/dkimwatch/checks/dmarc.py",
        "    if own.answer.status is Status.TEMPERROR:\n"
        "        return b.temperror(own.answer.describe())\n",
        "",
        "dmarc reports an unanswered question as a missing record",
    ),
    M(
        "inactive-not-xfailed",
        DKIM,
        '"none",\n            "xfailed",\n            f"no key{via} ({what}); expected:',
        '"none",\n            "skipped",\n            f"no key{via} ({what}); expected:',
        "the inactive selector's unpublished key is skipped instead of xfailed",
    ),
    M(
        "inactive-passes",
        DKIM,
        '    if not active:\n        return b.make(\n            "none",\n            "xfailed",',
        '    if not active:\n        return b.make(\n            "pass",\n            "passed",',
        "the inactive selector's unpublished key passes",
    ),
    # mx (src/dkimwatch/checks/mx.py): policy.mx any / exchange_online / off.
    M(
        "mx-off-checked",
        "src/dkimwatch/checks/mx.py",
        '    if policy == "off":\n',
        "    if False:\n",
        "mx: off is not honoured (the check runs anyway)",
        (RULES, MX_TESTS),
    ),
    M(
        "mx-exchange-online-ignored",
        "src/dkimwatch/checks/mx.py",
        '    if policy == "exchange_online":\n        preferred = _preferred_exchange_online(',
        "    if False:\n        preferred = _preferred_exchange_online(",
        "mx: exchange_online accepts any MX with an address (a gateway passes)",
        (RULES, MX_TESTS),
    ),
    M(
        "mx-any-as-exchange-online",
        "src/dkimwatch/checks/mx.py",
        '    if policy == "exchange_online":\n        preferred = _preferred_exchange_online(',
        '    if policy != "off":\n        preferred = _preferred_exchange_online(',
        "mx: any (the default) requires Exchange Online's MX (a gateway fails)",
        (RULES, MX_TESTS),
    ),
    M(
        "mx-null-mixed-passes",
        "src/dkimwatch/checks/mx.py",
        "    if len(records) > 1:\n",
        "    if False:\n",
        "a null MX beside other MX records passes (RFC 7505 allows it only alone)",
        (RULES, MX_TESTS),
    ),
    M(
        "mx-null-under-exchange-online",
        "src/dkimwatch/checks/mx.py",
        '    if policy == "exchange_online":\n        return b.failed(',
        "    if False:\n        return b.failed(",
        "a null MX passes when the policy requires Exchange Online's MX",
        (RULES, MX_TESTS),
    ),
    M(
        "mx-temperror-as-missing",
        "src/dkimwatch/checks/mx.py",
        '    answer = probe.ask(name, "MX")\n    if answer.status is Status.TEMPERROR:\n'
        "        return b.temperror(answer.describe())\n",
        '    answer = probe.ask(name, "MX")\n',
        "mx reports an unanswered MX question as no MX",
        (RULES, MX_TESTS),
    ),
    M(
        "mx-host-temperror-as-missing",
        "src/dkimwatch/checks/mx.py",
        "    if dns_failed:\n        return b.temperror(",
        "    if False:\n        return b.temperror(",
        "mx reports MX hosts whose address DNS did not answer as hosts without an address",
        (RULES, MX_TESTS),
    ),
    # dkim_enabled (src/dkimwatch/checks/exo.py): disabled, missing, no export.
    M(
        "enabled-disabled-passes",
        "src/dkimwatch/checks/exo.py",
        '    if state == "enabled":\n',
        '    if state in ("enabled", "disabled"):\n',
        "dkim_enabled passes a domain whose signing is disabled",
        (RULES, ENABLED_TESTS),
    ),
    M(
        "enabled-missing-skipped",
        "src/dkimwatch/checks/exo.py",
        "    if exo.is_initial_domain(name):\n",
        "    if True:\n",
        "dkim_enabled skips an accepted domain with no signing config instead of failing it",
        (RULES, ENABLED_TESTS),
    ),
    M(
        "enabled-no-export-fails",
        "src/dkimwatch/checks/exo.py",
        '    if state is None or state == "unset":\n        return b.make("none", "skipped"',
        '    if state == "unset":\n        return b.make("none", "skipped"',
        "dkim_enabled fails a domain it knows nothing about (no export, no enabled:)",
        (RULES, ENABLED_TESTS),
    ),
    M(
        "enabled-inventory-ignored",
        "src/dkimwatch/checks/exo.py",
        "    if domain.exo_dkim is None and domain.enabled is not None:\n",
        "    if False:\n",
        "dkim_enabled ignores the inventory's enabled: (false is skipped as unknown)",
        (RULES, ENABLED_TESTS),
    ),
    # the gate (src/dkimwatch/gate.py): exit 1 unless the signing selector has a valid key.
    M(
        "gate-key-not-required",
        "src/dkimwatch/gate.py",
        'if self._passed("dkim_cname", s) and self._passed("dkim_key", s)',
        'if self._passed("dkim_cname", s)',
        "the gate counts a selector with the right CNAME as ready without a valid key",
        (GATE_TESTS,),
    ),
    M(
        "gate-ready-without-keyed",
        "src/dkimwatch/gate.py",
        "        return bool(self.keyed)\n",
        "        return True\n",
        "the gate is ready when nothing failed, whether or not a selector has a valid key",
        (GATE_TESTS,),
    ),
    M(
        "gate-any-selector",
        "src/dkimwatch/gate.py",
        "return (self.signer[0],) if self.signer else self.domain.selectors",
        "return self.domain.selectors",
        "the gate accepts the key of the selector that does not sign (rotation data ignored)",
        (GATE_TESTS,),
    ),
    M(
        "gate-disabled-as-is",
        "src/dkimwatch/gate.py",
        "    if entry.enabled is False:\n        return dataclasses.replace(",
        "    if False:\n        return dataclasses.replace(",
        "the gate judges a disabled domain as disabled (no key expected) instead of as enabled",
        (GATE_TESTS,),
    ),
]


def run_suite(tests: tuple[str, ...]) -> bool:
    """True when the tests passed (the mutation survived them)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", "selftests/pytest.ini", "-q", "-x", *tests],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0


def main(names: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not names or m.name in names]
    for m in chosen:
        if (ROOT / m.path).read_text(encoding="utf-8").count(m.old) != 1:
            print(f"{m.name}: the text to mutate is not found exactly once", file=sys.stderr)
            return 2
    every = tuple(dict.fromkeys(t for m in chosen for t in (*m.tests, E2E)))
    if not run_suite(every):
        print(f"{' '.join(every)} fail without any mutation: fix that first", file=sys.stderr)
        return 2
    survivors = 0
    print("| mutation | check-level tests | e2e | what |")
    print("|---|---|---|---|")
    for m in chosen:
        path = ROOT / m.path
        original = path.read_text(encoding="utf-8")
        try:
            path.write_text(original.replace(m.old, m.new), encoding="utf-8")
            caught = {"checks": not run_suite(m.tests), "e2e": not run_suite((E2E,))}
        finally:
            path.write_text(original, encoding="utf-8")
        survivors += not any(caught.values())
        cells = " | ".join("killed" if c else "**survived**" for c in caught.values())
        print(f"| `{m.name}` | {cells} | {m.what} |", flush=True)
    print(f"\n{len(chosen) - survivors}/{len(chosen)} killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
