"""Conformance through real DNS.

Every scenario of the OpenSPF RFC 7208 test suite (selftests/data/openspf, BSD licence)
becomes a zone served by the embedded authoritative server on loopback, and dkimwatch's
``spf`` check judges the test's domain (its ``mailfrom`` domain, or ``helo`` when that is
empty) with the resolver it uses in production. Likewise every dkimpy key record
(selftests/data/dkimpy, licence there) is published behind an Exchange Online style
CNAME and judged by ``dkim_key``.

The suite evaluates check_host() for one client IP; dkimwatch audits the whole record
for every client and says whether it is valid and compliant. So each case's expected
result is translated into the audit's (AUDIT_RESULT, from the suite's result alone) and
every case is compared in full:

* ``pass``, ``fail``, ``softfail``, ``neutral``: check_host() evaluated the record to a
  definitive result, so the record is valid: the audit passes it (no include is required
  here);
* ``none``: no SPF record: the audit fails the domain (or the inventory refuses a domain
  that is no valid mail domain: "excluded");
* ``permerror`` and ``temperror``: the same;
* a list of acceptable results: any of their translations.

Where the audit gives something else on purpose, EXCEPTIONS names the case, what the
audit gives and why; nothing else is skipped. selftests/data/CONFORMANCE.md is written
by hand; its last test checks that it names every exception and states the counts that
follow from the suite and EXCEPTIONS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.zone
import pytest
from ruamel.yaml import YAML

from dkimwatch.checks import Context, check_dkim_key, check_spf
from dkimwatch.inventory import Domain, Policy
from dkimwatch.names import to_alabel
from dkimwatch.zoneserver import ZoneServer
from selftests.zonekit import Switchboard, zone_from_text

DATA = Path(__file__).resolve().parents[2] / "data"
SUITE = DATA / "openspf" / "rfc7208-tests.yml"
DKIMPY = DATA / "dkimpy"
REPORT = DATA / "CONFORMANCE.md"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

# What the audit gives for a domain whose check_host() result for the suite's client is…
AUDIT_RESULT = {
    "pass": "pass",
    "fail": "pass",
    "softfail": "pass",
    "neutral": "pass",
    "none": "fail",
    "permerror": "permerror",
    "temperror": "temperror",
}
# Cases where the audit differs from the translation on purpose: (its result, why).
EXCEPTIONS: dict[str, tuple[str, str]] = {
    "include-at-limit": (
        "permerror",
        "e8.example.com has 11 DNS-querying terms on its evaluation path (a, include, 8 x a "
        "in inc.example.com, then mx). check_host() passes the suite's client 1.2.3.4 "
        "because ip4:1.2.3.4 matches after the 10th; every other client reaches mx and "
        "gets permerror. An audit evaluates every term some client can reach.",
    ),
    "multispf2": (
        "fail",
        '"v=spf1 +all" passes the suite\'s client, as it passes every host on the '
        "internet: the audit fails a record that authorises everyone.",
    ),
    "all-double": (
        "fail",
        '"v=spf1 all -all": the first "all" (qualifier +) passes every client; the audit '
        "fails it like +all.",
    ),
    "include-softfail": (
        "fail",
        '"v=spf1 include:ip6.example.com all" ends in "all" (+): every client that the '
        "include does not match passes; the audit fails it like +all.",
    ),
}
# dkimpy key records: True = a usable email key (dkim_key passes), else why not.
DKIMPY_EXPECTED: dict[str, bool | str] = {
    "1024_testkey_wo_markers.pub.txt": True,
    "1024_testkey_wo_markers.pub.rsa.txt": True,  # bare PKCS#1 RSAPublicKey
    "2048_testkey_wo_markers.pub.txt": True,
    "2048_testkey_wo_markers.pub.rsa.txt": True,
    "2048_testkey_PKCS8.key.pub.txt": True,
    "test.txt": True,
    "test2.txt": True,  # no k=: rsa by default
    "ed25519test.dns": True,  # no v=: optional
    "eximtest.dns": True,
    "badk.txt": "unknown key type k=ed25519-sha256",
    "badversion.txt": "v= is not exactly DKIM1 (a colon where ';' belongs)",
    "test_bad.txt": "p= does not decode as an RSA key",
    "test_tlsrpt.txt": "s=tlsrpt: the key is not for email",
}


# --- OpenSPF: zones -------------------------------------------------------------------------


def _name(text: str) -> dns.name.Name:
    """A name exactly as the suite writes it: labels may hold ":", "/", "%" or spaces."""
    labels = [label.encode("latin-1") for label in text.rstrip(".").split(".")]
    return dns.name.Name([*labels, b""])


def _bytes(text: str) -> bytes:
    # The suite's non-ASCII test data are single bytes (e.g. "\x80"); keep them as such.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _txt_strings(value: Any) -> tuple[bytes, ...]:
    """A TXT value: a list is several character-strings; a long string is split at 255."""
    if isinstance(value, list):
        return tuple(_bytes(str(v)) for v in value) or (b"",)
    data = _bytes(str(value))
    return tuple(data[i : i + 255] for i in range(0, len(data), 255)) or (b"",)


def _txt_values(entries: list[Any]) -> list[Any]:
    """The suite's README: drivers copy type-SPF records to TXT unless the name has TXT data
    of its own; a TXT value "NONE" means: no TXT at all."""
    pairs = [(k, v) for e in entries if isinstance(e, dict) for k, v in e.items()]
    if any(k == "TXT" for k, _ in pairs):
        return [v for k, v in pairs if k == "TXT" and v != "NONE"]
    return [v for k, v in pairs if k == "SPF"]


@dataclass
class Scenario:
    description: str
    zone: dns.zone.Zone
    timeouts: dict[str, set[str]]  # name → the types that do answer; all others time out
    tests: dict[str, dict[str, Any]]


def _scenario(doc: dict[str, Any]) -> Scenario:
    # One root zone holds every name, so anything not listed is NXDOMAIN, as on the internet.
    zone = dns.zone.Zone(dns.name.root, relativize=False)
    # An explicit SOA: the server's made-up one ("ns.<origin>") is not a name at the root.
    soa = dns.rdata.from_text(
        dns.rdataclass.IN, dns.rdatatype.SOA, "ns.test. hostmaster.test. 1 3600 600 86400 300"
    )
    zone.find_rdataset(dns.name.root, dns.rdatatype.SOA, create=True).add(soa, 300)
    timeouts: dict[str, set[str]] = {}
    for raw, entries in doc["zonedata"].items():
        name = _name(str(raw))
        present: set[str] = set()
        for value in _txt_values(entries):
            txt = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, _txt_strings(value))
            zone.find_rdataset(name, dns.rdatatype.TXT, create=True).add(txt, 300)
            present.add("TXT")
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for kind, value in entry.items():
                if kind in ("TXT", "SPF"):
                    continue
                if kind == "MX":
                    host = str(value[1]).rstrip(".")
                    text = f"{value[0]} {host}." if host else f"{value[0]} ."  # "" = null MX
                else:
                    text = str(value)
                    if kind in ("PTR", "CNAME"):
                        text = text.rstrip(".") + "."
                rdtype = dns.rdatatype.from_text(kind)
                rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)
                zone.find_rdataset(name, rdtype, create=True).add(rdata, 300)
                present.add(kind)
        if "TIMEOUT" in entries:
            timeouts[str(raw).rstrip(".").lower()] = present
    return Scenario(str(doc["description"]), zone, timeouts, dict(doc["tests"]))


def _with_timeouts(server: ZoneServer, timeouts: dict[str, set[str]]) -> Callable[..., Any]:
    """The suite's TIMEOUT: a question for a type the name has no data of gets no usable
    answer. Modelled as SERVFAIL (the same temperror to dkimwatch as silence, without the
    wait)."""

    def respond(wire: bytes, tcp: bool) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        qname = question.name.to_text().rstrip(".").lower()
        if qname in timeouts and dns.rdatatype.to_text(question.rdtype) not in timeouts[qname]:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        return server.respond(wire, tcp)

    return respond


# --- OpenSPF: running ---------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    scenario: str
    name: str
    domain: str
    expected: tuple[str, ...]
    result: str  # dkimwatch's result, or "excluded"
    message: str


def _domain_of(test: dict[str, Any]) -> str:
    mailfrom = str(test.get("mailfrom") or "")
    return mailfrom.rpartition("@")[2] if mailfrom else str(test.get("helo") or "")


@cache
def openspf_outcomes() -> tuple[Outcome, ...]:
    yaml = YAML(typ="safe", pure=True)
    with SUITE.open(encoding="utf-8") as handle:
        docs = [d for d in yaml.load_all(handle) if d]
    out: list[Outcome] = []
    with Switchboard() as board:
        for doc in docs:
            scenario = _scenario(doc)
            server = ZoneServer({dns.name.root: scenario.zone})
            with board.serving(server) as resolver:
                board.target = _with_timeouts(server, scenario.timeouts)
                ctx = Context(
                    resolver=resolver,
                    policy=Policy(spf_require_include=None),
                    tenant=None,
                    now=NOW,
                )
                for name, test in scenario.tests.items():
                    raw = _domain_of(test)
                    result = test["result"]
                    expected = tuple(result) if isinstance(result, list) else (result,)
                    try:
                        domain = to_alabel(raw)
                    except ValueError as exc:
                        out.append(
                            Outcome(scenario.description, name, raw, expected, "excluded", str(exc))
                        )
                        continue
                    verdict = check_spf(ctx, Domain(name=domain, display=raw))
                    out.append(
                        Outcome(
                            scenario.description,
                            name,
                            domain,
                            expected,
                            verdict.result,
                            verdict.message,
                        )
                    )
    return tuple(out)


def _ids(outcomes: tuple[Outcome, ...]) -> list[str]:
    return [o.name for o in outcomes]


def _suite_cases() -> list[tuple[str, tuple[str, ...]]]:
    """(name, expected results) of every test in the suite file: read from the suite, not
    from dkimwatch."""
    yaml = YAML(typ="safe", pure=True)
    with SUITE.open(encoding="utf-8") as handle:
        docs = [d for d in yaml.load_all(handle) if d]
    out = []
    for doc in docs:
        for name, test in doc["tests"].items():
            result = test["result"]
            out.append((str(name), tuple(result) if isinstance(result, list) else (result,)))
    return out


OUTCOMES = openspf_outcomes()


@pytest.mark.parametrize("case", OUTCOMES, ids=_ids(OUTCOMES))
def test_openspf_case_gives_the_suites_result(case: Outcome) -> None:
    where = f"{case.name} ({case.domain}, expected {'/'.join(case.expected)})"
    if case.name in EXCEPTIONS:
        result, why = EXCEPTIONS[case.name]
        assert case.result == result, (
            f"{where}: {case.result} ({case.message}); listed as an exception giving "
            f"{result} because: {why}"
        )
        return
    if case.result == "excluded":
        # The suite's initial processing refuses these names too (result none).
        assert case.expected == ("none",), f"{where}: excluded ({case.message})"
        return
    acceptable = {AUDIT_RESULT[r] for r in case.expected}
    assert case.result in acceptable, f"{where}: {case.result}: {case.message}"


def test_openspf_every_suite_case_is_judged() -> None:
    assert [(o.name, o.expected) for o in OUTCOMES] == _suite_cases()
    assert set(EXCEPTIONS) <= {o.name for o in OUTCOMES}
    assert {r for _, e in _suite_cases() for r in e} <= set(AUDIT_RESULT)


# --- dkimpy key records -------------------------------------------------------------------


@dataclass(frozen=True)
class KeyOutcome:
    name: str
    expected: bool | str
    result: str
    message: str


@cache
def dkimpy_outcomes() -> tuple[KeyOutcome, ...]:
    out: list[KeyOutcome] = []
    with Switchboard() as board:
        for name in sorted(DKIMPY_EXPECTED):
            value = (DKIMPY / name).read_text(encoding="ascii").strip()
            data = value.encode("ascii")
            # Published like Exchange Online does: a CNAME to the tenant's key name, whose
            # TXT is split into 255-octet character-strings (RFC 6376 §3.6.2.2 joins them).
            strings = " ".join(f'"{data[i : i + 255].decode()}"' for i in range(0, len(data), 255))
            zones = {
                dns.name.from_text("example.com"): zone_from_text(
                    "example.com",
                    "selector1._domainkey IN CNAME "
                    "selector1-example-com._domainkey.contoso.onmicrosoft.com.\n",
                ),
                dns.name.from_text("contoso.onmicrosoft.com"): zone_from_text(
                    "contoso.onmicrosoft.com",
                    f"selector1-example-com._domainkey IN TXT {strings}\n",
                ),
            }
            with board.serving(zones) as resolver:
                ctx = Context(resolver=resolver, policy=Policy(), tenant="contoso", now=NOW)
                verdict = check_dkim_key(ctx, Domain("example.com", "example.com"), "selector1")
            out.append(KeyOutcome(name, DKIMPY_EXPECTED[name], verdict.result, verdict.message))
    return tuple(out)


@pytest.mark.parametrize("name", sorted(DKIMPY_EXPECTED))
def test_dkimpy_key_record(name: str) -> None:
    (case,) = [o for o in dkimpy_outcomes() if o.name == name]
    if case.expected is True:
        assert case.result == "pass", case.message
    else:
        assert case.result in ("fail", "permerror"), case.message


def test_dkimpy_data_is_all_covered() -> None:
    published = {p.name for p in DKIMPY.iterdir() if p.suffix in (".txt", ".dns")}
    assert published == set(DKIMPY_EXPECTED)


# --- the hand-written summary -------------------------------------------------------------


def test_conformance_file_states_the_suites_numbers_and_every_exception() -> None:
    """CONFORMANCE.md is written by hand; no test writes it. Its numbers follow from the
    suite file and EXCEPTIONS (the per-case tests above hold dkimwatch to them)."""
    text = REPORT.read_text(encoding="utf-8")
    cases = _suite_cases()
    excluded = sum(1 for o in OUTCOMES if o.result == "excluded")
    agree = len(cases) - len(EXCEPTIONS) - excluded
    headline = (
        f"OpenSPF RFC 7208 suite ({len(cases)} tests): {agree} give the audit result the "
        f"suite's result implies, {len(EXCEPTIONS)} differ by design, {excluded} excluded"
    )
    assert headline in text
    for name in EXCEPTIONS:
        assert re.search(rf"^- `{re.escape(name)}`", text, re.MULTILINE), name
    good = sum(1 for v in DKIMPY_EXPECTED.values() if v is True)
    bad = len(DKIMPY_EXPECTED) - good
    assert f"dkimpy key records ({len(DKIMPY_EXPECTED)}): {good} valid" in text
    assert f"{bad} bad ones" in text
