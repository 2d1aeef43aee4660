"""Write BENCHMARKS.md from the JSON files the benchmarks leave in bench/results/.

.venv/bin/python bench/hvp_cost.py --repeats 5
.venv/bin/python bench/ooc_scale.py --problem mlp_1m --k 500 --s 1000 --blocks 4 8 16
.venv/bin/python bench/ooc_scale.py --problem wide_mlp --k 1000 --s 2000 --blocks 2 4 8
.venv/bin/python bench/science.py --problem mlp_1m --k 100 --steps 100
.venv/bin/python bench/science.py --problem wide_mlp --k 100 --steps 100 --n-hessian 130 --block 8
bench/setup_peers.sh && .venv/bin/python bench/peers.py     # or --quick (peers_quick.json)
.venv/bin/python bench/write_benchmarks.py

The peers' tables merge peers.json and peers_quick.json (per case, the latest rows first); each
case names the commands that measured it. "Certified eigenpairs" is bench/certified.md and
"Reading these numbers" bench/reading.md, both written by hand (certified.md around the
generated bench/science.py tables)."""

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


def merged_peers() -> dict | None:
    """peers.json and peers_quick.json together: per case and (k, method), the row measured
    last (a row's own date, else its case's)."""
    runs = [json.loads(f.read_text()) for f in (R / "peers.json", R / "peers_quick.json")
            if f.exists()]  # fmt: skip
    if not runs:
        return None
    cases: dict[str, dict] = {}
    for c in sorted((c for d in runs for c in d["cases"]), key=lambda c: c.get("date", "")):
        rows = [r | {"date": r.get("date", c.get("date", ""))} for r in c["rows"]]
        if c["problem"] not in cases:
            cases[c["problem"]] = c | {"rows": rows}
            continue
        old = cases[c["problem"]]
        best = {(r["k"], r["method"]): r for r in sorted(old["rows"] + rows,
                                                         key=lambda r: r["date"])}  # fmt: skip
        order = list(dict.fromkeys(r["method"] for r in old["rows"] + rows))
        new = c | {"rows": sorted(best.values(), key=lambda r: (r["k"], order.index(r["method"])))}
        if any(r in old["rows"] for r in new["rows"]):  # rows of both runs: name both commands
            new["command"] = f"{old.get('command', 'bench/peers.py')}`, then `{c['command']}"
        cases[c["problem"]] = new
    latest = max(runs, key=lambda d: d["meta"]["date"])
    return {"meta": latest["meta"], "cases": list(cases.values())}


def peers_section() -> list[str]:
    d = merged_peers()
    if d is None:
        return ["(run bench/setup_peers.sh, then bench/peers.py --quick)"]
    m = d["meta"]
    vers = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    out = [
        f"{m['machine']}; {vers}. Each case says the command that measured it. Wall: median of "
        "3 runs when "
        "under 10 s. HVPs and data passes are counted at the operator. Peak: RSS above the "
        "start. Errors against the reference: eigenvalues (median relative error, each matched "
        "to the nearest reference eigenvalue), the subspace overlap of the top-k, and the "
        "largest error of the magnitude-mask overlap curve over k' = 1..k, absolute, relative "
        "to the curve and relative to chance (k'/D); certified: our certified rank "
        "(docs/method.md). Ratios: our wall "
        "time over this method's (below 1: ours is faster), for our single-pass sketch and "
        "our accurate mode; x floor: wall over (HVPs x our best per-vector HVP time).",
    ]
    for case in d["cases"]:
        k_ref = case.get("k_ref")
        partial = k_ref is not None and any(r["k"] > k_ref for r in case["rows"])
        out += [
            "",
            f"### {case['problem']} (D = {case['D']:,}, after {case['steps']} SGD steps, "
            f"{case.get('n_hessian', 500)} Hessian samples); reference: {case['reference']}; "
            f"floor {1e3 * case['floor_seconds_per_hvp']:.2f} ms per HVP"
            + (f"; measured by `{case['command']}` on {case['date']}" if "command" in case else ""),
            "",
            *([f"Where k > {k_ref}, the error columns compare the top {k_ref}.", ""] * partial),
            "| k | method | wall | HVPs | passes | peak | eig. err | subspace | curve err | "
            "curve err / curve | curve err / chance | certified | x floor | sketch / this | "
            "accurate / this |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for k in dict.fromkeys(r["k"] for r in case["rows"]):
            rows = [r for r in case["rows"] if r["k"] == k]
            ours = {r["method"]: r.get("wall_seconds") for r in rows}
            sk = ours.get("ours: sketch (s = 2k)")
            acc = ours.get(
                "ours: accurate (block Lanczos)", ours.get("ours: accurate (block Krylov)")
            )
            for r in rows:
                if "skipped" in r:
                    out.append(f"| {k} | {r['method']} | not run: {r['skipped']} |" + " |" * 12)
                    continue
                cert = r.get("certified_rank")
                w = r["wall_seconds"]
                out.append(
                    f"| {k} | {r['method']} | {w:.2f} s | {r['hvps']:,} | {r['passes']:,} | "
                    f"{r['peak_mb']:.0f} MB | {_fmt(r.get('eig_rel_err_median'), '.1e')} | "
                    f"{_fmt(r.get('subspace_overlap'), '.4f')} | "
                    f"{_fmt(r.get('overlap_curve_err'), '.1e')} | "
                    f"{_fmt(r.get('overlap_curve_err_rel'), '.2g')} | "
                    f"{_fmt(r.get('overlap_curve_err_vs_chance'), '.2g')} | "
                    f"{'-' if cert is None else f'{cert}/{k}'} | {r['floor_ratio']:.1f} | "
                    f"{_fmt(sk / w if sk else None, '.2f')} | "
                    f"{_fmt(acc / w if acc else None, '.2f')} |"
                )
        out += ["", *reach_table(case)]
    return out


def science_section() -> list[str]:
    """bench/science.py: the magnitude mask against certified and single-pass eigenvectors."""
    out = []
    for f in sorted(Path("bench/results").glob("science_*.json")):
        d = json.loads(f.read_text())
        for s in d["steps"]:
            ch = s["chance"]
            c = s["curves"]
            ks = [kk for kk in (1, 10, 20, 50, 100, 500, 1000) if kk <= len(ch)]
            cert = s["certificate"]
            out += [
                f"### {d['problem']} on digits (D = {d['D']:,}), step {s['step']}, k = {d['k']}: "
                f"certified {cert['certified']['certified_rank']}/{d['k']} after "
                f"{s['products']:,} products in all; the single-pass sketch certified "
                f"{cert['single_pass']['certified_rank']}/{d['k']} (median residual "
                f"{cert['single_pass']['median_residual']:.2g}); run took {d['seconds']:.0f} s",
                "",
                "| k | " + " | ".join(map(str, ks)) + " |",
                "|---|" + "---|" * len(ks),
            ]
            for name in ("certified", "single-pass"):
                for mask in ("magnitude", "random"):
                    vals = " | ".join(f"{c[name][mask][kk - 1] / ch[kk - 1]:.2f}" for kk in ks)
                    out.append(f"| {mask} / chance, {name} | {vals} |")
            vals = " | ".join(f"{s['sketch_vs_certified_overlap'][kk - 1]:.3f}" for kk in ks)
            out += [f"| subspace overlap, sketch vs certified | {vals} |", ""]
    return out or ["(run bench/science.py)"]


def certified_section() -> list[str]:
    """bench/certified.md (written by hand: the accurate solver at scale, measured by the
    commands it names) with ``science_section`` in place of its ``{science}`` line."""
    out = []
    for line in Path("bench/certified.md").read_text().splitlines():
        out += science_section() if line == "{science}" else [line]
    return out


def reach_table(case: dict) -> list[str]:
    """The largest k each method finished in this case, and why it went no further."""
    ks = list(dict.fromkeys(r["k"] for r in case["rows"]))
    out = [
        f"Largest k reached on {case['problem']} (of k = {', '.join(map(str, ks))}):",
        "",
        "| method | largest k done | wall there | why not further |",
        "|---|---|---|---|",
    ]
    for method in dict.fromkeys(r["method"] for r in case["rows"]):
        rows = [r for r in case["rows"] if r["method"] == method]
        done = [r for r in rows if "wall_seconds" in r]
        best = max(done, key=lambda r: r["k"]) if done else None
        nxt = [r for r in rows if "skipped" in r and (best is None or r["k"] > best["k"])]
        why = nxt[0]["skipped"] if nxt else "(all k asked for were done)"
        wall = f"{best['wall_seconds']:.1f} s" if best else "-"
        out.append(f"| {method} | {best['k'] if best else 'none'} | {wall} | {why} |")
    return out


def gpu_section() -> list[str]:
    """``bench/gpu_check.py``'s figures where a GPU measured them; else what is not measured."""
    path = Path("bench/results/gpu_check.json")
    r = json.loads(path.read_text()) if path.exists() else {}
    if not r.get("gpu"):
        return [
            "Not yet measured: no machine with a GPU was available to this project so far, and "
            "no GPU figure is estimated. On a machine with one CUDA GPU, one command (under 8 "
            "minutes) measures them all: CUDA products against the CPU ones in float64 on the "
            "test nets (relative error < 1e-10), HVP time per vector against the block size on "
            "mlp_1m and wide_mlp (GPU and CPU), and an out-of-core wide_mlp sketch at k = 100 "
            "with the products on the GPU against its HVP floor:",
            "",
            "```bash",
            ".venv/bin/python bench/gpu_check.py   # -> bench/results/gpu_check.json",
            ".venv/bin/python bench/write_benchmarks.py",
            "```",
        ]
    out = [
        f"{r['gpu']} against {r['cpu']} ({r['threads']} threads), torch {r['torch']}, "
        f"`{r['command']}` on {r['date']}.",
        "",
        "| net | operator | D | relative error (float64, CUDA vs CPU) |",
        "|---|---|---:|---:|",
    ]
    out += [f"| {e['net']} | {e.get('operator', '-')} | {e.get('D', '-')} | "
            f"{e['rel_err']:.1e} |" if "rel_err" in e else
            f"| {e['net']} | - | - | bitwise {'equal' if e['bitwise'] else 'DIFFERENT'} |"
            for e in r["equality"]]  # fmt: skip
    out += [
        "",
        "| problem | block | GPU ms per vector | CPU ms per vector |",
        "|---|---:|---:|---:|",
    ]
    cpu = {(c["problem"], c["block"]): c["seconds_per_vector"] for c in r["hvp_cpu"]}
    for g in r["hvp_gpu"]:
        c = cpu.get((g["problem"], g["block"]))
        out.append(f"| {g['problem']} | {g['block']} | {1e3 * g['seconds_per_vector']:.2f} | "
                   f"{'-' if c is None else f'{1e3 * c:.1f}'} |")  # fmt: skip
    o = r["ooc_gpu"]
    out += [
        "",
        f"Out of core, wide_mlp k = {o['k']}, s = {o['s']}, products on the GPU: "
        f"{o['seconds']:.1f} s in all, {o['hvp_seconds']:.1f} s of products, HVP floor "
        f"{o['hvp_floor_seconds']:.1f} s ({o['seconds'] / o['hvp_floor_seconds']:.1f}x).",
    ]
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
        *certified_section(),
        "",
        "## Side by side with the peers",
        "",
        *peers_section(),
        "",
        "## On a GPU (`bench/gpu_check.py`)",
        "",
        *gpu_section(),
        "",
        *Path("bench/reading.md").read_text().splitlines(),
    ]
    Path("BENCHMARKS.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
