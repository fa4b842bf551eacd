"""Conformance through real DNS.

Every scenario of the OpenSPF RFC 7208 test suite (selftests/data/openspf, BSD licence)
becomes a zone served by the embedded authoritative server on loopback, and dkimwatch's
``spf`` check judges the test's domain (its ``mailfrom`` domain, or ``helo`` when that is
empty) with the resolver it uses in production. Likewise every dkimpy key record
(selftests/data/dkimpy, licence there) is published behind an Exchange Online style
CNAME and judged by ``dkim_key``.

The suite evaluates check_host() for one client IP; dkimwatch audits the whole record
for every client, so the comparison is:

* a test expecting only ``permerror`` - from syntax or from a processing limit (lookup
  count, void lookups, more than 10 MX, include or redirect of nothing, several records)
  - must give ``permerror``;
* a test expecting anything else must not give ``permerror``, except where the static
  audit is stricter by design (STRICTER, with the reason);
* tests whose domain the inventory refuses are excluded (dkimwatch never checks them);
* tests that accept permerror or another result are counted but hold nothing.

The numbers are kept in selftests/data/CONFORMANCE.md; the last test fails when the file
does not say what was measured (DKIMWATCH_WRITE_CONFORMANCE=1 rewrites it).
"""

from __future__ import annotations

import os
from collections import Counter
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

DATA = Path(__file__).parent / "data"
SUITE = DATA / "openspf" / "rfc7208-tests.yml"
DKIMPY = DATA / "dkimpy"
REPORT = DATA / "CONFORMANCE.md"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

# Tests expecting something other than permerror, which the audit reports as permerror
# on purpose. Each reason says why check_host() for the suite's one client differs.
STRICTER = {
    "include-at-limit": (
        "e8.example.com has 11 DNS-querying terms on its evaluation path (a, include, 8 x a "
        "in inc.example.com, then mx). check_host() passes the suite's client 1.2.3.4 "
        "because ip4:1.2.3.4 matches after the 10th; every other client reaches mx and "
        "gets permerror. An audit evaluates every term some client can reach."
    ),
}
# Tests expecting permerror for which fail is an acceptable verdict: none needed.
PERMERROR_AS_FAIL: dict[str, str] = {}

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

    @property
    def kind(self) -> str:
        if self.result == "excluded":
            return "excluded"
        if self.expected == ("permerror",):
            return "permerror"
        if "permerror" in self.expected:
            return "either"
        return "other"


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


def _select(kind: str) -> tuple[Outcome, ...]:
    if not SUITE.is_file():
        return ()
    return tuple(o for o in openspf_outcomes() if o.kind == kind)


PERMERRORS = _select("permerror")
OTHERS = _select("other")


@pytest.mark.parametrize("case", PERMERRORS, ids=_ids(PERMERRORS))
def test_openspf_permerror_is_flagged(case: Outcome) -> None:
    allowed = ("permerror", "fail") if case.name in PERMERROR_AS_FAIL else ("permerror",)
    assert case.result in allowed, f"{case.name} ({case.domain}): {case.result}: {case.message}"


@pytest.mark.parametrize("case", OTHERS, ids=_ids(OTHERS))
def test_openspf_valid_is_not_a_permerror(case: Outcome) -> None:
    if case.name in STRICTER:
        assert case.result == "permerror", f"{case.name} is no longer stricter: update STRICTER"
        return
    assert case.result != "permerror", f"{case.name} ({case.domain}): {case.message}"
    if "temperror" in case.expected:
        # The suite's TIMEOUT reaches the check as a DNS failure: never a verdict on records.
        assert case.result == "temperror", case.message


def test_openspf_exclusions_are_only_invalid_domains() -> None:
    excluded = _select("excluded")
    # Each of them expects "none": the suite's initial processing refuses the name too.
    assert excluded and all(o.expected == ("none",) for o in excluded), excluded
    assert set(STRICTER) <= {o.name for o in OTHERS}
    assert set(PERMERROR_AS_FAIL) <= {o.name for o in PERMERRORS}


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


# --- the numbers ------------------------------------------------------------------------------


def conformance_markdown() -> str:
    spf = openspf_outcomes()
    kinds = Counter(o.kind for o in spf)
    permerrors = [o for o in spf if o.kind == "permerror"]
    flagged = [o for o in permerrors if o.result == "permerror"]
    as_fail = [o for o in permerrors if o.result == "fail" and o.name in PERMERROR_AS_FAIL]
    others = [o for o in spf if o.kind == "other"]
    stricter = [o for o in others if o.name in STRICTER and o.result == "permerror"]
    false_pos = [o for o in others if o.result == "permerror" and o.name not in STRICTER]
    temperrors = [o for o in others if "temperror" in o.expected]
    temp_ok = [o for o in temperrors if o.result == "temperror"]
    either = [o for o in spf if o.kind == "either"]
    excluded = [o for o in spf if o.kind == "excluded"]
    keys = dkimpy_outcomes()
    good = [k for k in keys if k.expected is True]
    bad = [k for k in keys if k.expected is not True]
    good_pass = [k for k in good if k.result == "pass"]
    bad_flagged = [k for k in bad if k.result in ("fail", "permerror")]

    lines = [
        "# Conformance through real DNS",
        "",
        "Measured by `selftests/test_conformance.py` (which fails when this file disagrees;",
        "`DKIMWATCH_WRITE_CONFORMANCE=1` rewrites it): each test's records are served by the",
        "embedded authoritative server on loopback and judged by dkimwatch's own checks.",
        "",
        f"**OpenSPF RFC 7208 suite ({len(spf)} tests): {len(flagged) + len(as_fail)}/"
        f"{len(permerrors)} permerror cases flagged, {len(false_pos)} false positives on "
        f"{len(others)} others ({len(stricter)} stricter by design, listed below); "
        f"{len(either)} accept either, {len(excluded)} excluded.**",
        "",
        "| tests | count | dkimwatch `spf` |",
        "|---|---|---|",
        f"| expect permerror (syntax or processing limits) | {kinds['permerror']} | "
        f"{len(flagged)} permerror, {len(as_fail)} fail (stricter policy) |",
        f"| expect another result | {kinds['other']} | {len(false_pos)} permerror "
        f"(false positive), {len(stricter)} permerror where the audit is stricter by design |",
        f"| of which expect temperror (TIMEOUT) | {len(temperrors)} | {len(temp_ok)} temperror |",
        f"| accept permerror or another result | {kinds['either']} | "
        + ", ".join(f"{n} {r}" for r, n in sorted(Counter(o.result for o in either).items()))
        + " |",
        f"| excluded: the inventory refuses the domain | {kinds['excluded']} | not checked |",
        "",
        "Stricter by design:",
        "",
        *[f"- `{o.name}`: {STRICTER[o.name]}" for o in stricter],
        "",
        "Excluded (each expects `none`: the domain is not a valid mail domain, so the "
        "inventory stops with a one-line error before any check):",
        "",
        *[f"- `{o.name}` ({o.domain!r}): {o.message}" for o in excluded],
        "",
        "Modelling: the suite's SPF-type records are copied to TXT as its README prescribes;",
        "`TIMEOUT` is served as SERVFAIL for the types a name has no data of (a temperror to",
        "dkimwatch either way).",
        "",
        f"**dkimpy key records ({len(keys)}): {len(good_pass)}/{len(good)} valid keys pass "
        f"`dkim_key`, {len(bad_flagged)}/{len(bad)} bad ones fail or permerror.**",
        "",
        *[
            f"- `{k.name}`: {k.result}"
            + ("" if k.expected is True else f" (expected bad: {k.expected})")
            for k in keys
        ],
        "",
    ]
    return "\n".join(lines)


def test_conformance_file_says_what_was_measured() -> None:
    text = conformance_markdown()
    if os.environ.get("DKIMWATCH_WRITE_CONFORMANCE") == "1":
        REPORT.write_text(text, encoding="utf-8")
    assert REPORT.is_file(), "run with DKIMWATCH_WRITE_CONFORMANCE=1 to create it"
    assert REPORT.read_text(encoding="utf-8") == text, (
        "selftests/data/CONFORMANCE.md is out of date; rerun with DKIMWATCH_WRITE_CONFORMANCE=1"
    )
    print(text.splitlines()[6])  # the headline, for -s runs
