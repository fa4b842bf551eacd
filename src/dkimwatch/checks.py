"""The six checks: functions of (inventory entry, DNS answers) → verdict.

Checks never talk to the network themselves; they ask a Probe, which asks the one
Resolver (cached; offline in xdist workers) and remembers every answer it used, so
each verdict carries its evidence. Checks never raise for DNS trouble: a question DNS
could not answer makes the verdict a temperror.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from dkimwatch import exo
from dkimwatch.inventory import Domain, Policy
from dkimwatch.records.dkim import judge_dkim_key, parse_dkim_key
from dkimwatch.records.dmarc import is_dmarc_record, parse_dmarc, policy_rank
from dkimwatch.records.spf import Mechanism, is_spf_record, parse_spf
from dkimwatch.resolver import Answer, Evidence, Resolver, Status
from dkimwatch.rotation import role, signing_selector

Result = Literal["pass", "fail", "permerror", "temperror", "none"]
Outcome = Literal["passed", "failed", "error", "skipped", "xfailed"]

SELECTOR_CHECKS = ("dkim_cname", "dkim_target", "dkim_key")
DOMAIN_CHECKS = ("dkim_rotation", "spf", "dmarc")
SPF_LOOKUP_LIMIT = 10
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

    def make(
        self, result: Result, outcome: Outcome, message: str, remediation: str | None = None
    ) -> Verdict:
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
        f"{_suggested_target(ctx, domain, selector)} (TTL 3600)"
    )


def _key_published(answer: Answer) -> bool | None:
    """Whether a non-empty TXT is published (None when DNS could not tell)."""
    if answer.status is Status.TEMPERROR:
        return None
    return answer.ok and any(r.strip() for r in answer.records)


@dataclass(frozen=True)
class _CnameFinding:
    ok: bool | None  # None: temperror
    message: str
    remediation: str | None = None
    txt_instead: bool = False


def _judge_cname(ctx: Context, probe: Probe, domain: Domain, selector: str) -> _CnameFinding:
    qname = selector_name(domain, selector)
    if exo.is_initial_domain(domain.name):
        return _CnameFinding(True, f"{domain.name} is the tenant's initial domain: no CNAME needed")
    answer = probe.ask(qname, "CNAME")
    if answer.status is Status.TEMPERROR:
        return _CnameFinding(None, answer.describe())
    expected = _expected_target(ctx, domain, selector)
    if answer.ok:
        target = answer.records[0]
        if expected:
            if exo.same_name(target, expected):
                return _CnameFinding(True, f"{qname} is a CNAME to {target}, as expected")
            why = exo.judge_target(target, selector, domain.name, ctx.tenant)
            reason = why or "it differs from the expected target"
            return _CnameFinding(
                False,
                f"{qname} is a CNAME to {target}, expected {expected}: {reason}",
                f"Change CNAME {qname} → {expected} (TTL 3600)",
            )
        problem = exo.judge_target(target, selector, domain.name, ctx.tenant)
        if problem is None:
            whose = f"tenant {ctx.tenant}" if ctx.tenant else "an Exchange Online tenant"
            return _CnameFinding(
                True, f"{qname} is a CNAME to {target}, a plausible target of {whose}"
            )
        return _CnameFinding(
            False,
            f"{qname} is a CNAME to {target}, but {problem}",
            f"Change CNAME {qname} → {_suggested_target(ctx, domain, selector)} (TTL 3600)",
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
        )
    if answer.status is Status.NODATA:
        txt = probe.ask(qname, "TXT")
        if txt.ok and any(r.strip() for r in txt.records):
            return _CnameFinding(
                False,
                f"{qname} holds a TXT record instead of the Exchange Online CNAME: Exchange "
                "Online cannot rotate keys (its Status stays CnameMissing)",
                f"Delete TXT {qname}; {_create_cname(ctx, domain, selector)}",
                txt_instead=True,
            )
        addr = probe.ask(qname, "A")
        if addr.ok:
            return _CnameFinding(
                False,
                f"{qname} answers with A records instead of a CNAME (proxied or flattened by "
                "the DNS provider?)",
                f"Turn off proxying/flattening for {qname}; {_create_cname(ctx, domain, selector)}",
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
    if finding.ok:
        return b.passed(finding.message)
    return b.failed(finding.message, finding.remediation)


def _roles(ctx: Context, probe: Probe, domain: Domain, selector: str) -> tuple[bool | None, str]:
    published = {
        s: _key_published(probe.ask(selector_name(domain, s), "TXT")) for s in domain.selectors
    }
    r = role(domain, selector, ctx.now, published)
    return r.active, r.reason


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
        return b.passed(f"{qname}{via} answers with {len(answer.records)} TXT record(s)")
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
    active, why = _roles(ctx, probe, domain, selector)
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
    if judgement.result == "pass":
        return b.passed(f"{answer.final_name}: {judgement.message}")
    fix = (
        f"Microsoft publishes this key: Rotate-DkimSigningConfig -Identity {domain.name}, or "
        "open a support case if it stays"
        if answer.chain
        else f"Replace the TXT at {qname} by the Exchange Online CNAME: "
        f"{_create_cname(ctx, domain, selector)}"
    )
    if judgement.result == "permerror":
        return b.permerror(f"{answer.final_name}: {judgement.message}", fix)
    return b.failed(f"{answer.final_name}: {judgement.message}", fix)


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
        published = {
            s: _key_published(probe.ask(selector_name(domain, s), "TXT")) for s in domain.selectors
        }
        if any(v is None for v in published.values()):
            return b.temperror("cannot tell which selector signs: DNS did not answer for a key")
        candidates = [s for s, v in published.items() if v] or list(domain.selectors)
        why = f"no rotation data; {', '.join(candidates)} " + (
            "has a key" if len(candidates) == 1 else "may sign"
        )
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
    judgement = judge_dkim_key(parse_dkim_key(records[0]), ctx.policy.min_key_bits)
    b.warnings.extend(judgement.warnings)
    if judgement.result != "pass":
        return (
            f"{selector} signs mail, but its key is not usable: {judgement.message}",
            f"Rotate-DkimSigningConfig -Identity {domain.name}, or open a support case",
            False,
        )
    return None, None, False


# --- SPF ----------------------------------------------------------------------------------


@dataclass
class _SpfWalk:
    lookups: int = 0
    voids: int = 0
    includes: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    temperror: str | None = None


def _spf_record_of(probe: Probe, name: str) -> tuple[str | None, str | None, bool]:
    """(record, problem, void) for an include/redirect target."""
    answer = probe.ask(name, "TXT")
    if answer.status is Status.TEMPERROR:
        raise _Temp(answer.describe())
    records = [r for r in answer.records if is_spf_record(r)] if answer.ok else []
    void = not answer.ok
    if not records:
        return None, f"{name} has no SPF record ({answer.describe()})", void
    if len(records) > 1:
        return None, f"{name} has {len(records)} SPF records", False
    return records[0], None, False


class _Temp(Exception):
    pass


def _walk_spf(probe: Probe, domain: str, text: str, walk: _SpfWalk, depth: int) -> dict[str, Any]:
    record = parse_spf(text)
    node: dict[str, Any] = {"domain": domain, "lookups": 0, "includes": []}
    if record.errors:
        walk.problems.extend(f"{domain}: {e}" for e in record.errors)
        return node
    if depth > SPF_LOOKUP_LIMIT:
        walk.problems.append(f"{domain}: include nesting deeper than {SPF_LOOKUP_LIMIT}")
        return node
    for term in record.terms:
        if not isinstance(term, Mechanism) or term.name not in (
            "include",
            "a",
            "mx",
            "ptr",
            "exists",
        ):
            continue
        walk.lookups += 1
        node["lookups"] += 1
        target = (term.domain_spec or domain).lower().rstrip(".")
        if "%" in target:
            continue  # macros need a sender to expand; counted, not resolved
        if term.name == "include":
            walk.includes.add(target)
            sub, problem, void = _spf_record_of(probe, target)
            walk.voids += int(void)
            if sub is None:
                walk.problems.append(f"include:{target}: {problem}")
                continue
            node["includes"].append(_walk_spf(probe, target, sub, walk, depth + 1))
        elif term.name in ("a", "exists"):
            answer = probe.ask(target, "A")
            if answer.status is Status.TEMPERROR:
                raise _Temp(answer.describe())
            walk.voids += int(answer.missing)
        elif term.name == "mx":
            answer = probe.ask(target, "MX")
            if answer.status is Status.TEMPERROR:
                raise _Temp(answer.describe())
            walk.voids += int(answer.missing)
            if len(answer.records) > 10:
                walk.problems.append(f"mx:{target} has {len(answer.records)} MX records (limit 10)")
    if record.redirect and record.all_qualifier is None:
        target = record.redirect.lower().rstrip(".")
        walk.lookups += 1
        node["lookups"] += 1
        if "%" not in target:
            walk.includes.add(target)
            sub, problem, void = _spf_record_of(probe, target)
            walk.voids += int(void)
            if sub is None:
                walk.problems.append(f"redirect={target}: {problem}")
            else:
                node["redirect"] = _walk_spf(probe, target, sub, walk, depth + 1)
    return node


def check_spf(ctx: Context, domain: Domain) -> Verdict:
    probe = Probe(ctx.resolver)
    b = _Builder("spf", domain, None, probe)
    answer = probe.ask(domain.name, "TXT")
    if answer.status is Status.TEMPERROR:
        return b.temperror(answer.describe())
    required = ctx.policy.spf_require_include
    suggestion = f"v=spf1 include:{required or 'spf.protection.outlook.com'} -all"
    records = [r for r in answer.records if is_spf_record(r)] if answer.ok else []
    if not records:
        found = (
            f"{len(answer.records)} TXT record(s), none v=spf1" if answer.ok else answer.describe()
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
    b.warnings.extend(record.warnings)
    if record.errors:
        return b.permerror(f'invalid SPF record "{text}": {"; ".join(record.errors)}')
    walk = _SpfWalk()
    try:
        tree = _walk_spf(probe, domain.name, text, walk, 0)
    except _Temp as exc:
        return b.temperror(f"SPF include tree could not be resolved: {exc}")
    b.details.update(tree=tree, lookups=walk.lookups, void_lookups=walk.voids)
    if len(text.encode()) > 450:
        b.warnings.append(
            f"record is {len(text.encode())} bytes; over 450 it may not fit a UDP answer"
        )
    if walk.problems:
        return b.permerror("; ".join(walk.problems))
    if walk.lookups > SPF_LOOKUP_LIMIT:
        return b.permerror(
            f"{walk.lookups} DNS-querying terms through includes and redirects "
            f"(RFC 7208 §4.6.4 allows {SPF_LOOKUP_LIMIT})",
            "Flatten or remove includes to stay within 10 lookups",
        )
    if walk.voids > SPF_VOID_LIMIT:
        return b.permerror(
            f"{walk.voids} void lookups (RFC 7208 §4.6.4 allows {SPF_VOID_LIMIT})",
            "Remove mechanisms that point at names without records",
        )
    if record.all_qualifier == "+":
        return b.failed(
            f'"{text}" ends in +all: every host on the internet may send as {domain.name}',
            f'Replace +all by -all: "{suggestion}"',
        )
    if required and required not in walk.includes:
        return b.failed(
            f'"{text}" does not include {required}: Exchange Online\'s servers are not authorised',
            f"Add include:{required} to the SPF record",
        )
    return b.passed(f'"{text}" ({walk.lookups} DNS lookups of 10)')


# --- DMARC --------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _psl() -> Callable[[str], str | None]:
    from publicsuffixlist import PublicSuffixList

    psl = PublicSuffixList()
    return psl.privatesuffix


def organisational_domain(name: str) -> str:
    org = _psl()(name)
    return (org or name).lower()


def check_dmarc(ctx: Context, domain: Domain) -> Verdict:
    probe = Probe(ctx.resolver)
    b = _Builder("dmarc", domain, None, probe)
    where = f"_dmarc.{domain.name}"
    answer = probe.ask(where, "TXT")
    if answer.status is Status.TEMPERROR:
        return b.temperror(answer.describe())
    records = [r for r in answer.records if is_dmarc_record(r)] if answer.ok else []
    inherited = ""
    org = organisational_domain(domain.name)
    if not records and org != domain.name:
        org_answer = probe.ask(f"_dmarc.{org}", "TXT")
        if org_answer.status is Status.TEMPERROR:
            return b.temperror(org_answer.describe())
        records = [r for r in org_answer.records if is_dmarc_record(r)] if org_answer.ok else []
        if records:
            where = f"_dmarc.{org}"
            inherited = f" (inherited from the organisational domain {org})"
    if not records:
        return b.failed(
            f"no DMARC record at _dmarc.{domain.name}: {answer.describe()}",
            f'Create TXT _dmarc.{domain.name} "v=DMARC1; p=none; rua=mailto:dmarc-reports@'
            f'{domain.name}" and move to quarantine, then reject',
        )
    if len(records) > 1:
        return b.permerror(
            f"{where} has {len(records)} DMARC records; receivers then apply no policy "
            "(RFC 7489 §6.6.3)",
            f"Keep exactly one v=DMARC1 record at {where}",
        )
    text = records[0]
    record = parse_dmarc(text)
    b.details["record"] = text
    b.details["source"] = where
    b.warnings.extend(record.warnings)
    if record.errors:
        return b.permerror(f'invalid DMARC record "{text}"{inherited}: {"; ".join(record.errors)}')
    policy = record.p
    if inherited and record.sp:
        policy = record.sp
    b.details["policy"] = policy
    minimum = ctx.policy.dmarc_min_policy
    if policy is None or policy_rank(policy) < policy_rank(minimum):
        return b.failed(
            f"policy p={policy}{inherited} is weaker than the required {minimum}",
            f"Set p={minimum} in {where}",
        )
    for uri in (*record.rua, *record.ruf):
        if uri.domain is None:
            continue
        dest = uri.domain.lower()
        if organisational_domain(dest) == org:
            continue
        auth_name = f"{domain.name}._report._dmarc.{dest}"
        auth = probe.ask(auth_name, "TXT")
        if auth.status is Status.TEMPERROR:
            return b.temperror(auth.describe())
        if not (auth.ok and any(r.strip().upper().startswith("V=DMARC1") for r in auth.records)):
            return b.failed(
                f"report destination {uri.address} is outside {org} and has not authorised "
                f"reports for {domain.name} (no v=DMARC1 at {auth_name})",
                f'Ask {dest} to publish TXT {auth_name} "v=DMARC1", or change the address',
            )
    return b.passed(f'"{text}"{inherited}: policy {policy}')


# --- dispatch -----------------------------------------------------------------------------

SelectorCheck = Callable[[Context, Domain, str], Verdict]
DomainCheck = Callable[[Context, Domain], Verdict]

SELECTOR_FUNCS: dict[str, SelectorCheck] = {
    "dkim_cname": check_dkim_cname,
    "dkim_target": check_dkim_target,
    "dkim_key": check_dkim_key,
}
DOMAIN_FUNCS: dict[str, DomainCheck] = {
    "dkim_rotation": check_dkim_rotation,
    "spf": check_spf,
    "dmarc": check_dmarc,
}


def evaluate(ctx: Context, check: str, domain: Domain, selector: str | None = None) -> Verdict:
    if check in SELECTOR_FUNCS:
        if selector is None:
            raise ValueError(f"{check} needs a selector")
        return SELECTOR_FUNCS[check](ctx, domain, selector)
    return DOMAIN_FUNCS[check](ctx, domain)


def cases(domain: Domain) -> list[tuple[str, str | None]]:
    """Every (check, selector) of one domain, in the stable order of the suite."""
    out: list[tuple[str, str | None]] = []
    cname_checks = not exo.is_initial_domain(domain.name)
    for check in SELECTOR_CHECKS:
        if check == "dkim_cname" and not cname_checks:
            continue
        out.extend((check, s) for s in domain.selectors)
    out.extend((check, None) for check in DOMAIN_CHECKS)
    return out
