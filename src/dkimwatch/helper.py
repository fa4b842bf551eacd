"""The helper process that resolves and judges while the tests run.

At scale the work is CPU: dnspython spends some on every query, the checks some more,
and pytest's own per-test machinery more again. The controller therefore starts one helper
process (before collection, so its imports overlap it) that owns the run's resolvers: it
resolves and judges the selected cases with bounded concurrency, in the order the tests
run, and streams each verdict, with its evidence HTML already made, back through a
pipe. A test waits only for its own verdict; pytest runs on one core, DNS on the other.

Every (name, type) is still asked once per run and set of resolvers: the resolvers live
in the helper, one per set (a run of many inventories with different ``dns:`` settings has
several; each job asks its inventory's). At the end the helper reports how many questions
it asked and queries it sent (and, for ``--record``, every answer, per set).

Protocol (pickles over the helper's stdin/stdout): the controller sends one ``Work``;
the helper answers with lists of messages (what it has ready at the time): per job a
``VerdictReady`` or a ``JobFailed``, and last one ``Finished``. A byte on stdin, or its
end, asks the helper to stop early (``-x``, Ctrl-C): jobs not started are dropped.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from dkimwatch import heap

# What judges and resolves is imported where it is used: the controller starts the helper
# (Helper) before it imports the rest of dkimwatch, so that the two start side by side.
if TYPE_CHECKING:
    import pytest

    from dkimwatch.checks import Context, Verdict
    from dkimwatch.model import Domain, Policy
    from dkimwatch.resolver import Answer, Evidence, RecordedView, Resolver

CONCURRENCY = 32  # questions in flight; what matters on real networks (latency, not CPU)
BATCH = 256  # verdicts per message at most: fewer wake-ups for the controller's reader


@dataclass(frozen=True)
class Job:
    """One verdict to compute: a check of a domain (and selector)."""

    check: str
    domain: Domain
    selector: str | None
    waiver: str | None = None  # shown with the verdict (results data "waiver")
    scope: int = 0  # which of Work.scopes judges it (a run of many inventories)


class Judged(NamedTuple):
    """A verdict with what the reports show beside it: the waiver and the evidence HTML.

    This and the other messages sent for every job are named tuples, not slotted frozen
    dataclasses: they unpickle without a Python-level ``__setstate__`` per object, half the
    controller's cost of reading a verdict (the controller reads 110,000 of them at 10,000
    domains, holding the GIL)."""

    verdict: Verdict
    waiver: str | None
    html: str


def judge(ctx: Context, job: Job) -> Judged:
    """Turn the answers into the job's verdict (asking what the resolver has not)."""
    from dkimwatch.fixoutput import fix_html, locate_verdict
    from dkimwatch.registry import evaluate
    from dkimwatch.report import evidence_html

    verdict = locate_verdict(evaluate(ctx, job.check, job.domain, job.selector), ctx.resolver)
    # Only findings (and waived checks) get a row of their own in report.html: an
    # expected verdict's HTML would be made and carried for nothing (attach_verdict makes
    # it if a row does show it after all).
    shown = verdict.outcome in ("failed", "error") or job.waiver is not None
    html = evidence_html(verdict, job.waiver) + fix_html(verdict) if shown else ""
    return Judged(verdict, job.waiver, html)


@dataclass(frozen=True)
class ClientSpec:
    """How to build the run's DNS client (the helper builds it; clients hold sockets)."""

    nameservers: tuple[str, ...]
    timeout: float
    attempts: int
    consistency: bool = False
    authoritative: bool = False
    authoritative_port: int = 53
    replay: str | None = None  # answer from this recording instead (--replay): no DNS
    replay_view: int = 0  # which of the recording's sets of resolvers

    def resolver(self, loaded: dict[str, list[RecordedView]] | None = None) -> Resolver:
        """The resolver; ``loaded``: recordings already read, by path (read once each)."""
        from dkimwatch.resolver import AuthoritativeClient, DnsClient, Resolver, load_record

        if self.replay is not None:
            loaded = {} if loaded is None else loaded
            if self.replay not in loaded:
                loaded[self.replay] = load_record(Path(self.replay))[0]
            return Resolver(None, loaded[self.replay][self.replay_view].answers)
        client = DnsClient(
            self.nameservers, self.timeout, self.attempts, consistency=self.consistency
        )
        if self.authoritative:
            client = AuthoritativeClient(
                Resolver(client), self.timeout, self.attempts, port=self.authoritative_port
            )
        return Resolver(client)


@dataclass(frozen=True)
class Work:
    clients: tuple[ClientSpec, ...]  # one per set of resolvers of the run
    policy: Policy
    tenant: str | None
    now: datetime
    jobs: tuple[Job, ...]
    want_answers: bool = False  # --record: send every answer back at the end
    # A run of many inventories: each one's (policy, tenant), by Job.scope; empty: policy
    # and tenant above judge every job.
    scopes: tuple[tuple[Policy, str | None], ...] = ()
    # Which of ``clients`` each scope asks, by Job.scope; empty: clients[0] for every job.
    views: tuple[int, ...] = ()


class VerdictReady(NamedTuple):
    """The helper's message: the verdict of ``Work.jobs[job]``."""

    job: int
    judged: Judged


class JobFailed(NamedTuple):
    """The helper's message: no verdict for ``Work.jobs[job]`` (the check raised)."""

    job: int
    why: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The helper's last message: the run's DNS counts, and for ``--record`` every answer
    (per client of Work.clients)."""

    questions: int
    sent: int
    answers: list[dict[str, Answer]] | None


Message = VerdictReady | JobFailed | Finished


def wanted(config: pytest.Config) -> bool:
    """Whether a run has the helper: its tests run (not --collect-only), in this one
    process (xdist's workers judge from a file of answers instead)."""
    return getattr(config.option, "dist", "no") == "no" and not config.option.collectonly


class HelperError(Exception):
    """The helper could not give this verdict (it crashed, or the check raised)."""


class Helper:
    """The controller's side: start the helper, hand it the work, wait for verdicts."""

    def __init__(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        src = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dkimwatch.helper"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        self._cond = threading.Condition()
        self._judged: dict[int, Judged | str] = {}
        # Each batch is pickled on its own: an exchange used in many batches arrives as
        # many copies. Verdicts keep the first one (Verdict.sharing).
        self._evidence: dict[Evidence, Evidence] = {}
        self._ended: str | None = None  # why no more verdicts will come ("" = done)
        self._reader: threading.Thread | None = None
        self.questions = 0
        self.sent = 0
        self.answers: list[dict[str, Answer]] | None = None

    def submit(self, work: Work) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            pickle.dump(work, stdin, pickle.HIGHEST_PROTOCOL)
            stdin.flush()
        except OSError:
            pass  # it died already; the reader reports why
        self._reader = threading.Thread(target=self._read, name="dkimwatch-helper", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        why = "the helper process ended without finishing"
        try:
            while why:
                messages: list[Message] = pickle.load(stdout)  # what the helper had ready
                with self._cond:
                    for message in messages:
                        if isinstance(message, VerdictReady):
                            judged = message.judged
                            shared = judged.verdict.sharing(self._evidence)
                            if shared is not judged.verdict:
                                judged = Judged(shared, judged.waiver, judged.html)
                            self._judged[message.job] = judged
                        elif isinstance(message, JobFailed):
                            self._judged[message.job] = message.why
                        else:
                            self.questions, self.sent = message.questions, message.sent
                            self.answers = message.answers
                            why = ""
                    self._cond.notify_all()
        except Exception as exc:
            if not isinstance(exc, EOFError):
                why = f"the helper's answers could not be read ({type(exc).__name__}: {exc})"
        with self._cond:
            self._ended = why if not why else f"{why}{self._stderr_tail()}"
            self._cond.notify_all()

    def _stderr_tail(self) -> str:
        try:
            self._proc.wait()
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):  # stopped by the controller meanwhile
            return ""
        return f" (exit {self._proc.returncode}: {lines[-1]})" if lines else ""

    def get(self, index: int) -> Judged:
        with self._cond:
            while index not in self._judged and self._ended is None:
                self._cond.wait()
            found = self._judged.get(index)
            if found is None:
                raise HelperError(self._ended or "no verdict")
        if isinstance(found, str):
            raise HelperError(found)
        return found

    def finish(self, timeout: float) -> bool:
        """Let the helper end: when its jobs are not all done (-x, Ctrl-C) it drops the
        ones not started. Returns whether it reported its counts."""
        stdin = self._proc.stdin
        try:
            if stdin is not None and not stdin.closed:
                stdin.close()
        except OSError:
            pass
        if self._reader is not None:
            self._reader.join(timeout)
        ended = self._ended == ""
        self.stop()
        return ended

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self._stderr.close()


# --- the helper process --------------------------------------------------------------


def _contexts(work: Work, resolvers: list[Resolver]) -> list[Context]:
    """The judging context of each scope (an inventory's policy, tenant and resolver);
    one for a run of one inventory."""
    from dkimwatch.checks import Context

    return [
        Context(
            resolver=resolvers[work.views[scope] if work.views else 0],
            policy=policy,
            tenant=tenant,
            now=work.now,
        )
        for scope, (policy, tenant) in enumerate(work.scopes)
    ] or [Context(resolver=resolvers[0], policy=work.policy, tenant=work.tenant, now=work.now)]


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    work: Work = pickle.load(stdin)
    loaded: dict[str, list[RecordedView]] = {}
    resolvers = [client.resolver(loaded) for client in work.clients]
    contexts = _contexts(work, resolvers)
    # Workers take the jobs in order as they come free and send what they finish, from the
    # first verdict on: the tests wait for the early jobs first.
    pending = iter(enumerate(work.jobs))
    take = threading.Lock()
    stopped = threading.Event()
    outbox = _Outbox(stdout, stopped)

    def stop_when_asked() -> None:
        stdin.read(1)  # a byte, or the end: the controller stops waiting (-x, Ctrl-C)
        stopped.set()  # jobs not started are dropped

    def work_through() -> None:
        while not stopped.is_set():
            with take:
                taken = next(pending, None)
            if taken is None:
                return
            index, job = taken
            try:
                judged = judge(contexts[job.scope], job)
            except Exception as exc:
                text = "".join(traceback.format_exception(exc)).strip()
                outbox.put(JobFailed(index, f"the check raised an exception:\n{text}"))
            else:
                outbox.put(VerdictReady(index, judged))

    threading.Thread(target=stop_when_asked, daemon=True).start()
    workers = [
        threading.Thread(target=work_through, daemon=True)
        for _ in range(max(1, min(CONCURRENCY, len(work.jobs))))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    outbox.flush()
    if outbox.broken is not None:
        raise outbox.broken  # the controller went away
    answers = [resolver.answers() for resolver in resolvers]
    last = Finished(
        sum(len(each) for each in answers),
        sum(resolver.queries_sent() for resolver in resolvers),
        answers if work.want_answers else None,
    )
    _send([last], stdout)


def _send(messages: list[Message], stdout: IO[bytes]) -> None:
    pickle.dump(messages, stdout, pickle.HIGHEST_PROTOCOL)
    stdout.flush()


class _Outbox:
    """The workers' finished messages, sent in batches of what is ready by whichever worker
    finds nobody sending. A thread of its own that only sends would have to win the
    interpreter lock from every busy worker each time, and the first verdicts, which the
    tests wait for, would sit ready for many jobs' time."""

    def __init__(self, stdout: IO[bytes], stopped: threading.Event) -> None:
        self._stdout = stdout
        self._stopped = stopped
        self._ready: list[Message] = []
        self._ready_lock = threading.Lock()
        self._sending = threading.Lock()
        self._settler = heap.Settler()  # the resolver's answers live until the end
        self.broken: OSError | None = None  # the pipe to the controller failed

    def put(self, message: Message) -> None:
        with self._ready_lock:
            self._ready.append(message)
        self.flush()

    def flush(self) -> None:
        """Send what is ready, unless another thread is sending: it sends this too (it
        looks again once done, so nothing is left behind when the last worker ends)."""
        while self._sending.acquire(blocking=False):
            try:
                with self._ready_lock:
                    batch, self._ready = self._ready[:BATCH], self._ready[BATCH:]
                if batch and self.broken is None:
                    try:
                        _send(batch, self._stdout)
                    except OSError as exc:
                        self.broken = exc
                        self._stopped.set()  # nobody reads the verdicts any more
                    for _ in batch:
                        self._settler.tick()
            finally:
                self._sending.release()
            with self._ready_lock:
                if not self._ready:
                    return


def main() -> None:
    # Ctrl-C reaches the whole process group; the controller decides when the helper ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Everything judging needs, imported while the controller is still starting: the work
    # comes once it has read the inventory.
    import dkimwatch.fixoutput
    import dkimwatch.registry
    import dkimwatch.report  # noqa: F401

    with contextlib.suppress(BrokenPipeError, EOFError):  # the controller went away
        _serve(sys.stdin.buffer, sys.stdout.buffer)
    # Its messages are sent: end here. The interpreter's shutdown would wait for stdin, which
    # the thread listening for the controller's stop holds, then abort the process; and
    # nothing of the helper needs shutting down.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    # Run as the module dkimwatch.helper, not __main__: its messages then unpickle in the
    # controller as dkimwatch.helper's classes.
    from dkimwatch.helper import main as serve

    serve()
