"""Property tests: no parser raises, whatever a TXT record holds, and every message it
produces fits on one line."""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dkimwatch.records.dkim import judge_dkim_key, parse_dkim_key
from dkimwatch.records.dmarc import is_dmarc_record, parse_dmarc
from dkimwatch.records.spf import is_spf_record, parse_spf
from dkimwatch.records.taglist import parse_tag_list

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
    one_line(parse_tag_list(text).errors)

    spf = parse_spf(text)
    is_spf_record(text)
    one_line(spf.errors)
    one_line(spf.warnings)
    assert spf.lookup_terms >= 0
    _ = spf.dns_mechanisms, spf.all_qualifier, spf.redirect, spf.exp

    dmarc = parse_dmarc(text)
    is_dmarc_record(text)
    one_line(dmarc.errors)
    one_line(dmarc.warnings)
    _ = dmarc.effective_policy, dmarc.subdomain_policy, dmarc.nonexistent_policy

    key = parse_dkim_key(text)
    one_line(key.errors)
    one_line(key.notes)
    for bits in (1024, 2048):
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
