"""DMARC: one valid v=DMARC1 record with at least the required policy."""

import pytest

from dkimwatch.plugin import Verdict, require

pytestmark = pytest.mark.dmarc


def test_dmarc(verdict: Verdict) -> None:
    require(verdict)
