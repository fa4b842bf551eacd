"""SPF: one valid v=spf1 record that authorises Exchange Online, within the lookup limits."""

import pytest

from dkimwatch.plugin import Verdict, require

pytestmark = pytest.mark.spf


def test_spf(verdict: Verdict) -> None:
    require(verdict)
