"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selftests.zonekit import Switchboard


@pytest.fixture(scope="module")
def board() -> Iterator[Switchboard]:
    """The embedded zone server on loopback, one per module; each test swaps in its zones
    with ``board.serving(zones)``, which hands it a resolver that asks them."""
    with Switchboard() as server:
        yield server
