"""The run's reporter: it collects each test's verdict and outcome and writes the outputs.

Registered in the controlling process only (xdist workers' reports reach it there). Every
output is staged in ``<reports>/.staging-<pid>/`` and published only when the run
completes: results.json, failures.csv, badge.svg, junit.xml, report.html (pytest-html,
with the HTML pieces added through its hooks) and the history record. A partial run
publishes into ``<reports>/partial/`` and leaves the complete run's outputs alone; an
interrupted run publishes nothing. At the end the terminal gets the failing domains and
the changes since the last recorded run.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
from collections.abc import Generator, Mapping
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest

from dkimwatch import __version__, history
from dkimwatch.checks import Verdict
from dkimwatch.fixformats import FixItem
from dkimwatch.fixoutput import FIXES_DIR, fix_file, fix_items, write_fixes
from dkimwatch.helper import Judged
from dkimwatch.instants import iso_instant
from dkimwatch.junit import JUnitXml, default_config
from dkimwatch.registry import cases
from dkimwatch.report import (
    EVIDENCE_CSS,
    LIVE_DNS,
    Partial,
    ResultEntry,
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
from dkimwatch.run import Key, Run, selects_paths

try:
    from pytest_html import extras as _html_extras
except ImportError:  # pragma: no cover - pytest-html is a dependency
    _html_extras = None

REPORT_ATTR = "dkimwatch_verdict"  # the TestReport attribute that carries the verdict

# Above this many tests report.html lists only the tests that did not pass. pytest-html
# builds every row in the browser, and a report of tens of thousands of rows no longer loads
# in useful time, with evidence or without (bench/RESULTS.md).
LARGE_REPORT_TESTS = 20_000

PARTIAL_DIR = "partial"  # a partial run's outputs, inside the reports folder
_OLD_PARTIAL = ".partial-old-"
_STAGING = ".staging-"


# --- a test's verdict on its report ---------------------------------------------------------


def attach_verdict(report: pytest.TestReport, judged: Judged, *, worker: bool) -> None:
    """Put the verdict on the report that decides the test's outcome, and its evidence
    into pytest-html's row."""
    # A report attribute (not user_properties) stays out of junit.xml. It travels through
    # xdist as JSON text (execnet carries that whatever the data holds); in one process it
    # is the verdict itself.
    if worker:
        setattr(report, REPORT_ATTR, json.dumps([judged.verdict.to_json(), judged.waiver]))
    else:
        setattr(report, REPORT_ATTR, judged)
    shown = report.when == "call" or (report.when == "setup" and not report.passed)
    if shown and _html_extras is not None:
        report.extras = [*getattr(report, "extras", []), _html_extras.html(judged.html)]  # type: ignore[attr-defined]


def result_of(report: pytest.TestReport, outcome: str) -> ResultEntry | None:
    """The test's result: the verdict attached to its report, with the test's outcome."""
    attached = getattr(report, REPORT_ATTR, None)
    if isinstance(attached, Judged):
        return ResultEntry(report.nodeid, outcome, attached.verdict, attached.waiver)
    if isinstance(attached, str):  # from an xdist worker
        verdict, waiver = json.loads(attached)
        return ResultEntry(report.nodeid, outcome, Verdict.from_json(verdict), waiver)
    return None


def final_outcome(report: pytest.TestReport) -> str | None:
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


# --- the reporter ---------------------------------------------------------------------------


class Reporter:
    """Hooks of the controlling process that collect results and write the outputs."""

    def __init__(self, config: pytest.Config, run: Run) -> None:
        self.config = config
        self.run = run
        self.results: dict[str, ResultEntry] = {}  # by node id
        self.rows: list[dict[str, Any]] | None = None  # the results as results.json has them
        self.started = ""
        self.staging: Path | None = None
        self.staged_html = False  # report.html is ours to publish (no --html of the user's)
        self.junit: JUnitXml | None = None  # writes junit.xml in place of pytest's writer
        self.changes: history.Changes | None = None
        self.previous: dict[str, Any] | None = None
        self.inputs: dict[Key, str] | None = None  # each test's inventory inputs (history)
        self.deselected = 0
        self.recorded: str | None = None  # the history record this run adds, when it adds one
        self.not_recorded = ""  # why it adds none
        self.large: bool | None = None  # more tests than LARGE_REPORT_TESTS (decided once)
        # Set at session finish: None for a complete run, else what ran of what (partial()).
        self.partial: Partial | None = None
        self.published: Path | None = None  # where this run's outputs go, once written

    def stage(self) -> None:
        """Make the staging folder, and point pytest-html (and pytest's junit writer, when
        JUnit is configured) into it unless the user named their own files."""
        opt = self.config.option
        reports = self.run.reports
        reports.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(reports)
        self.staging = reports / f"{_STAGING}{os.getpid()}"
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir()
        if not getattr(opt, "htmlpath", None):
            opt.htmlpath = str(self.staging / "report.html")
            opt.self_contained_html = True
            self.staged_html = True
        if default_config(self.config):
            # pytest's format at a fraction of its cost (junit.py); a --junitxml file is
            # still pytest's to write.
            self.junit = JUnitXml()
        elif not getattr(opt, "xmlpath", None):
            opt.xmlpath = str(self.staging / "junit.xml")  # JUnit configured: pytest writes it
        self.started = iso_instant(datetime.now(UTC))

    # --- collecting -------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.junit is not None:
            self.junit.started = datetime.now().astimezone()  # as pytest's: the session's
        _metadata(self.config, self.run, self.started)  # pytest-metadata has filled its stash

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Every report reaches the controller, whether it came from an xdist worker or not.
        if self.junit is not None:
            self.junit.add(report)
        final = final_outcome(report)  # first: most reports decide nothing
        result = result_of(report, final) if final is not None else None
        if result is not None:
            self.results[report.nodeid] = result

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.junit is not None:
            self.junit.add_collect_report(report)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        run = self.run
        lines = [f"dkimwatch: {run.spreading_declined}"] if run.spreading_declined else []
        if run.answers_from.get("kind") != LIVE_DNS:
            lines.append(f"dkimwatch: answers from {answers_from_text(run.answers_from)}")
        return lines

    # --- pytest-html ------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        tenant = self.run.inventory.tenant or "no tenant"
        report.title = f"dkimwatch: {tenant}, {self.run.now.date().isoformat()}"

    def _large(self) -> bool:
        return sum(len(cases(d)) for d in self.run.inventory.domains) > LARGE_REPORT_TESTS

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
        run = self.run
        questions, sent = run.counts()
        prefix.append(EVIDENCE_CSS)
        prefix.append(answers_from_html(run.answers_from))
        if self.partial is not None:
            prefix.append(
                f'<p class="dkimwatch-partial" style="font-size:120%"><b>'
                f"{escape(self.partial.text())}</b>: this report covers only "
                f"these checks; the last complete run's report stays in the reports "
                f"folder.</p>"
            )
        prefix.append(
            f"<p><b>Evaluated at</b> {escape(iso_instant(run.now))} · <b>resolvers</b> "
            f"{escape(', '.join(run.resolvers))} · <b>DNS questions</b> "
            f"{questions} · <b>queries sent</b> {sent}</p>"
        )
        if self.large:
            shown = sum(1 for r in self.results.values() if r.outcome != "passed")
            prefix.append(
                f"<p><b>Large run:</b> {len(self.results)} tests; the table below lists the "
                f"{shown} that did not pass, each with its evidence. A passing test's verdict is "
                "in the matrix (its cell's tooltip); its evidence is in results.json.</p>"
            )
        prefix.append(changes_html(self._changes().to_json()))
        prefix.append(matrix_html(list(self.results.values())))

    # --- the outputs ------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write every output into staging (published at unconfigure)."""
        run = self.run
        _drop_quiet_teardowns(self.config)
        if exitstatus == pytest.ExitCode.INTERRUPTED or self.staging is None:
            self.not_recorded = self._why_not_recorded(session, exitstatus)
            return  # an interrupted run publishes nothing: the previous reports stay
        if self.config.option.record:
            run.resolver.dump(Path(self.config.option.record), run.record_meta())
        self.partial = partial(self.config, session, exitstatus, len(self.results), run.suite_size)
        doc = self._results_document()
        changes = self._changes()
        if self.partial is not None:
            self.not_recorded = f"partial run: {self.partial.why}"
        else:
            self.not_recorded = self._why_not_recorded(session, exitstatus)
        if not self.not_recorded:
            self._record(doc)
        doc["changes"] = {
            **changes.to_json(),
            "inventory": self._identity().to_json(),
            "history": self._history_folder(),
            "recorded": f"{self._history_folder()}/{self.recorded}" if self.recorded else None,
            "not_recorded": self.not_recorded or None,
        }
        self._write_outputs(self.staging, doc)
        self.published = run.reports / PARTIAL_DIR if self.partial else run.reports

    def _results_document(self) -> dict[str, Any]:
        """results.json's content, but for ``changes`` (added once the record is made)."""
        run = self.run
        questions, sent = run.counts()
        doc = results_document(
            version=__version__,
            started=self.started,
            finished=iso_instant(datetime.now(UTC)),
            now=iso_instant(run.now),
            resolvers=run.resolvers,
            inventory={"path": str(run.inventory.path), "sha256": run.inventory.sha256},
            queries={"questions": questions, "sent": sent},
            results=list(self.results.values()),
            answers_from=run.answers_from,
        )
        self.rows = doc.pop("results")
        doc["partial"] = self.partial.to_json() if self.partial else None
        doc["results"] = self.rows
        return doc

    def _write_outputs(self, staging: Path, doc: dict[str, Any]) -> None:
        """The run's own outputs, into staging (report.html is pytest-html's to write, and
        the history record was staged by _record). A new output is one more line here."""
        atomic_write_text(
            staging / "failures.csv", failures_csv(self.results.values(), self._fixes(staging))
        )
        atomic_write_text(staging / "results.json", dumps(doc))
        atomic_write_text(staging / "badge.svg", badge_svg(doc["domains"], self.partial))
        if self.junit is not None:
            atomic_write_text(staging / "junit.xml", self.junit.document())

    def _fixes(self, staging: Path) -> dict[str, str]:
        """Write fixes/ (every format, nsupdate.txt always; each DNS fix already in the zone
        the judge's SOA walk found); returns, per failed test, the file with its fix in its
        host's format."""
        results = sorted(self.results.values(), key=lambda r: r.nodeid)
        items = fix_items(results)
        write_fixes(staging / FIXES_DIR, items)
        by_test: dict[str, str] = {}
        for r in results:
            if r.outcome == "failed" and r.verdict.fixes:
                ctx = next(c for c, _ in fix_items([r]))
                mine: list[FixItem] = [(ctx, f) for f in r.verdict.fixes]
                by_test[r.nodeid] = fix_file(r.verdict, mine)
        return by_test

    @pytest.hookimpl(wrapper=True, trylast=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_html(
        self, session: pytest.Session, exitstatus: int
    ) -> Generator[None, object, object]:
        """pytest-html wrote report.html into staging (its sessionfinish runs inside this
        wrapper) and would print that staging path, gone once published: it leaves, and
        pytest_terminal_summary names the published file."""
        result = yield
        if self.staged_html:
            for plugin in self.config.pluginmanager.get_plugins():
                if _is_html_report(plugin):
                    self.config.pluginmanager.unregister(plugin)
        return result

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Publish what was staged: pytest-html and junitxml have written into staging by
        now (at sessionfinish)."""
        staging = self.staging
        if staging is None or not staging.exists():
            return
        reports = self.run.reports
        if (staging / "results.json").exists() and self.partial is not None:
            # A partial run leaves the complete run's outputs (and history) alone.
            _replace_folder(staging, reports / PARTIAL_DIR)
        elif (staging / "results.json").exists():
            publish(staging, reports, whole=(FIXES_DIR,))
            history.prune(self._history_dir())
        else:
            shutil.rmtree(staging, ignore_errors=True)

    # --- history: what changed since the last recorded run ---------------------------

    def _identity(self) -> history.Identity:
        """Which inventory this run audits: its history is kept apart from other ones'."""
        return history.inventory_identity(self.run.inventory, self.config.rootpath)

    def _history_folder(self) -> str:
        """This inventory's history folder, relative to the reports folder."""
        return f"{history.HISTORY_DIR}/{self._identity().slug}"

    def _history_dir(self) -> Path:
        return self.run.reports / self._history_folder()

    def _inputs(self) -> dict[Key, str] | None:
        """Every test's inventory inputs; None with --gate, whose inventory is one domain of
        the real one (the others' tests are then not run, not removed)."""
        if self.inputs is None and not self.config.option.gate:
            self.inputs = history.inventory_inputs(self.run.inventory)
        return self.inputs

    def _changes(self) -> history.Changes:
        """This run against the newest record of its inventory's history (read once, when
        the results are complete: at session finish)."""
        if self.changes is None:
            self.previous, name = history.load_previous(self._history_dir(), self._identity())
            if self.rows is None:  # an interrupted run: no results.json was made
                self.rows = [r.to_json() for r in self.results.values()]
            self.changes = history.diff(
                self.previous,
                self.rows,
                started=self.started,
                previous_name=name,
                inputs=self._inputs(),
            )
        return self.changes

    def _record(self, doc: Mapping[str, Any]) -> None:
        """Stage this run's history record: the baseline of the next run."""
        assert self.staging is not None
        self.recorded = history.record_name(
            self.started, (p.name for p in history.records(self._history_dir()))
        )
        record = history.make_record(
            doc["results"],
            started=self.started,
            finished=doc["finished"],
            now=doc["now"],
            version=__version__,
            inventory_sha256=self.run.inventory.sha256,
            previous=self.previous,
            identity=self._identity(),
            inputs=self._inputs(),
        )
        atomic_write_text(
            self.staging / self._history_folder() / self.recorded, history.dumps_record(record)
        )

    def _why_not_recorded(self, session: pytest.Session, exitstatus: int | pytest.ExitCode) -> str:
        """A history record is the baseline of the next run: only a complete audit of the
        whole suite makes one. Empty when this run does."""
        opt = self.config.option
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return "run interrupted (nothing is published)"
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return f"pytest exit status {int(exitstatus)}"
        if not self.results:
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
        if selects_paths(self.config):
            return "partial run (test paths given)"
        return ""

    # --- the terminal -----------------------------------------------------------------

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
    ) -> None:
        tr = terminalreporter
        published = self.published
        if published is not None and config.get_verbosity() >= 0:
            if self.junit is not None:
                tr.write_sep("-", f"generated xml file: {published / 'junit.xml'}")
            if self.staged_html:
                tr.write_sep("-", f"Generated html report: {(published / 'report.html').as_uri()}")
        if published is not None and self.partial is not None:
            tr.write_line(
                f"dkimwatch: {self.partial.text()}: outputs in {published}; "
                f"{self.run.reports} keeps the last complete run's"
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
        self, terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
    ) -> Generator[None]:
        """The last lines before pytest's own: one per failing domain (what is wrong, the
        first fix), then the domains DNS could not answer. Outermost wrapper, so after
        pytest's short test summary."""
        try:
            return (yield)
        finally:
            if self.results:
                tr = terminalreporter
                states = domain_states(self.results.values())
                tr.write_sep("-", f"dkimwatch: {domains_headline(domains_summary(states))}")
                for line in domain_lines(states, report=self._report_html()):
                    tr.write_line(line)
                if self.run.answers_from.get("kind") != LIVE_DNS:
                    tr.write_line(f"answers from {answers_from_text(self.run.answers_from)}")

    def _report_html(self) -> str:
        """Where report.html is once published (reports/partial/ for a partial run), as the
        user would type it."""
        path = (self.published or self.run.reports) / "report.html"
        given = Path(getattr(self.config.option, "htmlpath", None) or path)
        if self.staging is None or given.parent != self.staging:
            path = given  # --html=PATH: the user's own report
        try:
            return str(path.relative_to(self.config.invocation_params.dir))
        except ValueError:
            return str(path)


# --- partial runs ---------------------------------------------------------------------------


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
    if selects_paths(config):
        why.append(f"test paths {' '.join(config.args)}")
    return why


def partial(
    config: pytest.Config, session: pytest.Session, exitstatus: int, ran: int, suite_size: int
) -> Partial | None:
    """None for a complete run: the whole suite ran to its end. Otherwise how much ran of
    how much, and why only that."""
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
    return Partial(ran, suite_size, "; ".join(why))


# --- staging and publishing -----------------------------------------------------------------


def _remove_stale_staging(reports: Path) -> None:
    """Drop staging folders (and replaced partial outputs) of runs that were killed before
    they could finish publishing."""
    for prefix in (_STAGING, _OLD_PARTIAL):
        for folder in reports.glob(f"{prefix}*"):
            pid = folder.name.removeprefix(prefix)
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)


def _replace_folder(staging: Path, target: Path) -> None:
    """Put ``staging`` in the place of ``target`` as a whole (no file of an older run stays):
    the old folder is renamed away first, then removed."""
    old = target.with_name(f"{_OLD_PARTIAL}{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- pytest's and its plugins' own reports --------------------------------------------------


def _metadata(config: pytest.Config, run: Run, started: str) -> None:
    """The run's facts in pytest-metadata's table (report.html's Environment)."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover
        return
    import dns.version

    meta = config.stash.get(metadata_key, None)
    if meta is None:
        return
    meta["dkimwatch"] = __version__
    meta["Evaluation instant (now)"] = iso_instant(run.now)
    meta["Tenant"] = run.inventory.tenant or "(none)"
    meta["Inventory"] = str(run.inventory.path)
    meta["Inventory sha256"] = run.inventory.sha256
    meta["Domains"] = str(len(run.inventory.domains))
    meta["Resolvers"] = ", ".join(run.resolvers)
    meta["Answers from"] = answers_from_text(run.answers_from)
    meta["Python"] = platform.python_version()
    meta["dnspython"] = dns.version.version
    meta["pytest"] = pytest.__version__
    meta["Started"] = started
    for var in ("GITHUB_RUN_ID", "BUILD_BUILDID", "CI_PIPELINE_ID"):
        if os.environ.get(var):
            meta["CI run"] = f"{var}={os.environ[var]}"


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
