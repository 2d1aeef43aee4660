"""Every default defined once: the library's signatures take theirs from ``hessian.defaults``."""

import inspect

from hessian import defaults, out_of_core, solvers, study
from hessian.operators import CurvatureOperator, OperatorSpec
from hessian.out_of_core import SketchSettings


def _default(fn, name):
    return inspect.signature(fn).parameters[name].default


def test_sizes_of_a_sketch():
    assert defaults.sketch_size(355) == 710
    assert defaults.oversampling(355, 710) == 88  # k // 4
    assert defaults.oversampling(100, 110) == 10  # capped by s - k
    assert defaults.oversampling(10, 5) == 0


def test_signatures_use_them():
    assert _default(CurvatureOperator, "vectors_per_pass") == defaults.VECTORS_PER_PASS
    assert OperatorSpec("mnist_tiny").vectors_per_pass == defaults.VECTORS_PER_PASS
    assert SketchSettings(D=10, k=2, s=4).chunk_rows == defaults.CHUNK_ROWS == defaults.TILE
    assert out_of_core.SketchRequest(None, k=1).chunk_rows == defaults.CHUNK_ROWS
    for fn in (solvers.aposteriori_error, out_of_core.aposteriori_error):
        assert _default(fn, "n") == defaults.APOSTERIORI_PROBES
        assert _default(fn, "eps") == defaults.APOSTERIORI_EPS
    assert _default(study.hutchinson_diagonal, "n_probes") == defaults.HUTCHINSON_PROBES
    assert study.AnalysisRequest().draws == defaults.RANDOM_DRAWS
    assert study.analysis.default_metric_ks(300) == [10, 50, 100, 200, 300]
    assert solvers.sketching_matrices.TILE_COLS == defaults.TILE
