"""Figures of a study (matplotlib, Agg; one PNG per call): the paper's plots and ours.

Each function takes ``hessian.study.analysis.StepAnalysis`` objects (one per recorded step,
sketched; optionally the exact reference's) and writes one file, returning its path.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from hessian._files import atomic_write_bytes
from hessian.study.metrics import GRASSMANNIAN_KEYS

MASK_STYLE = {
    "magnitude": {"color": "C0", "label": "magnitude mask"},
    "random": {"color": "C7", "label": "random masks (mean, ±2 sd)"},
    "best": {"color": "C2", "label": "best mask"},
}


def _save(fig, path) -> Path:
    """The figure as a PNG at ``path``, written atomically (never a half-written image)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def spectrum(analyses, path, *, exact=None) -> Path:
    """|lambda_i| against i (log scale) for each step; filled markers positive, open negative."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    cmap = plt.get_cmap("viridis")
    n = max(1, len(analyses) - 1)
    for i, a in enumerate(analyses):
        lam = a.eigenvalues
        idx = np.arange(1, len(lam) + 1)
        c = cmap(i / n)
        ax.plot(idx, np.abs(lam), color=c, lw=1, label=f"step {a.step}")
        neg = lam < 0
        ax.scatter(idx[neg], np.abs(lam[neg]), s=4, facecolors="none", edgecolors=c, lw=0.5)
    for e in exact or []:
        ax.plot(np.arange(1, e.k + 1), np.abs(e.eigenvalues), "k:", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("index i (|λ| order)")
    ax.set_ylabel("|λ_i|")
    ax.set_title("Top-k Hessian spectrum (open markers: negative; dotted: exact)")
    if len(analyses) <= 12:
        ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def overlap_vs_k(a, path, *, exact=None) -> Path:
    """Overlap of magnitude, random and best masks for every k, with the chance line k/D."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ks = np.arange(1, a.k + 1)
    c = a.curves
    ax.plot(ks, c["magnitude"], **MASK_STYLE["magnitude"])
    ax.plot(ks, c["random_mean"], **MASK_STYLE["random"])
    ax.fill_between(
        ks,
        c["random_mean"] - 2 * c["random_std"],
        c["random_mean"] + 2 * c["random_std"],
        color="C7",
        alpha=0.25,
    )
    ax.plot(ks, c["best"], **MASK_STYLE["best"])
    ax.plot(ks, c["chance"], "k--", lw=1, label="chance k/D")
    if exact is not None:
        ax.plot(ks, exact.curves["magnitude"][: a.k], "C0:", lw=1.5, label="magnitude (exact H)")
        ax.plot(ks, exact.curves["best"][: a.k], "C2:", lw=1.5, label="best (exact H)")
    ax.set_xlabel("k")
    ax.set_ylabel("overlap")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Mask overlap with the top-k eigenspace, step {a.step} (D = {a.D:,})")
    ax.legend(fontsize=8)
    return _save(fig, path)


def overlap_vs_step(analyses, path, *, k: int, exact=None) -> Path:
    """Overlap at one k against the training step, for each mask, with chance."""
    steps = [a.step for a in analyses]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(steps, [a.at("magnitude", k) for a in analyses], "o-", **MASK_STYLE["magnitude"])
    rm = np.array([a.at("random_mean", k) for a in analyses])
    rs = np.array([a.at("random_std", k) for a in analyses])
    ax.errorbar(steps, rm, yerr=2 * rs, fmt="s-", capsize=2, **MASK_STYLE["random"])
    ax.plot(steps, [a.at("best", k) for a in analyses], "^-", **MASK_STYLE["best"])
    ax.plot(steps, [a.at("chance", k) for a in analyses], "k--", lw=1, label="chance k/D")
    if exact:
        ax.plot(
            [e.step for e in exact],
            [e.at("magnitude", k) for e in exact],
            "x:",
            color="C3",
            label="magnitude (exact H)",
        )
    ax.set_xlabel("training step")
    ax.set_ylabel(f"overlap at k = {k}")
    ax.set_title(f"Overlap with the top-{k} Hessian eigenspace during training")
    ax.set_ylim(0, 1.3 * max(a.at("best", k) for a in analyses))
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    return _save(fig, path)


def metric_panels(analyses, path, *, k: int) -> Path:
    """The seven Grassmannian metrics at one k against the step, one panel each."""
    fig, axes = plt.subplots(2, 4, figsize=(13, 5.6))
    steps = [a.step for a in analyses]
    for ax, key in zip(axes.flat, GRASSMANNIAN_KEYS, strict=False):
        for mask in ("magnitude", "random", "best"):
            vals = [a.grassmannian.get(mask, {}).get(k, {}).get(key, np.nan) for a in analyses]
            ax.plot(steps, vals, "o-", ms=3, color=MASK_STYLE[mask]["color"], label=mask)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
    axes.flat[-1].axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"Grassmannian metrics between masks and the top-{k} eigenspace")
    fig.tight_layout()
    return _save(fig, path)


def across_steps(result: dict, path) -> Path:
    """IoU of magnitude masks and eigenspace overlap, for every k, between pairs of steps:
    consecutive steps solid, each step against the last dashed (colour: the earlier step)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.2))
    pairs = result["pairs"]
    firsts = sorted({p[0] for p in pairs})
    cmap = plt.get_cmap("viridis")
    last = max(p[1] for p in pairs) if pairs else 0
    for (s0, s1), iou, ov in zip(pairs, result["iou"], result["eigenspace_overlap"], strict=True):
        ks = np.arange(1, len(iou) + 1)
        to_last = s1 == last and (s0, s1) != tuple(pairs[len(firsts) - 1])
        style = {
            "color": cmap(firsts.index(s0) / max(1, len(firsts) - 1)),
            "ls": "--" if to_last else "-",
            "lw": 1,
            "label": f"{s0}→{s1}",
        }
        a1.plot(ks, iou, **style)
        a2.plot(ks, ov, **style)
    a1.set_title("IoU of magnitude masks between steps")
    a2.set_title("Overlap of top-k eigenspaces between steps")
    for ax in (a1, a2):
        ax.set_xlabel("k")
        ax.set_ylim(0, 1.02)
    if len(pairs) <= 24:
        a2.legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    return _save(fig, path)


def residuals(certificates: dict, path) -> Path:
    """Relative residuals ||H v_i - lambda_i v_i|| / |lambda_i| of the checked pairs against i,
    per step (``certificates``: step -> ``Certificate.record()``), with the tolerance and each
    step's certified rank."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    cmap = plt.get_cmap("viridis")
    n = max(1, len(certificates) - 1)
    tol = None
    for i, (step, c) in enumerate(sorted(certificates.items())):
        color = cmap(i / n)
        idx = np.asarray(c["checked"]) + 1
        ax.plot(idx, np.maximum(c["residuals"], 1e-17), ".", ms=3, color=color,
                label=f"step {step}: certified {c['certified_rank']}/{c['k']}")  # fmt: skip
        if c["certified_rank"] < c["k"]:
            ax.axvline(c["certified_rank"] + 0.5, color=color, lw=0.6, ls=":")
        tol = c["tol"]
    if tol is not None:
        ax.axhline(tol, color="C3", lw=0.8, ls="--", label=f"tol = {tol:g}")
    ax.set_yscale("log")
    ax.set_xlabel("index i (|λ| order)")
    ax.set_ylabel("relative residual")
    ax.set_title("Certificates: residuals of the checked eigenpairs (dotted: certified rank)")
    if len(certificates) <= 12:
        ax.legend(fontsize=7)
    return _save(fig, path)
