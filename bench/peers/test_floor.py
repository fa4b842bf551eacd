"""The floor: as many parametrized tests as dkimwatch runs, with the same ids, doing nothing.

What pytest (and pytest-html, when asked) cost by themselves for this many tests.
"""

from __future__ import annotations

import pytest

from conftest import domains, selector_cases

SELECTOR_CASES = selector_cases()
DOMAINS = domains()


@pytest.mark.parametrize("case", SELECTOR_CASES)
def test_dkim_cname(case: str) -> None:
    assert case


@pytest.mark.parametrize("case", SELECTOR_CASES)
def test_dkim_target(case: str) -> None:
    assert case


@pytest.mark.parametrize("case", SELECTOR_CASES)
def test_dkim_key(case: str) -> None:
    assert case


@pytest.mark.parametrize("case", DOMAINS)
def test_dkim_rotation(case: str) -> None:
    assert case


@pytest.mark.parametrize("case", DOMAINS)
def test_spf(case: str) -> None:
    assert case


@pytest.mark.parametrize("case", DOMAINS)
def test_dmarc(case: str) -> None:
    assert case
