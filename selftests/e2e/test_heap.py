"""The garbage collector's part in a run (dkimwatch.heap): survivors are frozen out of the
collector's way, garbage still dies, and a process that goes on after an audit collects
normally again."""

from __future__ import annotations

import gc
import re
import weakref
from collections.abc import Iterator

import pytest

from dkimwatch import heap
from selftests import tenantkit
from selftests.suitekit import install_suite

pytest_plugins = ["pytester"]


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.enable()


def test_settle_collects_young_cycles_and_freezes_survivors(unfrozen: None) -> None:
    kept = Node()
    garbage = Node()
    garbage.other = Node()
    garbage.other.other = garbage  # a cycle: only the collector can free it
    dead = weakref.ref(garbage)
    del garbage
    before = gc.get_freeze_count()
    heap.settle()
    assert dead() is None
    assert gc.get_freeze_count() > before
    assert not any(obj is kept for obj in gc.get_objects())  # frozen: out of every generation


def test_settler_settles_every_nth_tick(unfrozen: None) -> None:
    settler = heap.Settler(every=3)
    settler.tick()
    settler.tick()
    assert gc.get_freeze_count() == 0
    settler.tick()
    assert gc.get_freeze_count() > 0


def test_hold_and_release_leave_a_disabled_collector_disabled(unfrozen: None) -> None:
    heap.hold()
    assert not gc.isenabled()
    heap.release()
    assert gc.isenabled()
    gc.disable()
    heap.hold()
    heap.release()
    assert not gc.isenabled()  # someone else turned it off; not ours to turn back on


def test_an_in_process_audit_leaves_the_collector_as_it_found_it(
    pytester: pytest.Pytester, unfrozen: None
) -> None:
    """pytest.main() inside a longer-lived process: the audit freezes while it runs (every
    SETTLE_EVERY tests and at the end) but unfreezes when it is done, so nothing it built
    outlives it as uncollectable garbage."""
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    frozen_at_end: list[int] = []

    class Watch:
        def pytest_unconfigure(self) -> None:
            frozen_at_end.append(gc.get_freeze_count())

    result = pytester.runpytest_inprocess("--now", tenantkit.NOW, plugins=[Watch()])
    assert result.ret == 1  # the tenant has failing domains
    assert frozen_at_end and frozen_at_end[0] > 0
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


WATCH = """
import gc
import weakref

import pytest

phases = []


def pytest_runtest_logreport(report):
    if report.when != "call" and report.passed and not report.sections:
        phases.append(weakref.ref(report))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish():
    gc.collect()  # a failed test's traceback and frames make a cycle that holds its reports
    # The last test's teardown report may still be held by pytest's own call stack.
    alive = sum(1 for ref in phases[:-1] if ref() is not None)
    print(f"phase reports: {len(phases)}, alive at the end: {alive}")
"""


def test_a_passing_phase_report_dies_once_every_plugin_has_seen_it(
    pytester: pytest.Pytester,
) -> None:
    """A passing setup or teardown report without captured output is of no further use to
    pytest's terminal summary or to pytest-html once its test is done: it is not kept until
    the end (reporter.release_report lets go of pytest-html's ``_reports`` and the terminal
    reporter's ``stats[""]``; if either internal changes, these reports live on and this
    test fails). A subprocess: pytester's in-process runs record every hook call."""
    install_suite(pytester)
    tenantkit.write_tenant(pytester.path)
    pytester.makepyfile(dkw_watch=WATCH)
    result = pytester.runpytest_subprocess("--now", tenantkit.NOW, "-p", "dkw_watch")
    assert result.ret == 1  # the tenant has failing domains
    found = re.search(r"phase reports: (\d+), alive at the end: (\d+)", result.stdout.str())
    assert found is not None
    assert int(found.group(1)) > 20
    assert found.group(2) == "0"
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] > 0 and outcomes["failed"] > 0  # the counts are still there
