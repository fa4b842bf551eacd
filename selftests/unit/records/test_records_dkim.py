"""DKIM key records: parse_dkim_key and judge_dkim_key, with keys made here and the
dkimpy test data (copied into selftests/data/dkimpy, zlib-style licence in
its LICENSE file)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from dkimwatch.records.dkim import DkimKeyRecord, judge_dkim_key, parse_dkim_key

DKIMPY = Path(__file__).resolve().parents[2] / "data" / "dkimpy"


def spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module")
def rsa1024() -> bytes:
    return spki(rsa.generate_private_key(65537, 1024).public_key())


@pytest.fixture(scope="module")
def rsa2048_key() -> rsa.RSAPublicKey:
    return rsa.generate_private_key(65537, 2048).public_key()


@pytest.fixture(scope="module")
def rsa2048(rsa2048_key: rsa.RSAPublicKey) -> bytes:
    return spki(rsa2048_key)


@pytest.fixture(scope="module")
def ed_raw() -> bytes:
    return (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


# --- parsing ------------------------------------------------------------------------------


def test_exchange_online_style_record(rsa2048: bytes) -> None:
    text = f"v=DKIM1; k=rsa; p={b64(rsa2048)};"
    rec = parse_dkim_key(text)
    assert rec.errors == ()
    assert rec.raw == text
    assert rec.version == "DKIM1"
    assert rec.key_type == "rsa"
    assert rec.public_key_b64 == b64(rsa2048)
    assert rec.key_bits == 2048
    assert rec.fingerprint == hashlib.sha256(rsa2048).hexdigest()
    assert not rec.revoked
    assert rec.service_types == ("*",)
    assert rec.hash_algs == () and rec.flags == ()
    verdict = judge_dkim_key(rec)
    assert verdict.result == "pass"
    assert verdict.message == "valid rsa-2048 key"
    assert verdict.warnings == () and verdict.problems == ()


def test_folded_p_gives_same_fingerprint(rsa2048: bytes) -> None:
    encoded = b64(rsa2048)
    folded = " ".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
    plain = parse_dkim_key(f"p={encoded}")
    spaced = parse_dkim_key(f"v=DKIM1; p={folded}\t")
    assert spaced.errors == ()
    assert spaced.public_key_b64 == encoded
    assert spaced.fingerprint == plain.fingerprint


def test_bare_pkcs1_rsa_key(rsa2048_key: rsa.RSAPublicKey) -> None:
    der = rsa2048_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    rec = parse_dkim_key(f"v=DKIM1; k=rsa; p={b64(der)}")
    assert rec.errors == ()
    assert rec.key_bits == 2048
    assert any("PKCS#1" in n for n in rec.notes)


def test_rsa1024_passes_with_warning(rsa1024: bytes) -> None:
    verdict = judge_dkim_key(parse_dkim_key(f"v=DKIM1; k=rsa; p={b64(rsa1024)}"))
    assert verdict.result == "pass"
    assert verdict.message == "valid rsa-1024 key"
    assert verdict.warnings == ("rsa-1024 key: 2048 bits is recommended",)


def test_rsa1024_fails_a_2048_policy(rsa1024: bytes) -> None:
    verdict = judge_dkim_key(parse_dkim_key(f"p={b64(rsa1024)}"), min_key_bits=2048)
    assert verdict.result == "fail"
    assert "shorter than the required 2048 bits" in verdict.message


def test_rsa512_fails() -> None:
    weak = rsa.RSAPublicNumbers(65537, (1 << 511) | 0xABCDEF1).public_key()
    rec = parse_dkim_key(f"v=DKIM1; p={b64(spki(weak))}")
    assert rec.key_bits == 512
    verdict = judge_dkim_key(rec)
    assert verdict.result == "fail"
    assert verdict.problems == (
        "rsa-512 key is shorter than 1024 bits, which verifiers must not accept (RFC 8301 §3.2)",
    )


def test_rsa_below_1024_fails_even_when_the_inventory_allows_it() -> None:
    # min_key_bits may be set as low as 512, but RFC 8301 verifiers reject < 1024 anyway.
    weak = rsa.RSAPublicNumbers(65537, (1 << 767) | 0xABCDEF1).public_key()
    verdict = judge_dkim_key(parse_dkim_key(f"v=DKIM1; p={b64(spki(weak))}"), min_key_bits=512)
    assert verdict.result == "fail"
    assert "RFC 8301" in verdict.message


def test_huge_rsa_warns() -> None:
    big = rsa.RSAPublicNumbers(65537, (1 << 8191) | 1).public_key()
    verdict = judge_dkim_key(parse_dkim_key(f"p={b64(spki(big))}"))
    assert verdict.result == "pass"
    assert any("4096" in w for w in verdict.warnings)


def test_ed25519(ed_raw: bytes) -> None:
    rec = parse_dkim_key(f"v=DKIM1; k=ed25519; p={b64(ed_raw)}")
    assert rec.errors == ()
    assert (rec.key_type, rec.key_bits) == ("ed25519", 256)
    assert rec.fingerprint == hashlib.sha256(ed_raw).hexdigest()
    verdict = judge_dkim_key(rec)
    assert (verdict.result, verdict.message) == ("pass", "valid ed25519 key")


def test_ed25519_as_spki_is_an_error() -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    rec = parse_dkim_key(f"v=DKIM1; k=ed25519; p={b64(spki(key))}")
    assert any("bare 32-byte key" in e for e in rec.errors)
    assert judge_dkim_key(rec).result == "permerror"


def test_ed25519_key_without_k(ed_raw: bytes) -> None:
    rec = parse_dkim_key(f"v=DKIM1; p={b64(ed_raw)}")
    assert any("add k=ed25519" in e for e in rec.errors)


def test_ec_key_under_k_rsa() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    rec = parse_dkim_key(f"k=rsa; p={b64(spki(key))}")
    assert any("not the RSA key that k=rsa declares" in e for e in rec.errors)


def test_revoked() -> None:
    rec = parse_dkim_key("v=DKIM1; k=rsa; p=")
    assert rec.revoked and rec.errors == ()
    assert rec.public_key_b64 == "" and rec.fingerprint is None and rec.key_bits is None
    verdict = judge_dkim_key(rec)
    assert verdict.result == "fail"
    assert verdict.message == "key revoked (empty p=)"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("v=DKIM1; k=rsa", "p= (the public key) is missing"),
        ("", "empty tag-list"),
        ("k=rsa; v=DKIM1; p=", "v= must be the first tag"),
        ("v=DKIM2; p=", 'v="DKIM2" must be exactly "DKIM1"'),
        ("v=dkim1; p=", 'v="dkim1" must be exactly "DKIM1"'),
        ("v=DKIM1; p=AB$C", "unexpected character U+0024"),
        ("v=DKIM1; p=AB=C", "'=' padding in the middle"),
        ("v=DKIM1; p=ABCDE", "cannot be decoded"),
        ("v=DKIM1; p=QUJD", "does not decode as an RSA public key"),
        ("v=DKIM1; k=ed25519; p=QUJD", "must decode to exactly 32 bytes, got 3"),
        ("v=DKIM1; p=; p=", 'duplicate tag "p"'),
        ("v=DKIM1;; p=", "empty tag-spec"),
        ("v=DKIM1; k=; p=", "k= is empty"),
        ("v=DKIM1; h=sha256:; p=", 'invalid entry ""'),
        ("v=DKIM1; s=em ail; p=", 'invalid entry "em ail"'),
    ],
)
def test_permerrors(text: str, fragment: str) -> None:
    rec = parse_dkim_key(text)
    assert any(fragment in e for e in rec.errors), rec.errors
    verdict = judge_dkim_key(rec)
    assert verdict.result == "permerror"
    assert fragment in verdict.message
    assert "\n" not in verdict.message


def test_unpadded_base64_is_accepted_with_a_note(ed_raw: bytes) -> None:
    padded = b64(ed_raw)
    assert padded.endswith("=")
    rec = parse_dkim_key(f"k=ed25519; p={padded.rstrip('=')}")
    assert rec.errors == ()
    assert rec.fingerprint == hashlib.sha256(ed_raw).hexdigest()
    assert any("padding" in n for n in rec.notes)
    assert parse_dkim_key(f"k=ed25519; p={padded}").notes == ()


@pytest.mark.parametrize(
    ("tags", "result", "fragment"),
    [
        ("k=dsa", "fail", 'unknown key type k="dsa"'),
        ("h=sha1", "fail", "h=sha1 allows only sha1, which RFC 8301 forbids"),
        ("h=sha1:sha256", "pass", ""),
        ("h=sha512", "fail", "allows no hash verifiers accept"),
        ("s=tlsrpt", "fail", "s=tlsrpt does not allow email"),
        ("s=email:tlsrpt", "pass", ""),
        ("s=*", "pass", ""),
        ("s=EMAIL", "pass", ""),
    ],
)
def test_policy_rules(rsa2048: bytes, tags: str, result: str, fragment: str) -> None:
    verdict = judge_dkim_key(parse_dkim_key(f"v=DKIM1; {tags}; p={b64(rsa2048)}"))
    assert verdict.result == result, verdict
    assert fragment in verdict.message


def test_flags(rsa2048: bytes) -> None:
    rec = parse_dkim_key(f"v=DKIM1; t=y:s:x; p={b64(rsa2048)}")
    assert rec.flags == ("y", "s", "x")
    assert rec.testing
    assert any("unknown t= flags" in n for n in rec.notes)
    verdict = judge_dkim_key(rec)
    assert verdict.result == "pass"
    assert verdict.message == "valid rsa-2048 key (testing mode)"
    assert any("testing mode (t=y)" in w for w in verdict.warnings)
    assert any("strict (t=s)" in w for w in verdict.warnings)


def test_unknown_tags_are_notes(rsa2048: bytes) -> None:
    rec = parse_dkim_key(f"v=DKIM1; g=user; x=1; n=hello world; p={b64(rsa2048)}")
    assert rec.errors == ()
    assert any("g=" in n for n in rec.notes)
    assert any('unknown tag "x"' in n for n in rec.notes)


def test_record_is_frozen(rsa2048: bytes) -> None:
    rec = parse_dkim_key(f"p={b64(rsa2048)}")
    assert isinstance(rec, DkimKeyRecord)
    with pytest.raises(AttributeError):
        rec.key_bits = 1  # type: ignore[misc]


# --- dkimpy test data ---------------------------------------------------------------------

DKIMPY_EXPECTED = {
    # file: (result, key_type, key_bits, fragment of the message)
    "1024_testkey_wo_markers.pub.txt": ("pass", "rsa", 1024, "valid rsa-1024 key"),
    "1024_testkey_wo_markers.pub.rsa.txt": ("pass", "rsa", 1024, "valid rsa-1024 key"),
    "2048_testkey_wo_markers.pub.txt": ("pass", "rsa", 2048, "valid rsa-2048 key"),
    "2048_testkey_wo_markers.pub.rsa.txt": ("pass", "rsa", 2048, "valid rsa-2048 key"),
    "2048_testkey_PKCS8.key.pub.txt": ("pass", "rsa", 2048, "valid rsa-2048 key"),
    "test.txt": ("pass", "rsa", 1024, "valid rsa-1024 key"),
    "test2.txt": ("pass", "rsa", 1024, "valid rsa-1024 key"),
    "ed25519test.dns": ("pass", "ed25519", 256, "valid ed25519 key"),
    "eximtest.dns": ("pass", "ed25519", 256, "valid ed25519 key"),
    "badk.txt": ("fail", "ed25519-sha256", None, 'unknown key type k="ed25519-sha256"'),
    "badversion.txt": ("permerror", "rsa", 1024, 'v="DKIM1: g=*" must be exactly "DKIM1"'),
    "test_bad.txt": ("permerror", "rsa", None, "does not decode as an RSA public key"),
    "test_tlsrpt.txt": ("fail", "rsa", 1024, "s=tlsrpt does not allow email"),
}


@pytest.mark.parametrize("name", sorted(DKIMPY_EXPECTED))
def test_dkimpy_data(name: str) -> None:
    result, key_type, bits, fragment = DKIMPY_EXPECTED[name]
    rec = parse_dkim_key((DKIMPY / name).read_text(encoding="ascii").strip())
    verdict = judge_dkim_key(rec)
    assert (verdict.result, rec.key_type, rec.key_bits) == (result, key_type, bits), verdict
    assert fragment in verdict.message


def test_dkimpy_spki_and_pkcs1_are_the_same_key() -> None:
    # The *.pub.rsa.txt files hold the same modulus as bare PKCS#1.
    spki_rec = parse_dkim_key((DKIMPY / "2048_testkey_wo_markers.pub.txt").read_text().strip())
    pkcs1 = parse_dkim_key((DKIMPY / "2048_testkey_wo_markers.pub.rsa.txt").read_text().strip())
    assert spki_rec.public_key_b64 and pkcs1.public_key_b64
    assert spki_rec.public_key_b64.endswith(pkcs1.public_key_b64[-40:])
    assert spki_rec.fingerprint != pkcs1.fingerprint  # fingerprint is of the bytes published


def test_dkimpy_data_is_all_covered() -> None:
    published = {p.name for p in DKIMPY.iterdir() if p.suffix in (".txt", ".dns")}
    assert published == set(DKIMPY_EXPECTED)
