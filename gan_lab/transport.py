"""Optimal transport between two small samples, to see the earth mover's distance as moved mass.

Chapter 3's notation: P and Q are discrete distributions with masses a_i on points x_i and b_j on points
y_j. A transport plan pi is an (n, m) matrix of non-negative masses with row sums a and column sums b
(pi_ij is the mass moved from x_i to y_j), and

    W1(P, Q) = min over plans pi of  sum_ij pi_ij ||x_i - y_j||_2 .

``transport_plan`` solves this linear program exactly with POT's network simplex (``ot.emd``) and
returns the optimal plan with its cost; ``draw_plan`` draws the plan as segments between matched points.
With equal-size samples and equal masses (the default) an optimal plan is a matching: each x_i sends all
of its mass 1/n to one y_j. ``gan_lab.metrics.wasserstein1`` gives the same cost without the plan.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Union

import matplotlib.pyplot as plt
import numpy as np
import ot
import torch

from .metrics import as_points

__all__ = ["Transport", "transport_plan", "draw_plan"]

Array = Union[torch.Tensor, np.ndarray]


class Transport(NamedTuple):
    """An optimal transport plan ``plan`` (n, m), with ``plan[i, j]`` the mass moved from x_i to y_j,
    and its ``cost`` sum_ij plan_ij ||x_i - y_j||_2, which is W1(P, Q). Unpacks as ``plan, cost``."""

    plan: np.ndarray
    cost: float

    def pairs(self, tol: float = 1e-12) -> np.ndarray:
        """The (i, j) index pairs that carry mass (plan_ij > tol), as an integer array of shape (k, 2)."""
        return np.argwhere(self.plan > tol)


def _masses(name: str, w: Optional[Array], n: int) -> np.ndarray:
    if w is None:
        return np.full(n, 1.0 / n)
    m = w.detach().cpu().double().numpy() if isinstance(w, torch.Tensor) else np.asarray(w, dtype=np.float64)
    if m.shape != (n,):
        raise ValueError(f"{name} must hold one mass per point, shape ({n},), got {m.shape}")
    if not np.isfinite(m).all() or (m < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    total = m.sum()
    if not abs(total - 1.0) <= 1e-6:
        raise ValueError(f"{name} must sum to 1 (a probability vector), sums to {total:.6g}")
    return m / total


def transport_plan(x: Array, y: Array, a: Optional[Array] = None, b: Optional[Array] = None) -> Transport:
    """The optimal plan moving P = sum_i a_i delta_{x_i} onto Q = sum_j b_j delta_{y_j}, and its cost W1(P, Q).

    ``x`` (n, d) and ``y`` (m, d) are points (a 1-D tensor is read as n points on a line); ``a`` and ``b``
    are their masses, each summing to 1, uniform (1/n, 1/m) by default. The ground cost is the Euclidean
    distance ||x_i - y_j||_2. Exact: POT's network simplex solves the linear program (it handles a few
    thousand points in seconds; ``metrics.wasserstein1`` is the same number without keeping the plan).
    """
    xs, ys = as_points("x", x), as_points("y", y)
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(f"x and y live in different dimensions: {xs.shape[1]} and {ys.shape[1]}")
    wa, wb = _masses("a", a, len(xs)), _masses("b", b, len(ys))
    cost = ot.dist(xs, ys, metric="euclidean")
    plan = ot.emd(wa, wb, cost, numItermax=10_000_000)
    return Transport(plan=plan, cost=float((plan * cost).sum()))


def draw_plan(ax: plt.Axes, x: Array, y: Array, plan: np.ndarray, *, x_label: str = "P",
              y_label: str = "Q", s: float = 18.0, linewidth: float = 1.0) -> plt.Axes:
    """Draw 2-D points ``x`` (blue) and ``y`` (orange) and a segment from x_i to y_j for each plan_ij > 0,
    its opacity growing with the mass it carries (all equal for a matching)."""
    xs, ys = as_points("x", x), as_points("y", y)
    if xs.shape[1] != 2 or ys.shape[1] != 2:
        raise ValueError(f"draw_plan draws 2-D points, got dimensions {xs.shape[1]} and {ys.shape[1]}")
    plan = np.asarray(plan, dtype=np.float64)
    if plan.shape != (len(xs), len(ys)):
        raise ValueError(f"plan must have shape ({len(xs)}, {len(ys)}), got {plan.shape}")
    i, j = np.nonzero(plan > 1e-12)
    heaviest = plan[i, j].max() if len(i) else 1.0
    for k in range(len(i)):
        ax.plot([xs[i[k], 0], ys[j[k], 0]], [xs[i[k], 1], ys[j[k], 1]], color="0.35",
                alpha=float(0.15 + 0.85 * plan[i[k], j[k]] / heaviest), linewidth=linewidth, zorder=1)
    ax.scatter(xs[:, 0], xs[:, 1], s=s, c="tab:blue", label=x_label, zorder=2, linewidths=0)
    ax.scatter(ys[:, 0], ys[:, 1], s=s, c="tab:orange", label=y_label, zorder=2, linewidths=0)
    ax.set_aspect("equal")
    return ax
