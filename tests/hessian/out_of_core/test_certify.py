"""A sketch store's certificate: fresh products of the sampled pairs, stored with the solution."""

import numpy as np

import hessian
from hessian.operators import CountingOperator
from hessian.out_of_core import SketchStore, certify_store

from .helpers import K, run


def test_the_sketch_is_certified_and_the_certificate_kept(tmp_path, op, reference):
    url = tmp_path / "c.zarr"
    res, _ = run(url)
    c = res.certificate
    assert (
        c is not None and c.source == "products" and c.k == K and len(c.checked) == K
    )  # k <= 64: all
    mem = reference.certificate  # the in-memory sketch's certificate of the same sketch
    np.testing.assert_allclose(c.residuals, mem.residuals, rtol=1e-6)
    assert c.certified_rank == mem.certified_rank
    A = CountingOperator(op)
    again = certify_store(str(url), A, tol=c.tol, subspace_tol=c.subspace_tol)
    assert A.n_hvp == 0 and again.certified_rank == c.certified_rank  # kept, not recomputed
    other = certify_store(str(url), A, tol=0.5, subspace_tol=0.5)  # other tolerances: redone
    assert A.n_hvp == K and other.tol == 0.5 and other.certified_rank >= c.certified_rank
    assert SketchStore.open(str(url)).certificate().tol == 0.5
    V = res.store.eigenvectors()[:, :5]
    r = np.linalg.norm(A(V) - V * res.eigenvalues[:5], axis=0) / np.abs(res.eigenvalues[:5])
    np.testing.assert_allclose(other.residuals[:5], r, rtol=1e-6)
    assert hessian.Certificate is type(other)
