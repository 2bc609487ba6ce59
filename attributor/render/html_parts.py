"""Building blocks of the HTML report: safe text, element ids, tables, badges and the stylesheet.

Every string that comes from a document goes through :func:`txt` (element content) or :func:`attr`
(attribute values): control and invisible format characters (bidi overrides, zero-width joiners,
lone surrogates) become visible ``\\xNN`` / ``\\uNNNN`` escapes, overlong strings are cut with a
``… [+N chars]`` marker, and the result is HTML-escaped with quotes. Nothing here knows the
document; it only turns plain values into HTML fragments deterministically.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final

NAME_LIMIT: Final = 80
VALUE_LIMIT: Final = 160
TEXT_LIMIT: Final = 400
ATTR_LIMIT: Final = 200
DASH: Final = "–"

# TLP 2.0 (FIRST): coloured text on a black background, and the one-line meaning of each label.
TLP_COLOURS: Final[dict[str, str]] = {
    "TLP:RED": "#FF2B2B",
    "TLP:AMBER": "#FFC000",
    "TLP:AMBER+STRICT": "#FFC000",
    "TLP:GREEN": "#33FF00",
    "TLP:CLEAR": "#FFFFFF",
}
TLP_MEANING: Final[dict[str, str]] = {
    "TLP:RED": "For the eyes and ears of individual recipients only, no further disclosure.",
    "TLP:AMBER": "Limited disclosure, recipients can only spread this on a need-to-know basis "
    "within their organization and its clients.",
    "TLP:AMBER+STRICT": "Limited disclosure, restricted to the recipient's organization only.",
    "TLP:GREEN": "Limited disclosure, recipients can spread this within their community.",
    "TLP:CLEAR": "Recipients can spread this to the world, there is no limit on disclosure.",
}
_ID_OK = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
# Categories shown as escapes: controls, format (bidi, zero-width), surrogates, unassigned, private.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Cn", "Co", "Zl", "Zp"})


def visible(value: object) -> str:
    """``str(value)`` with every invisible or control character replaced by a Python-style escape."""
    text = str(value)
    if text.isprintable() and text.isascii():
        return text
    out = []
    for ch in text:
        if ch == " " or unicodedata.category(ch) not in _HIDDEN:
            out.append(ch)
        else:
            code = ord(ch)
            out.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
    return "".join(out)


def clip(value: object, limit: int) -> str:
    """:func:`visible` text cut to ``limit`` characters, with how much was left out."""
    text = visible(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [+{len(text) - limit} chars]"


def label(value: object, limit: int) -> str:
    """Escaped short label: cut to ``limit`` characters with a bare ``…`` (plots, summaries)."""
    text = visible(value)
    return html.escape(text if len(text) <= limit else text[: limit - 1] + "…", quote=True)


def txt(value: object, limit: int = TEXT_LIMIT) -> str:
    """Escaped element content for any document value."""
    return html.escape(clip(value, limit), quote=True)


def attr(value: object, limit: int = ATTR_LIMIT) -> str:
    """Escaped attribute value (without the surrounding quotes)."""
    return html.escape(clip(value, limit), quote=True)


def code(value: object, limit: int = VALUE_LIMIT) -> str:
    """A value shown verbatim in monospace: ``<code>…</code>``."""
    return f"<code>{txt(value, limit)}</code>"


def ident(value: str) -> str:
    """An identifier (evidence id, hypothesis id) in monospace that never wraps."""
    return f'<code class="id">{txt(value, 64)}</code>'


def anchor(kind: str, key: str) -> str:
    """A valid, collision-free element id for ``key``: itself when it is already a plain id.

    Evidence ids (``ev-`` + hex) stay readable so a reader can search for them; anything else
    (hypothesis ids contain spaces and colons) becomes ``kind-`` plus a hash of the key.
    """
    if kind == "ev" and _ID_OK.match(key) and key.startswith("ev-"):
        return key
    return f"{kind}-{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def short(sha: str) -> str:
    """The first 12 characters of a hash and ``…``, for tables; the full value is the title."""
    return f'<code title="{attr(sha, 128)}">{label(sha, 13)}</code>' if len(sha) > 12 else code(sha)


def pct(p: float) -> str:
    return f"{p * 100:.0f}%"


def num(value: float) -> str:
    return f"{value:.2f}"


def badge(label: str, cls: str, title: str = "") -> str:
    """A small labelled marker; the label is text, so meaning never rests on colour alone."""
    tip = f' title="{attr(title)}"' if title else ""
    return f'<span class="badge {cls}"{tip}>{txt(label, NAME_LIMIT)}</span>'


def names(values: Sequence[str], limit: int = 12) -> str:
    """A comma-separated, escaped list, cut after ``limit`` items."""
    if not values:
        return DASH
    shown = ", ".join(txt(v, NAME_LIMIT) for v in values[:limit])
    return shown + (f" … (+{len(values) - limit})" if len(values) > limit else "")


def tr(cells: Iterable[str], row_id: str = "", cls: str = "") -> str:
    """One table row of pre-rendered cells, with an optional element id and class."""
    rid = f' id="{row_id}"' if row_id else ""
    rcls = f' class="{cls}"' if cls else ""
    return f"<tr{rid}{rcls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def table(headers: Sequence[str], rows: Sequence[str], cls: str = "", empty: str = "none") -> str:
    """A table with a header row (``headers`` are plain text) and pre-rendered ``rows``."""
    if not rows:
        return f'<p class="empty">{txt(empty)}</p>'
    head = "".join(f'<th scope="col">{txt(h)}</th>' for h in headers)
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def section(sid: str, title: str, body: str, intro: str = "") -> str:
    lead = f'<p class="intro">{txt(intro)}</p>' if intro else ""
    return f'<section id="{sid}"><h2>{txt(title)}</h2>{lead}{body}</section>'


def dl(items: Iterable[tuple[str, str]]) -> str:
    """A definition list of (plain label, pre-rendered value) pairs."""
    return '<dl class="kv">' + "".join(f"<dt>{txt(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


CSS: Final = """
:root{--fg:#1b1f24;--muted:#5b6570;--line:#d6dbe1;--bg:#fff;--soft:#f4f6f8;
--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#b42318;--bad-bg:#ffe4e0;--neu:#6e7781;--neu-bg:#eef1f4;
--warn:#9a6700;--warn-bg:#fff4d1;--acc:#0b5cad}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
main{max-width:1240px;margin:0 auto;padding:0 20px 24px}
h1{font-size:22px;margin:16px 0 4px}h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;
border-bottom:2px solid var(--line)}h3{font-size:15px;margin:16px 0 6px}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
pre{white-space:pre-wrap;word-break:break-all;background:var(--soft);padding:8px;margin:4px 0}
.tlp{background:#000;font:700 15px/1.3 ui-monospace,monospace;padding:6px 20px;display:flex;gap:16px;
align-items:baseline}.tlp small{color:#ddd;font:12px system-ui,sans-serif}
.verdict{border-left:6px solid var(--acc);background:var(--soft);padding:10px 14px;margin:10px 0}
.verdict.abstained{border-color:var(--warn);background:var(--warn-bg)}
.verdict .big{font-size:20px;font-weight:700}.meta{color:var(--muted);font-size:12.5px}
nav{font-size:13px;margin:8px 0}nav a{margin-right:12px}
table{border-collapse:collapse;margin:6px 0 10px;width:100%}
th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}th{background:var(--soft);font-weight:600;
white-space:nowrap}code.id,.badge,.nowrap{white-space:nowrap}table.narrow{width:auto;min-width:40%}
td.n,th.n{text-align:right;white-space:nowrap}
tr.chosen td{background:#e8f1fb}tr.dim td{color:var(--muted)}
.bar{display:inline-block;height:9px;background:var(--acc);vertical-align:middle;margin-right:6px}
.badge{display:inline-block;border-radius:3px;padding:0 5px;font-size:11.5px;font-weight:600;
margin:1px 3px 1px 0;border:1px solid currentColor}
.b-destructive,.b-anti-forensic,.b-non-attributable{color:var(--bad);background:var(--bad-bg)}
.b-unique,.b-consistent{color:var(--ok);background:var(--ok-bg)}
.b-inconsistent{color:var(--bad);background:var(--bad-bg)}.b-neutral,.b-tag{color:var(--neu);
background:var(--neu-bg)}.b-low{color:var(--warn);background:var(--warn-bg)}
.b-moderate{color:var(--acc);background:#e8f1fb}.b-high{color:var(--ok);background:var(--ok-bg)}
tr.alert td{background:var(--bad-bg)}tr.nonattr td{background:var(--soft);color:var(--muted)}
.ach td.cell{text-align:center;font-weight:700;white-space:nowrap}
.ach .st-consistent{color:var(--ok);background:var(--ok-bg)}
.ach .st-inconsistent{color:var(--bad);background:var(--bad-bg)}
.ach .st-neutral{color:var(--neu);background:var(--neu-bg)}.ach .st-missing{color:var(--neu)}
.ach tfoot td{font-weight:600;text-align:center}
details{margin:4px 0}summary{cursor:pointer}
details.hyp{border:1px solid var(--line);padding:6px 10px;margin:8px 0}
details.hyp>summary{font-weight:600}
ul.tree{list-style:none;padding-left:14px;margin:4px 0}ul.tree>li{border-left:2px solid var(--line);
padding-left:8px;margin:3px 0}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:4px 0 8px 8px;
font-size:13px}dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;overflow-wrap:anywhere}
.empty,.note{color:var(--muted);font-style:italic}
table.sbs{table-layout:fixed;font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;
font-size:12px}table.sbs td{border:none;border-bottom:1px solid #eef0f2;padding:1px 6px;
white-space:pre-wrap}table.sbs col.a{width:12%}table.sbs col.i{width:35%}table.sbs col.m{width:6%}
table.sbs td.m{text-align:center;font-weight:700}
table.sbs tr.changed td{background:var(--warn-bg)}table.sbs tr.changed td.m{color:var(--warn)}
table.sbs tr.query-only td.q,table.sbs tr.ref-only td.r{background:var(--bad-bg)}
table.sbs tr.query-only td.gap,table.sbs tr.ref-only td.gap{background:repeating-linear-gradient(
135deg,#f4f6f8 0 4px,#fff 4px 8px)}
table.sbs mark{background:#ffd27a;color:inherit;padding:0}
figure{margin:10px 0}figcaption{color:var(--muted);font-size:12.5px}
svg text{font-family:system-ui,sans-serif}
footer{color:var(--muted);font-size:12px;margin-top:24px}
@media print{details{display:block}nav{display:none}}
"""
