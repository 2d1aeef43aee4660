"""Write BENCHMARKS.md from the JSON files the benchmarks leave in bench/results/.

.venv/bin/python bench/hvp_cost.py --repeats 5
.venv/bin/python bench/ooc_scale.py --problem mlp_1m --k 500 --s 1000 --blocks 4 8 16
.venv/bin/python bench/ooc_scale.py --problem wide_mlp --k 1000 --s 2000 --blocks 2 4 8
.venv/bin/python bench/write_benchmarks.py
"""

from __future__ import annotations

import json
from pathlib import Path

R = Path("bench/results")


def hvp_section() -> list[str]:
    f = R / "hvp_cost.json"
    if not f.exists():
        return ["(run bench/hvp_cost.py)"]
    d = json.loads(f.read_text())
    blocks = sorted({r["block"] for r in d["rows"]})
    m = d["meta"]
    out = [
        f"`bench/hvp_cost.py`: {m['date']}, {m['machine']}, torch {m['torch']}, {m['dtype']}, "
        f"{m['n_hessian']} Hessian samples in batches of {m['batch']}; median of repeated passes "
        "after a warm-up, time of one pass divided by its vectors.",
        "",
        "| problem | D | " + " | ".join(f"b = {b}" for b in blocks) + " |",
        "|---|---|" + "---|" * len(blocks),
    ]
    for name in dict.fromkeys(r["problem"] for r in d["rows"]):
        rows = {r["block"]: r for r in d["rows"] if r["problem"] == name}
        cells = " | ".join(f"{1e3 * rows[b]['seconds_per_vector']:.2f} ms" for b in blocks)
        out.append(f"| {name} | {rows[blocks[0]]['D']:,} | {cells} |")
    return out


def ooc_section(problem: str) -> list[str]:
    f = R / f"ooc_{problem}.json"
    if not f.exists():
        return [f"(run bench/ooc_scale.py --problem {problem})"]
    d = json.loads(f.read_text())
    a = d["args"]
    cal = ", ".join(f"b={b}: {1e3 * v:.0f} ms" for b, v in d["per_vector_seconds"].items())
    s = a["s"]
    rows = [
        ("HVP floor (s x best per-vector time)", f"{d['floor_seconds']:.0f} s"),
        ("measurement (Dask LocalCluster, 1 worker)", f"{d['measure_seconds']:.0f} s"),
        ("  of which inside blocks (test vectors + HVPs)", f"{d['measure_hvp_seconds']:.0f} s "
         f"({1e3 * d['measure_hvp_seconds'] / s:.0f} ms per vector)"),
        ("solve (one streamed pass + core)", f"{d['solve_seconds']:.0f} s"),
        ("total (measurement + solve)", f"{d['total_seconds']:.0f} s"),
        ("**total / floor**", f"**{d['ratio_to_floor']:.2f}**"),
        ("analysis (magnitude, 100 random, best mask; every k)", f"{d['analysis_seconds']:.0f} s"),
        ("(total + analysis) / floor", f"{d['ratio_with_analysis']:.2f}"),
        ("peak memory, all processes: measurement / solve / overall",
         f"{d['peak_gb_measure']:.1f} / {d['peak_gb_solve']:.1f} / {d['peak_gb']:.1f} GB"),
    ]  # fmt: skip
    out = [
        f"`bench/ooc_scale.py --problem {problem} --k {a['k']} --s {s}` ({d['date']}, "
        f"{d['cores']} cores, torch {d['torch']}): D = {d['D']:,}, k = {a['k']}, s = {s}, "
        f"oversample {a['oversample']}, sparse sign test matrices, float32 sketch, "
        f"{a['n_hessian']} Hessian samples in batches of {a['batch']}; outer sketch "
        f"{d['outer_gb']:.1f} GB on disk. HVP calibration on the same operator: {cal}; "
        f"block size used: {d['block']}.",
        "",
        "| phase | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
        "Overlap with the top-k eigenspace (at initialisation):",
        "",
        "| k | magnitude | random (mean of 100) | best | chance k/D |",
        "|---|---|---|---|---|",
    ]
    for k, o in d["overlap_at"].items():
        out.append(
            f"| {k} | {o['magnitude']:.3g} | {o['random_mean']:.3g} | {o['best']:.3g} | "
            f"{o['chance']:.3g} |"
        )
    return out


def main() -> None:
    text = [
        "# Benchmarks",
        "",
        "Measured on the project's machine kind: 2 cores, 24 GB, no GPU. Benchmarks are not "
        "tests; every number here comes from the commands in `bench/write_benchmarks.py`'s "
        "docstring, which wrote this file from `bench/results/*.json`.",
        "",
        "## HVP cost per vector against the block size (vectors per data pass)",
        "",
        *hvp_section(),
        "",
        "## Out of core at scale: wide_mlp (D > 10M), k = 1000, s = 2000",
        "",
        *ooc_section("wide_mlp"),
        "",
        "## Out of core, smaller: mlp_1m (D ~ 1M), k = 500, s = 1000",
        "",
        *ooc_section("mlp_1m"),
        "",
        "## Reading these numbers",
        "",
        "- The floor is the HVP time alone: s products at the best per-vector time measured on "
        "the same operator in the same process before the run. Inside the measurement blocks "
        "the products ran ~1.4-1.5x slower than that, because on 2 cores the per-block "
        "background work (the inner sketch Phi_L y and the CRC-checked Zarr write of D x b "
        "floats) competes with torch's two threads; writing synchronously instead keeps the "
        "products at full speed but gives the same wall time. At 1M the fixed costs (cluster "
        "start, operator build and determinism check in the worker, test-matrix caches: ~7 s) "
        "weigh on a 26 s floor. The targets (1.3x at 10M, 1.15x at 1M) are not met yet.",
        "- The solve is one streamed pass over the 42 GB outer sketch (Gram matrix and Phi_R Y in "
        "float64), far under the 15-minute target; the paper's QR and core solve took ~700 "
        "minutes on a 400 GB node.",
        "- Memory stays flat in D: row chunks of 65,536 rows. (An earlier run with 262,144-row "
        "chunks peaked at 12.7 GB in the analysis.)",
        "",
    ]
    Path("BENCHMARKS.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
