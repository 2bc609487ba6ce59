"""The crypto benchmark's scorer (bench/crypto.py) on synthetic inputs: no binary, no detector."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import crypto, publish
from bench.crypto import Entry


def entry(families: tuple[str, ...], name: str = "libx.so.1", version=None, bid: str = "x") -> Entry:
    p = Path("/nonexistent") / name
    return Entry(bid, "reference", families, p, p, version)


@pytest.mark.parametrize(
    ("name", "algorithm"),
    [
        ("crc32", "CRC32"),
        ("BZ2_crc32Table", "CRC32"),
        ("lzma_crc64", "CRC-64"),
        ("XXH64", "xxHash"),
        ("ZSTD_XXH64_digest", "xxHash"),
        ("XXH64_finalize.constprop.0", "xxHash"),
        ("crypto_stream_chacha20_xor", "ChaCha20"),
        ("CRYPTO_chacha_20", "ChaCha20"),
        ("crypto_stream_xsalsa20", "Salsa20"),
        ("crypto_generichash_blake2b_final", "BLAKE2b"),
        ("BLAKE2B256_Init", "BLAKE2b"),
        ("SHA512_Init", "SHA-512"),
        ("SHA384_Init", "SHA-512"),
        ("SHA224_Init", "SHA-256"),
        ("MD5_Init", "MD5"),
        ("cmsMD5alloc", "MD5"),
        ("AES_encrypt", "AES"),
        ("DES_set_key", "DES"),
        ("ecb_crypt@GLIBC_2.2.5", "DES"),
        ("BF_encrypt", "Blowfish"),
        ("RC4_set_key", "RC4"),
    ],
)
def test_witness(name: str, algorithm: str) -> None:
    assert set(crypto.witnesses([name])) == {algorithm}


@pytest.mark.parametrize(
    "name",
    [
        "_cffi_d_crypto_stream_chacha20_xor",  # a CFFI wrapper
        "SSL_SESSION_get0_peer_sha256",  # mentions, does not implement
        "arc4random",  # glibc's is not RC4
        "crc32_combine",  # no table
        "XXH_versionNumber",
        "des_setparity",
        "PQescapeBytea",
        "",
    ],
)
def test_not_a_witness(name: str) -> None:
    assert crypto.witnesses([name]) == {}


def test_every_witness_names_a_scored_algorithm() -> None:
    assert {alg for alg, _, why in crypto.WITNESSES if why} <= set(crypto.ALGORITHMS)
    claimed = {a for claims in crypto.FAMILY_CLAIMS.values() for c in claims for a in c.algorithms}
    assert claimed <= set(crypto.ALGORITHMS)


def test_family_claims_file_and_version() -> None:
    assert set(crypto.family_claims(entry(("openssl",), "libcrypto.so.3"))) >= {"AES", "DES", "SHA-512"}
    assert crypto.family_claims(entry(("openssl",), "libssl.so.3")) == {}
    assert set(crypto.family_claims(entry(("sqlite",), version=(3, 34, 1)))) == {"RC4"}
    assert set(crypto.family_claims(entry(("sqlite",), version=(3, 40, 1)))) == {"ChaCha20"}
    assert crypto.family_claims(entry(("sqlite",), version=None)) == {}
    assert set(crypto.family_claims(entry(("libpq",), version=(13,)))) == {"MD5"}
    assert crypto.family_claims(entry(("libpq",), version=(16,))) == {}
    assert crypto.family_claims(entry(("brotli",))) == {}


def test_library_version() -> None:
    v = crypto.library_version
    assert v("reference", "bullseye_3.34.1-3", Path("libsqlite3.so.0.8.6")) == (3, 34, 1)
    assert v("reference", "bullseye_1_1.2.11.dfsg-2", Path("libz.so.1")) == (1, 2, 11)  # epoch
    assert v("query", "apsw-3.44.2.0", Path("__init__.so")) == (3, 44, 2, 0)
    assert v("query", "lz4-4.3.3", Path("_block.so")) is None  # the wheel's version is not lz4's
    assert v("query", "psycopg2-binary-2.9.9", Path("libpq-e8a033dd.so.5.16")) == (16,)


def test_truth_without_symtab_is_the_union_and_reports_symbol_only() -> None:
    t = crypto.derive_truth(entry(("zlib",)), ["crc32", "AES_encrypt"], has_symtab=False)
    assert t.algorithms == {"CRC32", "AES"}
    assert t.family_only == set()
    assert len(t.conflicts) == 1 and "AES" in t.conflicts[0] and "kept" in t.conflicts[0]
    t = crypto.derive_truth(entry(("gnutls",)), ["gnutls_init"], has_symtab=False)
    assert t.algorithms == {"AES", "SHA-1", "SHA-256", "SHA-512"} == t.family_only
    assert t.conflicts == []


def test_truth_with_symtab_drops_unconfirmed_claims_but_not_inlined_ones() -> None:
    t = crypto.derive_truth(entry(("libsodium",)), ["crypto_stream_chacha20", "crypto_hash_sha512"], True)
    assert t.algorithms == {"ChaCha20", "SHA-512"}
    assert any("claims AES" in c and "dropped" in c for c in t.conflicts)
    t = crypto.derive_truth(entry(("sqlite",), version=(3, 44, 2)), ["sqlite3_randomness"], True)
    assert t.algorithms == {"ChaCha20"} and not t.conflicts


def test_found_algorithms() -> None:
    hits = [
        ["AES", "table", 1, "AES Te0"],
        ["XTEA", "constant", 2, ""],
        ["Salsa20/ChaCha20", "constant", 3, ""],  # undecided: nothing
        ["XOR", "xor-loop", 4, ""],  # unscored kind
        ["RSA", "key blob", None, ""],
        ["SHA-1", "instruction", 5, ""],
    ]
    assert crypto.found_algorithms(hits) == {"AES", "TEA", "SHA-1"}


def test_score_counts() -> None:
    truth = {"a": {"AES", "MD5"}, "b": {"CRC32"}, "c": set()}
    found = {"a": {"AES"}, "b": {"CRC32", "MD5"}, "c": {"MD5"}}
    s = crypto.score(truth, found)
    aes, md5, crc = (s["algorithms"][k] for k in ("AES", "MD5", "CRC32"))
    assert (aes["tp"], aes["fp"], aes["fn"], aes["precision"], aes["recall"]) == (1, 0, 0, 1.0, 1.0)
    assert (md5["tp"], md5["fp"], md5["fn"], md5["binaries_with_it"]) == (0, 2, 1, 1)
    assert md5["precision"] == 0.0 and md5["recall"] == 0.0
    assert crc["tp"] == 1
    assert s["algorithms"]["DES"]["precision"] is None and s["algorithms"]["DES"]["recall"] is None
    assert s["total"] == {"tp": 2, "fp": 2, "fn": 1, "precision": 0.5, "recall": 2 / 3}
    assert sorted((e["binary"], e["algorithm"], e["error"]) for e in s["errors"]) == [
        ("a", "MD5", "FN"),
        ("b", "MD5", "FP"),
        ("c", "MD5", "FP"),
    ]


def test_named_checks() -> None:
    ents = [entry(("zlib",), bid="z1"), entry(("zlib",), bid="z2"), entry(("expat",), bid="e")]
    truth = {"z1": {"CRC32"}, "z2": {"CRC32"}, "e": set()}
    checks = {
        c["check"]: c for c in crypto.named_checks(ents, truth, {"z1": {"CRC32"}, "z2": set(), "e": {"MD5"}})
    }
    zlib = checks["CRC32 in the zlib copies"]
    assert zlib["binaries"] == ["z1", "z2"] and not zlib["ok"] and zlib["missing"] == ["z2: CRC32"]
    silent = next(c for k, c in checks.items() if k.startswith("silent"))
    assert not silent["ok"] and silent["missing"] == ["e: MD5"]
    assert not checks["xxHash in zstd"]["ok"]  # no binary: not a pass


def test_keep_published(tmp_path: Path) -> None:
    old = {"mode": "full", "date": "then", "tasks": {"speed": {"x": 1}}, "runs": [{"name": "speed / a"}]}
    (tmp_path / "latest.json").write_text(json.dumps(old))
    new = {
        "mode": "full",
        "date": "now",
        "tasks": {"crypto": {"y": 2}},
        "runs": [{"name": "crypto / attributor"}],
    }
    only = SimpleNamespace(work=tmp_path, quick=False, only=("crypto",))
    merged = publish.keep_published(only, new)
    assert merged["date"] == "then" and merged["tasks"]["speed"] == {"x": 1}
    assert merged["tasks"]["crypto"]["y"] == 2 and "environment" in merged["tasks"]["crypto"]["run"]
    assert [r["name"] for r in merged["runs"]] == ["speed / a", "crypto / attributor"]
    full = SimpleNamespace(work=tmp_path, quick=False, only=("speed", "crypto"))
    assert publish.keep_published(full, new) is new
    quick = SimpleNamespace(work=tmp_path, quick=True, only=("crypto",))
    assert publish.keep_published(quick, new) is new
