"""The naive baseline: each parametrized test asks DNS itself with dnspython, one after the
other, no cache shared between tests (what a first pytest suite for this looks like).

Same test names and ids as dkimwatch's suite; the checks are simplified (existence and the
obvious tag), so this is a lower bound on what a naive suite costs.
"""

from __future__ import annotations

import os

import dns.exception
import dns.resolver
import pytest

from conftest import SELECTORS, domains, selector_cases

SELECTOR_CASES = selector_cases()
DOMAINS = domains()


@pytest.fixture(scope="session")
def resolver() -> dns.resolver.Resolver:
    host, _, port = os.environ["BENCH_NAMESERVER"].rpartition(":")
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [host]
    r.port = int(port)
    r.timeout = 2.0
    r.lifetime = 4.0
    r.cache = None  # naive: every test asks for itself
    return r


def txt(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    return [b"".join(r.strings).decode(errors="replace") for r in answer]


@pytest.mark.parametrize("case", SELECTOR_CASES)
def test_dkim_cname(resolver: dns.resolver.Resolver, case: str) -> None:
    answer = resolver.resolve(case, "CNAME")
    assert "._domainkey." in answer[0].target.to_text()


@pytest.mark.parametrize("case", SELECTOR_CASES)
def test_dkim_target(resolver: dns.resolver.Resolver, case: str) -> None:
    assert any(r.strip() for r in txt(resolver, case))


@pytest.mark.parametrize("case", SELECTOR_CASES)
def test_dkim_key(resolver: dns.resolver.Resolver, case: str) -> None:
    records = [r for r in txt(resolver, case) if r.strip()]
    if not records:
        pytest.skip("no key")
    assert "p=" in records[0]
    assert records[0].split("p=", 1)[1].strip(" ;")


@pytest.mark.parametrize("case", DOMAINS)
def test_dkim_rotation(resolver: dns.resolver.Resolver, case: str) -> None:
    keys = [txt(resolver, f"{s}._domainkey.{case}") for s in SELECTORS]
    assert any("p=" in r for records in keys for r in records)


@pytest.mark.parametrize("case", DOMAINS)
def test_spf(resolver: dns.resolver.Resolver, case: str) -> None:
    records = [r for r in txt(resolver, case) if r.startswith("v=spf1")]
    assert len(records) == 1
    includes = [t.split(":", 1)[1] for t in records[0].split() if t.startswith("include:")]
    assert "spf.protection.outlook.com" in includes
    for name in includes:
        assert any(r.startswith("v=spf1") for r in txt(resolver, name))


@pytest.mark.parametrize("case", DOMAINS)
def test_dmarc(resolver: dns.resolver.Resolver, case: str) -> None:
    try:
        records = [r for r in txt(resolver, f"_dmarc.{case}") if r.startswith("v=DMARC1")]
    except dns.exception.DNSException as exc:
        pytest.fail(f"no answer: {exc}")
    assert len(records) == 1
