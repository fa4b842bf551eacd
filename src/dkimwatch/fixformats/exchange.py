"""What only Exchange Online can change: ``exchange-online.ps1`` with the exact cmdlets
(Rotate-DkimSigningConfig, New-DkimSigningConfig, Set-DkimSigningConfig …, run in
Exchange Online PowerShell after Connect-ExchangeOnline), and ``support-cases.txt`` with
the facts a Microsoft support case needs for a key Microsoft fails to publish.

The checks write each cmdlet whole, from inventory values; a cmdlet holding a control
character is refused (shown as a comment), never written as a line of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from dkimwatch.fixes import ExoFix, SupportCase
from dkimwatch.fixformats.base import Files, FixItem, groups, one_line

SCRIPT = "exchange-online.ps1"
CASES = "support-cases.txt"


def render(items: Sequence[FixItem]) -> Files:
    script = [
        "# Exchange Online changes proposed by dkimwatch. Review them, then run in Exchange",
        "# Online PowerShell (Connect-ExchangeOnline first).",
        "",
    ]
    cases = [
        "Facts for Microsoft support cases, as dkimwatch found them: a DKIM key that Exchange",
        "Online should publish behind the selector's CNAME target and does not.",
        "",
    ]
    n_cmdlets = n_cases = 0
    for ctx, fixes in groups(items):
        exo = [f for f in fixes if isinstance(f, ExoFix)]
        support = [f for f in fixes if isinstance(f, SupportCase)]
        if exo:
            script.append(f"# {ctx.heading()}")
            for fix in exo:
                if fix.why:
                    script.append(f"# {one_line(fix.why)}")
                if all(c.isprintable() or c == " " for c in fix.cmdlet):
                    script.append(fix.cmdlet)
                    n_cmdlets += 1
                else:
                    script.append(f"# not rendered (control characters): {one_line(fix.cmdlet)}")
            script.append("")
        for case in support:
            n_cases += 1
            cases.extend(
                [
                    f"Case {n_cases}: {one_line(case.domain)}",
                    f"  domain:   {one_line(case.domain)}",
                    f"  selector: {one_line(case.selector)}",
                    f"  target:   {one_line(case.target)}",
                    f"  problem:  {one_line(case.problem)}",
                    f"  since:    {one_line(ctx.since) if ctx.since else 'unknown (no history)'}",
                    f"  finding:  {ctx.heading()}",
                    "  evidence:",
                    *(f"    {one_line(e, 600)}" for e in ctx.evidence),
                    "",
                ]
            )
    files: Files = {}
    if n_cmdlets or len(script) > 3:
        files[SCRIPT] = "\n".join(script).rstrip("\n") + "\n"
    if n_cases:
        files[CASES] = "\n".join(cases).rstrip("\n") + "\n"
    return files
