"""Where an out-of-core accurate solve's time goes, step by step: products against basis I/O and
algebra, on the peers' problem (its parameters cached in bench/results by ``bench/peers.py``).

    .venv/bin/python bench/accurate_steps.py                       # wide_mlp, k = 100, 120 products
    .venv/bin/python bench/accurate_steps.py --problem mlp_1m --max-products 400
    .venv/bin/python bench/accurate_steps.py --problem mlp_1m --k 500 --block 24 \
        --max-products 8000 --verify 64 --cache-gb 0             # the whole k = 500 solve
    ... --n-max 936 --keep 600                                   # another restart schedule

Times, in the solving process: the product jobs (``Jobs.run``: reading the block, the HVPs,
writing the products; ``hvp_seconds``: the HVPs alone, timed in the worker), the two streamed
passes of the steps (wall time), within them the reads (the basis' chunk files and the
products) and the basis writes (summed over the pass threads, so they may exceed the passes'
wall time), and the restarts (their reads and writes apart). Give enough products for
restarts (k = 100, block 8: the first after 224) to see a solve's steady state.
Peak memory: the summed RSS of this process and its descendants (the Dask workers), sampled
every 0.5 s. Results: bench/results/accurate_steps.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from _common import PeakMemory

from hessian.operators import OperatorSpec
from hessian.out_of_core import AccurateRequest, accurate, basis_jobs, stored_basis

R = Path("bench/results")
CASES = {"wide_mlp": (130, 4), "mlp_1m": (500, 32)}  # Hessian samples, products per pass (peers)


PHASE: list[str] = []  # the step or restart being timed


def timed(cls, name: str, seconds: collections.Counter, phase: bool = False) -> None:
    """Time ``cls.name``: a phase (step, restart) by itself, anything else by the phase it
    runs in ("step.write": the basis writes of the steps)."""
    f = getattr(cls, name)

    def wrapper(*a, **kw):
        key = name if phase else f"{PHASE[-1] if PHASE else 'start'}.{name}"
        if phase:
            PHASE.append(name)
        t = time.perf_counter()
        try:
            return f(*a, **kw)
        finally:
            seconds[key] += time.perf_counter() - t
            if phase:
                PHASE.pop()

    setattr(cls, name, wrapper)


def reference_file(problem: str) -> Path:
    """The peers' cached reference of ``problem`` with the most pairs (``ref_..._K.npz``)."""
    files = sorted(R.glob(f"ref_{problem}_100_*.npz"), key=lambda f: int(f.stem.rsplit("_")[-1]))
    return files[-1] if files else R / f"ref_{problem}_100_none.npz"


def against_reference(res, ref_file: Path) -> dict:
    """The top-k_ref subspace overlap and median relative eigenvalue error against the peers'
    float64 ARPACK reference (``bench/peers.py`` caches it), when there is one."""
    if not ref_file.exists():
        return {}
    from hessian.study.metrics import subspace_overlap

    ref = np.load(ref_file)
    kr = min(len(ref["w"]), len(res.eigenvalues))
    M = res.store.transform()[:, :kr]
    V = np.empty((res.store.settings.D, kr))
    for a, c in res.store.row_chunks():
        V[a:c] = res.store.read_outer(a, c) @ M
    err = np.abs(res.eigenvalues[:kr] - ref["w"][:kr]) / np.abs(ref["w"][:kr])
    return {"k_ref": kr, "subspace_vs_reference": float(subspace_overlap(V, ref["V"][:, :kr])),
            "median_eigenvalue_error": float(np.median(err))}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="wide_mlp", choices=sorted(CASES))
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--block", type=int, default=8)
    ap.add_argument("--max-products", type=int, default=120)
    ap.add_argument("--verify", type=int, default=0, help="pairs re-checked by fresh products")
    ap.add_argument("--cache-gb", type=float, help="RAM mirror of the basis (0: none)")
    ap.add_argument(
        "--n-max", type=int, help="basis columns before a restart (default: the solver's)"
    )
    ap.add_argument(
        "--keep", type=int, help="Ritz vectors kept at a restart (default: the solver's)"
    )
    a = ap.parse_args()
    params_file = R / f"params_{a.problem}_100.npy"
    if not params_file.exists():
        sys.exit(f"{params_file} is missing: run bench/peers.py --cases {a.problem} first")
    seconds: collections.Counter = collections.Counter()
    for name in ("step", "restart"):
        timed(stored_basis.StoredBasis, name, seconds, phase=True)
    for name in ("passes", "blocks", "rows", "products", "write"):
        timed(stored_basis.StoredBasis, name, seconds)
    timed(basis_jobs.Jobs, "run", seconds)
    n_hessian, per_pass = CASES[a.problem]
    spec = OperatorSpec(a.problem, n_hessian=n_hessian, batch_size=None, vectors_per_pass=per_pass)
    url = R / "accurate_steps" / "a.zarr"
    shutil.rmtree(url.parent, ignore_errors=True)
    t = time.perf_counter()

    def progress(products, residual, certified):
        print(f"{time.perf_counter() - t:7.0f} s  {products:5d} products  max residual "
              f"{residual:.2e}  certified {certified}/{a.k}", flush=True)  # fmt: skip

    cache = None if a.cache_gb is None else int(a.cache_gb * 2**30)
    request = AccurateRequest(spec, k=a.k, block=a.block, max_products=a.max_products,
                              verify=a.verify, cache=cache, n_max=a.n_max, keep=a.keep)  # fmt: skip
    try:
        with PeakMemory(every=0.5) as memory:
            res = accurate(str(url), request, np.load(params_file), progress=progress)
        wall = time.perf_counter() - t
        try:
            against = against_reference(res, reference_file(a.problem))
        except Exception as e:  # the timings still count
            against = {"reference_error": repr(e)}
    finally:
        shutil.rmtree(url.parent, ignore_errors=True)
    info = res.info
    steps = max(1, info["steps"])
    reads = seconds["step.blocks"] + seconds["step.products"]
    writes = seconds["step.write"]
    out = {
        "problem": a.problem, "k": a.k, "block": a.block, "n_max": info["n_max"],
        "keep": info["keep"], "products": info["products"],
        "steps": info["steps"], "wall": wall, "hvp_seconds": info["hvp_seconds"],
        "product_jobs": seconds["step.run"], "basis_reads": reads, "basis_writes": writes,
        "passes": seconds["step.passes"], "pass_threads": info.get("pass_threads", 1),
        "per_step": seconds["step"] / steps, "hvp_per_step": info["hvp_seconds"] / steps,
        "restarts": info["restarts"], "restart_seconds": seconds["restart"],
        "restart_reads": seconds["restart.rows"],
        "restart_writes": seconds["restart.write"],
        "cached": info["cached"], "cache_gb": a.cache_gb, "peak_rss_gb": memory.peak / 1e9,
        "peak_rss_above_start_gb": (memory.peak - memory.baseline) / 1e9,
        "certified_rank": res.certificate.certified_rank,
        "max_residual": res.certificate.max_residual, **against,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }  # fmt: skip
    R.mkdir(exist_ok=True)
    (R / "accurate_steps.json").write_text(json.dumps(out, indent=1))
    for key, value in out.items():
        print(f"{key:>15}: {value:.2f}" if isinstance(value, float) else f"{key:>15}: {value}")


if __name__ == "__main__":
    main()
