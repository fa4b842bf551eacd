"""The six checks: functions of (inventory entry, DNS answers) → verdict.

Checks never talk to the network themselves; they ask a Probe, which asks the one
Resolver (cached; offline in xdist workers) and remembers every answer it used, so
each verdict carries its evidence. Checks never raise for DNS trouble: a question DNS
could not answer makes the verdict a temperror.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from dkimwatch import exo
from dkimwatch.instants import iso_instant
from dkimwatch.model import Domain, Policy
from dkimwatch.names import normalise
from dkimwatch.records.dkim import judge_dkim_key, parse_dkim_key
from dkimwatch.records.dmarc import (
    DmarcRecord,
    is_dmarc_record,
    lower_policy,
    parse_dmarc,
    policy_rank,
    tree_walk_names,
    tree_walk_organisational_domain,
)
from dkimwatch.records.spf import dns_name_problem, expand_domain_spec, is_spf_record, parse_spf
from dkimwatch.records.taglist import clip
from dkimwatch.resolver import MAX_CHAIN, Answer, Evidence, Resolver, Status
from dkimwatch.rotation import Role, role, signing_selector
from dkimwatch.standards import RECOMMENDED_TTL, SPF_LOOKUP_LIMIT

Result = Literal["pass", "fail", "permerror", "temperror", "none"]
Outcome = Literal["passed", "failed", "error", "skipped", "xfailed"]

SPF_VOID_LIMIT = 2


@dataclass(frozen=True)
class Verdict:
    check: str
    domain: str
    selector: str | None
    result: Result
    outcome: Outcome
    message: str
    warnings: tuple[str, ...] = ()
    remediation: str | None = None
    evidence: tuple[Evidence, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "selector": self.selector,
            "check": self.check,
            "outcome": self.outcome,
            "result": self.result,
            "message": self.message,
            "warnings": list(self.warnings),
            "remediation": self.remediation,
            "evidence": [e.to_json() for e in self.evidence],
            "details": self.details,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        """The verdict back from to_json() (as the resolving helper process sends it)."""
        return cls(
            check=data["check"],
            domain=data["domain"],
            selector=data["selector"],
            result=data["result"],
            outcome=data["outcome"],
            message=data["message"],
            warnings=tuple(data["warnings"]),
            remediation=data["remediation"],
            evidence=tuple(Evidence.from_json(e) for e in data["evidence"]),
            details=data["details"],
        )


class Probe:
    """A check's window on DNS: answers come from the shared resolver and are kept as evidence."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.used: list[Answer] = []

    def ask(self, qname: str, rdtype: str) -> Answer:
        answer = self.resolver.lookup(qname, rdtype)
        if all(a is not answer for a in self.used):
            self.used.append(answer)
        return answer

    def evidence(self) -> tuple[Evidence, ...]:
        out: list[Evidence] = []
        for answer in self.used:
            out.extend(answer.evidence)
        return tuple(out)


@dataclass(frozen=True)
class Context:
    resolver: Resolver
    policy: Policy
    tenant: str | None
    now: datetime


def selector_name(domain: Domain, selector: str) -> str:
    """Where the selector's key is looked up. The tenant's initial domain has no CNAMEs:
    Microsoft signs it with selectors named like its targets, so the key name is the
    target itself (selector1-contoso-onmicrosoft-com._domainkey.contoso.onmicrosoft.com)."""
    if exo.is_initial_domain(domain.name):
        return domain.target_for(selector) or exo.classic_target(
            selector, domain.name, domain.name.split(".")[0]
        )
    return f"{selector}._domainkey.{domain.name}"


class _Builder:
    """Collects what a check found and turns it into a Verdict."""

    def __init__(self, check: str, domain: Domain, selector: str | None, probe: Probe):
        self.check = check
        self.domain = domain
        self.selector = selector
        self.probe = probe
        self.warnings: list[str] = []
        self.details: dict[str, Any] = {}
        if check.startswith("dkim"):
            # What Exchange Online itself says (from the export), shown beside our verdict.
            if domain.status is not None:
                self.details["exo_status"] = domain.status
            if domain.enabled is not None:
                self.details["exo_enabled"] = domain.enabled

    def make(
        self, result: Result, outcome: Outcome, message: str, remediation: str | None = None
    ) -> Verdict:
        self.warnings.extend(a.disagreement for a in self.probe.used if a.disagreement)
        return Verdict(
            check=self.check,
            domain=self.domain.name,
            selector=self.selector,
            result=result,
            outcome=outcome,
            message=message,
            warnings=tuple(dict.fromkeys(self.warnings)),
            remediation=remediation,
            evidence=self.probe.evidence(),
            details=self.details,
        )

    def passed(self, message: str) -> Verdict:
        return self.make("pass", "passed", message)

    def failed(self, message: str, remediation: str | None = None) -> Verdict:
        return self.make("fail", "failed", message, remediation)

    def permerror(self, message: str, remediation: str | None = None) -> Verdict:
        return self.make("permerror", "failed", message, remediation)

    def temperror(self, message: str) -> Verdict:
        return self.make("temperror", "error", message)


# --- DKIM ---------------------------------------------------------------------------------


def _expected_target(ctx: Context, domain: Domain, selector: str) -> str | None:
    return domain.target_for(selector)


def _suggested_target(ctx: Context, domain: Domain, selector: str) -> str:
    expected = _expected_target(ctx, domain, selector)
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


def _create_cname(ctx: Context, domain: Domain, selector: str) -> str:
    return (
        f"Create CNAME {selector_name(domain, selector)} → "
        f"{_suggested_target(ctx, domain, selector)} (TTL {RECOMMENDED_TTL})"
    )


def _key_published(answer: Answer) -> bool | None:
    """Whether a usable key is published: a non-empty TXT that is not a revoked key (None
    when DNS could not tell). A revoked key (empty p=, RFC 6376 §3.6.1) is a retired one:
    for telling which selector signs, it counts as no key."""
    if answer.status is Status.TEMPERROR:
        return None
    return answer.ok and any(r.strip() and not _revoked(r) for r in answer.records)


def _revoked(record: str) -> bool:
    """A well-formed key record whose only statement is that the key is revoked."""
    parsed = parse_dkim_key(record)
    return parsed.revoked and not parsed.errors


# What stands at a selector's name in place of the right CNAME; a failed dkim_cname
# verdict carries it as details["found_instead"], for callers that act on it (the gate).
WrongRecord = Literal["", "other_cname", "appended_twice", "txt", "a"]


@dataclass(frozen=True)
class _CnameFinding:
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


def _judge_cname(ctx: Context, probe: Probe, domain: Domain, selector: str) -> _CnameFinding:
    qname = selector_name(domain, selector)
    if exo.is_initial_domain(domain.name):
        return _CnameFinding(True, f"{domain.name} is the tenant's initial domain: no CNAME needed")
    answer = probe.ask(qname, "CNAME")
    if answer.status is Status.TEMPERROR:
        return _CnameFinding(None, answer.describe())
    expected = _expected_target(ctx, domain, selector)
    if answer.ok:
        hops = _follow_cnames(probe, qname, answer.records[0], expected)
        if hops.temperror:
            return _CnameFinding(None, f"{qname} is a CNAME to {hops.targets[0]}; {hops.temperror}")
        target = hops.targets[-1]
        chained = len(hops.targets) > 1
        shown = " → ".join(hops.targets)
        chain = (qname, *hops.targets) if chained else ()
        warning = _chain_warning(qname, hops.targets) if chained else ""
        fix_to = expected or _suggested_target(ctx, domain, selector)
        if hops.loop:
            return _CnameFinding(
                False,
                f"the CNAME chain from {qname} does not end: {qname} → {shown}",
                f"Change CNAME {qname} → {fix_to} (TTL {RECOMMENDED_TTL})",
                "other_cname",
                chain,
            )
        if expected:
            if exo.same_name(target, expected):
                if chained:
                    return _CnameFinding(
                        True,
                        f"{qname} reaches {target} through a chain of CNAMEs ({shown}), as "
                        "expected",
                        chain=chain,
                        warning=warning,
                    )
                return _CnameFinding(True, f"{qname} is a CNAME to {target}, as expected")
            why = exo.judge_target(target, selector, domain.name, ctx.tenant)
            reason = why or "it differs from the expected target"
            where = f"leads through {shown}, to {target}" if chained else f"is a CNAME to {target}"
            return _CnameFinding(
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
                return _CnameFinding(
                    True,
                    f"{qname} reaches {target} through a chain of CNAMEs ({shown}), a plausible "
                    f"target of {whose}",
                    chain=chain,
                    warning=warning,
                )
            return _CnameFinding(
                True, f"{qname} is a CNAME to {target}, a plausible target of {whose}"
            )
        where = f"leads through {shown}, to {target}" if chained else f"is a CNAME to {target}"
        return _CnameFinding(
            False,
            f"{qname} {where}, but {problem}",
            f"Change CNAME {qname} → {fix_to} (TTL {RECOMMENDED_TTL})",
            "other_cname",
            chain,
        )
    # No CNAME: find out what the admin did instead, so the message names the mistake.
    doubled = probe.ask(f"{qname}.{domain.name}", "CNAME")
    if doubled.ok:
        return _CnameFinding(
            False,
            f"no CNAME at {qname}, but there is one at {qname}.{domain.name}: the domain was "
            "appended twice (the record name was entered as a full name without a trailing dot)",
            f"Delete CNAME {qname}.{domain.name}; create it as host name '{selector}._domainkey' "
            f"(or {qname}. with the trailing dot) → {_suggested_target(ctx, domain, selector)}",
            "appended_twice",
        )
    if answer.status is Status.NODATA:
        txt = probe.ask(qname, "TXT")
        if txt.ok and any(r.strip() for r in txt.records):
            return _CnameFinding(
                False,
                f"{qname} holds a TXT record instead of the Exchange Online CNAME: Exchange "
                "Online cannot rotate keys (its Status stays CnameMissing)",
                f"Delete TXT {qname}; {_create_cname(ctx, domain, selector)}",
                "txt",
            )
        addr = probe.ask(qname, "A")
        if addr.ok:
            return _CnameFinding(
                False,
                f"{qname} answers with A records instead of a CNAME (proxied or flattened by "
                "the DNS provider?)",
                f"Turn off proxying/flattening for {qname}; {_create_cname(ctx, domain, selector)}",
                "a",
            )
    return _CnameFinding(
        False,
        f"no CNAME at {qname}: {answer.describe()}",
        _create_cname(ctx, domain, selector),
    )


def check_dkim_cname(ctx: Context, domain: Domain, selector: str) -> Verdict:
    probe = Probe(ctx.resolver)
    b = _Builder("dkim_cname", domain, selector, probe)
    finding = _judge_cname(ctx, probe, domain, selector)
    if finding.ok is None:
        return b.temperror(finding.message)
    if finding.chain:
        b.details["cname_chain"] = list(finding.chain)
    if finding.ok:
        if finding.warning:
            b.warnings.append(finding.warning)
        low = _low_ttl(probe.ask(selector_name(domain, selector), "CNAME"))
        if low:
            b.warnings.append(low)
        return b.passed(finding.message)
    b.details["found_instead"] = finding.found or "nothing"
    return b.failed(finding.message, finding.remediation)


def _low_ttl(answer: Answer) -> str | None:
    """A warning when the zone itself (an authoritative answer: a cache's TTL only counts
    down) gives the CNAME a TTL below Microsoft's recommendation."""
    authoritative = any("AA" in e.flags.split() for e in answer.evidence if e.flags)
    if not (answer.ok and authoritative and answer.ttl is not None):
        return None
    if answer.ttl >= RECOMMENDED_TTL:
        return None
    return (
        f"the CNAME's TTL is {answer.ttl} s; Microsoft recommends at least {RECOMMENDED_TTL} s "
        "(short TTLs make receivers' lookups fail now and then)"
    )


def _published(probe: Probe, domain: Domain) -> dict[str, bool | None]:
    """Per selector: is a non-empty key published behind it (None: DNS could not say)?"""
    return {s: _key_published(probe.ask(selector_name(domain, s), "TXT")) for s in domain.selectors}


def _role(ctx: Context, probe: Probe, domain: Domain, selector: str) -> Role:
    return role(domain, selector, ctx.now, _published(probe, domain))


def check_dkim_target(ctx: Context, domain: Domain, selector: str) -> Verdict:
    probe = Probe(ctx.resolver)
    b = _Builder("dkim_target", domain, selector, probe)
    qname = selector_name(domain, selector)
    answer = probe.ask(qname, "TXT")
    if answer.status is Status.TEMPERROR:
        return b.temperror(answer.describe())
    via = f" via {' → '.join(t for _, t in answer.chain)}" if answer.chain else ""
    if answer.ok and any(r.strip() for r in answer.records):
        b.details["target"] = answer.final_name
        if not answer.chain:
            b.warnings.append(
                "key published as TXT directly instead of the Exchange Online CNAME: it will "
                "not follow Microsoft's key rotation"
            )
        revoked = ""
        if all(_revoked(r) for r in answer.records if r.strip()):
            revoked = ": a revoked key (empty p=), see dkim_key"
        return b.passed(f"{qname}{via} answers with {len(answer.records)} TXT record(s){revoked}")
    if answer.status is Status.LOOP:
        what = f"the CNAME chain from {qname} does not end ({answer.error})"
    elif answer.ok:
        what = f"{answer.final_name} has only an empty TXT record"
    else:
        what = answer.describe()
    if domain.enabled is False:
        return b.make(
            "none",
            "xfailed",
            f"no key{via}: {what}; DKIM signing is disabled for this domain, so Microsoft "
            "publishes no key yet",
        )
    r = _role(ctx, probe, domain, selector)
    active, why = r.active, r.reason
    if active is None:
        return b.temperror(f"no key{via}: {what}; and {why}")
    if not active:
        return b.make(
            "none",
            "xfailed",
            f"no key{via} ({what}); expected: {why}, and Microsoft publishes only the key of the "
            "selector in use",
        )
    cname = _judge_cname(ctx, probe, domain, selector)
    remediation: str | None
    if cname.ok:
        remediation = (
            f"The CNAME is right; the key behind {answer.final_name} is missing on Microsoft's "
            f"side. Open a Microsoft support case for {domain.name} (DKIM selector {selector} "
            "not published), and check Get-DkimSigningConfig Status"
        )
    else:
        remediation = cname.remediation
    if not r.known:
        return b.failed(
            f"no key is published for {selector}{via}: {what}; {why}: whichever signs, "
            "receivers reject its signatures ('DKIM invalid key')",
            remediation,
        )
    return b.failed(
        f"{selector} signs mail now ({why}), but no key is published{via}: {what}; receivers "
        "reject its signatures ('DKIM invalid key')",
        remediation,
    )


def check_dkim_key(ctx: Context, domain: Domain, selector: str) -> Verdict:
    probe = Probe(ctx.resolver)
    b = _Builder("dkim_key", domain, selector, probe)
    qname = selector_name(domain, selector)
    answer = probe.ask(qname, "TXT")
    if answer.status is Status.TEMPERROR:
        return b.temperror(answer.describe())
    records = [r for r in answer.records if r.strip()] if answer.ok else []
    if not records:
        return b.make("none", "skipped", f"no key record at {qname} to validate (see dkim_target)")
    if len(records) > 1:
        return b.permerror(
            f"{answer.final_name} holds {len(records)} TXT records; a DKIM key name must hold "
            "exactly one (RFC 6376 §3.6.2.2)",
            f"Keep one key record at {answer.final_name}",
        )
    record = parse_dkim_key(records[0])
    judgement = judge_dkim_key(record, ctx.policy.min_key_bits)
    b.warnings.extend(judgement.warnings)
    b.details.update(
        key_type=record.key_type,
        key_bits=record.key_bits,
        fingerprint_sha256=record.fingerprint,
    )
    if not answer.chain:
        b.warnings.append("key published as TXT directly instead of the Exchange Online CNAME")
    expected_key = domain.public_key_for(selector)
    if judgement.result == "pass" and expected_key is not None:
        mismatch = _key_mismatch(record.fingerprint, expected_key)
        if mismatch:
            b.details["expected_fingerprint_sha256"] = mismatch
            return b.failed(
                f"{answer.final_name} publishes a key (SHA-256 {record.fingerprint}) other than "
                f"the one Exchange Online signs {selector} with (SHA-256 {mismatch}, from "
                f"Get-DkimSigningConfig {selector.capitalize()}PublicKey): receivers fail its "
                "signatures",
                f"Check that {qname} is a CNAME to the Exchange Online target (not a copied "
                f"TXT), or open a Microsoft support case: the published key for {domain.name} "
                "is stale",
            )
        b.details["matches_export"] = True
    if judgement.result == "pass":
        return b.passed(f"{answer.final_name}: {judgement.message}")
    why_fails = ""
    if record.revoked and not record.errors:
        retired = _revoked_key_verdict(ctx, probe, b, domain, selector, answer.final_name)
        if isinstance(retired, Verdict):
            return retired
        why_fails = retired
    fix = (
        f"Microsoft publishes this key: Rotate-DkimSigningConfig -Identity {domain.name}, or "
        "open a support case if it stays"
        if answer.chain
        else f"Replace the TXT at {qname} by the Exchange Online CNAME: "
        f"{_create_cname(ctx, domain, selector)}"
    )
    if judgement.result == "permerror":
        return b.permerror(f"{answer.final_name}: {judgement.message}", fix)
    return b.failed(f"{answer.final_name}: {judgement.message}{why_fails}", fix)


def _revoked_key_verdict(
    ctx: Context, probe: Probe, b: _Builder, domain: Domain, selector: str, where: str
) -> Verdict | str:
    """A revoked key (empty p=, RFC 6376 §3.6.1) on a selector that does not sign is a
    legitimate retirement, expected like an unpublished key (xfailed). On the selector
    that signs (or may sign) it stays a failure: then the words that say why."""
    if domain.enabled is False:
        return b.make(
            "none",
            "xfailed",
            f"{where}: key revoked (empty p=); DKIM signing is disabled for this domain, so "
            "nothing signs with it",
        )
    r = _role(ctx, probe, domain, selector)
    if r.active is None:
        return b.temperror(f"{where}: key revoked (empty p=); {r.reason}")
    if r.active and r.known:
        return f"; {selector} signs mail now ({r.reason}): receivers reject its signatures"
    if r.active:
        return f"; {r.reason}: whichever signs, receivers reject its signatures"
    return b.make(
        "none",
        "xfailed",
        f"{where}: key revoked (empty p=, RFC 6376 §3.6.1), a retired key; expected: {r.reason}",
    )


def _key_mismatch(published: str | None, expected_record: str) -> str | None:
    """The expected key's fingerprint when it differs from the published one, else None.
    Keys compare by their decoded p= bytes, so folding and whitespace do not matter."""
    expected = parse_dkim_key(expected_record).fingerprint
    if expected is None or expected == published:
        return None
    return expected


def check_dkim_rotation(ctx: Context, domain: Domain) -> Verdict:
    probe = Probe(ctx.resolver)
    b = _Builder("dkim_rotation", domain, None, probe)
    if domain.enabled is False:
        return b.make(
            "none",
            "xfailed",
            "DKIM signing is disabled for this domain (enabled: false); nothing signs with its "
            "selectors yet",
        )
    candidates: list[str]
    decided = signing_selector(domain, ctx.now)
    if decided is not None:
        candidates, why = [decided[0]], decided[1]
    else:
        # Without rotation data any selector with a key may be the one that signs: the
        # check holds when one of them has a valid key.
        published = _published(probe, domain)
        if any(v is None for v in published.values()):
            return b.temperror("cannot tell which selector signs: DNS did not answer for a key")
        candidates = [s for s, v in published.items() if v] or list(domain.selectors)
        why = f"no rotation data; {', '.join(candidates)} " + (
            "has a key" if len(candidates) == 1 else "may sign"
        )
    ahead = _foresight(ctx, probe, domain)
    if ahead:
        b.details["next_rotation"] = ahead[0]
        if ahead[1]:
            b.warnings.append(ahead[0])
    problems: list[str] = []
    fixes: list[str] = []
    for selector in candidates:
        problem, fix, temp = _signing_problem(ctx, probe, b, domain, selector)
        if temp:
            return b.temperror(problem or "DNS could not answer")
        if problem is None:
            return b.passed(f"{selector} signs now ({why}) and has a valid key")
        problems.append(problem)
        if fix:
            fixes.append(fix)
    return b.failed(
        "; ".join(problems) + f" ({why})",
        "; ".join(dict.fromkeys(fixes)) or None,
    )


def _signing_problem(
    ctx: Context, probe: Probe, b: _Builder, domain: Domain, selector: str
) -> tuple[str | None, str | None, bool]:
    """(problem, remediation, temperror) for the selector that signs."""
    qname = selector_name(domain, selector)
    cname = _judge_cname(ctx, probe, domain, selector)
    if cname.ok is None:
        return cname.message, None, True
    txt = probe.ask(qname, "TXT")
    if txt.status is Status.TEMPERROR:
        return txt.describe(), None, True
    if cname.ok is False and not cname.txt_instead:
        return (
            f"{selector} signs mail, but its CNAME is wrong: {cname.message}",
            cname.remediation,
            False,
        )
    if cname.txt_instead:
        b.warnings.append(f"{selector}'s key is published as TXT instead of the CNAME")
    if cname.warning:
        b.warnings.append(cname.warning)
    records = [r for r in txt.records if r.strip()] if txt.ok else []
    if not records:
        what = txt.describe() if not txt.ok else "only an empty TXT record"
        return (
            f"{selector} signs mail, but no key is published behind {qname} ({what}): receivers "
            "reject its signatures as 'DKIM invalid key'",
            f"Open a Microsoft support case: the key behind {txt.final_name} is not published",
            False,
        )
    if len(records) > 1:
        return f"{txt.final_name} holds {len(records)} TXT records", None, False
    record = parse_dkim_key(records[0])
    judgement = judge_dkim_key(record, ctx.policy.min_key_bits)
    b.warnings.extend(judgement.warnings)
    if judgement.result != "pass":
        return (
            f"{selector} signs mail, but its key is not usable: {judgement.message}",
            f"Rotate-DkimSigningConfig -Identity {domain.name}, or open a support case",
            False,
        )
    expected_key = domain.public_key_for(selector)
    if expected_key is not None and _key_mismatch(record.fingerprint, expected_key):
        return (
            f"{selector} signs mail, but the key published behind {qname} is not the one "
            "Exchange Online signs with (see dkim_key)",
            f"Open a Microsoft support case: the published key for {domain.name} is stale",
            False,
        )
    return None, None, False


def _foresight(ctx: Context, probe: Probe, domain: Domain) -> tuple[str, bool] | None:
    """For a rotation still ahead: (what we see of the selector that signs after it,
    whether that is a problem worth a warning)."""
    rotation = domain.rotation
    if rotation is None or ctx.now >= rotation.rotate_on or rotation.after == rotation.before:
        return None
    when = iso_instant(rotation.rotate_on)
    nxt = rotation.after
    cname = _judge_cname(ctx, probe, domain, nxt)
    if cname.ok is None:
        return f"rotation on {when}: cannot tell whether {nxt} is ready ({cname.message})", True
    if cname.ok is False:
        return (
            f"rotation on {when}: {nxt} will sign then but is NOT ready: {cname.message}; "
            "fix it before that date",
            True,
        )
    txt = probe.ask(selector_name(domain, nxt), "TXT")
    records = [r for r in txt.records if r.strip()] if txt.ok else []
    if txt.status is Status.TEMPERROR:
        return (
            f"rotation on {when}: {nxt}'s CNAME is in place; its key could not be looked up",
            True,
        )
    if not records:
        return (
            f"rotation on {when}: {nxt}'s CNAME is in place; Microsoft has not published its "
            "key yet (it should appear before the rotation)",
            False,
        )
    judgement = judge_dkim_key(parse_dkim_key(records[0]), ctx.policy.min_key_bits)
    if judgement.result != "pass":
        return (
            f"rotation on {when}: {nxt} will sign then, but its key is not usable: "
            f"{judgement.message}",
            True,
        )
    return f"rotation on {when}: {nxt} is ready (CNAME in place, key published)", False


# --- SPF ----------------------------------------------------------------------------------

SPF_MX_LIMIT = 10  # RFC 7208 §4.6.4: an mx term with more than 10 MX records is a permerror
# Exchange Online's include in the sovereign clouds (docs/exchange-online.md, "SPF, DMARC
# and MX"): a tenant there publishes these instead of the worldwide one.
EXO_SPF_INCLUDE = "spf.protection.outlook.com"
EXO_SOVEREIGN_SPF_INCLUDES = {
    "spf.protection.office365.us": "Microsoft 365 GCC High / DoD",
    "spf.protection.partner.outlook.cn": "Microsoft 365 operated by 21Vianet",
}


@dataclass
class _SpfWalk:
    """What a static evaluation of the whole record found, in check_host() order.

    Every term that check_host() could reach for some client is evaluated: mechanisms up
    to the first ``all`` of each record, includes, and redirect= when there is no ``all``.
    Counts stop where check_host() would stop: at the 11th DNS-querying term or the 3rd
    void lookup.
    """

    sender: str  # the audited domain: %{o}
    lookups: int = 0
    voids: int = 0
    voids_v6: int = 0  # the same count for IPv6 clients, whose a mechanism asks AAAA
    # include/redirect targets reached, with whether every step on the way passes mail
    # (a "+" include or a redirect): only those authorise the target's servers.
    reached: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # permerrors
    pass_all: list[str] = field(default_factory=list)  # includes that pass every host
    warnings: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the walk ended early (a processing limit)
    loop: str = ""  # the first include/redirect loop met, as a path


def _spf_record_of(probe: Probe, name: str) -> tuple[str | None, str | None, bool]:
    """(record, problem, void) for an include/redirect target; raises _Temp."""
    answer = probe.ask(name, "TXT")
    if answer.status is Status.TEMPERROR:
        raise _Temp(answer.describe())
    records = [r for r in answer.records if is_spf_record(r)] if answer.ok else []
    void = answer.missing
    if not records:
        return None, f"{name} has no SPF record ({answer.describe()})", void
    if len(records) > 1:
        return None, f"{name} has {len(records)} SPF records (RFC 7208 §4.5)", False
    return records[0], None, False


class _Temp(Exception):
    pass


def _ask_spf(probe: Probe, walk: _SpfWalk, name: str, rdtype: str) -> Answer | None:
    """One address/MX question of the walk. A DNS failure is a temperror, unless a
    permerror was already found earlier in evaluation order: check_host() stops at the
    first error, so the permerror stands (None: stop the walk)."""
    answer = probe.ask(name, rdtype)
    if answer.status is Status.TEMPERROR:
        if walk.problems:
            walk.stopped = walk.stopped or f"DNS gave no answer for {name} {rdtype}"
            return None
        raise _Temp(answer.describe())
    return answer


def _count_lookup(walk: _SpfWalk, node: dict[str, Any], what: str) -> bool:
    walk.lookups += 1
    node["lookups"] += 1
    if walk.lookups > SPF_LOOKUP_LIMIT:
        walk.stopped = f"the {walk.lookups}th DNS-querying term is {what}"
        return False
    return True


def _count_void(walk: _SpfWalk, node: dict[str, Any], what: str, v6: bool = True) -> bool:
    walk.voids += 1
    walk.voids_v6 += int(v6)
    node["voids"] += 1
    if walk.voids > SPF_VOID_LIMIT:
        walk.stopped = f"void lookup number {walk.voids} is {what}"
        return False
    return True


def _spf_target(
    walk: _SpfWalk, node: dict[str, Any], term: str, spec: str | None, current: str
) -> str | None:
    """The name a term queries, macros the audit can know expanded; None when it
    depends on the message (sender, client IP, HELO) or cannot be a DNS name."""
    if spec is None:
        return current
    target = expand_domain_spec(spec, current, walk.sender)
    if target is None:
        node.setdefault("unresolved", []).append(term)
        return None
    target = target.lower().rstrip(".")
    problem = dns_name_problem(target)
    if problem:
        walk.warnings.append(f'{term} in {current}: "{target}" {problem}: it never matches')
        return None
    return target


def _walk_spf(
    probe: Probe,
    walk: _SpfWalk,
    domain: str,
    text: str,
    via: str | None,
    passing: bool,
    path: tuple[str, ...],
) -> dict[str, Any]:
    """Evaluate one record and, recursively, its includes and redirect; return its node
    of the include tree: domain, how it was reached, the record, its own DNS-querying
    terms (``lookups``) and those of its subtree (``total``), voids, children."""
    record = parse_spf(text)
    node: dict[str, Any] = {
        "domain": domain,
        "via": via,
        "record": text,
        "lookups": 0,
        "total": 0,
        "voids": 0,
        "children": [],
        "effective_all": record.all_qualifier,  # following redirects: what ends evaluation
    }
    if domain in path and not walk.loop:
        walk.loop = " → ".join((*path, domain))
        walk.warnings.append(f"include/redirect loop: {walk.loop}")
    if record.errors:
        walk.problems.append(f"{domain}: invalid SPF record: {'; '.join(record.errors)}")
        return node
    before = walk.lookups
    for mechanism in record.evaluated_mechanisms:
        if walk.stopped:
            break
        if not mechanism.counts_lookup:
            continue
        what = f'"{mechanism.text}" in {domain}'
        if not _count_lookup(walk, node, what):
            break
        if mechanism.name == "ptr":
            # The PTR names come from the client's IP: nothing to look up without one.
            node.setdefault("unresolved", []).append(mechanism.text)
            continue
        target = _spf_target(walk, node, mechanism.text, mechanism.domain_spec, domain)
        if target is None:
            continue
        if mechanism.name == "include":
            inner = passing and mechanism.qualifier == "+"
            child = _follow_spf(probe, walk, node, target, mechanism.text, inner)
            if child is not None:
                sub = _walk_spf(probe, walk, target, child, mechanism.text, inner, (*path, domain))
                node["children"].append(sub)
                if inner and sub["effective_all"] == "+":
                    walk.pass_all.append(f'"{mechanism.text}" in {domain} ends in +all')
            continue
        rdtype = "MX" if mechanism.name == "mx" else "A"
        answer = _ask_spf(probe, walk, target, rdtype)
        if answer is None:
            break
        is_a = mechanism.name == "a"
        if answer.missing and not _count_void(walk, node, what, v6=not is_a):
            break
        if mechanism.name == "mx" and len(answer.records) > SPF_MX_LIMIT:
            walk.problems.append(
                f'"{mechanism.text}" in {domain}: {target} has {len(answer.records)} MX '
                f"records; more than {SPF_MX_LIMIT} is a permerror (RFC 7208 §4.6.4)"
            )
        if is_a:
            # Only for the IPv6 warning: never fatal, and evidence only when answered.
            aaaa = probe.resolver.lookup(target, "AAAA")
            if aaaa.status is not Status.TEMPERROR:
                probe.ask(target, "AAAA")
            walk.voids_v6 += int(aaaa.missing)
    if record.redirect_effective and record.redirect and not walk.stopped:
        term = f"redirect={record.redirect}"
        if _count_lookup(walk, node, f'"{term}" in {domain}'):
            target = _spf_target(walk, node, term, record.redirect, domain)
            child = None
            if target is not None:
                child = _follow_spf(probe, walk, node, target, term, passing)
            if target is not None and child is not None:
                sub = _walk_spf(probe, walk, target, child, term, passing, (*path, domain))
                node["children"].append(sub)
                # The redirect target's result is this record's result (§6.1).
                node["effective_all"] = sub["effective_all"]
                walk.warnings.extend(f"{target} (redirect): {w}" for w in _redirect_warnings(child))
    node["total"] = walk.lookups - before
    return node


def _redirect_warnings(text: str) -> list[str]:
    """The warnings of a redirect target that matter to the domain redirecting to it."""
    return [w for w in parse_spf(text).warnings if '"?all"' in w or 'no "all"' in w]


def _follow_spf(
    probe: Probe, walk: _SpfWalk, node: dict[str, Any], target: str, term: str, passing: bool
) -> str | None:
    """Fetch the record an include/redirect points at; note reachability, voids and
    "none" (a permerror for both, RFC 7208 §5.2, §6.1). Returns the record, or None."""
    walk.reached[target] = walk.reached.get(target, False) or passing
    try:
        text, problem, void = _spf_record_of(probe, target)
    except _Temp:
        if walk.problems:
            walk.stopped = walk.stopped or f"DNS gave no answer for {target} TXT"
            return None
        raise
    if void and not _count_void(walk, node, f'"{term}"'):
        return None
    if text is None:
        walk.problems.append(f"{term}: {problem}")
        return None
    return text


def _exo_include(walk: _SpfWalk, required: str) -> tuple[str | None, str]:
    """(the include that satisfies ``required``, how), or (None, why not)."""
    if walk.reached.get(required):
        return required, ""
    if required == EXO_SPF_INCLUDE:
        for name, cloud in EXO_SOVEREIGN_SPF_INCLUDES.items():
            if walk.reached.get(name):
                return name, f"{name} ({cloud}), accepted as the equivalent of {required}"
    if required in walk.reached:
        return None, (
            f"{required} is included only behind a qualifier other than +, so it does not "
            "authorise Exchange Online's servers"
        )
    return None, f"{required} is not reachable through the include tree"


def _near_misses(records: tuple[str, ...], prefix: str) -> list[str]:
    """TXT records that look meant as this record kind but are not selected by receivers."""
    return [r for r in records if r[: len(prefix)].lower() == prefix]


def check_spf(ctx: Context, domain: Domain) -> Verdict:
    probe = Probe(ctx.resolver)
    b = _Builder("spf", domain, None, probe)
    answer = probe.ask(domain.name, "TXT")
    if answer.status is Status.TEMPERROR:
        return b.temperror(answer.describe())
    required = ctx.policy.spf_require_include
    suggestion = f"v=spf1 include:{required or EXO_SPF_INCLUDE} -all"
    records = [r for r in answer.records if is_spf_record(r)] if answer.ok else []
    if not records:
        found = (
            f"{len(answer.records)} TXT record(s), none v=spf1" if answer.ok else answer.describe()
        )
        near = _near_misses(answer.records, "v=spf") if answer.ok else []
        if near:
            found += (
                f'; "{clip(near[0])}" is not selected as SPF: a record must start with '
                '"v=spf1" followed by a space or its end (RFC 7208 §4.5)'
            )
        return b.failed(
            f"no SPF record at {domain.name}: {found}",
            f'Create TXT {domain.name} "{suggestion}"',
        )
    if len(records) > 1:
        return b.permerror(
            f"{domain.name} has {len(records)} SPF records; RFC 7208 §4.5 makes that a permerror",
            f'Merge them into one TXT record, e.g. "{suggestion}"',
        )
    text = records[0]
    record = parse_spf(text)
    b.details["record"] = text
    shown = clip(text, 600)  # messages are one line: control characters escaped
    b.warnings.extend(record.warnings)
    if record.errors:
        return b.permerror(f'invalid SPF record "{shown}": {"; ".join(record.errors)}')
    walk = _SpfWalk(sender=domain.name)
    try:
        tree = _walk_spf(probe, walk, domain.name, text, None, True, ())
    except _Temp as exc:
        return b.temperror(f"SPF include tree could not be resolved: {exc}")
    b.details.update(
        tree=tree, lookups=walk.lookups, void_lookups=walk.voids, void_lookups_ipv6=walk.voids_v6
    )
    b.warnings.extend(walk.warnings)
    if len(text.encode()) > 450:
        b.warnings.append(
            f"record is {len(text.encode())} bytes; over 450 it may not fit a UDP answer"
        )
    if walk.voids_v6 > SPF_VOID_LIMIT >= walk.voids:
        b.warnings.append(
            f"for IPv6 clients, whose a mechanism asks AAAA, there are {walk.voids_v6} void "
            f"lookups: more than {SPF_VOID_LIMIT} is a permerror (RFC 7208 §4.6.4)"
        )
    problems = list(walk.problems)
    if walk.lookups > SPF_LOOKUP_LIMIT:
        problems.append(
            f"more than {SPF_LOOKUP_LIMIT} DNS-querying terms through includes and redirects "
            f"(RFC 7208 §4.6.4): {walk.stopped}"
        )
    if walk.voids > SPF_VOID_LIMIT:
        problems.append(
            f"more than {SPF_VOID_LIMIT} void lookups (RFC 7208 §4.6.4): {walk.stopped}"
        )
    if problems:
        fixes = []
        if walk.lookups > SPF_LOOKUP_LIMIT:
            fixes.append(f"Flatten or remove includes to stay within {SPF_LOOKUP_LIMIT} lookups")
        if walk.voids > SPF_VOID_LIMIT:
            fixes.append("Remove mechanisms that point at names without records")
        return b.permerror("; ".join(problems), "; ".join(fixes) or None)
    if tree.get("effective_all") == "+":
        how = (
            "ends in +all"
            if record.all_qualifier == "+"
            else "redirects to a record ending in +all"
        )
        return b.failed(
            f'"{shown}" {how}: every host on the internet may send as {domain.name}',
            f'Replace +all by -all: "{suggestion}"',
        )
    if walk.pass_all:
        return b.failed(
            f'"{shown}" authorises every host on the internet: {"; ".join(walk.pass_all)}',
            "Remove the include, or have its owner end the record in -all or ~all",
        )
    counts = f"{walk.lookups} DNS lookups of {SPF_LOOKUP_LIMIT}"
    if required:
        found_include, how = _exo_include(walk, required)
        if found_include is None:
            return b.failed(
                f'"{shown}": {how}: Exchange Online\'s servers are not authorised',
                f"Add include:{required} to the SPF record",
            )
        b.details["required_include"] = found_include
        if how:
            return b.passed(f'"{shown}" ({counts}); includes {how}')
    return b.passed(f'"{shown}" ({counts})')


# --- DMARC --------------------------------------------------------------------------------


_psl_lock = threading.Lock()


def _psl() -> Callable[[str], str | None]:
    # lru_cache alone would let concurrent first calls each parse the list, and checks run
    # on many threads at once.
    with _psl_lock:
        return _parsed_psl()


@lru_cache(maxsize=1)
def _parsed_psl() -> Callable[[str], str | None]:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList().privatesuffix


def organisational_domain(name: str) -> str:
    """RFC 7489's Organizational Domain: the registrable domain by the Public Suffix List."""
    org = _psl()(name)
    return (org or name).lower()


def _within(name: str, ancestor: str) -> bool:
    return name == ancestor or name.endswith("." + ancestor)


@dataclass
class _DmarcFind:
    """One place a policy record was looked for: ``records`` are the v=DMARC1 TXTs there."""

    domain: str
    answer: Answer
    records: list[str]


def _find_dmarc(probe: Probe, name: str, evidence_if_answered: bool = False) -> _DmarcFind:
    """``evidence_if_answered``: a question that only adds information (a public suffix's
    policy) joins the verdict's evidence only when DNS answered it, so a verdict never
    rests on, nor shows as its ground, a question that got no answer."""
    qname = f"_dmarc.{name}"
    if evidence_if_answered:
        answer = probe.resolver.lookup(qname, "TXT")
        if answer.status is not Status.TEMPERROR:
            probe.ask(qname, "TXT")
    else:
        answer = probe.ask(qname, "TXT")
    records = [r for r in answer.records if is_dmarc_record(r)] if answer.ok else []
    return _DmarcFind(name, answer, records)


@dataclass
class _Discovery:
    """Where each generation of receivers takes the policy for a domain without its own."""

    org: str  # RFC 7489: by the PSL
    rfc7489: str | None = None  # domain whose record applies, or None
    bis: str | None = None  # RFC 9989 tree walk
    bis_org: str | None = None
    records: dict[str, str] = field(default_factory=dict)  # domain → its one record
    note: str = ""


def _discover_dmarc(probe: Probe, domain: str) -> _Discovery | str:
    """Policy discovery for a domain with no record of its own (RFC 7489 §6.6.3, RFC 9989
    §4.10.1); a temperror as its message. DNS errors at public-suffix levels of the tree
    walk (above the PSL organisational domain) end the walk without failing the check: they
    can only add a PSO policy, which matters only when the domain has none of its own."""
    org = organisational_domain(domain)
    found = _Discovery(org=org)
    if org != domain:
        at_org = _find_dmarc(probe, org)
        if at_org.answer.status is Status.TEMPERROR:
            return at_org.answer.describe()
        if len(at_org.records) == 1:
            found.rfc7489 = org
            found.records[org] = at_org.records[0]
    walk: list[tuple[str, DmarcRecord]] = []
    for name in tree_walk_names(domain):
        step = _find_dmarc(probe, name, evidence_if_answered=not _within(name, org))
        if step.answer.status is Status.TEMPERROR:
            if _within(name, org):
                return step.answer.describe()
            found.note = (
                f"the DMARCbis tree walk stopped at _dmarc.{name}: {step.answer.describe()}"
            )
            break
        if len(step.records) != 1:
            continue  # several records at one name are all discarded (RFC 9989 §4.10 step 6)
        record = parse_dmarc(step.records[0])
        found.records[name] = step.records[0]
        walk.append((name, record))
        if record.psd in ("y", "n"):
            break
    found.bis_org = tree_walk_organisational_domain(domain, walk)
    if found.bis_org in found.records:
        found.bis = found.bis_org
    else:  # the Public Suffix Domain's policy (psd=y) when the organisation has none
        found.bis = next((n for n, r in walk if r.psd == "y"), None)
    return found


def _describe_discovery(d: _Discovery) -> str:
    if d.rfc7489 and d.rfc7489 == d.bis:
        return (
            f"inherited from _dmarc.{d.rfc7489}: the organisational domain both by the Public "
            "Suffix List (RFC 7489) and by the DMARCbis DNS tree walk (RFC 9989)"
        )
    parts = [
        f"RFC 7489 receivers (Public Suffix List, organisational domain {d.org}) "
        + (f"apply _dmarc.{d.rfc7489}" if d.rfc7489 else "find no policy"),
        "RFC 9989 receivers (DNS tree walk"
        + (f", organisational domain {d.bis_org})" if d.bis_org else ")")
        + (f" apply _dmarc.{d.bis}" if d.bis else " find no policy"),
    ]
    return "; ".join(parts)


@dataclass(frozen=True)
class _Enforced:
    """What failing mail gets under a published policy: ``policy`` as published,
    ``enforced`` after t=y or pct=, ``why`` a clause saying how they differ (or "") and
    ``fix`` the change that removes the difference."""

    policy: str
    enforced: str
    why: str = ""
    fix: str = ""


def _enforced(record: DmarcRecord, policy: str) -> _Enforced:
    lower = lower_policy(policy)
    # Under p=none they change nothing now, but would weaken a stronger policy set later.
    if record.t == "y":
        why = f"t=y asks RFC 9989 receivers to apply {lower} instead"
        return _Enforced(policy, lower, "" if policy == "none" else why, "remove t=y")
    if record.pct is not None and record.pct < 100:
        why = (
            f"pct={record.pct} has RFC 7489 receivers apply {lower} to "
            f"{100 - record.pct}% of failing mail"
        )
        return _Enforced(policy, lower, "" if policy == "none" else why, "remove pct=")
    return _Enforced(policy, policy)


def _report_authorisation(
    probe: Probe, b: _Builder, record: DmarcRecord, source: str
) -> tuple[list[str], list[str], str | None]:
    """(unauthorised destinations, fixes, temperror) for rua/ruf outside the organisation.

    RFC 7489 §7.1 / RFC 9990 §4: a receiver asks ``<policy domain>._report._dmarc.<dest>``
    (the policy domain being where the record was found) and sends reports only if a
    v=DMARC1 record is there; DNS wildcards (``*._report._dmarc.<dest>``) answer that
    question like any other record, so they authorise every domain at once.
    """
    org = organisational_domain(source)
    missing: list[str] = []
    fixes: list[str] = []
    authorised: list[str] = []
    for uri in (*record.rua, *record.ruf):
        if uri.domain is None:
            continue
        dest = uri.domain.lower()
        if organisational_domain(dest) == org:
            continue
        auth_name = f"{source}._report._dmarc.{dest}"
        auth = probe.ask(auth_name, "TXT")
        if auth.status is Status.TEMPERROR:
            return missing, fixes, auth.describe()
        if auth.ok and any(is_dmarc_record(r) for r in auth.records):
            authorised.append(f"{uri.address} (via {auth_name})")
            continue
        missing.append(
            f"report destination {uri.address} is outside {org} and has not authorised "
            f"reports for {source} (no v=DMARC1 at {auth_name}: {auth.describe()})"
        )
        fixes.append(
            f'Ask {dest} to publish TXT {auth_name} "v=DMARC1" (or *._report._dmarc.{dest}), '
            "or change the address"
        )
    if authorised:
        b.details["authorised_destinations"] = list(dict.fromkeys(authorised))
    return missing, fixes, None


def check_dmarc(ctx: Context, domain: Domain) -> Verdict:
    probe = Probe(ctx.resolver)
    b = _Builder("dmarc", domain, None, probe)
    own = _find_dmarc(probe, domain.name)
    if own.answer.status is Status.TEMPERROR:
        return b.temperror(own.answer.describe())
    where = f"_dmarc.{domain.name}"
    if len(own.records) > 1:
        # RFC 7489 §6.6.3 ends discovery here; RFC 9989 §4.10 discards them and walks on:
        # either way this domain's own policy is not applied.
        b.details["records"] = list(own.records)
        return b.failed(
            f"{where} has {len(own.records)} DMARC records; receivers discard them all, so no "
            "policy of this domain applies (RFC 7489 §6.6.3, RFC 9989 §4.10)",
            f"Keep exactly one v=DMARC1 record at {where}",
        )
    # (domain whose record applies, how it was found, its policy for this domain)
    chosen: list[tuple[str, str, str]] = []
    inherited = ""
    if own.records:
        chosen.append((domain.name, own.records[0], "own"))
    else:
        found = _discover_dmarc(probe, domain.name)
        if isinstance(found, str):
            return b.temperror(found)
        b.details["discovery"] = _describe_discovery(found)
        if found.note:
            b.details["discovery_note"] = found.note
        near = _near_misses(own.answer.records, "v=dmarc") if own.answer.ok else []
        hint = (
            f'; "{clip(near[0])}" is not selected: a DMARC record must start with "v=DMARC1" '
            'and a ";"'
            if near
            else ""
        )
        create = (
            f'Create TXT {where} "v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain.name}" '
            "and move to quarantine, then reject"
        )
        if found.rfc7489 is None or found.bis is None:
            elsewhere = ""
            if found.rfc7489 or found.bis:
                elsewhere = f"; {_describe_discovery(found)}"
            return b.failed(
                f"no DMARC record at {where}: {own.answer.describe()}{hint}{elsewhere}", create
            )
        inherited = f" ({_describe_discovery(found)})"
        for source in dict.fromkeys((found.rfc7489, found.bis)):
            chosen.append((source, found.records[source], "inherited"))
    b.details["record"] = chosen[0][1]
    b.details["source"] = f"_dmarc.{chosen[0][0]}"
    if len(chosen) > 1:
        b.details["records"] = {f"_dmarc.{s}": t for s, t, _ in chosen}
        b.warnings.append(f"receivers disagree on the policy of {domain.name}{inherited}")
    weakest: tuple[_Enforced, str, str] | None = None  # (what applies, shown, where)
    problems: list[str] = []
    fixes: list[str] = []
    for source, text, how in chosen:
        record = parse_dmarc(text)
        b.warnings.extend(record.warnings)
        if record.notes:
            b.details.setdefault("notes", []).extend(record.notes)
        if record.errors:
            return b.permerror(
                f'invalid DMARC record "{clip(text, 600)}" at _dmarc.{source}{inherited}: '
                f"{'; '.join(record.errors)}"
            )
        # A record found for a parent applies to this existing subdomain through sp=
        # (RFC 7489 §6.3; RFC 9989 §4.10.1 uses np= only for names that do not exist).
        policy = record.effective_policy if how == "own" else record.subdomain_policy
        if policy is None:  # unreachable: a record without errors has a policy
            return b.permerror(
                f'DMARC record "{clip(text, 600)}" at _dmarc.{source} states no policy'
            )
        applied = _enforced(record, policy)
        tag = "sp" if how != "own" and record.sp else "p"
        shown = policy + (" (sp=)" if tag == "sp" else "")
        if weakest is None or policy_rank(applied.enforced) < policy_rank(weakest[0].enforced):
            weakest = (applied, shown, f"{tag}=")
        missing, more_fixes, temp = _report_authorisation(probe, b, record, source)
        if temp is not None:
            return b.temperror(temp)
        problems.extend(missing)
        fixes.extend(more_fixes)
    assert weakest is not None
    applied, shown, tag = weakest
    b.details["policy"] = applied.policy
    minimum = ctx.policy.dmarc_min_policy
    if policy_rank(applied.enforced) < policy_rank(minimum):
        if applied.why:
            message = (
                f"policy {shown}{inherited}, but {applied.why}, which is weaker than the "
                f"required {minimum}"
            )
        else:
            message = f"policy {shown}{inherited} is weaker than the required {minimum}"
        source = b.details["source"]
        if policy_rank(applied.policy) >= policy_rank(minimum):
            fix = f"{applied.fix.capitalize()} from {source} once tested"
        else:
            fix = f"Set {tag}{minimum} in {source}"
            fix += f", and {applied.fix} once tested" if applied.fix else ""
        return b.failed(message, fix)
    if problems:
        return b.failed("; ".join(problems), "; ".join(dict.fromkeys(fixes)))
    why = f" ({applied.why})" if applied.why else ""
    return b.passed(f'"{clip(chosen[0][1], 600)}"{inherited}: policy {shown}{why}')
