"""The certificate of a solved single-pass sketch store: fresh products of a sample of pairs.

The pairs of ``hessian.solvers.certificates.check_pairs`` (the leading 48 and 16 spread over the
rest) are formed from the store a row chunk at a time, multiplied by the operator in batches of
its ``vectors_per_pass`` (held in the operator's dtype: D x 64 x 4 bytes in float32), and their
residuals ||H v - lambda v|| certify the leading pairs (the
certified rank) and sample the rest. The certificate is stored with the solution it certifies.
"""

from __future__ import annotations

import numpy as np

from hessian.operators.counting import CountingOperator
from hessian.out_of_core.store import SketchStore
from hessian.solvers.certificates import Certificate, certify, check_pairs


def certify_store(url: str, op, *, tol: float, subspace_tol: float) -> Certificate:
    """Certify the solution in the sketch store at ``url`` with ``len(check_pairs(k))``
    products of ``op`` (the store's operator), store the certificate, and return it; a stored
    certificate of the same solution and tolerances is returned without products."""
    store = SketchStore.open(url, mode="r+")
    old = store.certificate()
    if old is not None and (old.tol, old.subspace_tol) == (tol, subspace_tol):
        return old
    lam = store.eigenvalues()
    k = len(lam)
    idx = check_pairs(k)
    M = store.transform()[:, idx]
    A = CountingOperator(op)
    V = np.empty((store.settings.D, len(idx)), dtype=A.dtype)  # one read of the sketch
    for a, b in store.row_chunks():
        V[a:b] = store.read_outer(a, b) @ M
    call = A.vectors_per_call(None)
    r = np.empty(len(idx))
    for i in range(0, len(idx), call):
        Vi = V[:, i : i + call].astype(np.float64)
        r[i : i + call] = np.linalg.norm(A(Vi) - Vi * lam[idx[i : i + call]], axis=0)
    cert = certify(lam, r, k, checked=idx, tol=tol, subspace_tol=subspace_tol, source="products")
    store.write_certificate(cert)
    return cert
