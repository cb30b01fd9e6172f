"""Scores for generated samples: exact Wasserstein-1 and mode coverage."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np
import ot
import torch

from .data import Modes, modes as _modes

__all__ = ["wasserstein1", "mode_coverage", "ModeCoverage"]

Array = Union[torch.Tensor, np.ndarray]


def _points(name: str, x: Array) -> np.ndarray:
    a = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (n, d) array of points, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return a


def wasserstein1(x: Array, y: Array) -> float:
    """Exact W1(P_x, P_y) = min over transport plans of sum_ij pi_ij ||x_i - y_j||_2.

    P_x and P_y are the empirical distributions putting equal mass on each point of ``x`` (n, d) and
    ``y`` (m, d). Solved as a linear program by POT's network simplex (``ot.emd2``).
    """
    a, b = _points("x", x), _points("y", y)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y live in different dimensions: {a.shape[1]} and {b.shape[1]}")
    cost = ot.dist(a, b, metric="euclidean")
    wa = np.full(len(a), 1.0 / len(a))
    wb = np.full(len(b), 1.0 / len(b))
    return float(ot.emd2(wa, wb, cost, numItermax=10_000_000))


@dataclass(frozen=True)
class ModeCoverage:
    """How a sample covers a mixture's modes.

    ``counts[k]``: high-quality samples whose nearest centre is mode k. A sample is high quality when
    it lies within ``n_std`` standard deviations of its nearest centre; a mode is covered when it holds
    at least ``min_count`` of them (the PacGAN protocol).
    """

    modes_covered: int
    n_modes: int
    high_quality_fraction: float
    counts: tuple


def mode_coverage(samples: Array, mixture: Union[str, Modes], *, n_std: float = 3.0,
                  min_count: int = 20) -> ModeCoverage:
    """Count the modes of ``mixture`` (a data-set name such as ``"8gaussians"``, or ``Modes``) that
    ``samples`` (n, 2) cover, and the fraction of samples that are high quality."""
    m = _modes(mixture) if isinstance(mixture, str) else mixture
    if not n_std > 0:
        raise ValueError(f"n_std must be positive, got {n_std!r}")
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count!r}")
    x = _points("samples", samples)
    centers = m.centers.double().numpy()
    if x.shape[1] != centers.shape[1]:
        raise ValueError(f"samples are {x.shape[1]}-D but the modes are {centers.shape[1]}-D")
    dist = np.linalg.norm(x[:, None, :] - centers[None, :, :], axis=2)
    nearest = dist.argmin(axis=1)
    good = dist[np.arange(len(x)), nearest] <= n_std * m.std
    counts = np.bincount(nearest[good], minlength=len(centers))
    return ModeCoverage(
        modes_covered=int((counts >= min_count).sum()),
        n_modes=len(centers),
        high_quality_fraction=float(good.mean()),
        counts=tuple(int(c) for c in counts),
    )
