"""DKIM key records (RFC 6376 §3.6.1, RFC 8301, RFC 8463): parse, then judge.

``parse_dkim_key`` reads one TXT string (its character-strings already joined) into a
:class:`DkimKeyRecord`; ``errors`` there are the problems that make a verifier discard
the record (permerror). ``judge_dkim_key`` then applies policy: revocation, key size,
hash and service restrictions. Both never raise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from dkimwatch.records.taglist import TagList, clip, parse_tag_list

__all__ = ["KNOWN_KEY_TYPES", "DkimKeyRecord", "KeyJudgement", "judge_dkim_key", "parse_dkim_key"]

KNOWN_KEY_TYPES = ("rsa", "ed25519")
_KNOWN_TAGS = frozenset({"v", "g", "h", "k", "n", "p", "s", "t"})
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_HYPHENATED_WORD = re.compile(r"[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_WHITESPACE = re.compile(r"[ \t\r\n]+")
_RSA_VERIFIER_MIN = 1024  # RFC 8301 §3.2: verifiers MUST NOT accept shorter RSA keys
_RSA_VERIFIER_MAX = 4096  # RFC 8301 §3.2: verifiers MUST handle 1024..4096 bits, MAY more


@dataclass(frozen=True, slots=True)
class DkimKeyRecord:
    """One DKIM key record as published.

    ``public_key_b64`` is ``p=`` with whitespace removed (None when ``p=`` is absent);
    ``revoked`` means ``p=`` is present and empty. ``key_bits`` is the RSA modulus size,
    or 256 for ed25519; ``fingerprint`` is the hex SHA-256 of the base64-decoded ``p=``
    bytes, so keys compare equal however they were folded. ``errors`` make the record
    unusable (permerror); ``notes`` are observations that change nothing.
    """

    raw: str
    version: str | None = None
    key_type: str = "rsa"
    public_key_b64: str | None = None
    revoked: bool = False
    key_bits: int | None = None
    fingerprint: str | None = None
    hash_algs: tuple[str, ...] = ()
    service_types: tuple[str, ...] = ("*",)
    flags: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    tags: TagList = field(default_factory=TagList)

    @property
    def testing(self) -> bool:
        return "y" in self.flags


@dataclass(frozen=True, slots=True)
class KeyJudgement:
    """The verdict on one key: ``message`` is one sentence for a report."""

    result: Literal["pass", "fail", "permerror"]
    message: str
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _colon_list(
    tag: str, value: str, errors: list[str], extra: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """A ``x:y:z`` value of hyphenated words (RFC 6376 lets FWS sit around the colons)."""
    items = tuple(part.strip(" \t\r\n").lower() for part in value.split(":"))
    for item in items:
        if item not in extra and not _HYPHENATED_WORD.fullmatch(item):
            errors.append(f'{tag}="{clip(value)}" has an invalid entry "{clip(item)}"')
            break
    return tuple(item for item in items if item)


def _der_inner_tag(data: bytes) -> int | None:
    """Tag byte of the first element inside the outer DER SEQUENCE, or None."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    length_byte = data[1]
    offset = 2 if length_byte < 0x80 else 2 + (length_byte & 0x7F)
    return data[offset] if offset < len(data) else None


def _key_kind(key: object) -> str:
    name = type(key).__name__.removesuffix("PublicKey").removeprefix("_")
    return name or "unknown"


def _decode_rsa(data: bytes, errors: list[str], notes: list[str]) -> int | None:
    try:
        key = load_der_public_key(data)
    except Exception:  # cryptography raises ValueError/UnsupportedAlgorithm; never leak
        if len(data) == 32:
            errors.append(
                "p= is 32 bytes, the size of an ed25519 key, but k= says rsa: "
                "add k=ed25519 or publish the RSA key"
            )
        else:
            errors.append(
                "p= does not decode as an RSA public key "
                "(DER SubjectPublicKeyInfo or PKCS#1 RSAPublicKey)"
            )
        return None
    if not isinstance(key, rsa.RSAPublicKey):
        errors.append(f"p= holds a {_key_kind(key)} key, not the RSA key that k=rsa declares")
        return None
    if _der_inner_tag(data) == 0x02:  # SEQUENCE { INTEGER n, ... } = bare RSAPublicKey
        notes.append("p= is a bare PKCS#1 RSAPublicKey; most signers publish SubjectPublicKeyInfo")
    return key.key_size


def _decode_ed25519(data: bytes, errors: list[str]) -> int | None:
    if len(data) == 32:
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(data)
        except Exception:
            errors.append("p= is not a valid ed25519 public key")
            return None
        return 256
    try:
        key: object = load_der_public_key(data)
    except Exception:
        key = None
    if isinstance(key, ed25519.Ed25519PublicKey):
        errors.append(
            "ed25519 p= must be the bare 32-byte key (RFC 8463 §4.2), "
            "not a SubjectPublicKeyInfo structure"
        )
    else:
        errors.append(f"ed25519 p= must decode to exactly 32 bytes, got {len(data)}")
    return None


def _decode_base64(b64: str, errors: list[str], notes: list[str]) -> bytes | None:
    if not _B64.fullmatch(b64):
        bad = next((ch for ch in b64 if not (ch.isascii() and (ch.isalnum() or ch in "+/="))), None)
        if bad is None:
            errors.append("p= is not valid base64 ('=' padding in the middle)")
        else:
            errors.append(f"p= is not valid base64 (unexpected character U+{ord(bad):04X})")
        return None
    padded = b64
    if len(b64) % 4:
        if len(b64) % 4 == 1 or "=" in b64:
            errors.append(f"p= is not valid base64 (length {len(b64)} cannot be decoded)")
            return None
        padded = b64 + "=" * (-len(b64) % 4)
        notes.append("p= lacks base64 '=' padding")
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        errors.append("p= is not valid base64")
        return None


def _version_errors(tags: TagList, version: str) -> list[str]:
    """What is wrong with a present v=: it must come first and be exactly DKIM1."""
    errors = []
    if tags.tags[0][0] != "v":
        errors.append("v= must be the first tag of a DKIM key record")
    if version != "DKIM1":
        errors.append(f'v="{clip(version)}" must be exactly "DKIM1"')
    return errors


def _ignored_tags(tags: TagList) -> list[str]:
    """Notes on the tags verifiers ignore: g= (removed by RFC 6376) and unknown ones."""
    notes = []
    for name, value in tags.tags:
        if name == "g" and value != "*":
            notes.append(
                f'g="{clip(value)}" (granularity) was removed by RFC 6376; verifiers ignore it'
            )
        elif name not in _KNOWN_TAGS:
            notes.append(f'unknown tag "{name}" ignored')
    return notes


@dataclass(frozen=True, slots=True)
class _PublicKey:
    """What p= holds: the base64 without whitespace, and for a key that decodes its
    SHA-256 fingerprint and size in bits (None when the type is unknown or it is bad)."""

    b64: str | None = None
    revoked: bool = False
    bits: int | None = None
    fingerprint: str | None = None


def _public_key(p: str, key_type: str, errors: list[str], notes: list[str]) -> _PublicKey:
    b64 = _WHITESPACE.sub("", p)
    if b64 == "":
        return _PublicKey(b64, revoked=True)
    data = _decode_base64(b64, errors, notes)
    if data is None:
        return _PublicKey(b64)
    bits = None
    if key_type == "rsa":
        bits = _decode_rsa(data, errors, notes)
    elif key_type == "ed25519":
        bits = _decode_ed25519(data, errors)
    return _PublicKey(b64, False, bits, hashlib.sha256(data).hexdigest())


def parse_dkim_key(text: str) -> DkimKeyRecord:
    """Parse one DKIM key record (RFC 6376 §3.6.1). Never raises.

    Errors (the record is unusable): tag-list syntax, ``v=`` not first or not exactly
    ``DKIM1``, ``p=`` missing, ``p=`` not base64, key bytes that do not decode as the
    declared ``k=`` type, malformed ``h=``/``s=``/``t=`` lists. An unknown ``k=`` is not
    an error here (verifiers ignore such keys; the judgement fails it).
    """
    tags = parse_tag_list(text)
    errors = list(tags.errors)
    notes: list[str] = []

    version = tags.get("v")
    if version is not None:
        errors.extend(_version_errors(tags, version))

    k = tags.get("k")
    key_type = "rsa" if k is None else k.lower()
    if k is not None and not _HYPHENATED_WORD.fullmatch(k):
        errors.append(f'k="{clip(k)}" is not a key type name' if k else "k= is empty")

    hash_algs: tuple[str, ...] = ()
    if (h := tags.get("h")) is not None:
        hash_algs = _colon_list("h", h, errors)
    service_types: tuple[str, ...] = ("*",)
    if (s := tags.get("s")) is not None:
        service_types = _colon_list("s", s, errors, frozenset({"*"}))
    flags: tuple[str, ...] = ()
    if (t := tags.get("t")) is not None:
        flags = _colon_list("t", t, errors)
        unknown_flags = [f for f in flags if f not in ("y", "s")]
        if unknown_flags:
            notes.append(f"unknown t= flags ignored: {clip(', '.join(unknown_flags))}")

    notes.extend(_ignored_tags(tags))

    p = tags.get("p")
    key = _PublicKey()
    if p is None:
        errors.append("p= (the public key) is missing")
    else:
        key = _public_key(p, key_type, errors, notes)

    return DkimKeyRecord(
        raw=text,
        version=version,
        key_type=key_type,
        public_key_b64=key.b64,
        revoked=key.revoked,
        key_bits=key.bits,
        fingerprint=key.fingerprint,
        hash_algs=hash_algs,
        service_types=service_types,
        flags=flags,
        errors=tuple(errors),
        notes=tuple(notes),
        tags=tags,
    )


def judge_dkim_key(rec: DkimKeyRecord, min_key_bits: int = 1024) -> KeyJudgement:
    """Judge a parsed key against RFC 8301 and the inventory's ``min_key_bits``.

    permerror when the record has errors; fail for an unknown ``k=``, a revoked key,
    an RSA key below 1024 bits (RFC 8301, whatever ``min_key_bits`` says) or below
    ``min_key_bits``, ``h=`` without sha256, or ``s=`` excluding email;
    otherwise pass. RSA below 2048 bits and the ``t=`` flags are warnings.
    """
    if rec.errors:
        return KeyJudgement(
            "permerror",
            "invalid DKIM key record: " + "; ".join(rec.errors),
            problems=rec.errors,
        )
    problems: list[str] = []
    warnings: list[str] = []
    known = rec.key_type in KNOWN_KEY_TYPES
    if not known:
        problems.append(
            f'unknown key type k="{clip(rec.key_type)}" (verifiers know only rsa and ed25519)'
        )
    if rec.revoked:
        problems.append("key revoked (empty p=)")
    elif rec.key_type == "rsa" and rec.key_bits is not None:
        if rec.key_bits < _RSA_VERIFIER_MIN:
            # Whatever the inventory allows: receivers treat these signatures as invalid.
            problems.append(
                f"rsa-{rec.key_bits} key is shorter than {_RSA_VERIFIER_MIN} bits, which "
                "verifiers must not accept (RFC 8301 §3.2)"
            )
        elif rec.key_bits < min_key_bits:
            problems.append(
                f"rsa-{rec.key_bits} key is shorter than the required {min_key_bits} bits"
            )
        elif rec.key_bits < 2048:
            warnings.append(f"rsa-{rec.key_bits} key: 2048 bits is recommended")
        if rec.key_bits > _RSA_VERIFIER_MAX:
            warnings.append(
                f"rsa-{rec.key_bits} key: verifiers need only support up to "
                f"{_RSA_VERIFIER_MAX} bits (RFC 8301 §3.2)"
            )
    if rec.hash_algs and "sha256" not in rec.hash_algs:
        if set(rec.hash_algs) <= {"sha1"}:
            problems.append(f"h={':'.join(rec.hash_algs)} allows only sha1, which RFC 8301 forbids")
        else:
            problems.append(f"h={':'.join(rec.hash_algs)} allows no hash verifiers accept (sha256)")
    if not {"email", "*"} & set(rec.service_types):
        problems.append(f"s={':'.join(rec.service_types)} does not allow email")
    if "y" in rec.flags:
        warnings.append("testing mode (t=y): receivers may treat DKIM failures as unsigned mail")
    if "s" in rec.flags:
        warnings.append("strict (t=s): the signature's i= domain must equal d=, no subdomains")
    if problems:
        return KeyJudgement("fail", "; ".join(problems), tuple(problems), tuple(warnings))
    size = f"-{rec.key_bits}" if rec.key_type == "rsa" and rec.key_bits is not None else ""
    message = f"valid {rec.key_type}{size} key"
    if "y" in rec.flags:
        message += " (testing mode)"
    return KeyJudgement("pass", message, (), tuple(warnings))
