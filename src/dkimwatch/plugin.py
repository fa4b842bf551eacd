"""The pytest plugin: inventory → DNS answers → verdicts → pytest outcomes and reports.

The controller (the only process without xdist, or xdist's controller) loads the
inventory, starts the embedded DNS server when zone files are given, and resolves every
question the checks will ask, concurrently and once. The answers go to a file whose path
reaches xdist workers through ``workerinput``; tests then only judge answers, offline.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest

from dkimwatch import __version__
from dkimwatch.checks import (
    Context,
    Verdict,
    cases,
    evaluate,
    selector_name,
)
from dkimwatch.inventory import CHECK_IDS, Inventory, InventoryError, load_inventory
from dkimwatch.options import PATH_OPTIONS
from dkimwatch.report import (
    atomic_write_text,
    badge_svg,
    dumps,
    evidence_html,
    matrix_html,
    publish,
    results_document,
)
from dkimwatch.resolver import DnsClient, Resolver, resolve_servers

_STATE = pytest.StashKey["_State"]()
_VERDICT = pytest.StashKey[str]()  # the verdict as JSON, copied onto every report of the test
REPORT_ATTR = "dkimwatch_verdict"


class TempError(Exception):
    """DNS could not answer: the test is an error, never a failure and never a pass."""


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_now(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass
class _State:
    inventory: Inventory
    now: datetime
    resolver: Resolver
    resolvers: list[str]
    reports: Path
    staging: Path | None = None
    started: str = ""
    server: Any = None
    answers_file: Path | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    phases: dict[str, dict[str, str]] = field(default_factory=dict)
    html_auto: bool = False
    xml_auto: bool = False
    tmpdir: Path | None = None

    def context(self) -> Context:
        return Context(
            resolver=self.resolver,
            policy=self.inventory.policy,
            tenant=self.inventory.tenant,
            now=self.now,
        )


def _fail(message: str) -> pytest.UsageError:
    return pytest.UsageError(message)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dkim: DKIM selector and key checks")
    config.addinivalue_line("markers", "spf: SPF record checks")
    config.addinivalue_line("markers", "dmarc: DMARC record checks")
    if config.option.help or getattr(config.option, "version", False):
        return
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        _configure_worker(config, workerinput)
        return
    _configure_controller(config)


def _configure_worker(config: pytest.Config, workerinput: dict[str, Any]) -> None:
    inventory = load_inventory(workerinput["dkimwatch_inventory"])
    resolver, _meta = Resolver.load(Path(workerinput["dkimwatch_answers"]))
    config.stash[_STATE] = _State(
        inventory=inventory,
        now=parse_now(workerinput["dkimwatch_now"]),
        resolver=resolver,
        resolvers=list(workerinput["dkimwatch_resolvers"]),
        reports=Path(workerinput["dkimwatch_reports"]),
    )


def _configure_controller(config: pytest.Config) -> None:
    opt = config.option
    path = Path(opt.domains) if opt.domains else Path(config.rootpath) / "domains.yaml"
    _check_rootdir(config)
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        raise _fail(str(exc)) from None
    try:
        now = parse_now(opt.now) if opt.now else datetime.now(UTC).replace(microsecond=0)
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
            state.now = parse_now(str(meta["now"]))
    else:
        state.resolvers, state.server = _nameservers(config, inventory)
        state.resolver = Resolver(
            DnsClient(state.resolvers, inventory.dns.timeout, inventory.dns.attempts)
        )

    # Outputs are staged and published only when the run completes (atomic, see unconfigure).
    reports.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(reports)
    state.staging = reports / f".staging-{os.getpid()}"
    shutil.rmtree(state.staging, ignore_errors=True)
    state.staging.mkdir()
    if not getattr(opt, "htmlpath", None):
        opt.htmlpath = str(state.staging / "report.html")
        opt.self_contained_html = True
        state.html_auto = True
    if not getattr(opt, "xmlpath", None):
        opt.xmlpath = str(state.staging / "junit.xml")
        state.xml_auto = True
    state.started = _iso(datetime.now(UTC))
    config.stash[_STATE] = state
    config.pluginmanager.register(_Controller(config, state), "dkimwatch-controller")


def _remove_stale_staging(reports: Path) -> None:
    """Drop staging folders of runs that were killed before they could publish."""
    for folder in reports.glob(".staging-*"):
        pid = folder.name.removeprefix(".staging-")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


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
    args = list(config.invocation_params.args)
    for flag, value in itertools.pairwise(args):
        if flag in PATH_OPTIONS:
            raise _fail(
                f"{flag} {value}: pytest may have taken this path for a test path and found "
                f"no ini file; write {flag}={value} (with '=')"
            )


def _nameservers(config: pytest.Config, inventory: Inventory) -> tuple[list[str], Any]:
    opt = config.option
    if opt.nameserver:
        try:
            return resolve_servers(opt.nameserver), None
        except ValueError as exc:
            raise _fail(f"--nameserver: {exc}") from None
    zones = Path(opt.zones) if opt.zones else inventory.dns.zones
    if zones is not None:
        from dkimwatch.zoneserver import ZoneError, ZoneServer

        try:
            server = ZoneServer(zones)
            host, port = server.start()
        except ZoneError as exc:
            raise _fail(str(exc)) from None
        return [f"{host}:{port}"], server
    servers = resolve_servers(inventory.dns.nameservers)
    if not servers:
        raise _fail(f"{inventory.path}: dns.nameservers: no usable nameserver found")
    return servers, None


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
    meta["Evaluation instant (now)"] = _iso(state.now)
    meta["Tenant"] = state.inventory.tenant or "(none)"
    meta["Inventory"] = str(state.inventory.path)
    meta["Inventory sha256"] = state.inventory.sha256
    meta["Domains"] = str(len(state.inventory.domains))
    meta["Resolvers"] = ", ".join(state.resolvers)
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
    if "verdict" not in metafunc.fixturenames:
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
    params: list[tuple[str, str | None]] = []
    ids: list[str] = []
    for domain in state.inventory.domains:
        for c, selector in cases(domain):
            if c != check:
                continue
            params.append((domain.name, selector))
            ids.append(selector_name(domain, selector) if selector else domain.name)
    metafunc.parametrize("case", params, ids=ids)


@pytest.fixture
def verdict(request: pytest.FixtureRequest, case: tuple[str, str | None]) -> Verdict:
    """The verdict of this test's check for its case; DNS trouble makes the test an error."""
    state: _State = request.config.stash[_STATE]
    check = check_of(request.function)
    domain = state.inventory.domain(case[0])
    result = evaluate(state.context(), check, domain, case[1])
    data = {"nodeid": request.node.nodeid, **result.to_json()}
    waiver = state.inventory.waiver_for(domain.name, check)
    if waiver is not None:
        today = state.now.date()
        until = f" until {waiver.expires.isoformat()}" if waiver.expires else ""
        if waiver.active(today):
            data["waiver"] = f"{waiver.reason}{until}"
            request.node.add_marker(
                pytest.mark.xfail(reason=f"waived: {waiver.reason}{until}", strict=False)
            )
        else:
            data["waiver"] = f"expired on {_expired(waiver.expires)}: {waiver.reason}"
    request.node.stash[_VERDICT] = json.dumps(data)
    if result.outcome == "error":
        raise TempError(result.message)
    if result.outcome == "xfailed":
        pytest.xfail(result.message)
    if result.outcome == "skipped":
        pytest.skip(result.message)
    return result


def _record_meta(state: _State) -> dict[str, Any]:
    return {
        "now": _iso(state.now),
        "resolvers": state.resolvers,
        "inventory": str(state.inventory.path),
        "inventory_sha256": state.inventory.sha256,
        "dkimwatch": __version__,
    }


def _expired(when: date | None) -> str:
    return when.isoformat() if when else "?"


def require(verdict: Verdict) -> None:
    """The assertion of every compliance test: the verdict holds."""
    if verdict.result != "pass":
        pytest.fail(f"{verdict.result}: {verdict.message}", pytrace=False)


# --- reporting ----------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, TempError):
        report.longrepr = f"temperror: {call.excinfo.value}"
    data = item.stash.get(_VERDICT, None)
    if data is None:
        return report
    # A report attribute (not user_properties) travels through xdist but stays out of junit.xml.
    setattr(report, REPORT_ATTR, data)
    if report.when == "call" or (report.when == "setup" and not report.passed):
        try:
            from pytest_html import extras

            html = evidence_html(json.loads(data))
            report.extras = [*getattr(report, "extras", []), extras.html(html)]  # type: ignore[attr-defined]
        except ImportError:  # pragma: no cover
            pass
    return report


def _verdict_of(report: pytest.TestReport) -> dict[str, Any] | None:
    data = getattr(report, REPORT_ATTR, None)
    return dict(json.loads(data)) if data else None


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


class _Controller:
    """Hooks that only the controlling process runs: resolve, hand out answers, report."""

    def __init__(self, config: pytest.Config, state: _State) -> None:
        self.config = config
        self.state = state

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Resolve everything once, concurrently, before xdist starts its workers."""
        state = self.state
        _metadata(self.config, state)  # pytest-metadata has filled its stash by now
        ctx = state.context()
        jobs = [(c, d, s) for d in state.inventory.domains for c, s in cases(d)]
        with ThreadPoolExecutor(max_workers=32) as pool:
            list(pool.map(lambda job: evaluate(ctx, job[0], job[1], job[2]), jobs))
        assert state.tmpdir is not None
        state.answers_file = state.tmpdir / "answers.json"
        state.resolver.dump(state.answers_file, _record_meta(state))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        state = self.state
        node.workerinput["dkimwatch_inventory"] = str(state.inventory.path)
        node.workerinput["dkimwatch_answers"] = str(state.answers_file)
        node.workerinput["dkimwatch_now"] = _iso(state.now)
        node.workerinput["dkimwatch_resolvers"] = list(state.resolvers)
        node.workerinput["dkimwatch_reports"] = str(state.reports)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Every report reaches the controller, whether it came from an xdist worker or not.
        data = _verdict_of(report)
        final = _final_outcome(report)
        if data is None or final is None:
            return
        data["outcome"] = final
        data["nodeid"] = report.nodeid
        self.state.results[report.nodeid] = data

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        tenant = self.state.inventory.tenant or "no tenant"
        report.title = f"dkimwatch: {tenant}, {self.state.now.date().isoformat()}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        state = self.state
        prefix.append(
            f"<p><b>Evaluated at</b> {escape(_iso(state.now))} · <b>resolvers</b> "
            f"{escape(', '.join(state.resolvers))} · <b>DNS questions</b> "
            f"{len(state.resolver.answers())} · <b>queries sent</b> "
            f"{state.resolver.queries_sent()}</p>"
        )
        prefix.append(matrix_html(list(state.results.values())))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        if exitstatus == pytest.ExitCode.INTERRUPTED or state.staging is None:
            return  # an interrupted run publishes nothing: the previous reports stay
        if self.config.option.record:
            state.resolver.dump(Path(self.config.option.record), _record_meta(state))
        doc = results_document(
            version=__version__,
            started=state.started,
            finished=_iso(datetime.now(UTC)),
            now=_iso(state.now),
            resolvers=state.resolvers,
            inventory={"path": str(state.inventory.path), "sha256": state.inventory.sha256},
            queries={
                "questions": len(state.resolver.answers()),
                "sent": state.resolver.queries_sent(),
            },
            results=list(state.results.values()),
        )
        atomic_write_text(state.staging / "results.json", dumps(doc))
        atomic_write_text(state.staging / "badge.svg", badge_svg(doc["summary"]))

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # pytest-html and junitxml have written into staging by now (at sessionfinish).
        state = self.state
        if state.server is not None:
            state.server.stop()
        if state.staging is not None and state.staging.exists():
            if (state.staging / "results.json").exists():
                publish(state.staging, state.reports)
            else:
                shutil.rmtree(state.staging, ignore_errors=True)
        if state.tmpdir is not None:
            shutil.rmtree(state.tmpdir, ignore_errors=True)


__all__ = ["TempError", "Verdict", "require", "verdict"]
