"""This project against the eigensolvers a user would pick instead, on the same problem, in one run.

    bench/setup_peers.sh                              # once: the peers, into .venv (--no-deps)
    .venv/bin/python bench/peers.py --quick           # ~10 min: mnist_mini k = 20/100/355,
                                                      #   mlp_1m k = 20 (peers_quick.json)
    .venv/bin/python bench/peers.py                   # ~2.5 h: mlp_1m also at k = 100, and
                                                      #   wide_mlp (D > 10M) k = 20/100/1000
    .venv/bin/python bench/peers.py --full            # + mlp_1m k = 500 (hours)
    .venv/bin/python bench/write_benchmarks.py        # BENCHMARKS.md from peers.json (or
                                                      #   peers_quick.json: --quick)
    .venv/bin/python bench/peers.py --cases wide_mlp  # one case again (the others are kept);
                                                      # --methods NAME: some rows again

The first run also computes the references (cached in bench/results): the dense mnist_mini
eigendecomposition (~35 s), ARPACK at 1M (k_ref = 120: ~10 min) and at 10M (k_ref = 20).

Cases: mnist_mini after 300 SGD steps (reference: the dense float64 eigendecomposition);
mlp_1m after 100 steps (reference: ARPACK on the float64 operator, tol 1e-8, k_ref = 120);
wide_mlp (D = 10.5M) after 100 steps, over 130 Hessian samples so that a product costs ~0.15 s
and the case fits in about an hour (reference: ARPACK float64, k_ref = 20). Where k > k_ref the
accuracy columns compare the top k_ref. Every method works on the float32 model over the same
Hessian samples (one data batch). At wide_mlp a method is tried at each k until it stops (memory,
time); the larger k are then marked as not tried, with the reason.

Methods: ours (``seigh``, s = 2k HVPs, sparse test matrices; the same sketch out of core,
``hessian.out_of_core.sketch`` with a Dask LocalCluster and a Zarr store, at D >= 1M; and
``accurate_eigh``, the accurate mode, thick-restart block Lanczos certified to tol 1e-2, in
memory and out of core), scipy ``eigsh`` (ARPACK) on our operator,
curvlinops'
``HessianLinearOperator`` + ``eigsh``, skerch's ``seigh`` (oversampled recovery, 2k
measurements) on our operator, hessian-eigenthings' Lanczos (its default 2k steps, full
reorthogonalisation) and deflated power iteration (ARPACK runs with its BLAS held to one thread,
which made it ~3x faster here: docs/stack.md), and PyHessian's power iteration (k = 20 only:
it takes k x up to 100 strictly sequential HVPs). For each: wall time (median of 3 when under
10 s), HVPs, data passes, peak RSS above the start, eigenvalue relative error (median over the
top k, each matched to the nearest reference eigenvalue), subspace overlap with the reference
top-k, the largest error of the magnitude-mask overlap curve (k' = 1..k) absolute, relative to
the curve and relative to chance (k'/D), and for ours the certified rank. The floor: our
per-vector HVP time at the best block size times the HVPs used. Results: bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
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
from hessian.solvers import order_by_magnitude

R = Path("bench/results")
TIMEOUT_NOTE = "skipped: {why}"


# --------------------------------------------------------------------------- the cases
CASES = {  # name: (SGD steps, Hessian samples, k_ref, products per data pass in our methods)
    "mnist_mini": (300, 500, 355, 32),
    "mlp_1m": (100, 500, 120, 32),
    "wide_mlp": (100, 130, 20, 4),
    "mnist_tiny": (50, 500, 10, 32),
}
#: the same problems trained on real images: the bundled digits resampled to 3 x 32 x 32, so
#: that the Hessian has class outliers above its bulk (the synthetic cases are the flat one)
DIGITS = {"mlp_1m_digits": "mlp_1m", "wide_mlp_digits": "wide_mlp"}
CASES |= {case: CASES[problem] for case, problem in DIGITS.items()}


def setup(name: str, steps: int):
    """The problem after ``steps`` SGD steps (parameters cached in bench/results)."""
    from hessian.operators import load_flat_params

    problem = DIGITS.get(name, name)
    p = problems.load(problem, n_hessian=CASES[name][1], data="digits" if name in DIGITS else None)
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
    op = hessian.HessianOperator(p.model.double(), _double(p.hessian_data),
                                 vectors_per_pass=CASES[name][3])  # fmt: skip
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
def _block(p) -> int:
    return CASES[p.settings.name][3]


def ours_sketch(p, k):
    op = hessian.HessianOperator(p.model, p.hessian_data, vectors_per_pass=_block(p))
    r = hessian.seigh(op, k=k, s=min(2 * k, p.D), noise="sparse", seed=0)
    # the HVPs counted at the operator include the certificate's 64 (or k) fresh products
    return (r.eigenvalues, r.eigenvectors, op.stats.n_hvp, op.stats.n_passes,
            _certified(r.certificate))  # fmt: skip


def ours_out_of_core(p, k, keep=None):
    """The sketch with Y in a Zarr store, blocks on a Dask LocalCluster, the solve streamed.
    Only the top ``keep`` eigenvectors are read back (the store holds all k)."""
    import shutil
    import tempfile

    from hessian.operators import OperatorSpec
    from hessian.out_of_core import sketch

    name, (_, n_hessian, k_ref, b) = p.settings.name, CASES[p.settings.name]
    spec = OperatorSpec(name, data=_data(p), n_hessian=n_hessian, batch_size=None,
                        vectors_per_pass=b)  # fmt: skip
    url = tempfile.mkdtemp(prefix="peers-", dir=R) + "/sketch.zarr"
    try:
        res, rep = sketch(url, spec, p.flat_params().numpy(), k=k, s=min(2 * k, p.D),
                          progress=False)  # fmt: skip
        M = res.store.transform()[:, : min(k, keep or k_ref)]
        V = np.empty((p.D, M.shape[1]))
        for a, b in res.store.row_chunks():  # row chunks of V = Y M
            V[a:b] = res.store.read_outer(a, b) @ M
        return res.eigenvalues, V, rep.n_hvp, len(rep.measured)
    finally:
        shutil.rmtree(Path(url).parent, ignore_errors=True)


def ours_accurate(p, k):
    op = hessian.HessianOperator(p.model, p.hessian_data, vectors_per_pass=_block(p))
    r = hessian.accurate_eigh(op, k=k, seed=0)
    return (r.eigenvalues, r.eigenvectors, op.stats.n_hvp, op.stats.n_passes,
            _certified(r.certificate))  # fmt: skip


def ours_accurate_out_of_core(p, k, keep=None):
    """The accurate solver with its basis in a Zarr store (float32), products on a Dask
    LocalCluster, the passes streamed (with the default RAM mirror of the basis)."""
    import shutil
    import tempfile

    from hessian.operators import OperatorSpec
    from hessian.out_of_core import AccurateRequest, accurate

    name, (_, n_hessian, k_ref, b) = p.settings.name, CASES[p.settings.name]
    spec = OperatorSpec(name, data=_data(p), n_hessian=n_hessian, batch_size=None,
                        vectors_per_pass=b)  # fmt: skip
    url = tempfile.mkdtemp(prefix="peers-", dir=R) + "/accurate.zarr"
    try:
        res = accurate(url, AccurateRequest(spec, k=k, block=max(b, 8)), p.flat_params().numpy())
        M = res.store.transform()[:, : min(k, keep or k_ref)]
        V = np.empty((p.D, M.shape[1]))
        for a, c in res.store.row_chunks():
            V[a:c] = res.store.read_outer(a, c) @ M
        return (
            res.eigenvalues,
            V,
            res.info["products"],
            res.info["steps"],
            _certified(res.certificate),
        )
    finally:
        shutil.rmtree(Path(url).parent, ignore_errors=True)


def _data(p) -> str | None:
    return "digits" if p.data_source == "digits" else None


def _certified(c) -> dict:
    return {"certified_rank": c.certified_rank, "certificate_max_residual": c.max_residual}


def scipy_eigsh(p, k):
    from scipy.sparse.linalg import eigsh

    op = hessian.HessianOperator(p.model, p.hessian_data, vectors_per_pass=1)
    # ARPACK's BLAS threads fight torch's (docs/stack.md)
    with threadpool_limits(1, user_api="blas"):
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

    op = hessian.HessianOperator(p.model, p.hessian_data, vectors_per_pass=_block(p))

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


METHODS = {  # label: (function, largest k it is run at)
    "ours: sketch (s = 2k)": (ours_sketch, None),
    "ours: out of core (s = 2k)": (ours_out_of_core, None),
    "ours: accurate (block Lanczos)": (ours_accurate, None),
    "ours: accurate, out of core": (ours_accurate_out_of_core, None),
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
    op = hessian.HessianOperator(p.model, p.hessian_data, vectors_per_pass=1)
    best = np.inf
    for b in (1, 8, 32) if p.D < 5_000_000 else (1, 4, 8):
        op.vectors_per_pass = b
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
            out = None  # a repeat must not hold the last result's memory
            t = time.perf_counter()
            out = fn(p, k)
            walls.append(time.perf_counter() - t)
            if walls[0] > 10 or rep == 2:
                break
    w, V, n_hvp, n_pass = out[:4]
    extra = out[4] if len(out) > 4 else {}
    w = np.asarray(w, dtype=np.float64)
    order = np.argsort(-np.abs(w), kind="stable")
    w = w[order][:k]
    row = {
        "wall_seconds": float(np.median(walls)),
        "repeats": len(walls),
        "hvps": int(n_hvp),
        "passes": int(n_pass),
        "peak_mb": (mem.peak - base) / 2**20,
    } | extra
    if w_ref is not None:
        kk = min(k, len(w_ref))  # the accuracy is measured over the reference's top kk
        cols = order[:kk]
        if cols.max() >= V.shape[1]:
            raise ValueError(f"the method returned {V.shape[1]} vectors, fewer than its top {kk}")
        V = np.asarray(V[:, cols], dtype=np.float64)
        del out
        V, _ = np.linalg.qr(V)  # some peers return nearly (not exactly) orthonormal vectors
        errs = hessian.eigenvalue_errors(w[:kk], w_ref[:kk])["matched"]
        mag = masks.magnitude(theta, kk)
        c_ref = metrics.overlap(mag, V_ref[:, :kk])
        dev = np.abs(metrics.overlap(mag, V) - c_ref)
        chance = np.arange(1, kk + 1) / len(theta)
        row |= {
            # the curve error relative to the curve and to chance, next to the absolute one
            "overlap_curve_err_rel": float(np.max(dev / c_ref)),
            "overlap_curve_err_vs_chance": float(np.max(dev / chance)),
            "accuracy_over": kk,
            "eig_rel_err_median": float(np.median(errs)),
            "eig_rel_err_max": float(np.max(errs)),
            "subspace_overlap": float(metrics.subspace_overlap(V, V_ref[:, :kk])),
            "overlap_curve_err": float(np.max(dev)),
        }
    return row


def isolated(name: str, steps: int, k_ref: int, k: int, label: str, timeout: float) -> dict:
    """Run one method in a child process: an out-of-memory kill or a hang is recorded, not fatal.
    The child gets its own process group, so a timeout also ends the Dask workers it started;
    a sketch store it leaves behind is removed."""
    import shutil
    import signal
    import subprocess

    job = json.dumps({"name": name, "steps": steps, "k_ref": k_ref, "k": k, "label": label})
    proc = subprocess.Popen([sys.executable, __file__, "--child", job], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"skipped": f"time: not done after {timeout / 60:.0f} min"}
    finally:
        for d in R.glob("peers-*"):  # ours_out_of_core's store, if the child died holding it
            shutil.rmtree(d, ignore_errors=True)
    if proc.returncode == -9:
        return {"skipped": "memory: killed by the kernel's OOM killer (24 GB machine)"}
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (stderr.strip().splitlines() or ["?"])[-1]
        return {"skipped": f"failed (exit {proc.returncode}): {tail[:200]}"}
    return json.loads(lines[-1])


def child(job: str) -> None:
    j = json.loads(job)
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
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
    ap.add_argument("--ks", nargs="*", type=int, help="only these k (with --methods)")
    ap.add_argument("--k-ref", type=int, help="the reference's k (default: the case's k_ref)")
    ap.add_argument("--timeout", type=float,
                    help="seconds per method and k (default 1800; 900 at D > 5M)")  # fmt: skip
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    torch.set_num_threads(2)
    cases = [("mnist_mini", [20, 100, 355]), ("mlp_1m", [20, 100, 500] if args.full else [20, 100]),
             ("mlp_1m_digits", [20, 100]), ("wide_mlp", [20, 100, 1000]),
             ("wide_mlp_digits", [20, 100])]  # fmt: skip
    if args.quick:
        cases = [("mnist_mini", [20, 100, 355]), ("mlp_1m", [20])]
    if args.smoke:
        cases = [("mnist_tiny", [10])]
    if args.cases:
        cases = [c for c in cases if c[0] in args.cases]
    out = R / f"peers{'_smoke' if args.smoke else '_quick' if args.quick else ''}.json"
    earlier = json.loads(out.read_text())["cases"] if out.exists() else []
    results = {"meta": meta(args), "cases": []}
    if args.cases or args.methods or args.ks:  # run again only what was asked for; keep the rest
        results["cases"] = [c for c in earlier if c["problem"] not in [n for n, _ in cases]]
    for name, ks in cases:
        steps, _, k_ref, _ = CASES[name]
        k_ref = args.k_ref or k_ref
        p = setup(name, steps)
        ref = reference(p, name, steps, k_ref)
        floor = per_vector_floor(p)
        old = next((c for c in earlier if c["problem"] == name), {"rows": []})
        case = {"problem": name, "D": p.D, "steps": steps, "n_hessian": CASES[name][1],
                "k_ref": k_ref, "reference": ref[2], "floor_seconds_per_hvp": floor,
                "command": " ".join(["bench/peers.py", *map(shlex.quote, sys.argv[1:])]),
                "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "rows": []}  # fmt: skip
        if (args.methods or args.ks) and old["rows"]:  # rows measured again: say by what
            first = old.get("command", "bench/peers.py")
            case["command"] = f"{first}`, then `{case['command']}"
        timeout = args.timeout or (900 if p.D > 5_000_000 else 1800)
        print(f"== {name} (D = {p.D:,}); reference: {ref[2]}; floor {1e3 * floor:.2f} ms/HVP")
        stopped: dict[str, str] = {}  # method -> why it stopped at a smaller k
        for k in ks:
            for label, (_, kmax) in METHODS.items():
                if "out of core" in label and p.D < 1_000_000:
                    continue  # in memory is the right tool there
                row = {"k": k, "method": label}
                wanted = not args.methods or any(m in label for m in args.methods)
                if not wanted or (args.ks and k not in args.ks):
                    kept = [r for r in old["rows"] if r["k"] == k and r["method"] == label]
                    if kept:
                        case["rows"].append(kept[0])
                        if _stops(kept[0]):
                            stopped.setdefault(label, f"stopped at k = {k} ({_stops(kept[0])})")
                    continue
                if kmax is not None and k > kmax:
                    row["skipped"] = f"k > {kmax}: k x up to 100 sequential HVPs"
                elif label in stopped:
                    row["skipped"] = f"not tried: {stopped[label]}"
                elif (why := _projected(case["rows"], label, k, timeout)) is not None:
                    row["skipped"] = why
                else:
                    row |= isolated(name, steps, k_ref, k, label, timeout)
                    row["date"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
                    if "wall_seconds" in row:
                        row["floor_ratio"] = row["wall_seconds"] / (row["hvps"] * floor)
                    elif _stops(row):
                        stopped[label] = f"stopped at k = {k} ({_stops(row)})"
                case["rows"].append(row)
                print(json.dumps(row), flush=True)
                R.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(results | {"cases": [*results["cases"], case]}, indent=1))
        results["cases"].append(case)
    order = {n: i for i, n in enumerate(CASES)}
    results["cases"].sort(key=lambda c: order.get(c["problem"], 99))
    out.write_text(json.dumps(results, indent=1))


def _projected(rows: list[dict], label: str, k: int, timeout: float) -> str | None:
    """ "time: not tried" when the time this method took at smaller k, grown as k^a, passes the cap.

    a is fitted to the last two measured k (at least 1); with one measured k, a = 1. Saves
    running ARPACK-like methods, whose cost grows ~k^1.6 here, into a cap they cannot meet."""
    done = sorted((r["k"], r["wall_seconds"]) for r in rows
                  if r["method"] == label and "wall_seconds" in r and r["k"] < k)  # fmt: skip
    if not done:
        return None
    (k1, t1), (k0, t0) = done[-1], done[-2] if len(done) > 1 else done[-1]
    a = max(1.0, np.log(t1 / t0) / np.log(k1 / k0)) if k1 > k0 else 1.0
    guess = t1 * (k / k1) ** a
    if guess <= timeout:
        return None
    return (f"time: not tried, projected {guess / 60:.0f} min from {t1:.0f} s at k = {k1} "
            f"(x (k/{k1})^{a:.1f}) passes the {timeout / 60:.0f}-min cap")  # fmt: skip


def _stops(row: dict) -> str | None:
    """Why a method stops growing k ("memory", "time"), if this row says it stopped."""
    why = row.get("skipped", "")
    if why.startswith("time"):
        return "time"
    if any(w in why for w in ("memory", "MemoryError", "allocate")):
        return "memory"
    return None


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
        "command": " ".join(["bench/peers.py", *map(shlex.quote, sys.argv[1:])]),
        "versions": v,
    }


if __name__ == "__main__":
    main()
