"""Where a run's files live."""

from pathlib import Path

from hessian_sketch.flows.layout import Layout


def test_every_file_of_a_run_is_under_its_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lay = Layout.of("runs/x")
    assert lay.root == tmp_path / "runs" / "x" and lay.root.is_absolute()
    assert lay.sketch(300) == lay.root / "sketches" / "step_000300.zarr"
    assert lay.exact(7) == lay.root / "exact" / "step_000007.npz"
    named = (lay.checkpoints, lay.plots, lay.cache, lay.summary, lay.config, lay.mlartifacts)
    assert [p.name for p in named] == [
        "checkpoints", "plots", "cache", "summary.json", "config.yaml", "mlartifacts",
    ]  # fmt: skip
    assert all(p.parent == lay.root for p in named)
    assert Layout.of(Path("runs/x")) == lay
