"""Metrics between parameter masks and Hessian eigenspaces (docs/method.md §4).

A k-sparse mask S is the orthonormal D x k matrix M of its one-hot columns; the top-k eigenbasis
V_k is another point on the Grassmannian G(k, D). Their principal angles satisfy
cos(theta_j) = sigma_j(M^T V_k) = sigma_j(V_k[S, :]), and the overlap is

    overlap(S, V_k) = (1/k) ||V_k[S, :]||_F^2 = (1/k) sum_j cos^2(theta_j)   in [0, 1],

with chance level k/D for a uniform random k-subset (Fernandez, Schneider, Mahsereci & Hennig,
"Connecting Parameter Magnitudes and Hessian Eigenspaces at Scale using Sketched Methods",
TMLR 2025). All algebra is done in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hessian._checks import as_eigenvectors, check_int, to_numpy
from hessian.solvers.linalg import nested_overlaps

__all__ = [
    "chance",
    "grassmannian_metrics",
    "iou",
    "iou_curve",
    "mask_metrics",
    "overlap",
    "principal_angles",
    "subspace_overlap",
    "subspace_principal_angles",
]

GRASSMANNIAN_KEYS = (
    "overlap",
    "geodesic",
    "chordal_2",
    "chordal_F",
    "projection_2",
    "projection_F",
    "fubini_study",
)


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _index_array(x: Any, name: str, ndims: tuple[int, ...] = (1,)) -> np.ndarray:
    a = to_numpy(x)
    if a.ndim not in ndims:
        raise ValueError(f"{name} must have ndim in {ndims}, got shape {a.shape}")
    if a.shape[-1] < 1:
        raise ValueError(f"{name} is empty")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _check_unique(a: np.ndarray, name: str) -> None:
    """Raises if any row of a (1-D or 2-D) has repeated entries: a mask must be a set."""
    s = np.sort(a, axis=-1)
    if np.any(s[..., 1:] == s[..., :-1]):
        raise ValueError(f"{name} contains duplicated indices; a mask must be a set")


def _mask(mask_indices: Any, D: int, ndims: tuple[int, ...] = (1,)) -> np.ndarray:
    S = _index_array(mask_indices, "mask_indices", ndims)
    if S.min() < 0 or S.max() >= D:
        raise ValueError(
            f"mask_indices out of range: values must lie in 0..{D - 1} (D={D}), "
            f"got min {S.min()} and max {S.max()}"
        )
    _check_unique(S, "mask_indices")
    return S


# --------------------------------------------------------------------------------------------
# chance level and overlap
# --------------------------------------------------------------------------------------------
def chance(k: Any, D: int) -> float | np.ndarray:
    """Chance-level overlap k / D of a uniformly random k-subset (docs/method.md §4).

    E[(1/k) ||V_k[S, :]||_F^2] = (1/k) (k/D) ||V_k||_F^2 = k/D, since each row is in S with
    probability k/D.

    Args:
        k: Mask size(s); scalar or array, 0 <= k <= D.
        D: Number of parameters.

    Returns:
        A float for scalar k, else a float64 array shaped like k.
    """
    if isinstance(D, bool) or not isinstance(D, (int, np.integer)) or D < 1:
        raise ValueError(f"D must be a positive integer, got {D!r}")
    ka = np.asarray(k, dtype=np.float64)
    if np.any(ka < 0) or np.any(ka > D):
        raise ValueError(f"k must lie in 0..D, got k={k} with D={D}")
    out = ka / D
    return float(out) if out.ndim == 0 else out


def overlap(mask_indices: Any, eigenvectors: Any, k_max: int | None = None) -> np.ndarray:
    """Overlap for every k = 1..k_max from one gather (docs/method.md §4).

    W = V[S[:k_max], :k_max] (float64), P = 2-D prefix sum of W**2 (cumsum over both axes),
    overlap(k) = P[k-1, k-1] / k = (1/k) ||V[S[:k], :k]||_F^2 (``nested_overlaps(W)``).

    Args:
        mask_indices: (k_S,) mask in rank order, or (draws, k_S) for several masks.
        eigenvectors: (D, k_V) orthonormal columns ordered by |eigenvalue| descending.
        k_max: Largest k; default min(k_S, k_V).

    Returns:
        float64 array of shape (k_max,) (index k-1 is the overlap at k), or (draws, k_max).

    Raises:
        ValueError: Indices out of range or duplicated, bad shapes, or k_max out of range.
    """
    V = as_eigenvectors(eigenvectors)
    D, kv = V.shape
    S = _mask(mask_indices, D, ndims=(1, 2))
    limit = min(S.shape[-1], kv)
    k_max = limit if k_max is None else check_int(k_max, 1, limit, "k_max")
    rows = S[None, :k_max] if S.ndim == 1 else S[:, :k_max]
    out = np.empty((rows.shape[0], k_max), dtype=np.float64)
    Vk = V[:, :k_max]
    for i, r in enumerate(rows):  # one (k_max x k_max) gather per mask: bounded memory
        out[i] = nested_overlaps(Vk[r].astype(np.float64))
    return out[0] if S.ndim == 1 else out


# --------------------------------------------------------------------------------------------
# principal angles and Grassmannian metrics
# --------------------------------------------------------------------------------------------
def principal_angles(mask_indices: Any, eigenvectors: Any, k: int) -> np.ndarray:
    """Principal angles between the size-k mask and the top-k eigenbasis (docs/method.md §4).

    cos(theta_j) = singular values of V[S[:k], :k], clipped to [0, 1].

    Args:
        mask_indices: (k_S,) mask in rank order, k <= k_S.
        eigenvectors: (D, k_V) orthonormal columns, k <= k_V.
        k: Subspace dimension.

    Returns:
        float64 array of k angles in radians, ascending.
    """
    V = as_eigenvectors(eigenvectors)
    S = _mask(mask_indices, V.shape[0])
    k = check_int(k, 1, min(S.shape[0], V.shape[1]))
    M = V[S[:k], :k].astype(np.float64)
    cos = np.clip(np.linalg.svd(M, compute_uv=False), 0.0, 1.0)
    return np.sort(np.arccos(cos))


def subspace_principal_angles(A: Any, B: Any) -> np.ndarray:
    """Principal angles between span(A) and span(B) for orthonormal bases A (D, k_A), B (D, k_B).

    cos(theta_j) = singular values of A^T B. Small angles are taken from the sines instead,
    sin(theta_j) = singular values of (I - B B^T) A (the narrower basis is A), which is accurate
    near 0 where arccos is not (Knyazev & Argentati 2002; as in ``scipy.linalg.subspace_angles``).
    Used to compare eigenspaces at two steps, or a sketch against exact eigenvectors.

    Returns:
        float64 array of min(k_A, k_B) angles in radians, ascending.
    """
    A = as_eigenvectors(A, "A").astype(np.float64)
    B = as_eigenvectors(B, "B").astype(np.float64)
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B must have the same number of rows, got {A.shape} and {B.shape}")
    if A.shape[1] > B.shape[1]:
        A, B = B, A
    C = B.T @ A  # (k_B, k_A)
    cos = np.clip(np.linalg.svd(C, compute_uv=False), 0.0, 1.0)  # descending
    sin = np.clip(np.linalg.svd(A - B @ C, compute_uv=False)[::-1], 0.0, 1.0)  # ascending
    theta_cos = np.arccos(cos)
    theta_sin = np.arcsin(sin)
    theta = np.where(sin * sin < 0.5, theta_sin, theta_cos)
    return np.sort(theta)


def grassmannian_metrics(theta: Any) -> dict[str, float]:
    """The seven Grassmannian quantities of docs/method.md §4 from principal angles theta.

    overlap = mean cos^2(theta) (= 1 - projection_F^2 / k); geodesic = ||theta||_2;
    chordal_2 = max 2 sin(theta/2); chordal_F = ||2 sin(theta/2)||_2; projection_2 = max sin(theta);
    projection_F = ||sin(theta)||_2; fubini_study = arccos(prod cos(theta)).

    Args:
        theta: 1-D principal angles in [0, pi/2] (radians).

    Returns:
        Dict with keys overlap, geodesic, chordal_2, chordal_F, projection_2, projection_F,
        fubini_study (floats).
    """
    t = np.asarray(to_numpy(theta), dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"theta must be a non-empty 1-D array, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("theta contains NaN or inf values")
    tol = 1e-10
    if t.min() < -tol or t.max() > np.pi / 2 + tol:
        raise ValueError(f"principal angles must lie in [0, pi/2], got [{t.min()}, {t.max()}]")
    t = np.clip(t, 0.0, np.pi / 2)
    cos, sin = np.cos(t), np.sin(t)
    chord = 2.0 * np.sin(t / 2.0)
    return {
        "overlap": float(np.mean(cos * cos)),
        "geodesic": float(np.linalg.norm(t)),
        "chordal_2": float(chord.max()),
        "chordal_F": float(np.linalg.norm(chord)),
        "projection_2": float(sin.max()),
        "projection_F": float(np.linalg.norm(sin)),
        "fubini_study": float(np.arccos(np.clip(np.prod(cos), 0.0, 1.0))),
    }


def mask_metrics(mask_indices: Any, eigenvectors: Any, k: int) -> dict[str, float]:
    """All seven Grassmannian metrics between the size-k mask and the top-k eigenbasis.

    Equivalent to ``grassmannian_metrics(principal_angles(mask_indices, eigenvectors, k))``.
    """
    return grassmannian_metrics(principal_angles(mask_indices, eigenvectors, k))


def subspace_overlap(A: Any, B: Any) -> float:
    """Subspace overlap ||A^T B||_F^2 / k_A for orthonormal bases A (D, k_A), B (D, k_B).

    The fraction of span(A) captured by span(B), in [0, 1] (equals mean cos^2 of the principal
    angles when k_B == k_A; with k_B > k_A it is the share of A inside the wider span(B)).
    Used to compare eigenspaces between steps and sketch vs exact (docs/method.md §4).
    """
    A = as_eigenvectors(A, "A")
    B = as_eigenvectors(B, "B")
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B must have the same number of rows, got {A.shape} and {B.shape}")
    C = A.astype(np.float64).T @ B.astype(np.float64)
    return float(np.sum(C * C) / A.shape[1])


# --------------------------------------------------------------------------------------------
# intersection over union of masks
# --------------------------------------------------------------------------------------------
def iou(mask_a: Any, mask_b: Any) -> float:
    """Intersection over union |A ∩ B| / |A ∪ B| of two index sets.

    For two size-k masks seen as one-hot subspaces with ov = |A ∩ B| / k, IoU = ov / (2 - ov)
    (docs/method.md §4).
    """
    a = _index_array(mask_a, "mask_a")
    b = _index_array(mask_b, "mask_b")
    _check_unique(a, "mask_a")
    _check_unique(b, "mask_b")
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


def iou_curve(mask_a: Any, mask_b: Any, k_max: int | None = None) -> np.ndarray:
    """IoU of the size-k prefixes of two ranked masks for every k = 1..k_max.

    The element at rank i of A (0-based) that sits at rank j of B enters the intersection at
    k = max(i, j) + 1, so |A_k ∩ B_k| is a cumulative count (O(k_max log k_max)) and
    IoU(k) = |A_k ∩ B_k| / (2k - |A_k ∩ B_k|).

    Args:
        mask_a: 1-D ranked mask.
        mask_b: 1-D ranked mask.
        k_max: Largest prefix size; default min(len(mask_a), len(mask_b)).

    Returns:
        float64 array of shape (k_max,); index k-1 is the IoU at k.
    """
    a = _index_array(mask_a, "mask_a")
    b = _index_array(mask_b, "mask_b")
    limit = min(a.size, b.size)
    k_max = limit if k_max is None else check_int(k_max, 1, limit, "k_max")
    a, b = a[:k_max], b[:k_max]
    _check_unique(a, "mask_a")
    _check_unique(b, "mask_b")
    order_b = np.argsort(b, kind="stable")
    sorted_b = b[order_b]
    pos = np.searchsorted(sorted_b, a)
    pos_c = np.minimum(pos, k_max - 1)
    found = sorted_b[pos_c] == a
    rank_in_b = order_b[pos_c]
    enter = np.maximum(np.arange(k_max), rank_in_b)[found]
    inter = np.cumsum(np.bincount(enter, minlength=k_max)).astype(np.float64)
    ks = np.arange(1, k_max + 1, dtype=np.float64)
    return inter / (2.0 * ks - inter)
