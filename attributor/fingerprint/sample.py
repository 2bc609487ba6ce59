"""From a loaded binary to its :class:`SampleFingerprint` (recover -> normalise -> hash)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from attributor.disasm.recover import Function, recover
from attributor.fingerprint.minhash import exact_hash, minhash_batch, token_hash
from attributor.fingerprint.model import FingerprintParams, SampleFingerprint
from attributor.fingerprint.normalise import Features, Normaliser
from attributor.loading.binary import Binary
from attributor.loading.loader import Limits

# Weights of feature kinds in the MinHash set (each unit is one more distinct token): the facts
# that survive a change of compiler (strings, APIs, constants, struct offsets) count more than
# instruction choice. Chosen on the function-match dev set; mnemonic bigrams and size buckets were
# tried and lowered cross-compiler recall, so they are not part of version 1.
W_STRING = 6
W_API = 4
W_CONST = 4
W_OPERAND = 3
MAX_MULTIPLICITY = 16


def fingerprint_binary(binary: Binary, params: FingerprintParams, limits: Limits) -> SampleFingerprint:
    """Fingerprint every recovered function of ``binary``."""
    prog = recover(binary, limits.max_functions, limits.max_insns_per_function)
    norm = Normaliser(binary, prog.thunks, prog.aliases)
    funcs = [prog.functions[a] for a in sorted(prog.functions)]
    index = {f.start: i for i, f in enumerate(funcs)}
    for thunk, target in prog.aliases.items():
        if target in index:
            index[thunk] = index[target]
    hashes: list[int] = []
    offsets = [0]
    exact = np.zeros(len(funcs), dtype=np.uint64)
    edges: set[tuple[int, int]] = set()
    for i, f in enumerate(funcs):
        feats = Features()
        tokens = norm.function(f.insns, feats)
        exact[i] = exact_hash(tokens)
        hashes.extend(token_hash(t) for t in feature_set(tokens, feats, f))
        offsets.append(len(hashes))
        edges.update((i, index[t]) for t in f.calls if t in index and index[t] != i)
    n = len(funcs)
    minhash = (
        minhash_batch(np.array(hashes, dtype=np.uint64), np.array(offsets, dtype=np.int64), params)
        if n
        else np.zeros((0, params.num_perm), dtype=np.uint8)
    )
    status = "incomplete" if any(f.truncated for f in funcs) or prog.notes else "complete"
    return SampleFingerprint(
        sha256=binary.sha256,
        format=binary.format,
        arch=binary.arch,
        size=binary.size,
        code_bytes=binary.code_bytes,
        covered_bytes=prog.covered_bytes,
        addresses=np.array([f.start for f in funcs], dtype=np.int64),
        sizes=np.array([f.size for f in funcs], dtype=np.int32),
        n_insns=np.array([len(f.insns) for f in funcs], dtype=np.int32),
        n_blocks=np.array([f.n_blocks for f in funcs], dtype=np.int32),
        exact=exact,
        minhash=minhash,
        edges=np.array(sorted(edges), dtype=np.int32).reshape(-1, 2),
        params=params,
        status=status,
        notes=list(prog.notes) + list(binary.warnings),
    )


def feature_set(tokens: list[str], feats: Features, f: Function) -> list[str]:
    """The weighted token set one function's MinHash is computed over (never empty)."""
    out: list[str] = [f"ni:{len(tokens).bit_length()}"]  # keeps empty functions representable
    counts = Counter(tokens)
    out.extend(f"{t}#{k}" for t, c in counts.items() for k in range(min(c, MAX_MULTIPLICITY)))
    for v in set(feats.small):
        out.extend(f"o:{v}#{k}" for k in range(W_OPERAND))
    for v in set(feats.constants):
        out.extend(f"c:{v:x}#{k}" for k in range(W_CONST))
    for s in set(feats.strings):
        out.extend(f"s:{s.hex()}#{k}" for k in range(W_STRING))
    for a in set(feats.apis):
        out.extend(f"a:{a}#{k}" for k in range(W_API))
    return out
