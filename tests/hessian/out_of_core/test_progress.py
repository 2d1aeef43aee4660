"""What a measurement run shows: a plain line every so often when output is a log."""

import time

from hessian.out_of_core.progress import MeasureProgress


def test_plain_lines_in_logs(capsys):
    t0 = time.perf_counter() - 10.0
    with MeasureProgress(True, total=10, completed=2, t0=t0, every=0.0) as bar:
        assert bar.plain  # captured output is not a terminal
        bar.block_measured(n_measured=1, n_left=7, n_vectors=8)
        bar.finish(3)
    out = capsys.readouterr().out
    assert "measuring: 3/10 blocks" in out and "HVP/s" in out and "ETA" in out


def test_disabled_shows_nothing(capsys):
    with MeasureProgress(False, total=4, completed=0, t0=time.perf_counter()) as bar:
        bar.block_measured(1, 3, 4)
        bar.finish(1)
    assert capsys.readouterr().out == ""
