"""Shards: one run's share of the estate, so that a CI job matrix can audit it in parts.

``--shard I/N`` keeps the domains whose stable hash (sha256 of the name's A-label) modulo N
is I-1. By domain, not by tenant, also in a run of many tenants: tenants differ too much in
size for N shards of them to be even, and a hash keeps a domain in its shard as the estate
grows. ``dkimwatch merge`` (merge.py) puts the shards back together.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from dkimwatch.inventory import Inventory, combined


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, name: str) -> bool:
        """Whether the domain ``name`` (an A-label) falls in this shard."""
        digest = hashlib.sha256(name.lower().encode("ascii", "replace")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


def parse_shard(text: str) -> Shard:
    """``I/N`` with 1 <= I <= N; ValueError (one line) otherwise."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise ValueError(f"expected I/N with 1 <= I <= N (such as 2/4), got {text!r}")
    return Shard(i, n)


def sharded(
    shard: Shard, whole: Inventory, inventories: tuple[Inventory, ...]
) -> tuple[Inventory, tuple[Inventory, ...]]:
    """The shard's part of a run's inventory (and of each tenant's, in a run of many). Each
    keeps its file's path and sha256: the shard audits part of that file, and merge checks
    that every shard read the same one."""
    if not inventories:
        return _part(shard, whole), ()
    parts = tuple(_part(shard, inv) for inv in inventories)
    return dataclasses.replace(combined(parts, whole.path), sha256=whole.sha256), parts


def too_large(shard: Shard, estate: int, part: int, limit: int) -> str | None:
    """Why the shard's part of an estate is above the one-run limit, naming a shard count
    that fits; None when it is within it."""
    if part <= limit:
        return None
    return (
        f"shard {shard} holds {part:,} of the estate's {estate:,} domains, above the limit "
        f"of {limit:,} for one run; use more shards (N of at least {-(-estate // limit) + 1})"
    )


def _part(shard: Shard, inventory: Inventory) -> Inventory:
    domains = tuple(d for d in inventory.domains if shard.holds(d.name))
    return dataclasses.replace(inventory, domains=domains)


# Set by `dkimwatch merge` for the run it starts: a replay of every shard's answers at the
# shards' instant, which records history as the whole estate's run (reporter.py).
MERGED_ENV = "DKIMWATCH_MERGED"
