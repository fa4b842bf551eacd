"""The dmarc check: one valid DMARC policy applies, at least as strong as required, and
its external report destinations have authorised the reports."""

from __future__ import annotations

from dataclasses import dataclass

from dkimwatch.checks.dmarc_discovery import (
    describe_discovery,
    discover_dmarc,
    find_dmarc,
    organisational_domain,
)
from dkimwatch.checks.verdict import Builder, Context, Probe, Verdict, near_misses
from dkimwatch.model import Domain
from dkimwatch.records.dmarc import (
    DmarcRecord,
    is_dmarc_record,
    lower_policy,
    parse_dmarc,
    policy_rank,
)
from dkimwatch.records.taglist import clip
from dkimwatch.resolver import Status


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
    probe: Probe, b: Builder, record: DmarcRecord, source: str
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
    b = Builder("dmarc", domain, None, probe)
    own = find_dmarc(probe, domain.name)
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
        found = discover_dmarc(probe, domain.name)
        if isinstance(found, str):
            return b.temperror(found)
        b.details["discovery"] = describe_discovery(found)
        if found.note:
            b.details["discovery_note"] = found.note
        near = near_misses(own.answer.records, "v=dmarc") if own.answer.ok else []
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
                elsewhere = f"; {describe_discovery(found)}"
            return b.failed(
                f"no DMARC record at {where}: {own.answer.describe()}{hint}{elsewhere}", create
            )
        inherited = f" ({describe_discovery(found)})"
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
