"""A realistic DNS test bed: two NSD authoritative servers and an Unbound resolver on loopback.

NSD #1 plays the customer's DNS host, NSD #2 plays Microsoft's (every zone whose origin
ends in one of MICROSOFT_SUFFIXES), and Unbound is the recursive resolver in front, with a
stub-zone per zone origin pointing at the right NSD. dkimwatch is pointed at the resolver,
so CNAME chains really cross from one operator's server to the other's, truncation really
falls back to TCP, and faults (Microsoft's server stopped mid-run) really turn into
SERVFAIL.

Network confinement (nothing may leave loopback): Unbound gets a stub-zone for "." pointing
at NSD #1 (which REFUSES it), so the built-in root hints are never used; every non-loopback
IPv4 range is listed in do-not-query-address, IPv6 is off, outgoing queries are bound to
127.0.10.3, no validator module means no trust-anchor probing, and remote control is a unix
socket.

Facts about Debian 12 (NSD 4.6.1, Unbound 1.17.1) this relies on:
- NSD: `database: ""` is required (4.6 still defaults to /var/lib/nsd/nsd.db);
  `username: ""` and `chroot: ""` keep it from switching to user nsd, so it runs as
  whoever starts it and can write its state into the work directory; `nsd -d` forks
  (xfrd keeps the original pid, "main" and the server are children) but the original pid
  is the pidfile's pid, and SIGTERM to it shuts the whole family down.
- Unbound: so-reuseport defaults to yes, which lets two instances share a port silently,
  so it is turned off to make a port clash fail loudly; Debian's security update
  1.17.1-2+deb12u4 backports discard-timeout (1900 ms), after which a client gets *no*
  reply at all, so it is 0 here to get SERVFAIL instead; infra-cache-max-rtt bounds the
  time to SERVFAIL when an authoritative server is down (default 2 min); after a server
  comes back, Unbound keeps it marked down (infra cache) and keeps the SERVFAIL (negative
  cache), and SIGHUP clears neither, so start_server() runs `unbound-control flush_infra
  all` and `flush_negative`.

Usage as a script (the first line of stdout is the resolver address, details on stderr):

    python selftests/testbed.py demo/zones [MICROSOFT_ZONEDIR] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

CUSTOMER_HOST = "127.0.10.1"
MICROSOFT_HOST = "127.0.10.2"
RESOLVER_HOST = "127.0.10.3"
# 127.0.0.53/54 belong to systemd-resolved, 127.0.0.1 to anything; 127.0.10.0/24 is quiet.

# Zone origins served by "Microsoft" (NSD #2) when one directory holds every zone.
MICROSOFT_SUFFIXES: tuple[str, ...] = (
    "onmicrosoft.com",  # classic DKIM targets: selector1-…._domainkey.<tenant>.onmicrosoft.com
    "microsoft",  # brand TLD: <tenant>.n-v1.dkim.mail.microsoft, <token>.x-v1.mx.microsoft
    "outlook.com",  # spf.protection.outlook.com, mail.protection.outlook.com
    "office365.us",  # GCC High / DoD SPF
    "outlook.cn",  # 21Vianet SPF
)

REQUIRED_BINARIES: tuple[str, ...] = ("nsd", "nsd-checkzone", "unbound", "unbound-control")
DEBIAN_PACKAGES: tuple[str, ...] = ("nsd", "unbound")

Role = Literal["customer", "microsoft", "resolver"]
# Start order: the authoritative servers first, as the resolver's config names their ports.
_START_ORDER: tuple[Role, ...] = ("customer", "microsoft", "resolver")
_STOP_ORDER: tuple[Role, ...] = ("resolver", "microsoft", "customer")
_NAMES: dict[Role, str] = {
    "customer": "nsd-customer",
    "microsoft": "nsd-microsoft",
    "resolver": "unbound",
}
_HOSTS: dict[Role, str] = {
    "customer": CUSTOMER_HOST,
    "microsoft": MICROSOFT_HOST,
    "resolver": RESOLVER_HOST,
}

# Every IPv4 block except 127.0.0.0/8, for Unbound's do-not-query-address: even a stray
# delegation cannot make it send a packet off the machine.
_NON_LOOPBACK_V4: tuple[str, ...] = tuple(
    str(net)
    for net in ipaddress.IPv4Network("0.0.0.0/0").address_exclude(
        ipaddress.IPv4Network("127.0.0.0/8")
    )
)

_SUN_PATH_MAX = 100  # sockaddr_un.sun_path is 108 bytes on Linux; keep a margin


class TestbedError(RuntimeError):
    """The test bed could not be set up or driven; the message says why."""

    __test__ = False  # not a pytest test class, despite the name


@dataclass(frozen=True, order=True)
class ZoneFile:
    """One zone file; the origin is the file name minus ".zone"."""

    origin: str  # lower case, no trailing dot
    path: Path


# -- zones -------------------------------------------------------------------------------


def find_zone_files(directory: Path) -> list[ZoneFile]:
    """Every *.zone file in directory (not recursive), sorted by origin."""
    if not directory.is_dir():
        raise TestbedError(f"{directory}: not a directory of zone files")
    zones: dict[str, ZoneFile] = {}
    for path in sorted(directory.glob("*.zone")):
        origin = path.name[: -len(".zone")].rstrip(".").lower()
        try:
            dns.name.from_text(origin)
        except dns.exception.DNSException as exc:
            raise TestbedError(f"{path}: file name is not a zone origin: {exc}") from None
        if not origin:
            raise TestbedError(f"{path}: the root zone cannot be served by the test bed")
        if origin in zones:
            raise TestbedError(f"{path}: origin {origin} also comes from {zones[origin].path}")
        zones[origin] = ZoneFile(origin, path.resolve())
    return sorted(zones.values())


def is_microsoft_origin(origin: str) -> bool:
    """True when origin is, or is below, one of MICROSOFT_SUFFIXES."""
    name = origin.rstrip(".").lower()
    return any(name == s or name.endswith("." + s) for s in MICROSOFT_SUFFIXES)


def split_zones(zones: Iterable[ZoneFile]) -> tuple[list[ZoneFile], list[ZoneFile]]:
    """(customer zones, Microsoft zones), by origin suffix."""
    customer: list[ZoneFile] = []
    microsoft: list[ZoneFile] = []
    for zone in zones:
        (microsoft if is_microsoft_origin(zone.origin) else customer).append(zone)
    return customer, microsoft


def check_zones(zones: Iterable[ZoneFile], nsd_checkzone: str) -> None:
    """Run nsd-checkzone on each zone: NSD itself would start anyway and SERVFAIL a bad zone."""
    problems: list[str] = []
    for zone in zones:
        proc = subprocess.run(
            [nsd_checkzone, zone.origin, str(zone.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            detail = (proc.stderr + proc.stdout).strip() or f"exit status {proc.returncode}"
            problems.append(f"{zone.path}: {detail}")
    if problems:
        raise TestbedError("invalid zone file(s):\n" + "\n".join(problems))


# -- binaries ----------------------------------------------------------------------------


def find_binary(name: str) -> str | None:
    """The path of a program, also looking in the sbin directories a non-root PATH lacks."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])
    return shutil.which(name, path=path)


def missing_binaries() -> list[str]:
    """Required programs that are not installed (empty when the test bed can run)."""
    return [name for name in REQUIRED_BINARIES if find_binary(name) is None]


@functools.cache
def _pdeathsig_prefix() -> tuple[str, ...]:
    """A command prefix that makes the kernel SIGTERM the daemon when this process dies.

    Covers what atexit cannot: the test runner being SIGKILLed. The signal follows the
    death of the *thread* that started the daemon, so start test beds from a thread that
    outlives them (pytest's main thread does).
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return ()
    try:
        usage = subprocess.run(
            [setpriv, "--help"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return ()
    return (setpriv, "--pdeathsig", "TERM", "--") if "--pdeathsig" in usage else ()


def _free_port(host: str, exclude: Iterable[int] = ()) -> int:
    """A port that is free for both UDP and TCP on host right now."""
    excluded = set(exclude)
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port: int = tcp.getsockname()[1]
            if port in excluded:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
            return port
    raise TestbedError(f"no free port on {host}")


def _quote(value: str | Path) -> str:
    """A double-quoted string for nsd.conf / unbound.conf, which have no escapes."""
    text = str(value)
    if '"' in text or "\n" in text:
        raise TestbedError(f"cannot put {text!r} in a server configuration file")
    return f'"{text}"'


# -- processes ---------------------------------------------------------------------------


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids in process group pgid, from /proc."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) >= 3 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


class _Daemon:
    """One server process in its own session, started and stopped by pid."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, argv: Sequence[str]) -> None:
        if self.alive():
            raise TestbedError(f"{self.name} is already running (pid {self.pid})")
        with self.log.open("ab") as log:
            log.write(f"--- testbed: starting {' '.join(argv)}\n".encode())
            log.flush()
            # Own session: a terminal's Ctrl-C does not hit the daemons before we stop them
            # in order, and every process the daemon forks can be found by its group.
            self._proc = subprocess.Popen(
                [*_pdeathsig_prefix(), *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait, SIGKILL after timeout; then make sure no forked child is left."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # NSD's children normally exit with their parent; give them a moment, then kill
        # whichever is left, one pid at a time (they share the daemon's process group).
        deadline = time.monotonic() + timeout
        while (members := _group_members(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def pids(self) -> list[int]:
        """The daemon and every process it forked (its process group)."""
        return _group_members(self._proc.pid) if self._proc is not None else []

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _answers_soa(
    host: str, port: int, origin: str | None, *, recursive: bool, timeout: float
) -> bool:
    """Whether the server answers like a ready one: SOA of origin, or anything at all."""
    query = dns.message.make_query(origin or ".", dns.rdatatype.SOA)
    if not recursive:
        query.flags &= ~dns.flags.RD
    try:
        response = dns.query.udp(query, host, port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return False
    if origin is None:
        return True  # a server with no zones is ready once it answers (REFUSED)
    has_soa = any(rrset.rdtype == dns.rdatatype.SOA for rrset in response.answer)
    authoritative = recursive or bool(response.flags & dns.flags.AA)
    return response.rcode() == dns.rcode.NOERROR and has_soa and authoritative


# -- the test bed ------------------------------------------------------------------------

_LIVE: set[Testbed] = set()


@atexit.register
def _stop_live_testbeds() -> None:
    """Last resort when a test bed was never stopped (e.g. an exception escaped a fixture)."""
    for testbed in list(_LIVE):
        testbed.stop()


class Testbed:
    """NSD (customer) + NSD (Microsoft) + Unbound (resolver) on 127.0.10.1-3, high ports.

    customer_zones holds the customer's *.zone files; microsoft_zones Microsoft's. With
    microsoft_zones None, customer_zones holds both and they are split by origin suffix
    (MICROSOFT_SUFFIXES). Everything the servers write goes under workdir.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        customer_zones: Path,
        microsoft_zones: Path | None = None,
        *,
        workdir: Path,
        verbosity: int = 1,
        upstream_max_rtt_ms: int = 500,
        startup_timeout: float = 10.0,
        extra_stubs: dict[str, str] | None = None,
    ) -> None:
        self.customer_zones_dir = Path(customer_zones)
        # origin -> "HOST@PORT" stub-zones of our own: e.g. a delegation to a dead port.
        self.extra_stubs = dict(extra_stubs or {})
        self.microsoft_zones_dir = Path(microsoft_zones) if microsoft_zones else None
        self.workdir = Path(workdir).resolve()
        self.verbosity = verbosity
        # Unbound's retransmit ceiling towards a silent server. With 500 ms, SERVFAIL comes
        # 0.6-1.3 s after a server stops: below dkimwatch's default 2 s client timeout.
        self.upstream_max_rtt_ms = upstream_max_rtt_ms
        self.startup_timeout = startup_timeout
        self.customer_zones: list[ZoneFile] = []
        self.microsoft_zones: list[ZoneFile] = []
        self._ports: dict[Role, int] = {}
        self._daemons: dict[Role, _Daemon] = {}
        self._control_dir: Path | None = None
        self._binaries: dict[str, str] = {}

    # -- addresses

    def _addr(self, role: Role) -> tuple[str, int]:
        if role not in self._ports:
            raise TestbedError("the test bed is not started")
        return _HOSTS[role], self._ports[role]

    @property
    def resolver_addr(self) -> tuple[str, int]:
        return self._addr("resolver")

    @property
    def customer_addr(self) -> tuple[str, int]:
        return self._addr("customer")

    @property
    def microsoft_addr(self) -> tuple[str, int]:
        return self._addr("microsoft")

    @property
    def resolver(self) -> str:
        """The resolver as "127.0.10.3:PORT", the form dkimwatch's --nameserver takes."""
        return "{}:{}".format(*self.resolver_addr)

    @property
    def customer(self) -> str:
        return "{}:{}".format(*self.customer_addr)

    @property
    def microsoft(self) -> str:
        return "{}:{}".format(*self.microsoft_addr)

    @property
    def origins(self) -> list[str]:
        return sorted(z.origin for z in [*self.customer_zones, *self.microsoft_zones])

    # -- lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Validate the zones, write the configs, start the three servers, wait until ready."""
        if self._daemons:
            raise TestbedError("the test bed is already started")
        for name in REQUIRED_BINARIES:
            found = find_binary(name)
            if found is None:
                packages = " ".join(DEBIAN_PACKAGES)
                raise TestbedError(f"{name} not found (Debian: apt-get install {packages})")
            self._binaries[name] = found
        self._load_zones()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._daemons = {
            role: _Daemon(name, self.workdir / f"{name}.log") for role, name in _NAMES.items()
        }
        _LIVE.add(self)
        try:
            for role in _START_ORDER:
                self._start_role(role, new_port_on_clash=True)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every server (resolver first); safe to call more than once."""
        for role in _STOP_ORDER:
            daemon = self._daemons.get(role)
            if daemon is not None:
                daemon.stop()
        self._daemons = {}
        if self._control_dir is not None:
            shutil.rmtree(self._control_dir, ignore_errors=True)
            self._control_dir = None
        _LIVE.discard(self)

    def reload(self) -> None:
        """Re-read the zone directories and restart every server on the same ports.

        A restart rather than SIGHUP: NSD reloads asynchronously (only files whose mtime
        changed), Unbound needs new stub-zones for new origins, and the caches must go.
        """
        for role in _STOP_ORDER:
            self._daemon(role).stop()
        self._load_zones()
        try:
            for role in _START_ORDER:
                self._start_role(role, new_port_on_clash=False)
        except BaseException:
            self.stop()
            raise

    # -- faults

    def stop_server(self, role: Literal["customer", "microsoft"]) -> None:
        """Stop one authoritative server (fault injection); the resolver keeps running."""
        self._daemon(role).stop()

    def start_server(self, role: Literal["customer", "microsoft"], *, flush: bool = True) -> None:
        """Start a stopped authoritative server again, on the same address and port.

        With flush, the resolver forgets that the server was down and the SERVFAILs it
        cached meanwhile; without it, Unbound keeps answering SERVFAIL for a while
        (infra-host-ttl, negative cache), as a production resolver would.
        """
        self._start_role(role, new_port_on_clash=False)
        if flush:
            self.flush_resolver()

    def stop_microsoft(self) -> None:
        self.stop_server("microsoft")

    def start_microsoft(self, *, flush: bool = True) -> None:
        self.start_server("microsoft", flush=flush)

    def running(self) -> dict[Role, bool]:
        return {role: daemon.alive() for role, daemon in self._daemons.items()}

    def pids(self) -> list[int]:
        """Every live process of the test bed (daemons and their forks)."""
        return sorted(pid for daemon in self._daemons.values() for pid in daemon.pids())

    # -- resolver control

    def unbound_control(self, *args: str) -> str:
        """Run unbound-control against this resolver (unix socket) and return its output."""
        daemon = self._daemon("resolver")
        if not daemon.alive():
            raise TestbedError("the resolver is not running")
        proc = subprocess.run(
            [self._binaries["unbound-control"], "-c", str(self._path("unbound.conf")), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if proc.returncode != 0:
            raise TestbedError(f"unbound-control {' '.join(args)}: {proc.stderr or proc.stdout}")
        return proc.stdout

    def flush_resolver(self) -> None:
        """Forget server health (infra cache) and cached NXDOMAIN/NODATA/SERVFAIL answers."""
        self.unbound_control("flush_infra", "all")
        self.unbound_control("flush_negative")

    def flush_cache(self) -> None:
        """Forget everything the resolver has cached."""
        self.unbound_control("flush_infra", "all")
        self.unbound_control("flush_zone", ".")

    def upstreams_contacted(self) -> set[tuple[str, int]]:
        """(address, port) of every server Unbound has sent a query to since the last flush."""
        contacted: set[tuple[str, int]] = set()
        for line in self.unbound_control("dump_infra").splitlines():
            if not line.strip():
                continue
            host, _, port = line.split()[0].partition("@")
            contacted.add((host, int(port or 53)))
        return contacted

    # -- internals

    def _daemon(self, role: Role) -> _Daemon:
        try:
            return self._daemons[role]
        except KeyError:
            raise TestbedError("the test bed is not started") from None

    def _path(self, name: str) -> Path:
        return self.workdir / name

    def _load_zones(self) -> None:
        if self.microsoft_zones_dir is None:
            customer, microsoft = split_zones(find_zone_files(self.customer_zones_dir))
        else:
            customer = find_zone_files(self.customer_zones_dir)
            microsoft = find_zone_files(self.microsoft_zones_dir)
            both = {z.origin for z in customer} & {z.origin for z in microsoft}
            if both:
                raise TestbedError(f"zones in both directories: {', '.join(sorted(both))}")
        check_zones([*customer, *microsoft], self._binaries["nsd-checkzone"])
        self.customer_zones, self.microsoft_zones = customer, microsoft

    def _start_role(self, role: Role, *, new_port_on_clash: bool) -> None:
        daemon = self._daemon(role)
        for attempt in range(3):
            if role not in self._ports:
                self._ports[role] = _free_port(_HOSTS[role])
            argv = self._write_config(role)
            log_size = daemon.log.stat().st_size if daemon.log.exists() else 0
            daemon.start(argv)
            failure = self._wait_ready(role)
            if failure is None:
                return
            daemon.stop()
            with daemon.log.open("rb") as log:
                log.seek(log_size)
                clash = b"already in use" in log.read()
            # Another process took the port between _free_port() and the bind.
            if clash and new_port_on_clash and attempt < 2:
                del self._ports[role]
                continue
            host, port = self._addr(role)
            raise TestbedError(
                f"{daemon.name} on {host}:{port} {failure}; "
                f"last lines of {daemon.log}:\n{daemon.log_tail()}"
            )

    def _wait_ready(self, role: Role) -> str | None:
        """None once the server answers SOA for one of its zones, else why it is not ready."""
        daemon = self._daemon(role)
        host, port = self._addr(role)
        if role == "resolver":
            origins = self.origins
        elif role == "customer":
            origins = [z.origin for z in self.customer_zones]
        else:
            origins = [z.origin for z in self.microsoft_zones]
        probe = origins[0] if origins else None
        deadline = time.monotonic() + self.startup_timeout
        # A UDP probe to a port nobody listens on yet gets no error back, only its timeout:
        # start short (loopback answers in a millisecond) and back off for loaded machines.
        timeout = 0.02
        while time.monotonic() < deadline:
            if not daemon.alive():
                return "exited during startup"
            if _answers_soa(host, port, probe, recursive=role == "resolver", timeout=timeout):
                return None
            timeout = min(timeout * 1.5, 1.0)
        return f"did not answer SOA {probe or '.'} within {self.startup_timeout:g} s"

    def _write_config(self, role: Role) -> list[str]:
        """Write the role's config file and return the command that runs it in the foreground."""
        if role == "resolver":
            conf = self._path("unbound.conf")
            conf.write_text(self._unbound_conf())
            return [self._binaries["unbound"], "-d", "-c", str(conf)]
        name = self._daemons[role].name
        zones = self.customer_zones if role == "customer" else self.microsoft_zones
        conf = self._path(f"{name}.conf")
        conf.write_text(self._nsd_conf(role, name, zones))
        return [self._binaries["nsd"], "-d", "-c", str(conf)]

    def _nsd_conf(self, role: Role, name: str, zones: Sequence[ZoneFile]) -> str:
        host, port = self._addr(role)
        w = self.workdir
        lines = [
            f"# Generated by selftests/testbed.py: the {role}'s authoritative server (NSD 4).",
            "server:",
            f"    ip-address: {host}@{port}",
            f"    port: {port}",
            "    do-ip4: yes",
            "    do-ip6: no",
            "    server-count: 1",
            "    reuseport: no",
            # No response rate limiting (Debian's NSD limits to 200 a second per client by
            # default): our one Unbound asking a large tenant's questions is not an attack,
            # and dropped answers would turn into upstream timeouts and SERVFAILs.
            "    rrl-ratelimit: 0",
            # Run as the invoking user, unconfined, so every state file can live in workdir.
            '    username: ""',
            '    chroot: ""',
            # NSD 4.6 still defaults to a compiled database in /var/lib/nsd.
            '    database: ""',
            f"    zonesdir: {_quote(w)}",
            f"    zonelistfile: {_quote(w / f'{name}.zonelist')}",
            f"    xfrdfile: {_quote(w / f'{name}.xfrd')}",
            f"    xfrdir: {_quote(w)}",
            f"    pidfile: {_quote(w / f'{name}.pid')}",
            f"    logfile: {_quote(w / f'{name}.log')}",
            f"    verbosity: {self.verbosity}",
            "remote-control:",
            "    control-enable: no",
        ]
        for zone in zones:
            lines += [
                "zone:",
                f"    name: {_quote(zone.origin)}",
                f"    zonefile: {_quote(zone.path)}",
            ]
        return "\n".join(lines) + "\n"

    def _control_socket(self) -> Path:
        sock = self._path("unbound.ctl")
        if len(str(sock)) <= _SUN_PATH_MAX:
            return sock
        # A deep workdir does not fit in sun_path: use a short private directory instead.
        if self._control_dir is None:
            self._control_dir = Path(tempfile.mkdtemp(prefix="dkw-unbound-"))
        return self._control_dir / "unbound.ctl"

    def _unbound_conf(self) -> str:
        host, port = self.resolver_addr
        customer = "{}@{}".format(*self.customer_addr)
        microsoft = "{}@{}".format(*self.microsoft_addr)
        w = self.workdir
        lines = [
            "# Generated by selftests/testbed.py: the recursive resolver (Unbound).",
            "server:",
            f"    interface: {host}@{port}",
            f"    port: {port}",
            "    do-ip4: yes",
            "    do-ip6: no",
            "    do-udp: yes",
            "    do-tcp: yes",
            # A port clash must fail, not share the port with a stale instance.
            "    so-reuseport: no",
            "    num-threads: 1",
            '    username: ""',
            '    chroot: ""',
            f"    directory: {_quote(w)}",
            f"    pidfile: {_quote(w / 'unbound.pid')}",
            "    use-syslog: no",
            f"    logfile: {_quote(w / 'unbound.log')}",
            "    log-time-ascii: yes",
            "    log-servfail: yes",
            f"    verbosity: {self.verbosity}",
            "    access-control: 127.0.0.0/8 allow",
            # No validator: no trust anchor, no root key probing. Flat stub zones: no
            # minimisation or referral-path checks, no fetching of NS targets.
            '    module-config: "iterator"',
            "    qname-minimisation: no",
            "    harden-referral-path: no",
            '    target-fetch-policy: "0 0 0 0 0"',
            "    prefetch: no",
            # Our authoritative servers are on loopback: allow querying it, and only it.
            "    do-not-query-localhost: no",
            f"    outgoing-interface: {host}",
            *(f"    do-not-query-address: {net}" for net in _NON_LOOPBACK_V4),
            # Answer SERVFAIL in bounded time when a server is down, instead of going silent
            # (discard-timeout) or retrying for up to two minutes (infra-cache-max-rtt).
            "    discard-timeout: 0",
            f"    infra-cache-max-rtt: {self.upstream_max_rtt_ms}",
            "    infra-keep-probing: yes",
            # "." goes to NSD #1, which serves no root zone and REFUSES: unknown names fail
            # fast and Unbound's built-in root hints are never used.
            "stub-zone:",
            '    name: "."',
            f"    stub-addr: {customer}",
        ]
        for zone in self.customer_zones:
            lines += [
                "stub-zone:",
                f"    name: {_quote(zone.origin)}",
                f"    stub-addr: {customer}",
            ]
        for zone in self.microsoft_zones:
            lines += [
                "stub-zone:",
                f"    name: {_quote(zone.origin)}",
                f"    stub-addr: {microsoft}",
            ]
        for origin, addr in sorted(self.extra_stubs.items()):
            if not addr.startswith("127."):
                raise TestbedError(f"stub {origin} -> {addr}: only loopback addresses")
            lines += ["stub-zone:", f"    name: {_quote(origin)}", f"    stub-addr: {addr}"]
        lines += [
            "remote-control:",
            "    control-enable: yes",
            f"    control-interface: {_quote(self._control_socket())}",
            "    control-use-cert: no",
        ]
        return "\n".join(lines) + "\n"

    def describe(self) -> Iterator[str]:
        """Human-readable lines about the running test bed."""
        yield f"resolver   {self.resolver}  (Unbound, log {self._path('unbound.log')})"
        for role in ("customer", "microsoft"):
            zones = self.customer_zones if role == "customer" else self.microsoft_zones
            name = self._daemons[role].name
            yield f"{role:<10} {getattr(self, role)}  (NSD, log {self._path(name + '.log')})"
            for zone in zones:
                yield f"             {zone.origin}"
        yield f"workdir    {self.workdir}"


# -- script ------------------------------------------------------------------------------


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve zone files with NSD (customer and Microsoft) behind Unbound on "
        "loopback until Ctrl-C. The first line of output is the resolver address."
    )
    parser.add_argument("zones", type=Path, help="directory of *.zone files (origin.zone)")
    parser.add_argument(
        "microsoft_zones",
        type=Path,
        nargs="?",
        help="Microsoft's zones; default: split ZONES by origin suffix",
    )
    parser.add_argument("--workdir", type=Path, help="configs, logs, pid files (default: temp)")
    parser.add_argument("--verbosity", type=int, default=1, help="NSD/Unbound log verbosity")
    args = parser.parse_args(argv)
    out = out or sys.stdout

    missing = missing_binaries()
    if missing:
        packages = " ".join(DEBIAN_PACKAGES)
        print(
            f"testbed: missing {', '.join(missing)} (apt-get install {packages})", file=sys.stderr
        )
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dkimwatch-testbed-"))
    # SIGTERM/SIGHUP unwind through the with-block like Ctrl-C does, stopping the servers;
    # SIGINT is restored in case a non-interactive shell started us with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)
    try:
        with Testbed(
            args.zones, args.microsoft_zones, workdir=workdir, verbosity=args.verbosity
        ) as testbed:
            print(testbed.resolver, file=out, flush=True)
            for line in testbed.describe():
                print(line, file=sys.stderr)
            print(f"try: dig -p {testbed.resolver_addr[1]} @{RESOLVER_HOST} ...", file=sys.stderr)
            print("Ctrl-C to stop", file=sys.stderr, flush=True)
            while True:
                time.sleep(1)
                down = [role for role, up in testbed.running().items() if not up]
                if down:
                    print(f"testbed: {', '.join(down)} died; see {workdir}", file=sys.stderr)
                    return 1
    except TestbedError as exc:
        print(f"testbed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
