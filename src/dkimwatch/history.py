"""Run history: one compact record per completed run, and what changed since the last one.

History is kept per inventory: an inventory's identity is its tenant and the path of its
file relative to the project's root directory (see ``identity``). Its records are JSON
files under ``<reports>/history/<slug>/``, named by the run's start time
(``20261122T090000Z.json``; a second run in the same second gets ``…Z.1.json``). A run
compares itself only with its own inventory's records. (Records written before
history was kept per inventory lie directly in ``history/``, with no identity: they are
never read.)

A record keeps, per test node id, only what a comparison needs: outcome, result, domain,
selector, check, the test's inventory inputs (``inputs``: see ``inventory_inputs``), and
for a failing test the start time of the first run in which it failed (``since``), carried
forward from record to record.

"Failing" means what makes pytest fail the run: the outcomes ``failed`` and ``error``. When
a test starts or stops failing and its inventory inputs changed too (its domain or selector
added or removed, disabled, waived, its expected values or the policy changed), the
inventory is the cause: it is an "inventory change". Otherwise DNS is: a test that starts
failing is a "new failure", one that stops is "fixed" whatever it became (passed, skipped,
xfailed); the change says what it became. A test of the inventory that failed last time and
did not run this time (a selection with ``-k``) is "not run", never fixed.

Everything here is pure except ``identity`` (it resolves paths) and the file functions at
the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dkimwatch.model import Domain, Inventory
from dkimwatch.registry import BY_ID, CHECKS, Check, cases

FORMAT = 2  # 2: records carry the inventory identity and each test's inputs
HISTORY_DIR = "history"
KEEP = 60  # records kept per inventory (two months of nightly runs)
FAILING = frozenset({"failed", "error"})
_FIELDS = ("outcome", "result", "domain", "selector", "check")
_NAME = re.compile(r"^(\d{8}T\d{6}Z)(?:\.(\d+))?\.json$")

Key = tuple[str, str, str | None]  # (check, domain, selector) of one test


def is_failing(outcome: object) -> bool:
    return outcome in FAILING


# --- which inventory: the identity a history belongs to -----------------------------------


@dataclass(frozen=True)
class Identity:
    """Which inventory a history belongs to: the tenant its file names (lower case; None
    when it names none) and the path of the file, relative to the project's root directory
    ("/"-separated), or absolute when it lies outside it."""

    tenant: str | None
    inventory: str
    # A --shard run's shard ("I/N"): its history is the shard's, kept apart from the whole
    # estate's (a shard's results would read as every other domain gone).
    shard: str | None = None

    @property
    def slug(self) -> str:
        """The history's folder name: readable, and unique through a hash of every part."""
        readable = re.sub(
            r"[^A-Za-z0-9._-]+", "_", f"{self.tenant or 'no-tenant'}_{self.inventory}"
        )
        key = f"{self.tenant or ''}\0{self.inventory}"
        if self.shard:
            key += f"\0{self.shard}"
            readable = f"shard{self.shard.replace('/', 'of')}_{readable}"
        digest = hashlib.sha256(key.encode()).hexdigest()
        return f"{readable.strip('._-')[:60]}-{digest[:8]}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tenant": self.tenant, "inventory": self.inventory}
        if self.shard:
            out["shard"] = self.shard
        return out


def inventory_identity(inventory: Inventory, root: Path) -> Identity:
    """The identity of ``inventory`` in a project rooted at ``root``. Its tenant counts only
    when the file names it: one read from the exports comes and goes with export data."""
    return identity(inventory.tenant if inventory.tenant_given else None, inventory.path, root)


def identity(tenant: str | None, inventory: Path, root: Path) -> Identity:
    """The identity of the inventory file ``inventory`` of a project rooted at ``root``.

    Both paths are resolved (symlinks, ``..``), so the same file named two ways is one
    inventory; its content is not part of it: editing the file keeps its history."""
    path = inventory.resolve()
    base = root.resolve()
    shown = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.as_posix()
    return Identity(tenant.lower() if tenant else None, shown)


# --- a test's inventory inputs ------------------------------------------------------------


def _short(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:8]


def _key_text(record: str | None) -> str:
    return "".join(record.split()) if record else ""  # folding does not change a key


def inventory_inputs(inventory: Inventory) -> dict[Key, str]:
    """Per test of ``inventory``: the inventory inputs its verdict depends on (its check's
    ``inputs`` in the registry), as four space-separated parts
    ``<entry> <policy> <enabled> <waiver>``:

    - entry: a short hash of the domain entry's fields the check reads (``entry.dkim``:
      selectors, rotation, and the selector's expected CNAME target and public key, all of
      them for a per-domain check; ``entry.exo``: what the exports say of the domain),
      else ``-`` (SPF and DMARC read none but the name);
    - policy: a short hash of the policy settings (and the tenant) it reads, else ``-``;
    - enabled: ``y``/``n`` for ``enabled: true/false`` of a check that reads it, else ``-``;
    - waiver: ``-`` without a waiver, else ``w`` and its expiry date, if any.

    Two runs with equal inputs for a test judged it from the same inventory facts: a
    different outcome comes from DNS. A waiver's reason is left out (it changes no outcome).
    """
    waivers = {
        (w.domain, w.check): "w" + (w.expires.isoformat() if w.expires else "")
        for w in inventory.waivers
    }
    # The policy part of each check: its family and the settings it reads, hashed.
    policies = {c.id: _policy_part(c, inventory) for c in CHECKS}
    out: dict[Key, str] = {}
    for domain in inventory.domains:
        name = domain.name
        enabled = "-" if domain.enabled is None else "y" if domain.enabled else "n"
        dkim = _dkim_entries(domain)  # per selector, and (None) for the domain's checks
        exo = _short("exo", domain.exo_dkim or "", domain.sending_disabled, domain.coexistence)
        for check, selector in cases(domain):
            inputs = BY_ID[check].inputs
            entry = (
                dkim[selector] if "entry.dkim" in inputs else exo if "entry.exo" in inputs else "-"
            )
            said = enabled if "enabled" in inputs else "-"
            head = f"{entry} {policies[check]} {said} "
            out[(check, name, selector)] = head + waivers.get((name, check), "-")
    return out


def _policy_part(check: Check, inventory: Inventory) -> str:
    """A short hash of the check's family and the tenant and policy settings it reads, in
    the order the registry declares them; ``-`` when it reads none."""
    values: list[object] = []
    for needed in check.inputs:
        if needed == "tenant":
            values.append((inventory.tenant or "").lower())
        elif needed.startswith("policy."):
            value = getattr(inventory.policy, needed.removeprefix("policy."))
            values.append("" if value is None else value)
    return _short(check.family, *values) if values else "-"


def _dkim_entries(domain: Domain) -> dict[str | None, str]:
    """The entry part of each selector's DKIM tests, and (key None) of the domain's."""
    rotation = domain.rotation
    common = (
        ",".join(domain.selectors),
        rotation.rotate_on.isoformat() if rotation else "",
        rotation.before if rotation else "",
        rotation.after if rotation else "",
    )
    out: dict[str | None, str] = {}
    for selector in domain.selectors:
        target = domain.target_for(selector) or ""
        out[selector] = _short(
            *common, selector, target, _key_text(domain.public_key_for(selector))
        )
    targets = [f"{s}={t}" for s, t in sorted(domain.targets)]
    keys = [f"{s}={_key_text(k)}" for s, k in sorted(domain.public_keys)]
    out[None] = _short(*common, *targets, "|", *keys)
    return out


def inputs_changed(before: str, now: str) -> str:
    """Why the inventory inputs ``before`` became ``now`` (both from inventory_inputs), in
    words; empty when they are the same."""
    if before == now:
        return ""
    old = [*before.split(" "), "", "", ""][:4]
    new = [*now.split(" "), "", "", ""][:4]
    why = []
    if old[2] != new[2]:
        if new[2] == "n":
            why.append("disabled (enabled: false)")
        elif old[2] == "n":
            why.append("no longer disabled (enabled: false removed)")
        else:
            why.append("enabled changed")
    if old[3] != new[3]:
        if old[3] == "-":
            why.append("waived" + (f" until {new[3][1:]}" if len(new[3]) > 1 else ""))
        elif new[3] == "-":
            why.append("waiver removed")
        else:
            why.append("waiver's expiry changed" + (f" to {new[3][1:]}" if len(new[3]) > 1 else ""))
    if old[0] != new[0]:
        why.append("expected values changed (selectors, CNAME targets, rotation or public key)")
    if old[1] != new[1]:
        why.append("policy changed")
    return "; ".join(why) or "inventory inputs changed"


# --- records ------------------------------------------------------------------------------


def make_record(
    results: Iterable[Mapping[str, Any]],
    *,
    started: str,
    finished: str,
    now: str,
    version: str,
    inventory_sha256: str,
    previous: Mapping[str, Any] | None,
    identity: Identity | None = None,
    inputs: Mapping[Key, str] | None = None,
) -> dict[str, Any]:
    """The record of this run; ``since`` of failing tests is carried from ``previous``."""
    before = _entries(previous)
    entries: dict[str, dict[str, Any]] = {}
    for r in sorted(results, key=lambda r: str(r["nodeid"])):
        entry = {k: r.get(k) for k in _FIELDS}
        given = _inputs_of(r, inputs)
        if given is not None:
            entry["inputs"] = given
        if is_failing(entry["outcome"]):
            entry["since"] = _since(before.get(str(r["nodeid"])), previous) or started
        entries[str(r["nodeid"])] = entry
    return {
        "format": FORMAT,
        "tool": "dkimwatch",
        "version": version,
        "identity": identity.to_json() if identity else None,
        "started": started,
        "finished": finished,
        "now": now,
        "inventory_sha256": inventory_sha256,
        "results": entries,
    }


def _inputs_of(row: Mapping[str, Any], inputs: Mapping[Key, str] | None) -> str | None:
    if inputs is None:
        return None
    return inputs.get((str(row.get("check")), str(row.get("domain")), row.get("selector")))


def _entries(record: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    if not record:
        return {}
    results = record.get("results")
    return dict(results) if isinstance(results, Mapping) else {}


def _since(entry: Mapping[str, Any] | None, record: Mapping[str, Any] | None) -> str | None:
    """When ``entry`` (of ``record``) started failing; None when it was not failing."""
    if entry is None or record is None or not is_failing(entry.get("outcome")):
        return None
    return str(entry.get("since") or record.get("started") or "") or None


@dataclass
class Changes:
    """What changed between the previous record and this run's results."""

    previous: dict[str, Any] | None  # started, now, version and file of the previous record
    new_failures: list[dict[str, Any]] = field(default_factory=list)
    fixed: list[dict[str, Any]] = field(default_factory=list)
    still_failing: list[dict[str, Any]] = field(default_factory=list)
    not_run: list[dict[str, Any]] = field(default_factory=list)
    # Started or stopped failing because the inventory changed (see the module's text).
    inventory_changes: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "new_failures": len(self.new_failures),
            "fixed": len(self.fixed),
            "still_failing": len(self.still_failing),
            "not_run": len(self.not_run),
            "inventory_changes": len(self.inventory_changes),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "previous": self.previous,
            "counts": self.counts(),
            "new_failures": self.new_failures,
            "fixed": self.fixed,
            "still_failing": self.still_failing,
            "not_run": self.not_run,
            "inventory_changes": self.inventory_changes,
        }

    def headline(self) -> str:
        """One line: ``since 2026-11-22T09:00:00Z: 3 new failures, 2 fixed, 75 still failing``
        (and the inventory changes and failing tests not run, when there are any)."""
        return change_line(self.counts(), self.previous)


def change_line(counts: Mapping[str, Any], previous: Mapping[str, Any] | None) -> str:
    """The headline of ``changes`` (counts and previous as in results.json)."""

    def n(key: str) -> int:
        return int(counts.get(key) or 0)

    if previous is None:
        return f"first recorded run of this inventory: {n('new_failures')} failing"
    parts = [
        _plural(n("new_failures"), "new failure", "new failures"),
        f"{n('fixed')} fixed",
        f"{n('still_failing')} still failing",
    ]
    if n("inventory_changes"):
        parts.append(_plural(n("inventory_changes"), "inventory change", "inventory changes"))
    if n("not_run"):
        parts.append(f"{n('not_run')} failing before not run")
    return f"since {previous.get('started')}: " + ", ".join(parts)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def diff(
    previous: Mapping[str, Any] | None,
    results: Sequence[Mapping[str, Any]],
    *,
    started: str,
    previous_name: str | None = None,
    inputs: Mapping[Key, str] | None = None,
) -> Changes:
    """Compare this run's ``results`` (results.json entries) with the ``previous`` record.

    ``inputs`` are this run's inventory inputs of every test of the inventory (selected or
    not; see inventory_inputs). Without them (None) nothing is an inventory change and a
    failing test that did not run is "not run". With no previous record every failing test
    is a new failure, failing since ``started``.
    """
    changes = Changes(previous=_previous_meta(previous, previous_name))
    before = _entries(previous)
    # Which domains and (domain, selector) pairs had tests before, and have them now: a
    # test without a predecessor is an inventory change only when its domain or selector is
    # new (a check added to dkimwatch itself is not a change of the inventory).
    had = _places(before.values())
    has = None if inputs is None else _places({"domain": k[1], "selector": k[2]} for k in inputs)
    seen: set[str] = set()
    for r in sorted(results, key=lambda r: str(r["nodeid"])):
        seen.add(str(r["nodeid"]))
        _place_result(changes, r, before, previous, started, inputs, had)
    for nodeid, old in sorted(before.items()):
        if nodeid not in seen:
            _place_vanished(changes, nodeid, old, previous, has)
    return changes


def _previous_meta(
    previous: Mapping[str, Any] | None, previous_name: str | None
) -> dict[str, Any] | None:
    if previous is None:
        return None
    return {
        "started": previous.get("started"),
        "now": previous.get("now"),
        "version": previous.get("version"),
        "record": previous_name,
    }


def _place_result(
    changes: Changes,
    r: Mapping[str, Any],
    before: Mapping[str, Mapping[str, Any]],
    previous: Mapping[str, Any] | None,
    started: str,
    inputs: Mapping[Key, str] | None,
    had: set[tuple[str, str | None]],
) -> None:
    """A test of this run: an inventory change, a new failure, still failing or fixed."""
    nodeid = str(r["nodeid"])
    old = before.get(nodeid)
    since = _since(old, previous)
    row = {
        "nodeid": nodeid,
        "domain": r.get("domain"),
        "selector": r.get("selector"),
        "check": r.get("check"),
        "outcome": r.get("outcome"),
        "result": r.get("result"),
        "before": old.get("outcome") if old is not None else None,
        "message": r.get("message", ""),
    }
    failing = is_failing(r.get("outcome"))
    if inputs is not None and previous is not None and failing != (since is not None):
        why = _inventory_cause(old, _inputs_of(r, inputs), r, had)
        if why:
            extra = {"failing_since": since} if since is not None else {"since": started}
            changes.inventory_changes.append({**row, "why": why, **extra})
            return
    if failing:
        if since is None:
            changes.new_failures.append({**row, "since": started})
        else:
            changes.still_failing.append({**row, "since": since})
    elif since is not None:
        changes.fixed.append({**row, "failing_since": since})


def _place_vanished(
    changes: Changes,
    nodeid: str,
    old: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    has: set[tuple[str, str | None]] | None,
) -> None:
    """A test that failed last time and is not in this run: removed from the inventory
    (an inventory change) or only not run (a selection)."""
    since = _since(old, previous)
    if since is None:
        return
    row = {
        "nodeid": nodeid,
        "domain": old.get("domain"),
        "selector": old.get("selector"),
        "check": old.get("check"),
        "before": old.get("outcome"),
    }
    removed = _removed(old, has)
    if removed:
        changes.inventory_changes.append(
            {**row, "outcome": None, "result": None, "message": "", "why": removed}
            | {"failing_since": since}
        )
    else:
        changes.not_run.append({**row, "since": since})


def _places(entries: Iterable[Mapping[str, Any]]) -> set[tuple[str, str | None]]:
    """(domain, None) and (domain, selector) of every test of ``entries``."""
    out: set[tuple[str, str | None]] = set()
    for e in entries:
        domain = str(e.get("domain"))
        out.add((domain, None))
        if e.get("selector"):
            out.add((domain, str(e.get("selector"))))
    return out


def _inventory_cause(
    old: Mapping[str, Any] | None,
    now: str | None,
    row: Mapping[str, Any],
    had: set[tuple[str, str | None]],
) -> str:
    """Why a test that started or stopped failing did so because of the inventory; empty
    when its inputs are the same (or unknown): then DNS changed."""
    domain, selector = str(row.get("domain")), row.get("selector")
    if old is None:
        if (domain, None) not in had:
            return "domain added to the inventory"
        if selector and (domain, selector) not in had:
            return "selector added to the inventory"
        return ""  # a new check of dkimwatch's: its failure is new
    before = old.get("inputs")
    if not isinstance(before, str) or now is None:
        return ""
    return inputs_changed(before, now)


def _removed(old: Mapping[str, Any], has: set[tuple[str, str | None]] | None) -> str:
    """Why a test of the previous run is gone from the inventory; empty when its domain and
    selector are still there (or the inventory is not known): it was not run."""
    domain, selector = str(old.get("domain")), old.get("selector")
    if has is None:
        return ""
    if (domain, None) not in has:
        return "domain removed from the inventory"
    if selector and (domain, selector) not in has:
        return "selector removed from the inventory"
    return ""


# --- files --------------------------------------------------------------------------------


def record_name(started: str, taken: Iterable[str] = ()) -> str:
    """The file name for a run that started at ``started`` (ISO 8601, UTC), not in ``taken``."""
    stamp = re.sub(r"[^0-9TZ]", "", started.replace("+00:00", "Z"))
    names = set(taken)
    name = f"{stamp}.json"
    n = 0
    while name in names:
        n += 1
        name = f"{stamp}.{n}.json"
    return name


def _order(path: Path) -> tuple[str, int] | None:
    match = _NAME.match(path.name)
    return (match.group(1), int(match.group(2) or 0)) if match else None


def records(folder: Path) -> list[Path]:
    """The record files of ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [(key, p) for p in folder.iterdir() if p.is_file() and (key := _order(p))]
    return [p for _, p in sorted(found)]


def load_previous(
    folder: Path, identity: Identity | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """The newest readable record in ``folder`` (of ``identity``, when given) and its file
    name; (None, None) when none.

    A record that cannot be read (edited by hand, another tool's file, an older format) or
    that belongs to another inventory (a folder copied by hand) is passed over."""
    want = identity.to_json() if identity is not None else None
    for path in reversed(records(folder)):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            continue
        if want is None or doc.get("identity") == want:
            return doc, path.name
    return None, None


def prune(folder: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the newest ``keep`` records; return what was deleted."""
    old = records(folder)[:-keep] if keep > 0 else []
    for path in old:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return old


# One encoder each (json.dumps with options makes one per call: a cost at a line per test).
_JSON = json.JSONEncoder(ensure_ascii=False)
_TIGHT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps_record(record: Mapping[str, Any]) -> str:
    """Compact JSON: one line per test keeps it small and still diffable by eye."""
    head = {k: v for k, v in record.items() if k != "results"}
    name, entry_text = _JSON.encode, _TIGHT_JSON.encode
    lines = [
        f"{name(nodeid)}:{entry_text(entry)}" for nodeid, entry in record.get("results", {}).items()
    ]
    fields = [
        f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(v, ensure_ascii=False)}"
        for k, v in head.items()
    ]
    fields.append('"results":{\n' + ",\n".join(lines) + "\n}")
    return "{" + ",".join(fields) + "}\n"
