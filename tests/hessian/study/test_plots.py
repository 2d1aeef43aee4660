"""The study's figures: one PNG per call, from step analyses."""

import numpy as np

from hessian.study import analysis, plots


def _analysis(step, rng, D=500, k=20):
    V = np.linalg.qr(rng.standard_normal((D, k)))[0]
    lam = np.sort(rng.standard_normal(k))[::-1]
    theta = rng.standard_normal(D)
    return analysis.analyze_eigenpairs(lam, V, theta, step=step, draws=5, metric_ks=[5, k])


def test_every_figure_is_written(tmp_path):
    rng = np.random.default_rng(0)
    A = [_analysis(t, rng) for t in (0, 10, 20)]
    across = {"pairs": [[0, 10], [10, 20], [0, 20]], "iou": [[0.5] * 20] * 3,
              "eigenspace_overlap": [[0.4] * 20] * 3}  # fmt: skip
    files = [
        plots.spectrum(A, tmp_path / "s.png", exact=A[:1]),
        plots.overlap_vs_k(A[0], tmp_path / "k.png", exact=A[0]),
        plots.overlap_vs_step(A, tmp_path / "t.png", k=20, exact=A),
        plots.metric_panels(A, tmp_path / "g" / "m.png", k=20),
        plots.across_steps(across, tmp_path / "a.png"),
    ]
    for f in files:
        assert f.exists() and f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
