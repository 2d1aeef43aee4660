"""The loss Hessian as a batched linear operator.

H = d^2 L / d theta^2 of the mean loss over a fixed data subset (docs/method.md §1).
A product is forward-over-reverse, Hv = d/dt grad L(theta + t v) at t = 0
(``torch.func.jvp`` of ``torch.func.grad``), which needs less memory than double backward, and is
vmapped over a block of vectors so one pass over the data serves the whole block.
"""

from __future__ import annotations

from torch import Tensor
from torch.func import grad, jvp, vmap

from hessian.operators.base import CurvatureOperator


class HessianOperator(CurvatureOperator):
    """Hessian of the mean loss over the fixed data, ``op @ X`` for X of shape (D, m).

    Example:
        >>> import hessian
        >>> p = hessian.problems.load("mnist_mini")
        >>> H = hessian.HessianOperator(p.model, p.hessian_data, vectors_per_pass=64)
        >>> Hv = H @ np.ones(H.D)
    """

    kind = "Hessian"

    def _batch_matmat(self, x: Tensor, y: Tensor, V: Tensor) -> Tensor:
        g = grad(self.batch_loss)

        def hvp(v: Tensor) -> Tensor:
            return jvp(lambda flat: g(flat, x, y), (self.theta,), (v,))[1]

        if V.shape[0] == 1:  # one vector per pass: no vmap (the paper's way, for comparison)
            return hvp(V[0]).unsqueeze(0)
        return vmap(hvp)(V)
