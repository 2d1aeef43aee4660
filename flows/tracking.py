"""What goes to MLflow, derived from the summary: params, metrics by step and by k, artifacts."""

from __future__ import annotations

import os
from pathlib import Path

from hessian_sketch.flows.config import RunConfig
from hessian_sketch.tasks.uris import default_uri, redact


def tracking_uri(cfg: RunConfig) -> str:
    """The config's URI, else $MLFLOW_TRACKING_URI, else sqlite in the run directory."""
    return cfg.tracking.uri or os.environ.get("MLFLOW_TRACKING_URI") or default_uri(cfg.run_dir)


def artifact_location(uri: str, cfg: RunConfig) -> str | None:
    """Artifacts next to a local store (the run directory); a server decides its own."""
    if uri.startswith(("sqlite:", "file:")) or "://" not in uri:
        return (Path(cfg.run_dir).resolve() / "mlartifacts").as_uri()
    return None


def params(cfg: RunConfig, provenance: dict) -> dict:
    sk, t = cfg.sketch, cfg.train
    out = {
        "problem": cfg.problem,
        "D": cfg.D,
        "k": sk.k,
        "s": sk.s,
        "oversample": sk.oversample if sk.oversample is not None else "default",
        "noise": sk.noise,
        "sketch_seed": sk.seed,
        "operator": sk.kind,
        "dtype": sk.dtype,
        "vectors_per_pass": sk.vectors_per_pass,
        "vectors_per_block": sk.vectors_per_block,
        "hvp_batch_size": sk.batch_size or "all",
        "n_hessian": cfg.n_hessian or "default",
        "data": cfg.data or "default",
        "lr": t.lr,
        "train_batch_size": t.batch_size,
        "train_seed": t.seed,
        "train_steps": t.steps,
        "record_steps": ",".join(map(str, t.record_steps)),
        "random_draws": cfg.analysis.random_draws,
        "mask_seed": cfg.analysis.seed,
        "exact_steps": ",".join(map(str, cfg.exact_steps())) or "none",
        "dask_scheduler": redact(cfg.dask.address) or "LocalCluster",
        "dask_workers": cfg.dask.n_workers,
        "git_commit": provenance["git_commit"],
    }
    out |= {f"version.{k}": v for k, v in provenance["versions"].items()}
    return out


def _curve(key: str, values) -> list:
    return [(key, v, k) for k, v in enumerate(values, start=1)]


def step_metrics(rec: dict) -> list:
    """Metrics of one step's nested run: curves logged with step = k (or index i)."""
    m = _curve("eigenvalue", rec["eigenvalues"])
    for name, curve in rec["overlap"].items():
        m += _curve(f"overlap/{name}", curve)
    m += _curve("overlap/chance", rec["chance"])
    m += [
        ("overlap_ratio/magnitude", a / c, k)
        for k, (a, c) in enumerate(
            zip(rec["overlap"]["magnitude"], rec["chance"], strict=True), start=1
        )
    ]
    for mask, per_k in rec["grassmannian"].items():
        for k, vals in per_k.items():
            m += [(f"grassmannian/{mask}/{key}", v, int(k)) for key, v in vals.items()]
    if "exact" in rec:
        ex = rec["exact"]
        m += _curve("exact/eigenvalue", ex["eigenvalues"])
        for name, curve in ex["overlap"].items():
            m += _curve(f"exact/overlap/{name}", curve)
        cmp = ex.get("sketch_vs_exact") or {}
        if cmp:
            m += _curve("sketch_vs_exact/subspace_overlap", cmp["subspace_overlap"])
            m += [
                ("sketch_vs_exact/eigenvalue_error_median",
                 cmp["eigenvalue_relative_error_median"], 0),
            ]  # fmt: skip
    c = rec.get("certificate")
    if c:
        m += [("certificate/residual", r, i + 1) for i, r in zip(c["checked"], c["residuals"],
                                                                  strict=True)]  # fmt: skip
    m += scalars(rec, 0)
    return m


def scalars(rec: dict, step: int) -> list:
    """Per-step scalars (logged in the step's run at 0 and in the parent at the train step)."""
    k = len(rec["eigenvalues"])
    ap = rec.get("aposteriori") or {}
    out = [
        ("train_loss", rec["train"]["loss"], step),
        ("train_accuracy", rec["train"]["accuracy"], step),
        ("negative_fraction", rec["negative_fraction"], step),
        ("abs_lambda_max", abs(rec["eigenvalues"][0]), step),
        ("aposteriori_relative_error", ap.get("relative"), step),
        ("aposteriori_error", ap.get("error"), step),
        ("overlap_at_k/chance", rec["chance"][k - 1], step),
        ("hvps_per_second", rec["sketch"].get("hvps_per_second"), step),
        ("hvps_this_run", rec["sketch"].get("hvps"), step),
    ]
    for name in ("magnitude", "random_mean", "best"):
        out.append((f"overlap_at_k/{name}", rec["overlap"][name][k - 1], step))
    out.append(
        (
            "overlap_ratio_at_k/magnitude",
            rec["overlap"]["magnitude"][k - 1] / rec["chance"][k - 1],
            step,
        )
    )
    if "exact" in rec:
        out.append(
            ("overlap_at_k/exact_magnitude", rec["exact"]["overlap"]["magnitude"][k - 1], step)
        )
        cmp = rec["exact"].get("sketch_vs_exact") or {}
        if cmp:
            out.append(("sketch_vs_exact_subspace_overlap", cmp["subspace_overlap"][-1], step))
    c = rec.get("certificate")
    if c:
        out += [
            ("certified_rank", c["certified_rank"], step),
            ("certified_fraction", c["certified_rank"] / max(1, c["k"]), step),
            ("certificate_max_residual", c["max_residual"], step),
            ("certificate_median_residual", c["median_residual"], step),
        ]
    for phase, sec in rec["timings"].items():
        out.append((f"seconds/{phase}", sec, step))
    return out


def pipeline_metrics(summary: dict) -> list:
    m = []
    for rec in summary["steps"]:
        m += scalars(rec, rec["step"])
    m += [(f"total_seconds/{phase}", sec, 0) for phase, sec in summary["timings"].items()]
    return m
