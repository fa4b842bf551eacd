"""The DKIM checks: dkim_cname, dkim_target, dkim_key and dkim_rotation."""

from __future__ import annotations

from dkimwatch.checks.dkim_cname import judge_cname
from dkimwatch.checks.verdict import Builder, Context, Probe, Verdict, selector_name
from dkimwatch.fixes import Advice, ExoFix, Fix, SupportCase
from dkimwatch.instants import iso_instant
from dkimwatch.model import Domain
from dkimwatch.records.dkim import judge_dkim_key, parse_dkim_key
from dkimwatch.resolver import Answer, Status
from dkimwatch.rotation import Role, role, signing_selector
from dkimwatch.standards import RECOMMENDED_TTL

# The ids of the checks in this module, for the enable gate's reading of their verdicts.
CNAME = "dkim_cname"
TARGET = "dkim_target"
KEY = "dkim_key"
ROTATION = "dkim_rotation"


def _key_published(answer: Answer) -> bool | None:
    """Whether a usable key is published: a non-empty TXT that is not a revoked key (None
    when DNS could not tell). A revoked key (empty p=, RFC 6376 §3.6.1) is a retired one:
    for telling which selector signs, it counts as no key."""
    if answer.status is Status.TEMPERROR:
        return None
    return answer.ok and any(r.strip() and not _revoked(r) for r in answer.records)


def _ask_key(probe: Probe, domain: Domain, selector: str) -> tuple[str, Answer, list[str]]:
    """The selector's key name, DNS's TXT answer there, and the non-empty records in it."""
    qname = selector_name(domain, selector)
    answer = probe.ask(qname, "TXT")
    return qname, answer, [r for r in answer.records if r.strip()] if answer.ok else []


def _revoked(record: str) -> bool:
    """A well-formed key record whose only statement is that the key is revoked."""
    parsed = parse_dkim_key(record)
    return parsed.revoked and not parsed.errors


def _show_config(domain: Domain, properties: str, why: str) -> ExoFix:
    return ExoFix(f"Get-DkimSigningConfig -Identity {domain.name} | fl {properties}", why)


def _key_fixes(
    ctx: Context,
    probe: Probe,
    domain: Domain,
    selector: str,
    answer: Answer,
    problem: str,
    rotate: bool = False,
) -> tuple[Fix, ...]:
    """The fixes of a key that is there but wrong. A key copied as TXT to the selector's
    name is the customer's record: the CNAME replaces it. A key behind the CNAME is
    Microsoft's: a new key (``rotate``, when a rotation can replace it) or a support case."""
    if not answer.chain:
        cname = judge_cname(ctx, probe, domain, selector)
        if cname.ok is False:
            return cname.fixes
    case = SupportCase(domain.name, selector, answer.final_name, problem)
    if not rotate:
        return (case,)
    cmdlet = f"Rotate-DkimSigningConfig -Identity {domain.name}"
    return (ExoFix(cmdlet, "Microsoft publishes this key: have it make a new one"), case)


def check_dkim_cname(ctx: Context, domain: Domain, selector: str) -> Verdict:
    probe = Probe(ctx.resolver)
    b = Builder(CNAME, domain, selector, probe)
    finding = judge_cname(ctx, probe, domain, selector)
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
    if finding.wildcard:
        b.details["synthesised_by"] = finding.wildcard
    return b.failed(finding.message, finding.fixes)


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
    b = Builder(TARGET, domain, selector, probe)
    qname, answer, records = _ask_key(probe, domain, selector)
    if answer.status is Status.TEMPERROR:
        return b.temperror(answer.describe())
    via = f" via {' → '.join(t for _, t in answer.chain)}" if answer.chain else ""
    if records:
        b.details["target"] = answer.final_name
        if not answer.chain:
            b.warnings.append(
                "key published as TXT directly instead of the Exchange Online CNAME: it will "
                "not follow Microsoft's key rotation"
            )
        revoked = ""
        if all(_revoked(r) for r in records):
            revoked = ": a revoked key (empty p=), see dkim_key"
        return b.passed(f"{qname}{via} answers with {len(answer.records)} TXT record(s){revoked}")
    if answer.status is Status.LOOP:
        what = f"the CNAME chain from {qname} does not end ({answer.error})"
    elif answer.ok:
        what = f"{answer.final_name} has only an empty TXT record"
    else:
        what = answer.describe()
    if domain.enabled is False:
        return _signing_disabled(b, f"no key{via}: {what}", "Microsoft publishes no key yet")
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
    fixes = _missing_key_fixes(ctx, probe, domain, selector, answer, what)
    if not r.known:
        return b.failed(
            f"no key is published for {selector}{via}: {what}; {why}: whichever signs, "
            "receivers reject its signatures ('DKIM invalid key')",
            fixes,
        )
    return b.failed(
        f"{selector} signs mail now ({why}), but no key is published{via}: {what}; receivers "
        "reject its signatures ('DKIM invalid key')",
        fixes,
    )


def _missing_key_fixes(
    ctx: Context, probe: Probe, domain: Domain, selector: str, answer: Answer, what: str
) -> tuple[Fix, ...]:
    """A wrong CNAME is the customer's to fix; behind a right one, the key is missing on
    Microsoft's side."""
    cname = judge_cname(ctx, probe, domain, selector)
    if not cname.ok:
        return cname.fixes
    return (
        SupportCase(domain.name, selector, answer.final_name, f"no key is published: {what}"),
        _show_config(domain, "Status", "Check its Status"),
    )


def check_dkim_key(ctx: Context, domain: Domain, selector: str) -> Verdict:
    probe = Probe(ctx.resolver)
    b = Builder(KEY, domain, selector, probe)
    qname, answer, records = _ask_key(probe, domain, selector)
    if answer.status is Status.TEMPERROR:
        return b.temperror(answer.describe())
    if not records:
        return b.make("none", "skipped", f"no key record at {qname} to validate (see dkim_target)")
    if len(records) > 1:
        return b.permerror(
            f"{answer.final_name} holds {len(records)} TXT records; a DKIM key name must hold "
            "exactly one (RFC 6376 §3.6.2.2)",
            [Advice(f"Keep one key record at {answer.final_name}")],
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
            stale = f"a stale key is published (SHA-256 {record.fingerprint}, not {mismatch})"
            return b.failed(
                f"{answer.final_name} publishes a key (SHA-256 {record.fingerprint}) other than "
                f"the one Exchange Online signs {selector} with (SHA-256 {mismatch}, from "
                f"Get-DkimSigningConfig {selector.capitalize()}PublicKey): receivers fail its "
                "signatures",
                _key_fixes(ctx, probe, domain, selector, answer, stale),
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
    unusable = f"the key is not usable: {judgement.message}"
    fix = _key_fixes(ctx, probe, domain, selector, answer, unusable, rotate=True)
    if judgement.result == "permerror":
        return b.permerror(f"{answer.final_name}: {judgement.message}", fix)
    return b.failed(f"{answer.final_name}: {judgement.message}{why_fails}", fix)


def _revoked_key_verdict(
    ctx: Context, probe: Probe, b: Builder, domain: Domain, selector: str, where: str
) -> Verdict | str:
    """A revoked key (empty p=, RFC 6376 §3.6.1) on a selector that does not sign is a
    legitimate retirement, expected like an unpublished key (xfailed). On the selector
    that signs (or may sign) it stays a failure: then the words that say why."""
    if domain.enabled is False:
        return _signing_disabled(b, f"{where}: key revoked (empty p=)", "nothing signs with it")
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


def _signing_disabled(b: Builder, found: str, so: str) -> Verdict:
    """What is found at a selector, expected (xfailed) while DKIM signing is disabled."""
    return b.make("none", "xfailed", f"{found}; DKIM signing is disabled for this domain, so {so}")


def _key_mismatch(published: str | None, expected_record: str) -> str | None:
    """The expected key's fingerprint when it differs from the published one, else None.
    Keys compare by their decoded p= bytes, so folding and whitespace do not matter."""
    expected = parse_dkim_key(expected_record).fingerprint
    if expected is None or expected == published:
        return None
    return expected


def check_dkim_rotation(ctx: Context, domain: Domain) -> Verdict:
    probe = Probe(ctx.resolver)
    b = Builder(ROTATION, domain, None, probe)
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
    fixes: list[Fix] = []
    for selector in candidates:
        problem, fix, temp = _signing_problem(ctx, probe, b, domain, selector)
        if temp:
            return b.temperror(problem or "DNS could not answer")
        if problem is None:
            return b.passed(f"{selector} signs now ({why}) and has a valid key")
        problems.append(problem)
        fixes.extend(fix)
    return b.failed("; ".join(problems) + f" ({why})", fixes)


def _signing_problem(
    ctx: Context, probe: Probe, b: Builder, domain: Domain, selector: str
) -> tuple[str | None, tuple[Fix, ...], bool]:
    """(problem, fixes, temperror) for the selector that signs."""
    cname = judge_cname(ctx, probe, domain, selector)
    if cname.ok is None:
        return cname.message, (), True
    qname, txt, records = _ask_key(probe, domain, selector)
    if txt.status is Status.TEMPERROR:
        return txt.describe(), (), True
    if cname.ok is False and not cname.txt_instead:
        return (
            f"{selector} signs mail, but its CNAME is wrong: {cname.message}",
            cname.fixes,
            False,
        )
    if cname.txt_instead:
        b.warnings.append(f"{selector}'s key is published as TXT instead of the CNAME")
    if cname.warning:
        b.warnings.append(cname.warning)
    if not records:
        what = txt.describe() if not txt.ok else "only an empty TXT record"
        return (
            f"{selector} signs mail, but no key is published behind {qname} ({what}): receivers "
            "reject its signatures as 'DKIM invalid key'",
            (SupportCase(domain.name, selector, txt.final_name, f"no key is published: {what}"),),
            False,
        )
    if len(records) > 1:
        return f"{txt.final_name} holds {len(records)} TXT records", (), False
    record = parse_dkim_key(records[0])
    judgement = judge_dkim_key(record, ctx.policy.min_key_bits)
    b.warnings.extend(judgement.warnings)
    expected_key = domain.public_key_for(selector)
    if judgement.result != "pass":
        unusable = f"the key is not usable: {judgement.message}"
        fixes = _key_fixes(ctx, probe, domain, selector, txt, unusable, rotate=True)
        return (
            f"{selector} signs mail, but its key is not usable: {judgement.message}",
            fixes,
            False,
        )
    if expected_key is not None and _key_mismatch(record.fingerprint, expected_key):
        stale = "a stale key is published (not the one Exchange Online signs with)"
        return (
            f"{selector} signs mail, but the key published behind {qname} is not the one "
            "Exchange Online signs with (see dkim_key)",
            _key_fixes(ctx, probe, domain, selector, txt, stale),
            False,
        )
    return None, (), False


def _foresight(ctx: Context, probe: Probe, domain: Domain) -> tuple[str, bool] | None:
    """For a rotation still ahead: (what we see of the selector that signs after it,
    whether that is a problem worth a warning)."""
    rotation = domain.rotation
    if rotation is None or ctx.now >= rotation.rotate_on or rotation.after == rotation.before:
        return None
    when = iso_instant(rotation.rotate_on)
    nxt = rotation.after
    cname = judge_cname(ctx, probe, domain, nxt)
    if cname.ok is None:
        return f"rotation on {when}: cannot tell whether {nxt} is ready ({cname.message})", True
    if cname.ok is False:
        return (
            f"rotation on {when}: {nxt} will sign then but is NOT ready: {cname.message}; "
            "fix it before that date",
            True,
        )
    _, txt, records = _ask_key(probe, domain, nxt)
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
