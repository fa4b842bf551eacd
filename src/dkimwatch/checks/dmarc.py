"""The dmarc check: one valid DMARC policy applies, at least as strong as required, and
its external report destinations have authorised the reports."""

from __future__ import annotations

from dataclasses import dataclass

from dkimwatch.checks.dmarc_discovery import (
    DmarcFind,
    describe_discovery,
    discover_dmarc,
    find_dmarc,
    organisational_domain,
)
from dkimwatch.checks.verdict import Builder, Context, Probe, Verdict, near_misses
from dkimwatch.fixes import Advice, Fix, RecordFix
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
    ``drop`` the tags whose removal ends the difference."""

    policy: str
    enforced: str
    why: str = ""
    drop: tuple[str, ...] = ()


def _enforced(record: DmarcRecord, policy: str) -> _Enforced:
    lower = lower_policy(policy)
    weakening = (("t",) if record.t == "y" else ()) + (
        ("pct",) if record.pct is not None and record.pct < 100 else ()
    )
    # Under p=none they change nothing now, but would weaken a stronger policy set later.
    if record.t == "y":
        why = f"t=y asks RFC 9989 receivers to apply {lower} instead"
        return _Enforced(policy, lower, "" if policy == "none" else why, weakening)
    if record.pct is not None and record.pct < 100:
        why = (
            f"pct={record.pct} has RFC 7489 receivers apply {lower} to "
            f"{100 - record.pct}% of failing mail"
        )
        return _Enforced(policy, lower, "" if policy == "none" else why, weakening)
    return _Enforced(policy, policy)


def edited_record(text: str, set_tags: dict[str, str], drop: tuple[str, ...] = ()) -> str:
    """A tag-list record with tags set (their names as written, any case) and dropped,
    every other tag as it was, in its place."""
    out: list[str] = []
    done: set[str] = set()
    for part in (p.strip() for p in text.split(";")):
        name = part.partition("=")[0].strip()
        key = name.lower()
        if not part or key in drop:
            continue
        if key in set_tags:
            part = f"{name}={set_tags[key]}"
            done.add(key)
        out.append(part)
    out.extend(f"{k}={v}" for k, v in set_tags.items() if k not in done)
    return "; ".join(out)


def _report_authorisation(
    probe: Probe, b: Builder, record: DmarcRecord, source: str
) -> tuple[list[str], list[Fix], str | None]:
    """(unauthorised destinations, fixes, temperror) for rua/ruf outside the organisation.

    RFC 7489 §7.1 / RFC 9990 §4: a receiver asks ``<policy domain>._report._dmarc.<dest>``
    (the policy domain being where the record was found) and sends reports only if a
    v=DMARC1 record is there; DNS wildcards (``*._report._dmarc.<dest>``) answer that
    question like any other record, so they authorise every domain at once.
    """
    org = organisational_domain(source)
    missing: list[str] = []
    fixes: list[Fix] = []
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
        # The record belongs in the destination's zone, not the customer's.
        fixes.append(RecordFix("create", auth_name, "TXT", "v=DMARC1", organisational_domain(dest)))
        fixes.append(
            Advice(
                f"{auth_name} is {dest}'s to publish (or *._report._dmarc.{dest}): ask its "
                f"owner, or change the address {uri.address}"
            )
        )
    if authorised:
        b.details["authorised_destinations"] = list(dict.fromkeys(authorised))
    return missing, fixes, None


# A policy that applies: (domain whose record it is, its text, "own" or "inherited").
_Applied = tuple[str, str, str]


def check_dmarc(ctx: Context, domain: Domain) -> Verdict:
    probe = Probe(ctx.resolver)
    b = Builder("dmarc", domain, None, probe)
    own = find_dmarc(probe, domain.name)
    if own.answer.status is Status.TEMPERROR:
        return b.temperror(own.answer.describe())
    found = _applicable(ctx, probe, b, domain, own)
    if isinstance(found, Verdict):
        return found
    chosen, inherited = found
    b.details["record"] = chosen[0][1]
    b.details["source"] = f"_dmarc.{chosen[0][0]}"
    if len(chosen) > 1:
        b.details["records"] = {f"_dmarc.{s}": t for s, t, _ in chosen}
        b.warnings.append(f"receivers disagree on the policy of {domain.name}{inherited}")
    judged = _judge_records(probe, b, chosen, inherited)
    if isinstance(judged, Verdict):
        return judged
    weakest, problems, fixes = judged
    applied, shown, tag, (source, text) = weakest
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
        meets = policy_rank(applied.policy) >= policy_rank(minimum)
        value = edited_record(text, {} if meets else {tag: minimum}, applied.drop)
        fix = RecordFix("replace", f"_dmarc.{source}", "TXT", value, source, found=text)
        return b.failed(message, [fix])
    if problems:
        return b.failed("; ".join(problems), fixes)
    why = f" ({applied.why})" if applied.why else ""
    return b.passed(f'"{clip(chosen[0][1], 600)}"{inherited}: policy {shown}{why}')


def _applicable(
    ctx: Context, probe: Probe, b: Builder, domain: Domain, own: DmarcFind
) -> tuple[list[_Applied], str] | Verdict:
    """The records whose policy applies to the domain (its own, or those receivers
    inherit, which may differ by discovery rule) and how they were inherited; or the
    verdict when none applies."""
    where = f"_dmarc.{domain.name}"
    if len(own.records) > 1:
        # RFC 7489 §6.6.3 ends discovery here; RFC 9989 §4.10 discards them and walks on:
        # either way this domain's own policy is not applied.
        b.details["records"] = list(own.records)
        return b.failed(
            f"{where} has {len(own.records)} DMARC records; receivers discard them all, so no "
            "policy of this domain applies (RFC 7489 §6.6.3, RFC 9989 §4.10)",
            [Advice(f"Keep exactly one v=DMARC1 record at {where}")],
        )
    if own.records:
        return [(domain.name, own.records[0], "own")], ""
    found = discover_dmarc(probe, domain.name)
    if isinstance(found, str):
        return b.temperror(found)
    b.details["discovery"] = describe_discovery(found)
    if found.note:
        b.details["discovery_note"] = found.note
    if found.rfc7489 is None or found.bis is None:
        near = near_misses(own.answer.records, "v=dmarc") if own.answer.ok else []
        hint = (
            f'; "{clip(near[0])}" is not selected: a DMARC record must start with "v=DMARC1" '
            'and a ";"'
            if near
            else ""
        )
        elsewhere = f"; {describe_discovery(found)}" if found.rfc7489 or found.bis else ""
        return b.failed(
            f"no DMARC record at {where}: {own.answer.describe()}{hint}{elsewhere}",
            _create_policy(ctx, domain),
        )
    chosen = [
        (source, found.records[source], "inherited")
        for source in dict.fromkeys((found.rfc7489, found.bis))
    ]
    return chosen, f" ({describe_discovery(found)})"


def _create_policy(ctx: Context, domain: Domain) -> list[Fix]:
    """A record of the required policy, with aggregate reports to the domain itself."""
    minimum = ctx.policy.dmarc_min_policy
    value = f"v=DMARC1; p={minimum}; rua=mailto:dmarc-reports@{domain.name}"
    fixes: list[Fix] = [RecordFix("create", f"_dmarc.{domain.name}", "TXT", value, domain.name)]
    if minimum != "reject":
        fixes.append(
            Advice("Move to quarantine, then reject, once the reports show your mail passes")
        )
    return fixes


def _judge_records(
    probe: Probe, b: Builder, chosen: list[_Applied], inherited: str
) -> tuple[tuple[_Enforced, str, str, tuple[str, str]], list[str], list[Fix]] | Verdict:
    """The weakest policy that applies (what applies, as shown, its tag, (the domain whose
    record it is, the record)), the report destinations' problems and their fixes; or the
    verdict of a record that is invalid or DNS trouble."""
    weakest: tuple[_Enforced, str, str, tuple[str, str]] | None = None
    problems: list[str] = []
    fixes: list[Fix] = []
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
            weakest = (applied, shown, tag, (source, text))
        missing, more_fixes, temp = _report_authorisation(probe, b, record, source)
        if temp is not None:
            return b.temperror(temp)
        problems.extend(missing)
        fixes.extend(more_fixes)
    assert weakest is not None
    return weakest, problems, fixes
