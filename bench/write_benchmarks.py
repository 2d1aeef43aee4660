"""Write BENCHMARKS.md from the JSON files the benchmarks leave in bench/results/.

.venv/bin/python bench/hvp_cost.py --repeats 5
.venv/bin/python bench/ooc_scale.py --problem mlp_1m --k 500 --s 1000 --blocks 4 8 16
.venv/bin/python bench/ooc_scale.py --problem wide_mlp --k 1000 --s 2000 --blocks 2 4 8
bench/setup_peers.sh && .venv/bin/python bench/peers.py
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


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def peers_section() -> list[str]:
    f = R / "peers.json"
    if not f.exists():
        return ["(run bench/setup_peers.sh, then bench/peers.py --quick)"]
    d = json.loads(f.read_text())
    m = d["meta"]
    vers = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    out = [
        f"`{m['command']}` ({m['date']}, {m['machine']}; {vers}). Wall: median of 3 runs when "
        "under 10 s. HVPs and data passes are counted at the operator. Peak: RSS above the "
        "start. Errors against the reference: eigenvalues (median relative error, each matched "
        "to the nearest reference eigenvalue), the subspace overlap of the top-k, and the "
        "largest error of the magnitude-mask overlap curve over k' = 1..k. Ratios: our wall "
        "time over this method's (below 1: ours is faster), for our single-pass sketch and "
        "our accurate mode; x floor: wall over (HVPs x our best per-vector HVP time).",
    ]
    for case in d["cases"]:
        out += [
            "",
            f"### {case['problem']} (D = {case['D']:,}, after {case['steps']} SGD steps); "
            f"reference: {case['reference']}; floor {1e3 * case['floor_seconds_per_hvp']:.2f} "
            "ms per HVP",
            "",
            "| k | method | wall | HVPs | passes | peak | eig. err | subspace | curve err | "
            "x floor | sketch / this | accurate / this |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for k in dict.fromkeys(r["k"] for r in case["rows"]):
            rows = [r for r in case["rows"] if r["k"] == k]
            ours = {r["method"]: r.get("wall_seconds") for r in rows}
            sk = ours.get("ours: sketch (s = 2k)")
            acc = ours.get("ours: accurate (block Krylov)")
            for r in rows:
                if "skipped" in r:
                    out.append(f"| {k} | {r['method']} | not run: {r['skipped']} |" + " |" * 9)
                    continue
                w = r["wall_seconds"]
                out.append(
                    f"| {k} | {r['method']} | {w:.2f} s | {r['hvps']:,} | {r['passes']:,} | "
                    f"{r['peak_mb']:.0f} MB | {_fmt(r.get('eig_rel_err_median'), '.1e')} | "
                    f"{_fmt(r.get('subspace_overlap'), '.4f')} | "
                    f"{_fmt(r.get('overlap_curve_err'), '.1e')} | {r['floor_ratio']:.1f} | "
                    f"{_fmt(sk / w if sk else None, '.2f')} | "
                    f"{_fmt(acc / w if acc else None, '.2f')} |"
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
        "## Side by side with the peers",
        "",
        *peers_section(),
        "",
        "## Reading these numbers",
        "",
        "Peers (`bench/peers.py`):",
        "- At equal accuracy on mnist_mini (eigenvalue errors ~1e-7, subspace overlap 1.0000), "
        "our accurate mode (block Krylov, blocks of >= 64 vectors per data pass) is the fastest "
        "at k = 355 (4.7 s against ARPACK 6.1 s, hessian-eigenthings' Lanczos 5.4 s, curvlinops "
        "10.8 s) while making 25-30x fewer passes over the data (46 against ~710). At k = 20 and "
        "100 ARPACK is faster (0.31 s against 0.73 s; 1.46 s against 1.78 s): it needs 3-4x "
        "fewer products and at D = 7,030 a product costs as little as the block bookkeeping.",
        "- Single-pass sketches (ours, skerch) are the fastest way to an approximate top-k, and "
        "the magnitude-mask overlap curve they give is within 1e-3 to 7e-3 of the reference's at "
        "every k, while the top-k subspace itself is only roughly right (0.6-0.77 on "
        "mnist_mini). skerch beats our sketch on mnist_mini (0.08 s against 0.20 s at k = 20, "
        "equal at k = 355) with worse eigenvalues (median error 0.23-0.69 against 0.13-0.16): "
        "at this size our fixed costs (float64 copies of each block, the sparse test-matrix "
        "tiles) are larger than the 42 products.",
        "- mlp_1m (after 100 SGD steps) has a flat top spectrum: neither sketch finds its top-20 "
        "or top-100 subspace (overlap 0.006-0.03, at chance-like levels) although the eigenvalue "
        "scale and the mask-overlap curve come out close; there a sketch with s = 2k is the "
        "wrong tool for the eigenvectors, and the a-posteriori error says so. Our in-memory "
        "accurate mode ran out of the 24 GB (it keeps the float64 Krylov basis, 0.5 GB per block "
        "of 64 at D = 1M); ARPACK (BLAS held to one thread, which helps when products and BLAS "
        "alternate at small D but slows its own orthogonalisation at 1M) took 32 s at k = 20 "
        "and 410 s at k = 100. hessian-eigenthings' Lanczos beats everyone at k = 20 in time "
        "(1.8 s) but has not converged (its default 2k steps): median eigenvalue error 0.25, "
        "subspace 0.23. PyHessian's power iteration (k = 20 only) reached subspace 0.82 in 21 s.",
        "- Our sketch at 1M spends 9 s for 42 products (0.8 s of them HVPs): drawing the sparse "
        "test-matrix tiles (~2.6 s) and float64 copies of the D x b blocks dominate. The "
        "out-of-core path caches the tiles per worker; the in-memory one now does too.",
        "",
        "Out of core:",
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
