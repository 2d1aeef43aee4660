"""``summary.json`` and the end-of-run table: what a reader needs from a run, per step."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from hessian._files import atomic_write_text
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
        "mode": outcome.get("mode", "single-pass"),
        "certificate": outcome.get("certificate"),
        "single_pass": outcome.get("single_pass"),
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


def certificate_warning(steps: list[dict]) -> str | None:
    """The one line a reader must see when some step's top-k are not all certified."""
    short = [s for s in steps if not (s.get("certificate") or {}).get("complete", False)]
    if not short:
        return None
    worst = min(short, key=lambda s: (s.get("certificate") or {}).get("certified_rank", 0))
    c = worst.get("certificate") or {}
    k = c.get("k", len(worst.get("eigenvalues", [])))
    where = f"step {worst['step']}" + (f" (and {len(short) - 1} more)" if len(short) > 1 else "")
    if not c:
        return f"{where}: no certificate was computed; these eigenpairs are not checked"
    hint = (
        "raise sketch.max_products or sketch.tol"
        if worst.get("mode") == "accurate"
        else "use sketch.mode: accurate for certified eigenpairs"
    )
    return (
        f"{where}: only {c['certified_rank']} of the k = {k} eigenpairs are certified "
        f"(relative residual <= {c['tol']:g}, subspace overlap >= {1 - c['subspace_tol']:g}; "
        f"median residual of the checked pairs {c['median_residual']:.2g}): {hint}"
    )


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
    c = rec.get("certificate")
    if c:
        line += f"; certified {c['certified_rank']}/{c['k']} (max residual {c['max_residual']:.2g})"
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
        "mode": cfg.sketch.mode,
        "steps": steps,
        "certified": certified_summary(steps),
        "across_steps": across,
        "plots": list(plots),
        "timings": {},
    } | (extra or {})


#: what must agree for an earlier summary's records to carry over into a new one
SAME_RUN = ("problem", "D", "k", "s", "noise", "seed")


def merge(old: dict | None, new: dict) -> dict:
    """``new`` with what only ``old`` (the summary.json already there) knows kept: a partial
    command (``hessian analyze`` after ``hessian run``) updates the summary, never truncates it.

    Top-level sections only the old summary has (``mlflow``, ``work``, timings of stages not
    run now) are kept; a step whose sketch has the same solution keeps the old values of what
    this command did not compute (the a-posteriori error, the measurement's counts and
    timings); steps not analysed now are kept. Nothing is merged from a summary of other
    sketch settings."""
    if not isinstance(old, dict) or any(old.get(k) != new.get(k) for k in SAME_RUN):
        return new
    out = dict(new)
    for key, value in old.items():
        if key not in out:
            out[key] = value
    if isinstance(old.get("timings"), dict):
        out["timings"] = old["timings"] | new.get("timings", {})
    old_steps = {s.get("step"): s for s in old.get("steps", []) if isinstance(s, dict)}
    steps = []
    for rec in new.get("steps", []):
        prev = old_steps.pop(rec["step"], None)
        same = prev and prev.get("sketch", {}).get("solution_id") == rec["sketch"]["solution_id"]
        steps.append(_fill(rec, prev) if same else rec)
    steps += list(old_steps.values())
    out["steps"] = sorted(steps, key=lambda s: s["step"])
    return out


def write_summary(path: str | Path, summary: dict) -> dict:
    """Merge ``summary`` into the summary.json at ``path`` (``merge``) and write it atomically
    (a reader never sees a truncated file); returns what was written."""
    path = Path(path)
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = None  # none yet, or damaged: written anew
    out = merge(old, summary)
    atomic_write_text(path, json.dumps(out, indent=1))
    return out


def _fill(new, old):
    """``new`` with its None (or missing) values taken from ``old``, recursively."""
    if isinstance(new, dict) and isinstance(old, dict):
        out = dict(new)
        for k, v in old.items():
            out[k] = _fill(new.get(k), v) if k in new else v
        return out
    return old if new is None else new


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
        "the exact Hessian; err: a-posteriori relative Frobenius error; cert: certified "
        "eigenpairs / k (relative residual <= tol and the top-k' subspace resolved)",
    )
    cols = ["step", "λ1", "mag", "rand", "best", "chance"]
    cols += ["exact"] if has_exact else []
    cols += [f"mag@{k}" for k in small] + ["err", "cert"]
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
        c = s.get("certificate")
        ok = c and c["complete"]
        row.append("-" if not c else f"{'' if ok else '[yellow]'}{c['certified_rank']}/{c['k']}")
        t.add_row(*row)
    return t


def certified_summary(steps: list[dict]) -> dict:
    """How much of the run is certified: per step, and the least over the steps."""
    ranks = {s["step"]: (s.get("certificate") or {}).get("certified_rank", 0) for s in steps}
    ks = [(s.get("certificate") or {}).get("k", len(s["eigenvalues"])) for s in steps]
    return {
        "k": max(ks) if ks else 0,
        "min_certified_rank": min(ranks.values()) if ranks else 0,
        "complete": all((s.get("certificate") or {}).get("complete", False) for s in steps),
        "by_step": ranks,
    }
