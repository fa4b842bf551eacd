"""One audit run: its inventory, instant and resolvers, its cases, and where verdicts come from.

The controller (the only process without xdist, or xdist's controller) loads the
inventory (or each tenant's), starts an embedded DNS server for each directory of zone
files, and has every verdict resolved and judged once: by the helper process while the
tests run (one process), or up front for xdist, whose workers get the answers in a file
named in ``workerinput`` and judge them offline.
"""

from __future__ import annotations

import dataclasses
import pickle
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dkimwatch import __version__
from dkimwatch.checks import Context, selector_name
from dkimwatch.helper import CONCURRENCY, ClientSpec, Helper, Job, Judged, Work, judge
from dkimwatch.instants import iso_instant, parse_instant
from dkimwatch.inventory import (
    MAX_DOMAINS,
    Domain,
    Inventory,
    InventoryError,
    combined,
    dns_key,
    load_inventories,
    load_inventory,
    tenant_name,
)
from dkimwatch.model import Policy
from dkimwatch.options import separate_path_options
from dkimwatch.registry import SUITE_ORDER, cases, evaluate
from dkimwatch.report import LIVE_DNS, REPLAY, ZONE_FILES
from dkimwatch.resolver import RecordedView, Resolver, dump_record, load_record, servers_to_ask
from dkimwatch.shards import Shard, parse_shard, sharded, too_large

if TYPE_CHECKING:
    from dkimwatch.zoneserver import ZoneServer  # started by resolver.servers_to_ask

Key = tuple[str, str, str | None]  # (check, domain, selector)

# A run of at least this many domains says on the terminal what it does before its first
# test (reading, collecting, resolving): at 10,000 domains that takes tens of seconds.
PROGRESS_DOMAINS = 1_000
PROGRESS_BYTES = 1_000_000  # an inventory file this large is announced before it is read
PROGRESS_EVERY = 5.0  # seconds between "still …" lines of one long step

AUTO_ONE_PROCESS = (
    "-n auto runs in one process: the tests only judge answers resolved up front, and "
    "spreading them costs more than it saves (bench/RESULTS.md); -n N spreads as asked"
)


def usage_error(message: str) -> pytest.UsageError:
    return pytest.UsageError(message)


@dataclass
class View:
    """One set of resolvers of a run, and the answers it gave. A run has one, but for a
    run of many inventories whose ``dns:`` settings differ (and no --nameserver or --zones):
    one per distinct setting, each asked by the domains of its inventories only."""

    resolvers: list[str]  # whom it asks, as shown
    answers_from: dict[str, Any]  # results.json's answers_from of its domains
    resolver: Resolver = field(default_factory=lambda: Resolver(None))
    spec: ClientSpec | None = None  # how the helper builds its resolver
    server: ZoneServer | None = None  # the embedded server of its zone files
    tenants: list[str] = field(default_factory=list)  # of the inventories asking it
    wait: float = 0.0  # the longest one question can take (timeout × attempts)

    def recorded(self) -> RecordedView:
        return RecordedView(
            self.resolvers, self.resolver.answers(), self.tenants, self.answers_from
        )


@dataclass
class Run:
    """What every process of a run knows; the controller also owns the helper, the
    embedded DNS servers and the files it hands to xdist workers."""

    inventory: Inventory
    now: datetime
    # Every set of resolvers of the run; view_of[scope] is the one a scope's domains ask
    # (empty: views[0] for every domain).
    views: list[View]
    resolvers: list[str]  # every server asked (results.json's resolvers)
    reports: Path
    # Tests the whole suite has for the inventory (before --gate narrows it): a run that
    # reports fewer is partial.
    suite_size: int = 0
    progress: Progress | None = None  # a large run's lines until its first test
    view_of: tuple[int, ...] = ()
    answers_file: Path | None = None
    inventory_file: Path | None = None
    spreading_declined: str | None = None  # why -n auto was not followed
    # Where the answers come from (live DNS, zone files, a saved record): results.json's
    # answers_from, said wherever the run is reported.
    answers_from: dict[str, Any] = field(default_factory=dict)
    tmpdir: Path | None = None
    # One process: the helper that resolves and judges while the tests run, and the index
    # of each (check, domain, selector) in the work it was given.
    helper: Helper | None = None
    helper_jobs: dict[Key, int] = field(default_factory=dict)
    # Verdicts as the reports want them, obtained once per key.
    verdicts: dict[Key, Judged] = field(default_factory=dict)
    # DNS questions asked and queries sent, once the helper has reported them.
    dns_counts: tuple[int, int] | None = None
    # A run of many tenants (--domains a directory, or given more than once): each tenant's
    # inventory, whose policy, tenant and waivers judge its domains; ``inventory`` then
    # stands for all of them (inventory.combined). Empty for a run of one inventory file.
    inventories: tuple[Inventory, ...] = ()
    _by_name: dict[str, Domain] = field(default_factory=dict)
    _scope: dict[str, int] = field(default_factory=dict)
    _parameters: dict[str, tuple[list[Case], list[str]]] = field(default_factory=dict)
    _labels: list[tuple[str, str]] = field(default_factory=list)
    # --shard I/N: this run audits only that shard of the estate (results.json's shard).
    shard: str | None = None

    def domain(self, name: str) -> Domain:
        """The inventory entry of ``name``, by dict (Inventory.domain() scans the list)."""
        if not self._by_name:
            self._by_name = {d.name: d for d in self.inventory.domains}
        return self._by_name[name]

    def scope(self, name: str) -> int:
        """Which of ``inventories`` lists the domain ``name`` (0 in a run of one)."""
        if not self.inventories:
            return 0
        if not self._scope:
            self._scope = {d.name: i for i, inv in enumerate(self.inventories) for d in inv.domains}
        return self._scope[name]

    def tenant_of(self, name: str) -> str | None:
        """The tenant of the domain ``name`` in a run of many tenants; None in a run of one."""
        labels = self.labels(name)
        return labels[0] if labels is not None else None

    def labels(self, name: str) -> tuple[str, str] | None:
        """(tenant, inventory path) of the domain ``name`` in a run of many tenants, as its
        results name them; None in a run of one. Made once per inventory: every result of
        an estate holds the same two strings, not copies of its own."""
        if not self.inventories:
            return None
        if not self._labels:
            self._labels = [(tenant_name(inv), str(inv.path)) for inv in self.inventories]
        return self._labels[self.scope(name)]

    def inventory_of(self, name: str) -> Inventory:
        """The inventory that lists the domain ``name``."""
        if not self.inventories:
            return self.inventory
        return self.inventories[self.scope(name)]

    def scopes(self) -> tuple[tuple[Policy, str | None], ...]:
        """Each inventory's (policy, tenant), by scope; empty in a run of one."""
        return tuple((inv.policy, inv.tenant) for inv in self.inventories)

    def view(self, name: str) -> View:
        """The set of resolvers the domain ``name`` is asked through: its inventory's."""
        if not self.view_of:
            return self.views[0]
        return self.views[self.view_of[self.scope(name)]]

    def view_of_inventory(self, index: int) -> View:
        """The set of resolvers of ``inventories[index]``."""
        return self.views[self.view_of[index] if self.view_of else 0]

    def context(self, name: str | None = None) -> Context:
        """The judging context of the domain ``name``: its own inventory's policy, tenant
        and resolvers."""
        inventory = self.inventory if name is None else self.inventory_of(name)
        return Context(
            resolver=self.views[0].resolver if name is None else self.view(name).resolver,
            policy=inventory.policy,
            tenant=inventory.tenant,
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
        return Job(
            check,
            self.domain(name),
            selector,
            self.waiver_text(check, name)[0],
            scope=self.scope(name),
        )

    def verdict(self, key: Key) -> Judged:
        """The verdict of key: from the helper (waiting for it), or judged here from the
        answers this process has (xdist workers, replays)."""
        found = self.verdicts.get(key)
        if found is None:
            index = self.helper_jobs.get(key)
            if self.helper is not None and index is not None:
                found = self.helper.get(index)
            else:
                found = judge(self.context(key[1]), self.job(key))
            self.verdicts[key] = found
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
        return (
            sum(len(v.resolver.answers()) for v in self.views),
            sum(v.resolver.queries_sent() for v in self.views),
        )

    def record(self, path: Path) -> None:
        """Save every answer of the run, per set of resolvers (--record, a shard's, the
        xdist hand-off)."""
        dump_record(path, [view.recorded() for view in self.views], self.record_meta())

    def record_meta(self) -> dict[str, Any]:
        """What a saved record of the answers (--record, xdist's answers file) says of them."""
        return {
            "now": iso_instant(self.now),
            "resolvers": self.resolvers,
            "inventory": str(self.inventory.path),
            "inventory_sha256": self.inventory.sha256,
            "dkimwatch": __version__,
            "answers_from": self.answers_from,
            "shard": self.shard,
        }

    # --- the helper (one process) --------------------------------------------------------

    def submit(self, keys: list[Key], *, want_answers: bool) -> None:
        """Hand the helper these verdicts to compute, in this order."""
        assert self.helper is not None
        self.helper_jobs = {key: index for index, key in enumerate(keys)}
        specs = []
        for view in self.views:
            assert view.spec is not None
            specs.append(view.spec)
        self.helper.submit(
            Work(
                clients=tuple(specs),
                policy=self.inventory.policy,
                tenant=self.inventory.tenant,
                now=self.now,
                jobs=tuple(self.job(key) for key in keys),
                want_answers=want_answers,
                scopes=self.scopes(),
                views=self.view_of,
            )
        )

    def finish_helper(self) -> None:
        """Collect the helper's counts (and answers, for --record); after -x or Ctrl-C it
        drops the jobs not started, and gets at most one DNS wait to say so."""
        helper, self.helper = self.helper, None
        if helper is None:
            return
        if helper.finish(timeout=max(view.wait for view in self.views) + 5):
            self.dns_counts = (helper.questions, helper.sent)
            if helper.answers is not None:
                for view, answers in zip(self.views, helper.answers, strict=True):
                    view.resolver = Resolver(None, answers)

    # --- the xdist hand-off --------------------------------------------------------------

    def hand_off(self) -> None:
        """xdist spreads after all: resolve everything here, before the workers start, into
        files the workers read (see worker_input)."""
        if self.helper is not None:  # the workers need a file, not the helper
            self.helper.stop()
            self.helper = None
        self._resolve([(c, d, s) for d in self.inventory.domains for c, s in cases(d)])
        assert self.tmpdir is not None
        self.answers_file = self.tmpdir / "answers.json"
        self.record(self.answers_file)
        # Workers get the parsed inventory: parsing YAML again in each costs as much as here.
        inventory_file = self.tmpdir / "inventory.pickle"
        inventory_file.write_bytes(
            pickle.dumps((self.inventory, self.inventories), pickle.HIGHEST_PROTOCOL)
        )
        self.inventory_file = inventory_file

    def _resolve(self, jobs: list[tuple[str, Domain, str | None]]) -> None:
        """Evaluate every job with bounded concurrency, so that the resolver has asked each
        (name, type) once; the workers judge from its answers."""
        contexts = {name: self.context(name) for name in {job[1].name for job in jobs}}
        progress = self.progress
        large = progress is not None and progress.large
        if progress is not None and large:
            progress.start("resolving", f"resolving {len(jobs):,} checks before the workers start")
        pool = ThreadPoolExecutor(max_workers=CONCURRENCY)
        try:
            shown = 0
            verdicts = pool.map(lambda job: evaluate(contexts[job[1].name], *job), jobs)
            for done, _ in enumerate(verdicts, 1):
                tenth = done * 10 // len(jobs)
                if progress is not None and large and tenth > shown:
                    shown = tenth
                    progress.say(f"resolved {done:,} of {len(jobs):,} checks ({tenth * 10}%)")
        finally:
            # On Ctrl-C, drop the checks not started rather than asking all their questions.
            pool.shutdown(wait=False, cancel_futures=True)

    def worker_input(self) -> dict[str, Any]:
        """What an xdist worker needs to judge offline (see configure_worker)."""
        return {
            "dkimwatch_inventory": str(self.inventory.path),
            "dkimwatch_inventory_pickle": str(self.inventory_file or ""),
            "dkimwatch_answers": str(self.answers_file),
            "dkimwatch_now": iso_instant(self.now),
            "dkimwatch_resolvers": list(self.resolvers),
            "dkimwatch_views": list(self.view_of),
            "dkimwatch_answers_from": self.answers_from,
            "dkimwatch_reports": str(self.reports),
        }

    def close(self) -> None:
        """The run's processes and temporary files go (at unconfigure)."""
        if self.progress is not None:
            self.progress.stop()
        if self.helper is not None:
            self.helper.stop()
        self.close_servers()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def close_servers(self) -> None:
        """Every embedded DNS server of the run stops."""
        for view in self.views:
            if view.server is not None:
                view.server.stop()
                view.server = None


@dataclass(frozen=True)
class Case:
    """A test's parameter: which verdict it reports. Knows its run, so that the verdict
    argument needs no ``request`` (pytest builds a fixture definition for every use of it,
    a noticeable cost per test with thousands of tests)."""

    check: str
    domain: str
    selector: str | None
    run: Run = field(repr=False, compare=False, hash=False)

    @property
    def key(self) -> Key:
        return (self.check, self.domain, self.selector)


def _expired(when: date | None) -> str:
    return when.isoformat() if when else "?"


class Progress:
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


# --- starting a run -----------------------------------------------------------------------


def gated(config: pytest.Config, inventory: Inventory) -> Inventory:
    """With --gate DOMAIN, the inventory shrinks to that domain (the gate checks only it)."""
    name = config.option.gate
    if not name:
        return inventory
    from dkimwatch.gate import GateError, gate_domain  # only a gate run needs it

    try:
        domain = gate_domain(inventory, name)
    except GateError as exc:
        raise usage_error(f"--gate: {exc}") from None
    return dataclasses.replace(inventory, domains=(domain,))


def configure_worker(config: pytest.Config, workerinput: dict[str, Any]) -> Run:
    """An xdist worker's run: the controller's inventory and answers, judged here."""
    pickled = workerinput.get("dkimwatch_inventory_pickle")
    inventories: tuple[Inventory, ...] = ()
    if pickled:  # the controller's parsed inventories (its own private temporary file)
        whole, inventories = pickle.loads(Path(pickled).read_bytes())
        inventory = gated(config, whole)
    else:
        inventory = gated(config, load_inventory(workerinput["dkimwatch_inventory"]))
    recorded, _meta = load_record(Path(workerinput["dkimwatch_answers"]))
    return Run(
        inventory=inventory,
        now=parse_instant(workerinput["dkimwatch_now"]),
        views=[
            View(r.resolvers, r.answers_from, Resolver(None, r.answers), tenants=r.tenants)
            for r in recorded
        ],
        view_of=tuple(workerinput.get("dkimwatch_views") or ()),
        resolvers=list(workerinput["dkimwatch_resolvers"]),
        answers_from=dict(workerinput.get("dkimwatch_answers_from") or {}),
        reports=Path(workerinput["dkimwatch_reports"]),
        inventories=inventories,
    )


def configure_controller(
    config: pytest.Config, *, auto_declined: bool, helper: Helper | None = None
) -> Run:
    """The controller's run: the inventory read (and announced when large), the instant,
    and where the answers come from; the helper (started by the plugin, None when the run
    has none) given the whole suite when nothing on the command line selects part of it."""
    opt = config.option
    _check_rootdir(config)
    progress = Progress(config)
    whole, inventories = _read_inventory(config, progress)
    shard = shard_of(config)
    if shard is not None:
        whole, inventories = _shard_part(shard, whole, inventories, progress)
    inventory = gated(config, whole)
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
        raise usage_error(
            f"--now: expected an ISO 8601 instant such as 2026-11-22T09:00:00Z, got {opt.now!r}"
        ) from None
    reports = Path(opt.reports)
    if not reports.is_absolute():
        reports = Path(config.invocation_params.dir) / reports
    run = Run(
        inventory=inventory,
        now=now,
        views=[],
        resolvers=[],
        reports=reports,
        tmpdir=Path(tempfile.mkdtemp(prefix="dkimwatch-")),
        suite_size=suite_size,
        progress=progress,
        spreading_declined=AUTO_ONE_PROCESS if auto_declined else None,
        inventories=inventories,
        shard=str(shard) if shard else None,
    )
    if opt.replay:
        _answers_from_record(run, config)
    else:
        _answers_from_dns(run, config)
    if helper is not None:  # started before dkimwatch was imported (dkimwatch.plugin)
        run.helper = helper
        if not selects(config):
            # The whole suite will run: the helper starts on it while pytest collects,
            # in the order of the suite's test files.
            keys = [c.key for k in SUITE_ORDER for c in run.parameters(k)[0]]
            run.submit(keys, want_answers=bool(opt.record or run.shard))
    return run


def _shard_part(
    shard: Shard, whole: Inventory, inventories: tuple[Inventory, ...], progress: Progress
) -> tuple[Inventory, tuple[Inventory, ...]]:
    """The shard's part of the estate; a usage error when it is above the one-run limit."""
    estate = len(whole.domains)
    whole, inventories = sharded(shard, whole, inventories)
    why = too_large(shard, estate, len(whole.domains), MAX_DOMAINS)
    if why is not None:
        progress.stop()
        raise usage_error(f"{whole.path}:0: domains: {why}")
    return whole, inventories


def shard_of(config: pytest.Config) -> Shard | None:
    """--shard I/N, or None; a bad value is a usage error."""
    text = config.option.shard
    if text is None:
        return None
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise usage_error(f"--shard: {exc}") from None


def _read_inventory(
    config: pytest.Config, progress: Progress
) -> tuple[Inventory, tuple[Inventory, ...]]:
    """The inventory of --domains (or the project's domains.yaml); a large file is
    announced before it is read. A directory, or --domains given more than once, makes a
    run of many tenants: (their combined inventory, each tenant's inventory)."""
    opt = config.option
    given = [Path(p) for p in opt.domains or ()]
    if len(given) > 1 or (given and given[0].is_dir()):
        try:
            # A shard's run loads the whole estate and counts only its part (configure).
            inventories = load_inventories(given, limit=None if opt.shard else MAX_DOMAINS)
        except InventoryError as exc:
            progress.stop()
            raise usage_error(str(exc)) from None
        shown = given[0] if len(given) == 1 else inventories[0].path
        return combined(inventories, shown), tuple(inventories)
    path = given[0] if given else Path(config.rootpath) / "domains.yaml"
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # load_inventory says what is wrong with it
    if size >= PROGRESS_BYTES:
        progress.start(f"reading {path}", f"reading {path} ({size / 1e6:.1f} MB)")
    try:
        return load_inventory(path), ()
    except InventoryError as exc:
        progress.stop()
        raise usage_error(str(exc)) from None


def _answers_from_record(run: Run, config: pytest.Config) -> None:
    """--replay: the answers of a saved record, and its instant unless --now says another.
    Each domain gets the answers its own inventory's resolvers gave (a record holds them
    per set of resolvers, with the tenants that asked each)."""
    opt = config.option
    try:
        recorded, meta = load_record(Path(opt.replay))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise usage_error(
            f"--replay: {opt.replay}: not a readable dkimwatch record ({exc})"
        ) from None
    run.resolvers = [f"replay:{opt.replay}", *meta.get("resolvers", [])]
    if not opt.now and meta.get("now"):
        run.now = parse_instant(str(meta["now"]))
    run.answers_from = _replayed(str(opt.replay), meta.get("answers_from"))
    for index, each in enumerate(recorded):
        run.views.append(
            View(
                [f"replay:{opt.replay}", *each.resolvers],
                _replayed(str(opt.replay), each.answers_from or meta.get("answers_from")),
                spec=ClientSpec((), 0.0, 0, replay=str(opt.replay), replay_view=index),
                tenants=each.tenants,
            )
        )
    if len(recorded) > 1:
        asked_by = {t: i for i, each in enumerate(recorded) for t in each.tenants}
        views = []
        for inv in run.inventories or (run.inventory,):
            view_index = asked_by.get(tenant_name(inv))
            if view_index is None:
                raise usage_error(
                    f"--replay: {opt.replay}: no answers recorded for tenant "
                    f"{tenant_name(inv)!r} ({inv.path}); record a run of its inventory"
                )
            views.append(view_index)
        run.view_of = tuple(views)
    for view in run.views:
        assert view.spec is not None
        view.resolver = view.spec.resolver({str(opt.replay): recorded})


def _replayed(path: str, recorded_from: object) -> dict[str, Any]:
    answers_from: dict[str, Any] = {"kind": REPLAY, "detail": path}
    if isinstance(recorded_from, dict):
        answers_from["recorded_from"] = recorded_from
    return answers_from


def _answers_from_dns(run: Run, config: pytest.Config) -> None:
    """The resolvers to ask (or the embedded servers for zone files), and how: one set for
    the run with --nameserver or --zones, else one per distinct dns: setting of its
    inventories (each inventory's domains ask its own)."""
    opt = config.option
    inventories = run.inventories or (run.inventory,)
    zones = Path(opt.zones) if opt.zones else None
    groups: dict[tuple[object, ...], list[int]] = {}
    for index, inv in enumerate(inventories):
        # The command line's servers serve every inventory: one set for the run.
        key = () if opt.nameserver or zones is not None else dns_key(inv)
        groups.setdefault(key, []).append(index)
    view_of = [0] * len(inventories)
    try:
        for members in groups.values():
            for index in members:
                view_of[index] = len(run.views)
            run.views.append(_view(config, [inventories[i] for i in members], zones))
    except ValueError as exc:
        run.close_servers()
        raise usage_error(str(exc)) from None
    if len(run.views) > 1:
        run.view_of = tuple(view_of)
    run.resolvers = list(dict.fromkeys(r for view in run.views for r in view.resolvers))
    run.answers_from = _answers_from_all(run.views)


def _view(config: pytest.Config, inventories: list[Inventory], zones: Path | None) -> View:
    """The set of resolvers ``inventories`` ask (the same dns: settings, or the command
    line's). Raises ValueError (one line)."""
    opt = config.option
    first = inventories[0]
    servers, server = servers_to_ask(first, opt.nameserver, zones)
    # The command line's servers serve inventories of any settings: the most patient wins.
    timeout = max(inv.dns.timeout for inv in inventories)
    attempts = max(inv.dns.attempts for inv in inventories)
    # With --authoritative the recursive servers only find the NS; the answers come
    # from the zones' own servers.
    spec = ClientSpec(
        tuple(servers),
        timeout,
        attempts,
        consistency=opt.consistency,
        authoritative=opt.authoritative,
        authoritative_port=opt.authoritative_port,
    )
    if opt.authoritative:
        servers = [f"authoritative (NS via {', '.join(servers)})"]
    if server is not None:
        answers_from = {"kind": ZONE_FILES, "detail": str(server.source)}
    else:
        answers_from = {"kind": LIVE_DNS, "detail": ", ".join(servers)}
    return View(
        servers,
        answers_from,
        spec.resolver(),
        spec=spec,
        server=server,
        tenants=[tenant_name(inv) for inv in inventories],
        wait=timeout * attempts,
    )


def _answers_from_all(views: list[View]) -> dict[str, Any]:
    """results.json's answers_from for the whole run: the views' when they agree; else the
    least live of them (zone files before live DNS), naming every place of that kind (each
    inventory's own is in results.json's inventories)."""
    if all(view.answers_from == views[0].answers_from for view in views):
        return dict(views[0].answers_from)
    kinds = [view.answers_from.get("kind") for view in views]
    kind = ZONE_FILES if ZONE_FILES in kinds else LIVE_DNS
    details = [
        str(v.answers_from.get("detail")) for v in views if v.answers_from.get("kind") == kind
    ]
    return {"kind": kind, "detail": ", ".join(dict.fromkeys(details))}


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
        raise usage_error(
            f"{flag} {value}: pytest may have taken this path for a test path and found "
            f"no ini file; write {flag}={value} (with '=')"
        )


# --- what the command line selects --------------------------------------------------------


def selects(config: pytest.Config) -> bool:
    """Whether options or arguments may keep some of the suite's tests from running."""
    opt = config.option
    chosen = ("keyword", "markexpr", "gate", "lf", "failedfirst", "deselect", "ignore")
    if any(getattr(opt, name, None) for name in (*chosen, "ignore_glob")):
        return True
    return selects_paths(config)


def selects_paths(config: pytest.Config) -> bool:
    """Test paths or node ids on the command line that select less than testpaths."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return False
    if any("::" in a for a in config.args):
        return True
    given = {(config.invocation_params.dir / a).resolve() for a in config.args}
    return given != {(config.rootpath / t).resolve() for t in config.getini("testpaths")}
