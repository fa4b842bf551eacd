"""Property tests: no parser raises, whatever a TXT record holds, and every message it
produces fits on one line."""

from __future__ import annotations

import inspect
from collections.abc import Iterable

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dkimwatch.records.dkim as dkim_module
import dkimwatch.records.dmarc as dmarc_module
import dkimwatch.records.spf as spf_module
import dkimwatch.records.taglist as taglist_module
from dkimwatch.records.dkim import judge_dkim_key, parse_dkim_key
from dkimwatch.records.dmarc import (
    is_dmarc_record,
    lower_policy,
    parse_dmarc,
    policy_rank,
    tree_walk_names,
    tree_walk_organisational_domain,
)
from dkimwatch.records.spf import dns_name_problem, expand_domain_spec, is_spf_record, parse_spf
from dkimwatch.records.taglist import clip, parse_tag_list

# Every public function of dkimwatch.records, as exercise() calls it; the last test
# fails when a module exports a function that is not fuzzed here.
EXERCISED = {
    clip,
    parse_tag_list,
    parse_dkim_key,
    judge_dkim_key,
    parse_spf,
    is_spf_record,
    expand_domain_spec,
    dns_name_problem,
    parse_dmarc,
    is_dmarc_record,
    policy_rank,
    lower_policy,
    tree_walk_names,
    tree_walk_organisational_domain,
}

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Prefixes that steer random text into each parser's interesting paths.
PREFIXES = st.sampled_from(
    ["", "v=spf1 ", "v=DMARC1; ", "v=DKIM1; p=", "v=DKIM1; k=ed25519; p=", "k=rsa; p=MII"]
)
# Text made of the characters records are made of, so the grammar is explored deeply.
RECORDISH = st.text(
    alphabet=st.sampled_from(list("v=spf1DKIMAMRC; :/%{}._-+~?!,@aeimlnoprstxy0123489 \t\r\n")),
    max_size=80,
)


def one_line(messages: Iterable[str]) -> None:
    for message in messages:
        assert isinstance(message, str) and message
        assert len(message.splitlines()) == 1, repr(message)


def exercise(text: str) -> None:
    tags = parse_tag_list(text)
    one_line(tags.errors)
    _ = tags.names(), tags.get("p"), "v" in tags
    for limit in (1, 2, 60):
        shown = clip(text, limit)
        assert len(shown) <= max(limit, 1) and shown.isprintable()

    spf = parse_spf(text)
    is_spf_record(text)
    one_line(spf.errors)
    one_line(spf.warnings)
    assert spf.lookup_terms >= 0
    assert len(spf.evaluated_mechanisms) <= len(spf.mechanisms)
    _ = spf.dns_mechanisms, spf.modifiers, spf.all_qualifier, spf.redirect, spf.exp
    _ = spf.redirect_effective, [m.counts_lookup for m in spf.mechanisms]
    for spec in (text, *(m.domain_spec or "" for m in spf.mechanisms)):
        expanded = expand_domain_spec(spec, "mail.example.com", text or "example.com")
        assert expanded is None or len(expanded) <= max(253, len(spec))
        assert isinstance(dns_name_problem(spec), str)

    dmarc = parse_dmarc(text)
    is_dmarc_record(text)
    one_line(dmarc.errors)
    one_line(dmarc.warnings)
    one_line(dmarc.notes)
    _ = dmarc.effective_policy, dmarc.subdomain_policy, dmarc.nonexistent_policy, dmarc.testing
    assert policy_rank(text) in (-1, 0, 1, 2)
    lower_policy(text)
    names = tree_walk_names(text)
    assert len(names) <= 7
    org = tree_walk_organisational_domain(text, [(n, dmarc) for n in names])
    assert org is None or isinstance(org, str)

    key = parse_dkim_key(text)
    one_line(key.errors)
    one_line(key.notes)
    _ = key.testing
    for bits in (512, 1024, 2048):
        verdict = judge_dkim_key(key, bits)
        assert verdict.result in ("pass", "fail", "permerror")
        one_line([verdict.message, *verdict.problems, *verdict.warnings])


@FUZZ
@given(st.text())
@example("")
@example("v=spf1 a:%{")
@example("v=spf1 exists:%{d0}.x ip6:::/ ip4:/ a// mx/")
@example("v=DMARC1; rua=mailto:@;ruf=!")
@example("v=DKIM1; p=\u0660\u0661")
@example("\ud800")
def test_any_text(text: str) -> None:
    exercise(text)


@FUZZ
@given(st.binary())
def test_any_bytes_as_latin1(data: bytes) -> None:
    exercise(data.decode("latin-1"))


@FUZZ
@given(PREFIXES, RECORDISH)
def test_recordish_text(prefix: str, rest: str) -> None:
    exercise(prefix + rest)


@FUZZ
@given(PREFIXES, st.binary(max_size=64))
def test_prefixed_bytes(prefix: str, data: bytes) -> None:
    exercise(prefix + data.decode("latin-1"))


@FUZZ
@given(
    st.text(alphabet=st.sampled_from(list("%{}dDoOlirh0123456789.-+,/_=x")), max_size=40),
    st.text(max_size=300),
)
def test_macro_expansion_any_spec_and_domain(spec: str, domain: str) -> None:
    expanded = expand_domain_spec(spec, domain, domain)
    assert expanded is None or isinstance(expanded, str)


def test_every_public_function_is_fuzzed() -> None:
    public = {
        getattr(module, name)
        for module in (taglist_module, dkim_module, spf_module, dmarc_module)
        for name in module.__all__
        if inspect.isfunction(getattr(module, name))
    }
    assert public - EXERCISED == set()
