"""``dkimwatch merge DIR…``: the shards of a ``--shard I/N`` job matrix as one run's outputs.

Each shard's folder holds the outputs of a complete run of its part of the estate. merge
checks that the shards belong together (the same N, each shard once, one dkimwatch version,
one evaluation instant, one inventory, the one here) and writes what one run over the whole
estate writes, from the shards' files, without running the suite again:

- results.json, failures.csv, fixes/, the badge(s) and the history record from the shards'
  results (results.json), by the reporter's own functions (reporter.write_outputs,
  compare, stage_records), in the order a single run lists them;
- junit.xml from the shards' junit.xml test cases (each as its shard wrote it, with its
  time), in the suite's order (pytest's: test files by name, each file's tests as written,
  each test's cases in inventory order), their counts added up (junit.JUnitXml.joined);
- report.html by pytest-html's own writer (its template and report classes), fed the
  shards' rows (each row as pytest-html and the reporter's hooks made it in its shard,
  hostile DNS data escaped there) in the suite's order, and the audit sections the
  reporter renders (reporter.summary_sections) for the whole estate.

Where the shards' folders lack what that needs (a shard ran with ``--html=PATH``, so left
no report.html; or its JUnit output was configured, so pytest wrote junit.xml in its own
format; or another pytest-html version wrote its report), merge falls back to replaying
the whole estate from the shards' recorded answers (answers.json), which costs about a
single run, and says so on stderr.

Everything is staged in ``OUT/.staging-<pid>/`` and published only once every output is
written: a merge that fails leaves OUT as it was.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dkimwatch import __version__, heap, history
from dkimwatch.fixoutput import FIXES_DIR
from dkimwatch.inventory import (
    Inventory,
    InventoryError,
    combined,
    load_inventories,
    load_inventory,
    tenant_name,
)
from dkimwatch.junit import JUnitXml, Written, case_key, read_written
from dkimwatch.registry import SUITE_ORDER, tests_per_domain
from dkimwatch.report import (
    ResultEntry,
    atomic_write_text,
    domain_lines,
    domain_states,
    domains_headline,
    domains_summary,
    load_results,
    publish,
    results_document,
)
from dkimwatch.reporter import (
    STAGING,
    InventoryHistory,
    answers_from_each,
    changes_json,
    compare,
    history_rows,
    html_title,
    metadata_entries,
    remove_stale_staging,
    resolver_lines,
    stage_records,
    summary_sections,
    write_outputs,
)
from dkimwatch.resolver import ANSWERS_FORMAT, Evidence, record_views
from dkimwatch.shards import MERGED_ENV, parse_shard


class MergeError(ValueError):
    """Shards that cannot be merged; str() is one line."""


@dataclass(frozen=True)
class ShardRun:
    folder: Path
    index: int
    count: int
    version: str
    now: str
    sha256: str
    inventories: tuple[str, ...]  # the --domains values that reproduce its inventory
    inventory: str  # results.json's inventory.path
    doc: dict[str, Any]  # results.json as load_results reads it, but for its results
    results: list[ResultEntry]  # its results, in its results.json's order


def read_shard(folder: Path, exchanges: dict[Evidence, Evidence] | None = None) -> ShardRun:
    """One shard's results.json; MergeError when it is not a shard's. Its results are read
    into ResultEntry at once, and the rows they came from dropped: ten shards' rows would
    weigh more than everything else merge holds. Each exchange is kept once in
    ``exchanges`` (shards share many: an SPF include tree, Microsoft's zones)."""
    results_json = folder / "results.json"
    try:
        doc = load_results(results_json)
    except OSError as exc:
        raise MergeError(f"{results_json}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise MergeError(f"{results_json}: {exc}") from None
    text = doc.get("shard")
    if not isinstance(text, str):
        raise MergeError(f"{results_json}: not a shard's results (run with --shard I/N)")
    try:
        shard = parse_shard(text)
    except ValueError as exc:
        raise MergeError(f"{results_json}: shard: {exc}") from None
    if doc.get("partial"):
        raise MergeError(f"{results_json}: a partial run ({doc['partial'].get('why')})")
    inventory = doc.get("inventory") or {}
    tenants = doc.get("inventories")
    path = str(inventory.get("path", ""))
    if tenants and not Path(path).is_dir():  # --domains given once per tenant
        paths = tuple(str(t.get("path")) for t in tenants)
    else:
        paths = (path,)
    shared = {} if exchanges is None else exchanges
    rows = doc.pop("results", None) or ()
    by_row: dict[int, Evidence] = {}  # ResultEntry.from_json's: by the table entry's id()
    for row in rows:
        for e in row.get("evidence") or ():
            if id(e) not in by_row:
                exchange = Evidence.from_json(e)
                by_row[id(e)] = shared.setdefault(exchange, exchange)
    results = [ResultEntry.from_json(row, by_row) for row in rows]
    del rows
    return ShardRun(
        folder=folder,
        index=shard.index,
        count=shard.count,
        version=str(doc.get("version")),
        now=str(doc.get("now")),
        sha256=str(inventory.get("sha256")),
        inventories=paths,
        inventory=path,
        doc=doc,
        results=results,
    )


def check_together(shards: Sequence[ShardRun]) -> None:
    """MergeError unless ``shards`` are every shard of one audit, each once."""
    first = shards[0]

    def differ(what: str, value: Any, other: ShardRun, theirs: Any) -> MergeError:
        return MergeError(
            f"{other.folder} has {what} {theirs}, {first.folder} has {value}: "
            "not shards of one audit"
        )

    for s in shards[1:]:
        if s.count != first.count:
            raise differ("shard count", first.count, s, s.count)
        if s.version != first.version:
            raise differ("dkimwatch version", first.version, s, s.version)
        if s.now != first.now:
            raise differ("evaluation instant (now)", first.now, s, s.now)
        if s.sha256 != first.sha256:
            raise differ("inventory sha256", first.sha256, s, s.sha256)
    seen: dict[int, Path] = {}
    for s in shards:
        if s.index in seen:
            raise MergeError(f"shard {s.index}/{s.count} twice: {seen[s.index]} and {s.folder}")
        seen[s.index] = s.folder
    missing = [str(i) for i in range(1, first.count + 1) if i not in seen]
    if missing:
        raise MergeError(f"shard(s) {', '.join(missing)} of {first.count} missing")
    if first.version != __version__:
        raise MergeError(
            f"the shards were audited by dkimwatch {first.version}, this is {__version__}: "
            "merge with the version that audited them"
        )


def read_inventory(
    shard: ShardRun, given: Sequence[str] = ()
) -> tuple[Inventory, tuple[Inventory, ...]]:
    """The inventory the shards audited, as a single run over them reads it (and each
    tenant's, in a run of many); MergeError unless it is the one they audited (a checkout
    of another commit would list other entries)."""
    paths = [Path(p) for p in (given or shard.inventories)]
    inventories: tuple[Inventory, ...] = ()
    try:
        if len(paths) == 1 and not paths[0].is_dir():
            whole = load_inventory(paths[0])
        else:
            loaded = load_inventories(paths)
            shown = paths[0] if len(paths) == 1 else loaded[0].path
            whole, inventories = combined(loaded, shown), tuple(loaded)
    except InventoryError as exc:
        raise MergeError(f"the shards' inventory: {exc}") from None
    if whole.sha256 != shard.sha256:
        raise MergeError(
            f"{shard.inventory} here is not the inventory the shards audited (sha256 "
            f"{whole.sha256[:12]}…, theirs {shard.sha256[:12]}…): merge in the same checkout"
        )
    return whole, inventories


def domains_given(extra: Sequence[str]) -> list[str]:
    """The ``--domains`` values among merge's other arguments (the inventory when it lies
    elsewhere here than where the shards read it); MergeError for anything else."""
    given: list[str] = []
    args = iter(extra)
    for arg in args:
        if arg.startswith("--domains="):
            given.append(arg.removeprefix("--domains="))
        elif arg == "--domains":
            value = next(args, None)
            if value is None:
                raise MergeError("--domains: expected a path")
            given.append(value)
        else:
            raise MergeError(
                f"unrecognized argument {arg!r}: merge takes DIR…, -o OUT and --domains=PATH"
            )
    return given


# --- the merge ------------------------------------------------------------------------------


def merge(folders: Sequence[Path], out: Path, extra: Sequence[str]) -> int:
    """Check the shards, write the single run's outputs into ``out``; the exit status a
    single run's pytest would have (1 when a check failed or DNS could not answer one)."""
    # What merge builds lives until it ends: the collector's passes over it would be a
    # third of its time (heap.py), and the interpreter's own at exit would walk it again.
    heap.freeze_at_exit()
    heap.hold()
    try:
        return _merge(folders, out, extra)
    finally:
        heap.release()


def _merge(folders: Sequence[Path], out: Path, extra: Sequence[str]) -> int:
    given = domains_given(extra)
    exchanges: dict[Evidence, Evidence] = {}
    shards = [read_shard(f, exchanges) for f in folders]
    check_together(shards)
    shards.sort(key=lambda s: s.index)
    whole, inventories = read_inventory(shards[0], given)
    frames, why = read_frames(shards)
    if frames is None:
        print(
            f"dkimwatch merge: {why}: merging by a replayed run of the whole estate "
            "(as long as a single run)",
            file=sys.stderr,
        )
        return replay(shards, out, given)
    return write_merged(shards, frames, whole, inventories, out)


@dataclass(frozen=True)
class Frames:
    """What each shard's report.html and junit.xml give the merge."""

    junit: list[Written]
    css: str  # report.html's style sheet (pytest-html's, with any --css of the shards)
    blobs: list[dict[str, Any]]  # each report.html's data: environment, rows, settings


_STYLE = re.compile(r'<style type="text/css">(.*?)</style>', re.DOTALL)
_BLOB = re.compile(r'<div id="data-container" data-jsonblob="([^"]*)"></div>')
_BY = re.compile(
    r"by <a href=\"https://pypi.python.org/pypi/pytest-html\">pytest-html</a>\s*v(\S+)</p>"
)


def read_frames(shards: Sequence[ShardRun]) -> tuple[Frames | None, str]:
    """Each shard's junit.xml and report.html, read; (None, why) when one cannot serve."""
    from pytest_html import __version__ as html_version

    junit: list[Written] = []
    blobs: list[dict[str, Any]] = []
    css = ""
    for s in shards:
        try:
            written = read_written((s.folder / "junit.xml").read_text(encoding="utf-8"))
            page = (s.folder / "report.html").read_text(encoding="utf-8")
        except OSError as exc:
            return None, f"{s.folder}: cannot read {Path(str(exc.filename)).name}"
        if written is None:
            return None, f"{s.folder / 'junit.xml'}: not written by dkimwatch (JUnit configured)"
        junit.append(written)
        by, style, blob = _BY.search(page), _STYLE.search(page), _BLOB.search(page)
        if by is None or style is None or blob is None:
            return None, f"{s.folder / 'report.html'}: not a pytest-html report dkimwatch reads"
        if by.group(1) != html_version:
            return None, (
                f"{s.folder / 'report.html'}: written by pytest-html {by.group(1)}, "
                f"this is {html_version}"
            )
        # The template's own line break and indent before </style> are not the sheet's.
        css = css or re.sub(r"\n[ \t]*\Z", "", style.group(1))
        try:
            blobs.append(json.loads(html.unescape(blob.group(1))))
        except ValueError:
            return None, f"{s.folder / 'report.html'}: its data is not JSON"
    return Frames(junit, css, blobs), ""


def suite_order(entries: Sequence[ResultEntry], whole: Inventory) -> list[ResultEntry]:
    """The results in the order a single run runs their tests: the suite's test files by
    name and each file's tests as written (registry.SUITE_ORDER), each test's cases in
    inventory order (run.parameters)."""
    place = {d.name: (i, d.selectors) for i, d in enumerate(whole.domains)}
    rank = {check: i for i, check in enumerate(SUITE_ORDER)}

    def key(r: ResultEntry) -> tuple[int, int, int]:
        v = r.verdict
        where = place.get(v.domain)
        if where is None or v.check not in rank:
            raise MergeError(f"{r.nodeid}: a result for a test the inventory does not have")
        index, selectors = where
        sel = selectors.index(v.selector) if v.selector in selectors else -1
        return rank[v.check], index, sel

    return sorted(entries, key=key)


def results_of(shards: Sequence[ShardRun], whole: Inventory) -> list[ResultEntry]:
    """Every shard's results in suite order; MergeError for a test two shards ran, or a
    total that is not the suite's (a shard's results.json cut short)."""
    entries: list[ResultEntry] = []
    seen: dict[str, Path] = {}
    for s in shards:
        for entry in s.results:
            if entry.nodeid in seen:
                raise MergeError(
                    f"{entry.nodeid} in two shards: {seen[entry.nodeid]} and {s.folder}"
                )
            seen[entry.nodeid] = s.folder
            entries.append(entry)
    size = sum(tests_per_domain(d) for d in whole.domains)
    if len(entries) != size:
        raise MergeError(
            f"the shards hold {len(entries)} results; the inventory's suite has {size} tests"
        )
    return suite_order(entries, whole)


# Long: every output staged in one try, so that any failure removes the staging folder.
def write_merged(
    shards: Sequence[ShardRun],
    frames: Frames,
    whole: Inventory,
    inventories: tuple[Inventory, ...],
    out: Path,
) -> int:
    """Every output of the single run, staged from the shards' files and published
    together; the run's exit status."""
    results = results_of(shards, whole)
    docs = [s.doc for s in shards]
    first = docs[0]
    resolvers = list(dict.fromkeys(str(r) for d in docs for r in d.get("resolvers") or ()))
    queries = {
        k: sum(int((d.get("queries") or {}).get(k, 0)) for d in docs) for k in ("questions", "sent")
    }
    fields: dict[str, Any] = {"partial": None, "shard": None}
    each = merged_inventories(docs) if inventories else None
    if inventories:
        fields["inventories"] = each
    fields["merged_from"] = [str(s.folder) for s in shards]
    doc = results_document(
        version=__version__,
        started=min(str(d["started"]) for d in docs),
        finished=max(str(d["finished"]) for d in docs),
        now=str(first["now"]),
        resolvers=resolvers,
        inventory=first["inventory"],
        queries=queries,
        results=results,
        answers_from=first.get("answers_from"),
        run_fields=fields,
        stream=True,  # written by write_outputs, row by row
    )

    out.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    staging = out / f"{STAGING}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        histories = _histories(first, whole, inventories)
        rows = history_rows(results)
        changes = compare(histories, out, rows, started=doc["started"])
        stage_records(histories, staging, out, {**doc, "results": rows})
        del rows
        doc["changes"] = changes_json(histories, changes, "", many=bool(inventories))
        order = {case_key(r.nodeid): i for i, r in enumerate(results)}
        try:
            junit = JUnitXml.joined(frames.junit, order).document()
        except KeyError as exc:
            raise MergeError(f"a shard's junit.xml has a test case no result has ({exc})") from None
        tenants = [tenant_name(inv) for inv in inventories]
        write_outputs(staging, doc, results, tenants=tenants, partial=None, junit=junit)
        prefix, postfix = summary_sections(
            results,
            answers_from=doc.get("answers_from") or {},
            partial=None,
            changes=doc["changes"],
            tenant=whole.tenant or "(no tenant)",
            now=doc["now"],
            resolvers=resolver_lines(resolvers, each),
            queries=(queries["questions"], queries["sent"]),
        )
        environment = {
            **frames.blobs[0].get("environment", {}),
            **metadata_entries(
                now=doc["now"],
                tenants=tenants or [whole.tenant or ""],
                inventory=doc["inventory"],
                domains=len(whole.domains),
                resolvers=resolver_lines(resolvers, each),
                answers_from=doc.get("answers_from") or {},
                started=doc["started"],
                answers_from_each=answers_from_each(each),
            ),
        }
        write_report_html(
            staging / "report.html",
            frames,
            [r.nodeid for r in results],
            title=html_title(whole.tenant, len(inventories), doc["now"]),
            environment=environment,
            sections=(prefix, postfix),
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish(staging, out, whole=(FIXES_DIR,))
    for h in histories:
        history.prune(out / h.folder)
    _say(results, doc, histories, out)
    return 1 if doc["summary"]["failed"] or doc["summary"]["error"] else 0


def merged_inventories(docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The first shard's ``inventories`` entries, each with the resolvers every shard's
    domains of that inventory asked (each shard starts its own embedded servers)."""
    first = docs[0].get("inventories")
    if not isinstance(first, list):
        return None
    out = []
    for index, entry in enumerate(first):
        entry = dict(entry)
        asked: list[str] = []
        for d in docs:
            theirs = d.get("inventories") or []
            if index < len(theirs) and isinstance(theirs[index], dict):
                asked.extend(str(r) for r in theirs[index].get("resolvers") or ())
        if "resolvers" in entry:
            entry["resolvers"] = list(dict.fromkeys(asked))
        out.append(entry)
    return out


def _histories(
    first: dict[str, Any], whole: Inventory, inventories: tuple[Inventory, ...]
) -> list[InventoryHistory]:
    """The whole estate's history of each inventory: the identity the shards gave it
    (their root directory's view of the inventory path), without their shard."""
    changes = first.get("changes") or {}
    each = changes.get("inventories") if inventories else [changes]
    if not isinstance(each, list) or len(each) != len(inventories or (whole,)):
        raise MergeError("the shards' results.json says nothing of their inventories' history")
    out = []
    for inv, part in zip(inventories or (whole,), each, strict=True):
        given = part.get("inventory") or {}
        identity = history.Identity(given.get("tenant"), str(given.get("inventory")))
        out.append(InventoryHistory(inv, identity, history.inventory_inputs(inv)))
    return out


def write_report_html(
    path: Path,
    frames: Frames,
    order: Sequence[str],
    *,
    title: str,
    environment: dict[str, Any],
    sections: tuple[list[str], list[str]],
) -> None:
    """report.html by pytest-html's own report writer: the shards' rows (every test of the
    suite has its entry, as in a run: empty when the test got no row) in ``order``, the
    whole estate's summary sections and environment, the shards' durations added up."""
    import pytest_html
    from pytest_html.report_data import ReportData
    from pytest_html.selfcontained_report import SelfContainedReport
    from pytest_html.util import _read_template

    rows: dict[str, list[Any]] = {}
    for blob in frames.blobs:
        rows.update(blob.get("tests") or {})
    # Only findings have rows (the reporter drops the other tests from pytest-html's data).
    if not set(rows) <= set(order):
        raise MergeError("the shards' report.html files list tests the shards did not run")
    settings = frames.blobs[0]
    ini = _Ini(
        {
            "render_collapsed": ",".join(settings.get("renderCollapsed") or ()),
            "initial_sort": settings.get("initialSort") or "result",
            "max_asset_filename_length": "255",
        }
    )
    data = ReportData(ini)
    data.set_data("environment", environment)
    data.set_data("tests", {nodeid: rows[nodeid] for nodeid in order if rows.get(nodeid)})
    for nodeid in order:
        for row in rows.get(nodeid, ()):
            data.outcomes = str(row.get("result", ""))  # pytest-html's counting, per row
    prefix, postfix = sections
    data.additional_summary["prefix"].extend(prefix)
    data.additional_summary["postfix"].extend(postfix)
    data.running_state = "finished"
    data.total_duration = sum(w.seconds for w in frames.junit)
    resources = Path(pytest_html.__file__).parent / "resources"
    report = SelfContainedReport(path, ini, data, _read_template([resources]), frames.css)
    data.title = title  # after the writer's own (the file's name)
    report._generate_report()


class _Ini:
    """The ini values pytest-html's report writer reads from its config (the shards')."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def getini(self, name: str) -> str:
        return self.values[name]


def _say(
    results: Sequence[ResultEntry],
    doc: dict[str, Any],
    histories: list[InventoryHistory],
    out: Path,
) -> None:
    """The terminal's last lines, as a single run ends: the domains, then the changes."""
    states = domain_states(results)
    print(f"dkimwatch: {domains_headline(domains_summary(states))}")
    for line in domain_lines(states, report=str(out / "report.html")):
        print(line)
    for h in histories:
        if h.changes is not None:
            print(f"{h.identity.inventory}: {h.changes.headline()}")
        print(f"recorded: {out / h.folder / str(h.recorded)}")
    print(f"merged {len(doc['merged_from'])} shards into {out}")


# --- the fallback: a replayed run of the whole estate ----------------------------------------


def replay(shards: Sequence[ShardRun], out: Path, given: Sequence[str]) -> int:
    """Join the shards' answers into ``out/answers.json`` and run the suite once over the
    whole estate from it (no DNS); pytest's exit status."""
    record, differing = union([_answers(s) for s in shards], shards)
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "answers.json"
    atomic_write_text(record_path, json.dumps(record, ensure_ascii=True))
    if differing:
        print(
            f"dkimwatch merge: {differing} question(s) got different answers in different "
            "shards; the lowest shard's answer is used",
            file=sys.stderr,
        )
    args = [sys.executable, "-m", "pytest", f"--replay={record_path}", f"--now={shards[0].now}"]
    args.append(f"--reports={out}")
    args.extend(f"--domains={p}" for p in (given or shards[0].inventories))
    env = {**os.environ, MERGED_ENV: str(shards[0].count)}
    return subprocess.call(args, env=env)


def _answers(shard: ShardRun) -> dict[str, Any]:
    path = shard.folder / "answers.json"
    try:
        answers = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MergeError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise MergeError(f"{path}: not JSON ({exc})") from None
    try:
        views = record_views(answers if isinstance(answers, dict) else {})
    except ValueError:
        raise MergeError(f"{path}: not a dkimwatch answers file") from None
    return {"meta": answers.get("meta") or {}, "views": views}


def union(
    answers: Sequence[dict[str, Any]], shards: Sequence[ShardRun]
) -> tuple[dict[str, Any], int]:
    """One answers record of every shard's answers (in shard order), and how many questions
    two shards got different answers to (the lowest shard's is kept: shards ask shared
    names, such as an SPF include, each at its own time). Each set of resolvers keeps its
    own answers: the shards' sets that serve the same tenants are one (every shard groups
    the estate's inventories by the same dns: settings)."""
    joined: list[dict[str, Any]] = []
    differing = 0
    resolvers: list[str] = []
    for each in answers:
        meta = each.get("meta") or {}
        resolvers.extend(str(r) for r in meta.get("resolvers") or ())
        for view in each["views"]:
            tenants = set(view.get("tenants") or ())
            into = next(
                (
                    j
                    for j in joined
                    if not tenants or not j["tenants"] or tenants & set(j["tenants"])
                ),
                None,
            )
            if into is None:
                into = {
                    "resolvers": [],
                    "tenants": [],
                    "answers_from": view.get("answers_from"),
                    "answers": {},
                }
                joined.append(into)
            into["resolvers"] = list(
                dict.fromkeys([*into["resolvers"], *(view.get("resolvers") or ())])
            )
            into["tenants"] = list(dict.fromkeys([*into["tenants"], *tenants]))
            kept_answers = into["answers"]
            for key, answer in (view.get("answers") or {}).items():
                kept = kept_answers.setdefault(key, answer)
                if kept is not answer and _gist(kept) != _gist(answer):
                    differing += 1
    meta = {
        **dict(answers[0].get("meta") or {}),
        "resolvers": list(dict.fromkeys(resolvers)),
        "shard": None,
        "merged_from": [str(s.folder) for s in shards],
    }
    return {"format": ANSWERS_FORMAT, "meta": meta, "views": joined}, differing


def _gist(answer: Any) -> Any:
    """What an answer says (not when or how fast it came)."""
    if not isinstance(answer, dict):
        return answer
    return (answer.get("status"), answer.get("records"))
