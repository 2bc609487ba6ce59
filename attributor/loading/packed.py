"""Packer / obfuscation heuristics: a packed sample's code is the unpacking stub, not the program.

A packed sample is still fingerprinted, but its evidence is about the packer: one note
``"packed: <reasons>; code evidence unreliable"`` goes into the sample's notes (and from there into
every report that uses it). Signals:

* section names of common packers (``UPX0``/``UPX1``, ``.aspack``, ``.MPRESS1``, ``.vmp0``...), and
  the ``UPX!`` marker UPX writes into the headers of the images it packs;
* an executable section of at least ``ENTROPY_MIN_BYTES`` whose byte entropy exceeds
  ``ENTROPY_PACKED`` bits/byte (compiled code measures 5-6.6, compressed or encrypted data ~8);
* after function recovery, less than ``LOW_COVERAGE`` of at least ``LOW_COVERAGE_MIN_BYTES``
  executable bytes inside recovered functions (see :func:`coverage_reason`).
"""

from __future__ import annotations

import numpy as np

from attributor.loading.binary import Binary

PREFIX = "packed: "
SUFFIX = "; code evidence unreliable"
ENTROPY_PACKED = 7.2
ENTROPY_MIN_BYTES = 1024
LOW_COVERAGE = 0.10
LOW_COVERAGE_MIN_BYTES = 4096
_MARKER_WINDOW = 0x1000

# Section names (case-sensitive, as the packers write them) -> packer.
PACKER_SECTIONS = {
    "UPX0": "UPX",
    "UPX1": "UPX",
    "UPX2": "UPX",
    "UPX!": "UPX",
    ".UPX0": "UPX",
    ".UPX1": "UPX",
    ".aspack": "ASPack",
    ".adata": "ASPack",
    ".ASPack": "ASPack",
    ".MPRESS1": "MPRESS",
    ".MPRESS2": "MPRESS",
    ".petite": "Petite",
    ".nsp0": "NsPack",
    ".nsp1": "NsPack",
    ".nsp2": "NsPack",
    "nsp0": "NsPack",
    "nsp1": "NsPack",
    "PEC2": "PECompact",
    "PEC2TO": "PECompact",
    "pec1": "PECompact",
    ".packed": "RLPack",
    ".RLPack": "RLPack",
    ".themida": "Themida",
    ".winlice": "WinLicense",
    ".vmp0": "VMProtect",
    ".vmp1": "VMProtect",
    ".vmp2": "VMProtect",
    ".enigma1": "Enigma",
    ".enigma2": "Enigma",
    "FSG!": "FSG",
    "MEW": "MEW",
    ".kkrunchy": "kkrunchy",
    ".yP": "Y0da Protector",
    ".y0da": "Y0da Protector",
    "BitArts": "Crunch",
    ".perplex": "Perplex",
    ".spack": "Simple Pack",
}


def entropy(data: bytes) -> float:
    """Shannon entropy of ``data`` in bits per byte (0 for empty input)."""
    if not data:
        return 0.0
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    return float(-(p * np.log2(p)).sum())


def load_reasons(binary: Binary, data: bytes) -> list[str]:
    """Packer signals visible right after loading (names, marker, entropy of executable code)."""
    reasons: list[str] = []
    names = sorted({s.name for s in binary.sections if s.name in PACKER_SECTIONS})
    if names:
        packers = sorted({PACKER_SECTIONS[n] for n in names})
        reasons.append(f"{'/'.join(packers)} section names ({', '.join(names)})")
    if b"UPX!" in data[:_MARKER_WINDOW] and not any(PACKER_SECTIONS[n] == "UPX" for n in names):
        reasons.append("UPX! marker in the headers")
    hot = [
        (s.name, e)
        for s in binary.code_sections
        if len(s.data) >= ENTROPY_MIN_BYTES and (e := entropy(s.data)) > ENTROPY_PACKED
    ]
    if hot:
        listed = ", ".join(f"{n} {e:.2f}" for n, e in hot[:4])
        reasons.append(f"high entropy in executable code ({listed} bits/byte)")
    return reasons


def coverage_reason(code_bytes: int, covered_bytes: int) -> str | None:
    """The low-coverage signal, once functions have been recovered."""
    if code_bytes < LOW_COVERAGE_MIN_BYTES or covered_bytes >= LOW_COVERAGE * code_bytes:
        return None
    return (
        f"only {100 * covered_bytes / code_bytes:.0f}% of {code_bytes} executable bytes decode into functions"
    )


def add_reasons(notes: list[str], reasons: list[str]) -> None:
    """Merge ``reasons`` into the single ``packed: ...`` note of ``notes`` (created when absent)."""
    if not reasons:
        return
    for i, note in enumerate(notes):
        if note.startswith(PREFIX) and note.endswith(SUFFIX):
            have = note[len(PREFIX) : -len(SUFFIX)].split("; ")
            notes[i] = packed_note(have + [r for r in reasons if r not in have])
            return
    notes.append(packed_note(reasons))


def packed_note(reasons: list[str]) -> str:
    return PREFIX + "; ".join(reasons) + SUFFIX


def is_packed(notes: list[str]) -> bool:
    """Whether a sample's notes carry the packed flag."""
    return any(n.startswith(PREFIX) for n in notes)
