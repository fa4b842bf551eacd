"""mx: the inbound half. Where mail for a domain goes, judged by the inventory's
``policy.mx``:

- ``any`` (the default): at least one MX whose host has an address, or a null MX
  (RFC 7505) for a domain that takes no mail. A gateway in front of Exchange Online passes.
- ``exchange_online``: the preferred MX (lowest preference) is Exchange Online's,
  ``<label>.mail.protection.outlook.com`` or the DNSSEC-capable ``<token>.<letter>-v1.mx.microsoft``
  (docs/exchange-online.md, "MX"), and has an address.
- ``off``: not checked.

DNS that does not answer is a temperror, never "no MX".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dkimwatch import exo
from dkimwatch.checks.verdict import Builder, Context, Probe, Verdict
from dkimwatch.fixes import Advice
from dkimwatch.model import Domain
from dkimwatch.names import normalise
from dkimwatch.resolver import Status

CHECK = "mx"
_PROTECTION = re.compile(r"^(?P<label>[a-z0-9-]+)\.mail\.protection\.outlook\.com$")
_DNSSEC = re.compile(r"^(?P<label>[a-z0-9-]+)\.(?P<letter>[a-z])-v1\.mx\.microsoft$")


@dataclass(frozen=True)
class Mx:
    preference: int
    host: str  # no trailing dot, lower case; "" for the null MX's root name

    def __str__(self) -> str:
        return f"{self.preference} {self.host or '.'}"


def parse_mx(rdata: str) -> Mx | None:
    """``10 mail.example.com.`` → Mx(10, "mail.example.com"); None when it is not MX rdata."""
    parts = rdata.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return None
    return Mx(int(parts[0]), normalise(parts[1]))


def exchange_online_host(host: str) -> str | None:
    """The form of an Exchange Online MX host ("mail.protection.outlook.com" or
    "mx.microsoft"), or None when the host is not Exchange Online's."""
    if _PROTECTION.match(host):
        return "mail.protection.outlook.com"
    if _DNSSEC.match(host):
        return "mx.microsoft"
    return None


def _label_hint(domain: str, host: str) -> str | None:
    """A warning when a mail.protection.outlook.com host's label is not the domain's (dots
    and hyphens dropped, as Microsoft's labels sometimes differ only in those)."""
    m = _PROTECTION.match(host)
    if m is None:
        return None
    squash = m["label"].replace("-", "")
    if squash.startswith(domain.replace(".", "").replace("-", "")):
        return None
    return (
        f"{host} is an Exchange Online host, but its label is not derived from {domain}: "
        "check the MX value the Microsoft 365 admin center shows for the domain"
    )


def check_mx(ctx: Context, domain: Domain) -> Verdict:
    probe = Probe(ctx.resolver)
    b = Builder(CHECK, domain, None, probe)
    name = domain.name
    policy = ctx.policy.mx
    why_not = _not_checked(policy, name, domain.coexistence)
    if why_not is not None:
        return b.make("none", "skipped", why_not)
    answer = probe.ask(name, "MX")
    if answer.status is Status.TEMPERROR:
        return b.temperror(answer.describe())
    if answer.status is Status.NXDOMAIN:
        return b.failed(
            f"{name} does not exist in DNS (NXDOMAIN): no mail can reach it", _create(name)
        )
    records = [m for m in (parse_mx(r) for r in answer.records) if m is not None]
    if answer.status is Status.LOOP or not records:
        why = answer.describe() if not answer.ok else "the MX answer holds no MX record"
        return b.failed(
            f"no MX record at {name} ({why}): senders fall back to its address records "
            "(RFC 5321 §5.1) or give up",
            _create(name),
        )
    records.sort(key=lambda m: (m.preference, m.host))
    b.details["mx"] = [str(m) for m in records]
    if any(not m.host for m in records):
        return _null_mx(b, name, records, policy)
    candidates = records
    if policy == "exchange_online":
        preferred = _preferred_exchange_online(b, name, records)
        if isinstance(preferred, Verdict):
            return preferred
        candidates = preferred
    return _delivery(b, probe, name, candidates, records)


def _not_checked(policy: str, name: str, coexistence: bool) -> str | None:
    """Why the domain's MX is not judged, or None when it is."""
    if policy == "off":
        return "not checked: the inventory's policy says mx: off"
    if coexistence or exo.is_initial_domain(name):
        return (
            f"{name} is a Microsoft-managed onmicrosoft.com domain: Microsoft runs its DNS and "
            "its mail routing"
        )
    return None


def _shown(records: list[Mx]) -> str:
    return ", ".join(str(m) for m in records)


def _create(name: str) -> tuple[Advice, ...]:
    return (
        Advice(
            f"Create the MX record the Microsoft 365 admin center shows for {name} "
            f"(Settings > Domains > {name} > DNS records; usually "
            f"0 {exo.domain_label(name)}.mail.protection.outlook.com), or your mail "
            "gateway's; for a domain that takes no mail, a null MX (MX 0 .)"
        ),
    )


def _null_mx(b: Builder, name: str, records: list[Mx], policy: str) -> Verdict:
    """A null MX (RFC 7505): right alone and where the policy lets a domain take no mail."""
    shown = _shown(records)
    if len(records) > 1:
        return b.failed(
            f"{name} mixes a null MX with other MX records ({shown}): RFC 7505 §3 allows a "
            "null MX only alone, so senders may treat the domain as taking no mail",
            (Advice("Keep either the null MX (no mail) or the real MX records, not both"),),
        )
    if policy == "exchange_online":
        return b.failed(
            f"{name} publishes a null MX ({shown}: it takes no mail, RFC 7505), but the "
            "policy requires Exchange Online's MX (mx: exchange_online)",
            _create(name),
        )
    return b.passed(f"{name} publishes a null MX: it takes no mail (RFC 7505)")


def _preferred_exchange_online(b: Builder, name: str, records: list[Mx]) -> Verdict | list[Mx]:
    """Under mx: exchange_online, the preferred MX records (all Exchange Online's), or the
    failed verdict when one of them is not."""
    top = records[0].preference
    preferred = [m for m in records if m.preference == top]
    foreign = [m for m in preferred if exchange_online_host(m.host) is None]
    if foreign:
        return b.failed(
            f"the preferred MX of {name} ({_shown(foreign)}) is not "
            "Exchange Online's (…mail.protection.outlook.com or …<letter>-v1.mx.microsoft); "
            f"MX: {_shown(records)}",
            (
                Advice(
                    f"Point the MX of {name} at the host the Microsoft 365 admin center "
                    "shows for it; when a mail gateway receives mail first, set "
                    "policy mx: any"
                ),
            ),
        )
    for m in preferred:
        hint = _label_hint(name, m.host)
        if hint:
            b.warnings.append(hint)
    return preferred


def _delivery(
    b: Builder, probe: Probe, name: str, candidates: list[Mx], records: list[Mx]
) -> Verdict:
    """Passed at the first candidate host with an address; else failed (or temperror when
    DNS could not say for some host)."""
    unreachable: list[str] = []
    dns_failed: list[str] = []
    for m in candidates:
        found = _address(probe, m.host)
        if found is True:
            if unreachable or dns_failed:
                b.warnings.append(
                    "MX host(s) without an address: " + "; ".join([*unreachable, *dns_failed])
                )
            form = exchange_online_host(m.host)
            whose = f", Exchange Online ({form})" if form is not None else ""
            return b.passed(f"{name} receives mail at {m.host}{whose}; MX: {_shown(records)}")
        if found is None:
            dns_failed.append(f"{m.host}: DNS gave no answer")
        else:
            unreachable.append(f"{m.host}: {found}")
    if dns_failed:
        return b.temperror(
            f"no MX host of {name} has an address that DNS could confirm: "
            + "; ".join([*unreachable, *dns_failed])
        )
    return b.failed(
        f"no MX host of {name} has an address, so no mail can be delivered: "
        + "; ".join(unreachable),
        (
            Advice(
                f"Point the MX of {name} at a host that exists (for Exchange Online, the "
                "value the Microsoft 365 admin center shows)"
            ),
        ),
    )


def _address(probe: Probe, host: str) -> bool | str | None:
    """True when the host has an A or AAAA record; None when DNS could not say; else why not."""
    a = probe.ask(host, "A")
    if a.status is Status.TEMPERROR:
        return None
    if a.ok and a.records:
        return True
    if a.status is Status.NXDOMAIN:
        return "does not exist (NXDOMAIN)"
    aaaa = probe.ask(host, "AAAA")
    if aaaa.status is Status.TEMPERROR:
        return None
    if aaaa.ok and aaaa.records:
        return True
    return "no A or AAAA record"
