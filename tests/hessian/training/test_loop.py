"""hessian.training.sgd: reproducible plain-SGD runs with snapshots (docs/method.md §5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hessian import problems, training

STEPS, BATCH, LR = 30, 100, 0.3


@pytest.fixture(autouse=True)
def one_thread():
    """The model is tiny: intra-op threads only add overhead (and contention on busy CPUs)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _run(seed=12345, record=(0, 10, STEPS), lr=LR, steps=STEPS, on_record=None):
    p = problems.load("mnist_mini")
    theta0 = p.flat_params().clone()
    snaps = training.sgd(
        p.model,
        p.train_data,
        steps=steps,
        lr=lr,
        batch_size=BATCH,
        seed=seed,
        record_steps=record,
        on_record=on_record,
    )
    return p, theta0, snaps


def test_same_seed_gives_bit_identical_snapshots():
    p1, _, a = _run()
    p2, _, b = _run()
    assert sorted(a) == sorted(b) == [0, 10, STEPS]
    for t in a:
        assert a[t].dtype == torch.float32 and a[t].shape == (p1.D,)
        assert torch.equal(a[t], b[t])
    # the snapshots differ between steps: training moved the parameters
    assert not torch.equal(a[0], a[10]) and not torch.equal(a[10], a[STEPS])
    # the last snapshot is the model's final state (no update after step `steps`)
    assert torch.equal(a[STEPS], p1.flat_params())
    assert torch.equal(p1.flat_params(), p2.flat_params())


def test_other_seed_gives_other_batches():
    _, _, a = _run(seed=1)
    _, _, b = _run(seed=2)
    assert torch.equal(a[0], b[0])  # same initialisation (the problem's seed)
    assert not torch.equal(a[STEPS], b[STEPS])


def test_step_zero_is_the_initialisation_and_snapshots_are_copies():
    p, theta0, snaps = _run()
    assert torch.equal(snaps[0], theta0)
    assert not torch.equal(snaps[0], p.flat_params())
    # a snapshot does not alias the live parameters
    kept = snaps[STEPS].clone()
    assert torch.equal(kept, p.flat_params())
    with torch.no_grad():
        for q in p.model.parameters():
            q.add_(1.0)
    assert torch.equal(snaps[STEPS], kept)
    assert not torch.equal(snaps[STEPS], p.flat_params())


def test_loss_decreases_and_on_record_sees_each_recorded_step():
    seen = {}

    p = problems.load("mnist_mini")

    def on_record(step, theta):  # the model is that of the step: evaluate it
        seen[step] = (theta.clone(), training.evaluate(p.model, p.train_data)[0])

    snaps = training.sgd(
        p.model, p.train_data, steps=STEPS, lr=LR, batch_size=BATCH, record_steps=(STEPS, 0, 0),
        on_record=on_record,
    )  # unsorted, repeated  # fmt: skip
    assert sorted(seen) == sorted(snaps) == [0, STEPS]
    for t, (theta, _) in seen.items():
        assert torch.equal(theta, snaps[t])
    loss0, loss_end = seen[0][1], seen[STEPS][1]
    # cross-entropy of an untrained 10-class net is about log(10) = 2.30
    assert loss0 == pytest.approx(2.30, abs=0.1)
    assert loss_end < loss0 - 0.05


def test_mode_is_restored():
    p = problems.load("mnist_mini")
    assert not p.model.training  # problems come in eval mode
    training.sgd(p.model, p.train_data, steps=2, lr=LR, batch_size=BATCH)
    assert not p.model.training
    p.model.train()
    training.sgd(p.model, p.train_data, steps=2, lr=LR, batch_size=BATCH)
    assert p.model.training


def test_bad_arguments():
    p = problems.load("mnist_mini")
    theta0 = p.flat_params().clone()
    kw = {"steps": 5, "batch_size": BATCH}
    for record in ((-1,), (0, 6), (7,)):
        with pytest.raises(ValueError, match="record steps"):
            training.sgd(p.model, p.train_data, lr=LR, record_steps=record, **kw)
    for lr in (0.0, -0.1):
        with pytest.raises(ValueError, match="lr"):
            training.sgd(p.model, p.train_data, lr=lr, **kw)
    with pytest.raises(ValueError, match="batch_size"):
        training.sgd(p.model, p.train_data, lr=LR, steps=5, batch_size=0)
    with pytest.raises(ValueError):
        training.sgd(p.model, p.train_data, lr=LR, steps=-1, batch_size=BATCH)
    # refused before any update
    assert torch.equal(p.flat_params(), theta0)
    # the boundary steps themselves are fine
    snaps = training.sgd(p.model, p.train_data, lr=LR, record_steps=(0, 5), **kw)
    assert sorted(snaps) == [0, 5]


def test_divergence_raises_floating_point_error():
    """A huge learning rate must stop the run with FloatingPointError, not return NaNs.

    The mnist_mini tanh net with cross-entropy does not blow up even at lr = 1e6 (tanh saturates
    and the cross-entropy gradient is bounded, so the weights grow only linearly). A float32
    linear least-squares model does: each step multiplies the error by about |1 - lr * |x|^2|,
    here ~1e6 * 256e6 (inputs scaled by 1e3), so float32 overflows within a few steps.
    """
    p = problems.load("mnist_mini")
    X, y = p.train_data
    X = X * 1e3
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(256, 10))
    assert next(model.parameters()).dtype == torch.float32

    def mse(out, labels):
        return ((out - nn.functional.one_hot(labels, 10).to(out.dtype)) ** 2).mean()

    with pytest.raises(FloatingPointError, match="diverged"):
        training.sgd(model, (X, y), steps=300, lr=1e6, batch_size=BATCH, loss=mse)
    # the same model and data at a stable learning rate run through
    model2 = nn.Sequential(nn.Flatten(), nn.Linear(256, 10))
    snaps = training.sgd(
        model2, (X, y), steps=20, lr=1e-10, batch_size=BATCH, loss=mse, record_steps=(20,)
    )
    assert torch.isfinite(snaps[20]).all()


def test_resume_is_exact_with_batchnorm_and_dropout():
    """Parameters and BN statistics at a recorded step, then start_step: the same run."""
    from hessian.operators import flat_buffers, load_flat_buffers, load_flat_params

    def model():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.BatchNorm1d(16), torch.nn.Tanh(),
            torch.nn.Dropout(0.3), torch.nn.Linear(16, 3),
        )  # fmt: skip

    g = torch.Generator().manual_seed(1)
    data = (torch.randn(64, 6, generator=g), torch.randint(0, 3, (64,), generator=g))
    kw = {"steps": 20, "lr": 0.1, "batch_size": 16, "seed": 5}
    snap = {}

    def keep(t, params):
        snap[t] = (params.clone(), flat_buffers(m))

    m = model()
    full = training.sgd(m, data, record_steps=[10, 20], on_record=keep, **kw)
    m2 = model()
    load_flat_params(m2, snap[10][0])
    load_flat_buffers(m2, snap[10][1])
    resumed = training.sgd(m2, data, record_steps=[20], start_step=10, **kw)
    torch.testing.assert_close(resumed[20], full[20], rtol=0, atol=1e-6)
    np.testing.assert_allclose(flat_buffers(m2), flat_buffers(m), atol=1e-6)
    rng = torch.get_rng_state()
    training.sgd(model(), data, **kw)
    assert torch.equal(torch.get_rng_state(), rng)  # the caller's RNG is left alone
