"""An independent float64 reference written straight from the paper's definitions (paper §3.1;
docs/metrics.md, Definitions): full feature matrices, explicit SVDs, projection matrices and a
dense γ grid. Deliberately slow and literal; it shares no code with nrc.metrics."""

from __future__ import annotations

import numpy as np


def pca_directions(H: np.ndarray, k: int) -> np.ndarray:
    """Top-k principal directions (k×d) of the centred features, via SVD (as sklearn's PCA)."""
    _, _, vt = np.linalg.svd(H - H.mean(axis=0), full_matrices=False)
    return vt[:k]


def normalized_rows(H: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(H, axis=1, keepdims=True)
    return np.divide(H, norms, out=np.zeros_like(H), where=norms > 0)


def projection_error(X: np.ndarray, basis_rows: np.ndarray) -> float:
    """(1/M) Σ ‖x − proj(x | span of basis rows)‖² with P = Bᵀ(BBᵀ)⁻¹B."""
    P = basis_rows.T @ np.linalg.inv(basis_rows @ basis_rows.T) @ basis_rows
    return float(np.sum((X - X @ P) ** 2) / X.shape[0])


def nrc1(H: np.ndarray, n: int) -> float:
    return projection_error(normalized_rows(H), pca_directions(H, n))


def nrc2(H: np.ndarray, W: np.ndarray) -> float:
    return projection_error(normalized_rows(H), W)


def sigma(Y: np.ndarray) -> np.ndarray:
    Yc = Y - Y.mean(axis=0)
    return Yc.T @ Yc / Y.shape[0]


def sqrtm(S: np.ndarray) -> np.ndarray:
    u, s, vt = np.linalg.svd(S)
    return u @ np.diag(np.sqrt(s)) @ vt


def nrc3(W: np.ndarray, S: np.ndarray, gamma: float) -> float:
    A = W @ W.T
    B = sqrtm(S) - np.sqrt(gamma) * np.eye(S.shape[0])
    return float(np.sum((A / np.linalg.norm(A) - B / np.linalg.norm(B)) ** 2))


def _nrc3_on(W: np.ndarray, S: np.ndarray, gammas: np.ndarray) -> np.ndarray:
    A = W @ W.T
    A = A / np.linalg.norm(A)
    B = sqrtm(S)[None] - np.sqrt(gammas)[:, None, None] * np.eye(S.shape[0])[None]
    B = B / np.linalg.norm(B, axis=(1, 2), keepdims=True)
    return np.sum((A[None] - B) ** 2, axis=(1, 2))


def nrc3_grid(W: np.ndarray, S: np.ndarray, points: int = 100_001) -> tuple[float, float]:
    """(γ, NRC3) minimising NRC3 by brute force on [0, λmin]: a dense grid (the authors' method,
    100× denser), then a second dense grid over the two cells around the best point."""
    lam_min = np.linalg.eigvalsh(S)[0]
    grid = np.linspace(0.0, lam_min, points)
    i = int(np.argmin(_nrc3_on(W, S, grid)))
    fine = np.linspace(grid[max(i - 1, 0)], grid[min(i + 1, points - 1)], points)
    values = _nrc3_on(W, S, fine)
    j = int(np.argmin(values))
    return float(fine[j]), float(values[j])


def centered_nrc(H: np.ndarray, basis_rows: np.ndarray) -> float:
    """Squared distance of the centred features to a subspace over their total squared norm."""
    Hc = H - H.mean(axis=0)
    return projection_error(Hc, basis_rows) / float(np.sum(Hc**2) / H.shape[0])


def evr(H: np.ndarray, k: int) -> np.ndarray:
    s = np.linalg.svd(H - H.mean(axis=0), compute_uv=False)
    return (s**2 / np.sum(s**2))[:k]


def mse_r2(H: np.ndarray, W: np.ndarray, b: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    pred = H @ W.T + b
    mse = float(np.mean((pred - Y) ** 2))
    r2 = 1 - np.sum((pred - Y) ** 2) / np.sum((Y - Y.mean(axis=0)) ** 2)
    return mse, float(r2)


def layer(H: np.ndarray, Y: np.ndarray, W: np.ndarray | None, k: int, rtol: float) -> dict:
    """Deep NRC's layer metrics from their definitions (docs/metrics.md, Layers): explicit SVDs,
    the M×M centred Gram matrices for CKA and np.linalg.pinv for the probe."""
    Hc, Yc = H - H.mean(axis=0), Y - Y.mean(axis=0)
    _, s, vt = np.linalg.svd(Hc, full_matrices=False)
    K, L = Hc @ Hc.T, Yc @ Yc.T
    probe = Yc - Hc @ np.linalg.pinv(Hc, rtol=rtol) @ Yc
    out = {
        "noise_fraction": 1.0 - np.sum(s[:k] ** 2) / np.sum(s**2),
        "cka": np.sum(K * L) / (np.linalg.norm(K) * np.linalg.norm(L)),
        "probe_mse": np.mean(probe**2),
        "stable_rank_h": np.sum(s**2) / s[0] ** 2,
        "alignment": None,
        "stable_rank_w": None,
    }
    if W is not None:
        _, sw, vtw = np.linalg.svd(W)
        rank = int(np.sum(sw > max(W.shape) * np.finfo(float).eps * sw[0]))
        cosines = np.linalg.svd(vt[:k] @ vtw[: min(k, rank)].T, compute_uv=False)
        out |= {"alignment": np.mean(cosines), "stable_rank_w": np.sum(sw**2) / sw[0] ** 2}
    return out
