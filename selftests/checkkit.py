"""What the check-level unit tests (selftests/unit/checks/) share: the instant they judge
at, a check's context, and every DKIM verdict of one domain served by the embedded server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dkimwatch.checks import (
    Context,
    Verdict,
    check_dkim_cname,
    check_dkim_key,
    check_dkim_rotation,
    check_dkim_target,
)
from dkimwatch.inventory import Domain, Policy
from dkimwatch.resolver import Resolver
from selftests.zonekit import Switchboard, zones_from_text

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
DOMAIN = "example.com"
TENANT = "contoso"
TENANT_ZONE = f"{TENANT}.onmicrosoft.com"


def context(resolver: Resolver, tenant: str | None = None, **policy: Any) -> Context:
    """A check's context at NOW; ``policy``: the inventory's policy settings."""
    return Context(resolver=resolver, policy=Policy(**policy), tenant=tenant, now=NOW)


def dkim_verdicts(
    board: Switchboard,
    customer: str,
    dom: Domain,
    *,
    microsoft: str = "",
    tenant: str | None = TENANT,
) -> dict[str, Verdict]:
    """Every DKIM verdict of ``dom`` (example.com) whose zone holds ``customer`` and the
    tenant's zone ``microsoft`` (zone-file lines); keyed "check/selector" or "check"."""
    zones = zones_from_text({DOMAIN: customer, TENANT_ZONE: microsoft})
    out: dict[str, Verdict] = {}
    with board.serving(zones) as resolver:
        ctx = context(resolver, tenant)
        for s in dom.selectors:
            out[f"dkim_cname/{s}"] = check_dkim_cname(ctx, dom, s)
            out[f"dkim_target/{s}"] = check_dkim_target(ctx, dom, s)
            out[f"dkim_key/{s}"] = check_dkim_key(ctx, dom, s)
        out["dkim_rotation"] = check_dkim_rotation(ctx, dom)
    return out
