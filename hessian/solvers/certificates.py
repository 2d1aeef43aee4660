"""Certificates: what a computed eigenpair is worth, from its residual and the eigengaps.

For a unit vector v and theta = v^T H v, the residual r = ||H v - theta v|| bounds, for a
symmetric H (docs/method.md, "Certificates"):

- Weyl / Bauer-Fike: some eigenvalue of H lies in [theta - r, theta + r];
- Kato-Temple: if the interval (theta - delta, theta + delta) holds exactly one eigenvalue
  lambda of H, then |lambda - theta| <= r^2 / delta;
- Davis-Kahan sin-Theta (Frobenius form): for V (D x k') orthonormal with Theta = V^T H V
  diagonal and R = H V - V Theta, if every theta_i is at distance >= delta from every
  eigenvalue of H outside the top-k' (by |lambda|), then ||sin Theta(V, U_k')||_F <= ||R||_F /
  delta, so the subspace overlap  ||U_k'^T V||_F^2 / k' >= 1 - (||R||_F / delta)^2 / k'.

The eigenvalues of H beyond the top-k' are placed by the resolved pairs beyond k' (the prefix
of pairs checked with relative residual <= tol; each has an eigenvalue within [theta_j - r_j,
theta_j + r_j]) and, for the rest, in [-beta, beta]: beta = |theta_P| of the first pair P that
was checked and is not resolved, or |theta_P-1| + r_P-1 of the last resolved one where P was not
checked. That last step assumes no eigenvalue of H above beta in magnitude is missing from the
resolved pairs: a Krylov space resolves the ends of the spectrum first and from a random start
misses an eigenvector with probability zero (the convergence test of ARPACK and SLEPc rests on
the same), a single-pass sketch can miss them (its certificate covers only the leading pairs it
checked, and fails where it is wrong).

The *certified rank* is the largest k' <= k such that the pairs 1..k' all have relative
residuals r_i / |theta_i| <= ``tol`` and the Davis-Kahan overlap bound for the top-k'
subspace is >= 1 - ``subspace_tol``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

#: default relative residual a certified pair must reach
RESIDUAL_TOL = 1e-2
#: default 1 - (overlap bound) a certified subspace must reach
SUBSPACE_TOL = 1e-2
#: pairs a fresh-product check of a sketch covers: the leading ones, then a spread sample
LEADING_CHECKS = 48
SPREAD_CHECKS = 16


@dataclass
class Certificate:
    """The certificate of a set of eigenpairs (ordered by |lambda|).

    Attributes:
        k: pairs asked for.
        certified_rank: largest k' whose top-k' subspace and pairs are certified (see module).
        tol, subspace_tol: the tolerances it was certified to.
        checked: indices (0-based) of the pairs whose residuals were computed (pairs beyond k
            place the rest of the spectrum).
        residuals: relative residuals ||H v - theta v|| / |theta| of the checked pairs.
        overlap_bound: Davis-Kahan lower bound on the top-k' subspace overlap, for
            k' = 1..(contiguous checked prefix); NaN where no gap separates k' from k'+1.
        eigenvalue_bounds: Kato-Temple bound on |lambda_i - theta_i| / |theta_i| of the
            checked pairs (Weyl's r_i / |theta_i| where no gap isolates the pair).
        theta: the computed eigenvalues of all pairs the certificate placed (m >= k).
        source: "krylov" (all residuals from the Krylov relation, checked by fresh products on
            a sample) or "products" (residuals from fresh products of the checked pairs).
        verified: for Krylov certificates, the largest difference between the relative
            residuals of the relation and those of fresh products on the sample.
    """

    k: int
    certified_rank: int
    tol: float
    subspace_tol: float
    checked: np.ndarray
    residuals: np.ndarray
    overlap_bound: np.ndarray
    eigenvalue_bounds: np.ndarray
    source: str = "krylov"
    verified: float | None = None
    theta: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.certified_rank >= self.k

    @property
    def reported(self) -> np.ndarray:
        """Relative residuals of the checked pairs among the k asked for."""
        return np.asarray(self.residuals)[np.asarray(self.checked) < self.k]

    @property
    def max_residual(self) -> float:
        r = self.reported
        return float(np.max(r)) if len(r) else float("nan")

    @property
    def median_residual(self) -> float:
        r = self.reported
        return float(np.median(r)) if len(r) else float("nan")

    @property
    def fraction_within_tol(self) -> float:
        """Share of the checked pairs (of the k) whose residual is within tol."""
        r = self.reported
        return float(np.mean(r <= self.tol)) if len(r) else 0.0

    def summary(self) -> dict:
        """The JSON-ready record that goes into summary.json, MLflow and the store."""
        out = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("checked", "residuals", "overlap_bound", "eigenvalue_bounds", "theta")
        }
        out.update(
            max_residual=self.max_residual,
            median_residual=self.median_residual,
            fraction_within_tol=self.fraction_within_tol,
            n_checked=len(self.reported),
            complete=self.complete,
        )
        return out

    def record(self) -> dict:
        """``summary()`` with the residuals of the checked pairs among the k (for plots and
        per-pair metrics; JSON-ready)."""
        keep = np.asarray(self.checked) < self.k
        return self.summary() | {
            "checked": [int(i) for i in np.asarray(self.checked)[keep]],
            "residuals": [float(r) for r in np.asarray(self.residuals)[keep]],
        }

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "checked": np.asarray(self.checked, dtype=np.int64),
            "residuals": np.asarray(self.residuals, dtype=np.float64),
            "overlap_bound": np.asarray(self.overlap_bound, dtype=np.float64),
            "eigenvalue_bounds": np.asarray(self.eigenvalue_bounds, dtype=np.float64),
            "theta": np.asarray(self.theta, dtype=np.float64),
        }

    @classmethod
    def from_record(cls, summary: dict, arrays: dict) -> Certificate:
        keep = {"k", "certified_rank", "tol", "subspace_tol", "source", "verified", "notes"}
        return cls(**{k: summary[k] for k in keep if k in summary}, **arrays)

    def warning(self) -> str | None:
        """The one line a user must see when fewer than k pairs are certified, else None."""
        if self.complete:
            return None
        return (
            f"only {self.certified_rank} of the k = {self.k} eigenpairs are certified "
            f"(relative residual <= {self.tol:g}, subspace overlap >= {1 - self.subspace_tol:g}; "
            f"median residual {self.median_residual:.2g}): use sketch.mode: accurate for "
            "certified eigenpairs"
        )


def certify(
    theta: np.ndarray,
    abs_residuals: np.ndarray,
    k: int,
    *,
    checked: np.ndarray | None = None,
    tol: float = RESIDUAL_TOL,
    subspace_tol: float = SUBSPACE_TOL,
    source: str = "krylov",
) -> Certificate:
    """Certify the top-k of m >= k pairs (|lambda| order) from their absolute residuals.

    Args:
        theta: the m computed eigenvalues (|theta| descending), m >= k; pairs beyond k place
            the rest of the spectrum (more of them give a sharper gap at k).
        abs_residuals: ||H v_i - theta_i v_i|| of the checked pairs (same order as ``checked``).
        checked: 0-based indices of the checked pairs (default: all m).
        tol, subspace_tol: see the module.
    """
    theta = np.asarray(theta, dtype=np.float64)
    m = len(theta)
    checked = np.arange(m) if checked is None else np.asarray(checked, dtype=np.int64)
    r = np.asarray(abs_residuals, dtype=np.float64)
    if len(r) != len(checked):
        raise ValueError(f"{len(r)} residuals for {len(checked)} checked pairs")
    mag = np.maximum(np.abs(theta[checked]), np.finfo(float).tiny)
    rel = r / mag
    # the contiguous checked prefix 0..p-1: only there is ||R_k'||_F known
    p = 0
    while p < len(checked) and checked[p] == p:
        p += 1
    res_full = np.full(m, np.inf)
    res_full[checked] = r
    # the resolved prefix 0..P-1: checked and within tol; it places the spectrum beyond k'
    P = int(np.argmin(np.append(rel[:p] <= tol, False)))
    # the rest lies in [-beta, beta]: below the first pair not resolved, or, where that pair
    # was not checked, within the last resolved one's interval
    if P < p:
        beta = abs(theta[P])
    else:
        beta = abs(theta[P - 1]) + res_full[P - 1] if P > 0 else np.inf
    bound = np.full(min(p, k), np.nan)
    kmax = min(P, k)
    if kmax:
        bound[:kmax] = _overlap_bounds(theta[:P], res_full[:P], kmax, beta)
    ok_res = np.cumprod(rel[: min(p, k)] <= tol).astype(bool)
    ok = ok_res & (np.nan_to_num(bound, nan=0.0) >= 1 - subspace_tol)
    certified = int(np.flatnonzero(ok).max() + 1) if ok.any() else 0
    # Kato-Temple per pair: the gap to the nearest other placed eigenvalue (or the bulk)
    placed = np.arange(P)
    gaps = np.abs(theta[checked][:, None] - theta[placed][None, :]) - res_full[placed][None, :]
    gaps[checked[:, None] == placed[None, :]] = np.inf
    nearest = gaps.min(axis=1, initial=np.inf)
    delta = np.minimum(nearest, np.maximum(np.abs(theta[checked]) - beta, 0.0))
    ev = np.where(delta > r, r**2 / np.where(delta > 0, delta, 1.0), r) / mag
    return Certificate(
        k=int(k),
        certified_rank=certified,
        tol=float(tol),
        subspace_tol=float(subspace_tol),
        checked=checked,
        residuals=rel,
        overlap_bound=bound,
        eigenvalue_bounds=ev,
        source=source,
        theta=theta,
    )


def _overlap_bounds(theta: np.ndarray, r: np.ndarray, kmax: int, beta: float) -> np.ndarray:
    """Davis-Kahan bounds for k' = 1..kmax from P resolved pairs (theta, r): the gap delta_k'
    is the distance of theta_1..k' to the intervals [theta_j - r_j, theta_j + r_j] of j > k'
    and to the bulk [-beta, beta]; the bound is 1 - (sum_{i<=k'} r_i^2 / delta^2) / k' (NaN
    where delta = 0). O(kmax P) by suffix and prefix minima."""
    P = len(theta)
    t = theta[:kmax]
    d = np.maximum(np.maximum((theta - r)[None, :] - t[:, None], t[:, None] - (theta + r)), 0)
    # after[i, c] = min over j >= c of d[i, j]; the gap of k' takes it at c = k' over i < k'
    after = np.minimum.accumulate(d[:, ::-1], axis=1)[:, ::-1]
    kk = np.arange(1, kmax + 1)
    S = np.full((kmax, kmax), np.inf)
    S[:, kk < P] = after[:, kk[kk < P]]
    S[np.arange(kmax)[:, None] >= kk[None, :]] = np.inf
    bulk = np.minimum.accumulate(np.maximum(np.abs(t) - beta, 0.0))
    delta = np.minimum(S.min(axis=0), bulk)
    sin2 = np.cumsum(r[:kmax] ** 2) / np.where(delta > 0, delta, 1.0) ** 2 / kk
    return np.where(delta > 0, np.maximum(0.0, 1.0 - sin2), np.nan)


def check_pairs(k: int, leading: int = LEADING_CHECKS, spread: int = SPREAD_CHECKS) -> np.ndarray:
    """Indices a fresh-product check covers: the first ``leading`` pairs and ``spread`` more
    spread evenly over the rest (all k when k <= leading + spread)."""
    if k <= leading + spread:
        return np.arange(k)
    rest = np.unique(np.linspace(leading, k - 1, spread).round().astype(np.int64))
    return np.concatenate([np.arange(leading), rest])


def certify_by_products(
    op, eigenvalues, eigenvectors, k: int | None = None, *, checked=None,
    tol: float = RESIDUAL_TOL, subspace_tol: float = SUBSPACE_TOL,
) -> Certificate:  # fmt: skip
    """A certificate from fresh products H v_i of the checked pairs (default ``check_pairs``):
    len(checked) products in one batched call."""
    from hessian.operators.counting import CountingOperator

    lam = np.asarray(eigenvalues, dtype=np.float64)
    k = len(lam) if k is None else int(k)
    idx = check_pairs(k) if checked is None else np.asarray(checked)
    V = np.asarray(eigenvectors[:, idx], dtype=np.float64)
    A = CountingOperator(op)
    b = A.vectors_per_call(None)
    HV = np.concatenate([A(V[:, i : i + b]) for i in range(0, V.shape[1], b)], axis=1)
    r = np.linalg.norm(HV - V * lam[idx], axis=0)
    return certify(lam, r, k, checked=idx, tol=tol, subspace_tol=subspace_tol, source="products")
