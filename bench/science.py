"""The paper's question on certified eigenpairs: does the magnitude mask's overlap with the top-k
Hessian eigenspace stay above chance (and grow relative to chance with k) when the eigenvectors
are the true ones, not a single-pass sketch's?

    .venv/bin/python bench/science.py --problem mlp_1m --k 100            # ~20 min here
    .venv/bin/python bench/science.py --problem wide_mlp --k 20 --n-hessian 130 --block 4

Runs the real pipeline (``hessian_sketch.flows.pipeline``, ``sketch.mode: accurate``) on the
problem trained on the bundled digits (resampled to 3 x 32 x 32), so each recorded step has a
certified accurate store and the single-pass sketch it started from. Then, per step, the
magnitude-mask overlap curve is read from both stores (``out_of_core.overlaps``) with random
masks and chance, the two eigenbases are compared (``cross_overlap``), and one figure is written:
bench/results/science_<problem>.png (and .json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

R = Path("bench/results")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problem", default="mlp_1m")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--steps", default="0,100")
    ap.add_argument("--n-hessian", type=int, default=500)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--max-products", type=int, default=None)
    a = ap.parse_args()

    from hessian import masks, out_of_core
    from hessian.training import checkpoints
    from hessian_sketch.flows import pipeline

    steps = [int(s) for s in a.steps.split(",")]
    run_dir = R / f"science_{a.problem}"
    config = {
        "problem": a.problem, "data": "digits", "name": f"science_{a.problem}",
        "run_dir": str(run_dir), "n_hessian": a.n_hessian,
        "train": {"record_steps": steps, "steps": max(steps)},
        "sketch": {"k": a.k, "s": 2 * a.k, "mode": "accurate", "vectors_per_pass": a.block,
                   "max_products": a.max_products},
        "exact": {"enabled": False}, "dask": {"address": "inprocess"},
        "analysis": {"random_draws": 30},
    }  # fmt: skip
    t = time.perf_counter()
    summary = pipeline(config)
    seconds = time.perf_counter() - t
    out = {"problem": a.problem, "D": summary["D"], "k": a.k, "seconds": seconds, "steps": []}
    for rec in summary["steps"]:
        step = rec["step"]
        ck = checkpoints.load(run_dir / "checkpoints" / f"step_{step:06d}.npz")
        S = {"magnitude": masks.magnitude(ck.params, a.k),
             "random": masks.random(summary["D"], a.k, draws=30, seed=1)}  # fmt: skip
        single, acc = rec["single_pass"]["url"], rec["sketch"]["url"]
        curves = {}
        for name, url in (("single-pass", single), ("certified", acc)):
            ov = out_of_core.overlaps(url, S)
            curves[name] = {"magnitude": ov.curves["magnitude"].tolist(),
                            "random": ov.curves["random"].mean(axis=0).tolist()}  # fmt: skip
        between = out_of_core.cross_overlap(single, acc)
        out["steps"].append({
            "step": step, "chance": (np.arange(1, a.k + 1) / summary["D"]).tolist(),
            "curves": curves, "sketch_vs_certified_overlap": np.asarray(between).tolist(),
            "certificate": {n: rec[n]["certificate"] if n == "single_pass" else rec["certificate"]
                            for n in ("single_pass", "certified")},
            "products": rec["sketch"]["hvps"],
        })  # fmt: skip
    R.mkdir(parents=True, exist_ok=True)
    (R / f"science_{a.problem}.json").write_text(json.dumps(out, indent=1))
    figure(out, R / f"science_{a.problem}.png")
    for s in out["steps"]:
        c, ch = s["curves"], s["chance"][-1]
        print(f"step {s['step']}: at k = {a.k}: magnitude / chance: single-pass "
              f"{c['single-pass']['magnitude'][-1] / ch:.2f}, certified "
              f"{c['certified']['magnitude'][-1] / ch:.2f}; sketch vs certified subspace "
              f"{s['sketch_vs_certified_overlap'][-1]:.3f}")  # fmt: skip


def figure(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(out["steps"])
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 3.9), squeeze=False)
    for ax, s in zip(axes[0], out["steps"], strict=True):
        ks = np.arange(1, len(s["chance"]) + 1)
        ch = np.asarray(s["chance"])
        for name, style in (("certified", "-"), ("single-pass", "--")):
            c = s["curves"][name]
            ax.plot(ks, np.asarray(c["magnitude"]) / ch, "C0" + style, label=f"magnitude, {name}")
            ax.plot(ks, np.asarray(c["random"]) / ch, "C7" + style, lw=0.8,
                    label=f"random (mean), {name}")  # fmt: skip
        ax.axhline(1.0, color="k", lw=0.6, ls=":", label="chance")
        cert = s["certificate"]
        ax.set_title(f"{out['problem']} on digits, step {s['step']}: certified "
                     f"{cert['certified']['certified_rank']}/{out['k']} (sketch "
                     f"{cert['single_pass']['certified_rank']})", fontsize=9)  # fmt: skip
        ax.set_xlabel("k")
        ax.set_ylabel("overlap / chance (k / D)")
        ax.set_yscale("log")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
