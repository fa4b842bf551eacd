"""The outcomes a compliance test raises, and their reports built without a traceback.

A verdict that does not pass is raised without a traceback (``pytrace=False``): the message
is the whole story. pytest would still run its traceback machinery for each (filtering
frames, locating and parsing source) before finding nothing to show, a measured cost per
non-passing test with thousands of them (bench/RESULTS.md). ``quick_report`` builds the
same report directly. It needs ``_pytest._code.code``'s representation classes, which
pytest does not export; they are kept to this module.
"""

from __future__ import annotations

import os
from types import TracebackType

import pytest
from _pytest._code.code import ExceptionChainRepr, ReprEntry, ReprFileLocation, ReprTraceback
from _pytest.outcomes import Failed, Skipped, XFailed

__all__ = ["Skipped", "TempError", "XFailed", "quick_report"]


class TempError(Failed):
    """DNS could not answer: the test is an error, never a failure and never a pass.

    An outcome exception without a traceback (like ``pytest.fail(..., pytrace=False)``):
    pytest would otherwise render the source of every frame for every such test (it parses
    the files each time), which a dead server makes thousands of times per run.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, pytrace=False)


def quick_report(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
    """The report of a compliance test's own outcome raised without a traceback, as
    pytest would build it; None for anything else (pytest builds that one)."""
    excinfo, when = call.excinfo, call.when
    if excinfo is None or when not in ("setup", "call"):
        return None
    value = excinfo.value
    skipped = isinstance(value, Skipped)
    if not skipped and not (isinstance(value, Failed) and not value.pytrace):
        return None
    longrepr: tuple[str, int, str] | ExceptionChainRepr
    if skipped:
        # The skip is raised by dkimwatch, for the test: report the test's own place
        # (as pytest does for a skip marker), not the plugin's line.
        where, at = item.reportinfo()[:2]
        longrepr = (os.fspath(where), (at or 0) + 1, excinfo.exconly(tryshort=True))
    else:
        # Where it was raised: the last frame not hidden from tracebacks (pytest.fail()
        # hides its own), as pytest reports it.
        shown = excinfo.tb
        tb: TracebackType | None = shown
        while tb is not None:
            if not tb.tb_frame.f_locals.get("__tracebackhide__", False):
                shown = tb
            tb = tb.tb_next
        path, line = shown.tb_frame.f_code.co_filename, shown.tb_lineno
        entry = ReprEntry(str(value).split("\n"), None, None, None, "value")
        crash = ReprFileLocation(path, line, excinfo.exconly(tryshort=True))
        longrepr = ExceptionChainRepr([(ReprTraceback([entry], None, "value"), crash, None)])
    return pytest.TestReport(
        item.nodeid,
        item.location,
        dict.fromkeys(item.keywords, 1),
        "skipped" if skipped else "failed",
        longrepr,
        "setup" if when == "setup" else "call",
        [(f"Captured {key} {when}", content) for when, key, content in item._report_sections],
        call.duration,
        call.start,
        call.stop,
        user_properties=item.user_properties,
    )
