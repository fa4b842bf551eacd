"""RFC 6376 §3.2 tag-lists, shared by the DKIM and DMARC parsers."""

from __future__ import annotations

import pytest

from dkimwatch.records.taglist import TagList, clip, parse_tag_list


def test_simple_list() -> None:
    tags = parse_tag_list("v=DKIM1; k=rsa; p=MIIB")
    assert tags == TagList((("v", "DKIM1"), ("k", "rsa"), ("p", "MIIB")), ())
    assert tags.get("k") == "rsa"
    assert tags.get("K") is None  # DKIM tag names are case-sensitive
    assert tags.get("x") is None
    assert "p" in tags
    assert tags.names() == ("v", "k", "p")


def test_whitespace_is_stripped_at_the_ends_only() -> None:
    tags = parse_tag_list(" v = DKIM1 ;\tp= MIIB\r\n  CgKC ; n = a note  ")
    assert tags.errors == ()
    assert tags.tags == (("v", "DKIM1"), ("p", "MIIB\r\n  CgKC"), ("n", "a note"))


@pytest.mark.parametrize("text", ["a=1;", "a=1; ", "a=1;\t", "a=;"])
def test_trailing_semicolon_allowed(text: str) -> None:
    assert parse_tag_list(text).errors == ()


def test_empty_value_allowed() -> None:
    assert parse_tag_list("v=DKIM1; p=").tags == (("v", "DKIM1"), ("p", ""))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty tag-list"),
        ("   ", "empty tag-list"),
        ("a=1;;b=2", "empty tag-spec at position 2"),
        (";a=1", "empty tag-spec at position 1"),
        ("a=1;b=2;;", "empty tag-spec at position 3"),
        ("a=1; b", 'tag-spec "b" has no "="'),
        ("1a=x", 'invalid tag name "1a"'),
        ("a-b=x", 'invalid tag name "a-b"'),
        ("=x", 'invalid tag name ""'),
        ("a b=x", 'invalid tag name "a b"'),
        ("a=1; a=2", 'duplicate tag "a"'),
        ("a=caf\u00e9", "invalid character U+00E9"),
        ("a=x\x00y", "invalid character U+0000"),
    ],
)
def test_errors(text: str, fragment: str) -> None:
    result = parse_tag_list(text)
    assert any(fragment in e for e in result.errors), result.errors


def test_duplicate_keeps_first_and_reads_on() -> None:
    result = parse_tag_list("a=1; a=2; b=3")
    assert result.tags == (("a", "1"), ("b", "3"))
    assert result.get("a") == "1"


def test_values_may_hold_equals_and_colons() -> None:
    result = parse_tag_list("v=DKIM1: g=*; rua=mailto:a@example.com")
    assert result.errors == ()
    assert result.get("v") == "DKIM1: g=*"


def test_errors_are_one_line() -> None:
    for message in parse_tag_list("a\r\nb=1;;\n;x").errors:
        assert "\n" not in message and "\r" not in message


def test_clip() -> None:
    assert clip("abc") == "abc"
    assert clip("a\r\nb\tc\x00") == "a\\r\\nb\\tc\\x00"
    assert clip("x" * 100, 10) == "x" * 9 + "…"
    assert clip("\u2028") == "\\u2028"
