"""Crypto evidence (``attributor.evidence.crypto``): tables, detection on our own binaries, precision.

* The constant tables are checked against reference implementations (``hashlib``, ``zlib``, a DES
  known-answer vector), so a wrong table cannot pass silently.
* ``tests/fixtures/src/crypto_algos.c`` and ``crypto_more.c`` are compiled with gcc -O0 / -O2,
  clang -O2 and mingw-w64 -O2; every algorithm must be found together with the function that
  uses it. Detection runs on the stripped build loaded blind; names come from the unstripped one.
* Negative fixtures: ``crypto_none.c`` (everyday loops and string handling) and the loader
  fixtures report nothing; 1 MB of random bytes holds no table.
* Synthetic images cover byte orders, partial tables and every key-blob format.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import random
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import (
    CELLS,
    FIXTURE_SRC,
    FixtureBin,
    FixtureBins,
    _build_one,
    _cache_root,
    _cached_build,
    _compiler_identity,
    _content_key,
    _which,
)

from attributor.disasm.recover import recover
from attributor.evidence import crypto_constants as cc
from attributor.evidence.crypto import (
    CryptoHit,
    HitKind,
    KeyMaterial,
    _random_looking,
    detect_crypto,
    extract_key_material,
)
from attributor.loading.binary import Binary, Section
from attributor.loading.loader import load_path

# -- the constant tables are right ---------------------------------------------------------------

M32, M64 = cc.M32, cc.M64


def _rotr(x: int, n: int, bits: int = 32) -> int:
    return ((x >> n) | (x << (bits - n))) & ((1 << bits) - 1)


def _sha256(msg: bytes) -> bytes:
    k, h = cc.sha2_constants()["K256"], list(cc.sha2_constants()["IV256"])
    msg += b"\x80" + b"\0" * ((55 - len(msg)) % 64) + struct.pack(">Q", 8 * len(msg))
    for o in range(0, len(msg), 64):
        w = list(struct.unpack(">16I", msg[o : o + 64]))
        for i in range(16, 64):
            s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w.append((w[i - 16] + s0 + w[i - 7] + s1) & M32)
        a, b, c, d, e, f, g, hh = h
        for i in range(64):
            t1 = (hh + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i]) & M32
            t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & M32
            a, b, c, d, e, f, g, hh = (t1 + t2) & M32, a, b, c, (d + t1) & M32, e, f, g
        h = [(x + y) & M32 for x, y in zip(h, (a, b, c, d, e, f, g, hh), strict=True)]
    return struct.pack(">8I", *h)


def _sha512(msg: bytes, iv: str = "IV512") -> bytes:
    k, h = cc.sha2_constants()["K512"], list(cc.sha2_constants()[iv])
    msg += b"\x80" + b"\0" * ((111 - len(msg)) % 128) + struct.pack(">QQ", 0, 8 * len(msg))
    for o in range(0, len(msg), 128):
        w = list(struct.unpack(">16Q", msg[o : o + 128]))
        for i in range(16, 80):
            s0 = _rotr(w[i - 15], 1, 64) ^ _rotr(w[i - 15], 8, 64) ^ (w[i - 15] >> 7)
            s1 = _rotr(w[i - 2], 19, 64) ^ _rotr(w[i - 2], 61, 64) ^ (w[i - 2] >> 6)
            w.append((w[i - 16] + s0 + w[i - 7] + s1) & M64)
        a, b, c, d, e, f, g, hh = h
        for i in range(80):
            s1 = _rotr(e, 14, 64) ^ _rotr(e, 18, 64) ^ _rotr(e, 41, 64)
            t1 = (hh + s1 + ((e & f) ^ (~e & g)) + k[i] + w[i]) & M64
            t2 = (
                (_rotr(a, 28, 64) ^ _rotr(a, 34, 64) ^ _rotr(a, 39, 64)) + ((a & b) ^ (a & c) ^ (b & c))
            ) & M64
            a, b, c, d, e, f, g, hh = (t1 + t2) & M64, a, b, c, (d + t1) & M64, e, f, g
        h = [(x + y) & M64 for x, y in zip(h, (a, b, c, d, e, f, g, hh), strict=True)]
    return struct.pack(">8Q", *h)


def _md5(msg: bytes) -> bytes:
    t = cc.md5_t()
    shifts = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    msg += b"\x80" + b"\0" * ((55 - len(msg)) % 64) + struct.pack("<Q", 8 * len(msg))
    for o in range(0, len(msg), 64):
        m = struct.unpack("<16I", msg[o : o + 64])
        a, b, c, d = state
        for i in range(64):
            f, g = [
                ((b & c) | (~b & d), i),
                ((d & b) | (~d & c), (5 * i + 1) % 16),
                (b ^ c ^ d, (3 * i + 5) % 16),
                (c ^ (b | ~d), (7 * i) % 16),
            ][i // 16]
            f = (f + a + t[i] + m[g]) & M32
            a, d, c = d, c, b
            b = (b + _rotr(f, 32 - shifts[i])) & M32
        state = [(x + y) & M32 for x, y in zip(state, (a, b, c, d), strict=True)]
    return struct.pack("<4I", *state)


def _blake2b(msg: bytes) -> bytes:
    iv, sigma = cc.sha2_constants()["IV512"], [int(x) for x in cc.BLAKE2_SIGMA.split()]
    h = list(iv)
    h[0] ^= 0x01010000 ^ 64
    blocks = [msg[i : i + 128] for i in range(0, len(msg), 128)] or [b""]

    def mix(v: list[int], a: int, b: int, c: int, d: int, x: int, y: int) -> None:
        v[a] = (v[a] + v[b] + x) & M64
        v[d] = _rotr(v[d] ^ v[a], 32, 64)
        v[c] = (v[c] + v[d]) & M64
        v[b] = _rotr(v[b] ^ v[c], 24, 64)
        v[a] = (v[a] + v[b] + y) & M64
        v[d] = _rotr(v[d] ^ v[a], 16, 64)
        v[c] = (v[c] + v[d]) & M64
        v[b] = _rotr(v[b] ^ v[c], 63, 64)

    done = 0
    for n, block in enumerate(blocks):
        done += len(block)
        m = struct.unpack("<16Q", block.ljust(128, b"\0"))
        v = h + list(iv)
        v[12] ^= done
        if n == len(blocks) - 1:
            v[14] ^= M64
        for r in range(12):
            s = sigma[(r % 10) * 16 : (r % 10) * 16 + 16]
            columns = [(0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15)]
            diagonals = [(0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)]
            for i, (a, b, c, d) in enumerate([*columns, *diagonals]):
                mix(v, a, b, c, d, m[s[2 * i]], m[s[2 * i + 1]])
        h = [h[i] ^ v[i] ^ v[i + 8] for i in range(8)]
    return struct.pack("<8Q", *h)


def _des(key: int, block: int) -> int:
    def perm(bits: list[int], table: list[int]) -> list[int]:
        return [bits[i - 1] for i in table]

    def bits(x: int, n: int) -> list[int]:
        return [(x >> (n - 1 - i)) & 1 for i in range(n)]

    def value(b: list[int]) -> int:
        return int("".join(map(str, b)), 2)

    kb = perm(bits(key, 64), cc.des_perm("PC1"))
    c, d, keys = kb[:28], kb[28:], []
    for sh in (1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1):
        c, d = c[sh:] + c[:sh], d[sh:] + d[:sh]
        keys.append(perm(c + d, cc.des_perm("PC2")))
    b = perm(bits(block, 64), cc.des_perm("IP"))
    left, right = b[:32], b[32:]
    for k in keys:
        e = [x ^ y for x, y in zip(perm(right, cc.des_perm("E")), k, strict=True)]
        out: list[int] = []
        for i in range(8):
            six = e[6 * i : 6 * i + 6]
            out += bits(cc.des_sbox(i)[(2 * six[0] + six[5]) * 16 + value(six[1:5])], 4)
        f = perm(out, cc.des_perm("P"))
        left, right = right, [x ^ y for x, y in zip(left, f, strict=True)]
    return value(perm(right + left, cc.des_fp()))


@pytest.mark.parametrize("msg", [b"", b"abc", b"x" * 300])
def test_hash_constants_reproduce_hashlib(msg: bytes) -> None:
    """SHA-256/384/512 K and initial values, MD5 T and the BLAKE2 schedule compute real digests."""
    assert _sha256(msg) == hashlib.sha256(msg).digest()
    assert _sha512(msg) == hashlib.sha512(msg).digest()
    assert _sha512(msg, "IV384")[:48] == hashlib.sha384(msg).digest()
    assert _md5(msg) == hashlib.md5(msg).digest()
    assert _blake2b(msg) == hashlib.blake2b(msg).digest()


def test_crc_tables_reproduce_check_values() -> None:
    """CRC-32 (zlib), CRC-32C, CRC-32/BZIP2 (MSB first) and CRC-64/XZ tables give the catalogue checks."""

    def reflected(table: tuple[int, ...], data: bytes, mask: int) -> int:
        c = mask
        for byte in data:
            c = table[(c ^ byte) & 0xFF] ^ (c >> 8)
        return c ^ mask

    data = b"123456789"
    assert reflected(cc.crc_table(0xEDB88320), data, M32) == zlib.crc32(data)
    assert reflected(cc.crc_table(0x82F63B78), data, M32) == 0xE3069283
    assert reflected(cc.crc_table(0xC96C5795D7870F42, 64), data, M64) == 0x995DC9BBDF1939FA
    table, c = cc.crc_table(0x04C11DB7, reflected=False), M32
    for byte in data:
        c = ((c << 8) & M32) ^ table[((c >> 24) ^ byte) & 0xFF]
    assert c ^ M32 == 0xFC891918


def test_des_tables() -> None:
    """S-boxes and permutations pass the classic known-answer vector; the SP tables match their sources."""
    assert _des(0x133457799BBCDFF1, 0x0123456789ABCDEF) == 0x85E813540F0AB405
    sp = cc.des_spbox()  # mbed TLS SB1[0], SB1[3], SB2[0], SB8[63]
    assert (sp[0], sp[3], sp[64], sp[511]) == (0x01010400, 0x01010404, 0x80108020, 0x10041000)
    sptrans = cc.des_sptrans()
    assert (sptrans[0], sptrans[64], sptrans[511]) == (0x02080800, 0x40108010, 0x00820080)
    for box in range(8):  # each box: 16 outputs four times each, spread over 4 bits
        values = sptrans[64 * box : 64 * box + 64]
        assert sorted(values.count(v) for v in set(values)) == [4] * 16
        assert bin(functools.reduce(lambda a, b: a | b, values)).count("1") == 4


def test_aes_blowfish_and_fixed_tables() -> None:
    sbox, inv = cc.aes_sbox(), cc.aes_inv_sbox()
    assert sbox[:4] == bytes.fromhex("637c777b") and sbox[255] == 0x16
    assert all(inv[sbox[i]] == i for i in range(256))
    te = cc.aes_t_tables()
    assert (te["Te0"][0], te["Te1"][0], te["Td0"][0], te["Td1"][0]) == (
        0xC66363A5,
        0xA5C66363,
        0x51F4A750,
        0x5051F4A7,
    )
    pi = cc.pi_words(18 + 1024)
    assert (pi[0], pi[17], pi[18], pi[-1]) == (0x243F6A88, 0x8979FB1B, 0xD1310BA6, 0x3AC372E6)
    sigma = [int(x) for x in cc.BLAKE2_SIGMA.split()]
    assert all(sorted(sigma[16 * r : 16 * r + 16]) == list(range(16)) for r in range(10))
    assert len(cc.XXH3_SECRET) == 192 and cc.XXH3_SECRET[:4] == bytes.fromhex("b8fe6c39")


# -- synthetic images ------------------------------------------------------------------------------


def _image(*parts: bytes, executable: bool = False, va: int = 0x10000) -> Binary:
    data = b"".join(parts)
    sec = Section(".text" if executable else ".rodata", va, len(data), data, executable)
    return Binary("0" * 64, len(data), "ELF", "x86-64", 64, 0, None, [sec])


def _noise(n: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def _found(hits: list[CryptoHit]) -> set[tuple[str, str]]:
    return {(h.algorithm, h.detail.split(",")[0]) for h in hits}


def test_tables_in_either_byte_order_at_any_alignment() -> None:
    crc = cc.crc_table(0xEDB88320)
    k256 = cc.sha2_constants()["K256"]
    image = _image(_noise(3), struct.pack(">256I", *crc), _noise(5), struct.pack("<64I", *k256), _noise(9))
    hits = detect_crypto(image)
    assert _found(hits) == {("CRC32", "CRC32 table (big-endian)"), ("SHA-256", "SHA-256 K")}
    assert {h.address for h in hits} == {0x10003, 0x10003 + 1024 + 5}
    assert all(h.function is None for h in hits)


def test_a_table_needs_sixteen_consecutive_entries() -> None:
    te0 = cc.aes_t_tables()["Te0"]
    assert detect_crypto(_image(_noise(64), struct.pack("<15I", *te0[40:55]), _noise(64))) == []
    (hit,) = detect_crypto(_image(_noise(64), struct.pack("<16I", *te0[40:56]), _noise(64)))
    assert hit.detail == "AES Te0, entries 40-55 of 256" and hit.size == 64


def test_openssl_layouts() -> None:
    """aes-x86_64's doubled T-table and DES_SPtrans (whose runs of zero words are not indexed)."""
    te0 = cc.aes_t_tables()["Te0"]
    doubled = struct.pack("<512I", *(v for v in te0 for _ in (0, 1)))
    sptrans = struct.pack("<512I", *cc.des_sptrans())
    hits = detect_crypto(_image(doubled, _noise(16), sptrans))
    assert [h.detail for h in hits] == [
        "AES Te0 (doubled), 512 entries",
        "DES SPtrans (OpenSSL), 512 entries",
    ]


def test_constants_need_company() -> None:
    """One golden-ratio word is common hashing; three XXH32 primes together are xxHash."""
    lone = struct.pack("<I", 0x9E3779B1)
    assert detect_crypto(_image(_noise(100), lone, _noise(100))) == []
    primes = struct.pack("<3I", *cc.XXH32_PRIMES[:3])
    (hit,) = detect_crypto(_image(_noise(100), primes, _noise(100)))
    assert (hit.algorithm, hit.kind, hit.detail) == (
        "xxHash",
        HitKind.CONSTANT,
        "XXH32 primes, 3 of 5 values",
    )


def test_sha1_and_md5_share_initial_values() -> None:
    md5_iv = struct.pack("<4I", 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)
    assert _found(detect_crypto(_image(md5_iv))) == {("MD5", "MD5 initial values")}
    sha1_iv = md5_iv + struct.pack("<I", 0xC3D2E1F0)
    assert _found(detect_crypto(_image(sha1_iv))) == {("SHA-1", "SHA-1 initial values")}


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = (
        bytes([n]) if n < 0x80 else (b"\x81" + bytes([n]) if n < 0x100 else b"\x82" + n.to_bytes(2, "big"))
    )
    return bytes([tag]) + length + content


def _int(value: int) -> bytes:
    return _der(2, value.to_bytes(value.bit_length() // 8 + 1, "big"))


_RNG = random.Random(2024)
_N = _RNG.getrandbits(2048) | (1 << 2047) | 1
_PRIMES = [_RNG.getrandbits(1024) | (1 << 1023) | 1 for _ in range(7)]
_RSA_PUB = _der(0x30, _int(_N) + _int(65537))
_RSA_OID = _der(0x30, _der(6, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
_SPKI = _der(0x30, _RSA_OID + _der(3, b"\0" + _RSA_PUB))
_RSA_PRIV = _der(0x30, _int(0) + _int(_N) + _int(65537) + b"".join(_int(p) for p in _PRIMES[:6]))
_PKCS8 = _der(0x30, _int(0) + _RSA_OID + _der(4, _RSA_PRIV))
_ED25519 = _der(0x30, _der(0x30, _der(6, bytes.fromhex("2b6570"))) + _der(3, b"\0" + _RNG.randbytes(32)))


@pytest.mark.parametrize(
    ("blob", "algorithm", "detail"),
    [
        (
            bytes.fromhex("0602000000a40000") + b"RSA1" + struct.pack("<II", 2048, 65537) + _noise(256),
            "RSA",
            "RSA PUBLICKEYBLOB, 2048-bit",
        ),
        (
            bytes.fromhex("0702000000a40000") + b"RSA2" + struct.pack("<II", 1024, 65537) + _noise(576),
            "RSA",
            "RSA PRIVATEKEYBLOB, 1024-bit",
        ),
        (
            b"RSA1" + struct.pack("<5I", 2048, 3, 256, 0, 0) + b"\x01\x00\x01" + _noise(256),
            "RSA",
            "RSA BCRYPT_RSAPUBLIC_BLOB, 2048-bit",
        ),
        (_RSA_PUB, "RSA", "RSA public key (PKCS#1 DER), 2048-bit"),
        (_RSA_PRIV, "RSA", "RSA private key (PKCS#1 DER), 2048-bit"),
        (_SPKI, "RSA", "RSA public key (SubjectPublicKeyInfo DER), 2048-bit"),
        (_PKCS8, "RSA", "RSA private key (PKCS#8 DER)"),
        (_ED25519, "Ed25519", "Ed25519 public key (SubjectPublicKeyInfo DER)"),
        (
            b"-----BEGIN PUBLIC KEY-----\n"
            + b"\n".join(base64.encodebytes(_SPKI).split())
            + b"\n-----END PUBLIC KEY-----\n",
            "RSA",
            "PEM PUBLIC KEY: RSA public key (SubjectPublicKeyInfo DER), 2048-bit",
        ),
    ],
    ids=[
        "capi-public",
        "capi-private",
        "bcrypt",
        "pkcs1",
        "pkcs1-private",
        "spki",
        "pkcs8",
        "ed25519",
        "pem",
    ],
)
def test_key_blobs(blob: bytes, algorithm: str, detail: str) -> None:
    """Each format is found at its first byte, with its size; the key material is the whole blob."""
    hits = [h for h in detect_crypto(_image(_noise(40), blob, _noise(40))) if h.kind == HitKind.KEY_BLOB]
    assert [(h.algorithm, h.detail, h.address) for h in hits] == [(algorithm, detail, 0x10000 + 40)]
    assert hits[0].size == len(blob.rstrip(b"\n"))
    (km,) = extract_key_material(_image(_noise(40), blob, _noise(40)), hits)
    assert (km.address, km.length, km.sha256) == (
        hits[0].address,
        hits[0].size,
        hashlib.sha256(blob.rstrip(b"\n")).hexdigest(),
    )


def test_not_key_blobs() -> None:
    """Diffie-Hellman parameters (an even 'exponent'), short integers and a bare OID are no keys."""
    dh = _der(0x30, _int(_N) + _int(2))
    small = _der(0x30, _int(_RNG.getrandbits(256)) + _int(65537))
    fake_capi = bytes.fromhex("0602000000a40000") + b"RSA1" + struct.pack("<II", 100, 65537)  # 100-bit
    assert detect_crypto(_image(dh, small, _RSA_OID, fake_capi, _noise(64))) == []


def test_random_bytes_hold_nothing() -> None:
    """1 MB of random data (half of it marked executable): no table, constant or blob."""
    data = np.random.default_rng(1234).bytes(1 << 20)
    half = len(data) // 2
    sections = [
        Section(".text", 0x1000, half, data[:half], True),
        Section(".data", 0x81000, half, data[half:], False),
    ]
    image = Binary("0" * 64, len(data), "ELF", "x86-64", 64, 0, None, sections)
    assert detect_crypto(image) == []


def test_scan_speed() -> None:
    """The byte scans of a 5 MB image take well under a second (measured ~0.2 s)."""
    detect_crypto(_image(b"warm the index"))
    data = np.random.default_rng(5).bytes(5 << 20)
    image = _image(data[: 1 << 20] + struct.pack("<256I", *cc.crc_table(0xEDB88320)) + data[1 << 20 :])
    start = time.perf_counter()
    hits = detect_crypto(image)
    assert time.perf_counter() - start < 2.0  # generous: shared CI machines
    assert [h.algorithm for h in hits] == ["CRC32"]


def test_random_looking_windows() -> None:
    """The key-material entropy test passes most random windows and no text or counting pattern."""
    rng = random.Random(99)
    for n in (16, 32):
        passed = sum(_random_looking(rng.randbytes(n)) for _ in range(2000))
        assert passed >= 0.95 * 2000
    assert not _random_looking(b"0123456789abcdef")
    assert not _random_looking(bytes(range(32)))
    assert not _random_looking(bytes(32))
    assert not _random_looking(b"The quick brown fox jumps over!!")


# -- compiled fixtures -------------------------------------------------------------------------------

PROGRAMS = ("crypto_algos", "crypto_more", "crypto_none")
CELL_NAMES = ("gcc-O0", "gcc-O2", "clang-O2", "mingw64-O2")
KEYS = tuple(f"{p}/{c}" for p in PROGRAMS for c in CELL_NAMES)
_SESSION_KEY = hashlib.sha256(b"rc4 key").digest()[:16]  # crypto_algos.c session_key

# (algorithm, kind, function using it) that must be found in each positive fixture
EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "crypto_algos": {
        ("AES", "table", "aes_sub_bytes"),
        ("SHA-256", "table", "sha256_block"),
        ("SHA-256", "constant", "sha256_init"),
        ("MD5", "constant", "md5_init"),
        ("CRC32", "table", "crc32_update"),
        ("TEA", "constant", "tea_encrypt"),
        ("RC4", "key-schedule loop", "rc4_init"),
        ("RC4", "swap loop", "rc4_crypt"),
        ("ChaCha20", "constant", "chacha20_block"),
        ("XOR", "xor-loop", "xor_decode"),
        ("RSA", "key blob", "rsa_blob_check"),
    },
    "crypto_more": {
        ("AES", "table", "aes_te_round"),
        ("DES", "table", "des_sbox"),
        ("DES", "table", "des_initial_permutation"),
        ("SHA-1", "constant", "sha1_init"),
        ("SHA-1", "constant", "sha1_round"),
        ("SHA-512", "table", "sha512_mix"),
        ("BLAKE2b", "table", "blake2b_compress"),
        ("BLAKE2b", "constant", "blake2b_init"),
        ("BLAKE2b", "constant", "blake2b_compress"),
        ("xxHash", "constant", "xxh32_small"),
        ("xxHash", "constant", "xxh64_avalanche"),
        ("CRC32C", "constant", "crc32c_bitwise"),
        ("Salsa20", "constant", "salsa20_core"),
        ("XTEA", "constant", "xtea_encrypt"),
        ("Blowfish", "table", "blowfish_p_at"),
        ("RC4", "key-schedule loop", "rc4_int_set_key"),
        ("XOR", "xor-loop", "xor_key_decode"),
        ("RSA", "key blob", "rsa_key_byte"),
    },
}


def _build(dest: Path) -> dict[str, Any]:
    """Compile and strip every program with every installed cell (conftest's helpers)."""
    cells = [c for c in CELLS if c.name in CELL_NAMES]
    missing: dict[str, str] = {}
    tasks = []
    for cell in cells:
        cc_, strip = _which(cell.compilers), _which(cell.strips)
        if cc_ is None or strip is None:
            missing[cell.name] = f"{(cell.compilers if cc_ is None else cell.strips)[0]} not installed"
        else:
            tasks += [(cell, p, cc_, strip) for p in PROGRAMS]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
        errors = list(pool.map(lambda t: _build_one(*t, dest), tasks))
    for (cell, program, _, _), err in zip(tasks, errors, strict=True):
        if err is not None:
            raise RuntimeError(f"crypto fixture {program}/{cell.name}: {err}")
    return {"built": [f"{p}/{c.name}" for c, p, _, _ in tasks], "missing": missing}


@pytest.fixture(scope="session")
def crypto_bins(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FixtureBins:
    """The crypto fixture programs x the cells of :data:`CELL_NAMES` that are installed here."""
    if _which(("gcc",)) is None:
        pytest.skip("gcc not installed: cannot compile test binaries")
    files = [*(FIXTURE_SRC / f"{p}.c" for p in PROGRAMS), FIXTURE_SRC / "fixture.h", Path(__file__)]
    cells = [c for c in CELLS if c.name in CELL_NAMES]
    key = _content_key(files, [_compiler_identity(c.compilers) for c in cells])
    folder, manifest = _cached_build(_cache_root(request, tmp_path_factory), "crypto", key, _build)
    bins = {}
    for k in manifest["built"]:
        program, cname = k.split("/")
        cell = next(c for c in cells if c.name == cname)
        path = folder / f"{program}-{cname}{cell.suffix}"
        bins[k] = FixtureBin(
            k,
            program,
            cname,
            path,
            path.with_name(path.name + ".stripped"),
            cell.format,
            cell.arch,
            cell.bits,
        )
    return FixtureBins(bins, manifest["missing"])


@dataclass(frozen=True)
class Analysed:
    names: dict[int, str]  # function start -> name, from the unstripped build
    hits: list[CryptoHit]
    keys: list[KeyMaterial]
    scan: list[CryptoHit]  # without a program


@functools.cache
def _analyse(path: Path, stripped: Path) -> Analysed:
    names = {a: n.split(".")[0] for a, n in load_path(path).symbols.items()}
    binary = load_path(stripped, blind=True)
    program = recover(binary)
    hits = detect_crypto(binary, program)
    return Analysed(names, hits, extract_key_material(binary, hits, program), detect_crypto(binary))


def _need(crypto_bins: FixtureBins, key: str) -> Analysed:
    fb = crypto_bins.need(key)
    return _analyse(fb.path, fb.stripped)


def _triples(a: Analysed) -> set[tuple[str, str, str]]:
    return {(h.algorithm, str(h.kind), a.names.get(h.function, "?") if h.function else "") for h in a.hits}


@pytest.mark.parametrize("key", [k for k in KEYS if not k.startswith("crypto_none")])
def test_each_algorithm_found_with_its_function(crypto_bins: FixtureBins, key: str) -> None:
    """Every expected (algorithm, kind, function) is found, and no algorithm the program lacks."""
    a = _need(crypto_bins, key)
    expected = EXPECTED[key.split("/")[0]]
    missing = expected - _triples(a)
    assert not missing, f"not found: {sorted(missing)}\nhits: {sorted(_triples(a))}"
    unexpected = {h.algorithm for h in a.hits} - {e[0] for e in expected}
    assert not unexpected, f"algorithms the program does not contain: {unexpected}"


@pytest.mark.parametrize("key", [k for k in KEYS if k.startswith("crypto_algos")])
def test_key_material(crypto_bins: FixtureBins, key: str) -> None:
    """The RC4 session key main() passes to rc4_init, and the RSA blob, are key material."""
    a = _need(crypto_bins, key)
    by_hash = {k.sha256: k for k in a.keys}
    session = by_hash.get(hashlib.sha256(_SESSION_KEY).hexdigest())
    assert session is not None and session.length == 16 and session.function is not None
    (blob,) = [h for h in a.hits if h.kind == HitKind.KEY_BLOB]
    assert any(k.address == blob.address and k.length == 148 for k in a.keys)


@pytest.mark.parametrize("key", [k for k in KEYS if not k.startswith("crypto_none")])
def test_byte_scan_without_program(crypto_bins: FixtureBins, key: str) -> None:
    """Without recovered code: the same tables and blobs, no function, no loop or code-shape hit."""
    a = _need(crypto_bins, key)
    assert all(h.function is None for h in a.scan)
    code_only = {HitKind.KEY_SCHEDULE, HitKind.SWAP_LOOP, HitKind.XOR_LOOP, HitKind.INSTRUCTION}
    assert not {h.kind for h in a.scan} & code_only
    assert _located(a.scan) == _located(a.hits)


def _located(hits: list[CryptoHit]) -> set[tuple[str, int]]:
    return {(h.algorithm, h.address) for h in hits if h.kind in (HitKind.TABLE, HitKind.KEY_BLOB)}


@pytest.mark.parametrize("key", [k for k in KEYS if k.startswith("crypto_none")])
def test_plain_program_reports_nothing(crypto_bins: FixtureBins, key: str) -> None:
    """Everyday loops, tables and string handling: no hit, no key material, with or without code."""
    a = _need(crypto_bins, key)
    assert a.hits == [] and a.keys == [] and a.scan == []


def test_loader_fixtures_report_nothing(fixture_bins: FixtureBins) -> None:
    """switch / calls / tiny / freestanding in every installed cell hold no crypto."""
    for key, fb in sorted(fixture_bins.items()):
        binary = load_path(fb.stripped, blind=True)
        assert detect_crypto(binary, recover(binary)) == [], key
