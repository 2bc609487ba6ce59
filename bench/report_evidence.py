"""Markdown of the capabilities / evidence-speed task (``bench/capabilities.py``)."""

from __future__ import annotations


def _fmt(v: object, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def render_capabilities(c: dict, summary: dict) -> str:
    run = c.get("run", {})
    env = run.get("environment", {})
    rows = c.get("rows", [])
    t = c.get("totals", {})
    lines = [
        "## 5. Evidence extraction speed, and capabilities against capa's vivisect backend",
        "",
        f"Command: `python bench/run.py --only capabilities` ({run.get('date', summary.get('date', '?'))}; "
        f"{env.get('cpu', 'this machine')}). `bench/capabilities.py`: each binary is analysed in fresh "
        "processes, charged the CPU seconds (user + system) of that process, rule caches warm. "
        "*evidence* = load + function recovery + crypto and key material + indicators (what "
        "`attributor evidence` and ingest do without `--capa-rules`); *capabilities* = the public capa "
        "rules on our extractor (`detect_capabilities`, whole process incl. load and recovery); *capa-viv* = "
        "`capa -j -r RULES -s EMPTY` (vivisect, no FLIRT signatures, since attributor does no library "
        "identification either). Agreement compares the non-library rule names each reports.",
        "",
        "| binary | MB | load | recover | crypto+keys | indicators | **evidence** | capabilities "
        "| capa-viv | ratio | rules both / only ours / only viv |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        st = r.get("stages_cpu_s") or {}
        viv = f"{r['viv_cpu_s']:.1f}" + (" (timed out)" if r.get("viv_timed_out") else "")
        ratio = f"{'≥ ' if r.get('viv_timed_out') else ''}{r['ratio']:.1f}×"
        agree = f"{r['both']} / {r['only_ours']} / {r['only_viv']}" if "both" in r else "not compared"
        cells = [_fmt(st.get(k), 2) for k in ("load", "recover", "crypto", "indicators")]
        evidence = _fmt(r.get("evidence_cpu_s"), 2)
        lines.append(
            f"| {r['binary']} | {r['size'] / 1e6:.2f} | {' | '.join(cells)} | **{evidence}** | "
            f"{r['ours_cpu_s']:.1f} | {viv} | {ratio} | {agree} |"
        )
    if t:
        bound = "at least " if any(r.get("viv_timed_out") for r in rows) else ""
        lines += [
            "",
            f"Totals: capabilities {t['ours_cpu_s']:.1f} CPU-s with our extractor against "
            f"{bound}{t['viv_cpu_s']:.1f} with vivisect ({t['ratio']:.1f}×); rules found by both "
            f"{t['both']}, only by us {t['only_ours']}, only by vivisect {t['only_viv']}. "
            "Target: evidence for a 5 MB binary under 10 s on one core — see the "
            "*evidence* column of the largest binary; with capabilities the capa rule matching itself "
            "dominates (docs/evidence-capabilities.md).",
        ]
    return "\n".join(lines)
