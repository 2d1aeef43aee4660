"""The step analysis: the streamed path equals the in-memory one; across-step comparisons."""

import numpy as np
import pytest

import hessian
from hessian import out_of_core
from hessian.out_of_core import SketchStore
from hessian.study import analysis, masks, metrics

from ..conftest import STORE_K as K


def test_streamed_analysis_equals_in_memory(stores):
    url, theta, _ = stores["a"]
    store = SketchStore.open(url)
    a = analysis.analyze_sketch(url, theta, step=7, draws=30, seed=1, metric_ks=[5, K])
    b = analysis.analyze_eigenpairs(
        store.eigenvalues(), store.eigenvectors(), theta, step=7, draws=30, seed=1,
        metric_ks=[5, K],
    )  # fmt: skip
    for name in ("magnitude", "random_mean", "random_std", "best", "chance"):
        np.testing.assert_allclose(a.curves[name], b.curves[name], rtol=1e-9, atol=1e-12)
    for mask in ("magnitude", "random", "best"):
        for kk in (5, K):
            for key, v in b.grassmannian[mask][kk].items():
                assert a.grassmannian[mask][kk][key] == pytest.approx(v, rel=1e-7, abs=1e-9)
    assert a.k == K and a.step == 7 and a.curves["chance"][-1] == pytest.approx(K / a.D)
    # the best mask bounds every other at every k; overlaps are fractions
    assert (a.curves["best"] >= a.curves["magnitude"] - 1e-12).all()
    assert (a.curves["best"] >= a.curves["random_mean"] - 1e-12).all()
    assert ((a.curves["magnitude"] >= 0) & (a.curves["magnitude"] <= 1)).all()
    again = analysis.StepAnalysis.from_dict(a.to_dict())
    np.testing.assert_array_equal(again.curves["best"], a.curves["best"])
    assert again.grassmannian == a.grassmannian


def test_cross_overlap_and_across_steps(stores):
    (ua, ta, _), (ub, tb, _) = stores["a"], stores["b"]
    Va, Vb = SketchStore.open(ua).eigenvectors(), SketchStore.open(ub).eigenvectors()
    curve = out_of_core.cross_overlap(ua, ub)
    for kk in (1, 10, K):
        assert curve[kk - 1] == pytest.approx(metrics.subspace_overlap(Va[:, :kk], Vb[:, :kk]))
    assert out_of_core.cross_overlap(ua, ua)[-1] == pytest.approx(1.0)
    out = analysis.across_steps([0, 5], {0: ta, 5: tb}, {0: ua, 5: ub})
    assert out["pairs"] == [[0, 5]]
    np.testing.assert_allclose(out["eigenspace_overlap"][0], curve)
    np.testing.assert_allclose(
        out["iou"][0], metrics.iou_curve(masks.magnitude(ta, K), masks.magnitude(tb, K))
    )


def test_compare_to_reference(stores):
    url, _, op = stores["a"]
    ref = hessian.exact_eigh(op, k=K)
    cmp = analysis.compare_to_reference(url, ref.eigenvalues, ref.eigenvectors)
    V = SketchStore.open(url).eigenvectors()
    assert cmp["subspace_overlap"][-1] == pytest.approx(
        metrics.subspace_overlap(V, ref.eigenvectors)
    )
    assert 0 < cmp["subspace_overlap"][-1] <= 1 + 1e-12
    assert cmp["eigenvalue_relative_error_median"] >= 0


def test_analysis_refuses_wrong_params(stores):
    url, theta, _ = stores["a"]
    with pytest.raises(ValueError, match="params have"):
        analysis.analyze_sketch(url, theta[:-1])
