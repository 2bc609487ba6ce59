"""Entry point of the loading stage: sniff, enforce limits, dispatch to the PE or ELF parser."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import lief

from attributor.errors import AttributorError, FileAccessError, LimitExceeded, MalformedBinary
from attributor.loading import packed
from attributor.loading.binary import Binary, Section, listing
from attributor.loading.elf import parse_elf
from attributor.loading.pe import parse_pe
from attributor.loading.sniff import sniff

lief.logging.disable()


@dataclass(frozen=True)
class Limits:
    """Caps applied to every sample. ``max_file_bytes`` is checked before reading the file."""

    max_file_bytes: int = 256 * 1024 * 1024
    max_code_bytes: int = 64 * 1024 * 1024
    max_functions: int = 200_000
    max_insns_per_function: int = 250_000  # OpenSSL AVX-512 AES-GCM code has 70k-instruction functions


DEFAULT_LIMITS = Limits()


def load_path(path: str | os.PathLike[str], blind: bool = False, limits: Limits = DEFAULT_LIMITS) -> Binary:
    """Read and parse one file. Raises only :class:`AttributorError` subclasses."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise FileAccessError(f"{p}: not a regular file")
        if size > limits.max_file_bytes:
            raise LimitExceeded(f"{p}: {size} bytes exceeds the file size limit of {limits.max_file_bytes}")
        data = p.read_bytes()
    except OSError as e:
        raise FileAccessError(f"{p}: {e.strerror or e}") from None
    return load_bytes(data, blind=blind, limits=limits)


def load_bytes(data: bytes, blind: bool = False, limits: Limits = DEFAULT_LIMITS) -> Binary:
    """Parse an in-memory sample; never executes or maps it."""
    if len(data) > limits.max_file_bytes:
        raise LimitExceeded(f"{len(data)} bytes exceeds the file size limit of {limits.max_file_bytes}")
    fmt, arch = sniff(data)
    try:
        with warnings.catch_warnings():  # LIEF warns on stderr about every unknown enum value
            warnings.simplefilter("ignore")
            fields = parse_pe(data, blind) if fmt == "PE" else parse_elf(data, blind)
    except AttributorError:
        raise
    except Exception as e:
        raise MalformedBinary(f"{fmt} parser failed: {type(e).__name__}: {e}") from None
    fields["sections"] = _clip_to_address_space(fields["sections"], fields.setdefault("warnings", []))
    b = Binary(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        format=fmt,
        arch=arch,
        bits=64 if arch == "x86-64" else 32,
        blind=blind,
        **fields,
    )
    if not b.code_sections:
        raise MalformedBinary(f"{fmt} has no executable bytes")
    if b.code_bytes > limits.max_code_bytes:
        raise LimitExceeded(f"{b.code_bytes} executable bytes exceeds the limit of {limits.max_code_bytes}")
    packed.add_reasons(b.warnings, packed.load_reasons(b, data))
    return b


ADDRESS_SPACE = 1 << 64


def _clip_to_address_space(sections: list[Section], warnings: list[str]) -> list[Section]:
    """Cut sections that a hostile base address pushes past 2**64 (a PE ImageBase near the top)."""
    out: list[Section] = []
    clipped: list[str] = []
    for s in sections:
        if s.va + max(s.vsize, len(s.data)) <= ADDRESS_SPACE:
            out.append(s)
            continue
        clipped.append(s.name)
        if s.va < ADDRESS_SPACE:
            room = ADDRESS_SPACE - s.va
            out.append(replace(s, vsize=min(s.vsize, room), data=s.data[:room]))
    if clipped:
        warnings.append(f"past the top of the 64-bit address space, cut there: {listing(clipped)}")
    return out
