"""Typed errors and the process exit codes they map to.

Every error a user can provoke with bad input is a subclass of :class:`AttributorError`; the CLI
prints its one-line message to stderr and exits with its ``exit_code``. The codes are part of the
documented CLI contract (README, ``docs/exit-codes.md``): scripts depend on them, so never renumber.
"""

from __future__ import annotations

E_OK = 0
E_INTERNAL = 1  # a bug: a traceback is printed only with --debug
E_USAGE = 2  # click's own usage errors
E_NO_MATCH = 3  # reserved: match ran but found nothing attributable (only with --fail-on-unknown)
E_UNSUPPORTED = 10  # not PE/ELF, or an architecture / flavour we do not analyse
E_MALFORMED = 11  # a PE/ELF whose headers are truncated or inconsistent
E_LIMIT = 12  # a size or time limit was hit
E_IO = 13  # cannot read an input file or write an output
E_STORE = 20  # database missing, corrupt, locked, or built with other parameters
E_PARAMS = 21  # fingerprint parameters of the store differ from this build
E_MANIFEST = 22  # a corpus manifest is malformed


class AttributorError(Exception):
    """Base of every expected failure; ``str(err)`` is the one line shown to the user."""

    exit_code = E_INTERNAL


class InputError(AttributorError):
    """A sample cannot be analysed."""

    exit_code = E_MALFORMED


class UnsupportedFormat(InputError):
    """The bytes are not a PE/ELF for x86/x86-64 (or are .NET-only, a script, an archive...)."""

    exit_code = E_UNSUPPORTED


class MalformedBinary(InputError):
    """The format was recognised, but its headers are truncated or inconsistent."""

    exit_code = E_MALFORMED


class LimitExceeded(InputError):
    """A configured size or time limit was hit; the result would be incomplete."""

    exit_code = E_LIMIT


class FileAccessError(AttributorError):
    """An input could not be read or an output could not be written."""

    exit_code = E_IO


class StoreError(AttributorError):
    """The corpus database is missing, corrupt, locked or otherwise unusable."""

    exit_code = E_STORE


class ParameterMismatch(StoreError):
    """The store was built with fingerprint parameters that differ from this build's."""

    exit_code = E_PARAMS


class ManifestError(AttributorError):
    """A corpus manifest (CSV / JSON lines) is malformed."""

    exit_code = E_MANIFEST


E_ARCHIVE = 14  # an archive is corrupt, of an unsupported kind, or encrypted with an unknown password
E_INDICATOR = 23  # an indicator (IP, domain, URL) is invalid


class ArchiveError(InputError):
    """An archive (zip, tar, gzip/bzip2/xz) cannot be read: corrupt, unsupported, wrong password."""

    exit_code = E_ARCHIVE


class ArchiveLimitExceeded(ArchiveError, LimitExceeded):
    """An archive hit a cap (size, ratio, depth, entries): refused whole, as a zip bomb would be."""

    exit_code = E_LIMIT


class IndicatorError(AttributorError):
    """An indicator cannot be canonicalised; ``str(err)`` names the input and the reason."""

    exit_code = E_INDICATOR


class RulesError(AttributorError):
    """A capability rules directory (``--capa-rules``) is missing, empty or holds an invalid rule."""

    exit_code = E_USAGE


E_SIGNATURE = 30  # a case bundle's signature is missing, invalid, or not made by the pinned key
E_MISMATCH = 31  # a case bundle verified, but members, inputs, corpus or the re-run differ
E_KEY = 32  # a signing key file is not an Ed25519 key, or its passphrase is missing or wrong


class BundleError(ArchiveError):
    """A case bundle is not a readable zip, or breaks the bundle format (names, links, encryption)."""


class KeyFileError(AttributorError):
    """A key file holds no usable Ed25519 key of the expected kind, or the passphrase is wrong."""

    exit_code = E_KEY


class SignatureError(AttributorError):
    """A case bundle's signature is missing or invalid, or the bundle was signed by another key."""

    exit_code = E_SIGNATURE


class VerificationMismatch(AttributorError):
    """A case bundle is signed correctly, but something it records differs from what was checked."""

    exit_code = E_MISMATCH
