"""SPF parser: unit cases, then the OpenSPF RFC 7208 test suite.

The OpenSPF suite (copied into selftests/data/openspf, BSD licence in
rfc7208-tests.LICENSE) evaluates check_host(); a parser can only be held to the part of
it that is syntax. Per test we collect the SPF records check_host() reads (the record at
the sender's domain, then include: and redirect= targets) and require:

* tests expecting only ``permerror`` because a record is malformed: some record on the
  path has errors;
* tests expecting ``permerror`` for a reason found only while evaluating (listed in
  PROCESSING with the reason): no record on the path has errors, since none is malformed;
* tests expecting anything else: no record on the path has errors (no false positives).

Tests whose expected result is a choice that includes permerror are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from dkimwatch.records.spf import (
    Mechanism,
    Modifier,
    dns_name_problem,
    expand_domain_spec,
    is_spf_record,
    parse_spf,
)

SUITE = Path(__file__).resolve().parents[2] / "data" / "openspf" / "rfc7208-tests.yml"

# permerror results that come from evaluation, not from a malformed record.
PROCESSING = {
    "multitxt1": "two v=spf1 TXT records at one name (record selection, §4.5)",
    "multitxt2": "two v=spf1 TXT records at one name (record selection, §4.5)",
    "include-none": "the included name has no SPF record (§5.2)",
    "redirect-none": "the redirect= target has no SPF record (§6.1)",
    "redirect-loop": "redirect loop exceeds 10 DNS-querying terms (§4.6.4)",
    "include-loop": "include loop exceeds 10 DNS-querying terms (§4.6.4)",
    "mx-limit": "an MX RRset of more than 10 names (§4.6.4)",
    "mech-over-limit": "11 DNS-querying terms (§4.6.4)",
    "include-over-limit": "more than 10 DNS-querying terms through an include (§4.6.4)",
    "void-over-limit": "more than 2 void lookups (§4.6.4)",
}


# --- unit cases ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=spf1", True),
        ("v=spf1 -all", True),
        ("V=SpF1 ~all", True),
        ("v=spf10", False),
        ("v=spf1\t-all", False),
        (" v=spf1 -all", False),
        ("spf2.0/pra -all", False),
        ("", False),
    ],
)
def test_is_spf_record(text: str, expected: bool) -> None:
    assert is_spf_record(text) is expected


def test_exchange_online_record() -> None:
    rec = parse_spf("v=spf1 include:spf.protection.outlook.com -all")
    assert rec.errors == ()
    assert rec.warnings == ()
    assert rec.all_qualifier == "-"
    assert rec.terms[0] == Mechanism(
        "+", "include", domain_spec="spf.protection.outlook.com", text=rec.terms[0].text
    )
    assert rec.lookup_terms == 1
    assert rec.dns_mechanisms == (rec.terms[0],)


def test_terms_fields() -> None:
    rec = parse_spf(
        "v=spf1  A/24//64 mx:mail.example.com ?ip4:192.0.2.0/24 ip6:2001:db8::/32 "
        "~exists:%{i}._spf.example.com ptr -all exp=why.example.com "
    )
    assert rec.errors == ()
    a, mx, ip4, ip6, exists, ptr, all_ = rec.mechanisms
    assert (a.name, a.qualifier, a.domain_spec, a.cidr4, a.cidr6) == ("a", "+", None, 24, 64)
    assert (mx.domain_spec, mx.cidr4) == ("mail.example.com", None)
    assert (ip4.qualifier, ip4.ip, ip4.cidr4) == ("?", "192.0.2.0", 24)
    assert (ip6.ip, ip6.cidr6, ip6.cidr4) == ("2001:db8::", 32, None)
    assert exists.qualifier == "~"
    assert ptr.domain_spec is None
    assert all_.qualifier == "-"
    assert rec.modifiers == (Modifier("exp", "why.example.com", "exp=why.example.com"),)
    assert rec.exp == "why.example.com"
    assert rec.lookup_terms == 4  # a mx exists ptr; exp does not count
    assert any('"ptr"' in w for w in rec.warnings)


def test_redirect_counts_as_lookup_only_without_all() -> None:
    rec = parse_spf("v=spf1 mx redirect=_spf.example.com")
    assert rec.redirect == "_spf.example.com"
    assert rec.redirect_effective
    assert rec.lookup_terms == 2
    assert not any('no "all"' in w for w in rec.warnings)
    with_all = parse_spf("v=spf1 mx redirect=_spf.example.com -all")
    assert with_all.lookup_terms == 1
    assert any("ignored" in w for w in with_all.warnings)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("v=spf1 foo -all", 'unknown mechanism "foo"'),
        ("v=spf1 redirect:example.com", "redirect is a modifier"),
        ("v=spf1 ip4:192.0.2.256 -all", 'invalid IPv4 address "192.0.2.256"'),
        ("v=spf1 ip4:192.0.2.1/33 -all", "out of range 0..32"),
        ("v=spf1 ip6:2001:db8::/129 -all", "out of range 0..128"),
        ("v=spf1 ip6:2001:db8::zz -all", "invalid IPv6 address"),
        ("v=spf1 ip6:fe80::1%eth0 -all", "invalid IPv6 address"),
        ("v=spf1 include -all", '"include" needs a domain'),
        ("v=spf1 exists: -all", '"exists" needs a domain'),
        ("v=spf1 a:192.0.2.1 -all", "use ip4:192.0.2.1"),
        ("v=spf1 include:example.com/24 -all", "takes no CIDR length"),
        ("v=spf1 -all:foo", '"all" takes no argument'),
        ("v=spf1 redirect=a.example redirect=b.example", '"redirect=" appears more than once'),
        ("v=spf1 -all exp=a.example exp=b.example", '"exp=" appears more than once'),
        ("v=spf1 1x=y -all", 'invalid modifier name "1x"'),
        ("v=spf1 exists:%{x}.example.com -all", '"x" is not a macro letter'),
        ("v=spf1 exists:%{c}.example.com -all", "only allowed in explanation text"),
        ("v=spf1 exists:%{d0}.example.com -all", "must be nonzero"),
        ("v=spf1 exists:%{i.example.com -all", "unterminated macro"),
        ("v=spf1 exists:100%.example.com -all", '"%" must be followed by'),
        ("v=spf1 a:example.com\t-all", "control character U+0009"),
        ("v=spf1 a:exämple.com -all", "non-ASCII character U+00E4"),
        ("v=spf1 a:-all", "must end in"),
        ("v=spf1 redirect=", "needs a domain"),
        ("v=spf", "not an SPF record"),
    ],
)
def test_syntax_errors(text: str, fragment: str) -> None:
    rec = parse_spf(text)
    assert rec.errors, text
    assert any(fragment in e for e in rec.errors), rec.errors
    for message in rec.errors:
        assert "\n" not in message and "\r" not in message and "\t" not in message


@pytest.mark.parametrize(
    ("text", "fragment", "all_qualifier"),
    [
        ("v=spf1 +all", '"+all" authorises every host', "+"),
        ("v=spf1 all", '"all" authorises every host', "+"),
        ("v=spf1 mx ?all", '"?all"', "?"),
        ("v=spf1 mx", 'no "all" and no "redirect="', None),
        ("v=spf1 ptr:example.com -all", '"ptr" is slow', "-"),
        ("v=spf1 -all mx", 'never evaluated: "mx"', "-"),
        ("v=spf1 ip4:0.0.0.0/0 -all", "every IPv4 address", "-"),
        ("v=spf1 a:mail..example.com -all", "empty label", "-"),
        ("v=spf1 redirct=_spf.example.com -all", 'unknown modifier "redirct=', "-"),
    ],
)
def test_warnings(text: str, fragment: str, all_qualifier: str | None) -> None:
    rec = parse_spf(text)
    assert rec.errors == (), rec.errors
    assert any(fragment in w for w in rec.warnings), rec.warnings
    assert rec.all_qualifier == all_qualifier


def test_plus_all_flag() -> None:
    assert parse_spf("v=spf1 +all").plus_all
    assert parse_spf("v=spf1 -all all").plus_all  # never reached, still published
    assert parse_spf("v=spf1 -all all").all_qualifier == "-"
    assert not parse_spf("v=spf1 ~all").plus_all


def test_macros_and_odd_but_valid_domains() -> None:
    for text in [
        "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
        "v=spf1 a:%{H} -all",
        "v=spf1 a:macro%%percent%_%_space%-url.example.com -all",
        "v=spf1 redirect=%{d}.d.spf.example.com.",
        "v=spf1 a:foo:bar/baz.example.com -all",
        "v=spf1 a:foo.example.xn--zckzah -all",
        "v=spf1 mx:foo.example.com/24 -all",
        "v=spf1 default=pass -all",
        "v=spf1 -all exp=explain._spf.%{d}",
    ]:
        assert parse_spf(text).errors == (), text


def test_mx_domain_and_dual_cidr() -> None:
    (mx, _) = parse_spf("v=spf1 mx:foo.example.com/24//64 -all").mechanisms
    assert (mx.domain_spec, mx.cidr4, mx.cidr6) == ("foo.example.com", 24, 64)
    (a, _) = parse_spf("v=spf1 a//0 -all").mechanisms
    assert (a.domain_spec, a.cidr4, a.cidr6) == (None, None, 0)


def test_terms_after_all_are_never_evaluated() -> None:
    # check_host() stops at the first "all", so what follows costs no lookup (§4.6.2).
    rec = parse_spf("v=spf1 a mx -all include:x.example exists:y.example ptr")
    assert [m.name for m in rec.evaluated_mechanisms] == ["a", "mx", "all"]
    assert rec.lookup_terms == 2
    assert parse_spf("v=spf1 a mx").evaluated_mechanisms == parse_spf("v=spf1 a mx").mechanisms


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("_spf.%{d}", "_spf.mail.example.com"),
        ("%{d2}", "example.com"),
        ("%{dr}", "com.example.mail"),
        ("%{d1r}", "mail"),
        ("%{o}.x.example", "example.com.x.example"),
        ("%{D}", "mail.example.com"),  # upper case: URL-escaped, a plain name is unchanged
        ("%{d-}", "mail.example.com"),  # "-" as delimiter, rejoined with "."
        ("macro%%percent%_%_space%-url.example", "macro%percent  space%20url.example"),
        ("plain.example.", "plain.example."),
        ("%{i}.sbl.example", None),  # the client IP: unknown without a message
        ("%{l}.%{d}", None),
        ("%{h}", None),
        ("%{d0}", None),
        ("%(d)", None),
        ("%{d", None),
        ("%", None),
    ],
)
def test_expand_domain_spec(spec: str, expected: str | None) -> None:
    assert expand_domain_spec(spec, "mail.example.com", "example.com") == expected


def test_expand_truncates_long_names_from_the_left() -> None:
    # RFC 7208 §7.3: over 253 characters, whole labels go from the left until it fits.
    domain = ".".join([f"label{i:02d}" for i in range(40)]) + ".example"
    out = expand_domain_spec("%{d}.%{d}", domain, domain)
    assert out is not None and len(out) <= 253
    assert out.endswith(".example") and not out.startswith(".")
    assert (domain + "." + domain).endswith(out)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("example.com", ""),
        ("example.com.", ""),
        ("a..example.com", "has an empty label"),
        ("", "is empty"),
        ("a" * 64 + ".example.com", "has a label longer than 63 octets"),
        (".".join(["a" * 60] * 5), "is longer than 253 octets"),
    ],
)
def test_dns_name_problem(name: str, problem: str) -> None:
    assert dns_name_problem(name) == problem


# --- OpenSPF RFC 7208 suite ----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    scenario: str
    name: str
    expected: tuple[str, ...]
    records: tuple[str, ...]  # SPF records check_host() reads, first the sender domain's
    description: str


def _strings(value: Any) -> str:
    # A TXT record given as a list is several character-strings, joined with nothing.
    return "".join(value) if isinstance(value, list) else str(value)


def _txt(zone: dict[str, list[Any]], name: str) -> list[str]:
    """TXT strings at ``name``. As the suite's README says, scenarios write type-SPF
    records that drivers copy to TXT unless the name also has TXT data of its own
    (a TXT value of "NONE" means: no TXT)."""
    entries = [e for e in zone.get(name, []) if isinstance(e, dict)]
    txt = [_strings(v) for e in entries for k, v in e.items() if k == "TXT"]
    if any(k == "TXT" for e in entries for k in e):
        return [t for t in txt if t != "NONE"]
    return [_strings(v) for e in entries for k, v in e.items() if k == "SPF"]


def _spf_at(zone: dict[str, list[Any]], name: str) -> str | None:
    found = [t for t in _txt(zone, name) if is_spf_record(t)]
    return found[0] if len(found) == 1 else None


def _targets(record: str, domain: str) -> Iterator[str]:
    """Literal include: and effective redirect= targets (%{d} is the one macro we expand)."""
    rec = parse_spf(record)
    specs = [m.domain_spec for m in rec.mechanisms if m.name == "include" and m.domain_spec]
    if rec.redirect_effective and rec.redirect:
        specs.append(rec.redirect)
    for spec in specs:
        spec = spec.replace("%{d}", domain)
        if "%" not in spec:
            yield spec.lower().rstrip(".")


def _path(zone: dict[str, list[Any]], domain: str) -> tuple[str, ...]:
    seen: list[str] = []
    todo = [domain]
    visited: set[str] = set()
    while todo:
        name = todo.pop(0)
        if name in visited:
            continue
        visited.add(name)
        record = _spf_at(zone, name)
        if record is None:
            continue
        if record not in seen:
            seen.append(record)
        todo.extend(_targets(record, name))
    return tuple(seen)


@cache
def openspf_cases() -> tuple[Case, ...]:
    if not SUITE.is_file():
        return ()
    yaml = YAML(typ="safe", pure=True)
    cases: list[Case] = []
    with SUITE.open(encoding="utf-8") as handle:
        for doc in yaml.load_all(handle):
            if not doc:
                continue
            zone = {str(k).lower(): v for k, v in doc["zonedata"].items()}
            for name, test in doc["tests"].items():
                mailfrom = str(test.get("mailfrom") or "")
                domain = mailfrom.rpartition("@")[2] if mailfrom else str(test["helo"])
                result = test["result"]
                expected = tuple(result) if isinstance(result, list) else (result,)
                cases.append(
                    Case(
                        scenario=doc["description"],
                        name=name,
                        expected=expected,
                        records=_path(zone, domain.lower().rstrip(".")),
                        description=str(test.get("description") or "").strip(),
                    )
                )
    return tuple(cases)


def _ids(cases: tuple[Case, ...]) -> list[str]:
    return [c.name for c in cases]


SYNTAX = tuple(
    c for c in openspf_cases() if c.expected == ("permerror",) and c.name not in PROCESSING
)
EVALUATION = tuple(c for c in openspf_cases() if c.name in PROCESSING)
VALID = tuple(c for c in openspf_cases() if "permerror" not in c.expected)


@pytest.mark.parametrize("case", SYNTAX, ids=_ids(SYNTAX))
def test_openspf_syntax_permerror_flagged(case: Case) -> None:
    assert case.records, f"{case.name}: no SPF record found for the sender"
    parsed = [parse_spf(r) for r in case.records]
    assert any(p.errors for p in parsed), f"{case.name} ({case.description}): {case.records}"


@pytest.mark.parametrize("case", EVALUATION, ids=_ids(EVALUATION))
def test_openspf_evaluation_permerror_not_syntax(case: Case) -> None:
    for record in case.records:
        assert parse_spf(record).errors == (), f"{case.name}: {PROCESSING[case.name]}"


@pytest.mark.parametrize("case", VALID, ids=_ids(VALID))
def test_openspf_valid_records_clean(case: Case) -> None:
    for record in case.records:
        assert parse_spf(record).errors == (), f"{case.name}: {record!r}"


def test_openspf_mech_over_limit_is_visible_statically() -> None:
    (case,) = [c for c in EVALUATION if c.name == "mech-over-limit"]
    assert parse_spf(case.records[0]).lookup_terms == 11
    (at_limit,) = [c for c in VALID if c.name == "mech-at-limit"]
    assert parse_spf(at_limit.records[0]).lookup_terms == 10


def test_openspf_counts() -> None:
    """The numbers reported for the suite: every syntactic permerror flagged, every
    evaluation-only permerror and every valid record clean."""
    flagged = [c for c in SYNTAX if any(parse_spf(r).errors for r in c.records)]
    bad_records = {r for c in SYNTAX for r in c.records if parse_spf(r).errors}
    valid_records = {r for c in VALID for r in c.records}
    false_positives = {r for r in valid_records if parse_spf(r).errors}
    assert len(SYNTAX) > 50 and len(valid_records) > 50
    summary = (
        f"{len(flagged)}/{len(SYNTAX)} syntax permerror tests flagged "
        f"({len(bad_records)} distinct malformed records), "
        f"{len(false_positives)} false positives on {len(valid_records)} valid records, "
        f"{len(EVALUATION)} evaluation-only permerrors left to the include walk"
    )
    assert len(flagged) == len(SYNTAX) and not false_positives, summary
