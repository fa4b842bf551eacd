"""The pytest plugin: inventory → DNS answers → verdicts → pytest outcomes and reports.

Only hooks, each handing over to the part that does the work: the run (``run.py``: the
inventory, the instant, the helper process and the xdist hand-off), the reporter
(``reporter.py``: results, junit, the HTML report, history, publishing) and the heap
(``heap.py``: the garbage collector's part).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from dkimwatch import heap
from dkimwatch.helper import Helper, HelperError, wanted
from dkimwatch.outcomes import Skipped, TempError, XFailed, quick_report

# The rest of dkimwatch is imported once the helper process is started (pytest_configure),
# so that the two processes' imports overlap: the controller's is most of a small run's wait
# for its first verdict.
if TYPE_CHECKING:
    from dkimwatch.checks import Verdict
    from dkimwatch.reporter import attach_verdict, final_outcome
    from dkimwatch.run import Case, Run

_RUN = pytest.StashKey["Run"]()
_AUTO_DECLINED = pytest.StashKey[bool]()  # -n auto was answered with no workers
VERDICT_ARG = "verdict"  # the argument of every compliance test


def __getattr__(name: str) -> Any:
    """``Verdict``, which tests/ import from here, comes with the checks (imported late)."""
    if name == "Verdict":
        from dkimwatch.checks import Verdict

        return Verdict
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pytest_configure(config: pytest.Config) -> None:
    # What the per-test hooks call is bound here, once, as module globals: an import in a
    # hook would be looked up again for each of a large run's 330,000 reports.
    global Case, attach_verdict, final_outcome
    informing = config.option.help or getattr(config.option, "version", False)
    workerinput = getattr(config, "workerinput", None)
    helper = Helper() if not informing and workerinput is None and wanted(config) else None
    from dkimwatch.registry import marker_lines
    from dkimwatch.reporter import Reporter, attach_verdict, final_outcome
    from dkimwatch.run import Case, configure_controller, configure_worker

    for line in marker_lines():  # the check families: -m dkim, -m spf, -m dmarc
        config.addinivalue_line("markers", line)
    if informing:
        return
    if workerinput is not None:
        config.stash[_RUN] = configure_worker(config, workerinput)
        return
    try:
        run = configure_controller(
            config, auto_declined=config.stash.get(_AUTO_DECLINED, False), helper=helper
        )
    except BaseException:
        if helper is not None:
            helper.stop()
        raise
    # The helper may already be asking DNS, and a Ctrl-C may come at any point: the run
    # is closed (and the staging folder removed) by whoever is registered by then.
    try:
        config.stash[_RUN] = run
        config.pluginmanager.register(_Controller(run), "dkimwatch-controller")
    except BaseException:
        run.close()
        raise
    reporter = Reporter(config, run)
    config.pluginmanager.register(reporter, "dkimwatch-reporter")
    reporter.stage()  # outputs are staged, and published only when the run completes
    # Added first, so it runs after the other plugins' cleanups (pytest's unraisable-exception
    # pass among them): a process that goes on after pytest.main() collects normally again.
    config.add_cleanup(heap.restore)
    heap.freeze_at_exit()
    heap.hold()  # until collection is done: it builds what lives until the end


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` picks no workers. Every DNS question is answered before any test runs,
    so a test only judges answers, which costs less than xdist's transport and reporting of
    it (bench/RESULTS.md: the -n 2 rows take longer than one process at every size).
    An explicit ``-n N`` still spreads."""
    config.stash[_AUTO_DECLINED] = True
    return 0


# --- collection ---------------------------------------------------------------------------


def check_of(function: object) -> str:
    """The check a test function reports: its ``check`` marker, else its name."""
    marks: list[pytest.Mark] = getattr(function, "pytestmark", [])
    marker = next((m for m in marks if m.name == "check"), None)
    if marker is not None:
        return str(marker.args[0])
    return str(getattr(function, "__name__", "")).removeprefix("test_")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if VERDICT_ARG not in metafunc.fixturenames:
        return
    run = metafunc.config.stash.get(_RUN, None)
    if run is None:
        return
    from dkimwatch.registry import IDS as CHECK_IDS
    from dkimwatch.run import usage_error

    check = check_of(metafunc.function)
    if check not in CHECK_IDS:
        raise usage_error(
            f"{metafunc.function.__name__}: unknown check {check!r}; expected one of "
            f"{', '.join(CHECK_IDS)}"
        )
    params, ids = run.parameters(check)
    metafunc.parametrize(VERDICT_ARG, params, ids=ids)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A run of many tenants: each test answers to its tenant's name (``-k contoso``).
    --gate keeps only the gate's checks; the rest are deselected, not skipped."""
    run = config.stash.get(_RUN, None)
    if run is not None and run.inventories:
        for item in items:
            case = _case_of(item)
            tenant = run.tenant_of(case.domain) if case is not None else None
            if tenant is not None:
                item.extra_keyword_matches.add(tenant)
    if not config.option.gate:
        return
    from dkimwatch.registry import GATE_IDS

    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        function = getattr(item, "function", None)
        gate_check = function is not None and check_of(function) in GATE_IDS
        (keep if gate_check else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _case_of(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get(VERDICT_ARG) if callspec is not None else None
    return case if isinstance(case, Case) else None


# --- running ------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None]:
    """Set up a compliance test: its ``verdict`` argument, parametrized with the test's
    Case, becomes the Case's verdict. DNS trouble makes the test an error, an xfailed or
    skipped verdict makes it so, and an active waiver makes it an expected failure.

    Not a fixture: a fixture layer over the parameter cost more per test than judging."""
    yield
    case = _case_of(item)
    if case is None:
        return
    try:
        verdict = case.run.verdict(case.key).verdict
    except HelperError as exc:
        raise TempError(f"no verdict: {exc}") from None
    outcome = verdict.outcome
    if outcome == "error":
        raise TempError(verdict.message)
    if outcome == "xfailed":
        # pytest.xfail() without the source traceback that pytest would render (and parse
        # the file for) on every call: the message is the whole story.
        raise XFailed(verdict.message, pytrace=False)
    if outcome == "skipped":
        raise Skipped(verdict.message)  # reported at the test (pytest_runtest_makereport)
    text, active = case.run.waiver_text(case.check, case.domain)
    if active:
        item.add_marker(pytest.mark.xfail(reason=f"waived: {text}", strict=False))
    item.funcargs[VERDICT_ARG] = verdict  # type: ignore[attr-defined]


def require(verdict: Verdict) -> None:
    """The assertion of every compliance test: the verdict holds."""
    if verdict.result != "pass":
        pytest.fail(f"{verdict.result}: {verdict.message}", pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> pytest.TestReport | None:
    """A compliance test's own outcome gets its report without pytest's traceback
    machinery (outcomes.py says why); anything else is left to pytest."""
    if call.excinfo is None or _case_of(item) is None:
        return None
    return quick_report(item, call)


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_attach(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """The verdict goes with the report that decides the test's outcome."""
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, TempError):
        report.longrepr = f"temperror: {call.excinfo.value}"
    if final_outcome(report) is None:
        return report  # a passing setup or teardown: the verdict goes with the other report
    case = _case_of(item)
    judged = case.run.verdicts.get(case.key) if case is not None else None
    if judged is not None:
        attach_verdict(report, judged, worker=hasattr(item.config, "workerinput"))
    return report


class _Controller:
    """Hooks that only the controlling process runs: the run's helper, the xdist hand-off
    and the heap at collection and at the end (the reporter has its own hooks, and settles
    the heap while the tests run)."""

    def __init__(self, run: Run) -> None:
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Under xdist, resolve everything once, concurrently, before the workers start."""
        if session.config.pluginmanager.has_plugin("dsession"):
            heap.release()  # this process collects nothing, and resolving makes garbage
            self.run.hand_off()
        # One process: the helper resolves what the selected tests need, after collection.

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """One process: the helper resolves and judges what the selected tests need, in
        the order they run (-k, -m, --gate and node ids resolve only their part)."""
        run = self.run
        heap.settle()  # what collection built lives until the end
        heap.release()
        if run.helper is None or run.helper_jobs:
            return  # xdist (resolved at session start), or a whole-suite run already submitted
        keys = {case.key: None for item in session.items if (case := _case_of(item))}
        run.submit(list(keys), want_answers=bool(session.config.option.record or run.shard))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        if self.run.progress is not None:
            self.run.progress.stop()  # the tests show their own progress from here
        try:
            return (yield)
        finally:
            self.run.finish_helper()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput.update(self.run.worker_input())

    @pytest.hookimpl(tryfirst=True, specname="pytest_unconfigure")
    def pytest_unconfigure_settle(self, config: pytest.Config) -> None:
        # Before pytest's own full passes at the end (its search for unraisable exceptions):
        # one pass here, while its hook still records them, and theirs walk only what is new.
        heap.release()
        heap.settle_fully()

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.run.close()


__all__ = ["TempError", "Verdict", "require"]
