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
import dataclasses
import json
import os
import platform
import re
import shutil
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest

from dkimwatch import __version__, heap, history
from dkimwatch.checks import Verdict
from dkimwatch.fixformats import FixItem
from dkimwatch.fixoutput import FIXES_DIR, fix_file, fix_items, write_fixes
from dkimwatch.helper import Judged
from dkimwatch.instants import iso_instant
from dkimwatch.inventory import Inventory, tenant_name
from dkimwatch.junit import JUnitXml, default_config
from dkimwatch.report import (
    AUDIT_CSS,
    EVIDENCE_CSS,
    FINDINGS,
    LIVE_DNS,
    Partial,
    ResultEntry,
    answers_from_html,
    answers_from_text,
    atomic_write_pieces,
    atomic_write_text,
    audit_html,
    badge_svg,
    changes_html,
    domain_lines,
    domain_states,
    domains_headline,
    domains_summary,
    dump_pieces,
    evidence_html,
    failures_csv,
    publish,
    results_document,
)
from dkimwatch.resolver import Evidence
from dkimwatch.run import Key, Run, View, selects_paths
from dkimwatch.shards import MERGED_ENV

try:
    from pytest_html import extras as _html_extras
except ImportError:  # pragma: no cover - pytest-html is a dependency
    _html_extras = None

REPORT_ATTR = "dkimwatch_verdict"  # the TestReport attribute that carries the verdict

PARTIAL_DIR = "partial"  # a partial run's outputs, inside the reports folder
ANSWERS_FILE = "answers.json"  # a --shard run's DNS answers, as --record writes them
BADGES_DIR = "badges"  # a run of many tenants: one badge per tenant, badges/<tenant>.svg
_OLD_PARTIAL = ".partial-old-"
STAGING = ".staging-"


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
    if final_outcome(report) in FINDINGS and _html_extras is not None:
        html = judged.html or evidence_html(judged.verdict, judged.waiver)
        report.extras = [*getattr(report, "extras", []), _html_extras.html(html)]  # type: ignore[attr-defined]


def result_of(
    report: pytest.TestReport,
    outcome: str,
    evidence: dict[Evidence, Evidence] | None = None,
    labels: Callable[[str], tuple[str, str] | None] | None = None,
) -> ResultEntry | None:
    """The test's result: the verdict attached to its report, with the test's outcome (an
    xdist worker's verdict takes its exchanges from ``evidence``: Verdict.sharing) and, in a
    run of many tenants, the (tenant, inventory path) ``labels`` give its domain."""
    attached = getattr(report, REPORT_ATTR, None)
    if isinstance(attached, Judged):
        verdict, waiver = attached.verdict, attached.waiver
    elif isinstance(attached, str):  # from an xdist worker
        data, waiver = json.loads(attached)
        verdict = Verdict.from_json(data)
        if evidence is not None:
            verdict = verdict.sharing(evidence)
    else:
        return None
    found = labels(verdict.domain) if labels is not None else None
    if found is None:
        return ResultEntry(report.nodeid, outcome, verdict, waiver)
    return ResultEntry(report.nodeid, outcome, verdict, waiver, found[0], found[1])


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


@dataclasses.dataclass
class InventoryHistory:
    """One inventory's history in this run: a run of many tenants keeps one per inventory,
    each compared with and recording only its own results."""

    inventory: Inventory
    identity: history.Identity
    inputs: dict[Key, str] | None = None
    previous: dict[str, Any] | None = None
    changes: history.Changes | None = None
    recorded: str | None = None  # the record this run adds to it, when it adds one

    @property
    def folder(self) -> str:
        """Its folder, relative to the reports folder."""
        return f"{history.HISTORY_DIR}/{self.identity.slug}"

    def to_json(self) -> dict[str, Any]:
        """Its part of results.json's ``changes``."""
        return {
            "inventory": self.identity.to_json(),
            "history": self.folder,
            "recorded": f"{self.folder}/{self.recorded}" if self.recorded else None,
        }


def inventory_rows(
    histories: Sequence[InventoryHistory], rows: list[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    """Each inventory's results among ``rows`` (results.json's), in their order: all of
    them when it is the run's only inventory. One pass over the rows (a run of hundreds of
    tenants would otherwise scan them once per tenant)."""
    if len(histories) == 1:
        return [rows]
    owners: dict[str, list[int]] = {}
    for i, h in enumerate(histories):
        for d in h.inventory.domains:
            owners.setdefault(d.name, []).append(i)
    out: list[list[dict[str, Any]]] = [[] for _ in histories]
    for r in rows:
        domain = r.get("domain")
        for i in owners.get(domain, ()) if isinstance(domain, str) else ():
            out[i].append(r)
    return out


def history_rows(results: Sequence[ResultEntry]) -> list[dict[str, Any]]:
    """What the history (compare, stage_records) reads of results.json's rows, in node id
    order: results.json's own rows are written as they are made, never held."""
    rows = []
    for r in sorted(results, key=lambda r: r.nodeid):
        v = r.verdict
        rows.append(
            {
                "nodeid": r.nodeid,
                "domain": v.domain,
                "selector": v.selector,
                "check": v.check,
                "outcome": r.outcome,
                "result": v.result,
                "message": v.message,
            }
        )
    return rows


def badge_file(tenant: str) -> str:
    """The tenant's badge, relative to the reports folder (any name is a safe file name)."""
    return f"{BADGES_DIR}/{re.sub(r'[^A-Za-z0-9._-]+', '_', tenant).strip('.') or '_'}.svg"


class Reporter:
    """Hooks of the controlling process that collect results and write the outputs."""

    def __init__(self, config: pytest.Config, run: Run) -> None:
        self.config = config
        self.run = run
        self.results: dict[str, ResultEntry] = {}  # by node id
        self.evidence: dict[Evidence, Evidence] = {}  # xdist workers' exchanges, each once
        # What the history reads of the results (history_rows), until it has compared them.
        self.rows: list[dict[str, Any]] | None = None
        self.started = ""
        self.staging: Path | None = None
        self.staged_html = False  # report.html is ours to publish (no --html of the user's)
        self.junit: JUnitXml | None = None  # writes junit.xml in place of pytest's writer
        self.changes: history.Changes | None = None  # of all the run's inventories
        self.histories: list[InventoryHistory] | None = None  # one per inventory (_histories())
        self.deselected = 0
        self.not_recorded = ""  # why it adds none
        # Set at session finish: None for a complete run, else what ran of what (partial()).
        self.partial: Partial | None = None
        self.published: Path | None = None  # where this run's outputs go, once written
        self.settler = heap.Settler()

    def stage(self) -> None:
        """Make the staging folder, and point pytest-html (and pytest's junit writer, when
        JUnit is configured) into it unless the user named their own files."""
        opt = self.config.option
        reports = self.run.reports
        reports.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(reports)
        _forget_seen_tests(self.config)
        self.staging = reports / f"{STAGING}{os.getpid()}"
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

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None]:
        """Every report reaches the controller, whether it came from an xdist worker or not:
        its result is kept, junit.xml takes it, and once every plugin has seen it, what only
        held it for nothing lets go (release_report): otherwise each test's three reports
        live until the end. One wrapper for all three: a hook call per report is a cost
        with 330,000 reports."""
        if self.junit is not None:
            self.junit.add(report)
        final = final_outcome(report)  # first: most reports decide nothing
        if final is not None:
            result = result_of(report, final, self.evidence, self.run.labels)
            if result is not None:
                self.results[report.nodeid] = result
        if report.when == "teardown":
            self.settler.tick()  # the heap's part (heap.py): what the tests built lives on
        try:
            return (yield)
        finally:
            release_report(self.config, report)

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
        entries = inventory_entries(run)
        by_inventory = resolver_lines(run.resolvers, entries)
        if len(by_inventory) > 1:  # each inventory asks its own resolvers: whose are whose
            lines.extend(f"dkimwatch: resolvers of {line}" for line in by_inventory)
        lines.extend(
            f"dkimwatch: answers for {tenant} from {answers_from_text(answers_from)}"
            for tenant, answers_from in answers_from_each(entries)
        )
        return lines

    # --- pytest-html ------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        run = self.run
        report.title = html_title(run.inventory.tenant, len(run.inventories), iso_instant(run.now))

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        """Only findings get a row (report.FINDINGS): a passed, skipped or waived check is
        counted in the matrices, and its evidence is in results.json. A passing setup or
        teardown with nothing captured adds nothing to any row (pytest-html shows only
        failing ones, and of a teardown only its captured sections): pytest-html is spared
        making its row, two per test."""
        if getattr(report, REPORT_ATTR, None) is None:
            if report.when != "call" and report.passed and not report.sections:
                del cells[:]
            return  # not a check's deciding report (or not a dkimwatch test): pytest-html's
        if final_outcome(report) not in FINDINGS:
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
        head, tail = summary_sections(
            list(self.results.values()),
            answers_from=run.answers_from,
            partial=self.partial,
            changes=self._changes().to_json(),
            tenant=run.inventory.tenant or "(no tenant)",
            now=iso_instant(run.now),
            resolvers=resolver_lines(run.resolvers, inventory_entries(run)),
            queries=(questions, sent),
        )
        prefix.extend(head)
        postfix.extend(tail)

    # --- the outputs ------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write every output into staging (published at unconfigure)."""
        run = self.run
        _drop_quiet_teardowns(self.config)
        if exitstatus == pytest.ExitCode.INTERRUPTED or self.staging is None:
            self.not_recorded = self._why_not_recorded(session, exitstatus)
            return  # an interrupted run publishes nothing: the previous reports stay
        if self.config.option.record:
            run.record(Path(self.config.option.record))
        if run.shard is not None:  # what `dkimwatch merge` replays, published with the rest
            run.record(self.staging / ANSWERS_FILE)
        self.partial = partial(self.config, session, exitstatus, len(self.results), run.suite_size)
        doc = self._results_document()
        changes = self._changes()
        if self.partial is not None:
            self.not_recorded = f"partial run: {self.partial.why}"
        else:
            self.not_recorded = self._why_not_recorded(session, exitstatus)
        if not self.not_recorded:
            stage_records(
                self._histories(), self.staging, run.reports, {**doc, "results": self.rows}
            )
        self.rows = None  # compared and recorded: only results.json's stream is still to come
        doc["changes"] = changes_json(
            self._histories(), changes, self.not_recorded, many=bool(run.inventories)
        )
        write_outputs(
            self.staging,
            doc,
            list(self.results.values()),
            tenants=[tenant_name(inv) for inv in run.inventories],
            partial=self.partial,
            junit=self.junit.document() if self.junit is not None else None,
        )
        self.published = run.reports / PARTIAL_DIR if self.partial else run.reports

    def _results_document(self) -> dict[str, Any]:
        """results.json's content, but for ``changes`` (added once the record is made)."""
        run = self.run
        questions, sent = run.counts()
        fields: dict[str, Any] = {
            "partial": self.partial.to_json() if self.partial else None,
            "shard": run.shard,
        }
        if run.inventories:
            fields["inventories"] = inventory_entries(run)
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
            run_fields=fields,
            stream=True,  # written by write_outputs, row by row
        )
        self.rows = history_rows(list(self.results.values()))
        return doc

    @pytest.hookimpl(wrapper=True, trylast=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_html(
        self, session: pytest.Session, exitstatus: int
    ) -> Generator[None, object, object]:
        """pytest-html wrote report.html into staging (its sessionfinish runs inside this
        wrapper) and would print that staging path, gone once published: it leaves, and
        pytest_terminal_summary names the published file."""
        for plugin in _html_reports(self.config):
            _drop_rowless_tests(plugin)
        result = yield
        if self.staged_html:
            for plugin in _html_reports(self.config):
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
            for h in self._histories():
                history.prune(reports / h.folder)
        else:
            shutil.rmtree(staging, ignore_errors=True)

    # --- history: what changed since the last recorded run ---------------------------

    def _histories(self) -> list[InventoryHistory]:
        """Which inventories this run audits, each with its own history (kept apart from
        other inventories'): the run's inventory, or each tenant's in a run of many. Every
        test's inventory inputs are left out with --gate, whose inventory is one domain of
        the real one (the others' tests are then not run, not removed)."""
        if self.histories is None:
            gate = bool(self.config.option.gate)
            self.histories = [
                InventoryHistory(
                    inv,
                    dataclasses.replace(
                        history.inventory_identity(inv, self.config.rootpath),
                        shard=self.run.shard,
                    ),
                    None if gate else history.inventory_inputs(inv),
                )
                for inv in (self.run.inventories or (self.run.inventory,))
            ]
        return self.histories

    def _changes(self) -> history.Changes:
        """This run against the newest record of each inventory's history (read once, when
        the results are complete: at session finish)."""
        if self.changes is None:
            if self.rows is None:  # an interrupted run: no results.json was made
                self.rows = history_rows(list(self.results.values()))
            self.changes = compare(
                self._histories(), self.run.reports, self.rows, started=self.started
            )
        return self.changes

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
        # `dkimwatch merge` replays the shards' answers at their instant: the whole estate's
        # audit, and so the baseline of the next run.
        merged = bool(os.environ.get(MERGED_ENV))
        if opt.replay and not merged:
            return "replayed run"
        if opt.now and not merged:
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
        histories = self._histories()
        if self.run.inventories:
            for h in histories:
                if h.changes is not None:
                    tr.write_line(f"{tenant_name(h.inventory)}: {h.changes.headline()}")
        else:
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
        for h in histories:
            if h.recorded:
                tr.write_line(f"recorded: {self.run.reports / h.folder / h.recorded}")
            else:
                tr.write_line(f"not recorded in {self.run.reports / h.folder}: {self.not_recorded}")

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


# --- the outputs from results: a run's, and `dkimwatch merge`'s from its shards' -----------


def inventory_entry(
    inventory: Inventory, view: View, answers_from: Mapping[str, Any]
) -> dict[str, Any]:
    """results.json's entry of one inventory of a run of many: who it is, and the
    resolvers its domains asked (with where their answers came from, when not from where
    the run's did)."""
    entry: dict[str, Any] = {
        "tenant": tenant_name(inventory),
        "path": str(inventory.path),
        "sha256": inventory.sha256,
        "resolvers": list(view.resolvers),
    }
    if view.answers_from != answers_from:
        entry["answers_from"] = dict(view.answers_from)
    return entry


def inventory_entries(run: Run) -> list[dict[str, Any]]:
    """results.json's ``inventories`` of a run of many (inventory_entry); empty for a run
    of one inventory."""
    return [
        inventory_entry(inv, run.view_of_inventory(i), run.answers_from)
        for i, inv in enumerate(run.inventories)
    ]


def resolver_lines(resolvers: Sequence[str], entries: Sequence[dict[str, Any]] | None) -> list[str]:
    """The resolvers as the header and report.html show them, from results.json's
    ``inventories`` (a run's or a merge's): one line per inventory when their resolvers
    differ, else one line."""
    asked = [tuple(e.get("resolvers") or ()) for e in entries or ()]
    if len(set(asked)) <= 1:
        return [", ".join(resolvers)]
    return [
        f"{e.get('tenant')} ({e.get('path')}): {', '.join(servers)}"
        for e, servers in zip(entries or (), asked, strict=True)
    ]


def answers_from_each(
    entries: Sequence[dict[str, Any]] | None,
) -> list[tuple[str, dict[str, Any]]]:
    """(tenant, answers_from) of each entry of results.json's ``inventories`` whose answers
    came from elsewhere than the run's (only those entries carry their own)."""
    return [
        (str(e.get("tenant")), e["answers_from"])
        for e in entries or ()
        if isinstance(e.get("answers_from"), dict)
    ]


def html_title(tenant: str | None, tenants: int, now: str) -> str:
    """report.html's title: the tenant (or how many) and the day judged (``now``, ISO)."""
    name = f"{tenants} tenants" if tenants else tenant or "no tenant"
    return f"dkimwatch: {name}, {now[:10]}"


def summary_sections(
    results: Sequence[ResultEntry],
    *,
    answers_from: Mapping[str, Any],
    partial: Partial | None,
    changes: Mapping[str, Any],
    tenant: str,
    now: str,
    resolvers: Sequence[str],
    queries: tuple[int, int],
) -> tuple[list[str], list[str]]:
    """report.html's own sections: (before pytest-html's rows: where the answers came from,
    the audit summary and matrices, the changes; after: the findings' heading)."""
    questions, sent = queries
    prefix = [AUDIT_CSS + EVIDENCE_CSS, answers_from_html(answers_from)]
    if partial is not None:
        prefix.append(
            f'<p class="dkimwatch-partial" style="font-size:120%"><b>'
            f"{escape(partial.text())}</b>: this report covers only "
            f"these checks; the last complete run's report stays in the reports "
            f"folder.</p>"
        )
    since = {
        row["nodeid"]: str(row["since"])
        for key in ("new_failures", "still_failing")
        for row in changes.get(key) or ()
        if row.get("since")
    }
    prefix.append(audit_html(results, tenant=tenant, since=since))
    prefix.append(
        f"<p><b>Evaluated at</b> {escape(now)} · <b>resolvers</b> "
        f"{escape('; '.join(resolvers))} · <b>DNS questions</b> "
        f"{questions} · <b>queries sent</b> {sent} · the run's metadata (versions, "
        "inventory and its sha256) is at the end of this page.</p>"
    )
    prefix.append(changes_html(changes))
    findings = sum(1 for r in results if r.outcome in FINDINGS)
    postfix = [
        f"<h2>Findings ({findings:,})</h2><p>Each failed check, each check DNS gave no "
        "answer for, and each waived check that holds, with its evidence and its fix "
        "(click a row). Passed, skipped and waived checks are counted in the matrices "
        "above; results.json has every verdict with its evidence."
        "</p>"
    ]
    return prefix, postfix


def metadata_entries(
    *,
    now: str,
    tenants: Sequence[str],
    inventory: Mapping[str, str],
    domains: int,
    resolvers: Sequence[str],
    answers_from: Mapping[str, Any],
    started: str,
    answers_from_each: Sequence[tuple[str, Mapping[str, Any]]] = (),
) -> dict[str, str]:
    """dkimwatch's rows of report.html's Environment table (pytest-metadata's).
    ``resolvers``: one line per inventory when their resolvers differ, else one line;
    ``answers_from_each``: (tenant, answers_from) of the inventories whose answers came
    from elsewhere than ``answers_from``."""
    import dns.version

    meta = {
        "dkimwatch": __version__,
        "Evaluation instant (now)": now,
        "Tenant": ", ".join(tenants) or "(none)",
        "Inventory": str(inventory.get("path")),
        "Inventory sha256": str(inventory.get("sha256")),
        "Domains": str(domains),
        "Resolvers": "; ".join(resolvers),
        "Answers from": "; ".join(
            [answers_from_text(answers_from)]
            + [f"{tenant}: {answers_from_text(each)}" for tenant, each in answers_from_each]
        ),
        "Python": platform.python_version(),
        "dnspython": dns.version.version,
        "pytest": pytest.__version__,
        "Started": started,
    }
    for var in ("GITHUB_RUN_ID", "BUILD_BUILDID", "CI_PIPELINE_ID"):
        if os.environ.get(var):
            meta["CI run"] = f"{var}={os.environ[var]}"
    return meta


def compare(
    histories: Sequence[InventoryHistory],
    reports: Path,
    rows: list[dict[str, Any]],
    *,
    started: str,
) -> history.Changes:
    """The run (``rows``, results.json's results) against the newest record of each
    inventory's history in ``reports``; a run of many inventories adds up theirs."""
    for h, own in zip(histories, inventory_rows(histories, rows), strict=True):
        h.previous, name = history.load_previous(reports / h.folder, h.identity)
        h.changes = history.diff(
            h.previous,
            own,
            started=started,
            previous_name=name,
            inputs=h.inputs,
        )
    return _added_up([h.changes for h in histories if h.changes])


def stage_records(
    histories: Sequence[InventoryHistory], staging: Path, reports: Path, doc: Mapping[str, Any]
) -> None:
    """Stage the run's history record of each inventory (after compare): the baseline of
    the next run."""
    for h, own in zip(histories, inventory_rows(histories, doc["results"]), strict=True):
        h.recorded = history.record_name(
            doc["started"], (p.name for p in history.records(reports / h.folder))
        )
        record = history.make_record(
            own,
            started=doc["started"],
            finished=doc["finished"],
            now=doc["now"],
            version=__version__,
            inventory_sha256=h.inventory.sha256,
            previous=h.previous,
            identity=h.identity,
            inputs=h.inputs,
        )
        atomic_write_text(staging / h.folder / h.recorded, history.dumps_record(record))


def changes_json(
    histories: Sequence[InventoryHistory],
    changes: history.Changes,
    not_recorded: str,
    *,
    many: bool,
) -> dict[str, Any]:
    """results.json's ``changes``: the run's, and in a run of many tenants (``many``) each
    inventory's own history."""
    out = {**changes.to_json(), **histories[0].to_json()}
    out["not_recorded"] = not_recorded or None
    if many:
        out.update(inventory=None, history=None, recorded=None)
        out["inventories"] = [
            {
                **h.to_json(),
                "previous": h.changes.previous if h.changes else None,
                "counts": h.changes.counts() if h.changes else None,
            }
            for h in histories
        ]
    return out


def write_outputs(
    staging: Path,
    doc: Mapping[str, Any],
    results: Sequence[ResultEntry],
    *,
    tenants: Sequence[str],
    partial: Partial | None,
    junit: str | None,
) -> None:
    """The outputs made from the results, into staging: failures.csv, fixes/, results.json,
    the badge(s) and junit.xml (when it is dkimwatch's to write). report.html is pytest-html's
    (merge.py renders it for a merge) and the history record is staged by stage_records.
    A new output is one more line here."""
    atomic_write_text(
        staging / "failures.csv",
        failures_csv(results, write_fix_files(staging, results), tenants=bool(tenants)),
    )
    atomic_write_pieces(staging / "results.json", dump_pieces(doc))
    atomic_write_text(staging / "badge.svg", badge_svg(doc["domains"], partial))
    by_tenant: dict[str | None, list[ResultEntry]] = {name: [] for name in tenants}
    for r in results:
        by_tenant.setdefault(r.tenant, []).append(r)
    for name in tenants:
        own = by_tenant[name]
        atomic_write_text(
            staging / badge_file(name), badge_svg(domains_summary(domain_states(own)), partial)
        )
    if junit is not None:
        atomic_write_text(staging / "junit.xml", junit)


def write_fix_files(staging: Path, results: Iterable[ResultEntry]) -> dict[str, str]:
    """Write fixes/ (every format, nsupdate.txt always; each DNS fix already in the zone
    the judge's SOA walk found); returns, per failed test, the file with its fix in its
    host's format."""
    ordered = sorted(results, key=lambda r: r.nodeid)
    write_fixes(staging / FIXES_DIR, fix_items(ordered))
    by_test: dict[str, str] = {}
    for r in ordered:
        if r.outcome == "failed" and r.verdict.fixes:
            ctx = next(c for c, _ in fix_items([r]))
            mine: list[FixItem] = [(ctx, f) for f in r.verdict.fixes]
            by_test[r.nodeid] = fix_file(r.verdict, mine)
    return by_test


def _added_up(each: list[history.Changes]) -> history.Changes:
    """The changes of a run of many inventories: every inventory's lists, in node id order;
    the previous record of the first inventory that has one (each one's is in
    results.json's ``changes.inventories``)."""
    if len(each) == 1:
        return each[0]
    total = history.Changes(previous=next((c.previous for c in each if c.previous), None))
    for name in ("new_failures", "fixed", "still_failing", "not_run", "inventory_changes"):
        rows = [row for c in each for row in getattr(c, name)]
        setattr(total, name, sorted(rows, key=lambda row: str(row["nodeid"])))
    return total


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


def remove_stale_staging(reports: Path) -> None:
    """Drop staging folders (and replaced partial outputs) of runs that were killed before
    they could finish publishing."""
    for prefix in (STAGING, _OLD_PARTIAL):
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
    meta = config.stash.get(metadata_key, None)
    if meta is None:
        return
    entries = inventory_entries(run)
    meta.update(
        metadata_entries(
            now=iso_instant(run.now),
            tenants=[tenant_name(inv) for inv in run.inventories] or [run.inventory.tenant or ""],
            inventory={"path": str(run.inventory.path), "sha256": run.inventory.sha256},
            domains=len(run.inventory.domains),
            resolvers=resolver_lines(run.resolvers, entries),
            answers_from=run.answers_from,
            started=started,
            answers_from_each=answers_from_each(entries),
        )
    )


def _is_html_report(plugin: object) -> bool:
    """Whether plugin is pytest-html's report writer (the one holding its output path)."""
    try:
        from pytest_html.basereport import BaseReport
    except ImportError:  # pragma: no cover - pytest-html is a dependency
        return False
    return isinstance(plugin, BaseReport)


def _drop_rowless_tests(plugin: object) -> None:
    """pytest-html's data keeps an empty entry for every test it gave no row (its teardown
    step looks each test up in a defaultdict): the test ids of every passed, skipped and
    waived check, most of a large estate's report. The page shows nothing for them."""
    tests = getattr(getattr(plugin, "_report", None), "data", {}).get("tests")
    if isinstance(tests, dict):
        for nodeid in [n for n, rows in tests.items() if not rows]:
            del tests[nodeid]


def _forget_seen_tests(config: pytest.Config) -> None:
    """pytest's cache (kept for --lf and --ff) also stores every test id it has ever seen,
    for --nf, adding each run's to the last: an estate's 110,000 ids, never pruned, read
    and rewritten by every later run, however small. Unless --nf is asked for, its plugin
    leaves and the stored list is emptied."""
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is None or config.getoption("newfirst", False):
        return
    plugin = config.pluginmanager.get_plugin("nfplugin")
    if plugin is not None:
        config.pluginmanager.unregister(plugin)
        if getattr(plugin, "cached_nodeids", None):
            cache.set("cache/nodeids", [])


def release_report(config: pytest.Config, report: pytest.TestReport) -> None:
    """Drop the references to a test's report that pytest and pytest-html keep only for
    what dkimwatch never does, as soon as they are done with it; at 10,000 domains these
    reports were a large part of a run's memory. Two internals (selftests/e2e/test_heap.py
    notices if they change):

    - pytest-html keeps every report of every test in ``_reports`` (by node id), to add
      up a test's phases and its reruns when its teardown comes; once the teardown (not a
      rerun) is processed, its row is made and the reports are never read again.
    - pytest's terminal reporter keeps every passing setup and teardown report in
      ``stats[""]``, read only for their captured sections (see _drop_quiet_teardowns):
      one without sections goes as soon as it is added."""
    if report.when == "teardown" and str(report.outcome) != "rerun":
        for plugin in _html_reports(config):
            kept = getattr(plugin, "_reports", None)
            if isinstance(kept, dict):
                kept.pop(report.nodeid, None)
    if report.when in ("setup", "teardown") and not report.sections:
        quiet = getattr(config.pluginmanager.getplugin("terminalreporter"), "stats", {}).get("")
        if quiet and quiet[-1] is report:
            quiet.pop()


def _html_reports(config: pytest.Config) -> list[object]:
    """pytest-html's report writers (one, or none), found once per run."""
    found: list[object] | None = config.stash.get(_HTML_REPORTS, None)
    if found is None:
        found = [p for p in config.pluginmanager.get_plugins() if _is_html_report(p)]
        config.stash[_HTML_REPORTS] = found
    return found


_HTML_REPORTS = pytest.StashKey[list[object]]()


def _drop_quiet_teardowns(config: pytest.Config) -> None:
    """pytest's terminal summary finds each failure's teardown report by scanning every
    passed setup/teardown report, a list as long as the run: quadratic with thousands of
    failing domains. It prints only the captured sections of
    those reports, so keeping just the reports that have sections changes no output."""
    reporter = config.pluginmanager.getplugin("terminalreporter")
    quiet = getattr(reporter, "stats", {}).get("")
    if quiet:
        reporter.stats[""] = [r for r in quiet if getattr(r, "sections", None)]
