"""Exchange Online target shapes and the selector-role rules (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dkimwatch import exo
from dkimwatch.inventory import Domain, Rotation
from dkimwatch.rotation import role, signing_selector


@pytest.mark.parametrize(
    ("target", "selector", "domain", "tenant"),
    [
        (
            "selector1-contoso-com._domainkey.contoso.onmicrosoft.com",
            "selector1",
            "contoso.com",
            "contoso",
        ),
        (
            "SELECTOR2-contoso-com._domainkey.Contoso.onmicrosoft.com.",
            "selector2",
            "contoso.com",
            "contoso",
        ),
        (
            "selector1-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft",
            "selector1",
            "contoso.com",
            "contoso",
        ),
        # real-world shapes: dropped hyphens and a suffix, tenant prefix in capitals
        (
            "selector1-findchildarrangementoption-service-gov-uk01be2e._domainkey.JusticeUK.w-v1.dkim.mail.microsoft",
            "selector1",
            "findchildarrangementoption.service.gov.uk",
            "justiceuk",
        ),
        (
            "selector1-contoso-com._domainkey.anyone.onmicrosoft.com",
            "selector1",
            "contoso.com",
            None,
        ),
    ],
)
def test_plausible_targets(target: str, selector: str, domain: str, tenant: str | None) -> None:
    assert exo.judge_target(target, selector, domain, tenant) is None


@pytest.mark.parametrize(
    ("target", "selector", "needle"),
    [
        (
            "selector1-contoso-com._domainkey.fabrikamcorp.onmicrosoft.com",
            "selector1",
            "tenant 'fabrikamcorp'",
        ),
        (
            "selector2-contoso-com._domainkey.contoso.onmicrosoft.com",
            "selector1",
            "target of selector2",
        ),
        (
            "selector1-fabrikam-com._domainkey.contoso.onmicrosoft.com",
            "selector1",
            "not derived from",
        ),
        (
            "selector1-contoso-com._domainkey.contoso.onmicrosoft.com.contoso.com",
            "selector1",
            "appended",
        ),
        (
            "selector1-contoso.com._domainkey.contoso.onmicrosoft.com",
            "selector1",
            "not an Exchange Online",
        ),
        (
            "selector1-contoso-com._domainkey.contoso.dkim.mail.microsoft",
            "selector1",
            "not an Exchange Online",
        ),
        ("mail.contoso.com", "selector1", "not an Exchange Online"),
    ],
)
def test_implausible_targets(target: str, selector: str, needle: str) -> None:
    reason = exo.judge_target(target, selector, "contoso.com", "contoso")
    assert reason is not None and needle in reason


def test_classic_target_and_initial_domain() -> None:
    assert (
        exo.classic_target("selector1", "mail.contoso.co.uk", "Contoso")
        == "selector1-mail-contoso-co-uk._domainkey.contoso.onmicrosoft.com"
    )
    assert exo.is_initial_domain("contoso.onmicrosoft.com")
    assert not exo.is_initial_domain("contoso.com")


NOW = datetime(2026, 11, 22, 9, tzinfo=UTC)


def test_rotation_rule() -> None:
    never_rotated = Domain(
        "a.com",
        "a.com",
        rotation=Rotation(datetime(2025, 3, 1, tzinfo=UTC), "selector2", "selector1"),
    )
    assert signing_selector(never_rotated, NOW) is not None
    assert role(never_rotated, "selector1", NOW, {}).active is True
    assert role(never_rotated, "selector2", NOW, {}).active is False
    pending = Domain(
        "a.com",
        "a.com",
        rotation=Rotation(datetime(2026, 12, 1, tzinfo=UTC), "selector1", "selector2"),
    )
    assert role(pending, "selector1", NOW, {}).active is True
    assert "until" in role(pending, "selector1", NOW, {}).reason


def test_role_without_rotation_data() -> None:
    d = Domain("a.com", "a.com")
    assert role(d, "selector2", NOW, {"selector1": True, "selector2": False}).active is False
    assert role(d, "selector1", NOW, {"selector1": False, "selector2": False}).active is True
    assert role(d, "selector1", NOW, {"selector1": False, "selector2": None}).active is None
