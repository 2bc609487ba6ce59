"""Ed25519 signing keys for case bundles: generate, load, identify.

Files are PEM: the private key as PKCS#8 (encrypted with the best available scheme when a
passphrase is given), the public key as SubjectPublicKeyInfo. A key's id is the first 16 hex
digits of the SHA-256 of its 32 raw public bytes; reports and ``signature.json`` name keys by it.

Contract:
  * :func:`generate_keypair` never overwrites: both files are created with ``O_EXCL`` (the
    private one with mode 0600), and a failure removes what it created;
  * key files are read with a size cap and every problem is a typed error with one line:
    :class:`FileAccessError` (cannot read or write), :class:`KeyFileError` (not an Ed25519 key of
    the expected kind, encrypted without a passphrase, wrong passphrase).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from attributor.errors import FileAccessError, KeyFileError

MAX_KEY_FILE_BYTES = 64 << 10  # a PEM Ed25519 key is a few hundred bytes
log = logging.getLogger("attributor")


def key_id(public_key: Ed25519PublicKey) -> str:
    """``sha256(raw public key)[:16]`` in hex: a short, stable name for a key."""
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[:16]


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as PEM SubjectPublicKeyInfo text (what :func:`load_public_key` reads)."""
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def generate_keypair(
    private_path: str | os.PathLike[str],
    public_path: str | os.PathLike[str],
    passphrase: bytes | None = None,
) -> str:
    """Create a new Ed25519 key pair in two new files; returns the key id.

    Args:
        private_path: the private key (PKCS#8 PEM, mode 0600); must not exist.
        public_path: the public key (PEM), to hand to verifiers; must not exist.
        passphrase: encrypts the private key when given (non-empty).

    Raises:
        FileAccessError: a file exists already (nothing is written) or cannot be written.
        KeyFileError: an empty passphrase, or both paths name the same file.

    Example:
        >>> generate_keypair("case.key", "case.pub")  # doctest: +SKIP
        '3f9a1c0d2b7e4a55'
    """
    private, public = Path(private_path), Path(public_path)
    if passphrase is not None and not passphrase:
        raise KeyFileError("the passphrase is empty")
    if private.absolute() == public.absolute():
        raise KeyFileError(f"{private}: the private and public key files must differ")
    for path in (private, public):
        if path.exists() or path.is_symlink():
            raise FileAccessError(f"{path}: exists already; refusing to overwrite a key file")
    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    _create(private, private_pem, 0o600)
    try:
        _create(public, public_key_pem(key.public_key()).encode("ascii"), 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            private.unlink()
        raise
    return key_id(key.public_key())


def load_private_key(path: str | os.PathLike[str], passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Read an Ed25519 private key written by :func:`generate_keypair` (or ``openssl genpkey``).

    Raises:
        FileAccessError: the file cannot be read.
        KeyFileError: not a PEM Ed25519 private key, encrypted and no passphrase given, or the
            passphrase is wrong.
    """
    p = Path(path)
    data = _read_capped(p)
    if _loose_permissions(p):
        log.warning("%s: the private key is readable by other users (chmod 600 it)", p)
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError as e:  # encrypted without a password, or a password for a plain key
        encrypted = "encrypted" in str(e) and passphrase is None
        hint = "pass its passphrase" if encrypted else "drop the passphrase"
        raise KeyFileError(f"{p}: {_first_line(e)}; {hint}") from None
    except (ValueError, UnsupportedAlgorithm) as e:
        reason = _first_line(e)
        raise KeyFileError(f"{p}: not a usable PEM private key (or a wrong passphrase): {reason}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{p}: a {type(key).__name__.lstrip('_')}, not an Ed25519 private key")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Read an Ed25519 public key: PEM (as :func:`generate_keypair` writes) or OpenSSH one-liner.

    Raises:
        FileAccessError: the file cannot be read.
        KeyFileError: the file holds no Ed25519 public key (a private key is refused too, so that
            it is never handed around by mistake).
    """
    p = Path(path)
    data = _read_capped(p)
    if b"PRIVATE KEY" in data:
        raise KeyFileError(f"{p}: this is a private key; verification needs the public key file")
    try:
        key = public_key_from_text(data.decode("ascii"))
    except (UnicodeDecodeError, KeyFileError) as e:
        raise KeyFileError(f"{p}: {_first_line(e)}") from None
    return key


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Parse PEM or OpenSSH public key text. Raises :class:`KeyFileError`."""
    data = text.strip().encode("ascii", "replace")
    key: object
    try:
        if data.startswith(b"ssh-"):
            key = serialization.load_ssh_public_key(data)
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise KeyFileError(f"not a PEM or OpenSSH public key: {_first_line(e)}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"a {type(key).__name__.lstrip('_')}, not an Ed25519 public key")
    return key


def _create(path: Path, data: bytes, mode: int) -> None:
    """Write a new file: ``O_EXCL`` (never replace), ``O_NOFOLLOW``, fsync'ed; removed on failure."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise FileAccessError(f"{path}: exists already; refusing to overwrite a key file") from None
    except OSError as e:
        raise FileAccessError(f"{path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # the umask may have removed bits we want (0644 public)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as e:
        with contextlib.suppress(OSError):
            path.unlink()
        if isinstance(e, OSError):
            raise FileAccessError(f"{path}: {e.strerror or e}") from None
        raise


def _read_capped(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise FileAccessError(f"{path}: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise FileAccessError(f"{path}: not a regular file")
        data = f.read(MAX_KEY_FILE_BYTES + 1)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path}: {MAX_KEY_FILE_BYTES} bytes or more; not a key file")
    return data


def _loose_permissions(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False


def _first_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:200] or type(err).__name__
