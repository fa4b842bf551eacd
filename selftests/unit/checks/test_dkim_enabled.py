"""dkim_enabled as a function of the inventory entry alone (it asks no DNS): every state
Exchange Online can report, and the entry's own ``enabled:`` when no export says.

The expected verdicts are written from README's rule: the Get-DkimSigningConfig export in
``sources:`` first, else the entry's ``enabled:``, skipped (with the reason) without either.
selftests/unit/test_accepted_domains.py holds the same check fed by real exports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dkimwatch.checks import Context, Verdict
from dkimwatch.checks.exo import check_dkim_enabled
from dkimwatch.fixes import Advice, ExoFix
from dkimwatch.inventory import Domain, Policy
from dkimwatch.resolver import DnsClient, Resolver

NOW = datetime(2026, 6, 1, tzinfo=UTC)
NAME = "contoso.com"


def enabled(**entry: Any) -> Verdict:
    # Port 9 (discard) on loopback: nothing answers there, and the check must not ask.
    resolver = Resolver(DnsClient(["127.0.0.1:9"], timeout=0.1, attempts=1))
    ctx = Context(resolver=resolver, policy=Policy(), tenant="contoso", now=NOW)
    name = entry.pop("name", NAME)
    verdict = check_dkim_enabled(ctx, Domain(name, name, **entry))
    assert verdict.evidence == ()  # no DNS question behind this verdict
    return verdict


@pytest.mark.parametrize(
    ("entry", "result", "outcome", "said"),
    [
        (
            {"exo_dkim": "enabled", "status": "Valid"},
            "pass",
            "passed",
            f"Exchange Online has a DKIM signing config for {NAME} and it is enabled (Status "
            "Valid)",
        ),
        (
            {"exo_dkim": "enabled"},
            "pass",
            "passed",
            f"Exchange Online has a DKIM signing config for {NAME} and it is enabled",
        ),
        (
            {"enabled": True},
            "pass",
            "passed",
            f"DKIM signing is enabled for {NAME} (the inventory says enabled: true)",
        ),
        (
            {"enabled": False},
            "fail",
            "failed",
            f"DKIM signing is disabled for {NAME} (the inventory says enabled: false)",
        ),
        (
            {"exo_dkim": "disabled"},
            "fail",
            "failed",
            f"DKIM signing is disabled for {NAME} in Exchange Online",
        ),
        # The export is what Exchange Online says: it outranks a hand-written enabled:.
        (
            {"exo_dkim": "disabled", "enabled": True},
            "fail",
            "failed",
            f"DKIM signing is disabled for {NAME} in Exchange Online",
        ),
        (
            {"exo_dkim": "enabled", "enabled": False},
            "pass",
            "passed",
            f"Exchange Online has a DKIM signing config for {NAME} and it is enabled",
        ),
        (
            {"exo_dkim": "missing"},
            "fail",
            "failed",
            f"{NAME} is an accepted domain that users can send from, but Exchange Online has no "
            "DKIM signing config",
        ),
        (
            {"exo_dkim": "unset", "source": "dkim.json:4"},
            "none",
            "skipped",
            f"the Get-DkimSigningConfig export (dkim.json:4) has no Enabled value for {NAME}",
        ),
        ({}, "none", "skipped", "no Get-DkimSigningConfig export among the inventory's sources"),
        (
            {"exo_dkim": "missing", "name": "contoso.onmicrosoft.com"},
            "none",
            "skipped",
            "contoso.onmicrosoft.com is a Microsoft-managed onmicrosoft.com domain with no "
            "signing config",
        ),
        (
            {"exo_dkim": "missing", "coexistence": True},
            "none",
            "skipped",
            f"{NAME} is the hybrid coexistence domain",
        ),
        (
            {"exo_dkim": "disabled", "sending_disabled": True},
            "none",
            "skipped",
            f"Exchange Online does not let anyone send from {NAME}",
        ),
    ],
)
def test_each_state_gets_its_verdict(
    entry: dict[str, Any], result: str, outcome: str, said: str
) -> None:
    v = enabled(**entry)
    assert (v.result, v.outcome) == (result, outcome), v.message
    assert v.message.startswith(said), v.message
    if "status" not in entry:
        assert "(Status" not in v.message


def test_the_verdict_names_the_export_record_it_rests_on() -> None:
    assert enabled(exo_dkim="enabled", source="dkim.json:7").details["source"] == "dkim.json:7"
    assert "source" not in enabled(enabled=True).details


def test_fixes_turn_signing_on_only_after_the_gate() -> None:
    gate = Advice(f"Check that both selector CNAMEs are published: dkimwatch gate {NAME} (exit 0)")
    enable = ExoFix(
        f"Set-DkimSigningConfig -Identity {NAME} -Enabled $true", "then turn signing on"
    )
    assert enabled(exo_dkim="disabled").fixes == (gate, enable)
    create = ExoFix(
        f"New-DkimSigningConfig -DomainName {NAME} -Enabled $false",
        "Create the keys without signing yet",
    )
    missing = enabled(exo_dkim="missing").fixes
    assert missing[0] == create and missing[-2:] == (gate, enable)
    assert enabled(exo_dkim="unset").fixes == ()
