"""The helper process that resolves and judges while the tests run (dkimwatch.helper):
real process, real pipes, real DNS on loopback (a scripted server)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import dns.rcode
import pytest

from dkimwatch.checks import Context
from dkimwatch.helper import ClientSpec, Helper, HelperError, Job, Work, judge
from dkimwatch.inventory import Domain, Policy
from dkimwatch.registry import evaluate
from dkimwatch.resolver import DnsClient, Resolver
from selftests import scripted_dns

NOW = datetime(2026, 11, 22, 9, tzinfo=UTC)
SPF = "v=spf1 include:spf.protection.outlook.com -all"


def _work(address: str, jobs: tuple[Job, ...], *, timeout: float = 2.0, **kw: bool) -> Work:
    return Work(
        clients=(ClientSpec((address,), timeout, 1),),
        policy=Policy(),
        tenant="contoso",
        now=NOW,
        jobs=jobs,
        **kw,
    )


def _domain(name: str) -> Domain:
    return Domain(name=name, display=name)


def test_helper_judges_like_the_controller_would_and_counts_its_queries() -> None:
    behaviours = {
        "a.example": scripted_dns.records(f'a.example. 300 IN TXT "{SPF}"'),
        "b.example": scripted_dns.rcode(dns.rcode.SERVFAIL),
        "spf.protection.outlook.com": scripted_dns.records(
            'spf.protection.outlook.com. 300 IN TXT "v=spf1 ip4:40.92.0.0/15 -all"'
        ),
    }
    jobs = (
        Job("spf", _domain("a.example"), None),
        Job("spf", _domain("b.example"), None, waiver="ticket 42"),
        Job("dmarc", _domain("a.example"), None),
    )
    with scripted_dns.ScriptedServer(behaviours) as server:
        helper = Helper()
        try:
            helper.submit(_work(server.address, jobs, want_answers=True))
            got = [helper.get(i) for i in range(len(jobs))]
            assert helper.finish(timeout=10)
        finally:
            helper.stop()
        # The same verdicts, judged here in-process against the same server.
        resolver = Resolver(DnsClient([server.address], 2.0, 1))
        ctx = Context(resolver=resolver, policy=Policy(), tenant="contoso", now=NOW)
        expected = [judge(ctx, job) for job in jobs]
    # Typed all the way: the helper's verdicts arrive as Verdicts (the evidence's timings
    # and instants differ from the second asking).
    assert [dataclasses.replace(g.verdict, evidence=()) for g in got] == [
        dataclasses.replace(e.verdict, evidence=()) for e in expected
    ]
    assert [g.verdict.outcome for g in got] == ["passed", "error", "failed"]
    assert [g.waiver for g in got] == [None, "ticket 42", None] and "ticket 42" in got[1].html
    assert got[0].verdict.evidence[0].qname == "a.example"
    # Asked once: a.example TXT serves spf and dmarc's organisational lookups alike.
    assert helper.questions == len(resolver.answers())
    assert helper.sent == resolver.queries_sent()
    assert helper.answers is not None and set(helper.answers[0]) == set(resolver.answers())


def test_a_check_that_raises_fails_its_test_only() -> None:
    jobs = (
        Job("no-such-check", _domain("a.example"), None),
        Job("spf", _domain("a.example"), None),
    )
    with pytest.raises(KeyError):  # what the helper will meet
        evaluate(
            Context(Resolver(None), Policy(), None, NOW), "no-such-check", _domain("a.example")
        )
    with scripted_dns.ScriptedServer({}) as server:
        helper = Helper()
        try:
            helper.submit(_work(server.address, jobs))
            with pytest.raises(HelperError, match=r"(?s)the check raised an exception.*KeyError"):
                helper.get(0)
            assert helper.get(1).verdict.outcome == "failed"  # NXDOMAIN: no SPF record
            assert helper.finish(timeout=10)
        finally:
            helper.stop()


def test_a_dead_helper_is_an_error_not_a_wait() -> None:
    helper = Helper()
    helper._proc.kill()  # dies before it is given anything
    helper.submit(_work("127.0.0.1:9", (Job("spf", _domain("a.example"), None),)))
    with pytest.raises(HelperError, match="ended without finishing"):
        helper.get(0)
    assert not helper.finish(timeout=5)


def test_stopping_early_drops_the_jobs_not_started() -> None:
    """-x or Ctrl-C: the controller stops waiting; the helper ends within one DNS wait
    instead of asking every remaining question of a silent server."""
    silent = {f"d{i}.example": scripted_dns.silent() for i in range(200)}
    jobs = tuple(Job("spf", _domain(f"d{i}.example"), None) for i in range(200))
    with scripted_dns.ScriptedServer(silent) as server:
        helper = Helper()
        try:
            helper.submit(_work(server.address, jobs, timeout=1.0))
            assert helper.finish(timeout=10)  # False: it had not ended by then
        finally:
            helper.stop()
        asked = sum(server.queries.values())
    # 32 in flight when stopped, each waiting one 1-second timeout; 200 x 1 s otherwise.
    assert asked < 200
    assert helper.sent == asked


def test_the_helper_ends_by_itself_once_its_last_message_is_sent() -> None:
    """No waiting for the controller to close its stdin, no abort at shutdown (the thread
    listening for a stop held stdin, and the interpreter's shutdown gave up on it)."""
    behaviours = {"a.example": scripted_dns.records(f'a.example. 300 IN TXT "{SPF}"')}
    with scripted_dns.ScriptedServer(behaviours) as server:
        helper = Helper()
        try:
            helper.submit(_work(server.address, (Job("spf", _domain("a.example"), None),)))
            assert helper.get(0).verdict.check == "spf"
            assert helper._proc.wait(timeout=30) == 0
            assert helper._stderr_tail() == ""
            assert helper.finish(timeout=10)  # its counts arrived before it ended
        finally:
            helper.stop()
