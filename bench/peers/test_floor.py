"""The floor: as many parametrized tests as dkimwatch runs, with the same function names
and ids, doing nothing.

What pytest (and pytest-html, when asked) cost by themselves for this many tests. The tests
are those of floor_cases.py (dkimwatch's registry applied to the inventory), one
``test_<check>`` per check, so the floor has the suite's count per domain.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import floor_tests


def _floor_test(check: str, ids: list[str]) -> Callable[[str], None]:
    @pytest.mark.parametrize("case", ids, ids=ids)
    def test(case: str) -> None:
        assert case

    test.__name__ = test.__qualname__ = f"test_{check}"
    return test


for _check, _ids in floor_tests().items():
    globals()[f"test_{_check}"] = _floor_test(_check, _ids)
