"""The embedded authoritative DNS server: RFC 1035 zone files served on loopback.

It is how the demo tenant and the selftests run with no network. Answers follow what an
authoritative server does (RFC 1034 §4.3.2, RFC 2308, RFC 4592, RFC 6604): AA set,
NXDOMAIN vs NODATA with the SOA for negative caching, CNAMEs put in the answer and chased
through every zone this server holds, wildcards, referrals below delegations, and EDNS0
with truncation over UDP so clients retry over TCP.
"""

from __future__ import annotations

import re
import socket
import socketserver
import struct
import threading
from collections import Counter
from pathlib import Path
from types import TracebackType

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.node
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.zone

MAX_CNAME_HOPS = 16
EDNS_PAYLOAD = 1232
TCP_IDLE_SECONDS = 5.0
_LINE = re.compile(r"(?:line |:)(\d+)")


class ZoneError(Exception):
    """A zone directory or file that cannot be served; str() is one line: file:line: what."""


def _origin_of(path: Path) -> dns.name.Name:
    return dns.name.from_text(path.name.removesuffix(".zone"))


def _error_line(path: Path, message: str, reported: int) -> int:
    """The line an error is on. dnspython counts the newline it has already read, so an
    error at the end of a line is reported on the next: find the shortest failing prefix."""
    try:
        lines = path.read_text(errors="replace").splitlines(keepends=True)
    except OSError:
        return reported
    low, high = 1, min(max(reported, 1), len(lines))

    def fails(k: int) -> bool:
        try:
            dns.zone.from_text(
                "".join(lines[:k]), origin=_origin_of(path), relativize=False, check_origin=False
            )
        except dns.exception.SyntaxError as exc:
            return message in str(exc)
        except dns.exception.DNSException:
            return False
        return False

    if not fails(high):
        return reported
    while low < high:
        mid = (low + high) // 2
        if fails(mid):
            high = mid
        else:
            low = mid + 1
    return high


def load_zones(zone_dir: Path) -> dict[dns.name.Name, dns.zone.Zone]:
    """Every ``<origin>.zone`` file of ``zone_dir`` (a $ORIGIN in the file wins)."""
    zone_dir = Path(zone_dir)
    if not zone_dir.is_dir():
        raise ZoneError(f"{zone_dir}:0: not a directory of zone files")
    files = sorted(p for p in zone_dir.iterdir() if p.is_file() and p.name.endswith(".zone"))
    if not files:
        raise ZoneError(f"{zone_dir}:0: no <origin>.zone files in this directory")
    zones: dict[dns.name.Name, dns.zone.Zone] = {}
    where: dict[dns.name.Name, Path] = {}
    for path in files:
        try:
            zone = dns.zone.from_file(
                str(path), origin=_origin_of(path), relativize=False, check_origin=False
            )
        except dns.exception.SyntaxError as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
            m = _LINE.search(text)
            text = re.sub(r"^.*?:\d+:\s*", "", text)
            line = _error_line(path, text, int(m.group(1)) if m else 0)
            raise ZoneError(f"{path}:{line}: {text}") from None
        except (dns.exception.DNSException, ValueError, UnicodeDecodeError) as exc:
            raise ZoneError(f"{path}:0: {type(exc).__name__}: {exc}") from None
        except OSError as exc:
            raise ZoneError(f"{path}:0: cannot be read ({exc.strerror})") from None
        origin = zone.origin
        assert origin is not None
        if origin in zones:
            raise ZoneError(f"{path}:0: zone {origin} is also defined in {where[origin]}")
        zones[origin] = zone
        where[origin] = path
    return zones


def _soa_of(zone: dns.zone.Zone) -> dns.rrset.RRset:
    """The zone's SOA, or one made up for hand-written zones that have none."""
    assert zone.origin is not None
    node = zone.get_node(zone.origin)
    rdataset = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.SOA) if node else None
    if rdataset:
        soa = rdataset[0]
        ttl = min(rdataset.ttl, soa.minimum)
        return dns.rrset.from_rdata(zone.origin, ttl, soa)
    made = dns.rrset.from_text(
        zone.origin,
        300,
        "IN",
        "SOA",
        f"ns.{zone.origin} hostmaster.{zone.origin} 1 3600 600 86400 300",
    )
    return made


def outside_hint(qname: dns.name.Name, source: Path | None) -> str:
    """Why a name is REFUSED, and how to serve it: sent as the extended DNS error's text
    (RFC 8914), which dkimwatch's resolver puts in the temperror message. No resolver
    stands behind the zone files, so a zone file is the only way."""
    name = qname.to_text().rstrip(".") or "."
    if source is None:
        return f"{name} is outside the zones this server serves: add a zone holding it"
    return (
        f"{name} is outside the zone files in {source}: to serve it, add a zone file "
        f"holding it there (e.g. {name}.zone)"
    )


SHUTDOWN_POLL_SECONDS = 0.05


class _Lookup:
    """Answers one question from the zones; fills the sections of a response."""

    def __init__(
        self, zones: dict[dns.name.Name, dns.zone.Zone], source: Path | None = None
    ) -> None:
        self.zones = zones
        self.source = source
        # Names with no records but with names below them (RFC 8020: they exist: NODATA).
        self._ents: dict[int, set[dns.name.Name]] = {}
        for zone in zones.values():
            assert zone.origin is not None
            ents: set[dns.name.Name] = set()
            for owner in zone.nodes:
                parent = owner
                while parent != zone.origin and len(parent) > len(zone.origin):
                    parent = parent.parent()
                    ents.add(parent)
            self._ents[id(zone)] = ents

    def zone_for(self, name: dns.name.Name) -> dns.zone.Zone | None:
        """The zone of the longest origin name is under: looked up label by label, as an
        estate's thousands of zones make a scan of them all the server's main cost."""
        while True:
            zone = self.zones.get(name)
            if zone is not None:
                return zone
            if len(name) <= 1:
                return None
            name = name.parent()

    def answer(self, query: dns.message.Message, response: dns.message.Message) -> None:
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        zone = self.zone_for(qname)
        if zone is None or question.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
            if zone is None and query.edns >= 0:
                hint = outside_hint(qname, self.source)
                response.use_edns(
                    0,
                    payload=EDNS_PAYLOAD,
                    options=[dns.edns.EDEOption(dns.edns.EDECode.NOT_AUTHORITATIVE, hint)],
                )
            return
        response.flags |= dns.flags.AA
        seen: set[dns.name.Name] = set()
        name = qname
        for _hop in range(MAX_CNAME_HOPS):
            seen.add(name)
            outcome = self._step(zone, name, qtype, response, first=name == qname)
            if outcome is None:
                return
            # outcome is a CNAME target to chase
            target = outcome
            next_zone = self.zone_for(target)
            if next_zone is None or target in seen:
                return  # out of our zones (the client asks elsewhere) or a loop: stop here
            zone = next_zone
            name = target

    def _step(
        self,
        zone: dns.zone.Zone,
        name: dns.name.Name,
        qtype: dns.rdatatype.RdataType,
        response: dns.message.Message,
        first: bool,
    ) -> dns.name.Name | None:
        """Answer ``name``/``qtype`` in ``zone``; return a CNAME target to follow, if any."""
        assert zone.origin is not None
        cut = self._delegation(zone, name, qtype)
        if cut is not None:
            if first:
                response.flags &= ~dns.flags.AA
            ns = zone.get_rdataset(cut, dns.rdatatype.NS)
            assert ns is not None
            response.authority.append(dns.rrset.from_rdata_list(cut, ns.ttl, list(ns)))
            for rdata in ns:
                for kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    glue = (
                        zone.get_rdataset(rdata.target, kind)
                        if rdata.target.is_subdomain(zone.origin)
                        else None
                    )
                    if glue:
                        response.additional.append(
                            dns.rrset.from_rdata_list(rdata.target, glue.ttl, list(glue))
                        )
            return None
        node = zone.get_node(name)
        owner = name
        if node is None and not self._is_empty_non_terminal(zone, name):
            wildcard = self._wildcard(zone, name)
            if wildcard is not None:
                node = zone.get_node(wildcard)
        if node is None:
            if self._is_empty_non_terminal(zone, name):
                response.authority.append(_soa_of(zone))
                return None
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(_soa_of(zone))
            return None
        if qtype == dns.rdatatype.ANY:
            for rdataset in node.rdatasets:
                response.answer.append(
                    dns.rrset.from_rdata_list(owner, rdataset.ttl, list(rdataset))
                )
            return None
        found = node.get_rdataset(dns.rdataclass.IN, qtype)
        if found is not None:
            response.answer.append(dns.rrset.from_rdata_list(owner, found.ttl, list(found)))
            return None
        cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
        if cname is not None:
            response.answer.append(dns.rrset.from_rdata_list(owner, cname.ttl, list(cname)))
            target: dns.name.Name = cname[0].target
            return target
        response.authority.append(_soa_of(zone))  # NODATA
        return None

    @staticmethod
    def _delegation(
        zone: dns.zone.Zone, name: dns.name.Name, qtype: dns.rdatatype.RdataType
    ) -> dns.name.Name | None:
        """The shallowest zone cut below the apex at or above ``name``, if any."""
        assert zone.origin is not None
        current = zone.origin
        for label in reversed(name.relativize(zone.origin).labels):
            current = dns.name.Name((label, *current.labels))
            if zone.get_rdataset(current, dns.rdatatype.NS) is not None:
                if current == name and qtype == dns.rdatatype.DS:
                    return None  # DS lives on the parent side of the cut
                return current
        return None

    def _is_empty_non_terminal(self, zone: dns.zone.Zone, name: dns.name.Name) -> bool:
        return zone.get_node(name) is None and name in self._ents[id(zone)]

    def _wildcard(self, zone: dns.zone.Zone, name: dns.name.Name) -> dns.name.Name | None:
        """RFC 4592: the wildcard at the closest encloser, if the closest encloser has one."""
        assert zone.origin is not None
        encloser = name.parent()
        while True:
            if zone.get_node(encloser) is not None or self._is_empty_non_terminal(zone, encloser):
                wildcard = dns.name.Name((b"*", *encloser.labels))
                return wildcard if zone.get_node(wildcard) is not None else None
            if encloser == zone.origin:
                return None
            encloser = encloser.parent()


class ZoneServer:
    """Serves zone files on a loopback address over UDP and TCP (same port), in threads."""

    def __init__(
        self,
        zones: dict[dns.name.Name, dns.zone.Zone] | Path,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"refusing to listen on {host}: only loopback addresses are allowed")
        self.zones = load_zones(zones) if isinstance(zones, Path) else dict(zones)
        # The directory served (None: zones given in memory): named in answers and reports.
        self.source = zones if isinstance(zones, Path) else None
        self.host = host
        self.port = port
        self.queries: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._lookup = _Lookup(self.zones, self.source)
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def respond(self, wire: bytes, tcp: bool) -> bytes | None:
        """The response to one query message (None: drop it)."""
        try:
            return self._respond(wire, tcp)
        except Exception:  # a bug or odd zone data: say SERVFAIL rather than go silent
            try:
                response = dns.message.make_response(dns.message.from_wire(wire))
            except Exception:
                return None
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()

    def _respond(self, wire: bytes, tcp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.message.ShortHeader:
            return None
        except dns.exception.DNSException:
            return _formerr(wire)
        response = dns.message.make_response(query)
        response.flags &= ~dns.flags.RA
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response.to_wire()
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        with self._lock:
            key = (
                question.name.to_text().rstrip(".").lower(),
                dns.rdatatype.to_text(question.rdtype),
            )
            self.queries[key] += 1
        if query.edns >= 0:
            response.use_edns(0, payload=EDNS_PAYLOAD)
        self._lookup.answer(query, response)
        limit = 65535 if tcp else (max(512, query.payload) if query.edns >= 0 else 512)
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags &= ~dns.flags.RA
            truncated.flags |= dns.flags.TC | (response.flags & dns.flags.AA)
            truncated.set_rcode(response.rcode())
            if query.edns >= 0:
                truncated.use_edns(0, payload=EDNS_PAYLOAD)
            return truncated.to_wire()

    def start(self) -> tuple[str, int]:
        udp, tcp = self._handlers()
        self._servers = self._bind(udp, tcp)
        # A short poll: stop() waits for each loop to notice its shutdown, a fixed cost of
        # every run served from zone files at the default half second.
        self._threads = [
            threading.Thread(
                target=s.serve_forever,
                kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                name=f"dkimwatch-dns-{i}",
                daemon=True,
            )
            for i, s in enumerate(self._servers)
        ]
        for thread in self._threads:
            thread.start()
        return self.host, self.port

    def _handlers(
        self,
    ) -> tuple[type[socketserver.BaseRequestHandler], type[socketserver.BaseRequestHandler]]:
        """The UDP and TCP request handlers, both answering through respond()."""
        outer = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                wire = outer.respond(data, tcp=False)
                if wire is not None:
                    sock.sendto(wire, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(TCP_IDLE_SECONDS)
                try:
                    while True:
                        head = _recv_exact(conn, 2)
                        if head is None:
                            return
                        body = _recv_exact(conn, struct.unpack("!H", head)[0])
                        if body is None:
                            return
                        wire = outer.respond(body, tcp=True)
                        if wire is None:
                            return
                        conn.sendall(struct.pack("!H", len(wire)) + wire)
                except OSError:
                    return

        return Udp, Tcp

    def _bind(
        self,
        udp_handler: type[socketserver.BaseRequestHandler],
        tcp_handler: type[socketserver.BaseRequestHandler],
    ) -> list[socketserver.BaseServer]:
        """A UDP and a TCP server on the same port (self.port, or a free one that sets it)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class UdpServer(socketserver.ThreadingUDPServer):
            address_family = family
            daemon_threads = True

        class TcpServer(socketserver.ThreadingTCPServer):
            address_family = family
            daemon_threads = True
            allow_reuse_address = True

        last: OSError | None = None
        for _try in range(10):
            udp = UdpServer((self.host, self.port), udp_handler)
            port = int(udp.server_address[1])
            try:
                tcp = TcpServer((self.host, port), tcp_handler)
            except OSError as exc:  # the TCP side of this port is taken: pick another
                udp.server_close()
                last = exc
                if self.port:
                    raise
                continue
            self.port = port
            return [udp, tcp]
        raise OSError(f"no free port for UDP and TCP together: {last}")

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> ZoneServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _formerr(wire: bytes) -> bytes | None:
    if len(wire) < 12:
        return None
    ident = wire[:2]
    flags = 0x8000 | dns.rcode.FORMERR  # QR set, opcode QUERY
    return ident + struct.pack("!HHHHH", flags, 0, 0, 0, 0)


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_forever(zone_dir: Path, host: str = "127.0.0.1", port: int = 5300) -> None:
    """``dkimwatch serve``: serve until Ctrl-C."""
    server = ZoneServer(Path(zone_dir), host, port)
    server.start()
    print(f"serving {len(server.zones)} zones on {server.address} (udp+tcp); Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
