"""Parameter masks: ranked index sets compared against Hessian eigenspaces.

A mask is a 1-D ``int64`` array of parameter indices in RANK ORDER (most important first), so the
mask of size k is its first k entries and masks are nested in k. Parameters are indexed in the
flattened ``model.parameters()`` order. See docs/method.md §4 (Fernandez et al. 2025, TMLR,
arXiv 2504.14701).

Masks provided:
    * :func:`magnitude` -- top-k |theta| (taken at the same step as the Hessian).
    * :func:`random` -- uniformly random ordered k-subsets (chance level k/D).
    * :func:`best` -- top-k rows of V_k by squared row norm (the overlap upper bound at k).
    * :func:`from_scores` / :func:`ggn_diagonal` -- generic top-k by a score.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from hessian._checks import as_eigenvectors, check_k, to_numpy

__all__ = [
    "best",
    "best_overlap",
    "from_scores",
    "ggn_diagonal",
    "magnitude",
    "random",
]


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or (hasattr(x, "detach") and hasattr(x, "cpu"))


def _flat_params(params: Any) -> np.ndarray:
    """Flattens a 1-D array/tensor, or concatenates an iterable of arrays/tensors in order."""
    if _is_array(params):
        arr = to_numpy(params)
        if arr.ndim != 1:
            raise ValueError(
                f"params must be a flat 1-D array/tensor, got shape {arr.shape}; "
                "pass a list of tensors to flatten and concatenate them"
            )
        return arr
    if isinstance(params, Iterable) and not isinstance(params, (str, bytes)):
        parts = [to_numpy(p).ravel() for p in params]
        if not parts:
            raise ValueError("params is an empty iterable")
        return np.concatenate(parts)
    raise ValueError(f"params must be an array, tensor or iterable of them, got {type(params)}")


def from_scores(scores: Any, k: int) -> np.ndarray:
    """Indices of the k largest scores, in descending order of score.

    Ties are broken by the lower index (equivalent to a stable sort of ``-scores``).
    ``np.argpartition`` first selects the candidates, so the cost is O(D + k log k).

    Args:
        scores: 1-D array or tensor of length D (finite).
        k: Mask size, 1 <= k <= D.

    Returns:
        ``int64`` array of shape (k,), rank order (highest score first).

    Raises:
        ValueError: Non-1-D or non-finite scores, or k out of range.
    """
    s = to_numpy(scores)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    D = s.shape[0]
    if D == 0:
        raise ValueError("scores is empty (D=0)")
    k = check_k(k, D)
    if not np.issubdtype(s.dtype, np.number) or np.issubdtype(s.dtype, np.complexfloating):
        raise ValueError(f"scores must be real numbers, got dtype {s.dtype}")
    if np.issubdtype(s.dtype, np.floating) and not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf values")
    if np.issubdtype(s.dtype, np.unsignedinteger):
        s = s.astype(np.float64)
    if k == D:
        cand = np.arange(D)
    else:
        # The k-th largest value: everything strictly above it is in, then the lowest-index
        # entries equal to it fill the remaining slots (deterministic tie-breaking).
        part = np.argpartition(-s, k - 1)[:k]
        thresh = s[part].min()
        above = np.flatnonzero(s > thresh)
        equal = np.flatnonzero(s == thresh)[: k - above.size]
        cand = np.sort(np.concatenate([above, equal]))
    order = np.argsort(-s[cand], kind="stable")
    return cand[order].astype(np.int64)


def magnitude(params: Any, k: int) -> np.ndarray:
    """Magnitude mask: indices of the k largest |theta|, descending (docs/method.md §4).

    Ties are broken by the lower index. Use the parameters of the SAME step as the Hessian.

    Args:
        params: Flat 1-D array/tensor of the D parameters, or an iterable of arrays/tensors
            (e.g. ``model.parameters()``), flattened and concatenated in order.
        k: Mask size, 1 <= k <= D.

    Returns:
        ``int64`` array of shape (k,) in rank order; nested in k.

    Raises:
        ValueError: NaN/inf in params, bad shape, or k out of range.
    """
    theta = _flat_params(params)
    if theta.size == 0:
        raise ValueError("params is empty (D=0)")
    if not np.issubdtype(theta.dtype, np.number) or np.issubdtype(theta.dtype, np.complexfloating):
        raise ValueError(f"params must be real numbers, got dtype {theta.dtype}")
    if np.issubdtype(theta.dtype, np.floating) and not np.isfinite(theta).all():
        raise ValueError("params contain NaN or inf values; cannot rank by magnitude")
    return from_scores(np.abs(theta), k)


def ggn_diagonal(diagonal: Any, k: int) -> np.ndarray:
    """GGN-diagonal mask: top-k entries of diag(G), descending.

    The diagonal (length D) is estimated elsewhere from the GGN operator (e.g. Hutchinson or an
    exact per-coordinate pass); this function only ranks it (docs/method.md §4, the paper's
    revision).

    Args:
        diagonal: 1-D array/tensor of length D.
        k: Mask size, 1 <= k <= D.

    Returns:
        ``int64`` array of shape (k,) in rank order.
    """
    return from_scores(diagonal, k)


def random(D: int, k: int, *, draws: int = 1, seed: int = 0) -> np.ndarray:
    """Random masks: each row a uniformly random ordered k-subset of range(D).

    Every row is the first k entries of an independent uniform permutation of range(D)
    (``rng.choice(D, k, replace=False)``), so prefixes are also uniform random subsets and
    E[overlap(k)] = k / D (docs/method.md §4).

    Args:
        D: Number of parameters.
        k: Mask size, 1 <= k <= D.
        draws: Number of independent masks.
        seed: Seed for ``np.random.default_rng(np.random.SeedSequence(seed))``; reproducible.

    Returns:
        ``int64`` array of shape (draws, k).
    """
    if isinstance(D, bool) or not isinstance(D, (int, np.integer)) or D < 1:
        raise ValueError(f"D must be a positive integer, got {D!r}")
    k = check_k(k, int(D))
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    out = np.empty((int(draws), k), dtype=np.int64)
    for i in range(int(draws)):
        out[i] = rng.choice(int(D), k, replace=False)
    return out


def best(eigenvectors: Any, k: int) -> np.ndarray:
    """Best mask at a fixed k: top-k rows of V[:, :k] by squared row norm, descending.

    This maximises overlap(S, V_k) = (1/k) ||V_k[S, :]||_F^2 over all k-subsets, so it is an
    upper bound for any mask at that k (docs/method.md §4). Unlike other masks, best masks at
    different k are NOT nested; use :func:`best_overlap` for the bound at every k.

    Args:
        eigenvectors: (D, k_V) array, columns ordered by |eigenvalue| descending.
        k: Mask size, 1 <= k <= k_V.

    Returns:
        ``int64`` array of shape (k,).
    """
    V = as_eigenvectors(eigenvectors)
    k = check_k(k, V.shape[1], "k")
    Vk = V[:, :k].astype(np.float64, copy=False)
    return from_scores(np.einsum("ij,ij->i", Vk, Vk), k)


def best_overlap(eigenvectors: Any, ks: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Best achievable overlap at each k: (1/k) * sum of the k largest ||V[i, :k]||^2.

    Squared row norms are accumulated column by column (one pass over V, O(D) extra memory),
    and at each requested k the k largest are summed (O(D) via partition).

    Args:
        eigenvectors: (D, k_V) array, columns ordered by |eigenvalue| descending.
        ks: Mask sizes in 1..k_V (any order); default 1..k_V.

    Returns:
        float64 array aligned with ``ks``.
    """
    V = as_eigenvectors(eigenvectors)
    D, kv = V.shape
    ks_arr = np.arange(1, kv + 1) if ks is None else np.asarray(ks)
    if ks_arr.ndim != 1 or ks_arr.size == 0:
        raise ValueError(f"ks must be a non-empty 1-D sequence, got shape {ks_arr.shape}")
    if not np.issubdtype(ks_arr.dtype, np.integer):
        raise ValueError(f"ks must be integers, got dtype {ks_arr.dtype}")
    if ks_arr.min() < 1 or ks_arr.max() > kv:
        raise ValueError(f"ks must lie in 1..{kv} (number of eigenvectors), got {ks_arr}")
    wanted = set(int(k) for k in ks_arr)
    result: dict[int, float] = {}
    row_sq = np.zeros(D, dtype=np.float64)
    for j in range(int(ks_arr.max())):
        col = V[:, j].astype(np.float64, copy=False)
        row_sq += col * col
        k = j + 1
        if k in wanted:
            top = row_sq if k == D else np.partition(row_sq, D - k)[D - k :]
            result[k] = float(top.sum()) / k
    return np.array([result[int(k)] for k in ks_arr], dtype=np.float64)
