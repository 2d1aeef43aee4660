"""Library demo on mnist_mini (the README's main command until the pipeline lands).

Trains the paper's 7,030-parameter MLP for 300 SGD steps (lr 0.3, batch 500), sketches the top
k = 355 Hessian eigenpairs with s = 710 batched HVPs, checks the sketch a posteriori, and relates
the eigenspace to magnitude, random and best masks (Fernandez et al. 2025).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import hessian
from hessian import masks, metrics, problems, training


def main(steps: int = 300, k: int = 355, s: int = 710, seed: int = 0) -> None:
    console = Console()
    p = problems.load("mnist_mini")
    console.print(
        f"[bold]mnist_mini[/]: D = {p.D:,}, {len(p.train_data[0])} training digits, "
        f"Hessian on {len(p.hessian_data[0])} (50 per class)"
    )
    t = time.perf_counter()
    training.sgd(
        p.model,
        p.train_data,
        steps=steps,
        lr=p.settings.lr,
        batch_size=p.settings.batch_size,
        seed=p.settings.seed,
    )
    console.print(f"trained {steps} SGD steps in {time.perf_counter() - t:.1f} s")

    op = hessian.HessianOperator(p.model, p.hessian_data, vectors_per_pass=32)
    t = time.perf_counter()
    r = hessian.seigh(op, k=k, s=s, seed=seed)
    t_sketch = time.perf_counter() - t
    est = hessian.aposteriori_error(op, r, n=30, seed=seed)
    console.print(
        f"sketch: {r.n_hvp} HVPs in {r.n_passes} data passes, {t_sketch:.1f} s; "
        f"a-posteriori relative Frobenius error {est.relative:.3f} "
        f"(30 probes; P[under 0.5x] <= {est.p_below:.3f}, P[over 1.5x] <= {est.p_above:.3f})"
    )
    neg = float(np.mean(r.eigenvalues < 0))
    console.print(
        f"top eigenvalues: {np.array2string(r.eigenvalues[:5], precision=3)}; "
        f"{100 * neg:.0f} % of the top-{k} are negative"
    )

    theta = p.flat_params().numpy()
    V = r.eigenvectors
    mag = metrics.overlap(masks.magnitude(theta, k), V)
    rnd = metrics.overlap(masks.random(p.D, k, draws=100, seed=seed), V).mean(axis=0)
    best = masks.best_overlap(V)
    table = Table(title="overlap of masks with the top-k Hessian eigenspace")
    for col in ("k", "magnitude", "random (mean of 100)", "best", "chance k/D", "magnitude/chance"):
        table.add_column(col, justify="right")
    for kk in (10, 50, 100, 200, k):
        ch = metrics.chance(kk, p.D)
        table.add_row(
            str(kk),
            f"{mag[kk - 1]:.4f}",
            f"{rnd[kk - 1]:.4f}",
            f"{best[kk - 1]:.4f}",
            f"{ch:.4f}",
            f"{mag[kk - 1] / ch:.1f}x",
        )
    console.print(table)


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
