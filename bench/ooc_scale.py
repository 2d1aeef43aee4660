"""Out-of-core sketch at scale: wall time per phase, peak memory of all processes, HVP floor.

    .venv/bin/python bench/ooc_scale.py --problem wide_mlp --k 1000 --s 2000      # ~30 min
    .venv/bin/python bench/ooc_scale.py --problem mlp_1m --k 500 --s 1000         # ~3 min
    .venv/bin/python bench/ooc_scale.py --problem mlp_1m --k 100 --s 200 --accurate \
        --data digits                              # then the accurate solver from the sketch

Phases: calibration (per-vector HVP time at several block sizes, on the run's operator, in this
process; the best is the floor's unit and picks the block size), measurement (Dask LocalCluster,
one worker process using all cores), solve (one streamed pass), analysis (overlap of the
magnitude mask, 100 random masks and the best mask for every k, one streamed pass). The floor is
s x the best per-vector time. Peak memory is the largest sum of RSS over this process and all
its children, sampled every 0.2 s. With ``--accurate`` the out-of-core accurate solver then runs
from the sketch (its warm start) with its basis in a second store, until the top-k are certified
or ``--max-products`` are spent: its products, wall time, certificate and floor (products x the
per-vector time) are recorded too. Results go to bench/results/ooc_<problem>[_<data>].json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PeakMemory

from hessian import masks, out_of_core
from hessian.operators import OperatorSpec, fingerprint
from hessian.out_of_core import SketchSettings, SketchStore, run_measurements


def calibrate(op, blocks, repeats=3):
    """Median seconds per vector for each vectors_per_pass (one warm-up pass each)."""
    out = {}
    for b in blocks:
        op.vectors_per_pass = b
        V = torch.randn(b, op.D, generator=torch.Generator().manual_seed(b), dtype=op.dtype)
        op.matmat_rows(V)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            op.matmat_rows(V)
            times.append((time.perf_counter() - t) / b)
        out[b] = float(np.median(times))
        print(f"  b={b:>3}: {out[b] * 1e3:8.1f} ms per vector", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="wide_mlp")
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--s", type=int, default=2000)
    ap.add_argument("--oversample", type=int, default=0)
    ap.add_argument("--blocks", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--n-hessian", type=int, default=500)
    ap.add_argument("--store", default="bench/results/store.zarr")
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--data", default=None, help='"digits" for real images (default synthetic)')
    ap.add_argument("--accurate", action="store_true", help="then the accurate solver")
    ap.add_argument("--max-products", type=int, default=None)
    ap.add_argument("--n-max", type=int, default=None)
    ap.add_argument("--cache", type=float, default=None, help="GB of RAM for the basis mirror")
    a = ap.parse_args()
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    shutil.rmtree(a.store, ignore_errors=True)
    shutil.rmtree(a.store + ".locks", ignore_errors=True)
    rec: dict = {"args": vars(a), "date": time.strftime("%Y-%m-%d %H:%M"),
                 "cores": os.cpu_count(), "torch": torch.__version__}  # fmt: skip

    with PeakMemory() as mem:
        print(f"calibrating the HVP on {a.problem} ...", flush=True)
        spec0 = OperatorSpec(
            a.problem, data=a.data, n_hessian=a.n_hessian, batch_size=a.batch, vectors_per_pass=1
        )
        op = spec0.build()
        per_vec = calibrate(op, a.blocks)
        best_b = min(per_vec, key=per_vec.get)
        spec = OperatorSpec(a.problem, data=a.data, n_hessian=a.n_hessian, batch_size=a.batch,
                            vectors_per_pass=best_b)  # fmt: skip
        settings = SketchSettings(D=op.D, k=a.k, s=a.s, oversample=a.oversample,
                                  vectors_per_block=best_b, noise="sparse")  # fmt: skip
        theta = op.theta.numpy().astype(np.float64)
        SketchStore.open_or_create(a.store, settings, fingerprint(op), spec.to_json(), theta)
        del op
        gc.collect()
        rec.update(D=settings.D, per_vector_seconds=per_vec, block=best_b,
                   outer_gb=settings.D * settings.r * 4 / 1e9)  # fmt: skip
        print(f"D = {settings.D:,}, block {best_b}, outer sketch {rec['outer_gb']:.1f} GB")

        t = time.perf_counter()
        rep = run_measurements(a.store, n_workers=1, progress=True)
        rec["measure_seconds"] = time.perf_counter() - t
        rec["measure_hvp_seconds"] = rep.hvp_seconds
        rec["peak_gb_measure"] = mem.peak / 1e9

        t = time.perf_counter()
        res = out_of_core.solve(a.store)
        rec["solve_seconds"] = time.perf_counter() - t
        rec["solve_info"] = res.info
        rec["peak_gb_solve"] = mem.peak / 1e9
        print(f"solve: {rec['solve_seconds']:.0f} s, {res.info}", flush=True)

        t = time.perf_counter()
        S = {"magnitude": masks.magnitude(theta, a.k),
             "random": masks.random(settings.D, a.k, draws=a.draws, seed=1)}  # fmt: skip
        ov = out_of_core.overlaps(a.store, S)
        rec["analysis_seconds"] = time.perf_counter() - t
        t = time.perf_counter()
        cert = out_of_core.certify_store(a.store, spec.build(theta), tol=1e-2, subspace_tol=1e-2)
        rec["sketch_certificate"] = cert.summary() | {"seconds": time.perf_counter() - t}
        print(f"sketch certified {cert.certified_rank}/{a.k}, median residual "
              f"{cert.median_residual:.2g}", flush=True)  # fmt: skip
        if a.accurate:
            rec["accurate"] = accurate_phase(a, spec, theta, per_vec[best_b], S, mem)
    rec["peak_gb"] = mem.peak / 1e9
    floor = a.s * per_vec[best_b]
    total = rec["measure_seconds"] + rec["solve_seconds"]
    rec.update(
        floor_seconds=floor,
        total_seconds=total,
        ratio_to_floor=total / floor,
        ratio_with_analysis=(total + rec["analysis_seconds"]) / floor,
        top_eigenvalues=res.eigenvalues[:5].tolist(),
        overlap_at={str(kk): {"magnitude": float(ov.curves["magnitude"][kk - 1]),
                              "random_mean": float(ov.curves["random"][:, kk - 1].mean()),
                              "best": float(ov.best[kk - 1]), "chance": kk / settings.D}
                    for kk in (10, 100, a.k)},
    )  # fmt: skip
    out = Path(f"bench/results/ooc_{a.problem}{'_' + a.data if a.data else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rec, indent=1))
    print(json.dumps({k: v for k, v in rec.items() if k != "args"}, indent=1))
    shutil.rmtree(a.store, ignore_errors=True)
    shutil.rmtree(a.store + ".locks", ignore_errors=True)


def accurate_phase(a, spec, theta, per_vector: float, S: dict, mem) -> dict:
    """The accurate solver from the solved sketch at ``a.store``; its record."""
    url = a.store.removesuffix(".zarr") + "_accurate.zarr"
    shutil.rmtree(url, ignore_errors=True)
    request = out_of_core.AccurateRequest(
        spec, k=a.k, max_products=a.max_products, n_max=a.n_max,
        cache=None if a.cache is None else int(a.cache * 1e9),
    )  # fmt: skip
    t = time.perf_counter()

    def progress(products, residual, certified):
        el = time.perf_counter() - t
        print(f"  accurate: {products} products, {el:.0f} s, max residual {residual:.2e}, "
              f"certified {certified}/{a.k}", flush=True)  # fmt: skip

    res = out_of_core.accurate(url, request, theta, warm_start=a.store, progress=progress)
    seconds = time.perf_counter() - t
    ov = out_of_core.overlaps(url, S)
    sk = out_of_core.cross_overlap(a.store, url)
    info = res.info
    out = {
        "seconds": seconds, "products": info["products"], "hvp_seconds": info["hvp_seconds"],
        "floor_seconds": info["products"] * per_vector,
        "ratio_to_floor": seconds / (info["products"] * per_vector),
        "restarts": info["restarts"], "n_max": info["n_max"], "cached": info["cached"],
        "converged": info["converged"], "certificate": res.certificate.summary(),
        "peak_gb": mem.peak / 1e9, "history": info["history"],
        "sketch_vs_accurate_overlap_at_k": float(np.asarray(sk)[-1]) if sk is not None else None,
        "overlap_at": {str(kk): {"magnitude": float(ov.curves["magnitude"][kk - 1]),
                                 "random_mean": float(ov.curves["random"][:, kk - 1].mean()),
                                 "best": float(ov.best[kk - 1]), "chance": kk / len(theta)}
                       for kk in (10, 100, a.k) if kk <= a.k},
    }  # fmt: skip
    shutil.rmtree(url, ignore_errors=True)
    return out


if __name__ == "__main__":
    main()
