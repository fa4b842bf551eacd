"""A scripted DNS server on loopback for fault tests: each query name picks a behaviour.

Unlike the embedded authoritative server, this one misbehaves on purpose: SERVFAIL,
REFUSED, silence, garbage, truncation. Real sockets, UDP and TCP on one port.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections import Counter
from collections.abc import Callable

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

Behaviour = Callable[[dns.message.Message, bool], bytes | None]  # (query, over_tcp) -> wire


def reply(query: dns.message.Message, rcode: int = dns.rcode.NOERROR) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    response.flags |= dns.flags.RA
    return response


class ScriptedServer:
    def __init__(self, behaviours: dict[str, Behaviour]) -> None:
        self.behaviours = behaviours
        self.queries: Counter[tuple[str, str, str]] = Counter()  # (name, type, transport)
        self._lock = threading.Lock()
        outer = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                wire = outer.answer(data, tcp=False)
                if wire is not None:
                    sock.sendto(wire, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head = self.request.recv(2)
                if len(head) < 2:
                    return
                (size,) = struct.unpack("!H", head)
                data = b""
                while len(data) < size:
                    chunk = self.request.recv(size - len(data))
                    if not chunk:
                        return
                    data += chunk
                wire = outer.answer(data, tcp=True)
                if wire is not None:
                    self.request.sendall(struct.pack("!H", len(wire)) + wire)

        self.udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Udp)
        port = self.udp.server_address[1]
        self.tcp = socketserver.ThreadingTCPServer(
            ("127.0.0.1", port), Tcp, bind_and_activate=False
        )
        self.tcp.allow_reuse_address = True
        self.tcp.server_bind()
        self.tcp.server_activate()
        self.address = f"127.0.0.1:{port}"
        self._threads = [
            threading.Thread(target=s.serve_forever, daemon=True) for s in (self.udp, self.tcp)
        ]

    def answer(self, data: bytes, tcp: bool) -> bytes | None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        with self._lock:
            self.queries[
                (name, dns.rdatatype.to_text(question.rdtype), "tcp" if tcp else "udp")
            ] += 1
        behaviour = self.behaviours.get(name)
        if behaviour is None:
            return reply(query, dns.rcode.NXDOMAIN).to_wire()
        return behaviour(query, tcp)

    def __enter__(self) -> ScriptedServer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self.udp, self.tcp):
            server.shutdown()
            server.server_close()


def rcode(code: int) -> Behaviour:
    return lambda q, tcp: reply(q, code).to_wire()


def silent() -> Behaviour:
    return lambda q, tcp: None


def garbage() -> Behaviour:
    return lambda q, tcp: q.to_wire()[:2] + b"\xff" * 5


def records(*lines: str, flags_aa: bool = False) -> Behaviour:
    """Answer with these RRs (zone-file lines with absolute names) in the answer section."""

    def behave(query: dns.message.Message, tcp: bool) -> bytes:
        response = reply(query)
        if flags_aa:
            response.flags |= dns.flags.AA
        for line in lines:
            name, ttl, cls, kind, *rest = line.split(None, 4)
            response.answer.append(dns.rrset.from_text(name, int(ttl), cls, kind, " ".join(rest)))
        return response.to_wire(max_size=65535 if tcp else 0)

    return behave


def truncating(*lines: str) -> Behaviour:
    """Over UDP: an empty answer with TC set; over TCP: the records."""
    full = records(*lines)

    def behave(query: dns.message.Message, tcp: bool) -> bytes:
        if tcp:
            return full(query, tcp)
        response = reply(query)
        response.flags |= dns.flags.TC
        return response.to_wire()

    return behave


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
