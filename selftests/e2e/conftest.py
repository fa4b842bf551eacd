"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import pytest

from selftests import tenantkit
from selftests.suitekit import install_suite


@pytest.fixture
def tenant(pytester: pytest.Pytester) -> pytest.Pytester:
    """The shipped suite with tenantkit's tenant (one domain per failure kind)."""
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    return pytester
