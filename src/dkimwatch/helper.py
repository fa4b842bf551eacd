"""The helper process that resolves and judges while the tests run.

At scale the work is CPU: dnspython spends some on every query, the checks some more,
and pytest's own per-test machinery more again. The controller therefore starts one helper
process (before collection, so its imports overlap it) that owns the run's resolver: it
resolves and judges the selected cases with bounded concurrency, in the order the tests
run, and streams each verdict, with its evidence HTML already made, back through a
pipe. A test waits only for its own verdict; pytest runs on one core, DNS on the other.

Every (name, type) is still asked once per run: there is one resolver, in the helper. At
the end the helper reports how many questions it asked and queries it sent (and, for
``--record``, every answer).

Protocol (pickles over the helper's stdin/stdout): the controller sends one ``Work``;
the helper answers with lists of messages (what it has ready at the time): per job a
``VerdictReady`` or a ``JobFailed``, and last one ``Finished``. A byte on stdin, or its
end, asks the helper to stop early (``-x``, Ctrl-C): jobs not started are dropped.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, NamedTuple

from dkimwatch import heap
from dkimwatch.checks import Context, Verdict
from dkimwatch.fixoutput import fix_html, locate_verdict
from dkimwatch.model import Domain, Policy
from dkimwatch.registry import evaluate
from dkimwatch.report import evidence_html
from dkimwatch.resolver import Answer, AuthoritativeClient, DnsClient, Evidence, Resolver

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

    def resolver(self) -> Resolver:
        if self.replay is not None:
            return Resolver.load(Path(self.replay))[0]
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
    client: ClientSpec
    policy: Policy
    tenant: str | None
    now: datetime
    jobs: tuple[Job, ...]
    want_answers: bool = False  # --record: send every answer back at the end
    # A run of many inventories: each one's (policy, tenant), by Job.scope; empty: policy
    # and tenant above judge every job.
    scopes: tuple[tuple[Policy, str | None], ...] = ()


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
    """The helper's last message: the run's DNS counts, and for ``--record`` every answer."""

    questions: int
    sent: int
    answers: dict[str, Answer] | None


Message = VerdictReady | JobFailed | Finished


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
        self.answers: dict[str, Answer] | None = None

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


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    work: Work = pickle.load(stdin)
    resolver = work.client.resolver()
    ctx = Context(resolver=resolver, policy=work.policy, tenant=work.tenant, now=work.now)
    contexts = [
        Context(resolver=resolver, policy=policy, tenant=tenant, now=work.now)
        for policy, tenant in work.scopes
    ] or [ctx]
    # Workers take the jobs in order as they come free and this thread sends what they
    # finish, from the first verdict on: the tests wait for the early jobs first.
    pending = iter(enumerate(work.jobs))
    take = threading.Lock()
    stopped = threading.Event()
    finished: queue.SimpleQueue[Message | None] = queue.SimpleQueue()

    def stop_when_asked() -> None:
        stdin.read(1)  # a byte, or the end: the controller stops waiting (-x, Ctrl-C)
        stopped.set()  # jobs not started are dropped

    def work_through() -> None:
        try:
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
                    finished.put(JobFailed(index, f"the check raised an exception:\n{text}"))
                else:
                    finished.put(VerdictReady(index, judged))
        finally:
            finished.put(None)

    threading.Thread(target=stop_when_asked, daemon=True).start()
    workers = [
        threading.Thread(target=work_through, daemon=True)
        for _ in range(max(1, min(CONCURRENCY, len(work.jobs))))
    ]
    for worker in workers:
        worker.start()

    _send_as_ready(finished, len(workers), stdout)
    answers = resolver.answers()
    last = Finished(len(answers), resolver.queries_sent(), answers if work.want_answers else None)
    _send([last], stdout)


def _send(messages: list[Message], stdout: IO[bytes]) -> None:
    pickle.dump(messages, stdout, pickle.HIGHEST_PROTOCOL)
    stdout.flush()


def _send_as_ready(
    finished: queue.SimpleQueue[Message | None], running: int, stdout: IO[bytes]
) -> None:
    """Send the workers' messages in batches of what is ready, until each of the
    ``running`` workers has put its None (it is done)."""
    settler = heap.Settler()  # the resolver's answers live until the end
    while running:
        batch = [finished.get()]
        while len(batch) < BATCH:  # what else is ready goes in the same pickle
            try:
                batch.append(finished.get_nowait())
            except queue.Empty:
                break
        ready = [message for message in batch if message is not None]
        running -= len(batch) - len(ready)
        if ready:
            _send(ready, stdout)
            for _ in ready:
                settler.tick()


def main() -> None:
    # Ctrl-C reaches the whole process group; the controller decides when the helper ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(BrokenPipeError, EOFError):  # the controller went away
        _serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    # Run as the module dkimwatch.helper, not __main__: its messages then unpickle in the
    # controller as dkimwatch.helper's classes.
    from dkimwatch.helper import main as serve

    serve()
