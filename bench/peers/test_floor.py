"""The floor: as many parametrized tests as dkimwatch runs, with the same function names
and ids, doing nothing.

What pytest (and pytest-html, when asked) cost by themselves for this many tests. The tests
are those of floor_cases.py (dkimwatch's registry applied to the inventory), one
``test_<check>`` per check, so the floor has the suite's count per domain.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import floor_outcomes, floor_tests

OUTCOMES = floor_outcomes()  # the suite's outcome of each test it did not pass (--outcomes)


def _floor_test(check: str, ids: list[str]) -> Callable[[str], None]:
    ends = OUTCOMES.get(check, {})

    @pytest.mark.parametrize("case", ids, ids=ids)
    def test(case: str) -> None:
        said = ends.get(case)
        if said is None:
            return
        outcome, message = said
        if outcome == "skipped":
            pytest.skip(message)
        if outcome == "xfailed":
            pytest.xfail(message)
        pytest.fail(message, pytrace=False)  # failed or error

    test.__name__ = test.__qualname__ = f"test_{check}"
    return test


for _check, _ids in floor_tests().items():
    globals()[f"test_{_check}"] = _floor_test(_check, _ids)
