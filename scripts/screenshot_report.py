"""Render an attribution document as HTML and screenshot it with headless Chromium.

    python scripts/screenshot_report.py [DOCUMENT.json] [--out docs/img/report.png]
                                        [--html report.html] [--width 1280] [--height 1600]

Without a document, the hand-written example of the renderer tests
(``tests/helpers_attribution.py::example_document``) is used; that is how ``docs/img/report.png``
is made. Uses Debian's ``chromium`` through Playwright and never downloads a browser; every
request that is not a ``file:`` URL is aborted, so the screenshot shows what an offline reader sees.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from attributor.render.html import render_html  # noqa: E402
from attributor.report.attribution import AttributionDocument  # noqa: E402


def load(path: str | None) -> AttributionDocument:
    if path is None:
        from helpers_attribution import example_document

        return example_document()
    return AttributionDocument.from_file(path)


def screenshot(html_path: Path, out: Path, width: int, height: int) -> None:
    """Open ``html_path`` in headless Chromium and save the top ``width`` × ``height`` pixels as PNG."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium not found on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
            page.goto(html_path.as_uri())
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": width, "height": height})
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("document", nargs="?", help="attributor.attribution/1 JSON (default: the example)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "img" / "report.png"))
    ap.add_argument("--html", help="also keep the rendered HTML here")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1600)
    args = ap.parse_args(argv)
    text = render_html(load(args.document))
    with tempfile.TemporaryDirectory() as tmp:
        html_path = Path(args.html) if args.html else Path(tmp) / "report.html"
        html_path.write_text(text, encoding="utf-8")
        screenshot(html_path.resolve(), Path(args.out), args.width, args.height)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
