"""What stands at a selector's name, judged against the CNAME Exchange Online expects
there, and the fixes that put the right CNAME in its place (dkim_cname's rule; the other
DKIM checks ask it too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dkimwatch import exo
from dkimwatch.checks.verdict import Context, Probe, selector_name
from dkimwatch.fixes import FIX_TTL, Action, Advice, ExoFix, Fix, RecordFix
from dkimwatch.model import Domain
from dkimwatch.names import normalise
from dkimwatch.resolver import MAX_CHAIN, Answer, Status


def expected_target(ctx: Context, domain: Domain, selector: str) -> str | None:
    return domain.target_for(selector)


def _target_to_publish(
    ctx: Context, probe: Probe, domain: Domain, selector: str
) -> tuple[str | None, bool]:
    """(the target to point the selector at, whether it is derived rather than known).

    Known: the inventory's (an export's SelectorNCNAME). Derived: from the other
    selector's target when that one is a plausible target of this domain, since both share
    the format, partition letter and tenant (a domain on …<letter>-v1.dkim.mail.microsoft
    gets no onmicrosoft.com target); else the classic form of the inventory's tenant."""
    expected = expected_target(ctx, domain, selector)
    if expected:
        return expected, False
    for other in domain.selectors:
        if other == selector:
            continue
        found = domain.target_for(other)
        if found is None:
            answer = probe.ask(selector_name(domain, other), "CNAME")
            found = answer.records[0] if answer.ok else None
        if found is None or exo.judge_target(found, other, domain.name, ctx.tenant):
            continue
        derived = exo.sibling_target(found, other, selector)
        if derived is not None:
            return derived, True
    if ctx.tenant:
        return exo.classic_target(selector, domain.name, ctx.tenant), True
    return None, True


def put_cname(
    ctx: Context, probe: Probe, domain: Domain, selector: str, found: str | None = None
) -> list[Fix]:
    """The fixes that make the selector's name a CNAME to its target: a create, or a
    replace of the CNAME ``found`` there; with a derived target, the cmdlet that shows the
    exact one; without any, that cmdlet is the fix."""
    qname = selector_name(domain, selector)
    target, derived = _target_to_publish(ctx, probe, domain, selector)
    field = f"{selector.capitalize()}CNAME"
    show = f"Get-DkimSigningConfig -Identity {domain.name} | fl {field}"
    if target is None:
        verb = "Change" if found is not None else "Create"
        return [
            ExoFix(show, f"{verb} CNAME {qname} → the {field} value this shows (TTL {FIX_TTL})")
        ]
    action: Action = "replace" if found is not None else "create"
    fix = RecordFix(action, qname, "CNAME", target, domain.name, found=found)
    return [fix, ExoFix(show, f"Check the target against {field}")] if derived else [fix]


# What stands at a selector's name in place of the right CNAME; a failed dkim_cname
# verdict carries it as details["found_instead"].
WrongRecord = Literal["", "other_cname", "appended_twice", "txt", "a"]


@dataclass(frozen=True)
class CnameFinding:
    ok: bool | None  # None: temperror
    message: str
    fixes: tuple[Fix, ...] = ()
    found: WrongRecord = ""  # "": nothing at all
    # Names the selector's CNAME leads through when it reaches its target only by a chain
    # (the selector's name first), and the warning such a pass carries.
    chain: tuple[str, ...] = ()
    warning: str = ""

    wildcard: str = ""  # the wildcard that synthesises what was found, when one does

    @property
    def txt_instead(self) -> bool:
        return self.found == "txt"


# A label no zone has below a selector's name. What answers for a name below it can only
# be synthesised from a wildcard (RFC 4592 §2.2.1).
NO_SUCH_LABEL = "dkimwatch-no-such-name"


def synthesised_by(probe: Probe, domain: Domain, answer: Answer) -> str | None:
    """The wildcard that synthesised ``answer`` (records at a name that has none of its own),
    or None when the name holds them itself.

    The owner of a synthesised answer is the name asked, so the answer alone cannot tell.
    Its child can: a name below an existing name finds that name as its closest encloser,
    which has no wildcard child, so the child does not exist (NXDOMAIN). A name below a
    name that does not exist shares its closest encloser, so the same wildcard answers
    for it with the same records (RFC 4592 §3.3.1). The wildcard itself is named by asking
    for the literal ``*`` name at each enclosing level in the domain (§2.2.1)."""
    below = _answered(probe, f"{NO_SUCH_LABEL}.{answer.qname}", answer.rdtype)
    if below is None or not below.ok or set(below.records) != set(answer.records):
        return None
    labels = answer.qname.split(".")
    for depth in range(1, len(labels)):
        parent = ".".join(labels[depth:])
        if not (parent == domain.name or parent.endswith("." + domain.name)):
            break
        star = _answered(probe, f"*.{parent}", answer.rdtype)
        if star is not None and star.ok and set(star.records) == set(answer.records):
            return f"*.{parent}"
    return f"a wildcard above {answer.qname}"


def _answered(probe: Probe, qname: str, rdtype: str) -> Answer | None:
    """A question that only adds information: evidence only when DNS answered it, so the
    verdict never shows as its ground a question that got no answer (None then)."""
    answer = probe.resolver.lookup(qname, rdtype)
    if answer.status is Status.TEMPERROR:
        return None
    return probe.ask(qname, rdtype)


def _wildcard_advice(qname: str, wildcard: str, rtype: str) -> Advice:
    return Advice(
        f"There is no {rtype} record at {qname} to delete: {wildcard} answers for it "
        f"(RFC 4592). Once the CNAME exists, {qname} exists and the wildcard no longer "
        f"answers for it; delete {wildcard} too unless something else relies on it"
    )


def _deletes(answer: Answer, owner: str, zone: str) -> list[Fix]:
    """A delete of each record found (its data verbatim, the TTL DNS answered with)."""
    ttl = answer.ttl if answer.ttl is not None else FIX_TTL
    return [RecordFix("delete", owner, answer.rdtype, r, zone, ttl) for r in answer.records]


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
    if answer.ok:
        return _judge_present(ctx, probe, domain, selector, answer)
    return _judge_absent(ctx, probe, domain, selector, answer)


def _judge_present(
    ctx: Context, probe: Probe, domain: Domain, selector: str, answer: Answer
) -> CnameFinding:
    """The selector's name is a CNAME: does it lead to the right target?"""
    qname = selector_name(domain, selector)
    expected = expected_target(ctx, domain, selector)
    hops = _follow_cnames(probe, qname, answer.records[0], expected)
    if hops.temperror:
        return CnameFinding(None, f"{qname} is a CNAME to {hops.targets[0]}; {hops.temperror}")
    target = hops.targets[-1]
    chained = len(hops.targets) > 1
    shown = " → ".join(hops.targets)
    chain = (qname, *hops.targets) if chained else ()
    warning = _chain_warning(qname, hops.targets) if chained else ""
    if hops.loop:
        problem = f"the CNAME chain from {qname} does not end: {qname} → {shown}"
    elif expected and exo.same_name(target, expected):
        problem = ""
    elif expected:
        why = exo.judge_target(target, selector, domain.name, ctx.tenant)
        problem = f"expected {expected}: {why or 'it differs from the expected target'}"
    else:
        why = exo.judge_target(target, selector, domain.name, ctx.tenant)
        problem = f"but {why}" if why else ""
    if not problem:
        if expected:
            about = "as expected"
        else:
            whose = f"tenant {ctx.tenant}" if ctx.tenant else "an Exchange Online tenant"
            about = f"a plausible target of {whose}"
        if chained:
            message = f"{qname} reaches {target} through a chain of CNAMEs ({shown}), {about}"
            return CnameFinding(True, message, chain=chain, warning=warning)
        return CnameFinding(True, f"{qname} is a CNAME to {target}, {about}")
    if not hops.loop:
        where = f"leads through {shown}, to {target}" if chained else f"is a CNAME to {target}"
        problem = f"{qname} {where}, {problem}"
    wildcard = synthesised_by(probe, domain, answer)
    if wildcard is not None:
        fixes = [
            *put_cname(ctx, probe, domain, selector),
            _wildcard_advice(qname, wildcard, "CNAME"),
        ]
        message = f"{problem} (synthesised by {wildcard})"
        return CnameFinding(False, message, tuple(fixes), "other_cname", chain, wildcard=wildcard)
    fixes = put_cname(ctx, probe, domain, selector, found=answer.records[0])
    return CnameFinding(False, problem, tuple(fixes), "other_cname", chain)


def _judge_absent(
    ctx: Context, probe: Probe, domain: Domain, selector: str, answer: Answer
) -> CnameFinding:
    """No CNAME at the selector's name: find out what the admin did instead, so the message
    names the mistake and the fixes remove what stands there."""
    qname = selector_name(domain, selector)
    doubled = probe.ask(f"{qname}.{domain.name}", "CNAME")
    if doubled.ok:
        # Delete the wrong owner and create the right one: both in the domain's zone, in
        # that order, one change.
        fixes = [
            *_deletes(doubled, doubled.qname, domain.name),
            *put_cname(ctx, probe, domain, selector),
            Advice(
                f"Enter the host name as '{selector}._domainkey' (or {qname}. with the "
                "trailing dot): the DNS host appends the domain to a name without one"
            ),
        ]
        return CnameFinding(
            False,
            f"no CNAME at {qname}, but there is one at {qname}.{domain.name}: the domain was "
            "appended twice (the record name was entered as a full name without a trailing dot)",
            tuple(fixes),
            "appended_twice",
        )
    if answer.status is Status.NODATA:
        txt = probe.ask(qname, "TXT")
        if txt.ok and any(r.strip() for r in txt.records):
            return _instead(
                ctx,
                probe,
                domain,
                selector,
                txt,
                "holds a TXT record instead of the Exchange Online CNAME: Exchange Online "
                "cannot rotate keys (its Status stays CnameMissing)",
                "txt",
            )
        addr = probe.ask(qname, "A")
        if addr.ok:
            return _instead(
                ctx,
                probe,
                domain,
                selector,
                addr,
                "answers with A records instead of a CNAME (proxied or flattened by the DNS "
                "provider?)",
                "a",
            )
    return CnameFinding(
        False,
        f"no CNAME at {qname}: {answer.describe()}",
        tuple(put_cname(ctx, probe, domain, selector)),
    )


def _instead(
    ctx: Context,
    probe: Probe,
    domain: Domain,
    selector: str,
    found: Answer,
    what: str,
    kind: WrongRecord,
) -> CnameFinding:
    """Records of another type stand at the selector's name: delete them and create the
    CNAME, unless a wildcard synthesises them (then there is nothing to delete)."""
    qname = selector_name(domain, selector)
    create = put_cname(ctx, probe, domain, selector)
    proxied = [Advice(f"Turn off proxying/flattening for {qname}")] if kind == "a" else []
    wildcard = synthesised_by(probe, domain, found)
    if wildcard is not None:
        fixes = [*proxied, *create, _wildcard_advice(qname, wildcard, found.rdtype)]
        message = f"{qname} {what}; no record of its own: {wildcard} synthesises it"
        return CnameFinding(False, message, tuple(fixes), kind, wildcard=wildcard)
    fixes = [*proxied, *_deletes(found, qname, domain.name), *create]
    return CnameFinding(False, f"{qname} {what}", tuple(fixes), kind)
