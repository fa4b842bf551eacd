"""DNS: the one module every check asks.

Each (name, type) is asked once per run; the answer, CNAMEs followed, is cached and
shared, and every exchange with a server is kept as evidence. Three negative
situations are kept apart because they mean different things to an admin:

* ``nxdomain`` - the name does not exist (a record is missing);
* ``nodata``   - the name exists but has no record of that type;
* ``temperror`` - no usable answer: timeout, SERVFAIL, REFUSED, unreachable, malformed.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from dkimwatch.instants import iso_instant
from dkimwatch.names import normalise, parse_nameserver

if TYPE_CHECKING:
    from dkimwatch.model import Inventory
    from dkimwatch.zoneserver import ZoneServer

MAX_CHAIN = 8  # CNAME hops we follow ourselves; resolvers stop at about this depth too
EVIDENCE_RDATA_LIMIT = 2048  # characters of one record kept in evidence; the rest is elided


class Status(StrEnum):
    OK = "ok"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    TEMPERROR = "temperror"
    LOOP = "loop"  # a CNAME chain that comes back to itself or runs too long


@dataclass(frozen=True)
class Evidence:
    """One exchange with one server, as an auditor would want to see it."""

    qname: str
    rdtype: str
    server: str
    rcode: str  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ... or TIMEOUT / UNREACHABLE / MALFORMED
    answers: tuple[str, ...]
    ttl: int | None
    elapsed_ms: float
    at: str
    transport: str = "udp"
    flags: str = ""

    def to_json(self) -> dict[str, Any]:
        # Spelled out: dataclasses.asdict deep-copies field by field, a noticeable cost
        # with tens of thousands of exchanges in a run.
        return {
            "qname": self.qname,
            "rdtype": self.rdtype,
            "server": self.server,
            "rcode": self.rcode,
            "answers": list(self.answers),
            "ttl": self.ttl,
            "elapsed_ms": self.elapsed_ms,
            "at": self.at,
            "transport": self.transport,
            "flags": self.flags,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        return cls(**{**data, "answers": tuple(data.get("answers", ()))})


@dataclass(frozen=True)
class Answer:
    """The outcome of asking (qname, rdtype), with CNAMEs followed."""

    qname: str
    rdtype: str
    status: Status
    records: tuple[str, ...] = ()  # rdata of rdtype at the end of the chain (TXT: strings joined)
    ttl: int | None = None
    chain: tuple[tuple[str, str], ...] = ()  # (owner, target) of each CNAME followed
    evidence: tuple[Evidence, ...] = ()
    error: str = ""  # why a temperror / loop happened, in words
    disagreement: str = ""  # consistency mode: how the resolvers' answers differed

    @property
    def final_name(self) -> str:
        return self.chain[-1][1] if self.chain else self.qname

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def missing(self) -> bool:
        return self.status in (Status.NXDOMAIN, Status.NODATA)

    def describe(self) -> str:
        """A short phrase for messages: 'NXDOMAIN', 'no TXT record (NODATA)', ..."""
        if self.status is Status.NXDOMAIN:
            return f"{self.final_name} does not exist (NXDOMAIN)"
        if self.status is Status.NODATA:
            return f"{self.final_name} has no {self.rdtype} record (NODATA)"
        if self.status is Status.TEMPERROR:
            return f"no answer for {self.qname} {self.rdtype}: {self.error}"
        if self.status is Status.LOOP:
            return f"CNAME chain from {self.qname} does not end: {self.error}"
        return f"{len(self.records)} {self.rdtype} record(s)"

    def to_json(self) -> dict[str, Any]:
        return {
            "qname": self.qname,
            "rdtype": self.rdtype,
            "status": self.status.value,
            "records": list(self.records),
            "ttl": self.ttl,
            "chain": [list(hop) for hop in self.chain],
            "evidence": [e.to_json() for e in self.evidence],
            "error": self.error,
            "disagreement": self.disagreement,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Answer:
        return cls(
            qname=data["qname"],
            rdtype=data["rdtype"],
            status=Status(data["status"]),
            records=tuple(data.get("records", ())),
            ttl=data.get("ttl"),
            chain=tuple((a, b) for a, b in data.get("chain", ())),
            evidence=tuple(Evidence.from_json(e) for e in data.get("evidence", ())),
            error=data.get("error", ""),
            disagreement=data.get("disagreement", ""),
        )


def _now_iso() -> str:
    return iso_instant(datetime.now(UTC), "milliseconds")


def rdata_text(rdtype: int, rdata: Any) -> str:
    """Text of one record; TXT strings are joined with nothing between them
    (RFC 6376 §3.6.2.2, RFC 7208 §3.3)."""
    if rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", errors="backslashreplace")
    if rdtype == dns.rdatatype.CNAME:
        return normalise(rdata.target.to_text())
    return str(rdata.to_text())


def _evidence_rdata(rrset: dns.rrset.RRset) -> list[str]:
    out = []
    owner = normalise(rrset.name.to_text())
    kind = dns.rdatatype.to_text(rrset.rdtype)
    for rdata in rrset:
        text = rdata.to_text()
        if len(text) > EVIDENCE_RDATA_LIMIT:
            text = f"{text[:EVIDENCE_RDATA_LIMIT]}… (+{len(text) - EVIDENCE_RDATA_LIMIT} chars)"
        out.append(f"{owner} {rrset.ttl} {kind} {text}")
    return out


EDE_TEXT_LIMIT = 300  # characters of a server's extended error text kept in a message


def _extended_error(response: dns.message.Message) -> str:
    """What the server said about its refusal or failure (RFC 8914 extended DNS errors):
    the embedded zone server names the zone files a name is outside of, and resolvers say
    why they gave up. Server text, so kept short; it is escaped wherever shown."""
    parts = []
    for option in response.extended_errors():
        text = option.text or f"extended error {dns.edns.EDECode.to_text(option.code)}"
        parts.append(text[:EDE_TEXT_LIMIT])
    return "; ".join(parts)


def system_nameservers(path: Path = Path("/etc/resolv.conf")) -> list[str]:
    servers = []
    try:
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                try:
                    servers.append(parse_nameserver(parts[1].split("%")[0]))
                except ValueError:
                    continue
    except OSError:
        pass
    return servers


def _split_server(server: str) -> tuple[str, int]:
    host, _, port = server.rpartition(":")
    return host.strip("[]"), int(port)


class DnsClient:
    """Sends one question to the configured servers: UDP with EDNS0, TCP when truncated.

    Timeouts and network errors are retried up to ``attempts`` rounds; a server that
    says SERVFAIL/REFUSED is not asked again for that question, but the others are.
    """

    def __init__(
        self,
        nameservers: Sequence[str],
        timeout: float = 2.0,
        attempts: int = 3,
        *,
        consistency: bool = False,
    ):
        if not nameservers:
            raise ValueError("no nameservers to ask")
        self.nameservers = list(nameservers)
        # Consistency mode: every server is asked every question, and differing answers
        # (propagation in progress, a stale cache) are noted on the answer.
        self.consistency = consistency and len(self.nameservers) > 1
        self.disagreements: dict[tuple[str, str], str] = {}
        self.timeout = timeout
        self.attempts = attempts
        self.sent = 0
        self._lock = threading.Lock()

    def exchange(
        self, qname: str, rdtype: str
    ) -> tuple[dns.message.Message | None, list[Evidence], str]:
        """Return (response or None, evidence of every try, error text when None)."""
        return self._exchange(self.nameservers, qname, rdtype)

    def _exchange(
        self, nameservers: Sequence[str], qname: str, rdtype: str
    ) -> tuple[dns.message.Message | None, list[Evidence], str]:
        evidence: list[Evidence] = []
        bad: set[str] = set()
        last_error = "no server answered"
        name = dns.name.from_text(qname)
        kind = dns.rdatatype.from_text(rdtype)
        for _attempt in range(self.attempts):
            for server in nameservers:
                if server in bad:
                    continue
                response, ev, error = self._ask(server, name, kind, qname, rdtype)
                evidence.append(ev)
                if response is not None:
                    rcode = response.rcode()
                    if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                        if self.consistency:
                            self._compare(server, ev, name, kind, qname, rdtype, evidence)
                        return response, evidence, ""
                    bad.add(server)
                    last_error = f"{server} answered {dns.rcode.to_text(rcode)}"
                    why = _extended_error(response)
                    if why:
                        last_error += f" ({why})"
                else:
                    last_error = f"{server}: {error}"
                    if ev.rcode == "MALFORMED":
                        bad.add(server)
            if len(bad) == len(nameservers):
                break
        return None, evidence, last_error

    def _compare(
        self,
        first: str,
        first_ev: Evidence,
        name: dns.name.Name,
        kind: dns.rdatatype.RdataType,
        qname: str,
        rdtype: str,
        evidence: list[Evidence],
    ) -> None:
        """Ask the other servers too; note when what they say differs from ``first``."""

        def said(ev: Evidence) -> str:
            answers = sorted(a for a in ev.answers if not a.startswith("(authority)"))
            return f"{ev.rcode} {', '.join(answers)}".strip()

        views = {first: said(first_ev)}
        for server in self.nameservers:
            if server == first:
                continue
            _response, ev, _error = self._ask(server, name, kind, qname, rdtype)
            evidence.append(ev)
            views[server] = said(ev)
        if len(set(views.values())) > 1:
            text = "; ".join(f"{s} says {v or 'nothing'}" for s, v in views.items())
            with self._lock:
                self.disagreements[(qname.lower(), rdtype.upper())] = (
                    f"resolvers disagree on {qname} {rdtype} (change still propagating, or a "
                    f"stale cache?): {text}"
                )

    def _ask(
        self,
        server: str,
        name: dns.name.Name,
        kind: dns.rdatatype.RdataType,
        qname: str,
        rdtype: str,
    ) -> tuple[dns.message.Message | None, Evidence, str]:
        host, port = _split_server(server)
        query = dns.message.make_query(name, kind, use_edns=0, payload=1232)
        query.id = random.randint(0, 65535)
        with self._lock:
            self.sent += 1
        at = _now_iso()
        start = time.perf_counter()
        transport = "udp"
        response: dns.message.Message | None = None
        code, error = "", ""
        try:
            response, used_tcp = dns.query.udp_with_fallback(
                query, host, timeout=self.timeout, port=port, ignore_unexpected=True
            )
            transport = "tcp" if used_tcp else "udp"
        except dns.exception.Timeout:
            code, error = "TIMEOUT", f"timed out after {self.timeout:g}s"
        except (ConnectionRefusedError, ConnectionResetError):
            code, error = "UNREACHABLE", "connection refused (nothing listens there)"
        except OSError as exc:
            code, error = "UNREACHABLE", f"network error: {exc.strerror or exc}"
        except (dns.exception.DNSException, ValueError, EOFError) as exc:
            code, error = "MALFORMED", f"malformed response: {type(exc).__name__}"
        elapsed = round((time.perf_counter() - start) * 1000, 2)
        if response is None:
            ev = Evidence(qname, rdtype, server, code, (), None, elapsed, at, transport)
            return None, ev, error
        answers: list[str] = []
        ttls: list[int] = []
        for rrset in response.answer:
            answers.extend(_evidence_rdata(rrset))
            ttls.append(rrset.ttl)
        if not answers:
            for rrset in response.authority:
                if rrset.rdtype == dns.rdatatype.SOA:
                    answers.extend(f"(authority) {a}" for a in _evidence_rdata(rrset))
                    ttls.append(rrset.ttl)
        ev = Evidence(
            qname=qname,
            rdtype=rdtype,
            server=server,
            rcode=dns.rcode.to_text(response.rcode()),
            answers=tuple(answers),
            ttl=min(ttls) if ttls else None,
            elapsed_ms=elapsed,
            at=at,
            transport=transport,
            flags=dns.flags.to_text(response.flags),
        )
        return response, ev, ""


class AuthoritativeClient(DnsClient):
    """Asks each name's own authoritative servers, found by NS lookups through ``finder``
    (a resolver over the recursive servers): past every cache, as the zone says it now.

    ``port`` exists for test beds, whose authoritative servers listen on high ports.
    """

    def __init__(
        self, finder: Resolver, timeout: float = 2.0, attempts: int = 3, *, port: int = 53
    ) -> None:
        super().__init__(["(authoritative)"], timeout, attempts)
        self.finder = finder
        self.port = port
        self._zones: dict[str, list[str]] = {}

    def servers_for(self, qname: str) -> tuple[list[str], str]:
        """(HOST:PORT of the servers of the zone holding qname, or [] with the reason)."""
        labels = normalise(qname).split(".")
        for i in range(len(labels) - 1):
            zone = ".".join(labels[i:])
            with self._lock:
                known = self._zones.get(zone)
            if known:
                return known, ""
            ns = self.finder.lookup(zone, "NS")
            if ns.status is Status.TEMPERROR:
                return [], f"the NS of {zone} could not be looked up: {ns.error}"
            if not ns.ok or ns.chain:
                continue
            servers: list[str] = []
            for host in ns.records:
                for kind in ("A", "AAAA"):
                    addr = self.finder.lookup(host.rstrip("."), kind)
                    for ip in addr.records if addr.ok else ():
                        servers.append(f"[{ip}]:{self.port}" if ":" in ip else f"{ip}:{self.port}")
            if not servers:
                return [], f"the NS of {zone} ({', '.join(ns.records)}) have no address"
            servers = list(dict.fromkeys(servers))
            with self._lock:
                self._zones[zone] = servers
            return servers, ""
        return [], f"no NS records found for {qname} or any parent"

    def exchange(
        self, qname: str, rdtype: str
    ) -> tuple[dns.message.Message | None, list[Evidence], str]:
        servers, why = self.servers_for(qname)
        if not servers:
            return None, [], why
        return self._exchange(servers, qname, rdtype)


def _follow_cnames(
    qname: str, kind: int, by_owner: Mapping[tuple[str, int], dns.rrset.RRset]
) -> tuple[str, list[tuple[str, str]], bool]:
    """Follow the answer section's CNAMEs from ``qname`` (none for a CNAME question): (the
    name they end at, the chain, whether it loops or runs longer than MAX_CHAIN)."""
    current = qname
    chain: list[tuple[str, str]] = []
    seen = {qname}
    while kind != dns.rdatatype.CNAME:
        cname = by_owner.get((current, dns.rdatatype.CNAME))
        if cname is None:
            break
        target = normalise(cname[0].target.to_text())
        chain.append((current, target))
        if target in seen or len(chain) > MAX_CHAIN:
            return current, chain, True
        seen.add(target)
        current = target
    return current, chain, False


def _is_referral(response: dns.message.Message, has_soa: bool) -> bool:
    """A non-authoritative answer without recursion that names the next servers (NS)."""
    return (
        not response.flags & dns.flags.AA
        and not response.flags & dns.flags.RA
        and not has_soa
        and any(r.rdtype == dns.rdatatype.NS for r in response.authority)
    )


class Resolver:
    """Cached, evidence-keeping lookups. Thread-safe; concurrent askers of one name share one query.

    With ``client=None`` the resolver is offline: it answers only from the cache it was
    given (a worker's view of the controller's answers, or a replayed recording).
    """

    def __init__(
        self, client: DnsClient | None, answers: Mapping[str, Answer] | None = None
    ) -> None:
        self.client = client
        self._cache: dict[str, Answer] = dict(answers or {})
        self._inflight: dict[str, Future[Answer]] = {}
        self._lock = threading.Lock()
        self.misses = 0  # offline lookups the cache could not answer
        self.sent_elsewhere = 0  # queries another process sent to fill this cache

    @staticmethod
    def key(qname: str, rdtype: str) -> str:
        return f"{normalise(qname)}|{rdtype.upper()}"

    def lookup(self, qname: str, rdtype: str) -> Answer:
        return self._lookup(normalise(qname), rdtype.upper(), depth=0)

    def _lookup(self, qname: str, rdtype: str, depth: int) -> Answer:
        key = self.key(qname, rdtype)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            pending = self._inflight.get(key)
            owner = pending is None
            if owner:
                pending = Future()
                self._inflight[key] = pending
        assert pending is not None
        if not owner:
            return pending.result()
        try:
            answer = self._resolve(qname, rdtype, depth)
        except BaseException as exc:  # pragma: no cover - keeps waiters from hanging
            pending.set_exception(exc)
            with self._lock:
                self._inflight.pop(key, None)
            raise
        with self._lock:
            self._cache[key] = answer
            self._inflight.pop(key, None)
        pending.set_result(answer)
        return answer

    def _resolve(self, qname: str, rdtype: str, depth: int) -> Answer:
        if self.client is None:
            self.misses += 1
            return Answer(
                qname, rdtype, Status.TEMPERROR, error="not in the recorded answers of this run"
            )
        response, evidence, error = self.client.exchange(qname, rdtype)
        if response is None:
            return Answer(qname, rdtype, Status.TEMPERROR, evidence=tuple(evidence), error=error)
        answer = self._interpret(qname, rdtype, response, tuple(evidence), depth)
        note = self.client.disagreements.get((qname.lower(), rdtype.upper()))
        return replace(answer, disagreement=note) if note else answer

    def _interpret(
        self,
        qname: str,
        rdtype: str,
        response: dns.message.Message,
        evidence: tuple[Evidence, ...],
        depth: int,
    ) -> Answer:
        kind = dns.rdatatype.from_text(rdtype)
        by_owner: dict[tuple[str, int], dns.rrset.RRset] = {}
        for rrset in response.answer:
            if rrset.rdclass == dns.rdataclass.IN:
                by_owner[(normalise(rrset.name.to_text()), rrset.rdtype)] = rrset
        current, chain, looped = _follow_cnames(qname, kind, by_owner)
        # What this response says on its own; the cases below complete it.
        said = Answer(qname, rdtype, Status.NODATA, chain=tuple(chain), evidence=evidence)
        if looped:
            return replace(
                said, status=Status.LOOP, error=" → ".join([qname, *(t for _, t in chain)])
            )
        found = by_owner.get((current, kind))
        if found is not None:
            records = tuple(rdata_text(kind, r) for r in found)
            return replace(said, status=Status.OK, records=records, ttl=found.ttl)
        has_soa = any(r.rdtype == dns.rdatatype.SOA for r in response.authority)
        if chain and not has_soa and response.rcode() == dns.rcode.NOERROR:
            # The server gave the CNAME but is not the source for its target: ask for it.
            if depth >= MAX_CHAIN:
                return replace(said, status=Status.LOOP, error="CNAME chain longer than we follow")
            return self._chase(said, depth)
        if not chain and _is_referral(response, has_soa):
            return replace(
                said,
                status=Status.TEMPERROR,
                error="the server sent a referral instead of an answer (not a recursive resolver, "
                "or a lame delegation)",
            )
        if response.rcode() == dns.rcode.NXDOMAIN:
            return replace(said, status=Status.NXDOMAIN)
        return said

    def _chase(self, said: Answer, depth: int) -> Answer:
        """``said`` completed by asking anew for the name its CNAME chain ends at."""
        rest = self._lookup(said.final_name, said.rdtype, depth + 1)
        return replace(
            said,
            status=rest.status,
            records=rest.records,
            ttl=rest.ttl,
            chain=said.chain + rest.chain,
            evidence=said.evidence + rest.evidence,
            error=rest.error,
        )

    # Sharing with xdist workers and recordings -------------------------------------------

    def answers(self) -> dict[str, Answer]:
        with self._lock:
            return dict(self._cache)

    def queries_sent(self) -> int:
        return self.client.sent if self.client else self.sent_elsewhere


ANSWERS_FORMAT = "dkimwatch-answers/2"
OLD_ANSWERS_FORMAT = "dkimwatch-answers/1"  # one set of resolvers: read as one view


@dataclass
class RecordedView:
    """The answers one set of resolvers gave in a run (a record holds one per set): whom
    they came from, and the tenants whose domains asked them (empty: every domain)."""

    resolvers: list[str]
    answers: dict[str, Answer]
    tenants: list[str] = field(default_factory=list)
    answers_from: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "resolvers": list(self.resolvers),
            "tenants": list(self.tenants),
            "answers_from": dict(self.answers_from),
            "answers": {k: a.to_json() for k, a in sorted(self.answers.items())},
        }


def dump_record(
    path: Path, views: Sequence[RecordedView], meta: Mapping[str, Any] | None = None
) -> None:
    """Write a record of the run's answers (--record, xdist's answers file, a shard's)."""
    data = {
        "format": ANSWERS_FORMAT,
        "meta": dict(meta or {}),
        "views": [view.to_json() for view in views],
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=True))
    tmp.replace(path)


def record_views(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The views of a parsed record as JSON (one for a record of format 1); ValueError
    for anything else."""
    form = data.get("format")
    if form == OLD_ANSWERS_FORMAT:
        meta = data.get("meta") or {}
        return [
            {
                "resolvers": list(meta.get("resolvers") or ()),
                "tenants": [],
                "answers_from": dict(meta.get("answers_from") or {}),
                "answers": data["answers"],
            }
        ]
    if form != ANSWERS_FORMAT or not isinstance(data.get("views"), list) or not data["views"]:
        raise ValueError("not a dkimwatch answers file")
    return list(data["views"])


def load_record(path: Path) -> tuple[list[RecordedView], dict[str, Any]]:
    """The views and meta of a record written by dump_record (or of format 1)."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a dkimwatch answers file")
    try:
        views = record_views(data)
    except ValueError:
        raise ValueError(f"{path} is not a dkimwatch answers file") from None
    return [
        RecordedView(
            resolvers=[str(r) for r in view.get("resolvers") or ()],
            answers={k: Answer.from_json(v) for k, v in view["answers"].items()},
            tenants=[str(t) for t in view.get("tenants") or ()],
            answers_from=dict(view.get("answers_from") or {}),
        )
        for view in views
    ], dict(data.get("meta", {}))


def resolve_servers(names: Iterable[str]) -> list[str]:
    """Expand "system" and normalise HOST[:PORT] entries."""
    out: list[str] = []
    for name in names:
        if name == "system":
            out.extend(system_nameservers())
        else:
            out.append(parse_nameserver(name))
    return list(dict.fromkeys(out))


def servers_to_ask(
    inventory: Inventory, nameservers: Sequence[str], zones: Path | None
) -> tuple[list[str], ZoneServer | None]:
    """Whom a run asks: ``--nameserver`` when given; else the zone files (``--zones`` or
    the inventory's ``dns.zones``) served on loopback by a started embedded server, which
    the caller stops; else the inventory's resolvers. Raises ValueError (one line)."""
    if nameservers:
        try:
            return resolve_servers(nameservers), None
        except ValueError as exc:
            raise ValueError(f"--nameserver: {exc}") from None
    zones = zones or inventory.dns.zones
    if zones is not None:
        from dkimwatch.zoneserver import ZoneError, ZoneServer

        try:
            server = ZoneServer(zones)
            host, port = server.start()
        except ZoneError as exc:
            raise ValueError(str(exc)) from None
        return [f"{host}:{port}"], server
    servers = resolve_servers(inventory.dns.nameservers)
    if not servers:
        raise ValueError(f"{inventory.path}: dns.nameservers: no usable nameserver found")
    return servers, None
