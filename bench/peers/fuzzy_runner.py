"""Whole-file fuzzy hashes (runs in the peers venv): ``python fuzzy_runner.py JOB.json RESULT.json``.

TLSH (``py-tlsh``: ``tlsh.hash``, ``tlsh.diff``; lower distance = more similar) and ssdeep
(``ppdeep.hash``, ``ppdeep.compare``; 0-100, higher = more similar) of every reference and
query; each query gets its distance/score to every reference. Families are ranked later, from
the best reference of each family. There is no function-level output: both hashes see the file
as one blob.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def hash_all(items: list[dict]) -> tuple[dict, float, float]:
    import ppdeep
    import tlsh

    out, cpu_tlsh, cpu_ssdeep = {}, 0.0, 0.0
    for item in items:
        data = Path(item["path"]).read_bytes()
        t0 = time.process_time()
        th = tlsh.hash(data)
        t1 = time.process_time()
        sh = ppdeep.hash(data)
        t2 = time.process_time()
        cpu_tlsh += t1 - t0
        cpu_ssdeep += t2 - t1
        out[item["id"]] = {"tlsh": th if th and th != "TNULL" else None, "ssdeep": sh}
    return out, cpu_tlsh, cpu_ssdeep


def compare(query: dict, refs: dict) -> dict:
    import ppdeep
    import tlsh

    tl, ss = {}, {}
    for rid, h in refs.items():
        if query["tlsh"] and h["tlsh"]:
            tl[rid] = tlsh.diff(query["tlsh"], h["tlsh"])
        ss[rid] = ppdeep.compare(query["ssdeep"], h["ssdeep"])
    return {"tlsh_distance": tl, "ssdeep_score": ss}


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    refs, ref_tlsh_s, ref_ssdeep_s = hash_all(job["references"])
    queries, q_tlsh_s, q_ssdeep_s = hash_all(job["queries"])
    t0 = time.process_time()
    result = {
        "tool": "fuzzy",
        "queries": {qid: compare(h, refs) for qid, h in queries.items()},
        "cpu_hash_s": {"tlsh": ref_tlsh_s + q_tlsh_s, "ssdeep": ref_ssdeep_s + q_ssdeep_s},
    }
    result["cpu_compare_s"] = time.process_time() - t0
    result["versions"] = _versions()
    Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("py-tlsh", "ppdeep")}


if __name__ == "__main__":
    sys.exit(main(sys.argv))
