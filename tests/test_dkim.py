"""DKIM: each selector's CNAME and key, and the selector that signs now.

Cases come from the inventory (one per domain × selector, or per domain); the plugin
resolves DNS once and hands each test its verdict. DNS trouble makes a test an error.
"""

import pytest

from dkimwatch.plugin import Verdict, require

pytestmark = pytest.mark.dkim


def test_dkim_cname(verdict: Verdict) -> None:
    """<selector>._domainkey.<domain> is a CNAME to the expected Exchange Online target."""
    require(verdict)


def test_dkim_target(verdict: Verdict) -> None:
    """The selector, CNAMEs followed, answers with a TXT record (the inactive one may not)."""
    require(verdict)


def test_dkim_key(verdict: Verdict) -> None:
    """That TXT is exactly one valid DKIM key record."""
    require(verdict)


def test_dkim_rotation(verdict: Verdict) -> None:
    """The selector that signs now has its CNAME in place and a valid key."""
    require(verdict)


def test_dkim_enabled(verdict: Verdict) -> None:
    """Exchange Online has a DKIM signing config for the domain, and it is enabled."""
    require(verdict)
