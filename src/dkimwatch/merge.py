"""``dkimwatch merge DIR…``: the shards of a ``--shard I/N`` job matrix as one run's outputs.

Each shard's folder holds its results.json and answers.json (every DNS answer it got).
merge checks that the shards belong together (the same N, each shard once, one dkimwatch
version, one evaluation instant, one inventory), unions their answers into one record,
and runs the suite once over the whole estate from that record (no DNS). So report.html,
junit.xml, the badges, failures.csv, fixes/ and the history record are written by the same
code as a single run's, from the same answers: identical by construction. pytest-html writes
report.html only from a pytest run, which is why merge costs a replayed run, not a copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dkimwatch import __version__
from dkimwatch.inventory import InventoryError, combined, load_inventories, load_inventory
from dkimwatch.report import atomic_write_text, load_results
from dkimwatch.shards import MERGED_ENV, parse_shard

ANSWERS_FORMAT = "dkimwatch-answers/1"


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
    answers: dict[str, Any]  # answers.json
    inventory: str  # results.json's inventory.path


def read_shard(folder: Path) -> ShardRun:
    """One shard's results.json and answers.json; MergeError when they are not a shard's."""
    results = folder / "results.json"
    try:
        doc = load_results(results)
    except OSError as exc:
        raise MergeError(f"{results}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise MergeError(f"{results}: {exc}") from None
    text = doc.get("shard")
    if not isinstance(text, str):
        raise MergeError(f"{results}: not a shard's results (run with --shard I/N)")
    try:
        shard = parse_shard(text)
    except ValueError as exc:
        raise MergeError(f"{results}: shard: {exc}") from None
    if doc.get("partial"):
        raise MergeError(f"{results}: a partial run ({doc['partial'].get('why')})")
    answers_path = folder / "answers.json"
    try:
        answers = json.loads(answers_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MergeError(f"{answers_path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise MergeError(f"{answers_path}: not JSON ({exc})") from None
    if not isinstance(answers, dict) or answers.get("format") != ANSWERS_FORMAT:
        raise MergeError(f"{answers_path}: not a dkimwatch answers file")
    inventory = doc.get("inventory") or {}
    tenants = doc.get("inventories")
    path = str(inventory.get("path", ""))
    if tenants and not Path(path).is_dir():  # --domains given once per tenant
        paths = tuple(str(t.get("path")) for t in tenants)
    else:
        paths = (path,)
    return ShardRun(
        folder=folder,
        index=shard.index,
        count=shard.count,
        version=str(doc.get("version")),
        now=str(doc.get("now")),
        sha256=str(inventory.get("sha256")),
        inventories=paths,
        answers=answers,
        inventory=path,
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


def check_inventory(shard: ShardRun) -> None:
    """MergeError unless the inventories the merged run will read are the ones the shards
    audited (a checkout of another commit would judge the answers against other entries)."""
    paths = [Path(p) for p in shard.inventories]
    try:
        if len(paths) == 1 and not paths[0].is_dir():
            sha256 = load_inventory(paths[0]).sha256
        else:
            inventories = load_inventories(paths)
            shown = paths[0] if len(paths) == 1 else inventories[0].path
            sha256 = combined(inventories, shown).sha256
    except InventoryError as exc:
        raise MergeError(f"the shards' inventory: {exc}") from None
    if sha256 != shard.sha256:
        raise MergeError(
            f"{shard.inventory} here is not the inventory the shards audited (sha256 "
            f"{sha256[:12]}…, theirs {shard.sha256[:12]}…): merge in the same checkout"
        )


def union(shards: Sequence[ShardRun]) -> tuple[dict[str, Any], int]:
    """One answers record of every shard's answers, and how many questions two shards got
    different answers to (the lowest shard's is kept: shards ask shared names, such as an
    SPF include, each at its own time)."""
    answers: dict[str, Any] = {}
    differing = 0
    resolvers: list[str] = []
    for s in sorted(shards, key=lambda s: s.index):
        meta = s.answers.get("meta") or {}
        resolvers.extend(str(r) for r in meta.get("resolvers") or ())
        for key, answer in (s.answers.get("answers") or {}).items():
            kept = answers.setdefault(key, answer)
            if kept is not answer and _gist(kept) != _gist(answer):
                differing += 1
    first_meta = dict(shards[0].answers.get("meta") or {})
    meta = {
        **first_meta,
        "resolvers": list(dict.fromkeys(resolvers)),
        "shard": None,
        "merged_from": [str(s.folder) for s in sorted(shards, key=lambda s: s.index)],
    }
    return {"format": ANSWERS_FORMAT, "meta": meta, "answers": answers}, differing


def _gist(answer: Any) -> Any:
    """What an answer says (not when or how fast it came)."""
    if not isinstance(answer, dict):
        return answer
    return (answer.get("status"), answer.get("records"))


def merge(folders: Sequence[Path], out: Path, extra: Sequence[str]) -> int:
    """Check, union, and run the suite once from the union; pytest's exit status."""
    shards = [read_shard(f) for f in folders]
    check_together(shards)
    chosen = any(a == "--domains" or a.startswith("--domains=") for a in extra)
    if not chosen:
        check_inventory(shards[0])
    record, differing = union(shards)
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
    if not chosen:
        args.extend(f"--domains={p}" for p in shards[0].inventories)
    args.extend(extra)
    env = {**os.environ, MERGED_ENV: str(shards[0].count)}
    return subprocess.call(args, env=env)
