"""Signed, deterministic case bundles (``attributor attribute --case``) and their verification.

Writing (what ``attributor attribute --case OUT.zip`` calls)::

    key = load_private_key("case.key", passphrase)
    write_case("OUT.zip", document, key, renders={"report/report.html": html, ...}, iocs="iocs.txt")

Verifying (``attributor verify``)::

    report = verify_case("OUT.zip", ["incident.exe"], rerun=..., public_key=load_public_key("case.pub"))
    report.ok, report.exit_code, report.differences

Modules: :mod:`.keys` (Ed25519 keys), :mod:`.bundle` (manifest and writer), :mod:`.container`
(canonical zip, hostile-zip reader), :mod:`.verify`, :mod:`.diff`. Format: ``docs/case-bundle.md``.
"""

from __future__ import annotations

from attributor.case.bundle import (
    CaseManifest,
    SignatureFile,
    build_manifest,
    case_members,
    collect_versions,
    write_bundle,
    write_case,
)
from attributor.case.container import BundleLimits, canonical_zip, read_bundle
from attributor.case.diff import Difference, compare_documents
from attributor.case.keys import generate_keypair, key_id, load_private_key, load_public_key
from attributor.case.verify import (
    CaseInputs,
    Problem,
    Rerun,
    VerifyReport,
    VerifyResult,
    check_corpus,
    check_inputs,
    verify_bundle,
    verify_case,
)

__all__ = [
    "BundleLimits",
    "CaseInputs",
    "CaseManifest",
    "Difference",
    "Problem",
    "Rerun",
    "SignatureFile",
    "VerifyReport",
    "VerifyResult",
    "build_manifest",
    "canonical_zip",
    "case_members",
    "check_corpus",
    "check_inputs",
    "collect_versions",
    "compare_documents",
    "generate_keypair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "read_bundle",
    "verify_bundle",
    "verify_case",
    "write_bundle",
    "write_case",
]
