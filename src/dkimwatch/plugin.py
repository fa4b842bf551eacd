"""The pytest plugin: inventory → DNS answers → verdicts → pytest outcomes and reports.

The controller (the only process without xdist, or xdist's controller) loads the
inventory, starts the embedded DNS server when zone files are given, and resolves every
question the checks will ask, concurrently and once. The answers go to a file whose path
reaches xdist workers through ``workerinput``; tests then only judge answers, offline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Generator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from _pytest._code.code import ExceptionChainRepr, ReprEntry, ReprFileLocation, ReprTraceback
from _pytest.outcomes import Failed, Skipped, XFailed

from dkimwatch import __version__, heap, history
from dkimwatch.checks import (
    Context,
    Verdict,
    selector_name,
)
from dkimwatch.gate import GATE_CHECKS, GateError, gate_domain
from dkimwatch.helper import (
    CONCURRENCY,
    ClientSpec,
    Helper,
    HelperError,
    Job,
    Judged,
    Work,
    judge,
)
from dkimwatch.instants import iso_instant, parse_instant
from dkimwatch.inventory import (
    Domain,
    Inventory,
    InventoryError,
    load_inventory,
)
from dkimwatch.junit import JUnitXml, default_config
from dkimwatch.options import separate_path_options
from dkimwatch.registry import IDS as CHECK_IDS
from dkimwatch.registry import SUITE_ORDER, cases, evaluate, marker_lines
from dkimwatch.report import (
    EVIDENCE_CSS,
    LIVE_DNS,
    REPLAY,
    ZONE_FILES,
    answers_from_html,
    answers_from_text,
    atomic_write_text,
    badge_svg,
    changes_html,
    domain_lines,
    domain_states,
    domains_headline,
    domains_summary,
    dumps,
    failures_csv,
    matrix_html,
    publish,
    results_document,
)
from dkimwatch.resolver import Resolver, servers_to_ask

try:
    from pytest_html import extras as _html_extras
except ImportError:  # pragma: no cover - pytest-html is a dependency
    _html_extras = None

_STATE = pytest.StashKey["_State"]()
_AUTO_DECLINED = pytest.StashKey[bool]()  # -n auto was answered with no workers
REPORT_ATTR = "dkimwatch_verdict"


class TempError(Failed):
    """DNS could not answer: the test is an error, never a failure and never a pass.

    An outcome exception without a traceback (like ``pytest.fail(..., pytrace=False)``):
    pytest would otherwise render the source of every frame for every such test (it parses
    the files each time), which a dead server makes thousands of times per run.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, pytrace=False)


@dataclass
class _State:
    inventory: Inventory
    now: datetime
    resolver: Resolver
    resolvers: list[str]
    reports: Path
    staging: Path | None = None
    # Tests the whole suite has for the inventory (before --gate narrows it): a run that
    # reports fewer is partial.
    suite_size: int = 0
    progress: _Progress | None = None  # a large run's lines until its first test
    started: str = ""
    staged_html: bool = False  # report.html is ours to publish (no --html of the user's)
    server: Any = None
    answers_file: Path | None = None
    inventory_file: Path | None = None
    spreading_declined: str | None = None  # why -n was not followed (see _decline_spreading)
    # Where the answers come from (live DNS, zone files, a saved record): results.json's
    # answers_from, said wherever the run is reported.
    answers_from: dict[str, Any] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    phases: dict[str, dict[str, str]] = field(default_factory=dict)
    junit: JUnitXml | None = None  # writes junit.xml in place of pytest's writer
    tmpdir: Path | None = None
    # One process: the helper that resolves and judges while the tests run, and the index
    # of each (check, domain, selector) in the work it was given.
    helper: Helper | None = None
    client_spec: ClientSpec | None = None
    helper_jobs: dict[Key, int] = field(default_factory=dict)
    # Verdicts as the reports want them, computed once per key.
    judged: dict[Key, Judged] = field(default_factory=dict)
    # DNS questions asked and queries sent, once the helper has reported them.
    dns_counts: tuple[int, int] | None = None
    _by_name: dict[str, Domain] = field(default_factory=dict)
    _parameters: dict[str, tuple[list[Case], list[str]]] = field(default_factory=dict)

    def domain(self, name: str) -> Domain:
        """The inventory entry of ``name``, by dict (Inventory.domain() scans the list)."""
        if not self._by_name:
            self._by_name = {d.name: d for d in self.inventory.domains}
        return self._by_name[name]

    def context(self) -> Context:
        return Context(
            resolver=self.resolver,
            policy=self.inventory.policy,
            tenant=self.inventory.tenant,
            now=self.now,
        )

    def waiver_text(self, check: str, domain: str) -> tuple[str | None, bool]:
        """(what results data says of the domain's waiver for check, whether it is active)."""
        waiver = self.inventory.waiver_for(domain, check)
        if waiver is None:
            return None, False
        if waiver.active(self.now.date()):
            until = f" until {waiver.expires.isoformat()}" if waiver.expires else ""
            return f"{waiver.reason}{until}", True
        return f"expired on {_expired(waiver.expires)}: {waiver.reason}", False

    def job(self, key: Key) -> Job:
        check, name, selector = key
        return Job(check, self.domain(name), selector, self.waiver_text(check, name)[0])

    def judge(self, key: Key) -> Judged:
        """The verdict of key: from the helper (waiting for it), or judged here from the
        answers this process has (xdist workers, replays)."""
        found = self.judged.get(key)
        if found is None:
            index = self.helper_jobs.get(key)
            if self.helper is not None and index is not None:
                found = self.helper.get(index)
            else:
                found = judge(self.context(), self.job(key))
            self.judged[key] = found
        return found

    def parameters(self, check: str) -> tuple[list[Case], list[str]]:
        """The cases of one check, in inventory order, and their test ids."""
        if not self._parameters:
            for domain in self.inventory.domains:
                for c, selector in cases(domain):
                    params, ids = self._parameters.setdefault(c, ([], []))
                    params.append(Case(c, domain.name, selector, self))
                    ids.append(selector_name(domain, selector) if selector else domain.name)
        return self._parameters.get(check, ([], []))

    def counts(self) -> tuple[int, int]:
        """(DNS questions asked, queries sent) in this run."""
        if self.dns_counts is not None:
            return self.dns_counts
        return len(self.resolver.answers()), self.resolver.queries_sent()


Key = tuple[str, str, str | None]  # (check, domain, selector)
VERDICT_ARG = "verdict"  # the argument of every compliance test


@dataclass(frozen=True)
class Case:
    """A test's parameter: which verdict it reports. Knows its run, so that the verdict
    fixture needs no ``request`` (pytest builds a fixture definition for every use of it,
    a noticeable cost per test with thousands of tests)."""

    check: str
    domain: str
    selector: str | None
    state: _State = field(repr=False, compare=False, hash=False)

    @property
    def key(self) -> Key:
        return (self.check, self.domain, self.selector)


def _fail(message: str) -> pytest.UsageError:
    return pytest.UsageError(message)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--gate keeps only the gate's checks; the rest are deselected, not skipped."""
    if not config.option.gate:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        function = getattr(item, "function", None)
        gate_check = function is not None and check_of(function) in GATE_CHECKS
        (keep if gate_check else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config: pytest.Config) -> None:
    for line in marker_lines():  # the check families: -m dkim, -m spf, -m dmarc
        config.addinivalue_line("markers", line)
    if config.option.help or getattr(config.option, "version", False):
        return
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        _configure_worker(config, workerinput)
        return
    _configure_controller(config)
    # Added first, so it runs after the other plugins' cleanups (pytest's unraisable-exception
    # pass among them): a process that goes on after pytest.main() collects normally again.
    config.add_cleanup(heap.restore)
    heap.freeze_at_exit()
    heap.hold()  # until collection is done: it builds what lives until the end


def _gated(config: pytest.Config, inventory: Inventory) -> Inventory:
    """With --gate DOMAIN, the inventory shrinks to that domain (the gate checks only it)."""
    name = config.option.gate
    if not name:
        return inventory
    try:
        domain = gate_domain(inventory, name)
    except GateError as exc:
        raise _fail(f"--gate: {exc}") from None
    return dataclasses.replace(inventory, domains=(domain,))


def _configure_worker(config: pytest.Config, workerinput: dict[str, Any]) -> None:
    pickled = workerinput.get("dkimwatch_inventory_pickle")
    if pickled:  # the controller's parsed inventory (its own private temporary file)
        inventory = _gated(config, pickle.loads(Path(pickled).read_bytes()))
    else:
        inventory = _gated(config, load_inventory(workerinput["dkimwatch_inventory"]))
    resolver, _meta = Resolver.load(Path(workerinput["dkimwatch_answers"]))
    config.stash[_STATE] = _State(
        inventory=inventory,
        now=parse_instant(workerinput["dkimwatch_now"]),
        resolver=resolver,
        resolvers=list(workerinput["dkimwatch_resolvers"]),
        reports=Path(workerinput["dkimwatch_reports"]),
    )


# Above this many tests report.html lists only the tests that did not pass. pytest-html
# builds every row in the browser, and a report of tens of thousands of rows no longer loads
# in useful time, with evidence or without (bench/RESULTS.md).
LARGE_REPORT_TESTS = 20_000

_AUTO_ONE_PROCESS = (
    "-n auto runs in one process: the tests only judge answers resolved up front, and "
    "spreading them costs more than it saves (bench/RESULTS.md); -n N spreads as asked"
)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` picks no workers. Every DNS question is answered before any test runs,
    so a test only judges answers, which costs less than xdist's transport and reporting of
    it (bench/RESULTS.md: the -n 2 rows take longer than one process at every size).
    An explicit ``-n N`` still spreads."""
    config.stash[_AUTO_DECLINED] = True
    return 0


# A run of at least this many domains says on the terminal what it does before its first
# test (reading, collecting, resolving): at 10,000 domains that takes tens of seconds.
PROGRESS_DOMAINS = 1_000
PROGRESS_BYTES = 1_000_000  # an inventory file this large is announced before it is read
PROGRESS_EVERY = 5.0  # seconds between "still …" lines of one long step


class _Progress:
    """One line on the terminal per step of a large run's preparation, and a "still …" line
    every few seconds while one step lasts; quiet once the first test starts."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.quiet = config.get_verbosity() < -1
        self.large = False  # PROGRESS_DOMAINS or more: each step gets its lines
        self.step = ""
        self.since = 0.0
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def say(self, line: str) -> None:
        if self.quiet:
            return
        # pytest configures this plugin before its terminal reporter exists.
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        with self.lock:
            if reporter is None:
                sys.stdout.write(f"dkimwatch: {line}\n")
                sys.stdout.flush()
            else:
                reporter.write_line(f"dkimwatch: {line}")
                reporter.flush()

    def start(self, step: str, line: str) -> None:
        """Announce a step; until the next (or stop), a line every PROGRESS_EVERY seconds."""
        self.say(line)
        self.step, self.since = step, time.monotonic()
        if self.thread is None and not self.quiet:
            self.thread = threading.Thread(target=self._tick, name="dkimwatch-progress")
            self.thread.daemon = True
            self.thread.start()

    def _tick(self) -> None:
        while not self.stopped.wait(PROGRESS_EVERY):
            step, since = self.step, self.since
            if step:
                self.say(f"still {step} ({time.monotonic() - since:.0f} s)")

    def stop(self) -> None:
        self.step = ""
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()
            self.thread = None


def _configure_controller(config: pytest.Config) -> None:
    opt = config.option
    path = Path(opt.domains) if opt.domains else Path(config.rootpath) / "domains.yaml"
    _check_rootdir(config)
    declined = _AUTO_ONE_PROCESS if config.stash.get(_AUTO_DECLINED, False) else None
    progress = _Progress(config)
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # load_inventory says what is wrong with it
    if size >= PROGRESS_BYTES:
        progress.start(f"reading {path}", f"reading {path} ({size / 1e6:.1f} MB)")
    try:
        whole = load_inventory(path)
    except InventoryError as exc:
        progress.stop()
        raise _fail(str(exc)) from None
    inventory = _gated(config, whole)
    suite_size = sum(len(cases(d)) for d in whole.domains)
    if len(inventory.domains) >= PROGRESS_DOMAINS:
        progress.large = True
        progress.start(
            "collecting",
            f"{len(inventory.domains):,} domains, {suite_size:,} tests: collecting",
        )
    else:
        progress.stop()
    try:
        now = parse_instant(opt.now) if opt.now else datetime.now(UTC).replace(microsecond=0)
    except ValueError:
        raise _fail(
            f"--now: expected an ISO 8601 instant such as 2026-11-22T09:00:00Z, got {opt.now!r}"
        ) from None

    reports = Path(opt.reports)
    if not reports.is_absolute():
        reports = Path(config.invocation_params.dir) / reports
    tmpdir = Path(tempfile.mkdtemp(prefix="dkimwatch-"))
    state = _State(
        inventory=inventory,
        now=now,
        resolver=Resolver(None),
        resolvers=[],
        reports=reports,
        tmpdir=tmpdir,
        suite_size=suite_size,
        progress=progress,
    )
    if opt.replay:
        try:
            state.resolver, meta = Resolver.load(Path(opt.replay))
        except (OSError, ValueError, KeyError) as exc:
            raise _fail(
                f"--replay: {opt.replay}: not a readable dkimwatch record ({exc})"
            ) from None
        state.resolvers = [f"replay:{opt.replay}", *meta.get("resolvers", [])]
        if not opt.now and meta.get("now"):
            state.now = parse_instant(str(meta["now"]))
        state.client_spec = ClientSpec((), 0.0, 0, replay=str(opt.replay))
        state.answers_from = {"kind": REPLAY, "detail": str(opt.replay)}
        if isinstance(meta.get("answers_from"), dict):
            state.answers_from["recorded_from"] = meta["answers_from"]
    else:
        state.resolvers, state.server = _nameservers(config, inventory)
        # With --authoritative the recursive servers only find the NS; the answers come
        # from the zones' own servers.
        spec = ClientSpec(
            tuple(state.resolvers),
            inventory.dns.timeout,
            inventory.dns.attempts,
            consistency=opt.consistency,
            authoritative=opt.authoritative,
            authoritative_port=opt.authoritative_port,
        )
        if opt.authoritative:
            state.resolvers = [f"authoritative (NS via {', '.join(state.resolvers)})"]
        if state.server is not None:
            state.answers_from = {"kind": ZONE_FILES, "detail": str(state.server.source)}
        else:
            state.answers_from = {"kind": LIVE_DNS, "detail": ", ".join(state.resolvers)}
        state.client_spec = spec
        state.resolver = spec.resolver()
    if getattr(opt, "dist", "no") == "no" and not opt.collectonly:
        # Started now, so that its imports overlap the collection (see dkimwatch.helper).
        state.helper = Helper()
        if not _selects(config):
            # The whole suite will run: the helper starts on it while pytest collects,
            # in the order of the suite's test files.
            _submit(config, state, [c.key for k in SUITE_ORDER for c in state.parameters(k)[0]])

    # Outputs are staged and published only when the run completes (atomic, see unconfigure).
    reports.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(reports)
    state.staging = reports / f".staging-{os.getpid()}"
    shutil.rmtree(state.staging, ignore_errors=True)
    state.staging.mkdir()
    if not getattr(opt, "htmlpath", None):
        opt.htmlpath = str(state.staging / "report.html")
        opt.self_contained_html = True
        state.staged_html = True
    if default_config(config):
        # pytest's format at a fraction of its cost (junit.py); a --junitxml file is still
        # pytest's to write.
        state.junit = JUnitXml()
    elif not getattr(opt, "xmlpath", None):
        opt.xmlpath = str(state.staging / "junit.xml")  # JUnit configured: pytest writes it
    state.started = iso_instant(datetime.now(UTC))
    state.spreading_declined = declined
    config.stash[_STATE] = state
    config.pluginmanager.register(_Controller(config, state), "dkimwatch-controller")


def _selects(config: pytest.Config) -> bool:
    """Whether options or arguments may keep some of the suite's tests from running."""
    opt = config.option
    chosen = ("keyword", "markexpr", "gate", "lf", "failedfirst", "deselect", "ignore")
    if any(getattr(opt, name, None) for name in (*chosen, "ignore_glob")):
        return True
    return _selects_paths(config)


def _submit(config: pytest.Config, state: _State, keys: list[Key]) -> None:
    """Hand the helper these verdicts to compute, in this order."""
    assert state.helper is not None and state.client_spec is not None
    state.helper_jobs = {key: index for index, key in enumerate(keys)}
    state.helper.submit(
        Work(
            client=state.client_spec,
            policy=state.inventory.policy,
            tenant=state.inventory.tenant,
            now=state.now,
            jobs=tuple(state.job(key) for key in keys),
            want_answers=bool(config.option.record),
        )
    )


def _remove_stale_staging(reports: Path) -> None:
    """Drop staging folders (and replaced partial outputs) of runs that were killed before
    they could finish publishing."""
    for prefix in (".staging-", _OLD_PARTIAL):
        for folder in reports.glob(f"{prefix}*"):
            pid = folder.name.removeprefix(prefix)
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)


PARTIAL_DIR = "partial"  # a partial run's outputs, inside the reports folder
_OLD_PARTIAL = ".partial-old-"


def _replace_folder(staging: Path, target: Path) -> None:
    """Put ``staging`` in the place of ``target`` as a whole (no file of an older run stays):
    the old folder is renamed away first, then removed."""
    old = target.with_name(f"{_OLD_PARTIAL}{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _selection(config: pytest.Config) -> list[str]:
    """What on the command line (or in addopts) chose only part of the suite."""
    opt = config.option
    why: list[str] = []
    if getattr(opt, "keyword", ""):
        why.append(f"-k {opt.keyword}")
    if getattr(opt, "markexpr", ""):
        why.append(f"-m {opt.markexpr}")
    if getattr(opt, "gate", None):
        why.append(f"--gate {opt.gate}")
    for name, flag in (("deselect", "--deselect"), ("ignore", "--ignore")):
        for value in getattr(opt, name, None) or ():
            why.append(f"{flag} {value}")
    for value in getattr(opt, "ignore_glob", None) or ():
        why.append(f"--ignore-glob {value}")
    if _selects_paths(config):
        why.append(f"test paths {' '.join(config.args)}")
    return why


def _partial(
    config: pytest.Config, session: pytest.Session, exitstatus: int, ran: int, suite_size: int
) -> dict[str, Any] | None:
    """None for a complete run: the whole suite ran to its end. Otherwise how much ran of
    how much, and why only that: {"selected": N, "total": M, "why": "..."}."""
    opt = config.option
    why = _selection(config)
    if getattr(opt, "collectonly", False):
        why.append("--collect-only")
    if getattr(opt, "stepwise", False):
        why.append("--stepwise")
    if ran < suite_size and getattr(opt, "lf", False):
        why.append("--lf: the last run's failures only")
    stopped = session.shouldfail or session.shouldstop
    if stopped:
        why.append(f"stopped early ({stopped})" if isinstance(stopped, str) else "stopped early")
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        why.append("no test ran")
    elif exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        why.append(f"pytest exit status {int(exitstatus)}")
    if ran < suite_size and not why:
        why.append(f"{suite_size - ran} of the suite's tests did not run")
    if not why:
        return None
    return {"selected": ran, "total": suite_size, "why": "; ".join(why)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_rootdir(config: pytest.Config) -> None:
    """pytest fixes its root directory before plugins' options are known, so the value of
    `--domains PATH` (with a space) can be taken for a test path and root the session in the
    wrong place. On a command line dkimwatch.options runs pytest again with `=`; in-process
    runs (pytest.main) get this message instead of an audit with the wrong root."""
    if config.inipath is not None:
        return
    apart = separate_path_options(list(config.invocation_params.args))
    if apart:
        flag, value = apart[0]
        raise _fail(
            f"{flag} {value}: pytest may have taken this path for a test path and found "
            f"no ini file; write {flag}={value} (with '=')"
        )


def _nameservers(config: pytest.Config, inventory: Inventory) -> tuple[list[str], Any]:
    opt = config.option
    try:
        return servers_to_ask(inventory, opt.nameserver, Path(opt.zones) if opt.zones else None)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _metadata(config: pytest.Config, state: _State) -> None:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover
        return
    import dns.version

    meta = config.stash.get(metadata_key, None)
    if meta is None:
        return
    meta["dkimwatch"] = __version__
    meta["Evaluation instant (now)"] = iso_instant(state.now)
    meta["Tenant"] = state.inventory.tenant or "(none)"
    meta["Inventory"] = str(state.inventory.path)
    meta["Inventory sha256"] = state.inventory.sha256
    meta["Domains"] = str(len(state.inventory.domains))
    meta["Resolvers"] = ", ".join(state.resolvers)
    meta["Answers from"] = answers_from_text(state.answers_from)
    meta["Python"] = platform.python_version()
    meta["dnspython"] = dns.version.version
    meta["pytest"] = pytest.__version__
    meta["Started"] = state.started
    for var in ("GITHUB_RUN_ID", "BUILD_BUILDID", "CI_PIPELINE_ID"):
        if os.environ.get(var):
            meta["CI run"] = f"{var}={os.environ[var]}"


# --- collection ---------------------------------------------------------------------------


def check_of(function: Any) -> str:
    marker = next((m for m in getattr(function, "pytestmark", []) if m.name == "check"), None)
    if marker is not None:
        return str(marker.args[0])
    return str(function.__name__).removeprefix("test_")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if VERDICT_ARG not in metafunc.fixturenames:
        return
    state = metafunc.config.stash.get(_STATE, None)
    if state is None:
        return
    check = check_of(metafunc.function)
    if check not in CHECK_IDS:
        raise _fail(
            f"{metafunc.function.__name__}: unknown check {check!r}; expected one of "
            f"{', '.join(CHECK_IDS)}"
        )
    params, ids = state.parameters(check)
    metafunc.parametrize(VERDICT_ARG, params, ids=ids)


def _case_of(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get(VERDICT_ARG) if callspec is not None else None
    return case if isinstance(case, Case) else None


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
        data = case.state.judge(case.key).data
    except HelperError as exc:
        raise TempError(f"no verdict: {exc}") from None
    outcome = data["outcome"]
    if outcome == "error":
        raise TempError(data["message"])
    if outcome == "xfailed":
        # pytest.xfail() without the source traceback that pytest would render (and parse
        # the file for) on every call: the message is the whole story.
        raise XFailed(data["message"], pytrace=False)
    if outcome == "skipped":
        raise Skipped(data["message"])  # reported at the test (pytest_runtest_makereport)
    text, active = case.state.waiver_text(case.check, case.domain)
    if active:
        item.add_marker(pytest.mark.xfail(reason=f"waived: {text}", strict=False))
    item.funcargs[VERDICT_ARG] = Verdict.from_json(data)  # type: ignore[attr-defined]


def _record_meta(state: _State) -> dict[str, Any]:
    return {
        "now": iso_instant(state.now),
        "resolvers": state.resolvers,
        "inventory": str(state.inventory.path),
        "inventory_sha256": state.inventory.sha256,
        "dkimwatch": __version__,
        "answers_from": state.answers_from,
    }


def _expired(when: date | None) -> str:
    return when.isoformat() if when else "?"


def require(verdict: Verdict) -> None:
    """The assertion of every compliance test: the verdict holds."""
    if verdict.result != "pass":
        pytest.fail(f"{verdict.result}: {verdict.message}", pytrace=False)


# --- reporting ----------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """The report of a compliance test's own outcome: what pytest would build for an
    outcome raised without a traceback (``pytrace=False``), minus the traceback machinery
    it runs first (filtering frames, locating source), a noticeable cost per non-passing
    test with thousands of them. Anything else is left to pytest."""
    excinfo, when = call.excinfo, call.when
    if excinfo is None or when not in ("setup", "call") or _case_of(item) is None:
        return None
    value = excinfo.value
    skipped = isinstance(value, Skipped)
    if not skipped and not (isinstance(value, Failed) and not value.pytrace):
        return None
    # Where it was raised: the last frame not hidden from tracebacks (pytest.fail() and
    # pytest.skip() hide their own), as pytest reports it.
    shown = excinfo.tb
    tb: TracebackType | None = shown
    while tb is not None:
        if not tb.tb_frame.f_locals.get("__tracebackhide__", False):
            shown = tb
        tb = tb.tb_next
    path, line = shown.tb_frame.f_code.co_filename, shown.tb_lineno
    longrepr: Any
    if skipped:
        # The skip is raised in this plugin, for the test: report the test's own place
        # (as pytest does for a skip marker), not the plugin's line.
        where, at = item.reportinfo()[:2]
        longrepr = (os.fspath(where), (at or 0) + 1, excinfo.exconly(tryshort=True))
    else:
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


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_attach(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, TempError):
        report.longrepr = f"temperror: {call.excinfo.value}"
    if _final_outcome(report) is None:
        return report  # a passing setup or teardown: the verdict goes with the other report
    case = _case_of(item)
    judged = case.state.judged.get(case.key) if case is not None else None
    if judged is None:
        return report
    data = {"nodeid": item.nodeid, **judged.data}
    # A report attribute (not user_properties) travels through xdist (as JSON text, which
    # execnet carries whatever the data holds) but stays out of junit.xml.
    worker = hasattr(item.config, "workerinput")
    setattr(report, REPORT_ATTR, json.dumps(data) if worker else data)
    shown = report.when == "call" or (report.when == "setup" and not report.passed)
    if shown and _html_extras is not None:
        report.extras = [*getattr(report, "extras", []), _html_extras.html(judged.html)]  # type: ignore[attr-defined]
    return report


def _selects_paths(config: pytest.Config) -> bool:
    """Test paths or node ids on the command line that select less than testpaths."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return False
    if any("::" in a for a in config.args):
        return True
    given = {(config.invocation_params.dir / a).resolve() for a in config.args}
    return given != {(config.rootpath / t).resolve() for t in config.getini("testpaths")}


def _verdict_of(report: pytest.TestReport) -> dict[str, Any] | None:
    """The results data attached to the report (a fresh dict: this report's own)."""
    data = getattr(report, REPORT_ATTR, None)
    if isinstance(data, str):
        return dict(json.loads(data))
    return data if data else None


def _final_outcome(report: pytest.TestReport) -> str | None:
    """The one outcome of a test, from the report of the phase that decided it."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "setup":
        if report.failed:
            return "error"
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        return None
    if report.when == "call":
        if report.passed:
            return "xpassed" if xfail else "passed"
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        return "failed"
    if report.when == "teardown" and report.failed:
        return "error"
    return None


def _partial_text(partial: Mapping[str, Any]) -> str:
    return f"partial run: {partial['selected']:,} of {partial['total']:,} checks ({partial['why']})"


def _is_html_report(plugin: object) -> bool:
    """Whether plugin is pytest-html's report writer (the one holding its output path)."""
    try:
        from pytest_html.basereport import BaseReport
    except ImportError:  # pragma: no cover - pytest-html is a dependency
        return False
    return isinstance(plugin, BaseReport)


def _drop_quiet_teardowns(config: pytest.Config) -> None:
    """pytest's terminal summary finds each failure's teardown report by scanning every
    passed setup/teardown report, a list as long as the run: quadratic with thousands of
    failing domains. It prints only the captured sections of
    those reports, so keeping just the reports that have sections changes no output."""
    reporter = config.pluginmanager.getplugin("terminalreporter")
    quiet = getattr(reporter, "stats", {}).get("")
    if quiet:
        reporter.stats[""] = [r for r in quiet if getattr(r, "sections", None)]


class _Controller:
    """Hooks that only the controlling process runs: resolve, hand out answers, report."""

    def __init__(self, config: pytest.Config, state: _State) -> None:
        self.config = config
        self.state = state
        self.changes: history.Changes | None = None
        self.previous: dict[str, Any] | None = None
        self.inputs: dict[Key, str] | None = None  # each test's inventory inputs (history)
        self.deselected = 0
        self.recorded: str | None = None  # the history record this run adds, when it adds one
        self.not_recorded = ""  # why it adds none
        self.large: bool | None = None  # more tests than LARGE_REPORT_TESTS (decided once)
        # Set at session finish: None for a complete run, else what ran of what (_partial).
        self.partial: dict[str, Any] | None = None
        self.published: Path | None = None  # where this run's outputs go, once written
        self.settler = heap.Settler()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Resolve everything once, concurrently, before xdist starts its workers."""
        state = self.state
        if state.junit is not None:
            state.junit.started = datetime.now().astimezone()  # as pytest's: the session's
        _metadata(self.config, state)  # pytest-metadata has filled its stash by now
        if not self.config.pluginmanager.has_plugin("dsession"):
            return  # one process: resolve what the selected tests need, after collection
        heap.release()  # xdist: this process collects nothing, and resolving makes garbage
        if state.helper is not None:  # xdist spreads after all: the workers need a file
            state.helper.stop()
            state.helper = None
        self._resolve([(c, d, s) for d in state.inventory.domains for c, s in cases(d)])
        assert state.tmpdir is not None
        state.answers_file = state.tmpdir / "answers.json"
        state.resolver.dump(state.answers_file, _record_meta(state))
        # Workers get the parsed inventory: parsing YAML again in each costs as much as here.
        inventory_file = state.tmpdir / "inventory.pickle"
        inventory_file.write_bytes(pickle.dumps(state.inventory, pickle.HIGHEST_PROTOCOL))
        state.inventory_file = inventory_file

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """One process: the helper resolves and judges what the selected tests need, in
        the order they run (-k, -m, --gate and node ids resolve only their part)."""
        state = self.state
        heap.settle()  # what collection built lives until the end
        heap.release()
        if state.helper is None or state.helper_jobs:
            return  # xdist (resolved at session start), or a whole-suite run already submitted
        keys: dict[Key, None] = {}
        for item in session.items:
            case = _case_of(item)
            if case is not None:
                keys[case.key] = None
        _submit(self.config, state, list(keys))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        if self.state.progress is not None:
            self.state.progress.stop()  # the tests show their own progress from here
        try:
            return (yield)
        finally:
            self._finish_helper()

    def _finish_helper(self) -> None:
        """Collect the helper's counts (and answers, for --record); after -x or Ctrl-C it
        drops the jobs not started, and gets at most one DNS wait to say so."""
        state = self.state
        helper, state.helper = state.helper, None
        if helper is None:
            return
        dns = state.inventory.dns
        if helper.finish(timeout=dns.timeout * dns.attempts + 5):
            state.dns_counts = (helper.questions, helper.sent)
            if helper.answers is not None:
                state.resolver = Resolver(None, helper.answers)

    def _resolve(self, jobs: list[tuple[str, Domain, str | None]]) -> None:
        """xdist: evaluate every job with bounded concurrency before the workers start, so
        that the resolver has asked each (name, type) once; the workers judge from its
        answers."""
        ctx = self.state.context()
        progress = self.state.progress
        large = progress is not None and progress.large
        if progress is not None and large:
            progress.start("resolving", f"resolving {len(jobs):,} checks before the workers start")
        pool = ThreadPoolExecutor(max_workers=CONCURRENCY)
        try:
            shown = 0
            for done, _ in enumerate(pool.map(lambda job: evaluate(ctx, *job), jobs), 1):
                tenth = done * 10 // len(jobs)
                if progress is not None and large and tenth > shown:
                    shown = tenth
                    progress.say(f"resolved {done:,} of {len(jobs):,} checks ({tenth * 10}%)")
        finally:
            # On Ctrl-C, drop the checks not started rather than asking all their questions.
            pool.shutdown(wait=False, cancel_futures=True)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        declined = self.state.spreading_declined
        lines = [f"dkimwatch: {declined}"] if declined else []
        if self.state.answers_from.get("kind") != LIVE_DNS:
            lines.append(f"dkimwatch: answers from {answers_from_text(self.state.answers_from)}")
        return lines

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        state = self.state
        node.workerinput["dkimwatch_inventory"] = str(state.inventory.path)
        node.workerinput["dkimwatch_inventory_pickle"] = str(state.inventory_file or "")
        node.workerinput["dkimwatch_answers"] = str(state.answers_file)
        node.workerinput["dkimwatch_now"] = iso_instant(state.now)
        node.workerinput["dkimwatch_resolvers"] = list(state.resolvers)
        node.workerinput["dkimwatch_reports"] = str(state.reports)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Every report reaches the controller, whether it came from an xdist worker or not.
        if self.state.junit is not None:
            self.state.junit.add(report)
        if report.when == "teardown":
            self.settler.tick()
        final = _final_outcome(report)  # first: most reports decide nothing, skip their JSON
        data = _verdict_of(report) if final is not None else None
        if data is None or final is None:
            return
        data["outcome"] = final
        data["nodeid"] = report.nodeid
        self.state.results[report.nodeid] = data

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.state.junit is not None:
            self.state.junit.add_collect_report(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        tenant = self.state.inventory.tenant or "no tenant"
        report.title = f"dkimwatch: {tenant}, {self.state.now.date().isoformat()}"

    def _large(self) -> bool:
        return sum(len(cases(d)) for d in self.state.inventory.domains) > LARGE_REPORT_TESTS

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        """In a large run, passing tests get no row of their own (see LARGE_REPORT_TESTS)."""
        if self.large is None:
            self.large = self._large()
        passed = report.when == "call" and report.passed and not hasattr(report, "wasxfail")
        if self.large and passed and getattr(report, REPORT_ATTR, None):
            del cells[:]  # pytest-html then leaves the row out

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        """A skip's log would read as pytest's ``(path, line, 'Skipped: reason')`` tuple: show
        the reason."""
        longrepr = report.longrepr
        if not (report.skipped and isinstance(longrepr, tuple) and data):
            return
        if data[0] == escape(report.longreprtext) + "\n":
            data[0] = escape(str(longrepr[-1]).removeprefix("Skipped: ")) + "\n"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        state = self.state
        questions, sent = state.counts()
        prefix.append(EVIDENCE_CSS)
        prefix.append(answers_from_html(state.answers_from))
        if self.partial is not None:
            prefix.append(
                f'<p class="dkimwatch-partial" style="font-size:120%"><b>'
                f"{escape(_partial_text(self.partial))}</b>: this report covers only "
                f"these checks; the last complete run's report stays in the reports "
                f"folder.</p>"
            )
        prefix.append(
            f"<p><b>Evaluated at</b> {escape(iso_instant(state.now))} · <b>resolvers</b> "
            f"{escape(', '.join(state.resolvers))} · <b>DNS questions</b> "
            f"{questions} · <b>queries sent</b> {sent}</p>"
        )
        if self.large:
            shown = sum(1 for r in state.results.values() if r["outcome"] != "passed")
            prefix.append(
                f"<p><b>Large run:</b> {len(state.results)} tests; the table below lists the "
                f"{shown} that did not pass, each with its evidence. A passing test's verdict is "
                "in the matrix (its cell's tooltip); its evidence is in results.json.</p>"
            )
        prefix.append(changes_html(self._changes().to_json()))
        prefix.append(matrix_html(list(state.results.values())))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        _drop_quiet_teardowns(self.config)
        if exitstatus == pytest.ExitCode.INTERRUPTED or state.staging is None:
            self.not_recorded = self._why_not_recorded(session, exitstatus)
            return  # an interrupted run publishes nothing: the previous reports stay
        if self.config.option.record:
            state.resolver.dump(Path(self.config.option.record), _record_meta(state))
        questions, sent = state.counts()
        self.partial = _partial(
            self.config, session, exitstatus, len(state.results), state.suite_size
        )
        doc = results_document(
            version=__version__,
            started=state.started,
            finished=iso_instant(datetime.now(UTC)),
            now=iso_instant(state.now),
            resolvers=state.resolvers,
            inventory={"path": str(state.inventory.path), "sha256": state.inventory.sha256},
            queries={"questions": questions, "sent": sent},
            results=list(state.results.values()),
            answers_from=state.answers_from,
        )
        results = doc.pop("results")
        doc["partial"] = self.partial
        doc["results"] = results
        changes = self._changes()
        if self.partial is not None:
            self.not_recorded = f"partial run: {self.partial['why']}"
        else:
            self.not_recorded = self._why_not_recorded(session, exitstatus)
        if not self.not_recorded:
            self.recorded = history.record_name(
                state.started, (p.name for p in history.records(self._history_dir()))
            )
            record = history.make_record(
                doc["results"],
                started=state.started,
                finished=doc["finished"],
                now=doc["now"],
                version=__version__,
                inventory_sha256=state.inventory.sha256,
                previous=self.previous,
                identity=self._identity(),
                inputs=self._inputs(),
            )
            atomic_write_text(
                state.staging / self._history_folder() / self.recorded,
                history.dumps_record(record),
            )
        doc["changes"] = {
            **changes.to_json(),
            "inventory": self._identity().to_json(),
            "history": self._history_folder(),
            "recorded": f"{self._history_folder()}/{self.recorded}" if self.recorded else None,
            "not_recorded": self.not_recorded or None,
        }
        atomic_write_text(state.staging / "failures.csv", failures_csv(doc["results"]))
        atomic_write_text(state.staging / "results.json", dumps(doc))
        atomic_write_text(state.staging / "badge.svg", badge_svg(doc["domains"], self.partial))
        if state.junit is not None:
            atomic_write_text(state.staging / "junit.xml", state.junit.document())
        self.published = state.reports / PARTIAL_DIR if self.partial else state.reports

    @pytest.hookimpl(wrapper=True, trylast=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_html(
        self, session: pytest.Session, exitstatus: int
    ) -> Generator[None, object, object]:
        """pytest-html wrote report.html into staging (its sessionfinish runs inside this
        wrapper) and would print that staging path, gone once published: it leaves, and
        pytest_terminal_summary names the published file."""
        result = yield
        if self.state.staged_html:
            for plugin in self.config.pluginmanager.get_plugins():
                if _is_html_report(plugin):
                    self.config.pluginmanager.unregister(plugin)
        return result

    # --- history: what changed since the last recorded run -------------------------------

    def _identity(self) -> history.Identity:
        """Which inventory this run audits: its history is kept apart from other ones'."""
        return history.inventory_identity(self.state.inventory, self.config.rootpath)

    def _history_folder(self) -> str:
        """This inventory's history folder, relative to the reports folder."""
        return f"{history.HISTORY_DIR}/{self._identity().slug}"

    def _history_dir(self) -> Path:
        return self.state.reports / self._history_folder()

    def _inputs(self) -> dict[Key, str] | None:
        """Every test's inventory inputs; None with --gate, whose inventory is one domain of
        the real one (the others' tests are then not run, not removed)."""
        if self.inputs is None and not self.config.option.gate:
            self.inputs = history.inventory_inputs(self.state.inventory)
        return self.inputs

    def _changes(self) -> history.Changes:
        """This run against the newest record of its inventory's history (read once, when
        the results are complete: at session finish)."""
        if self.changes is None:
            self.previous, name = history.load_previous(self._history_dir(), self._identity())
            self.changes = history.diff(
                self.previous,
                list(self.state.results.values()),
                started=self.state.started,
                previous_name=name,
                inputs=self._inputs(),
            )
        return self.changes

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def _why_not_recorded(self, session: pytest.Session, exitstatus: int | pytest.ExitCode) -> str:
        """A history record is the baseline of the next run: only a complete audit of the
        whole suite makes one. Empty when this run does."""
        opt = self.config.option
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return "run interrupted (nothing is published)"
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return f"pytest exit status {int(exitstatus)}"
        if not self.state.results:
            return "no test ran"
        if opt.replay:
            return "replayed run"
        if opt.now:
            return "what-if run (--now): not the baseline of the next run"
        if getattr(opt, "keyword", "") or getattr(opt, "markexpr", ""):
            return "partial run (-k/-m selection)"
        if getattr(opt, "gate", None):
            return "partial run (--gate)"
        if self.deselected:
            return "partial run (tests deselected)"
        if session.shouldfail or session.shouldstop:
            return "run stopped early"
        if _selects_paths(self.config):
            return "partial run (test paths given)"
        return ""

    def pytest_terminal_summary(
        self, terminalreporter: Any, exitstatus: int, config: pytest.Config
    ) -> None:
        tr = terminalreporter
        published = self.published
        if published is not None and config.get_verbosity() >= 0:
            if self.state.junit is not None:
                tr.write_sep("-", f"generated xml file: {published / 'junit.xml'}")
            if self.state.staged_html:
                tr.write_sep("-", f"Generated html report: {(published / 'report.html').as_uri()}")
        if published is not None and self.partial is not None:
            tr.write_line(
                f"dkimwatch: {_partial_text(self.partial)}: outputs in {published}; "
                f"{self.state.reports} keeps the last complete run's"
            )
        changes = self.changes
        if changes is None:
            return
        tr.write_sep("-", "dkimwatch: changes since the last recorded run")
        tr.write_line(changes.headline())
        lists = (
            ("new failure", "new failures", changes.new_failures),
            ("fixed", "fixed", changes.fixed),
            ("inventory change", "inventory changes", changes.inventory_changes),
        )
        for title, titles, rows in lists:
            if title == "new failure" and changes.previous is None:
                continue
            absent = "absent" if rows is changes.inventory_changes else "not run"
            for row in rows[:10]:
                was, now = row["before"] or absent, row["outcome"] or "removed"
                why = f": {row['why']}" if row.get("why") else ""
                tr.write_line(f"  {title}: {row['nodeid']} ({was} → {now}){why}")
            if len(rows) > 10:
                tr.write_line(f"  … and {len(rows) - 10} more {titles} (results.json: changes)")
        if self.recorded:
            tr.write_line(f"recorded: {self._history_dir() / self.recorded}")
        else:
            tr.write_line(f"not recorded in {self._history_dir()}: {self.not_recorded}")

    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_terminal_summary")
    def pytest_terminal_summary_domains(
        self, terminalreporter: Any, exitstatus: int, config: pytest.Config
    ) -> Generator[None]:
        """The last lines before pytest's own: one per failing domain (what is wrong, the
        first fix), then the domains DNS could not answer. Outermost wrapper, so after
        pytest's short test summary."""
        try:
            return (yield)
        finally:
            if self.state.results:
                tr = terminalreporter
                states = domain_states(self.state.results.values())
                tr.write_sep("-", f"dkimwatch: {domains_headline(domains_summary(states))}")
                for line in domain_lines(states, report=self._report_html()):
                    tr.write_line(line)
                if self.state.answers_from.get("kind") != LIVE_DNS:
                    tr.write_line(f"answers from {answers_from_text(self.state.answers_from)}")

    def _report_html(self) -> str:
        """Where report.html is once published (reports/partial/ for a partial run), as the
        user would type it."""
        path = (self.published or self.state.reports) / "report.html"
        given = Path(getattr(self.config.option, "htmlpath", None) or path)
        if self.state.staging is None or given.parent != self.state.staging:
            path = given  # --html=PATH: the user's own report
        try:
            return str(path.relative_to(self.config.invocation_params.dir))
        except ValueError:
            return str(path)

    @pytest.hookimpl(tryfirst=True, specname="pytest_unconfigure")
    def pytest_unconfigure_settle(self, config: pytest.Config) -> None:
        # Before pytest's own full passes at the end (its search for unraisable exceptions):
        # one pass here, while its hook still records them, and theirs walk only what is new.
        heap.release()
        heap.settle_fully()

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # pytest-html and junitxml have written into staging by now (at sessionfinish).
        state = self.state
        if state.progress is not None:
            state.progress.stop()
        if state.helper is not None:
            state.helper.stop()
        if state.server is not None:
            state.server.stop()
        if state.staging is not None and state.staging.exists():
            if (state.staging / "results.json").exists() and self.partial is not None:
                # A partial run leaves the complete run's outputs (and history) alone.
                _replace_folder(state.staging, state.reports / PARTIAL_DIR)
            elif (state.staging / "results.json").exists():
                publish(state.staging, state.reports)
                history.prune(self._history_dir())
            else:
                shutil.rmtree(state.staging, ignore_errors=True)
        if state.tmpdir is not None:
            shutil.rmtree(state.tmpdir, ignore_errors=True)


__all__ = ["TempError", "Verdict", "require"]
