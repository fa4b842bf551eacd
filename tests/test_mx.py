"""MX: where inbound mail goes (policy.mx: any, exchange_online or off)."""

import pytest

from dkimwatch.plugin import Verdict, require

pytestmark = pytest.mark.mx


def test_mx(verdict: Verdict) -> None:
    require(verdict)
