"""The step analysis: the streamed path equals the in-memory one; across-step comparisons."""

import numpy as np
import pytest

import hessian
from hessian import analysis, masks, metrics, out_of_core, streamed
from hessian.spec import OperatorSpec
from hessian.store import SketchStore

K, S = 24, 48


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Solved sketches of mnist_tiny at two parameter vectors (init and perturbed)."""
    root = tmp_path_factory.mktemp("analysis")
    spec = OperatorSpec("mnist_tiny", block_size=8, dtype="float64", batch_size=None)
    theta0 = spec.build().theta.numpy().astype(np.float64)
    rng = np.random.default_rng(0)
    out = {}
    for name, theta in (("a", theta0), ("b", theta0 + 0.05 * rng.standard_normal(theta0.size))):
        url = str(root / f"{name}.zarr")
        out_of_core.sketch(
            url, spec, theta, k=K, s=S, noise="sparse", dtype="float64", scheduler="inprocess",
            progress=False,
        )  # fmt: skip
        out[name] = (url, theta, spec.build(theta))
    return out


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


def test_gather_rows_and_best_masks(stores):
    url, theta, _ = stores["a"]
    V = SketchStore.open(url).eigenvectors()
    mag = masks.magnitude(theta, K)
    g = streamed.gather(url, {"mag": mag}, best_ks=[3, K])
    np.testing.assert_allclose(g.rows["mag"], V[mag], atol=1e-12)
    for kk in (3, K):
        assert set(g.best_masks[kk]) == set(masks.best(V, kk))
        np.testing.assert_allclose(g.best_rows[kk], V[g.best_masks[kk], :kk], atol=1e-12)
    with pytest.raises(ValueError, match="best_ks"):
        streamed.gather(url, {}, best_ks=[K + 1])


def test_cross_overlap_and_across_steps(stores):
    (ua, ta, _), (ub, tb, _) = stores["a"], stores["b"]
    Va, Vb = SketchStore.open(ua).eigenvectors(), SketchStore.open(ub).eigenvectors()
    curve = streamed.cross_overlap(ua, ub)
    for kk in (1, 10, K):
        assert curve[kk - 1] == pytest.approx(metrics.subspace_overlap(Va[:, :kk], Vb[:, :kk]))
    assert streamed.cross_overlap(ua, ua)[-1] == pytest.approx(1.0)
    out = analysis.across_steps([0, 5], {0: ta, 5: tb}, {0: ua, 5: ub})
    assert out["pairs"] == [[0, 5]]
    np.testing.assert_allclose(out["eigenspace_overlap"][0], curve)
    np.testing.assert_allclose(
        out["iou"][0], metrics.iou_curve(masks.magnitude(ta, K), masks.magnitude(tb, K))
    )


def test_streamed_aposteriori_equals_in_memory(stores):
    url, _, op = stores["a"]
    store = SketchStore.open(url)
    res = hessian.EigenResult(store.eigenvalues(), store.eigenvectors())
    a = streamed.aposteriori_error(url, op, n=10, seed=3)
    b = hessian.aposteriori_error(op, res, n=10, seed=3)
    assert a.error == pytest.approx(b.error, rel=1e-9) and a.norm == pytest.approx(b.norm)
    assert 0 < a.relative < 1


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


def test_exact_reference_round_trip(tmp_path, stores):
    _, _, op = stores["a"]
    ref = hessian.exact_eigh(op, k=5)
    hessian.exact.save_reference(tmp_path / "e.npz", ref, key="abc")
    back = hessian.exact.load_reference(tmp_path / "e.npz", key="abc")
    np.testing.assert_array_equal(back.eigenvalues, ref.eigenvalues)
    np.testing.assert_allclose(back.eigenvectors, ref.eigenvectors, atol=1e-7)
    with pytest.raises(ValueError, match="another operator"):
        hessian.exact.load_reference(tmp_path / "e.npz", key="xyz")


def test_analysis_refuses_wrong_params(stores):
    url, theta, _ = stores["a"]
    with pytest.raises(ValueError, match="params have"):
        analysis.analyze_sketch(url, theta[:-1])
