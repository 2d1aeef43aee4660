"""The accurate mode in memory: certified top-k eigenpairs by thick-restart block Lanczos.

    result = accurate_eigh(op, k=100)           # tol 1e-2 on every relative residual
    result.certificate.certified_rank           # = 100 when the top-100 subspace is resolved

The algorithm is ``hessian.solvers.krylov_schur`` on a float64 basis held in memory; the
out-of-core twin (``hessian.out_of_core.accurate_solve``) runs the same driver on a Zarr
basis. Every result carries a ``Certificate`` (``hessian.solvers.certificates``): the residuals
of all k pairs from the Krylov relation, checked against fresh products on a spread sample of
``verify`` pairs (the larger of the two is kept, so a loss of orthogonality cannot flatter it).
"""

from __future__ import annotations

import warnings

import numpy as np

from hessian._checks import check_k, memory_budget
from hessian.operators.counting import CountingOperator
from hessian.solvers import krylov_schur as ks
from hessian.solvers.certificates import (
    RESIDUAL_TOL,
    SUBSPACE_TOL,
    Certificate,
    certify,
    check_pairs,
)
from hessian.solvers.in_memory_basis import InMemoryBasis
from hessian.solvers.linalg import dense_threads
from hessian.solvers.result import EigenResult

#: pairs whose residuals are re-checked with fresh products
VERIFY_PAIRS = 64


def accurate_eigh(
    op,
    k: int,
    *,
    tol: float = RESIDUAL_TOL,
    subspace_tol: float = SUBSPACE_TOL,
    block: int | None = None,
    n_max: int | None = None,
    keep: int | None = None,
    seed: int = 0,
    warm_start=None,
    max_products: int | None = None,
    vectors_per_call: int | None = None,
    memory: int | None = None,
    verify: int = VERIFY_PAIRS,
) -> EigenResult:
    """Top-k eigenpairs (by |lambda|) of a symmetric operator, certified.

    Args:
        op: anything with ``.shape == (D, D)`` and ``op @ X`` (see ``seigh``).
        k: eigenpairs wanted.
        tol: relative residual ||H v - theta v|| / |theta| every certified pair must reach.
        subspace_tol: the top-k subspace is certified when the Davis-Kahan bound on its
            overlap with the true one is >= 1 - subspace_tol.
        block: products per step (default ``krylov_schur.default_block``: 8 per 160
            pairs, at most 64 and the operator's vectors per pass).
        n_max, keep: basis columns before a restart, Ritz vectors kept (``default_sizes``).
        seed: of the starting block; ``warm_start``: D x k' vectors to start from (a sketch).
        max_products: budget (default max(2000, 60 k)); the result is returned, with
            ``info["converged"] = False`` and its certificate, when it is spent.
        memory: bytes the basis may use (default 80 % of what is available now).
        verify: pairs re-checked by fresh products at the end (0: none).

    Returns:
        EigenResult with ``certificate`` and, in ``info``, the sizes, restarts, products and
        the residual history.

    Raises:
        MemoryError: not even a basis of k + 3 blocks fits in ``memory`` (use the out-of-core
            ``hessian.out_of_core.accurate``).
    """
    A = CountingOperator(op)
    D = A.D
    k = check_k(k, D)
    call = A.vectors_per_call(vectors_per_call)
    b = int(block) if block else ks.default_block(k, call)
    if not 1 <= b <= D // 3:
        raise ValueError(f"block must be in 1..D/3 = {D // 3}, got {b}")
    if k + 3 * b > D:
        raise ValueError(f"k + 3 block = {k + 3 * b} exceeds D = {D}: use exact_eigh")
    dn, _ = ks.default_sizes(k, b, D)
    n_max = int(n_max) if n_max else dn
    budget = memory_budget(memory)
    per_col = 8 * D

    def need(n):  # the basis, the result, three working blocks
        return per_col * (n + b + k + 3 * b)

    if n_max is None or need(n_max) > budget:
        fit = budget // per_col - k - 4 * b
        if fit < k + 3 * b:
            raise MemoryError(
                f"the accurate mode needs a float64 basis of at least {k + 3 * b} vectors at "
                f"D = {D:,} ({need(k + 3 * b) / 2**30:.1f} GiB with the eigenvectors); "
                f"{budget / 2**30:.1f} GiB are available. Use hessian.out_of_core.accurate, "
                "whose basis lives on disk."
            )
        n_max = b * (fit // b)
    keep = int(keep) if keep else ks.default_keep(k, b, n_max)
    s = ks.Settings(k, b, n_max, keep, tol, subspace_tol, max_products or 0)
    with dense_threads(D, n_max + b):
        X0 = ks.start_block(D, b, seed, warm_start)
        basis = InMemoryBasis(A, X0, n_max, call, seed)
        try:
            out = ks.run(basis, s, ks.State.start(b))
            V = basis.vectors(out.U)
            repairs = basis.repairs
        finally:
            basis.close()
        del basis
        cert = out.certificate
        if verify:
            cert = verified_certificate(A, out.theta, V, cert, verify, call)
    return EigenResult(
        out.theta,
        V,
        n_hvp=A.n_hvp,
        n_passes=A.n_passes,
        method="thick-restart block Lanczos (Krylov-Schur)",
        info={
            "k": k,
            "block": b,
            "n_max": n_max,
            "keep": keep,
            "tol": tol,
            "subspace_tol": subspace_tol,
            "converged": out.converged,
            "restarts": out.state.restarts,
            "steps": out.state.steps,
            "krylov_products": out.state.products,
            "projected_again": repairs,  # steps whose block was projected twice explicitly
            "history": out.state.history,
            "max_residual": cert.max_residual,
            "median_residual": cert.median_residual,
            "certified_rank": cert.certified_rank,
            "seed": seed,
            "warm_start": warm_start is not None,
        },
        certificate=cert,
    )


def verified_certificate(
    A, theta, V, cert: Certificate, n: int = VERIFY_PAIRS, call: int = 64
) -> Certificate:
    """``cert`` with the residuals of a spread sample of n pairs replaced by the larger of the
    Krylov and the fresh-product residual; ``verified``: the largest difference of the two
    relative residuals (a loss of orthogonality shows here)."""
    k = len(theta)
    idx = check_pairs(k, leading=min(k, n // 2), spread=n - n // 2)
    Vs = np.asarray(V[:, idx], dtype=np.float64)
    HV = np.concatenate([A(Vs[:, i : i + call]) for i in range(0, len(idx), call)], axis=1)
    fresh = np.linalg.norm(HV - Vs * theta[idx], axis=0)
    return merged_certificate(cert, idx, fresh)


def merged_certificate(cert: Certificate, idx, fresh) -> Certificate:
    """Merge fresh-product residuals (absolute, of pairs ``idx`` < k) into a certificate over
    all its pairs: each checked pair keeps the larger of its two residuals."""
    theta = np.asarray(cert.theta)
    mag = np.maximum(np.abs(theta[cert.checked]), np.finfo(float).tiny)
    r = np.asarray(cert.residuals) * mag
    pos = np.searchsorted(cert.checked, idx)
    gap = float(np.max(np.abs(fresh - r[pos]) / mag[pos]))
    r[pos] = np.maximum(r[pos], fresh)
    new = certify(theta, r, cert.k, checked=cert.checked, tol=cert.tol,
                  subspace_tol=cert.subspace_tol, source=cert.source)  # fmt: skip
    new.verified = gap
    return new


def block_krylov_eigh(op, k: int, *, block=None, tol=RESIDUAL_TOL, seed=0, memory=None,
                      vectors_per_call=None, **ignored) -> EigenResult:  # fmt: skip
    """Deprecated: the accurate mode is ``accurate_eigh`` (same role, certified)."""
    warnings.warn(
        "block_krylov_eigh is replaced by accurate_eigh (thick-restart block Lanczos, "
        "certified); it is called with the same k, tol, block and seed",
        DeprecationWarning,
        stacklevel=2,
    )
    return accurate_eigh(op, k, tol=tol, block=block, seed=seed, memory=memory,
                         vectors_per_call=vectors_per_call)  # fmt: skip
