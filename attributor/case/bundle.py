"""The case bundle: one signed, deterministic zip holding everything a second party needs.

Layout (names are ASCII, ``/``-separated, sorted in the zip)::

    corpus/labels.json        corpus samples that contributed evidence, with label provenance
    manifest.json             CaseManifest (schema attributor.case/1): hashes of everything else
    pairs.json                every matched function pair
    report/report.json        AttributionDocument.to_json(), the canonical report
    report/report.*, rules.yar  the other renderings, whatever the caller passes
    signature.json            Ed25519 signature over the exact bytes of manifest.json

``manifest.json`` records the SHA-256 and size of every other member except ``signature.json``,
the inputs' and the IOC file's hashes, the corpus samples used, the tool and dependency versions,
the parameters and the case (id, title, TLP 2.0 marking); one signature therefore covers all.

The zip is canonical (:func:`attributor.case.container.canonical_zip`), so equal inputs give
byte-identical bundles on any machine, and a verifier can demand that a bundle is *exactly* the
serialisation of its members. See ``docs/case-bundle.md``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import Field, field_validator

from attributor import __version__
from attributor.archive import escape_name
from attributor.case.container import canonical_zip, valid_name
from attributor.errors import FileAccessError
from attributor.report.attribution import CaseInfo, Dependency, ToolInfo
from attributor.report.document import Model, ParamValue
from attributor.util.atomic import atomic_write_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from attributor.report.attribution import AttributionDocument

CASE_SCHEMA: Final = "attributor.case/1"
SIGNATURE_SCHEMA: Final = "attributor.case-signature/1"
MANIFEST: Final = "manifest.json"
SIGNATURE: Final = "signature.json"
REPORT_JSON: Final = "report/report.json"
PAIRS_JSON: Final = "pairs.json"
LABELS_JSON: Final = "corpus/labels.json"
RESERVED: Final = frozenset({MANIFEST, SIGNATURE})
DEPENDENCIES: Final = (
    "lief", "capstone", "numpy", "pydantic", "flare-capa", "yara-python", "stix2", "pymisp",
    "pymispwarninglists", "pymispgalaxies", "cryptography", "idna", "click", "rich", "pyzipper",
)  # fmt: skip

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


# -- the manifest -------------------------------------------------------------------------------


class FileDigest(Model):
    """An input file: its name as given (no folders), SHA-256 and size."""

    name: str
    sha256: Sha256
    size: int = Field(ge=0)


class MemberDigest(Model):
    sha256: Sha256
    size: int = Field(ge=0)


class CorpusLabel(Model):
    """A corpus sample the case used, with the label it had and where that label came from."""

    sha256: Sha256
    family: str
    actor: str | None = None
    library: bool = False
    source: str | None = None


class CorpusUsed(Model):
    digest: str
    samples: tuple[CorpusLabel, ...] = ()


class CaseManifest(Model):
    """``manifest.json``: what the case is made of. ``members`` is filled in by :func:`write_bundle`."""

    schema_: Literal["attributor.case/1"] = Field(default=CASE_SCHEMA, alias="schema")
    case: CaseInfo
    tool: ToolInfo
    parameters: dict[str, ParamValue] = Field(default_factory=dict)
    inputs: tuple[FileDigest, ...] = ()
    iocs: FileDigest | None = None
    corpus: CorpusUsed
    members: dict[str, MemberDigest] = Field(default_factory=dict)

    @field_validator("parameters", "members", mode="after")
    @classmethod
    def _sorted(cls, value: dict[str, Any]) -> dict[str, Any]:
        return dict(sorted(value.items()))

    def to_json(self) -> str:
        """Canonical serialisation (field order fixed, dict keys sorted), newline-terminated."""
        return self.model_dump_json(by_alias=True, indent=2) + "\n"


class SignatureFile(Model):
    """``signature.json``: an Ed25519 signature over the exact bytes of ``manifest.json``."""

    schema_: Literal["attributor.case-signature/1"] = Field(default=SIGNATURE_SCHEMA, alias="schema")
    algorithm: Literal["ed25519"] = "ed25519"
    key_id: str
    public_key: str  # PEM SubjectPublicKeyInfo: informative; trust comes from a pinned key
    signed: Literal["manifest.json"] = MANIFEST
    signature: str  # base64 of the 64-byte signature

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"


def collect_versions(names: Iterable[str] = DEPENDENCIES) -> tuple[Dependency, ...]:
    """Python and each named distribution's installed version (``"not installed"`` if absent), sorted."""
    found = [Dependency(name="python", version=platform.python_version())]
    for name in sorted(set(names) - {"python"}):
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        found.append(Dependency(name=name, version=version))
    return tuple(found)


def file_digest(path: str | os.PathLike[str]) -> FileDigest:
    """Name (escaped, no folders), SHA-256 and size of a file, read in chunks. Raises FileAccessError."""
    p = Path(path)
    h, size = hashlib.sha256(), 0
    try:
        with p.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
    except OSError as e:
        raise FileAccessError(f"{p}: {e.strerror or e}") from None
    return FileDigest(name=escape_name(p.name), sha256=h.hexdigest(), size=size)


def build_manifest(
    document: AttributionDocument,
    iocs: str | os.PathLike[str] | None = None,
    parameters: Mapping[str, ParamValue] | None = None,
    dependencies: tuple[Dependency, ...] | None = None,
) -> CaseManifest:
    """The manifest of a case from its report: case and TLP, inputs, corpus labels, parameters.

    ``parameters`` defaults to the document's; ``dependencies`` to :func:`collect_versions`.
    ``iocs`` is the ``--ioc`` file, hashed here.
    """
    return CaseManifest(
        case=document.case,
        tool=ToolInfo(version=__version__, dependencies=dependencies or collect_versions()),
        parameters=dict(document.parameters if parameters is None else parameters),
        inputs=tuple(FileDigest(name=s.name, sha256=s.sha256, size=s.size) for s in document.inputs),
        iocs=None if iocs is None else file_digest(iocs),
        corpus=CorpusUsed(
            digest=document.corpus.digest,
            samples=tuple(
                CorpusLabel.model_validate(
                    s.model_dump(include={"sha256", "family", "actor", "library", "source"})
                )
                for s in sorted(document.corpus_samples, key=lambda s: s.sha256)
            ),
        ),
    )


def case_members(
    document: AttributionDocument, renders: Mapping[str, bytes] | None = None
) -> dict[str, bytes]:
    """The members derived from the report (JSON report, pairs, corpus labels) plus ``renders``.

    ``renders`` maps member names such as ``report/report.html`` or ``report/rules.yar`` to bytes;
    it may not replace the three derived members.
    """
    members = {
        REPORT_JSON: document.to_json().encode("utf-8"),
        PAIRS_JSON: _json_bytes(
            {"case": document.case.id, "pairs": [p.model_dump() for p in document.pairs]}
        ),
        LABELS_JSON: _json_bytes(
            {"corpus": document.corpus.digest, "samples": [s.model_dump() for s in document.corpus_samples]}
        ),
    }
    clash = sorted(set(members) & set(renders or {}))
    if clash:
        raise ValueError(f"renders may not replace {', '.join(clash)}")
    return members | dict(renders or {})


def write_case(
    out_path: str | os.PathLike[str],
    document: AttributionDocument,
    private_key: Ed25519PrivateKey,
    renders: Mapping[str, bytes] | None = None,
    iocs: str | os.PathLike[str] | None = None,
) -> CaseManifest:
    """``attributor attribute --case OUT.zip`` in one call: members, manifest, signature, zip."""
    members = case_members(document, renders)
    return write_bundle(out_path, members, build_manifest(document, iocs), private_key)


# -- writing ------------------------------------------------------------------------------------


def write_bundle(
    out_path: str | os.PathLike[str],
    members: Mapping[str, bytes],
    manifest: CaseManifest,
    private_key: Ed25519PrivateKey,
) -> CaseManifest:
    """Sign and write a bundle atomically; returns the manifest as written (with ``members``).

    ``manifest.members`` is replaced by the hashes of ``members``. Equal arguments give a
    byte-identical file (Ed25519 signatures are deterministic).

    Raises:
        ValueError: a member name is reserved (manifest.json, signature.json) or not a safe name.
        FileAccessError: the file cannot be written.
    """
    from attributor.case.keys import key_id, public_key_pem

    for name in members:
        if name in RESERVED or not valid_name(name):
            raise ValueError(f"bad bundle member name {escape_name(name)!r}")
    digests = {n: MemberDigest(sha256=hashlib.sha256(b).hexdigest(), size=len(b)) for n, b in members.items()}
    final = CaseManifest.model_validate(manifest.model_dump(by_alias=True) | {"members": digests})
    manifest_bytes = final.to_json().encode("utf-8")
    signature = SignatureFile(
        key_id=key_id(private_key.public_key()),
        public_key=public_key_pem(private_key.public_key()),
        signature=base64.b64encode(private_key.sign(manifest_bytes)).decode("ascii"),
    )
    everything = dict(members) | {MANIFEST: manifest_bytes, SIGNATURE: signature.to_json().encode("utf-8")}
    atomic_write_bytes(out_path, canonical_zip(everything))
    return final


def _json_bytes(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
