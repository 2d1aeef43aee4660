"""Your own problem, defined outside the library: a small CNN on the bundled digits.

    hessian run cnn.yaml            # cnn.yaml: problem: "examples.digits_cnn:factory"
    hessian.problems.load("examples.digits_cnn:factory")
    hessian.problems.register("digits_cnn", "examples.digits_cnn:factory")

The factory returns a ``hessian.problems.UserProblem``: the model, the training data (here a
torch ``Dataset``, from which the class-balanced Hessian subset is drawn as for the paper's
problems), the batch-mean loss and a few paper-style settings. It is called in every process
that needs the problem (each Dask worker imports it by the same path), inside
``torch.manual_seed(seed)``, so the model's default initialisation is the same everywhere.

Run from the repository root (the current directory is on the import path of the factory), or
put the module's directory on ``PYTHONPATH``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from hessian.problems import UserProblem, digits_16x16


class DigitsCNN(nn.Sequential):
    """conv 1->4 (3x3) - tanh - maxpool 2 - conv 4->8 (3x3) - tanh - maxpool 2 - linear 128->10:
    D = 1,626 for 16x16 inputs."""

    def __init__(self, num_classes: int = 10):
        super().__init__(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.Tanh(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1),
            nn.Tanh(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(8 * 4 * 4, num_classes),
        )


class Digits(Dataset):
    """scikit-learn's bundled digits at 16x16 as a torch Dataset of (image, label) pairs."""

    def __init__(self):
        self.x, self.targets = digits_16x16()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return self.x[i], self.targets[i]


#: paper-style settings of this problem (any of hessian.problems.SETTINGS)
SETTINGS = {"lr": 0.3, "batch_size": 500, "n_hessian": 500, "record_steps": (0, 50), "k": 30}


def factory(seed: int = 0) -> UserProblem:
    """The digits CNN at its initialisation from ``seed``, with its data, loss and settings."""
    torch.manual_seed(seed)  # the caller seeds too; explicit for use outside the pipeline
    return UserProblem(
        model=DigitsCNN(),
        train_data=Digits(),
        loss=F.cross_entropy,
        settings=SETTINGS,
    )


if __name__ == "__main__":  # the library alone: train a little, sketch, compare with magnitude
    import hessian
    from hessian import masks, problems, training

    p = problems.load("examples.digits_cnn:factory")
    training.sgd(p.model, p.train_data, steps=50, lr=0.3, batch_size=500, seed=0, loss=p.loss)
    H = hessian.HessianOperator(p.model, p.hessian_data, loss=p.loss, vectors_per_pass=32)
    r = hessian.seigh(H, k=30, s=60, noise="sparse")
    ov = hessian.overlap(masks.magnitude(p.flat_params(), 30), r.eigenvectors)
    print(f"D = {p.D:,}; top eigenvalues {r.eigenvalues[:5].round(3)}; overlap at k = 30:"
          f" {ov[-1]:.3f} (chance {30 / p.D:.3f})")  # fmt: skip
