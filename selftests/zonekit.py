"""Zones for check tests: built in memory, served over real loopback sockets.

Starting and stopping an embedded server per test costs about a second (socketserver
polls for shutdown), so a module starts one :class:`Switchboard` and each test points it
at its own, never-started :class:`ZoneServer`: the answers are that server's, the
transport is real UDP/TCP on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dns.name
import dns.zone

from dkimwatch.resolver import DnsClient, Resolver
from dkimwatch.zoneserver import ZoneServer

Zones = dict[dns.name.Name, dns.zone.Zone]


def zone_from_text(origin: str, body: str) -> dns.zone.Zone:
    """A zone from zone-file lines relative to ``origin`` (no SOA or NS needed)."""
    return dns.zone.from_text(
        "$TTL 300\n" + body, origin=origin, relativize=False, check_origin=False
    )


def zones_from_text(zones: dict[str, str]) -> Zones:
    return {
        dns.name.from_text(origin): zone_from_text(origin, body) for origin, body in zones.items()
    }


class Switchboard(ZoneServer):
    """A started server that answers with whatever ``target`` (a ZoneServer, or any
    ``respond(wire, tcp)`` callable) says; no target: dropped."""

    def __init__(self) -> None:
        super().__init__({})
        self.target: Callable[[bytes, bool], bytes | None] | None = None

    def __enter__(self) -> Switchboard:
        self.start()
        return self

    def respond(self, wire: bytes, tcp: bool) -> bytes | None:
        target = self.target
        return target(wire, tcp) if target is not None else None

    @contextmanager
    def serving(self, zones: Zones | ZoneServer, timeout: float = 2.0) -> Iterator[Resolver]:
        """Answer from ``zones`` for the duration; yields a fresh resolver asking us."""
        server = zones if isinstance(zones, ZoneServer) else ZoneServer(zones)
        self.target = server.respond
        try:
            yield Resolver(DnsClient([self.address], timeout=timeout, attempts=1))
        finally:
            self.target = None
