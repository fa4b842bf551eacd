"""What stands at a selector's name, judged against the CNAME Exchange Online expects
there, and what to change when it is wrong (dkim_cname's rule; the other DKIM checks ask
it too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dkimwatch import exo
from dkimwatch.checks.verdict import Context, Probe, selector_name
from dkimwatch.model import Domain
from dkimwatch.names import normalise
from dkimwatch.resolver import MAX_CHAIN, Status
from dkimwatch.standards import RECOMMENDED_TTL


def expected_target(ctx: Context, domain: Domain, selector: str) -> str | None:
    return domain.target_for(selector)


def suggested_target(ctx: Context, domain: Domain, selector: str) -> str:
    expected = expected_target(ctx, domain, selector)
    if expected:
        return expected
    if ctx.tenant:
        return (
            f"{exo.classic_target(selector, domain.name, ctx.tenant)} "
            f"(check the exact value: Get-DkimSigningConfig -Identity {domain.name} | "
            f"fl {selector.capitalize()}CNAME)"
        )
    return (
        f"the {selector.capitalize()}CNAME value of Get-DkimSigningConfig -Identity {domain.name}"
    )


def create_cname(ctx: Context, domain: Domain, selector: str) -> str:
    return (
        f"Create CNAME {selector_name(domain, selector)} → "
        f"{suggested_target(ctx, domain, selector)} (TTL {RECOMMENDED_TTL})"
    )


# What stands at a selector's name in place of the right CNAME; a failed dkim_cname
# verdict carries it as details["found_instead"], for callers that act on it (the gate).
WrongRecord = Literal["", "other_cname", "appended_twice", "txt", "a"]


@dataclass(frozen=True)
class CnameFinding:
    ok: bool | None  # None: temperror
    message: str
    remediation: str | None = None
    found: WrongRecord = ""  # "": nothing at all
    # Names the selector's CNAME leads through when it reaches its target only by a chain
    # (the selector's name first), and the warning such a pass carries.
    chain: tuple[str, ...] = ()
    warning: str = ""

    @property
    def txt_instead(self) -> bool:
        return self.found == "txt"


@dataclass(frozen=True)
class _Hops:
    """Where the selector's CNAME leads: ``targets`` in order (the first is its own)."""

    targets: tuple[str, ...]
    loop: bool = False
    temperror: str = ""


def _follow_cnames(
    probe: Probe, qname: str, first: str, expected: str | None, limit: int = MAX_CHAIN
) -> _Hops:
    """Follow a CNAME chain hop by hop, as receivers do (RFC 1034 §3.6.2), until the
    expected target, a name shaped like an Exchange Online target (Microsoft's zone: not
    the customer's to chain further), or a name without a CNAME."""
    targets = [first]
    seen = {normalise(qname), normalise(first)}
    while True:
        current = targets[-1]
        if expected and exo.same_name(current, expected):
            return _Hops(tuple(targets))
        if exo.parse_target(current) is not None:
            return _Hops(tuple(targets))
        nxt = probe.ask(current, "CNAME")
        if nxt.status is Status.TEMPERROR:
            return _Hops(tuple(targets), temperror=nxt.describe())
        if not nxt.ok:
            return _Hops(tuple(targets))
        target = nxt.records[0]
        targets.append(target)
        if normalise(target) in seen or len(targets) > limit:
            return _Hops(tuple(targets), loop=True)
        seen.add(normalise(target))


def _chain_warning(qname: str, hops: tuple[str, ...]) -> str:
    return (
        f"{qname} reaches its target only through a chain of CNAMEs "
        f"({' → '.join((qname, *hops))}): receivers follow chains (RFC 1034 §3.6.2), but "
        "Microsoft's own check (the pre-check of Set-DkimSigningConfig -Enabled $true, and "
        f"Get-DkimSigningConfig Status) may not; point {qname} straight at {hops[-1]} to be sure"
    )


def judge_cname(ctx: Context, probe: Probe, domain: Domain, selector: str) -> CnameFinding:
    qname = selector_name(domain, selector)
    if exo.is_initial_domain(domain.name):
        return CnameFinding(True, f"{domain.name} is the tenant's initial domain: no CNAME needed")
    answer = probe.ask(qname, "CNAME")
    if answer.status is Status.TEMPERROR:
        return CnameFinding(None, answer.describe())
    expected = expected_target(ctx, domain, selector)
    if answer.ok:
        hops = _follow_cnames(probe, qname, answer.records[0], expected)
        if hops.temperror:
            return CnameFinding(None, f"{qname} is a CNAME to {hops.targets[0]}; {hops.temperror}")
        target = hops.targets[-1]
        chained = len(hops.targets) > 1
        shown = " → ".join(hops.targets)
        chain = (qname, *hops.targets) if chained else ()
        warning = _chain_warning(qname, hops.targets) if chained else ""
        fix_to = expected or suggested_target(ctx, domain, selector)
        if hops.loop:
            return CnameFinding(
                False,
                f"the CNAME chain from {qname} does not end: {qname} → {shown}",
                f"Change CNAME {qname} → {fix_to} (TTL {RECOMMENDED_TTL})",
                "other_cname",
                chain,
            )
        if expected:
            if exo.same_name(target, expected):
                if chained:
                    return CnameFinding(
                        True,
                        f"{qname} reaches {target} through a chain of CNAMEs ({shown}), as "
                        "expected",
                        chain=chain,
                        warning=warning,
                    )
                return CnameFinding(True, f"{qname} is a CNAME to {target}, as expected")
            why = exo.judge_target(target, selector, domain.name, ctx.tenant)
            reason = why or "it differs from the expected target"
            where = f"leads through {shown}, to {target}" if chained else f"is a CNAME to {target}"
            return CnameFinding(
                False,
                f"{qname} {where}, expected {expected}: {reason}",
                f"Change CNAME {qname} → {expected} (TTL {RECOMMENDED_TTL})",
                "other_cname",
                chain,
            )
        problem = exo.judge_target(target, selector, domain.name, ctx.tenant)
        if problem is None:
            whose = f"tenant {ctx.tenant}" if ctx.tenant else "an Exchange Online tenant"
            if chained:
                return CnameFinding(
                    True,
                    f"{qname} reaches {target} through a chain of CNAMEs ({shown}), a plausible "
                    f"target of {whose}",
                    chain=chain,
                    warning=warning,
                )
            return CnameFinding(
                True, f"{qname} is a CNAME to {target}, a plausible target of {whose}"
            )
        where = f"leads through {shown}, to {target}" if chained else f"is a CNAME to {target}"
        return CnameFinding(
            False,
            f"{qname} {where}, but {problem}",
            f"Change CNAME {qname} → {fix_to} (TTL {RECOMMENDED_TTL})",
            "other_cname",
            chain,
        )
    # No CNAME: find out what the admin did instead, so the message names the mistake.
    doubled = probe.ask(f"{qname}.{domain.name}", "CNAME")
    if doubled.ok:
        return CnameFinding(
            False,
            f"no CNAME at {qname}, but there is one at {qname}.{domain.name}: the domain was "
            "appended twice (the record name was entered as a full name without a trailing dot)",
            f"Delete CNAME {qname}.{domain.name}; create it as host name '{selector}._domainkey' "
            f"(or {qname}. with the trailing dot) → {suggested_target(ctx, domain, selector)}",
            "appended_twice",
        )
    if answer.status is Status.NODATA:
        txt = probe.ask(qname, "TXT")
        if txt.ok and any(r.strip() for r in txt.records):
            return CnameFinding(
                False,
                f"{qname} holds a TXT record instead of the Exchange Online CNAME: Exchange "
                "Online cannot rotate keys (its Status stays CnameMissing)",
                f"Delete TXT {qname}; {create_cname(ctx, domain, selector)}",
                "txt",
            )
        addr = probe.ask(qname, "A")
        if addr.ok:
            return CnameFinding(
                False,
                f"{qname} answers with A records instead of a CNAME (proxied or flattened by "
                "the DNS provider?)",
                f"Turn off proxying/flattening for {qname}; {create_cname(ctx, domain, selector)}",
                "a",
            )
    return CnameFinding(
        False,
        f"no CNAME at {qname}: {answer.describe()}",
        create_cname(ctx, domain, selector),
    )
