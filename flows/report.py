"""``summary.json`` and the end-of-run table: what a reader needs from a run, per step."""

from __future__ import annotations

import datetime as dt

import numpy as np

from hessian_sketch.flows.common import git_commit, versions


def step_record(outcome: dict, checkpoint: dict, analysis: dict, exact: dict | None) -> dict:
    """One step of the summary: spectrum, overlap curves by k, error, timings, what was reused."""
    c = analysis["curves"]
    rec = {
        "step": outcome["step"],
        "train": {"loss": checkpoint.get("loss"), "accuracy": checkpoint.get("accuracy")},
        "eigenvalues": analysis["eigenvalues"],
        "negative_fraction": float(np.mean(np.asarray(analysis["eigenvalues"]) < 0)),
        "overlap": {
            "magnitude": c["magnitude"],
            "random_mean": c["random_mean"],
            "random_std": c["random_std"],
            "best": c["best"],
        },
        "chance": c["chance"],
        "grassmannian": analysis["grassmannian"],
        "aposteriori": outcome.get("aposteriori"),
        "sketch": {
            key: outcome.get(key)
            for key in ("url", "reused", "hvps", "hvps_per_second", "blocks_measured", "workers")
        }
        | {
            "fingerprint": outcome["id"]["fingerprint"],
            "solution_id": outcome["id"]["solution_id"],
        },
        "timings": {
            "measure": outcome.get("seconds_measure"),
            "solve": outcome.get("seconds_solve"),
            "aposteriori": (outcome.get("aposteriori") or {}).get("seconds"),
            "analyze": analysis.get("seconds"),
        },
        "trained_this_run": bool(checkpoint.get("trained", False)),
    }
    if exact is not None:
        ea = exact["analysis"]
        rec["exact"] = {
            "eigenvalues": ea["eigenvalues"],
            "overlap": {
                n: ea["curves"][n] for n in ("magnitude", "random_mean", "random_std", "best")
            },
            "grassmannian": ea["grassmannian"],
            "sketch_vs_exact": exact.get("comparison"),
        }
        rec["timings"]["exact"] = exact.get("seconds")
    return rec


def step_line(rec: dict, k: int) -> str:
    k = min(k, len(rec["eigenvalues"]))  # a rank-deficient sketch may hold fewer pairs
    o = rec["overlap"]
    line = (
        f"step {rec['step']}: overlap at k = {k}: magnitude {o['magnitude'][k - 1]:.4f}, "
        f"random {o['random_mean'][k - 1]:.4f}, best {o['best'][k - 1]:.4f}, "
        f"chance {rec['chance'][k - 1]:.4f}"
    )
    if "exact" in rec:
        line += f"; exact magnitude {rec['exact']['overlap']['magnitude'][k - 1]:.4f}"
    return line


def summary(cfg, steps: list[dict], across: dict, *, plots=(), extra=None) -> dict:
    return {
        "problem": cfg.problem,
        "D": cfg.D,
        "k": cfg.sketch.k,
        "s": cfg.sketch.s,
        "noise": cfg.sketch.noise,
        "seed": cfg.sketch.seed,
        "name": cfg.name,
        "run_dir": cfg.run_dir,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "versions": versions(),
        "config": cfg.model_dump(mode="json"),
        "steps": steps,
        "across_steps": across,
        "plots": list(plots),
        "timings": {},
    } | (extra or {})


def table(summary: dict):
    """A rich table, one row per step: top eigenvalue, overlaps at k (magnitude, random, best,
    chance, exact), the magnitude overlap at smaller k, and the a-posteriori error."""
    from rich import box
    from rich.table import Table

    ks = summary["config"]["analysis"]["table_ks"]
    K, small = ks[-1], ks[:-1]
    has_exact = any("exact" in s for s in summary["steps"])
    t = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        title=f"{summary['problem']} (D = {summary['D']:,}): mask overlap with the top-k "
        f"Hessian eigenspace at k = {K}",
        caption="mag/rand/best: magnitude, random (mean), best masks; exact: magnitude mask on "
        "the exact Hessian; err: a-posteriori relative Frobenius error",
    )
    cols = ["step", "λ1", "mag", "rand", "best", "chance"]
    cols += ["exact"] if has_exact else []
    cols += [f"mag@{k}" for k in small] + ["err"]
    for c in cols:
        t.add_column(c, justify="right")
    for s in summary["steps"]:
        o = s["overlap"]
        K = min(ks[-1], len(s["eigenvalues"]))
        row = [
            str(s["step"]),
            f"{s['eigenvalues'][0]:.3g}",
            f"{o['magnitude'][K - 1]:.3f}",
            f"{o['random_mean'][K - 1]:.4f}",
            f"{o['best'][K - 1]:.3f}",
            f"{s['chance'][K - 1]:.4f}",
        ]
        if has_exact:
            row.append(f"{s['exact']['overlap']['magnitude'][K - 1]:.3f}" if "exact" in s else "-")
        row += [f"{o['magnitude'][min(k, K) - 1]:.3f}" for k in small]
        err = (s.get("aposteriori") or {}).get("relative")
        row.append("-" if err is None else f"{err:.3f}")
        t.add_row(*row)
    return t
