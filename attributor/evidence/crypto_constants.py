"""The constants the crypto detector looks for, and the tables derived from them.

Everything that has a generating rule is computed here rather than written out, so a typo cannot
silently disable a signature: the AES S-box and T-tables from GF(2^8) arithmetic, SHA-2 round
constants and initial values from integer roots of primes, the MD5 table from ``sin``, CRC tables
from their polynomials, the Blowfish P-array and S-boxes from the hexadecimal digits of pi.
What has no rule (the DES S-boxes and permutations, the BLAKE2 message schedule, XXH3's secret,
OpenSSL's ``DES_SPtrans``) is written once below; ``tests/test_crypto.py`` checks each table
against a reference implementation (``hashlib``, ``zlib`` or a known-answer vector).

Two kinds of signature:

* :class:`Table` - a byte string as it lies in memory (one entry per byte order and layout),
  matched when at least ``min_bytes`` of it occur contiguously;
* :class:`ConstantSet` - 32- or 64-bit values that implementations spread over immediates and
  small data items; matched when ``need`` distinct values occur in one cluster (one function, or
  one run of nearby bytes), and ``need_more`` in further clusters once the algorithm is present.
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True)
class Table:
    """A contiguous table: ``data`` is its exact in-memory form (one byte order, one layout)."""

    name: str
    algorithm: str
    data: bytes
    min_bytes: int = 64
    entry: int = 4  # bytes per entry, for the detail line


@dataclass(frozen=True)
class ConstantSet:
    """Values of ``width`` bytes (4 or 8); ``need`` distinct ones in one cluster make a hit."""

    name: str
    algorithm: str
    values: tuple[int, ...]
    width: int = 4
    need: int = 1
    need_more: int = 0  # distinct values a further cluster needs once one cluster matched (0: need)
    shape: str = ""  # a code-shape check the using function must pass ("tea", "chacha")
    shared: str = ""  # another algorithm with the very same values (BLAKE2b uses SHA-512's IV)


# -- generated tables --------------------------------------------------------------------------


def _xtime(a: int) -> int:
    return ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1


def gf_mul(a: int, b: int) -> int:
    """Multiplication in AES's GF(2^8)."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        a, b = _xtime(a), b >> 1
    return out


@functools.cache
def aes_sbox() -> bytes:
    """FIPS-197 S-box: multiplicative inverse, then the affine map."""
    exp, log, x = [0] * 255, [0] * 256, 1
    for i in range(255):
        exp[i], log[x] = x, i
        x ^= _xtime(x)  # multiply by the generator 3
    out = bytearray(256)
    for a in range(256):
        inv = exp[(255 - log[a]) % 255] if a else 0
        s = inv
        for r in range(1, 5):
            s ^= ((inv << r) | (inv >> (8 - r))) & 0xFF
        out[a] = s ^ 0x63
    return bytes(out)


@functools.cache
def aes_inv_sbox() -> bytes:
    out = bytearray(256)
    for i, s in enumerate(aes_sbox()):
        out[s] = i
    return bytes(out)


def _ror32(v: int, n: int) -> int:
    return ((v >> n) | (v << (32 - n))) & M32


@functools.cache
def aes_t_tables() -> dict[str, tuple[int, ...]]:
    """Te0..Te3 and Td0..Td3 as in ``rijndael-alg-fst.c`` (Te0[0] = 0xc66363a5)."""
    te0 = [(gf_mul(s, 2) << 24) | (s << 16) | (s << 8) | gf_mul(s, 3) for s in aes_sbox()]
    td0 = [
        (gf_mul(s, 14) << 24) | (gf_mul(s, 9) << 16) | (gf_mul(s, 13) << 8) | gf_mul(s, 11)
        for s in aes_inv_sbox()
    ]
    out: dict[str, tuple[int, ...]] = {}
    for r in range(4):
        out[f"Te{r}"] = tuple(_ror32(v, 8 * r) for v in te0)
        out[f"Td{r}"] = tuple(_ror32(v, 8 * r) for v in td0)
    return out


def _primes(n: int) -> list[int]:
    out: list[int] = []
    c = 2
    while len(out) < n:
        if all(c % p for p in out if p * p <= c):
            out.append(c)
        c += 1
    return out


def _icbrt(n: int) -> int:
    x = 1 << ((n.bit_length() + 2) // 3)
    while True:
        y = (2 * x + n // (x * x)) // 3
        if y >= x:
            break
        x = y
    while x * x * x > n:
        x -= 1
    while (x + 1) ** 3 <= n:
        x += 1
    return x


@functools.cache
def sha2_constants() -> dict[str, tuple[int, ...]]:
    """K and initial values of SHA-224/256/384/512: fractional bits of roots of primes."""
    p = _primes(80)
    iv512 = tuple(math.isqrt(q << 128) & M64 for q in p[:8])
    iv384 = tuple(math.isqrt(q << 128) & M64 for q in p[8:16])
    return {
        "K256": tuple(_icbrt(q << 96) & M32 for q in p[:64]),
        "K512": tuple(_icbrt(q << 192) & M64 for q in p),
        "IV256": tuple(math.isqrt(q << 64) & M32 for q in p[:8]),
        "IV224": tuple(v & M32 for v in iv384),
        "IV512": iv512,
        "IV384": iv384,
    }


@functools.cache
def md5_t() -> tuple[int, ...]:
    return tuple(int(abs(math.sin(i + 1)) * 2**32) & M32 for i in range(64))


@functools.cache
def crc_table(poly: int, bits: int = 32, reflected: bool = True) -> tuple[int, ...]:
    mask, top = (1 << bits) - 1, 1 << (bits - 1)
    out = []
    for i in range(256):
        if reflected:
            c = i
            for _ in range(8):
                c = (c >> 1) ^ poly if c & 1 else c >> 1
        else:
            c = i << (bits - 8)
            for _ in range(8):
                c = ((c << 1) ^ poly) & mask if c & top else (c << 1) & mask
        out.append(c)
    return tuple(out)


def _arctan_inv(x: int, one: int) -> int:
    total = term = one // x
    x2, n, sign = x * x, 1, -1
    while term:
        term //= x2
        total += sign * (term // (2 * n + 1))
        n, sign = n + 1, -sign
    return total


@functools.cache
def pi_words(n: int) -> tuple[int, ...]:
    """The first ``n`` 32-bit words of the fractional part of pi (Machin's formula)."""
    guard = 64
    one = 1 << (32 * n + guard)
    pi = 16 * _arctan_inv(5, one) - 4 * _arctan_inv(239, one)
    frac = (pi - 3 * one) >> guard
    return tuple((frac >> (32 * (n - 1 - i))) & M32 for i in range(n))


# -- written-out tables (checked by tests against reference implementations) ------------------

DES_SBOXES = (
    "14 4 13 1 2 15 11 8 3 10 6 12 5 9 0 7 0 15 7 4 14 2 13 1 10 6 12 11 9 5 3 8 "
    "4 1 14 8 13 6 2 11 15 12 9 7 3 10 5 0 15 12 8 2 4 9 1 7 5 11 3 14 10 0 6 13",
    "15 1 8 14 6 11 3 4 9 7 2 13 12 0 5 10 3 13 4 7 15 2 8 14 12 0 1 10 6 9 11 5 "
    "0 14 7 11 10 4 13 1 5 8 12 6 9 3 2 15 13 8 10 1 3 15 4 2 11 6 7 12 0 5 14 9",
    "10 0 9 14 6 3 15 5 1 13 12 7 11 4 2 8 13 7 0 9 3 4 6 10 2 8 5 14 12 11 15 1 "
    "13 6 4 9 8 15 3 0 11 1 2 12 5 10 14 7 1 10 13 0 6 9 8 7 4 15 14 3 11 5 2 12",
    "7 13 14 3 0 6 9 10 1 2 8 5 11 12 4 15 13 8 11 5 6 15 0 3 4 7 2 12 1 10 14 9 "
    "10 6 9 0 12 11 7 13 15 1 3 14 5 2 8 4 3 15 0 6 10 1 13 8 9 4 5 11 12 7 2 14",
    "2 12 4 1 7 10 11 6 8 5 3 15 13 0 14 9 14 11 2 12 4 7 13 1 5 0 15 10 3 9 8 6 "
    "4 2 1 11 10 13 7 8 15 9 12 5 6 3 0 14 11 8 12 7 1 14 2 13 6 15 0 9 10 4 5 3",
    "12 1 10 15 9 2 6 8 0 13 3 4 14 7 5 11 10 15 4 2 7 12 9 5 6 1 13 14 0 11 3 8 "
    "9 14 15 5 2 8 12 3 7 0 4 10 1 13 11 6 4 3 2 12 9 5 15 10 11 14 1 7 6 0 8 13",
    "4 11 2 14 15 0 8 13 3 12 9 7 5 10 6 1 13 0 11 7 4 9 1 10 14 3 5 12 2 15 8 6 "
    "1 4 11 13 12 3 7 14 10 15 6 8 0 5 9 2 6 11 13 8 1 4 10 7 9 5 0 15 14 2 3 12",
    "13 2 8 4 6 15 11 1 10 9 3 14 5 0 12 7 1 15 13 8 10 3 7 4 12 5 6 11 0 14 9 2 "
    "7 11 4 1 9 12 14 2 0 6 10 13 15 3 5 8 2 1 14 7 4 10 8 13 15 12 9 0 3 5 6 11",
)
DES_PERMS = {
    "IP": "58 50 42 34 26 18 10 2 60 52 44 36 28 20 12 4 62 54 46 38 30 22 14 6 64 56 48 40 32 24 16 8 "
    "57 49 41 33 25 17 9 1 59 51 43 35 27 19 11 3 61 53 45 37 29 21 13 5 63 55 47 39 31 23 15 7",
    "E": "32 1 2 3 4 5 4 5 6 7 8 9 8 9 10 11 12 13 12 13 14 15 16 17 "
    "16 17 18 19 20 21 20 21 22 23 24 25 24 25 26 27 28 29 28 29 30 31 32 1",
    "P": "16 7 20 21 29 12 28 17 1 15 23 26 5 18 31 10 2 8 24 14 32 27 3 9 19 13 30 6 22 11 4 25",
    "PC1": "57 49 41 33 25 17 9 1 58 50 42 34 26 18 10 2 59 51 43 35 27 19 11 3 60 52 44 36 "
    "63 55 47 39 31 23 15 7 62 54 46 38 30 22 14 6 61 53 45 37 29 21 13 5 28 20 12 4",
    "PC2": "14 17 11 24 1 5 3 28 15 6 21 10 23 19 12 4 26 8 16 7 27 20 13 2 "
    "41 52 31 37 47 55 30 40 51 45 33 48 44 49 39 56 34 53 46 42 50 36 29 32",
}
# OpenSSL / SSLeay ``DES_SPtrans[8][64]`` (spr.h): S-box and P permutation combined, in SSLeay's
# own bit order; 32-bit words, eight per line, box k on lines 8k..8k+7.
_SPTRANS_HEX = (
    "0208080000080000020000020208080202000000000808020008000202000002"
    "0008080202080800020800000000080202000802020000000000000000080002"
    "0008000000000002020008000008080002080802020800000000080202000800"
    "0000000200000800000808000208000200000800020008020208000200000000"
    "0000000002080802020008000008000202080800000800000000080202000800"
    "0208000200000800000808000200000200080802000000020200000202080000"
    "0208080200080800020800000200080202000000000008020008000200000000"
    "0008000002000000020008020208080000000002020800020000080000080802"
    "4010801000000000001080004010000040000010000080104000800000108000"
    "0000800040100010000000104000800000100010401080004010000000000010"
    "0010000040008010401000100000800000108010400000000000000000100010"
    "4000801000108010401080004000001040000000001000000000801040108010"
    "0010001040108000400080000010801040108010001000104000001000000000"
    "4000000000008010001000004010001000008000400000000010801040008010"
    "4010800000008000000000004000001000000010401080100010800040100000"
    "4010001000100000000080104000800040008010000000104010000000108000"
    "0400000104040100000001000400010100040001040000000400010100040100"
    "0400010000040000040400000000000104040101000001010000000104040001"
    "0000000000040001040401000000010000000101040401010004000004000001"
    "0404000104000100000401010404000000040100000000000400000000040101"
    "0404010000000100000000010004000000000101000400010404000004000101"
    "0000000004040100000401000404000100040001040000000404010100000001"
    "0004010104000001040000000404010100040000040001000400010100040100"
    "0400010000000000040400010000010104000001000401010000010004040000"
    "0040100810001000000000081040100800000000104000001000100800400008"
    "1040100010000008100000000000100810000008004010080040000010000000"
    "1040000800401000000010000000000800401000100010081040000000001000"
    "0000100800000000004000081040100010001000104000081040100800400000"
    "1040000800001008004000001000000800401000100010000000000810400000"
    "1000100800000000000010000040000800000000104000081040100000001000"
    "1000000010401008004010080040000010401008000000081000100000401008"
    "0040000800401000104000001000100800001008100000001000000810401000"
    "0800000000010000000004000801042008010020080004000001042008010000"
    "0001000000000020080000200001040008000420080100200801040000000000"
    "0001040008000000000100200000042008000400000104200000000008000020"
    "0000002008000420080104200001002008010000000004000000042008010400"
    "0801040008000420000100200801000000010000000000200800002008000400"
    "0800000000010400080104200000000000010420080000000000040000010020"
    "0800042000000400000000000801042008010020080104000000042000010000"
    "0001040008010020080004000000042000000020000104200801000008000020"
    "8000004000200040000000008020200000200040000020008000204000200000"
    "0000204080202040002020008000000080002000800000408020000000202040"
    "0020000080002040802000400000000000002000000000408020200080200040"
    "8020204080200000800000000000204000000040002020000020204080002000"
    "0000204080000000800020000020204080202000002000400000000080002000"
    "8000000000002000802000400020000000200040802020400020200000000040"
    "8020204000202000002000008000204080000040802000000020204000000000"
    "0000200080000040800020408020200080200000000020400000004080200040"
    "0000400000000200010002000100000401004204000040040000420000000000"
    "0100000001000204000002040100400000000004010042000100400000000204"
    "0100020400004000000040040100420400000000010002000100000400004200"
    "0100400400004204010042000000000400004204010040040000020001000000"
    "0000420401004000010040040000020400004000000002000100000001004004"
    "0100020400004204000042000000000000000200010000040000000401000200"
    "0000000001000204010002000000420000000204000040000100420401000000"
    "0100420000000004000040040100420401000004010042000100400000004004"
    "2080008020820000000200800000000020020000008000802080000020820080"
    "0000008020000000008200000002008000820080200200802000008020800000"
    "0002000000820080008000802002000020820080200000800000000000820000"
    "2000000000800000200200802080008000800000000200002082000000000080"
    "0080000000020000200000802082008000020080200000000000000000820000"
    "2080008020020080200200000080008020820000000000800080008020020000"
    "2082008000800000208000002000008000820000000200802002008020800000"
    "0000008020820000008200800000000020000000208000800002000000820080"
)
BLAKE2_SIGMA = (
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 14 10 4 8 9 15 13 6 1 12 0 2 11 7 5 3 "
    "11 8 12 0 5 2 15 13 10 14 3 6 7 1 9 4 7 9 3 1 13 12 11 14 2 6 5 10 4 0 15 8 "
    "9 0 5 7 2 4 10 15 14 1 11 12 6 8 3 13 2 12 6 10 0 11 8 3 4 13 7 5 15 14 1 9 "
    "12 5 1 15 14 13 4 10 0 7 6 3 9 2 8 11 13 11 7 14 12 1 3 9 5 0 15 4 8 6 2 10 "
    "6 15 14 9 11 3 0 8 12 2 13 7 1 4 10 5 10 2 8 4 7 6 1 5 15 11 9 14 3 12 13 0"
)
XXH3_SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
    "eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e"
    "2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e"
)


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.split()]


def des_sbox(k: int) -> list[int]:
    """S-box ``k`` (0-7), 64 entries in row-major order (row = outer bits, column = inner)."""
    return _ints(DES_SBOXES[k])


def des_perm(name: str) -> list[int]:
    return _ints(DES_PERMS[name])


def des_fp() -> list[int]:
    """The final permutation, IP^-1."""
    ip = des_perm("IP")
    out = [0] * 64
    for i, src in enumerate(ip):
        out[src - 1] = i + 1
    return out


def _des_f_bits(k: int, value: int) -> int:
    """S-box ``k``'s 4-bit output placed through P, as a 32-bit word (bit 1 = MSB)."""
    pre = value << (28 - 4 * k)
    out = 0
    for i, src in enumerate(des_perm("P")):
        if pre & (1 << (32 - src)):
            out |= 1 << (31 - i)
    return out


@functools.cache
def des_spbox() -> tuple[int, ...]:
    """The combined S/P tables of Outerbridge's d3des (mbed TLS ``SB1..SB8``, libgcrypt ``sbox1..8``).

    Entry ``j`` of box ``k`` is box ``k``'s output for the 6-bit input ``j`` (natural bit order),
    permuted by P and rotated left by one bit, as d3des keeps R rotated.
    """
    out = []
    for k in range(8):
        box = des_sbox(k)
        for j in range(64):
            row, col = ((j >> 4) & 2) | (j & 1), (j >> 1) & 15
            v = _des_f_bits(k, box[row * 16 + col])
            out.append(((v << 1) | (v >> 31)) & M32)
    return tuple(out)


# -- signatures --------------------------------------------------------------------------------


def _u32(values: tuple[int, ...] | list[int], order: str) -> bytes:
    return struct.pack(f"{order}{len(values)}I", *values)


def _u64(values: tuple[int, ...] | list[int], order: str) -> bytes:
    return struct.pack(f"{order}{len(values)}Q", *values)


def _word_tables(name: str, algorithm: str, values: tuple[int, ...], width: int = 4) -> list[Table]:
    """One table per byte order of a table of ``width``-byte words."""
    pack = _u32 if width == 4 else _u64
    return [
        Table(name, algorithm, pack(values, "<"), entry=width),
        Table(f"{name} (big-endian)", algorithm, pack(values, ">"), entry=width),
    ]


def _aes_tables() -> list[Table]:
    out = [
        Table("AES S-box", "AES", aes_sbox(), entry=1),
        Table("AES inverse S-box", "AES", aes_inv_sbox(), entry=1),
        Table("AES S-box (32-bit, Te4)", "AES", _u32([s * 0x01010101 for s in aes_sbox()], "<")),
        Table("AES inverse S-box (32-bit, Td4)", "AES", _u32([s * 0x01010101 for s in aes_inv_sbox()], "<")),
    ]
    for name, values in aes_t_tables().items():
        out += _word_tables(f"AES {name}", "AES", values)
        doubled = tuple(v for v in values for _ in (0, 1))  # OpenSSL aes-x86_64: each entry twice
        out += [
            Table(f"AES {name} (doubled)", "AES", _u32(doubled, "<")),
            Table(f"AES {name} (doubled, big-endian)", "AES", _u32(doubled, ">")),
        ]
    return out


def _des_tables(sptrans: tuple[int, ...]) -> list[Table]:
    boxes = [v for k in range(8) for v in des_sbox(k)]
    out = [
        Table("DES S-boxes", "DES", bytes(boxes), entry=1),
        Table("DES S-boxes (32-bit)", "DES", _u32(boxes, "<")),
        *_word_tables("DES SP-boxes (d3des)", "DES", des_spbox()),
        *_word_tables("DES SPtrans (OpenSSL)", "DES", sptrans),
    ]
    perms = {**{n: des_perm(n) for n in DES_PERMS}, "FP": des_fp()}
    for name, perm in perms.items():
        size = len(perm)
        for base, label in ((0, ""), (1, ", 0-based")):
            vals = [v - base for v in perm]
            out.append(Table(f"DES {name} permutation{label}", "DES", bytes(vals), min_bytes=size, entry=1))
            out.append(Table(f"DES {name} permutation (32-bit{label})", "DES", _u32(vals, "<"), min_bytes=64))
    return out


@functools.cache
def des_sptrans() -> tuple[int, ...]:
    """OpenSSL's ``DES_SPtrans[8][64]`` (SSLeay ``spr.h``), from :data:`_SPTRANS_HEX`."""
    raw = bytes.fromhex("".join(_SPTRANS_HEX))
    return struct.unpack(">512I", raw)


@functools.cache
def tables() -> tuple[Table, ...]:
    """Every table signature, in every byte order and layout we look for."""
    sha = sha2_constants()
    out = _aes_tables() + _des_tables(des_sptrans())
    out += _word_tables("SHA-256 K", "SHA-256", sha["K256"])
    out += _word_tables("SHA-512 K", "SHA-512", sha["K512"], 8)
    out += _word_tables("MD5 T", "MD5", md5_t())
    out += _word_tables("CRC32 table", "CRC32", crc_table(0xEDB88320))
    out += _word_tables("CRC32 table (MSB-first)", "CRC32", crc_table(0x04C11DB7, reflected=False))
    out += _word_tables("CRC32C table", "CRC32C", crc_table(0x82F63B78))
    out += _word_tables("CRC-64 table", "CRC-64", crc_table(0xC96C5795D7870F42, 64), 8)
    sigma = _ints(BLAKE2_SIGMA)
    out += [
        Table("BLAKE2 sigma", "BLAKE2", bytes(sigma + sigma[:32]), entry=1),
        Table("XXH3 secret", "xxHash", XXH3_SECRET, entry=1),
    ]
    pi = pi_words(18 + 1024)
    out += _word_tables("Blowfish P-array", "Blowfish", pi[:18])
    out += _word_tables("Blowfish S-boxes", "Blowfish", pi[18:])
    return tuple(out)


XXH32_PRIMES = (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1)
XXH64_PRIMES = (
    0x9E3779B185EBCA87,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0x85EBCA77C2B2AE63,
    0x27D4EB2F165667C5,
    0x165667919E3779F9,  # XXH3 PRIME_MX1
    0x9FB21C651E98DF25,  # XXH3 PRIME_MX2
)
CHACHA_SIGMA = struct.unpack("<4I", b"expand 32-byte k")
CHACHA_TAU = struct.unpack("<4I", b"expand 16-byte k")
# The TEA/XTEA delta, its negation (``sum -= 0x61c88647``) and the decryption start (32 x delta).
TEA_DELTAS = (0x9E3779B9, 0x61C88647, 0xC6EF3720)


@functools.cache
def constant_sets() -> tuple[ConstantSet, ...]:
    """Every constant-set signature. Sets sharing values (MD5 and SHA-1 initial values) are
    ordered superset first: the detector drops a set matched inside a cluster a superset matched."""
    sha = sha2_constants()
    md5_iv = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)
    return (
        ConstantSet("SHA-1 initial values", "SHA-1", (*md5_iv, 0xC3D2E1F0), need=5),
        ConstantSet("MD5 initial values", "MD5", md5_iv, need=4),
        ConstantSet(
            "SHA-1 round constants", "SHA-1", (0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xCA62C1D6), need=4
        ),
        ConstantSet("MD5 T constants", "MD5", md5_t(), need=8, need_more=4),
        ConstantSet("SHA-256 K constants", "SHA-256", sha["K256"], need=8, need_more=4),
        ConstantSet("SHA-256 initial values", "SHA-256", sha["IV256"], need=6, shared="BLAKE2s"),
        ConstantSet("SHA-224 initial values", "SHA-256", sha["IV224"], need=6),
        ConstantSet("SHA-512 K constants", "SHA-512", sha["K512"], width=8, need=8, need_more=2),
        ConstantSet("SHA-512 initial values", "SHA-512", sha["IV512"], width=8, need=6, shared="BLAKE2b"),
        ConstantSet("SHA-384 initial values", "SHA-512", sha["IV384"], width=8, need=6),
        ConstantSet("XXH32 primes", "xxHash", XXH32_PRIMES, need=3, need_more=2),
        ConstantSet("XXH64 primes", "xxHash", XXH64_PRIMES, width=8, need=2, need_more=1),
        ConstantSet("ChaCha/Salsa20 sigma", "ChaCha20", CHACHA_SIGMA, need=4, shape="chacha"),
        ConstantSet("ChaCha/Salsa20 tau", "ChaCha20", CHACHA_TAU, need=4, shape="chacha"),
        ConstantSet("TEA delta", "TEA", TEA_DELTAS, need=1, shape="tea"),
        ConstantSet("CRC32 polynomial", "CRC32", (0xEDB88320, 0x04C11DB7), need=1),
        ConstantSet("CRC32C polynomial", "CRC32C", (0x82F63B78,), need=1),
        ConstantSet("CRC-64 polynomial", "CRC-64", (0xC96C5795D7870F42,), width=8, need=1),
    )
