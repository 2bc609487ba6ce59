"""Verify a case bundle: container, signature, member hashes, inputs, corpus, and a re-run.

:func:`verify_bundle` checks what the bundle alone can prove; :func:`verify_case` adds the
verifier's own copies of the inputs, labels from the verifier's corpus, and a re-run of the
analysis (a callable the CLI passes in), diffed against ``report/report.json`` with
:func:`attributor.case.diff.compare_documents`.

Signature status: ``valid`` (made by the pinned ``public_key``), ``unpinned`` (valid under the key
embedded in the bundle; integrity is checked, *who* signed is not), ``wrong-key`` (pinned key given,
the bundle names another), ``invalid``, ``missing``. A bundle is OK when the signature is valid or
unpinned and nothing else differs; :attr:`VerifyReport.exit_code` maps the rest to
``E_SIGNATURE`` / ``E_MISMATCH``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptography.exceptions import InvalidSignature
from pydantic import ValidationError

from attributor.archive import escape_name
from attributor.case.bundle import (
    MANIFEST,
    REPORT_JSON,
    RESERVED,
    SIGNATURE,
    CaseManifest,
    SignatureFile,
    collect_versions,
    file_digest,
)
from attributor.case.container import BundleLimits, read_bundle
from attributor.case.diff import Difference, compare_documents
from attributor.case.keys import key_id, public_key_from_text
from attributor.errors import E_MISMATCH, E_OK, E_SIGNATURE, KeyFileError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from attributor.report.attribution import AttributionDocument

SignatureStatus = Literal["valid", "unpinned", "wrong-key", "invalid", "missing"]
ProblemKind = Literal[
    "container", "signature", "manifest", "changed", "missing", "extra", "renamed", "consistency"
]
CorpusEntry = tuple[str, str, str | None, bool]  # sha256, family, actor, library


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle; ``member`` is the (escaped) member name it concerns."""

    kind: ProblemKind
    member: str | None
    detail: str

    def __str__(self) -> str:
        return f"{self.member}: {self.detail}" if self.member else self.detail


@dataclass
class VerifyResult:
    """What :func:`verify_bundle` found. ``members`` holds the bundle's bytes (not serialised)."""

    path: str
    size: int
    signature: SignatureStatus
    key_id: str | None
    pinned_key_id: str | None
    manifest: CaseManifest | None
    problems: list[Problem]
    members: dict[str, bytes] = field(repr=False)

    @property
    def signature_ok(self) -> bool:
        return self.signature in ("valid", "unpinned") and not any(
            p.kind == "signature" for p in self.problems
        )

    @property
    def ok(self) -> bool:
        return self.signature_ok and not self.problems


@dataclass(frozen=True)
class CaseInputs:
    """The verifier's files, matched to the case by hash: samples in manifest order, the IOC file."""

    samples: tuple[Path, ...]
    iocs: Path | None


Rerun = Callable[[CaseManifest, CaseInputs], "AttributionDocument"]
RerunStatus = Literal["same", "differs", "skipped", "not-run"]


@dataclass
class VerifyReport:
    """What :func:`verify_case` found; ``ok`` only when every check that ran passed.

    ``inputs`` / ``corpus`` are None when not checked (no files / no corpus given); otherwise the
    list of problems (empty: all match). ``environment`` lists version differences for information.
    """

    bundle: VerifyResult
    inputs: list[str] | None = None
    corpus: list[str] | None = None
    rerun: RerunStatus = "not-run"
    rerun_note: str = ""
    differences: list[Difference] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bundle.ok and not self.inputs and not self.corpus and self.rerun != "differs"

    @property
    def exit_code(self) -> int:
        """``E_OK``; ``E_SIGNATURE`` when the signature fails; else ``E_MISMATCH`` if anything differs."""
        if not self.bundle.signature_ok:
            return E_SIGNATURE
        return E_OK if self.ok else E_MISMATCH

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (schema ``attributor.case-verify/1``)."""
        b, m = self.bundle, self.bundle.manifest
        return {
            "schema": "attributor.case-verify/1",
            "ok": self.ok,
            "bundle": b.path,
            "case": None if m is None else m.case.model_dump(),
            "signature": {"status": b.signature, "key_id": b.key_id, "pinned_key_id": b.pinned_key_id},
            "problems": [{"kind": p.kind, "member": p.member, "detail": p.detail} for p in b.problems],
            "inputs": self.inputs,
            "corpus": self.corpus,
            "rerun": {"status": self.rerun, "note": self.rerun_note},
            "differences": [d.to_dict() for d in self.differences],
            "environment": self.environment,
        }


def verify_case(
    path: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]] = (),
    rerun: Rerun | None = None,
    public_key: Ed25519PublicKey | None = None,
    corpus_samples: Iterable[CorpusEntry] | None = None,
    limits: BundleLimits | None = None,
) -> VerifyReport:
    """Verify a bundle, the verifier's inputs and corpus, and re-run the analysis when asked.

    ``rerun(manifest, CaseInputs)`` runs only when every input (and the IOC file) was given and
    matches; its ``to_json()`` is compared with ``report/report.json`` (:func:`compare_documents`).
    Raises what :func:`verify_bundle` raises, FileAccessError for an unreadable input, and
    whatever ``rerun`` raises.
    """
    report = VerifyReport(verify_bundle(path, public_key, limits))
    manifest = report.bundle.manifest
    if manifest is None:
        report.rerun_note = "no readable manifest"
        return report
    report.environment = environment_differences(manifest)
    matched: CaseInputs | None = None
    if inputs:
        matched, report.inputs = _match_inputs(manifest, inputs)
    if corpus_samples is not None:
        report.corpus = check_corpus(manifest, corpus_samples)
    if rerun is None:
        return report
    original = report.bundle.members.get(REPORT_JSON)
    if matched is None or original is None:
        report.rerun = "skipped"
        report.rerun_note = (
            "the bundle has no report/report.json" if matched else "inputs missing or different"
        )
        return report
    fresh = rerun(manifest, matched).to_json().encode("utf-8")
    try:
        before = json.loads(original)
    except ValueError:
        before = None
    report.differences = compare_documents(before, json.loads(fresh))
    report.rerun = "differs" if report.differences or before is None else "same"
    report.rerun_note = "byte-identical" if fresh == original else "same content, different bytes"
    if report.differences:
        report.rerun_note = f"{len(report.differences)} differences"
    return report


def verify_bundle(
    path: str | os.PathLike[str],
    public_key: Ed25519PublicKey | None = None,
    limits: BundleLimits | None = None,
) -> VerifyResult:
    """Check a bundle's container, signature and member hashes.

    Args:
        path: the bundle; hostile input.
        public_key: the signer's key as the verifier knows it (pinned); None trusts the embedded
            key for the signature check only, and says so (status ``unpinned``).

    Raises:
        FileAccessError, ArchiveLimitExceeded, BundleError: the file cannot be read safely as a
        zip (see :func:`attributor.case.container.read_bundle`). Everything else is reported.
    """
    contents = read_bundle(path, limits)
    members = contents.members
    problems: list[Problem] = []
    if not contents.canonical:
        problems.append(
            Problem(
                "container",
                None,
                f"the zip is not the canonical serialisation of its members (first difference at byte "
                f"{contents.first_difference}): headers, names or layout were altered",
            )
        )
    status, signer, pinned = _check_signature(members, public_key, problems)
    manifest = _parse_manifest(members, problems)
    if manifest is not None:
        member_problems = _check_members(manifest, members)
        problems.extend(member_problems)
        if not any(p.member == REPORT_JSON for p in member_problems):
            problems.extend(_check_consistency(manifest, members))
    return VerifyResult(str(path), contents.size, status, signer, pinned, manifest, problems, members)


def _check_signature(
    members: dict[str, bytes], public_key: Ed25519PublicKey | None, problems: list[Problem]
) -> tuple[SignatureStatus, str | None, str | None]:
    """``(status, key id of the signer, key id of the pinned key)``; adds ``signature`` problems."""
    pinned = key_id(public_key) if public_key is not None else None

    def fail(status: SignatureStatus, detail: str, signer: str | None = None) -> tuple[Any, Any, Any]:
        problems.append(Problem("signature", SIGNATURE, detail))
        return status, signer, pinned

    raw, manifest_bytes = members.get(SIGNATURE), members.get(MANIFEST)
    if raw is None or manifest_bytes is None:
        return fail("missing", f"the bundle has no {SIGNATURE if raw is None else MANIFEST}")
    try:
        sig = SignatureFile.model_validate_json(raw)
        signature = base64.b64decode(sig.signature, validate=True)
        embedded = public_key_from_text(sig.public_key)
    except (ValidationError, ValueError, binascii.Error, KeyFileError) as e:
        return fail("invalid", f"unreadable: {_one_line(e)}")
    if sig.to_json().encode("utf-8") != raw:
        return fail("invalid", "not in canonical form (altered after signing)", sig.key_id)
    if key_id(embedded) != sig.key_id:
        return fail("invalid", f"key id {sig.key_id} does not match the embedded key {key_id(embedded)}")
    if pinned is not None and pinned != sig.key_id:
        return fail("wrong-key", f"signed by key {sig.key_id}, not by the pinned key {pinned}", sig.key_id)
    try:
        (public_key or embedded).verify(signature, manifest_bytes)
    except InvalidSignature:
        return fail("invalid", f"the signature does not match {MANIFEST} (key {sig.key_id})", sig.key_id)
    return ("valid" if pinned else "unpinned"), sig.key_id, pinned


def _parse_manifest(members: dict[str, bytes], problems: list[Problem]) -> CaseManifest | None:
    raw = members.get(MANIFEST)
    if raw is None:
        problems.append(Problem("manifest", MANIFEST, "missing"))
        return None
    try:
        return CaseManifest.model_validate_json(raw)
    except ValidationError as e:
        problems.append(Problem("manifest", MANIFEST, f"invalid: {_one_line(e)}"))
        return None


def _check_members(manifest: CaseManifest, members: dict[str, bytes]) -> list[Problem]:
    """Changed, missing, extra and renamed members, by name."""
    actual = {n: hashlib.sha256(b).hexdigest() for n, b in members.items() if n not in RESERVED}
    expected = {n: d.sha256 for n, d in manifest.members.items()}
    out: list[Problem] = []
    missing = sorted(n for n in expected if n not in actual)
    extra = sorted(n for n in actual if n not in expected)
    for name in missing[:]:
        twin = next((x for x in extra if actual[x] == expected[name]), None)
        if twin is not None:
            missing.remove(name)
            extra.remove(twin)
            out.append(Problem("renamed", _esc(name), f"renamed to {_esc(twin)}"))
    out += [Problem("missing", _esc(n), "listed in the manifest, not in the bundle") for n in missing]
    out += [Problem("extra", _esc(n), "in the bundle, not in the manifest") for n in extra]
    for name in sorted(set(expected) & set(actual)):
        if actual[name] != expected[name]:
            size = len(members[name])
            detail = (
                f"changed: sha256 {actual[name][:16]}… ({size} bytes), the manifest says "
                f"{expected[name][:16]}… ({manifest.members[name].size} bytes)"
            )
            out.append(Problem("changed", _esc(name), detail))
    return sorted(out, key=lambda p: (p.member or "", p.kind))


def _check_consistency(manifest: CaseManifest, members: dict[str, bytes]) -> list[Problem]:
    """The report inside must be about the manifest's case, with the same TLP marking."""
    raw = members.get(REPORT_JSON)
    if raw is None:
        return []
    try:
        case = json.loads(raw)["case"]
        found = (case["id"], case["tlp"])
    except (ValueError, KeyError, TypeError) as e:
        return [Problem("consistency", REPORT_JSON, f"not a readable report: {_one_line(e)}")]
    want = (manifest.case.id, manifest.case.tlp)
    if found != want:
        return [
            Problem(
                "consistency", REPORT_JSON, f"case {found[0]} {found[1]}; the manifest: {want[0]} {want[1]}"
            )
        ]
    return []


def check_inputs(manifest: CaseManifest, files: Sequence[str | os.PathLike[str]]) -> list[str]:
    """What is wrong with the verifier's copies of the inputs (and IOC file), matched by SHA-256.

    Returns one line per input the case names that no file matches (naming a same-named file with
    a different hash), and per file that is not an input of the case; ``[]`` when all match.
    Raises FileAccessError when a file cannot be read.
    """
    return _match_inputs(manifest, files)[1]


def _match_inputs(
    manifest: CaseManifest, files: Sequence[str | os.PathLike[str]]
) -> tuple[CaseInputs | None, list[str]]:
    by_hash: dict[str, Path] = {}
    names: dict[str, tuple[Path, str]] = {}
    for f in files:
        d = file_digest(f)
        by_hash.setdefault(d.sha256, Path(f))
        names.setdefault(d.name, (Path(f), d.sha256))
    wanted = list(manifest.inputs) + ([manifest.iocs] if manifest.iocs else [])
    problems: list[str] = []
    known = {e.sha256 for e in wanted}
    for entry in wanted:
        if entry.sha256 in by_hash:
            continue
        same_name = names.get(entry.name)
        if same_name is not None and same_name[1] not in known:
            known.add(same_name[1])  # named here; not reported again as a stranger
            problems.append(
                f"input {entry.name}: sha256 {same_name[1]} here ({same_name[0]}), {entry.sha256} in the case"
            )
        else:
            problems.append(f"input {entry.name} (sha256 {entry.sha256}): not given")
    problems += [f"{p}: not an input of this case (sha256 {h})" for h, p in by_hash.items() if h not in known]
    if problems:
        return None, problems
    iocs = by_hash[manifest.iocs.sha256] if manifest.iocs else None
    return CaseInputs(tuple(by_hash[e.sha256] for e in manifest.inputs), iocs), []


def check_corpus(manifest: CaseManifest, samples: Iterable[CorpusEntry]) -> list[str]:
    """Corpus samples the case used that the verifier's corpus lacks or labels differently.

    ``samples`` are ``(sha256, family, actor, library)`` of the verifier's corpus.
    """
    mine = {s[0]: s for s in samples}
    out: list[str] = []
    for used in manifest.corpus.samples:
        theirs = (used.sha256, used.family, used.actor, used.library)
        here = mine.get(used.sha256)
        if here is None:
            out.append(f"corpus sample {used.sha256} ({_label(theirs)}): not in this corpus")
        elif tuple(here) != theirs:
            out.append(f"corpus sample {used.sha256}: {_label(here)} here, {_label(theirs)} in the case")
    return out


def environment_differences(manifest: CaseManifest) -> list[str]:
    """Versions that differ between the case's environment and this one (informational)."""
    here = {d.name: d.version for d in collect_versions(d.name for d in manifest.tool.dependencies)}
    out = [
        f"{d.name} {here[d.name]} here, {d.version} in the case"
        for d in manifest.tool.dependencies
        if d.name in here and here[d.name] != d.version
    ]
    from attributor import __version__

    if manifest.tool.version != __version__:
        out.insert(0, f"attributor {__version__} here, {manifest.tool.version} in the case")
    return out


def _label(entry: CorpusEntry) -> str:
    _, family, actor, library = entry
    return f"family={family} actor={actor or '-'}" + (" library" if library else "")


def _esc(name: str) -> str:
    return escape_name(name)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300]
