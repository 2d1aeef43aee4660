"""The out-of-core solve: one streamed pass over row chunks of the sketch, then the core solve.

The algebra of ``seigh`` (``hessian.solvers.linalg.solve_from_gram``) with Y on disk; memory is a
few row chunks plus r x r and s x r matrices, independent of D:

    one pass over row chunks Y_c of the outer sketch Y (D x r), accumulated in float64:
        G = sum Y_c^T Y_c,   P_R = sum Phi_R[:, c] Y_c;   P_L = Phi_L Y = Z[:, :r] is free
        (the outer columns are the first r inner measurements)
    G = W diag(w) W^T;  T = W_+ diag(w_+)^{-1/2}  so Q = Y T is orthonormal (Gram "SVD" of Y,
        dropping directions with w < 1e-12 w_max); Phi_R Q = P_R T, Phi_L Q = P_L T;
    C = (Phi_L Q)^+ Z ((Phi_R Q)^+)^T symmetrised; C = U L U^T in |lambda| order;
    eigenvectors V = Y (T U_k): stored as the r x k transform, formed a row chunk at a time.

Orthogonality of Q = Y T degrades like eps * cond(Y)^2; when cond(Y) > 100 a second pass
re-orthogonalises (G2 = sum (Y_c T)^T (Y_c T), as in CholeskyQR2; Fukaya et al. 2014).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from hessian.out_of_core.row_chunks import blas_threads, fold, sum_parts
from hessian.out_of_core.store import SketchStore
from hessian.solvers.linalg import solve_from_gram
from hessian.solvers.sketching_matrices import STREAM_RIGHT, sketching_matrix


@dataclass
class StreamedSolve:
    """Result of ``solve``: eigenvalues in |lambda| order; eigenvectors live in the store."""

    eigenvalues: np.ndarray
    store: SketchStore
    info: dict
    reused: bool = False  # True: a stored solution returned as is
    certificate: object | None = None  # hessian.solvers.certificates.Certificate

    def eigenvectors(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self.store.eigenvectors(start, stop)


def solve(
    url: str, *, k: int | None = None, scheduler="threads", num_workers: int = 2
) -> StreamedSolve:
    """Solve the sketch in the store at ``url`` out of core and write its eigenpairs there.

    Args:
        k: eigenpairs to keep (default the store's k).
        scheduler: a dask scheduler name ("threads", "sync") or a distributed ``Client``.
        num_workers: threads for the "threads" scheduler (numpy BLAS is held to one per thread).
    """
    store = SketchStore.open(url, mode="r+")
    st = store.settings
    k = st.k if k is None else int(k)
    if not 1 <= k <= st.r:
        raise ValueError(f"k must be in 1..{st.r} for this store, got {k}")
    if store.pending():
        raise RuntimeError(
            f"{len(store.pending())} of {st.n_blocks} measurement blocks of {url} are not done"
        )
    t0 = time.perf_counter()
    Phi_R = sketching_matrix(st.noise, st.s, st.D, st.seed, STREAM_RIGHT)
    chunks = store.row_chunks()
    blas = blas_threads(scheduler, num_workers)

    def stats(ab):
        a, b = ab
        with threadpool_limits(blas, user_api="blas"):
            Y = store.read_outer(a, b)
            return Y.T @ Y, Phi_R.apply_cols(Y, a)

    G, P_R = fold(chunks, stats, sum_parts, scheduler, num_workers)
    Z = store.read_inner()  # its first r columns are Phi_L Y: the outer columns are measurements

    def second_gram(T):  # G2 = (Y T)^T (Y T), from the products themselves
        def gram(ab):
            with threadpool_limits(blas, user_api="blas"):
                Q = store.read_outer(*ab) @ T
                return (Q.T @ Q,)

        return fold(chunks, gram, sum_parts, scheduler, num_workers)[0]

    lam, M, info = solve_from_gram(G, second_gram, Z, P_R, k)
    k = M.shape[1]
    info = {"k": k, **info, "seconds": time.perf_counter() - t0}
    store.write_solution(lam[:k], M, info)
    return StreamedSolve(lam[:k], store, info)
