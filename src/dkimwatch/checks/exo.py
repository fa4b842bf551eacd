"""dkim_enabled: what Exchange Online itself says about a domain's DKIM signing.

No DNS: the verdict comes from the exports named in ``sources:`` (Get-DkimSigningConfig,
Get-AcceptedDomain). A domain that Exchange Online lets users send from but does not sign
for is signed with the tenant's ``*.onmicrosoft.com`` key, which DMARC does not align
with the domain: the records in DNS may all be right and receivers still see no aligned
DKIM signature.
"""

from __future__ import annotations

from dkimwatch import exo
from dkimwatch.checks.verdict import Builder, Context, Probe, Verdict
from dkimwatch.fixes import Advice, ExoFix
from dkimwatch.model import Domain

CHECK = "dkim_enabled"
_IN_EXO = "in Exchange Online"  # where the state was said when the export said it


def not_audited(domain: Domain) -> str | None:
    """Why a domain gets no DNS checks of its sending (DKIM, SPF), or None when it does: the
    hybrid coexistence domain, and domains Exchange Online does not let users send from."""
    if domain.coexistence:
        return (
            f"{domain.name} is the hybrid coexistence domain: it routes mail between "
            "on-premises Exchange and Exchange Online, Microsoft runs its DNS and no one sends "
            "from it, so dkimwatch checks none of its records"
        )
    if domain.sending_disabled:
        return (
            f"Exchange Online does not let anyone send from {domain.name} "
            "(SendingFromDomainDisabled): its DKIM signing, selectors and SPF are not "
            "checked; its MX and DMARC are"
        )
    return None


def check_dkim_enabled(ctx: Context, domain: Domain) -> Verdict:
    b = Builder(CHECK, domain, None, Probe(ctx.resolver))
    name = domain.name
    if domain.source:  # the export record this verdict rests on (it asks no DNS)
        b.details["source"] = domain.source
    why_not = not_audited(domain)
    if why_not is not None:
        return b.make("none", "skipped", why_not)
    state, said = _signing_state(domain)
    if state is None or state == "unset":
        return b.make("none", "skipped", _state_unknown(domain, state))
    if state == "enabled":
        return b.passed(_enabled(domain, said))
    if state == "disabled":
        return b.failed(
            f"DKIM signing is disabled for {name} {said}: its mail is signed with "
            f"the tenant's onmicrosoft.com key, which DMARC does not align with {name}",
            (_gate(name), _enable(name)),
        )
    return _no_signing_config(b, domain)


def _signing_state(domain: Domain) -> tuple[str | None, str]:
    """(Get-DkimSigningConfig's state for the domain, where that was said). An inventory's
    enabled: is the export's Enabled written down (by hand or by dkimwatch import): judged as
    the export would be."""
    if domain.exo_dkim is None and domain.enabled is not None:
        state = "enabled" if domain.enabled else "disabled"
        return state, f"(the inventory says enabled: {'true' if domain.enabled else 'false'})"
    return domain.exo_dkim, _IN_EXO


def _state_unknown(domain: Domain, state: str | None) -> str:
    """Why the verdict is skipped: no export (state None) or an export with no Enabled."""
    name = domain.name
    if state is None:
        return (
            f"no Get-DkimSigningConfig export among the inventory's sources and no enabled: "
            f"for {name}, so what Exchange Online has for it is unknown (add the export to "
            "sources:)"
        )
    return f"the Get-DkimSigningConfig export ({domain.source}) has no Enabled value for {name}"


def _enabled(domain: Domain, said: str) -> str:
    name = domain.name
    if said != _IN_EXO:
        return f"DKIM signing is enabled for {name} {said}"
    status = f" (Status {domain.status})" if domain.status else ""
    return f"Exchange Online has a DKIM signing config for {name} and it is enabled{status}"


def _gate(name: str) -> Advice:
    return Advice(f"Check that both selector CNAMEs are published: dkimwatch gate {name} (exit 0)")


def _enable(name: str) -> ExoFix:
    return ExoFix(f"Set-DkimSigningConfig -Identity {name} -Enabled $true", "then turn signing on")


def _no_signing_config(b: Builder, domain: Domain) -> Verdict:
    """An accepted domain missing from the Get-DkimSigningConfig export."""
    name = domain.name
    if exo.is_initial_domain(name):
        return b.make(
            "none",
            "skipped",
            f"{name} is a Microsoft-managed onmicrosoft.com domain with no signing config in the "
            "export: Microsoft signs it and publishes its keys itself",
        )
    return b.failed(
        f"{name} is an accepted domain that users can send from, but Exchange Online has no "
        "DKIM signing config for it (not in the Get-DkimSigningConfig export): its mail is "
        f"signed with the tenant's onmicrosoft.com key, which DMARC does not align with {name}",
        (
            ExoFix(
                f"New-DkimSigningConfig -DomainName {name} -Enabled $false",
                "Create the keys without signing yet",
            ),
            Advice(
                "publish the two CNAMEs it shows "
                f"(Get-DkimSigningConfig -Identity {name} | fl Selector1CNAME,Selector2CNAME)"
            ),
            _gate(name),
            _enable(name),
        ),
    )
