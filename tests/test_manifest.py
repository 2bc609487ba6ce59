"""Corpus manifests: CSV and JSON lines, relative paths, and one-line errors for bad lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from attributor.errors import FileAccessError, ManifestError
from attributor.manifest import parse_manifest
from attributor.store.base import Label


def write(tmp_path: Path, text: str, name: str = "manifest.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv(tmp_path: Path) -> None:
    m = write(
        tmp_path,
        "\ufeffpath,family,actor,library\n"
        "a.exe,emotet,TA542,\n"
        "\n"
        "sub/b.dll, zlib ,,YES\n"
        "/abs/c.exe,plugx,,0\n"
        '"with,comma.exe",plugx,APT41,true\n',
    )
    assert parse_manifest(m) == [
        (tmp_path / "a.exe", Label("emotet", "TA542", False, f"{m}:2")),
        (tmp_path / "sub/b.dll", Label("zlib", None, True, f"{m}:4")),
        (Path("/abs/c.exe"), Label("plugx", None, False, f"{m}:5")),
        (tmp_path / "with,comma.exe", Label("plugx", "APT41", True, f"{m}:6")),
    ]


def test_csv_minimal_columns_any_order(tmp_path: Path) -> None:
    m = write(tmp_path, "Family,Path\nemotet,x/a.exe\n")
    assert parse_manifest(m) == [(tmp_path / "x/a.exe", Label("emotet", source=f"{m}:2"))]


def test_jsonl(tmp_path: Path) -> None:
    m = write(
        tmp_path,
        '{"path": "a.exe", "family": "emotet", "actor": "TA542"}\n'
        "\n"
        '{"path": "b.dll", "family": "zlib", "library": true, "actor": null}\n'
        '{"path": "c.dll", "family": "zlib", "library": "no"}\n',
        name="m.jsonl",
    )
    assert parse_manifest(m) == [
        (tmp_path / "a.exe", Label("emotet", "TA542", False, f"{m}:1")),
        (tmp_path / "b.dll", Label("zlib", None, True, f"{m}:3")),
        (tmp_path / "c.dll", Label("zlib", None, False, f"{m}:4")),
    ]


def test_sniffed_by_content_not_name(tmp_path: Path) -> None:
    m = write(tmp_path, '{"path": "a", "family": "f"}\n', name="manifest.csv")
    assert parse_manifest(m)[0][1].family == "f"


def test_same_path_same_label_kept_once(tmp_path: Path) -> None:
    m = write(tmp_path, "path,family\na.exe,x\n./a.exe,x\na.exe,x\n")
    assert parse_manifest(m) == [(tmp_path / "a.exe", Label("x", source=f"{m}:2"))]  # "./a.exe" is "a.exe"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("", 1, "empty manifest"),
        ("path,famliy\na.exe,x\n", 1, "header must name"),
        ("path,family,family\na,b,c\n", 1, "header must name"),
        ("path,family\na.exe\n", 2, "1 fields"),
        ("path,family\na.exe,x\nb.exe,\n", 3, "family is empty"),
        ("path,family\n,x\n", 2, "path is empty"),
        ("path,family,library\na.exe,x,maybe\n", 2, "library must be"),
        ("path,family\na.exe,x\na.exe,y\n", 3, "labelled differently on line 2"),
        ('path,family\n"a.exe,x\n', 2, "bad CSV"),
        ('{"path": "a", "family": "f"}\n{"path": "b"\n', 2, "not JSON"),
        ('{"path": "a", "family": "f"}\n[1]\n', 2, "expected a JSON object"),
        ('{"path": "a", "famly": "f"}\n', 1, "unknown keys famly"),
        ('{"path": "a", "family": 3}\n', 1, "family must be text"),
        ('{"path": "a", "family": "f", "library": 2}\n', 1, "library must be"),
    ],
)
def test_malformed_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    m = write(tmp_path, text)
    with pytest.raises(ManifestError) as err:
        parse_manifest(m)
    assert str(err.value).startswith(f"{m}:{line}: "), str(err.value)
    assert what in str(err.value) and "\n" not in str(err.value)


def test_not_utf8(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_bytes(b"path,family\n\xff\xfe,x\n")
    with pytest.raises(ManifestError, match="not UTF-8"):
        parse_manifest(m)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(FileAccessError):
        parse_manifest(tmp_path / "nope.csv")
