"""The DNS module against a scripted server on loopback: answers, the three negatives,
truncation, CNAME chains and loops, caching, evidence and record/replay."""

from __future__ import annotations

import threading
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest

from dkimwatch.resolver import (
    Answer,
    DnsClient,
    RecordedView,
    Resolver,
    Status,
    dump_record,
    load_record,
)
from selftests.scripted_dns import (
    ScriptedServer,
    free_udp_port,
    garbage,
    rcode,
    records,
    reply,
    silent,
    truncating,
)

BIG = "v=DKIM1; k=rsa; p=" + "A" * 1500


def negative(code: int, *lines: str) -> object:
    def behave(query: dns.message.Message, tcp: bool) -> bytes:
        response = reply(query, code)
        for line in lines:
            name, ttl, cls, kind, *rest = line.split(None, 4)
            response.answer.append(dns.rrset.from_text(name, int(ttl), cls, kind, " ".join(rest)))
        response.authority.append(
            dns.rrset.from_text("example.", 300, "IN", "SOA", "ns. host. 1 3600 600 86400 300")
        )
        return response.to_wire()

    return behave


@pytest.fixture(scope="module")
def server() -> ScriptedServer:
    behaviours = {
        "ok.example": records('ok.example. 300 IN TXT "v=spf1 -all"'),
        "split.example": records('split.example. 300 IN TXT "v=DKIM1; k=rsa; " "p=ABC"'),
        "nx.example": negative(dns.rcode.NXDOMAIN),
        "nodata.example": negative(dns.rcode.NOERROR),
        "servfail.example": rcode(dns.rcode.SERVFAIL),
        "refused.example": rcode(dns.rcode.REFUSED),
        "silent.example": silent(),
        "garbage.example": garbage(),
        "big.example": truncating(
            f'big.example. 300 IN TXT "{BIG[:255]}" "{BIG[255:510]}" '
            f'"{BIG[510:765]}" "{BIG[765:1020]}" "{BIG[1020:1275]}" '
            f'"{BIG[1275:]}"'
        ),
        "chain.example": records(
            "chain.example. 3600 IN CNAME mid.example.",
            "mid.example. 3600 IN CNAME end.example.",
            'end.example. 60 IN TXT "key"',
        ),
        "chain-nx.example": negative(
            dns.rcode.NXDOMAIN, "chain-nx.example. 3600 IN CNAME gone.example."
        ),
        "partial.example": records("partial.example. 3600 IN CNAME ok.example."),
        "loop.example": records(
            "loop.example. 60 IN CNAME loop2.example.", "loop2.example. 60 IN CNAME loop.example."
        ),
    }
    with ScriptedServer(behaviours) as s:
        yield s


def resolver(server: ScriptedServer, timeout: float = 0.3, attempts: int = 2) -> Resolver:
    return Resolver(DnsClient([server.address], timeout=timeout, attempts=attempts))


def test_answer_and_evidence(server: ScriptedServer) -> None:
    answer = resolver(server).lookup("OK.example.", "txt")
    assert answer.status is Status.OK
    assert answer.records == ("v=spf1 -all",)
    assert answer.ttl == 300
    (ev,) = answer.evidence
    assert ev.qname == "ok.example" and ev.rdtype == "TXT" and ev.server == server.address
    assert ev.rcode == "NOERROR" and ev.ttl == 300 and ev.at.endswith("Z")
    assert "v=spf1 -all" in ev.answers[0]


def test_txt_strings_are_joined_without_spaces(server: ScriptedServer) -> None:
    assert resolver(server).lookup("split.example", "TXT").records == ("v=DKIM1; k=rsa; p=ABC",)


@pytest.mark.parametrize(
    ("name", "status"),
    [("nx.example", Status.NXDOMAIN), ("nodata.example", Status.NODATA)],
)
def test_negative_answers(server: ScriptedServer, name: str, status: Status) -> None:
    answer = resolver(server).lookup(name, "TXT")
    assert answer.status is status
    assert answer.missing


@pytest.mark.parametrize(
    ("name", "rcode_text"),
    [
        ("servfail.example", "SERVFAIL"),
        ("refused.example", "REFUSED"),
        ("silent.example", "TIMEOUT"),
        ("garbage.example", "MALFORMED"),
    ],
)
def test_no_answer_is_a_temperror(server: ScriptedServer, name: str, rcode_text: str) -> None:
    answer = resolver(server).lookup(name, "TXT")
    assert answer.status is Status.TEMPERROR
    assert not answer.missing
    assert answer.evidence and {e.rcode for e in answer.evidence} == {rcode_text}


def test_a_silent_server_is_asked_attempts_times(server: ScriptedServer) -> None:
    answer = resolver(server, timeout=0.2, attempts=3).lookup("silent.example", "A")
    assert answer.status is Status.TEMPERROR
    assert [e.rcode for e in answer.evidence] == ["TIMEOUT"] * 3


def test_servfail_is_not_retried_against_the_same_server(server: ScriptedServer) -> None:
    answer = resolver(server, attempts=3).lookup("servfail.example", "MX")
    assert len(answer.evidence) == 1


def test_unreachable_port() -> None:
    port = free_udp_port()
    client = DnsClient([f"127.0.0.1:{port}"], timeout=0.3, attempts=1)
    answer = Resolver(client).lookup("anything.example", "TXT")
    assert answer.status is Status.TEMPERROR
    assert answer.evidence[0].rcode in ("UNREACHABLE", "TIMEOUT")


def test_truncated_udp_answer_is_retried_over_tcp(server: ScriptedServer) -> None:
    answer = resolver(server).lookup("big.example", "TXT")
    assert answer.status is Status.OK
    assert answer.records == (BIG,)
    assert answer.evidence[0].transport == "tcp"
    assert server.queries[("big.example", "TXT", "tcp")] >= 1


def test_cname_chain(server: ScriptedServer) -> None:
    answer = resolver(server).lookup("chain.example", "TXT")
    assert answer.status is Status.OK
    assert answer.chain == (("chain.example", "mid.example"), ("mid.example", "end.example"))
    assert answer.final_name == "end.example"


def test_nxdomain_at_the_end_of_a_chain(server: ScriptedServer) -> None:
    answer = resolver(server).lookup("chain-nx.example", "TXT")
    assert answer.status is Status.NXDOMAIN
    assert answer.final_name == "gone.example"


def test_partial_chain_is_followed_by_asking_the_target(server: ScriptedServer) -> None:
    answer = resolver(server).lookup("partial.example", "TXT")
    assert answer.status is Status.OK
    assert answer.records == ("v=spf1 -all",)
    assert [e.qname for e in answer.evidence] == ["partial.example", "ok.example"]


def test_cname_loop(server: ScriptedServer) -> None:
    answer = resolver(server).lookup("loop.example", "TXT")
    assert answer.status is Status.LOOP


def test_each_question_is_asked_once_even_concurrently(server: ScriptedServer) -> None:
    r = resolver(server)
    before = server.queries[("chain.example", "A", "udp")]
    threads = [threading.Thread(target=r.lookup, args=("chain.example", "A")) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.queries[("chain.example", "A", "udp")] - before == 1
    assert r.lookup("CHAIN.example.", "a") is r.lookup("chain.example", "A")


def test_dump_and_replay_offline(server: ScriptedServer, tmp_path: Path) -> None:
    live = resolver(server)
    for name in ("ok.example", "nx.example", "servfail.example", "chain.example"):
        live.lookup(name, "TXT")
    path = tmp_path / "answers.json"
    dump_record(path, [RecordedView(["x"], live.answers())], {"now": "2026-11-22T09:00:00Z"})
    views, meta = load_record(path)
    offline = Resolver(None, views[0].answers)
    assert meta["now"] == "2026-11-22T09:00:00Z"
    for name in ("ok.example", "nx.example", "servfail.example", "chain.example"):
        assert offline.lookup(name, "TXT") == live.lookup(name, "TXT")
    miss = offline.lookup("never-asked.example", "TXT")
    assert miss.status is Status.TEMPERROR
    assert offline.misses == 1


def test_answer_json_round_trip() -> None:
    answer = Answer("a.example", "TXT", Status.NODATA, chain=(("a.example", "b.example"),))
    assert Answer.from_json(answer.to_json()) == answer


def test_consistency_mode_notes_resolvers_that_disagree(tmp_path: Path) -> None:
    """Two servers, one already serving the new CNAME, one not: the answer comes from the
    first, and the disagreement is noted with what each said."""
    from dkimwatch.zoneserver import ZoneServer

    head = "$ORIGIN c.example.\n$TTL 60\n@ SOA ns h 1 60 60 60 60\n@ NS ns\nns A 127.0.0.1\n"
    new, old = tmp_path / "new", tmp_path / "old"
    new.mkdir()
    old.mkdir()
    (new / "c.example.zone").write_text(head + "s1._domainkey CNAME t.example.\n")
    (old / "c.example.zone").write_text(head)
    a, b = ZoneServer(new), ZoneServer(old)
    try:
        servers = ["{}:{}".format(*a.start()), "{}:{}".format(*b.start())]
        resolver = Resolver(DnsClient(servers, timeout=1.0, attempts=1, consistency=True))
        answer = resolver.lookup("s1._domainkey.c.example", "CNAME")
        assert answer.status is Status.OK
        assert "resolvers disagree" in answer.disagreement
        assert f"{servers[1]} says NXDOMAIN" in answer.disagreement
        assert {e.server for e in answer.evidence} == set(servers)
        same = resolver.lookup("ns.c.example", "A")
        assert same.disagreement == ""
        plain = Resolver(DnsClient(servers, timeout=1.0, attempts=1))
        assert plain.lookup("s1._domainkey.c.example", "CNAME").disagreement == ""
        assert b.queries[("s1._domainkey.c.example", "CNAME")] == 1  # only in consistency mode
    finally:
        a.stop()
        b.stop()
