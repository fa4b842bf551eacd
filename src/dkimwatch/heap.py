"""The garbage collector's part in a long run: what survives goes out of its way.

A run keeps almost everything it builds until the end: items, reports, pytest-html's rows,
verdicts. CPython's collector nevertheless walks all of it on every full pass, and a pass
comes each time the heap grows by a quarter, and several more at exit (pytest's search for
unraisable exceptions, then the interpreter's own): a large share of a long run
(bench/RESULTS.md). Freezing moves the survivors into the permanent
generation, which passes skip; garbage still dies by reference counting, and the young
collection before each freeze catches the cycles among the newest objects.
"""

from __future__ import annotations

import atexit
import gc

SETTLE_EVERY = 1024  # tests between freezes: a young collection each time, cheap

_exit_registered = False
_held = False  # automatic collection is off because of hold()


def hold() -> None:
    """No automatic collections until release(): for phases that only build what lives
    until the end (configuration, collection), where every pass would be wasted."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def release() -> None:
    """Automatic collection back as hold() found it."""
    global _held
    if _held:
        gc.enable()
        _held = False


def settle() -> None:
    """Collect the young generations, then freeze everything still alive."""
    gc.collect(1)
    gc.freeze()


def settle_fully() -> None:
    """A full collection (so that finalizers of cyclic garbage run now, while pytest still
    reports unraisable exceptions), then freeze what is left for the passes after it."""
    gc.collect()
    gc.freeze()


def restore() -> None:
    """The collector as it was before the run: on, and nothing frozen (a process that goes
    on after pytest.main() collects what the run left behind)."""
    release()
    gc.unfreeze()


def freeze_at_exit() -> None:
    """The interpreter's own full pass at exit would walk the whole heap, only to free it."""
    global _exit_registered
    if not _exit_registered:
        atexit.register(gc.freeze)
        _exit_registered = True


class Settler:
    """Settles the heap every `every` calls of `tick`."""

    def __init__(self, every: int = SETTLE_EVERY) -> None:
        self.every = every
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        if self.count % self.every == 0:
            settle()
