"""The generalised Gauss-Newton matrix as a batched linear operator.

G = J^T H_out J with J = d f / d theta the Jacobian of the model outputs and H_out the Hessian of
the loss w.r.t. the outputs (for softmax cross-entropy, (diag(p) - p p^T) / n per sample).
G is positive semi-definite for convex losses. Schraudolph (2002); Martens (2020), "New insights
and perspectives on the natural gradient method", §8.
A product is J v by forward mode, H_out by forward-over-reverse on the outputs (exact for any
loss), and J^T by reverse mode, all vmapped over the block.
"""

from __future__ import annotations

from torch import Tensor
from torch.func import grad, jvp, vjp, vmap

from hessian.operators.base import CurvatureOperator


class GGNOperator(CurvatureOperator):
    """Generalised Gauss-Newton matrix of the mean loss over the fixed data (PSD)."""

    kind = "GGN"

    def _batch_matmat(self, x: Tensor, y: Tensor, V: Tensor) -> Tensor:
        def f(flat: Tensor) -> Tensor:
            return self.forward(flat, x)

        logits, f_vjp = vjp(f, self.theta)
        loss_grad = grad(lambda z: self.loss(z, y))

        def ggn_vp(v: Tensor) -> Tensor:
            Jv = jvp(f, (self.theta,), (v,))[1]
            HJv = jvp(loss_grad, (logits,), (Jv,))[1]
            return f_vjp(HJv)[0]

        if V.shape[0] == 1:
            return ggn_vp(V[0]).unsqueeze(0)
        return vmap(ggn_vp)(V)
