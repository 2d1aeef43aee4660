"""This project against the eigensolvers a user would pick instead, on the same problem, in one run.

    bench/setup_peers.sh                              # once: the peers, into .venv (--no-deps)
    .venv/bin/python bench/peers.py --quick           # ~10 min: mnist_mini k = 20/100/355,
                                                      #   mlp_1m k = 20
    .venv/bin/python bench/peers.py                   # ~35 min: mlp_1m also at k = 100
    .venv/bin/python bench/peers.py --full            # + mlp_1m k = 500 (hours: not run yet)
    .venv/bin/python bench/write_benchmarks.py        # BENCHMARKS.md from bench/results/

The first run also computes the references (cached in bench/results): the dense mnist_mini
eigendecomposition (~35 s) and ARPACK at 1M (k_ref = 120: ~10 min; --full: k_ref = 520).

Cases: mnist_mini after 300 SGD steps (reference: the dense float64 eigendecomposition);
mlp_1m after 100 steps (reference: ARPACK on the float64 operator, tol 1e-8, k_ref = max k + 20).
(wide_mlp, D > 10M, is not a case yet.) Every method works on the
float32 model over the same 500 Hessian samples (one data batch).

Methods: ours (``seigh``, s = 2k HVPs, sparse test matrices; and ``block_krylov_eigh``, the
accurate mode, tol 1e-3), scipy ``eigsh`` (ARPACK) on our operator, curvlinops'
``HessianLinearOperator`` + ``eigsh``, skerch's ``seigh`` (oversampled recovery, 2k
measurements) on our operator, hessian-eigenthings' Lanczos (its default 2k steps, full
reorthogonalisation) and deflated power iteration (ARPACK runs with its BLAS held to one thread,
which made it ~3x faster here: stack.md), and PyHessian's power iteration (k = 20 only:
it takes k x up to 100 strictly sequential HVPs). For each: wall time (median of 3 when under
10 s), HVPs, data passes, peak RSS above the start, eigenvalue relative error (median over the
top k, each matched to the nearest reference eigenvalue), subspace overlap with the reference
top-k, and the largest error of the magnitude-mask overlap curve (k' = 1..k). The floor: our
per-vector HVP time at the best block size times the HVPs used. Results: bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PeakMemory

import hessian
from hessian import masks, metrics, problems, training
from hessian.eigen import order_by_magnitude

R = Path("bench/results")
TIMEOUT_NOTE = "skipped: {why}"


# --------------------------------------------------------------------------- the cases
def setup(name: str, steps: int):
    """The problem after ``steps`` SGD steps (parameters cached in bench/results)."""
    from hessian.spec import load_flat_params

    p = problems.load(name)
    f = R / f"params_{name}_{steps}.npy"
    if f.exists():
        load_flat_params(p.model, np.load(f))
    elif steps:
        training.sgd(p.model, p.train_data, steps=steps, lr=p.settings.lr,
                     batch_size=p.settings.batch_size, seed=p.settings.seed)  # fmt: skip
        R.mkdir(parents=True, exist_ok=True)
        np.save(f, p.flat_params().numpy())
    p.model.eval()
    return p


def reference(p, name: str, steps: int, k_ref: int):
    """Float64 reference eigenpairs (cached in bench/results)."""
    f = R / f"ref_{name}_{steps}_{k_ref}.npz"
    if f.exists():
        z = np.load(f)
        return z["w"], z["V"].astype(np.float64), str(z["how"])
    op = hessian.HessianOperator(p.model.double(), _double(p.hessian_data), block_size=64)
    p.model.float()
    t = time.perf_counter()
    if p.D <= 20_000:
        r = hessian.exact_eigh(op, k=k_ref)
        w, V, how = r.eigenvalues, r.eigenvectors, "dense float64 eigh"
    else:
        from scipy.sparse.linalg import eigsh

        w, V = eigsh(op.to_scipy(), k=k_ref, which="LM", tol=1e-8)
        w, V = order_by_magnitude(w, V)
        how = f"ARPACK float64, tol 1e-8, {op.stats.n_hvp} HVPs"
    how += f", {time.perf_counter() - t:.0f} s"
    R.mkdir(parents=True, exist_ok=True)
    np.savez(f, w=w, V=V.astype(np.float32), how=how)
    return w, V, how


def _double(data):
    X, y = data
    return X.double(), y


# --------------------------------------------------------------------------- the methods
def ours_sketch(p, k):
    op = hessian.HessianOperator(p.model, p.hessian_data, block_size=32)
    r = hessian.seigh(op, k=k, s=min(2 * k, p.D), noise="sparse", seed=0)
    return r.eigenvalues, r.eigenvectors, op.stats.n_hvp, op.stats.n_passes


def ours_accurate(p, k):
    op = hessian.HessianOperator(p.model, p.hessian_data, block_size=32)
    r = hessian.block_krylov_eigh(op, k=k, tol=1e-3, seed=0)
    return r.eigenvalues, r.eigenvectors, op.stats.n_hvp, op.stats.n_passes


def scipy_eigsh(p, k):
    from scipy.sparse.linalg import eigsh

    op = hessian.HessianOperator(p.model, p.hessian_data, block_size=1)
    with threadpool_limits(1, user_api="blas"):  # ARPACK's BLAS threads fight torch's (stack.md)
        w, V = eigsh(op.to_scipy(), k=k, which="LM", tol=1e-4)
    return w, V, op.stats.n_hvp, op.stats.n_passes


def curvlinops_eigsh(p, k):
    from curvlinops import HessianLinearOperator
    from scipy.sparse.linalg import LinearOperator, eigsh

    params = [q for q in p.model.parameters() if q.requires_grad]
    loss = torch.nn.CrossEntropyLoss()  # curvlinops needs a loss module (its reduction)
    H = HessianLinearOperator(p.model, loss, params, [p.hessian_data]).to_scipy()
    n = [0]

    def mv(v):
        n[0] += 1 if v.ndim == 1 else v.shape[1]
        return H @ v

    L = LinearOperator(H.shape, matvec=mv, matmat=mv, dtype=H.dtype)
    with threadpool_limits(1, user_api="blas"):
        w, V = eigsh(L, k=k, which="LM", tol=1e-4)
    return w, V, n[0], n[0]


def skerch_seigh(p, k):
    import skerch.algorithms as A

    op = hessian.HessianOperator(p.model, p.hessian_data, block_size=32)

    class Lop:  # skerch needs .shape and @ on torch tensors
        shape = op.shape

        def __matmul__(self, x):
            return op @ x

        def __rmatmul__(self, x):
            return (op @ x.T).T

    w, Q = A.seigh(Lop(), "cpu", torch.float32, k, seed=0, noise_type="rademacher",
                   recovery_type=f"oversampled_{min(2 * k, p.D)}")  # fmt: skip
    return w.numpy(), Q.numpy(), op.stats.n_hvp, op.stats.n_passes


def _he_operator(p):
    import hessian_eigenthings as he

    def loss_fn(model, batch):
        x, y = batch
        return p.loss(model(x), y)

    op = he.HessianOperator(p.model, [p.hessian_data], loss_fn)
    n = [0]
    mv = op.matvec

    def counted(v):
        n[0] += 1
        return mv(v)

    op.matvec = counted
    return op, n


def he_lanczos(p, k):
    import hessian_eigenthings as he

    op, n = _he_operator(p)
    r = he.lanczos(op, k=k, reorthogonalize=True, seed=0)
    return (*_he_result(r), n[0], n[0])


def he_power(p, k):
    import hessian_eigenthings as he

    op, n = _he_operator(p)
    r = he.deflated_power_iteration(op, k=k, max_iter=100, tol=1e-4, seed=0)
    return (*_he_result(r), n[0], n[0])


def _he_result(r):
    """hessian-eigenthings returns eigenvectors as rows (k, n)."""
    w = r.eigenvalues.detach().cpu().numpy().astype(np.float64)
    return w, r.eigenvectors.detach().cpu().numpy().T


def pyhessian_power(p, k):
    import pyhessian  # noqa: F401

    ph = sys.modules["pyhessian.hessian"]  # the package re-exports the class under this name

    n = [0]
    hvp = ph.hessian_vector_product

    def counted(*a, **kw):
        n[0] += 1
        return hvp(*a, **kw)

    ph.hessian_vector_product = counted
    try:
        crit = torch.nn.CrossEntropyLoss()
        h = ph.hessian(p.model, crit, data=p.hessian_data, cuda=False)
        w, vecs = h.eigenvalues(maxIter=100, tol=1e-3, top_n=k)
    finally:
        ph.hessian_vector_product = hvp
    V = np.stack([torch.cat([t.reshape(-1) for t in v]).numpy() for v in vecs], axis=1)
    return np.asarray(w), V, n[0], n[0]


METHODS = {
    "ours: sketch (s = 2k)": (ours_sketch, None),
    "ours: accurate (block Krylov)": (ours_accurate, None),
    "scipy eigsh (ARPACK)": (scipy_eigsh, None),
    "curvlinops + eigsh": (curvlinops_eigsh, None),
    "skerch seigh": (skerch_seigh, None),
    "hessian-eigenthings Lanczos": (he_lanczos, None),
    "hessian-eigenthings power": (he_power, 20),
    "PyHessian power": (pyhessian_power, 20),
}


# --------------------------------------------------------------------------- measuring
def per_vector_floor(p) -> float:
    """Best median per-vector HVP time over block sizes, on our operator (float32)."""
    op = hessian.HessianOperator(p.model, p.hessian_data, block_size=1)
    best = np.inf
    for b in (1, 8, 32):
        op.block_size = b
        V = torch.randn(b, op.D, generator=torch.Generator().manual_seed(b))
        op.matmat_rows(V)
        ts = []
        for _ in range(3):
            t = time.perf_counter()
            op.matmat_rows(V)
            ts.append((time.perf_counter() - t) / b)
        best = min(best, float(np.median(ts)))
    return best


def run_one(fn, p, k, ref, theta):
    w_ref, V_ref, _ = ref
    walls, out = [], None
    with PeakMemory() as mem:
        base = mem.baseline
        for rep in range(3):
            t = time.perf_counter()
            out = fn(p, k)
            walls.append(time.perf_counter() - t)
            if walls[0] > 10 or rep == 2:
                break
    w, V, n_hvp, n_pass = out
    w, V = order_by_magnitude(np.asarray(w, dtype=np.float64), np.asarray(V, dtype=np.float64))
    w, V = w[:k], V[:, :k]
    V, _ = np.linalg.qr(V)  # some peers return nearly (not exactly) orthonormal vectors
    row = {
        "wall_seconds": float(np.median(walls)),
        "repeats": len(walls),
        "hvps": int(n_hvp),
        "passes": int(n_pass),
        "peak_mb": (mem.peak - base) / 2**20,
    }
    if w_ref is not None:
        errs = hessian.eigenvalue_errors(w, w_ref[:k])["matched"]
        mag = masks.magnitude(theta, k)
        row |= {
            "eig_rel_err_median": float(np.median(errs)),
            "eig_rel_err_max": float(np.max(errs)),
            "subspace_overlap": float(metrics.subspace_overlap(V, V_ref[:, :k])),
            "overlap_curve_err": float(
                np.max(np.abs(metrics.overlap(mag, V) - metrics.overlap(mag, V_ref[:, :k])))
            ),
        }
    return row


def isolated(name: str, steps: int, k_ref: int, k: int, label: str, timeout: float) -> dict:
    """Run one method in a child process: an out-of-memory kill or a hang is recorded, not fatal."""
    import subprocess

    job = json.dumps({"name": name, "steps": steps, "k_ref": k_ref, "k": k, "label": label})
    try:
        r = subprocess.run([sys.executable, __file__, "--child", job], capture_output=True,
                           text=True, timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"skipped": f"time: not done after {timeout / 60:.0f} min"}
    if r.returncode == -9:
        return {"skipped": "memory: killed by the kernel's OOM killer (24 GB machine)"}
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = (r.stderr.strip().splitlines() or ["?"])[-1]
        return {"skipped": f"failed (exit {r.returncode}): {tail[:200]}"}
    return json.loads(lines[-1])


def child(job: str) -> None:
    j = json.loads(job)
    torch.set_num_threads(2)
    p = setup(j["name"], j["steps"])
    ref = reference(p, j["name"], j["steps"], j["k_ref"])
    fn = METHODS[j["label"]][0]
    try:
        row = run_one(fn, p, j["k"], ref, p.flat_params().numpy())
    except Exception as e:  # a peer that cannot run this case: say why
        traceback.print_exc(limit=3)
        row = {"skipped": f"{type(e).__name__}: {str(e)[:200]}"}
    print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="mnist_mini, and mlp_1m at k = 20")
    ap.add_argument("--full", action="store_true", help="mlp_1m up to k = 500")
    ap.add_argument("--methods", nargs="*", help="substrings of method names to run")
    ap.add_argument("--smoke", action="store_true", help="mnist_tiny, k = 10: checks the code")
    ap.add_argument("--cases", nargs="*", help="problems to run (default: all of the mode)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per method and k")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    torch.set_num_threads(2)
    big = [20, 100, 500] if args.full else [20, 100]
    cases = [("mnist_mini", 300, [20, 100, 355]), ("mlp_1m", 100, big)]
    if args.smoke:
        cases = [("mnist_tiny", 50, [10])]
    if args.cases:
        cases = [c for c in cases if c[0] in args.cases]
    out = R / ("peers_smoke.json" if args.smoke else "peers.json")
    results = {"meta": meta(args), "cases": []}
    if out.exists() and args.cases:  # keep the other cases of an earlier run
        results["cases"] = [c for c in json.loads(out.read_text())["cases"]
                            if c["problem"] not in args.cases]  # fmt: skip
    for name, steps, ks in cases:
        p = setup(name, steps)
        k_ref = max(ks) if p.D <= 20_000 else max(big) + 20
        if args.quick and p.D > 20_000:
            ks = [20]
        ref = reference(p, name, steps, k_ref)
        floor = per_vector_floor(p)
        case = {"problem": name, "D": p.D, "steps": steps, "reference": ref[2],
                "floor_seconds_per_hvp": floor, "rows": []}  # fmt: skip
        print(f"== {name} (D = {p.D:,}); reference: {ref[2]}; floor {1e3 * floor:.2f} ms/HVP")
        for k in ks:
            for label, (_, kmax) in METHODS.items():
                if args.methods and not any(m in label for m in args.methods):
                    continue
                row = {"k": k, "method": label}
                if kmax is not None and k > kmax:
                    row["skipped"] = f"k > {kmax}: k x up to 100 sequential HVPs"
                else:
                    row |= isolated(name, steps, k_ref, k, label, args.timeout)
                    if "wall_seconds" in row:
                        row["floor_ratio"] = row["wall_seconds"] / (row["hvps"] * floor)
                case["rows"].append(row)
                print(json.dumps(row), flush=True)
                R.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(results | {"cases": [*results["cases"], case]}, indent=1))
        results["cases"].append(case)


def meta(args) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    v = {}
    for pkg in ("torch", "scipy", "curvlinops-for-pytorch", "skerch", "hessian-eigenthings",
                "pyhessian"):  # fmt: skip
        try:
            v[pkg] = version(pkg)
        except PackageNotFoundError:
            v[pkg] = "not installed"
    return {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} cores, torch threads 2",
        "command": "bench/peers.py"
        + (" --quick" if args.quick else "")
        + (" --full" if args.full else ""),
        "versions": v,
    }


if __name__ == "__main__":
    main()
