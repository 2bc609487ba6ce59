"""The HTML report (``attributor.render.html``): structure, escaping, determinism, golden, browser.

The golden file is ``tests/golden/report_example.html``; after an intended change regenerate it with
``ATTRIBUTOR_UPDATE_GOLDEN=1 pytest tests/test_render_html.py`` and review ``git diff tests/golden``.
The browser test drives Debian's ``chromium`` through Playwright (never a downloaded browser) and
is skipped, saying why, when either is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from golden_util import assert_golden
from helpers_attribution import example_document

from attributor.render.html import render_html
from attributor.render.html_diff import align, marked, normalise, split_line
from attributor.render.html_parts import TLP_COLOURS, clip, visible
from attributor.report.attribution import Ach, AchRow, AttributionDocument

TESTS = Path(__file__).resolve().parent
SECTIONS = (
    "summary",
    "hypotheses",
    "plots",
    "tree",
    "ach",
    "evidence",
    "infrastructure",
    "code",
    "signatures",
    "parameters",
)
VOID = {"meta", "br", "col", "hr", "img", "input", "link", "wbr"}
# SVG shapes are written self-closing (<rect .../>); the parser reports them through startendtag.
HOSTILE = "<script>alert(1)</script>"


class Page(HTMLParser):
    """Every element (tag, attrs), the text of each id'd element, and nesting errors."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text_by_id: dict[str, str] = {}
        self._open_ids: list[tuple[int, str]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a))
        if tag in VOID:
            return
        self.stack.append(tag)
        if "id" in a:
            self._open_ids.append((len(self.stack), a["id"]))
            self.text_by_id.setdefault(a["id"], "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        while self._open_ids and self._open_ids[-1][0] == len(self.stack):
            self._open_ids.pop()
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for _, eid in self._open_ids:
            self.text_by_id[eid] += data

    def ids(self) -> list[str]:
        return [a["id"] for _, a in self.elements if "id" in a]

    def with_class(self, tag: str, cls: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and cls in a.get("class", "").split()]


@pytest.fixture(scope="module")
def doc() -> AttributionDocument:
    return example_document()


@pytest.fixture(scope="module")
def page_html(doc: AttributionDocument) -> str:
    return render_html(doc)


def test_page_is_well_nested_and_has_every_section(page_html: str) -> None:
    page = Page(page_html)
    assert page.errors == [] and page.stack == []
    ids = page.ids()
    assert len(ids) == len(set(ids)), "element ids must be unique"
    for sid in SECTIONS:
        assert sid in ids, sid
    assert page_html.startswith("<!DOCTYPE html>\n") and page_html.endswith("</html>\n")


def test_every_evidence_item_and_hypothesis_is_shown(doc: AttributionDocument, page_html: str) -> None:
    page = Page(page_html)
    ids = set(page.ids())
    for ev in doc.evidence:
        assert ev.id in ids, ev.id
        assert ev.id in page.text_by_id[ev.id]
    tree = page.text_by_id["tree"]
    for h in doc.hypotheses:
        assert h.name in page.text_by_id["hypotheses"] and h.name in tree
        for a in (*h.support, *h.against):
            assert a.reason in tree
    assert "possible false flag or common source" in tree


def test_ach_matrix_has_one_cell_per_row_and_hypothesis(doc: AttributionDocument, page_html: str) -> None:
    page = Page(page_html)
    cells = page.with_class("td", "cell")
    assert len(cells) == len(doc.ach.rows) * len(doc.ach.hypotheses)
    expected = [s for row in doc.ach.rows for s in row.cells]
    assert [c["title"] for c in cells] == expected
    # Meaning is carried by a symbol and a letter too, not by colour alone.
    ach = page.text_by_id["ach"]
    n_inconsistent = sum(s == "inconsistent" for s in expected)
    assert ach.count("− I") == n_inconsistent + 1  # the cells plus the legend


@pytest.mark.parametrize("tlp", sorted(TLP_COLOURS))
def test_tlp_banner_top_and_bottom_in_tlp_colour(doc: AttributionDocument, tlp: str) -> None:
    marked_doc = doc.model_copy(update={"case": doc.case.model_copy(update={"tlp": tlp})})
    text = render_html(marked_doc)
    page = Page(text)
    for where in ("tlp-top", "tlp-bottom"):
        attrs = next(a for _, a in page.elements if a.get("id") == where)
        assert f"color:{TLP_COLOURS[tlp]}" in attrs["style"]
        assert page.text_by_id[where].startswith(tlp)
    assert page.ids()[0] == "tlp-top" and page.ids()[-1] == "tlp-bottom"
    assert f"<title>Attribution report: {doc.case.id} ({tlp})</title>" in text.replace("&#x27;", "'")


def test_verdict_line_and_abstention_wording(doc: AttributionDocument) -> None:
    page = Page(render_html(doc))
    assert page.text_by_id["verdict"].startswith("Verdict: Example Group")
    abstained = doc.model_copy(
        update={"verdict": doc.verdict.model_copy(update={"abstained": True, "hypothesis": "unknown"})}
    )
    page = Page(render_html(abstained))
    assert page.text_by_id["verdict"].startswith("Abstained: unknown / new actor")


def test_sparse_document_renders_every_section(doc: AttributionDocument) -> None:
    """No evidence, pairs, signatures or intel; an ACH row shorter than the hypothesis list."""
    short_row = AchRow(evidence_id="ev-000000000000", cells=("consistent",))
    sparse = doc.model_copy(
        update={
            "evidence": (),
            "pairs": (),
            "signatures": (),
            "infrastructure": (),
            "iocs": (),
            "notes": (),
            "ach": Ach(hypotheses=doc.ach.hypotheses, rows=(short_row,)),
        }
    )
    page = Page(render_html(sparse))
    assert page.errors == [] and all(sid in page.ids() for sid in SECTIONS)
    cells = page.with_class("td", "cell")
    assert [c["title"] for c in cells] == ["consistent"] + ["missing"] * (len(doc.ach.hypotheses) - 1)
    assert "No matched function pairs" in page.text_by_id["code"]
    assert "No matched code" in page.text_by_id["plots"]
    assert "No code signature" in page.text_by_id["signatures"]


def test_missing_reference_listing_gives_a_note(page_html: str) -> None:
    page = Page(page_html)
    assert "Reference disassembly not available" in page.text_by_id["pair-1"]
    assert "Reference disassembly not available" not in page.text_by_id["pair-0"]
    assert len(page.with_class("table", "sbs")) == 2


def test_self_contained_without_scripts_or_remote_references(page_html: str) -> None:
    assert "<script" not in page_html.lower()
    assert re.search(r"""href\s*=\s*["']#""", page_html), "the pattern below must see in-page links"
    assert not re.search(r"""(src|href|action)\s*=\s*(?!["']#)""", page_html), "only in-page links"
    assert "url(" not in page_html and "@import" not in page_html
    assert "default-src 'none'" in page_html
    assert len(Page(page_html).with_class("svg", "plot")) == 2


def _hostile_document(doc: AttributionDocument) -> AttributionDocument:
    long = "A" * 100_000
    evidence = list(doc.evidence)
    evidence[0] = evidence[0].model_copy(update={"detail": HOSTILE + "\"'&", "value": HOSTILE})
    evidence[1] = evidence[1].model_copy(update={"value": long, "detail": "nul\x00 bidi\u202e esc\x1b"})
    hyps = list(doc.hypotheses)
    hyps[1] = hyps[1].model_copy(update={"name": HOSTILE, "confidence_reasons": (HOSTILE,)})
    pair = doc.pairs[0].model_copy(
        update={
            "family": HOSTILE,
            "query_asm": (f"0x401000  {HOSTILE}", "0x401001  " + "A, " * 50_000, *doc.pairs[0].query_asm[1:]),
        }
    )
    return doc.model_copy(
        update={
            "case": doc.case.model_copy(update={"title": HOSTILE, "id": '"><img src=x onerror=alert(1)>'}),
            "evidence": tuple(evidence),
            "hypotheses": tuple(hyps),
            "pairs": (pair, *doc.pairs[1:]),
            "notes": (HOSTILE,),
            "parameters": {HOSTILE: HOSTILE},
        }
    )


def test_document_strings_are_escaped_and_clipped(doc: AttributionDocument) -> None:
    text = render_html(_hostile_document(doc))
    assert "<script" not in text.lower() and "<img" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\x00" not in text and "\u202e" not in text and "\x1b" not in text
    assert "nul\\x00 bidi\\u202e esc\\x1b" in text
    assert "A" * 1000 not in text and "[+" in text
    assert len(text) < len(render_html(doc)) + 60_000
    page = Page(text)
    assert page.errors == []


def test_visible_and_clip() -> None:
    assert visible("a\tb\u200bc") == "a\\x09b\\u200bc"
    assert visible("schön ü") == "schön ü"
    assert clip("x" * 10, 4) == "xxxx… [+6 chars]"


def test_same_document_same_bytes_across_processes(doc: AttributionDocument, page_html: str) -> None:
    assert render_html(example_document()) == page_html
    code = (
        "import sys; from helpers_attribution import example_document; "
        "from attributor.render.html import render_html; "
        "sys.stdout.buffer.write(render_html(example_document()).encode('utf-8'))"
    )
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(TESTS), env.get("PYTHONPATH"))))
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, env=env, timeout=120, check=True
        )
        outputs.add(run.stdout)
    assert outputs == {page_html.encode("utf-8")}


def test_golden_example_report(page_html: str) -> None:
    assert_golden("report_example.html", page_html)


# --- alignment ---------------------------------------------------------------------------------


def test_split_and_normalise() -> None:
    assert split_line("0x401000:  push rbp ") == split_line("0x401000  push rbp")
    assert split_line("0x401000  push rbp").address == "0x401000"
    assert split_line("no address").address == ""
    assert normalise("JB   0x401006") == normalise("jb 0x140001007") == "jb #"
    assert normalise("mov eax, [rbp - 8]") == "mov eax, [rbp - #]"
    assert normalise("xor r8d, r8d") == "xor r8d, r8d"  # register digits are not numbers


def test_align_identical_code_at_other_addresses_is_equal() -> None:
    q = ("0x401000  push rbp", "0x401001  call 0x401200", "0x401006  ret")
    r = ("0x140001000  push rbp", "0x140001001  call 0x140002000", "0x140001006  ret")
    rows = align(q, r)
    assert [row.status for row in rows] == ["equal"] * 3
    assert [(row.query.address, row.ref.address) for row in rows if row.query and row.ref][1] == (
        "0x401001",
        "0x140001001",
    )


def test_align_substituted_lines_are_changed_and_marked() -> None:
    q = ("0x10  push rbp", "0x11  xor eax, eax", "0x13  xor ecx, 0x5a", "0x16  ret")
    r = ("0x20  push rbp", "0x21  xor r8d, r8d", "0x24  xor ecx, 0x3c", "0x27  ret")
    rows = align(q, r)
    assert [row.status for row in rows] == ["equal", "changed", "changed", "equal"]
    assert marked("xor ecx, 0x5a", "xor ecx, 0x3c") == "xor ecx, <mark>0x5a</mark>"
    assert marked("xor eax, eax", "xor r8d, r8d") == "xor <mark>eax</mark>, <mark>eax</mark>"


def test_align_inserted_and_deleted_lines_face_a_gap() -> None:
    q = ("0x10  push rbp", "0x11  nop", "0x12  mov rbp, rsp", "0x15  ret")
    r = ("0x20  push rbp", "0x21  mov rbp, rsp", "0x24  leave", "0x25  ret")
    rows = align(q, r)
    assert [row.status for row in rows] == ["equal", "query-only", "equal", "ref-only", "equal"]
    assert rows[1].ref is None and rows[1].query is not None and rows[1].query.text == "nop"
    assert rows[3].query is None and rows[3].ref is not None and rows[3].ref.text == "leave"
    assert align((), ()) == ()


# --- real browser ------------------------------------------------------------------------------


def test_renders_in_headless_chromium_without_errors_or_network(
    doc: AttributionDocument, page_html: str, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not on PATH (apt-get install chromium); no browser is downloaded")
    files = {
        "report": page_html,
        "hostile": render_html(_hostile_document(doc)),
        # Negative control: proves the collectors below do see errors and network requests.
        "control": '<img src="http://192.0.2.1/x.png"><script>throw new Error("boom")</script>',
    }
    for name, text in files.items():
        (tmp_path / f"{name}.html").write_text(text, encoding="utf-8")
    seen: dict[str, list[str]] = {"problems": [], "remote": []}

    def route(r: Any) -> None:
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            seen["remote"].append(r.request.url)
            r.abort()

    def on_console(m: Any) -> None:
        if m.type == "error":
            seen["problems"].append(f"console: {m.text}")

    def on_dialog(d: Any) -> None:
        seen["problems"].append(f"dialog: {d.message}")
        d.dismiss()

    def visit(page: Any, name: str) -> tuple[list[str], list[str]]:
        seen["problems"], seen["remote"] = [], []
        page.goto((tmp_path / f"{name}.html").as_uri(), wait_until="load")
        return seen["problems"], seen["remote"]

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, timeout=15_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(10_000)
            page.on("console", on_console)
            page.on("pageerror", lambda e: seen["problems"].append(f"pageerror: {e}"))
            page.on("dialog", on_dialog)
            page.route("**/*", route)

            problems, remote = visit(page, "control")
            assert any("boom" in x for x in problems) and remote == ["http://192.0.2.1/x.png"]

            assert visit(page, "report") == ([], [])
            assert page.title() == f"Attribution report: {doc.case.id} ({doc.case.tlp})"
            boxes = [svg.bounding_box() for svg in page.locator("svg.plot").all()]
            assert len(boxes) == 2
            assert all(b is not None and b["width"] > 100 and b["height"] > 20 for b in boxes), boxes
            banner = page.locator("#tlp-top")
            assert banner.evaluate("e => getComputedStyle(e).color") == "rgb(255, 192, 0)"
            assert banner.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 0, 0)"
            assert page.locator("td.cell").count() == len(doc.ach.rows) * len(doc.ach.hypotheses)

            assert visit(page, "hostile") == ([], [])
            assert page.locator("script").count() == 0 and page.locator("img").count() == 0
        finally:
            browser.close()
