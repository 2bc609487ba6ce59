"""From a loaded binary to its :class:`SampleFingerprint` (recover -> normalise -> hash)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from attributor.disasm.recover import Program, recover
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
# A callee this small is what optimisers inline: its semantic features are added to its callers,
# so an -O0 caller that still calls it resembles an -O3 caller that inlined it.
INLINE_MAX_TOKENS = 30


def fingerprint_binary(
    binary: Binary, params: FingerprintParams, limits: Limits, program: Program | None = None
) -> SampleFingerprint:
    """Fingerprint every recovered function of ``binary`` (recovered here unless ``program`` is given)."""
    prog = program or recover(binary, limits.max_functions, limits.max_insns_per_function)
    norm = Normaliser(binary, prog.thunks, prog.aliases)
    funcs = [prog.functions[a] for a in sorted(prog.functions)]
    index = {f.start: i for i, f in enumerate(funcs)}
    for thunk, target in prog.aliases.items():
        if target in index:
            index[thunk] = index[target]
    tokens_of: list[list[str]] = []
    semantic: list[list[str]] = []
    exact = np.zeros(len(funcs), dtype=np.uint64)
    edges: set[tuple[int, int]] = set()
    for i, f in enumerate(funcs):
        feats = Features()
        tokens = norm.function(f.insns, feats)
        exact[i] = exact_hash(tokens)
        tokens_of.append(instruction_features(tokens))
        semantic.append(semantic_features(feats))
        edges.update((i, index[t]) for t in f.calls if t in index and index[t] != i)
    hashes: list[int] = []
    offsets = [0]
    callees: dict[int, list[int]] = {}
    for a, b in sorted(edges):
        callees.setdefault(a, []).append(b)
    for i in range(len(funcs)):
        feature_set = set(tokens_of[i]) | set(semantic[i])
        for g in callees.get(i, ()):  # what an optimiser would inline here
            if len(tokens_of[g]) <= INLINE_MAX_TOKENS:
                feature_set.update(semantic[g])
        hashes.extend(token_hash(t) for t in feature_set)
        offsets.append(len(hashes))
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
        # addresses at or above 2**63 (kernel-style images) keep their bits in the int64 column
        addresses=np.array([f.start for f in funcs], dtype=np.uint64).view(np.int64),
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


def instruction_features(tokens: list[str]) -> list[str]:
    """Instruction tokens with log2 multiplicity: unrolled and rolled loops stay close."""
    out = [f"ni:{len(tokens).bit_length()}"]  # keeps empty functions representable
    for t, c in Counter(tokens).items():
        out.extend(f"{t}#{k}" for k in range(c.bit_length()))
    return out


def semantic_features(feats: Features) -> list[str]:
    """The facts that survive a change of compiler, repeated by weight."""
    out: list[str] = []
    for v in sorted(set(feats.small)):
        out.extend(f"o:{v}#{k}" for k in range(W_OPERAND))
    for v in sorted(set(feats.constants)):
        out.extend(f"c:{v:x}#{k}" for k in range(W_CONST))
    for s in sorted(set(feats.strings)):
        out.extend(f"s:{s.hex()}#{k}" for k in range(W_STRING))
    for a in sorted(set(feats.apis)):
        out.extend(f"a:{a}#{k}" for k in range(W_API))
    return out
