"""The accurate solver out of core: certified top-k eigenpairs with the basis on disk.

    from hessian import OperatorSpec, out_of_core
    request = out_of_core.AccurateRequest(OperatorSpec("wide_mlp"), k=1000)
    result = out_of_core.accurate("runs/h_accurate.zarr", request, params,
                                  warm_start="runs/h.zarr")      # optional: a sketch store

The driver is ``hessian.solvers.krylov_schur`` (thick-restart block Lanczos), the same as the
in-memory ``accurate_eigh``; here the basis lives in a ``BasisStore``. A step is one batched
pass of b products, run as product jobs on Dask (``vectors_per_job`` vectors each, on the
workers' cached operators, as the sketch's measurement blocks), then two streamed passes over
row chunks in float64: the first forms [Q X]^T W and W^T W, the second writes the new block
X' = (W - [Q X] C) R^-1 (classical Gram-Schmidt twice from one pass's inner products, with the
stored basis' Gram matrix G = Q^T Q tracked exactly from the stored values:
``krylov_schur.cgs2_from_gram``). Memory is O(chunk_rows x n_max + n_max^2), independent of D
(plus one D x b block per worker for its products); with ``cache`` the basis is also mirrored
in RAM, so the passes read memory instead of disk.

A killed run resumes at the last whole step: the state file is written (atomically) after the
step's columns, product jobs already written for the step are kept, and a restart's rotation,
done a row chunk at a time through a staging chunk, is finished from where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from hessian import defaults
from hessian._checks import check_k, memory_budget
from hessian.exceptions import StoreMismatchError
from hessian.operators.spec import OperatorSpec, fingerprint
from hessian.out_of_core import cluster
from hessian.out_of_core.basis_jobs import Jobs, forget
from hessian.out_of_core.basis_store import AccurateSettings, BasisStore
from hessian.out_of_core.space import check_space
from hessian.out_of_core.stored_basis import StoredBasis, state_arrays, write_start
from hessian.solvers import krylov_schur as ks
from hessian.solvers.accurate import VERIFY_PAIRS, merged_certificate
from hessian.solvers.certificates import RESIDUAL_TOL, SUBSPACE_TOL, Certificate, check_pairs


@dataclass(frozen=True)
class AccurateRequest:
    """What an out-of-core accurate solve is (``accurate_eigh``'s knobs, plus the store's).

    Attributes:
        operator: the curvature operator (workers rebuild it from this and the parameters).
        k, tol, subspace_tol, block, n_max, keep, seed, max_products, verify: as in
            ``hessian.solvers.accurate_eigh`` (block: ``krylov_schur.default_block``).
        dtype: of the stored basis ("float32" halves the disk; the algebra is float64).
        chunk_rows: rows of D per chunk (a multiple of 65,536).
        vectors_per_job: products per job (default: the block, one job per step; set
            block / n_workers to spread a step over workers).
        n_workers, threads: Dask worker processes of a new LocalCluster, torch threads each.
        cache: bytes of RAM the basis may be mirrored in (None: up to 40 % of what is
            available; 0: read the disk every pass).
    """

    operator: OperatorSpec
    k: int
    tol: float = RESIDUAL_TOL
    subspace_tol: float = SUBSPACE_TOL
    block: int | None = None
    n_max: int | None = None
    keep: int | None = None
    seed: int = 0
    max_products: int | None = None
    verify: int = VERIFY_PAIRS
    dtype: str = "float32"
    chunk_rows: int = defaults.CHUNK_ROWS
    vectors_per_job: int | None = None
    n_workers: int = 1
    threads: int | None = None
    cache: int | None = None

    def settings(self, D: int, warm_start: str = "") -> AccurateSettings:
        k = check_k(self.k, D)
        b = int(self.block or ks.default_block(k, self.operator.vectors_per_pass))
        if k + 3 * b > D:
            raise ValueError(f"k + 3 block = {k + 3 * b} exceeds D = {D}")
        n_max, _ = ks.default_sizes(k, b, D)
        n_max = int(self.n_max or n_max)
        keep = int(self.keep or ks.default_keep(k, b, n_max))
        ks.Settings(k, b, n_max, keep, self.tol, self.subspace_tol)  # validates the sizes
        return AccurateSettings(
            D=D, k=k, block=b, n_max=n_max, keep=keep, tol=self.tol,
            subspace_tol=self.subspace_tol, seed=self.seed, dtype=self.dtype,
            chunk_rows=self.chunk_rows, vectors_per_job=int(self.vectors_per_job or 0),
            verify=min(self.verify, k), warm_start=warm_start,
        )  # fmt: skip


def _resumed_sizes(url: str, request: AccurateRequest, st: AccurateSettings) -> AccurateSettings:
    """``st`` with the block, n_max and keep of the store at ``url`` where the request leaves
    them to their defaults: a store laid out under other defaults resumes (every other setting
    is still checked by ``BasisStore.open_or_create``)."""
    if request.block or request.n_max or request.keep:
        return st
    try:
        old = BasisStore.open(url).settings
    except (FileNotFoundError, StoreMismatchError, ValueError):
        return st
    if (old.D, old.k) != (st.D, st.k):
        return st
    return replace(st, block=old.block, n_max=old.n_max, keep=old.keep)


@dataclass
class AccurateResult:
    """An out-of-core accurate solve: eigenvalues and certificate here, eigenvectors in the
    store (``eigenvectors(start, stop)`` forms rows of them)."""

    eigenvalues: np.ndarray
    store: BasisStore
    certificate: Certificate
    info: dict = field(default_factory=dict)
    reused: bool = False

    @property
    def url(self) -> str:
        return self.store.url

    def eigenvectors(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self.store.eigenvectors(start, stop)


@dataclass
class _Warm:
    store: object
    k: int

    def transform(self):
        return self.store.transform()


def _warm_start(url: str, op_fp: str, D: int, k: int) -> _Warm:
    from hessian.out_of_core.solutions import open_solution

    src = open_solution(url)
    if src.group.attrs.get("fingerprint") != op_fp:
        raise StoreMismatchError(
            f"the warm start {url} was made for another operator (fingerprint "
            f"{str(src.group.attrs.get('fingerprint'))[:12]} vs {op_fp[:12]})"
        )
    if src.settings.D != D:
        raise StoreMismatchError(f"the warm start {url} has D = {src.settings.D}, not {D}")
    kw = len(src.eigenvalues())
    if kw < k:
        raise ValueError(f"the warm start {url} holds {kw} eigenpairs, fewer than k = {k}")
    return _Warm(src, kw)


def accurate(
    url: str,
    request: AccurateRequest,
    params=None,
    *,
    buffers=None,
    warm_start: str | None = None,
    scheduler=None,
    progress=None,
    op=None,
) -> AccurateResult:
    """Certified top-k eigenpairs of the request's operator at ``params``, basis in ``url``.

    Args:
        warm_start: a solved sketch (or accurate) store of the same operator with >= k pairs:
            the first block is a random combination of its eigenvectors.
        scheduler: None (a new LocalCluster of ``request.n_workers``), an address or a Client,
            or "inprocess" (``op`` may then be given).
        progress: called as ``progress(products, max_residual, certified_rank)`` per check.

    Returns:
        AccurateResult (``reused=True`` when the store held the finished solve already).

    Raises:
        StoreMismatchError: the store (or the warm start) is of other settings or another
            operator; OSError: not enough free disk for the basis; ValueError: bad sizes.
    """
    built = op if op is not None else request.operator.build(params, buffers)
    fp = fingerprint(built)
    theta = built.theta.detach().cpu().numpy().astype(np.float64)
    D = built.D
    warm = _warm_start(warm_start, fp, D, request.k) if warm_start else None
    st = _resumed_sizes(url, request, request.settings(D, warm_start=str(warm_start or "")))
    check_space([(url, st)])  # a store already there needs only what it lacks
    store = BasisStore.open_or_create(url, st, fp, request.operator.to_json(), theta, buffers)
    if store.solved:
        return AccurateResult(store.eigenvalues(), store, store.certificate(),
                              store.solve_info, reused=True)  # fmt: skip
    s = ks.Settings(st.k, st.block, st.n_max, st.keep, st.tol, st.subspace_tol,
                    request.max_products or 0)  # fmt: skip
    threads = cluster.threads_per_worker(request.n_workers, request.threads)
    cache = request.cache
    if cache is None:
        cache = int(0.4 * memory_budget(None) / defaults.MEMORY_FRACTION)
    t0 = time.perf_counter()
    with _client(scheduler, request.n_workers, threads) as client:
        local = built if client is None else None
        if client is None:
            torch.set_num_threads(threads)
        jobs = Jobs(store.url, client, threads, local)
        state, basis = _resume(store, jobs, cache)
        if state is None:
            state = ks.State.start(st.block)
            basis = StoredBasis(store, jobs, np.eye(st.columns), 0, cache, state)
            write_start(basis, st.seed, warm)
            _save(store, state, basis)

        def save(state):
            _save(store, state, basis)

        report = None if progress is None else (lambda s_, r, c: progress(s_.products, r, c))
        try:
            out = ks.run(basis, s, state, save=save, progress=report)
        finally:
            basis.close()
        cert = out.certificate
        if st.verify:
            cert = _verify(store, basis, jobs, out, st)
        if client is not None:
            client.run(forget, store.url)
    forget(store.url)
    info = {
        "k": st.k, "block": st.block, "n_max": st.n_max, "keep": st.keep, "tol": st.tol,
        "subspace_tol": st.subspace_tol, "converged": bool(out.converged),
        "restarts": out.state.restarts, "steps": out.state.steps,
        "products": jobs.products, "krylov_products": out.state.products,
        "products_total": out.state.products + (min(st.verify, len(out.theta)) if st.verify else 0),
        "hvp_seconds": jobs.seconds, "jobs_run": jobs.jobs, "workers": sorted(jobs.workers),
        "seconds": time.perf_counter() - t0, "cached": basis.mirror is not None,
        "pass_threads": basis.threads,
        "history": out.state.history, "warm_start": st.warm_start,
        "method": "thick-restart block Lanczos (Krylov-Schur), out of core",
    }  # fmt: skip
    store.write_solution(out.theta, out.U, info, cert)
    return AccurateResult(out.theta, store, cert, info)


def _client(scheduler, n_workers, threads):
    import contextlib

    if scheduler == "inprocess":
        return contextlib.nullcontext(None)
    return cluster.client(scheduler, n_workers, threads)


def _save(store: BasisStore, state: ks.State, basis: StoredBasis) -> None:
    store.save_state(**state_arrays(state, basis))


def _resume(store: BasisStore, jobs: Jobs, cache: int):
    """The saved state and its basis, a pending restart finished; (None, None) when fresh."""
    z = store.load_state()
    if z is None:
        return None, None
    n, products, steps, restarts, checks, key = (int(x) for x in z["counters"])
    state = ks.State(n, z["T"], z["B"], products, steps, restarts, checks,
                     [tuple(h) for h in z["history"]])  # fmt: skip
    basis = StoredBasis(store, jobs, z["G"], key, cache, state)
    basis.load_mirror(n)
    if "rotation_U" in z:  # killed during a restart: finish it
        U = z["rotation_U"]
        basis.restart(n, U, z["rotation_theta"], resuming=True)
        state.T = np.diag(z["rotation_theta"])
        state.B = state.B @ U
        state.n = U.shape[1]
        state.restarts += 1
        _save(store, state, basis)
    return state, basis


def _verify(store: BasisStore, basis: StoredBasis, jobs: Jobs, out, st) -> Certificate:
    """Fresh products of a spread sample of the pairs; the certificate keeps the larger
    residual of each (``solvers.accurate.merged_certificate``)."""
    k = len(out.theta)
    n_check = min(st.verify, k)
    idx = check_pairs(k, leading=min(k, n_check // 2), spread=n_check - n_check // 2)
    Us = out.U[:, idx]
    for a, c in basis.chunks:
        store.group["checks"][a:c, : len(idx)] = (basis.rows(a, c, out.n) @ Us).astype(st.dtype)
    jobs.run("checks", 0, len(idx), "checked", "check_jobs", basis.key, st.job_width)
    r2 = np.zeros(len(idx))
    for a, c in basis.chunks:
        V = store.read("checks", a, c, slice(0, len(idx)))
        HV = store.read("checked", a, c, slice(0, len(idx)))
        r2 += np.sum((HV - V * out.theta[idx]) ** 2, axis=0)
    return merged_certificate(out.certificate, idx, np.sqrt(r2))
