"""Crypto detection on the embedded-reuse dataset: which algorithms does each library contain?

Job: every query (its ``strip --strip-all`` copy, as the other tasks give it) and every reference
(as shipped: Debian's stripped builds) is loaded with ``load_path(path, blind=True)`` (no symbol
of any kind is read), its functions are recovered and ``detect_crypto(binary, program)`` runs,
in one subprocess measured like the other tools (``bench.procs.run_job``: ``os.wait4``, under
``nice``), one file at a time. The runner is this file: ``python bench/crypto.py JOB RESULT``.
Per file it also times the byte scans alone (``detect_crypto(binary)``, no program).

Ground truth is binary-level presence of each algorithm in ``ALGORITHMS``. It is derived here,
by the scorer only, from two sources, and every disagreement between them is reported:

* **symbols** of the *original* file (queries: the file as shipped in the wheel, whose
  ``.symtab`` may survive; references: ``.dynsym``), defined names only: ``WITNESSES`` maps a name
  to an algorithm when the function or table of that name implements it. An import (``U XXH32``
  in lz4 1.10, which links libxxhash) is not a witness; nor are wrappers (``_cffi_*``) or names
  that only mention an algorithm (``SSL_SESSION_get0_peer_sha256``, ``arc4random``).
* **the library family** (``FAMILY_CLAIMS``): what the library's sources and Debian's / the
  wheel's build configuration compile in. This covers internal code that no exported name shows
  (libgcrypt, gnutls, SQLite, c-ares, libzmq, liblzma's SHA-256, zstd ≥ 1.5 hides its XXH names).

Rule (``derive_truth``):

1. Without ``.symtab`` (only exports are visible): truth = witnesses ∪ claims. A witness for an
   algorithm the family does not claim is kept (the code is there) and printed as a conflict.
2. With ``.symtab`` (an unstripped original names internal functions too): truth = witnesses ∪
   the claims marked ``inlined`` (code known to leave no name even there, e.g. SQLite's
   ``chacha_block`` inlined into ``sqlite3_randomness``). Any other claim the symbols do not
   confirm is dropped and printed as a conflict: this is how PyNaCl's minimal libsodium (no
   AES-GCM) and lz4's block-only module (no xxHash) are told apart from full builds.

Detector names are mapped with ``ALIASES``; names that leave two algorithms open
(``Salsa20/ChaCha20``, ``SHA-512/BLAKE2b``, ``BLAKE2``) and the unscored kinds (``xor-loop``,
``key blob``: no ground truth here) count for nothing.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

log = logging.getLogger("bench")

ALGORITHMS = (
    "AES",
    "DES",
    "RC4",
    "Blowfish",
    "TEA",
    "SHA-1",
    "SHA-256",
    "SHA-512",
    "MD5",
    "BLAKE2b",
    "BLAKE2s",
    "ChaCha20",
    "Salsa20",
    "CRC32",
    "CRC32C",
    "CRC-64",
    "xxHash",
)
ALIASES = {"XTEA": "TEA"}
UNSCORED_KINDS = frozenset({"xor-loop", "key blob"})

# --------------------------------------------------------------------------- symbol witnesses

# (algorithm, full-name pattern, why the name is a fair witness). Matched against defined
# symbols with clone suffixes (".constprop.0", ".isra.0") and versions ("@GLIBC_2.2.5") removed.
WITNESSES: tuple[tuple[str, str, str], ...] = (
    (
        "CRC32",
        r"crc32|crc32_z|get_crc_table|lzma_crc32|BZ2_crc32Table",
        "zlib's crc32()/get_crc_table() run on the CRC-32 table; bzip2 exports its (MSB-first) table; "
        "liblzma's CRC-32",
    ),
    ("CRC-64", r"lzma_crc64", "liblzma's CRC-64/XZ"),
    ("CRC32C", r"crc32c(_\w+)?", "a function named for CRC-32C computes it"),
    (
        "xxHash",
        r"(\w+_)?XXH(32|64|3_64bits|3_128bits|128)(_\w+)?",
        "XXH32/XXH64/XXH3 functions (also namespaced: ZSTD_XXH64, XXH_INLINE_XXH64_update) use the primes",
    ),
    (
        "ChaCha20",
        r"crypto_stream_(x)?chacha20\w*|crypto_core_hchacha20|CRYPTO_chacha_20|ChaCha20_ctr32\w*"
        r"|EVP_chacha20(_poly1305)?",
        "libsodium / BoringSSL / OpenSSL ChaCha20 entry points; EVP_chacha20 returns the cipher table "
        "that points at the implementation",
    ),
    ("Salsa20", r"crypto_stream_(x)?salsa20\w*|crypto_core_(h)?salsa20\w*", "libsodium's Salsa20 / XSalsa20"),
    (
        "BLAKE2b",
        r"crypto_generichash_blake2b\w*|BLAKE2B256\w*|EVP_blake2b512|blake2b\w*",
        "libsodium's generichash is BLAKE2b; BoringSSL's BLAKE2B256; OpenSSL's EVP_blake2b512",
    ),
    ("BLAKE2s", r"EVP_blake2s256|blake2s\w*", "OpenSSL's EVP_blake2s256"),
    (
        "SHA-512",
        r"SHA(512|384)(_Init|_Update|_Final|_Transform)?|crypto_hash_sha512\w*"
        r"|crypto_auth_hmacsha512\w*|EVP_sha(512|384)",
        "SHA-384 is SHA-512 with other IVs (same K)",
    ),
    (
        "SHA-256",
        r"SHA(256|224)(_Init|_Update|_Final|_Transform)?|crypto_hash_sha256\w*"
        r"|crypto_auth_hmacsha256\w*|EVP_sha(256|224)",
        "SHA-224 is SHA-256 with other IVs (same K)",
    ),
    ("SHA-1", r"SHA1(_Init|_Update|_Final|_Transform)?|EVP_sha1", "OpenSSL/BoringSSL SHA-1"),
    (
        "MD5",
        r"MD5(_Init|_Update|_Final|_Transform)?|EVP_md5|cmsMD5(alloc|add|finish|computeID)|pg_md5_hash",
        "OpenSSL MD5; lcms2's own MD5 for profile ids; PostgreSQL's pg_md5_hash",
    ),
    (
        "AES",
        r"AES_(encrypt|decrypt|set_encrypt_key|set_decrypt_key)|EVP_aes_\w+|crypto_aead_aes256gcm_encrypt",
        "OpenSSL/BoringSSL AES; libsodium's AES-256-GCM (AES-NI)",
    ),
    (
        "DES",
        r"DES_(set_key\w*|encrypt[123]|ecb_encrypt|ecb3_encrypt)|EVP_des_\w+|ecb_crypt|cbc_crypt",
        "OpenSSL/BoringSSL DES; glibc's Sun RPC ecb_crypt/cbc_crypt (compat symbols) are DES",
    ),
    ("RC4", r"RC4|RC4_set_key|EVP_rc4\w*", "OpenSSL/BoringSSL RC4 (not arc4random: glibc's is not RC4)"),
    ("Blowfish", r"BF_(encrypt|decrypt|set_key)|EVP_bf_\w+", "OpenSSL Blowfish"),
)
_WITNESS_RE = [(alg, re.compile(f"(?:{pat})")) for alg, pat, _ in WITNESSES]
_NOT_A_WITNESS = re.compile(r"^_cffi_")  # CFFI wrappers call the real function; never count them


def base_symbol(name: str) -> str:
    """``XXH64_finalize.constprop.0`` -> ``XXH64_finalize``; ``ecb_crypt@GLIBC_2.2.5`` -> ``ecb_crypt``."""
    name = name.split("@", 1)[0]
    return name.split(".", 1)[0] if not name.startswith(".") else ""


def witnesses(names: Iterable[str]) -> dict[str, set[str]]:
    """Algorithm -> the defined names that witness it."""
    out: dict[str, set[str]] = defaultdict(set)
    for raw in names:
        name = base_symbol(raw)
        if not name or _NOT_A_WITNESS.match(name):
            continue
        for alg, rx in _WITNESS_RE:
            if rx.fullmatch(name):
                out[alg].add(name)
    return dict(out)


# --------------------------------------------------------------------------- family claims

Version = tuple[int, ...]


@dataclass(frozen=True)
class Claim:
    algorithms: frozenset[str]
    why: str
    file: str = ""  # regex the file name must contain (e.g. OpenSSL: libcrypto, not libssl)
    applies: Callable[[Version | None], bool] | None = None  # on the library version
    inlined: bool = False  # leaves no name even in an unstripped build
    needs_bytes: bytes = b""  # a build-configuration witness the file must contain


def _claim(algs: str, why: str, **kw: object) -> Claim:
    return Claim(frozenset(a.strip() for a in algs.split(",")), why, **kw)  # type: ignore[arg-type]


def _below(v: Version) -> Callable[[Version | None], bool]:
    return lambda got: got is not None and got < v


def _from(v: Version) -> Callable[[Version | None], bool]:
    return lambda got: got is not None and got >= v


FAMILY_CLAIMS: dict[str, tuple[Claim, ...]] = {
    "zlib": (
        _claim(
            "CRC32", "crc32.c: the CRC-32 tables (static, or built at start-up only with DYNAMIC_CRC_TABLE)"
        ),
    ),
    "bzip2": (_claim("CRC32", "crctable.c: BZ2_crc32Table, MSB-first CRC-32"),),
    "zstd": (_claim("xxHash", "frame checksums are XXH64 (xxhash.c is compiled in; ≥ 1.5 hides the names)"),),
    "lz4": (
        _claim(
            "xxHash",
            "lz4frame.c includes xxhash.c up to 1.9.4; Debian's 1.10 links libxxhash instead",
            applies=_below((1, 10)),
        ),
    ),
    "libsodium": (
        _claim(
            "ChaCha20, Salsa20, BLAKE2b, SHA-512, SHA-256, AES",
            "crypto_stream_{chacha20,salsa20}, generichash (BLAKE2b), crypto_hash_sha{256,512}, "
            "aead_aes256gcm (full build)",
        ),
    ),
    "openssl": (
        _claim(
            "AES, DES, RC4, Blowfish, MD5, SHA-1, SHA-256, SHA-512, ChaCha20, BLAKE2b, BLAKE2s",
            "libcrypto carries every one of these ciphers/digests (libssl calls libcrypto, has none)",
            file="libcrypto",
        ),
    ),
    "boringssl": (
        _claim(
            "AES, DES, RC4, MD5, SHA-1, SHA-256, SHA-512, ChaCha20",
            "BoringSSL's libcrypto (no Blowfish, no BLAKE2s; BLAKE2b arrived later: symbols decide)",
            file="libcrypto",
        ),
    ),
    "libgcrypt": (
        _claim(
            "AES, DES, RC4, Blowfish, MD5, SHA-1, SHA-256, SHA-512, CRC32, BLAKE2b, BLAKE2s, "
            "ChaCha20, Salsa20",
            "cipher/*.c, all enabled in Debian's build; only gcry_* is exported",
        ),
    ),
    "gnutls": (
        _claim(
            "AES, SHA-1, SHA-256, SHA-512",
            "lib/accelerated/x86: CRYPTOGAMS AES-NI/SSSE3 AES and SHA code; the rest is in nettle",
        ),
    ),
    "liblzma": (_claim("CRC32, CRC-64, SHA-256", "check/: crc32, crc64, sha256 (internal lzma_sha256_*)"),),
    "lcms2": (_claim("MD5", "cmsmd5.c: profile ids"),),
    "libpq": (
        _claim(
            "MD5",
            "src/common/md5.c up to PostgreSQL 13; from 14 MD5 goes through OpenSSL",
            applies=_below((14,)),
        ),
    ),
    "sqlite": (
        _claim("RC4", "sqlite3_randomness is an RC4 PRNG before 3.40", applies=_below((3, 40)), inlined=True),
        _claim(
            "ChaCha20",
            "sqlite3_randomness is ChaCha20 from 3.40 (chacha_block is inlined)",
            applies=_from((3, 40)),
            inlined=True,
        ),
    ),
    "c-ares": (_claim("RC4", "ares__rc4 PRNG for query ids (compiled in every version here)"),),
    "libzmq": (
        _claim(
            "SHA-1",
            "external/sha1, used only by the WebSocket transport (ws_engine): the claim needs "
            "the RFC 6455 handshake GUID in the file, which pyzmq's bundled build lacks",
            needs_bytes=b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
        ),
    ),
}


@dataclass(frozen=True)
class Entry:
    """One binary of the dataset, as the scorer sees it."""

    id: str
    kind: str  # "query" | "reference"
    families: tuple[str, ...]
    path: Path  # the original (queries: as shipped, possibly with .symtab)
    scanned: Path  # what the detector gets (queries: the stripped copy)
    version: Version | None = None


@dataclass
class Truth:
    algorithms: set[str]
    witnessed: dict[str, set[str]]
    family_only: set[str]  # claimed, no symbol names it (stripped builds, internal code)
    conflicts: list[str] = field(default_factory=list)


def family_claims(entry: Entry) -> dict[str, Claim]:
    """Algorithm -> the claim that puts it in this binary (families, file name and version)."""
    out: dict[str, Claim] = {}
    name = entry.path.name
    for fam in entry.families:
        for c in FAMILY_CLAIMS.get(fam, ()):
            if c.file and c.file not in name:
                continue
            if c.applies is not None and not c.applies(entry.version):
                continue
            if c.needs_bytes and c.needs_bytes not in _file_bytes(entry.path):
                continue
            for a in c.algorithms:
                out.setdefault(a, c)
    return out


def _file_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def derive_truth(entry: Entry, names: Iterable[str], has_symtab: bool) -> Truth:
    """Combine symbol witnesses and family claims (rule in the module docstring)."""
    wit = witnesses(names)
    claims = family_claims(entry)
    algs = set(wit)
    conflicts = []
    family_only = set()
    for a, c in claims.items():
        if a in wit:
            continue
        if has_symtab and not c.inlined:
            conflicts.append(
                f"{entry.id}: {', '.join(entry.families)} claims {a} but the .symtab names none: dropped"
            )
            continue
        algs.add(a)
        family_only.add(a)
    for a in sorted(set(wit) - set(claims)):
        sample = ", ".join(sorted(wit[a])[:3])
        conflicts.append(
            f"{entry.id}: symbols name {a} ({sample}), family {', '.join(entry.families) or '?'} "
            "does not claim it: kept"
        )
    return Truth({a for a in algs if a in ALGORITHMS}, wit, family_only, conflicts)


_VERSION = re.compile(r"(\d+(?:\.\d+)*)")
_LIBPQ_SONAME = re.compile(r"libpq[-\w]*\.so\.5\.(\d+)")


def library_version(kind: str, family_dir: str, path: Path) -> Version | None:
    """The library's own version, where the dataset shows it.

    libpq: the soname minor is the PostgreSQL major (``libpq.so.5.16``). References: Debian's
    upstream version from ``<suite>_[<epoch>_]<version>``. Queries: the package version only for
    apsw, whose version is SQLite's by its own scheme; other wheels' versions are not the bundled
    library's (lz4 4.3.3 bundles lz4 1.9.4), so None (version-bound claims do not apply).
    """
    m = _LIBPQ_SONAME.search(path.name)
    if m:
        return (int(m.group(1)),)
    if kind == "reference":
        rest = family_dir.split("_", 1)[1] if "_" in family_dir else family_dir
        rest = re.sub(r"^\d+_", "", rest)  # epoch
    elif family_dir.startswith("apsw-"):
        rest = family_dir[len("apsw-") :]
    else:
        return None
    m = _VERSION.match(rest)
    return tuple(int(x) for x in m.group(1).split(".")) if m else None


def read_symbols(path: Path) -> tuple[list[str], bool]:
    """Defined symbol names (.dynsym, plus .symtab when present) and whether .symtab is present."""
    import lief

    lief.logging.disable()
    binary = lief.ELF.parse(str(path))
    if binary is None:
        return [], False
    has_symtab = binary.get_section(".symtab") is not None
    syms = list(binary.dynamic_symbols) + (list(binary.symtab_symbols) if has_symtab else [])
    skip = (lief.ELF.Symbol.TYPE.SECTION, lief.ELF.Symbol.TYPE.FILE)
    names = [s.name for s in syms if s.shndx and s.name and s.type not in skip]
    return [n if isinstance(n, str) else n.decode("utf-8", "replace") for n in names], has_symtab


# --------------------------------------------------------------------------- scoring


def found_algorithms(hits: Iterable[Iterable]) -> set[str]:
    """Scored algorithm names among runner hits ``[algorithm, kind, ...]``."""
    out = set()
    for h in hits:
        alg, kind = list(h)[:2]
        alg = ALIASES.get(alg, alg)
        if kind not in UNSCORED_KINDS and alg in ALGORITHMS:
            out.add(alg)
    return out


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def score(truth: dict[str, set[str]], found: dict[str, set[str]]) -> dict:
    """Per algorithm TP/FP/FN over binaries; micro totals; every FP and FN binary."""
    per: dict[str, dict] = {}
    errors = []
    for alg in ALGORITHMS:
        tp = fp = fn = 0
        for bid in truth:
            t, f = alg in truth[bid], alg in found.get(bid, set())
            tp += t and f
            if f and not t:
                fp += 1
                errors.append({"binary": bid, "algorithm": alg, "error": "FP"})
            if t and not f:
                fn += 1
                errors.append({"binary": bid, "algorithm": alg, "error": "FN"})
        per[alg] = {
            "binaries_with_it": tp + fn,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
        }
    tp, fp, fn = (sum(p[k] for p in per.values()) for k in ("tp", "fp", "fn"))
    total = {"tp": tp, "fp": fp, "fn": fn, "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn)}
    return {"algorithms": per, "total": total, "errors": errors}


# The named expectations: (label, family or query id part, algorithms, file-name part).
CHECKS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("CRC32 in the zlib copies", "zlib", ("CRC32",), ""),
    ("CRC32 in the bzip2 copies", "bzip2", ("CRC32",), ""),
    ("xxHash in zstd", "zstd", ("xxHash",), ""),
    (
        "ChaCha20 / Salsa20 / BLAKE2b / SHA-512 in PyNaCl's libsodium",
        "PyNaCl",
        ("ChaCha20", "Salsa20", "BLAKE2b", "SHA-512"),
        "",
    ),
    (
        "AES / SHA-2 / DES in psycopg2-binary's libcrypto",
        "psycopg2-binary",
        ("AES", "SHA-256", "SHA-512", "DES"),
        "libcrypto",
    ),
)


def named_checks(entries: list[Entry], truth: dict[str, set[str]], found: dict[str, set[str]]) -> list[dict]:
    out = []
    for label, who, algs, file_part in CHECKS:
        sel = [
            e for e in entries if (who in e.families or f"/{who}-" in f"/{e.id}") and file_part in e.path.name
        ]
        missing = [f"{e.id}: {a}" for e in sel for a in algs if a not in found.get(e.id, set())]
        not_in_truth = [f"{e.id}: {a}" for e in sel for a in algs if a not in truth.get(e.id, set())]
        out.append(
            {
                "check": label,
                "binaries": [e.id for e in sel],
                "ok": bool(sel) and not missing,
                "missing": missing,
                "not_in_truth": not_in_truth,
            }
        )
    silent = [e.id for e in entries if not truth[e.id]]
    noisy = [f"{b}: {', '.join(sorted(found.get(b, set())))}" for b in silent if found.get(b)]
    out.append(
        {
            "check": "silent where nothing is present (no scored algorithm in the ground truth)",
            "binaries": silent,
            "ok": not noisy,
            "missing": noisy,
            "not_in_truth": [],
        }
    )
    return out


# --------------------------------------------------------------------------- plan / run / summarise


def entries(settings, refs: list, queries: list) -> list[Entry]:
    from bench.datasets import stripped_copy

    out = []
    for q in queries:
        stripped = stripped_copy(q.path, settings.work / "stripped-queries" / q.id)
        pkg_dir = q.id.split("/")[1] if q.id.count("/") >= 2 else ""
        out.append(
            Entry(
                q.id, "query", tuple(q.positives), q.path, stripped, library_version("query", pkg_dir, q.path)
            )
        )
    for r in refs:
        fam_dir = r.path.parent.name
        out.append(
            Entry(
                r.id, "reference", (r.family,), r.path, r.path, library_version("reference", fam_dir, r.path)
            )
        )
    return out


def run(settings, refs: list, queries: list, runs: list[dict]) -> dict:
    """Run the crypto job (one subprocess, measured), derive the truth, score; the task summary."""
    from bench.config import code_digest
    from bench.procs import BENCH_DIR, REPO_ROOT, our_python, run_job

    ents = entries(settings, refs, queries)
    job = {
        "task": "crypto",
        "files": [{"id": e.id, "path": str(e.scanned)} for e in ents],
        "code": code_digest([REPO_ROOT / "attributor", Path(__file__).resolve()]),
    }
    name = f"{settings.mode}-crypto-attributor"
    result, usage = run_job(our_python(), BENCH_DIR / "crypto.py", job, settings.work / "runs", name)
    runs.append(
        {
            "name": "crypto / attributor",
            "cpu_s": usage.cpu_s,
            "wall_s": usage.wall_s,
            "max_rss_mib": usage.max_rss_mib,
            "reused": False,
        }
    )
    summary = summarise(ents, result)
    summary["run"] = {
        "command": settings.command,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "code": job["code"],
        "versions": result.get("versions", {}),
        "cpu_s": usage.cpu_s,
        "wall_s": usage.wall_s,
    }
    return summary


def summarise(ents: list[Entry], result: dict) -> dict:
    truth, found, family_only, conflicts = {}, {}, {}, []
    for e in ents:
        names, has_symtab = read_symbols(e.path)
        t = derive_truth(e, names, has_symtab)
        truth[e.id] = t.algorithms
        if t.family_only:
            family_only[e.id] = sorted(t.family_only)
        conflicts += t.conflicts
        r = result["files"][e.id]
        found[e.id] = found_algorithms(r.get("hits", []))
    for c in conflicts:
        log.info("crypto truth: %s", c)
    scored = score(truth, found)
    for err in scored["errors"]:
        r = result["files"][err["binary"]]
        err["evidence"] = sorted(
            {h[3] for h in r.get("hits", []) if ALIASES.get(h[0], h[0]) == err["algorithm"]}
        )[:3]
        err["ambiguous"] = sorted(
            {h[0] for h in r.get("hits", []) if h[0] not in ALGORITHMS and h[1] not in UNSCORED_KINDS}
        )
    files = result["files"].values()
    mb = sum(f.get("mapped_bytes", 0) for f in files) / 2**20
    speed = {
        "files": len(result["files"]),
        "file_mib": sum(f.get("file_bytes", 0) for f in files) / 2**20,
        "mapped_mib": mb,
        **{
            f"{k}_ms_per_mib": 1000 * sum(f.get(f"cpu_{k}_s", 0.0) for f in files) / mb if mb else None
            for k in ("load", "recover", "scan", "detect")
        },
        "scan_mib_per_s": mb / s if (s := sum(f.get("cpu_scan_s", 0.0) for f in files)) else None,
        "largest": max(
            (
                {
                    "id": i,
                    "mapped_mib": f.get("mapped_bytes", 0) / 2**20,
                    "scan_s": f.get("cpu_scan_s"),
                    "detect_s": f.get("cpu_detect_s"),
                }
                for i, f in result["files"].items()
            ),
            key=lambda x: x["mapped_mib"],
        ),
    }
    return {
        "n_queries": sum(e.kind == "query" for e in ents),
        "n_references": sum(e.kind == "reference" for e in ents),
        **scored,
        "checks": named_checks(ents, truth, found),
        "truth_conflicts": conflicts,
        "family_only": family_only,
        "failed": {i: f["error"] for i, f in result["files"].items() if "error" in f},
        "speed": speed,
    }


# --------------------------------------------------------------------------- runner (subprocess)


def _scan_file(path: str) -> dict:
    from attributor.disasm.recover import recover
    from attributor.errors import AttributorError
    from attributor.evidence.crypto import detect_crypto
    from attributor.loading.loader import load_path

    rec: dict = {"file_bytes": Path(path).stat().st_size}
    try:
        t = time.process_time()
        binary = load_path(path, blind=True)
        rec["cpu_load_s"] = time.process_time() - t
        rec["mapped_bytes"] = sum(len(s.data) for s in binary.sections)
        t = time.process_time()
        detect_crypto(binary)
        rec["cpu_scan_s"] = time.process_time() - t
        t = time.process_time()
        program = recover(binary)
        rec["cpu_recover_s"] = time.process_time() - t
        t = time.process_time()
        hits = detect_crypto(binary, program)
        rec["cpu_detect_s"] = time.process_time() - t
    except AttributorError as exc:
        rec["error"] = f"{type(exc).__name__}: {exc}"
        return rec
    rec["hits"] = [[h.algorithm, str(h.kind), h.function, h.detail] for h in hits]
    return rec


def runner_main(argv: list[str]) -> int:
    from importlib.metadata import version

    from attributor.evidence.crypto import _index

    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    t = time.process_time()
    _index()  # the signature index is built once per process; not part of any file's time
    files = {}
    cpu_index = time.process_time() - t
    for f in job["files"]:
        files[f["id"]] = _scan_file(f["path"])
        print(f"scanned {f['id']}: {len(files[f['id']].get('hits', []))} hits", file=sys.stderr, flush=True)
    result = {
        "tool": "attributor",
        "files": files,
        "cpu_index_s": cpu_index,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "versions": {n: version(n) for n in ("attributor", "lief", "capstone", "numpy")},
    }
    Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(runner_main(sys.argv))
