"""Signed case bundles (attributor.case, docs/case-bundle.md): keys, determinism, verification, tampering."""

from __future__ import annotations

import base64
import json
import os
import stat
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attributor.case import (
    BundleLimits,
    CaseManifest,
    build_manifest,
    canonical_zip,
    case_members,
    check_corpus,
    check_inputs,
    compare_documents,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    read_bundle,
    verify_bundle,
    verify_case,
    write_bundle,
    write_case,
)
from attributor.case.bundle import MANIFEST, REPORT_JSON, SIGNATURE
from attributor.cli.case import RerunHooks, register
from attributor.cli.main import cli
from attributor.errors import (
    E_MISMATCH,
    E_OK,
    E_SIGNATURE,
    ArchiveLimitExceeded,
    AttributorError,
    BundleError,
    FileAccessError,
    KeyFileError,
)
from attributor.report.attribution import AttributionDocument, EvidenceRecord
from tests.helpers_attribution import example_document

ROOT = Path(__file__).resolve().parents[1]
RENDERS = {
    "report/report.txt": b"TLP:AMBER\nExample Group: very likely\n",
    "report/rules.yar": b"rule x { condition: true }\n",
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    generate_keypair(folder / "case.key", folder / "case.pub")
    return folder / "case.key", folder / "case.pub"


@pytest.fixture(scope="module")
def sample_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "incident.exe"
    path.write_bytes(b"MZ" + bytes(range(256)) * 4)
    return path


@pytest.fixture(scope="module")
def document(sample_file: Path) -> AttributionDocument:
    """The example report, its input replaced by a real file so inputs can be checked."""
    from attributor.case.bundle import file_digest

    d = file_digest(sample_file)
    base = example_document()
    sample = base.inputs[0].model_copy(update={"sha256": d.sha256, "size": d.size})
    return base.model_copy(update={"inputs": (sample,)})


@pytest.fixture(scope="module")
def bundle(
    tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path], document: AttributionDocument
) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "case.zip"
    write_case(out, document, load_private_key(keys[0]), renders=RENDERS)
    return out


def _members(path: Path) -> dict[str, bytes]:
    return read_bundle(path).members


def _rewrite(tmp_path: Path, members: dict[str, bytes], name: str = "t.zip") -> Path:
    out = tmp_path / name
    out.write_bytes(canonical_zip(members))
    return out


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


# -- keys -----------------------------------------------------------------------------------------


def test_keygen_mode_0600_and_never_overwrites(tmp_path: Path):
    priv, pub = tmp_path / "k", tmp_path / "k.pub"
    kid = generate_keypair(priv, pub)
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert key_id(load_public_key(pub)) == kid == key_id(load_private_key(priv).public_key())
    before = priv.read_bytes(), pub.read_bytes()
    with pytest.raises(FileAccessError, match="refusing to overwrite"):
        generate_keypair(priv, tmp_path / "other.pub")
    with pytest.raises(FileAccessError, match="refusing to overwrite"):
        generate_keypair(tmp_path / "other.key", pub)
    assert (priv.read_bytes(), pub.read_bytes()) == before
    assert not (tmp_path / "other.key").exists() and not (tmp_path / "other.pub").exists()


def test_keygen_refuses_symlink_target(tmp_path: Path):
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FileAccessError):
        generate_keypair(tmp_path / "link", tmp_path / "k.pub")
    assert not (tmp_path / "elsewhere").exists()


def test_passphrase_protected_key(tmp_path: Path):
    priv, pub = tmp_path / "k", tmp_path / "k.pub"
    generate_keypair(priv, pub, passphrase=b"correct horse")
    assert b"ENCRYPTED" in priv.read_bytes()
    with pytest.raises(KeyFileError, match="passphrase"):
        load_private_key(priv)
    with pytest.raises(KeyFileError):
        load_private_key(priv, b"wrong")
    assert key_id(load_private_key(priv, b"correct horse").public_key()) == key_id(load_public_key(pub))


def test_key_files_that_are_not_keys(tmp_path: Path, keys: tuple[Path, Path]):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    for bad in (junk, keys[0]):  # garbage; a private key where the public one is expected
        with pytest.raises(KeyFileError):
            load_public_key(bad)
    with pytest.raises(KeyFileError):
        load_private_key(keys[1])
    with pytest.raises(FileAccessError):
        load_public_key(tmp_path / "missing.pub")


# -- writing and determinism -------------------------------------------------------------------------


def test_layout_manifest_and_signature(bundle: Path, keys: tuple[Path, Path]):
    with zipfile.ZipFile(bundle) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) and {
        MANIFEST,
        SIGNATURE,
        REPORT_JSON,
        "pairs.json",
        "corpus/labels.json",
    } <= set(names)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0) and info.extra == b"" and info.comment == b""
        assert info.compress_type == zipfile.ZIP_STORED and info.external_attr >> 16 == 0o100644
    members = _members(bundle)
    manifest = CaseManifest.model_validate_json(members[MANIFEST])
    assert set(manifest.members) == set(names) - {MANIFEST, SIGNATURE}
    assert manifest.case.tlp == "TLP:AMBER" and manifest.corpus.samples[0].source
    assert {d.name for d in manifest.tool.dependencies} >= {"python", "lief", "capstone", "cryptography"}
    sig = json.loads(members[SIGNATURE])
    load_public_key(keys[1]).verify(base64.b64decode(sig["signature"]), members[MANIFEST])  # raises if bad
    assert json.loads(members[REPORT_JSON])["case"]["tlp"] == "TLP:AMBER"


_CHILD = """
import sys
from attributor.case import load_private_key, write_case
from tests.helpers_attribution import example_document
key = load_private_key(sys.argv[1])
write_case(sys.argv[2], example_document(), key, renders={"report/report.txt": b"x"})
"""


def test_same_inputs_give_byte_identical_bundles(tmp_path: Path, keys: tuple[Path, Path]):
    """Twice in this process, and in child processes with other hash seeds."""
    key = load_private_key(keys[0])
    for name in ("a.zip", "b.zip"):
        write_case(tmp_path / name, example_document(), key, renders={"report/report.txt": b"x"})
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    for seed in ("0", "4242"):
        out = tmp_path / f"seed{seed}.zip"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", _CHILD, str(keys[0]), str(out)], cwd=ROOT, env=env, check=True)
        assert out.read_bytes() == (tmp_path / "a.zip").read_bytes(), f"PYTHONHASHSEED={seed}"


def test_write_bundle_refuses_reserved_and_unsafe_names(tmp_path: Path, document: AttributionDocument):
    manifest, key = build_manifest(document), Ed25519PrivateKey.generate()
    for name in (MANIFEST, "../x", "/abs", ".hidden", "a//b", "a\\b"):
        with pytest.raises(ValueError):
            write_bundle(tmp_path / "x.zip", {name: b"1"}, manifest, key)
    with pytest.raises(ValueError):
        case_members(document, {REPORT_JSON: b"{}"})
    assert not (tmp_path / "x.zip").exists()


# -- verification -------------------------------------------------------------------------------------


def test_verify_ok_pinned_and_unpinned(bundle: Path, keys: tuple[Path, Path]):
    pinned = verify_bundle(bundle, load_public_key(keys[1]))
    assert pinned.ok and pinned.signature == "valid" and pinned.problems == []
    unpinned = verify_bundle(bundle)
    assert unpinned.ok and unpinned.signature == "unpinned"


def test_wrong_public_key_is_a_signature_failure(bundle: Path):
    other = Ed25519PrivateKey.generate().public_key()
    report = verify_case(bundle, public_key=other)
    assert report.bundle.signature == "wrong-key" and not report.ok and report.exit_code == E_SIGNATURE


def test_every_member_changed_is_detected_and_named(tmp_path: Path, bundle: Path, keys: tuple[Path, Path]):
    original = _members(bundle)
    for name, data in original.items():
        tampered = _rewrite(tmp_path, original | {name: _flip(data, len(data) // 2)})
        result = verify_bundle(tampered, load_public_key(keys[1]))
        assert not result.ok, name
        assert any(name in str(p) for p in result.problems), (name, result.problems)
        if name not in (MANIFEST, SIGNATURE):
            assert [p.kind for p in result.problems] == ["changed"] and result.signature == "valid"


def test_resigned_by_someone_else(
    tmp_path: Path, bundle: Path, keys: tuple[Path, Path], document: AttributionDocument
):
    """An attacker who changes a member and re-signs: fine without a pinned key, caught with one."""
    members = _members(bundle)
    members = {n: b for n, b in members.items() if n not in (MANIFEST, SIGNATURE)}
    members[REPORT_JSON] = members[REPORT_JSON].replace(b"0.87", b"0.97")
    forged = tmp_path / "forged.zip"
    write_bundle(forged, members, build_manifest(document), Ed25519PrivateKey.generate())
    assert verify_bundle(forged).signature == "unpinned"
    assert verify_bundle(forged, load_public_key(keys[1])).signature == "wrong-key"


def test_flipped_bytes_anywhere_never_verify(tmp_path: Path, bundle: Path, keys: tuple[Path, Path]):
    """A byte changed at any offset: a typed error or a reported problem, never OK."""
    data, pub = bundle.read_bytes(), load_public_key(keys[1])
    offsets = sorted(set(range(0, len(data), 11)) | set(range(64)) | set(range(len(data) - 600, len(data))))
    target = tmp_path / "flip.zip"
    target.write_bytes(data)
    fd = os.open(target, os.O_RDWR)
    try:
        for at in offsets:
            os.pwrite(fd, bytes([data[at] ^ 0xFF]), at)  # flip in place, restore below: fast
            try:
                result = verify_bundle(target, pub)
            except AttributorError:
                continue
            finally:
                os.pwrite(fd, data[at : at + 1], at)
            assert not result.ok, f"offset {at}"
        assert verify_bundle(target, pub).ok
    finally:
        os.close(fd)


def test_removed_added_renamed_members(tmp_path: Path, bundle: Path):
    original = _members(bundle)
    gone = {n: b for n, b in original.items() if n != "report/rules.yar"}
    assert _kinds(verify_bundle(_rewrite(tmp_path, gone))) == [("missing", "report/rules.yar")]
    extra = original | {"report/extra.txt": b"hi"}
    assert _kinds(verify_bundle(_rewrite(tmp_path, extra))) == [("extra", "report/extra.txt")]
    renamed = gone | {"report/rules2.yar": original["report/rules.yar"]}
    result = verify_bundle(_rewrite(tmp_path, renamed))
    assert _kinds(result) == [("renamed", "report/rules.yar")] and "report/rules2.yar" in str(
        result.problems[0]
    )
    no_sig = {n: b for n, b in original.items() if n != SIGNATURE}
    assert verify_case(_rewrite(tmp_path, no_sig)).exit_code == E_SIGNATURE


def _kinds(result: object) -> list[tuple[str, str | None]]:
    return [(p.kind, p.member) for p in result.problems]  # type: ignore[attr-defined]


def test_non_canonical_container_is_reported(tmp_path: Path, bundle: Path):
    """Same members, zipped by another tool (deflate refused; stored with other timestamps reported)."""
    out = tmp_path / "other.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in _members(bundle).items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 6)), data)
    result = verify_bundle(out)
    assert [p.kind for p in result.problems] == ["container"] and not result.ok


# -- hostile bundles ---------------------------------------------------------------------------------


def _raw_zip(
    path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]], method: int = zipfile.ZIP_STORED
) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", method) as zf:
            for info, data in entries:
                zf.writestr(info, data)
    return path


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/etc/evil", "a/../../evil", "a\\..\\evil", ".hidden", "a/", "é.txt"]
)
def test_zip_slip_and_odd_names_are_refused(tmp_path: Path, name: str):
    with pytest.raises(BundleError, match="member"):
        read_bundle(_raw_zip(tmp_path / "z.zip", [("ok.txt", b"1"), (name, b"2")]))


def test_duplicates_links_encryption_compression_are_refused(tmp_path: Path):
    with pytest.raises(BundleError, match="twice"):
        read_bundle(_raw_zip(tmp_path / "d.zip", [("a.txt", b"1"), ("a.txt", b"2")]))
    link = zipfile.ZipInfo("link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(BundleError, match="link"):
        read_bundle(_raw_zip(tmp_path / "l.zip", [(link, b"/etc/passwd")]))
    with pytest.raises(BundleError, match="compression"):
        read_bundle(_raw_zip(tmp_path / "c.zip", [("a.txt", b"1" * 1000)], zipfile.ZIP_DEFLATED))
    enc = bytearray(canonical_zip({"a.txt": b"secret"}))
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # set the "encrypted" flag in both headers
        at = enc.find(sig)
        struct.pack_into("<H", enc, at + (6 if sig == b"PK\x03\x04" else 8), 1)
    (tmp_path / "e.zip").write_bytes(enc)
    with pytest.raises(BundleError, match="encrypted"):
        read_bundle(tmp_path / "e.zip")
    (tmp_path / "n.zip").write_bytes(b"not a zip at all" * 10)
    with pytest.raises(BundleError):
        read_bundle(tmp_path / "n.zip")


def test_huge_declared_sizes_and_caps(tmp_path: Path):
    data = bytearray(canonical_zip({"a.txt": b"1234"}))
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<II", data, cd + 20, 0xFFFFFFF0, 0xFFFFFFF0)  # compressed, uncompressed size
    (tmp_path / "h.zip").write_bytes(data)
    with pytest.raises(ArchiveLimitExceeded, match="max_member_bytes"):
        read_bundle(tmp_path / "h.zip")
    small = BundleLimits(max_bundle_bytes=1000, max_member_bytes=100, max_members=3)
    cases = {
        "big.zip": {"a": b"x" * 2000},
        "member.zip": {"a": b"x" * 200},
        "many.zip": {f"m{i}": b"" for i in range(5)},
    }
    for name, members in cases.items():
        (tmp_path / name).write_bytes(canonical_zip(members))
        with pytest.raises(ArchiveLimitExceeded):
            read_bundle(tmp_path / name, small)


# -- report diff, inputs, corpus, re-run --------------------------------------------------------------


def test_compare_documents_paths():
    original = example_document()
    doc = json.loads(original.to_json())
    new = json.loads(original.to_json())
    new["hypotheses"][0]["probability"] = 0.85
    added = EvidenceRecord(id="ev-000000000001", kind="code", subtype="shared functions", value="cirrus")
    new["evidence"].append(added.model_dump())
    new["verdict"]["hypothesis"] = "unknown"
    diffs = {str(d) for d in compare_documents(doc, new)}
    assert "hypotheses[id=actor:Example Group].probability: 0.87 → 0.85" in diffs
    assert any(d.startswith("evidence[id=ev-000000000001]: added") for d in diffs)
    assert 'verdict.hypothesis: "actor:Example Group" → "unknown"' in diffs
    assert len(diffs) == 3
    new["hypotheses"].reverse()
    assert any(d.kind == "order" and d.path == "hypotheses" for d in compare_documents(doc, new))
    assert compare_documents(doc, json.loads(original.to_json())) == []


def test_check_inputs_and_corpus(tmp_path: Path, bundle: Path, sample_file: Path):
    manifest = verify_bundle(bundle).manifest
    assert manifest is not None
    assert check_inputs(manifest, [sample_file]) == []
    other = tmp_path / "incident.exe"
    other.write_bytes(b"MZ different")
    [line] = check_inputs(manifest, [other])
    assert "incident.exe" in line and manifest.inputs[0].sha256 in line
    labels = [(s.sha256, s.family, s.actor, s.library) for s in manifest.corpus.samples]
    assert check_corpus(manifest, labels) == []
    relabelled = [(labels[0][0], "other-family", None, False), *labels[2:]]
    problems = check_corpus(manifest, relabelled)
    assert len(problems) == 2 and "other-family" in problems[0] and "not in this corpus" in problems[1]


def test_verify_case_reruns_and_reports_differences(
    bundle: Path, sample_file: Path, document: AttributionDocument
):
    calls = []

    def same(manifest: CaseManifest, inputs: object) -> AttributionDocument:
        calls.append(inputs)
        return document

    report = verify_case(bundle, [sample_file], rerun=same)
    assert report.ok and report.rerun == "same" and report.rerun_note == "byte-identical"
    assert calls[0].samples == (sample_file,)

    def drifted(manifest: CaseManifest, inputs: object) -> AttributionDocument:
        hyps = list(document.hypotheses)
        hyps[0] = hyps[0].model_copy(update={"probability": 0.85})
        return document.model_copy(update={"hypotheses": tuple(hyps)})

    report = verify_case(bundle, [sample_file], rerun=drifted)
    assert report.rerun == "differs" and report.exit_code == E_MISMATCH
    assert [str(d) for d in report.differences] == [
        "hypotheses[id=actor:Example Group].probability: 0.87 → 0.85"
    ]
    assert verify_case(bundle, [], rerun=same).rerun == "skipped"


def test_tlp_mismatch_between_manifest_and_report(tmp_path: Path, document: AttributionDocument):
    manifest = build_manifest(document)
    red = manifest.model_copy(update={"case": manifest.case.model_copy(update={"tlp": "TLP:RED"})})
    out = tmp_path / "tlp.zip"
    write_bundle(out, case_members(document), red, Ed25519PrivateKey.generate())
    result = verify_bundle(out)
    assert [p.kind for p in result.problems] == ["consistency"] and "TLP:RED" in result.problems[0].detail


# -- command line --------------------------------------------------------------------------------------


def test_cli_keygen_and_verify(tmp_path: Path, bundle: Path, keys: tuple[Path, Path], sample_file: Path):
    runner = CliRunner()
    priv, pub = tmp_path / "n.key", tmp_path / "n.pub"
    made = runner.invoke(cli, ["keygen", "--private", str(priv), "--public", str(pub)])
    assert made.exit_code == E_OK and made.stdout.strip() == key_id(load_public_key(pub))
    again = runner.invoke(cli, ["keygen", "--private", str(priv), "--public", str(pub)])
    assert again.exit_code == 13 and "refusing to overwrite" in again.stderr
    ok = runner.invoke(cli, ["verify", str(bundle), "--key", str(keys[1]), str(sample_file)])
    assert ok.exit_code == E_OK, ok.output
    assert ok.stdout.startswith("TLP:AMBER") and "result      OK" in ok.stdout
    assert "not pinned" in runner.invoke(cli, ["verify", str(bundle)]).stdout
    wrong = runner.invoke(cli, ["verify", str(bundle), "--key", str(pub), "--format", "json"])
    assert wrong.exit_code == E_SIGNATURE and json.loads(wrong.stdout)["signature"]["status"] == "wrong-key"
    tampered = _rewrite(tmp_path, _members(bundle) | {"report/report.txt": b"changed"})
    bad = runner.invoke(cli, ["verify", str(tampered)])
    assert bad.exit_code == E_MISMATCH and "report/report.txt: changed" in bad.stdout
    hostile = _raw_zip(tmp_path / "h.zip", [("../x", b"1")])
    assert runner.invoke(cli, ["verify", str(hostile)]).exit_code == 14


def test_register_with_rerun_factory(bundle: Path, sample_file: Path, document: AttributionDocument):
    seen: list[str] = []

    def factory(db: str) -> RerunHooks:
        seen.append(db)
        labels = [(s.sha256, s.family, s.actor, s.library) for s in document.corpus_samples]
        return RerunHooks(rerun=lambda m, i: document, corpus_samples=lambda: labels)

    @click.group()
    def group() -> None:
        """Test group."""

    register(group, rerun_factory=factory)
    result = CliRunner().invoke(group, ["verify", str(bundle), str(sample_file), "--db", "corpus.db"])
    assert result.exit_code == 0, result.output
    assert seen == ["corpus.db"] and "re-run      same: byte-identical" in result.stdout
