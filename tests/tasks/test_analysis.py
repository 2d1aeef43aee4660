"""The analysis tasks: one step, the exact reference, across steps, the plots."""

from pathlib import Path

from hessian_sketch.flows.common import checkpoint_id
from hessian_sketch.tasks import analysis


def test_step_exact_across_and_plots(tiny, tmp_path):
    plan, cks, outs = tiny
    a = analysis.analyze_step.fn(outs[10]["id"], checkpoint_id(cks[10]), plan.analysis)
    assert a["step"] == 10 and len(a["curves"]["magnitude"]) == 8
    path = str(tmp_path / "exact.npz")
    ex = analysis.exact_reference.fn(
        path, checkpoint_id(cks[10]), outs[10]["id"], plan.exact, plan.analysis
    )
    assert Path(path).exists() and ex["analysis"]["D"] == 2146
    assert 0 < ex["comparison"]["subspace_overlap"][-1] <= 1
    across = analysis.across_steps.fn(
        [outs[0]["id"], outs[10]["id"]], {t: checkpoint_id(c) for t, c in cks.items()}
    )
    assert across["pairs"]
    b = analysis.analyze_step.fn(outs[0]["id"], checkpoint_id(cks[0]), plan.analysis)
    files = analysis.make_plots.fn(str(tmp_path / "plots"), [b, a], [ex["analysis"]], across, 8)
    names = {Path(f).name for f in files}
    assert {"spectrum.png", "overlap_vs_step.png", "across_steps.png"} <= names
    assert "overlap_vs_k_step_000010.png" in names and all(Path(f).stat().st_size for f in files)
