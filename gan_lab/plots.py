"""Plots the chapters share: 2-D samples, value surfaces of a critic or discriminator, curves
over training with a band across seeds, and a ridge plot of scores class by class. Each function draws
on a matplotlib ``Axes`` and returns it."""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["samples", "density", "surface", "curves", "grid_of_samples", "ridge"]

Array = Union[torch.Tensor, np.ndarray]


def _np(x: Array) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _bad_values(a: np.ndarray) -> str:
    """Why ``a`` cannot be drawn: its dtype if it is not real, else how many values are NaN or Inf."""
    if a.dtype.kind not in "iuf":
        return f"dtype {a.dtype}"
    return f"{int((~np.isfinite(a)).sum())} NaN or Inf of {a.size} values"


def samples(ax: plt.Axes, real: Optional[Array] = None, fake: Optional[Array] = None, *,
            lim: float = 2.0, title: str = "", s: float = 3.0) -> plt.Axes:
    """Scatter real samples (grey) and generated samples (orange) in the square [-lim, lim]^2."""
    if real is not None:
        r = _np(real)
        ax.scatter(r[:, 0], r[:, 1], s=s, c="0.6", alpha=0.5, label="real", linewidths=0)
    if fake is not None:
        f = _np(fake)
        ax.scatter(f[:, 0], f[:, 1], s=s, c="tab:orange", alpha=0.6, label="generated", linewidths=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def density(ax: plt.Axes, points: Array, *, lim: float = 2.0, bins: int = 100, cmap: str = "magma",
            title: str = "") -> plt.Axes:
    """The empirical density of 2-D ``points``: a ``bins`` x ``bins`` histogram over [-lim, lim]^2,
    normalised to integrate to 1 over the square (points outside it are not counted)."""
    p = _np(points)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"density needs (n, 2) points, got shape {p.shape}")
    if p.dtype.kind not in "iuf" or not np.isfinite(p).all():
        raise ValueError(f"density needs finite real points (NaN or Inf would be dropped from the histogram "
                         f"silently), got {_bad_values(p)}")
    hist, xe, ye = np.histogram2d(p[:, 0], p[:, 1], bins=bins, range=[[-lim, lim], [-lim, lim]], density=True)
    ax.imshow(hist.T, origin="lower", extent=(xe[0], xe[-1], ye[0], ye[-1]), cmap=cmap, aspect="equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


@torch.no_grad()
def surface(ax: plt.Axes, fn: Callable[[torch.Tensor], torch.Tensor], *, lim: float = 2.0, n: int = 150,
            levels: int = 20, cmap: str = "viridis", colorbar: bool = True) -> plt.Axes:
    """Filled contours of the scalar function ``fn`` (a critic, or a discriminator's D = sigmoid(logit))
    on an n x n grid over [-lim, lim]^2."""
    axis = torch.linspace(-lim, lim, n)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    try:
        device = next(fn.parameters()).device  # type: ignore[attr-defined]
    except (AttributeError, StopIteration):
        device = torch.device("cpu")
    values = fn(pts.to(device)).reshape(n, n).cpu().numpy()
    cs = ax.contourf(xx.numpy(), yy.numpy(), values, levels=levels, cmap=cmap)
    if colorbar:
        ax.figure.colorbar(cs, ax=ax, fraction=0.046, pad=0.04)
    ax.set_aspect("equal")
    return ax


def curves(ax: plt.Axes, steps: Array, values: Array, *, label: str = "", color: Optional[str] = None,
           band: str = "minmax") -> plt.Axes:
    """Plot a quantity over training for several seeds: ``values`` has shape (seeds, len(steps)).

    The line is the median over seeds; the band spans min to max (``band="minmax"``) or one standard
    deviation either side of the mean (``band="std"``), so a reader sees how much seeds disagree.
    """
    v = np.atleast_2d(_np(values)).astype(float)
    x = _np(steps)
    if v.shape[1] != len(x):
        raise ValueError(f"values has {v.shape[1]} columns but there are {len(x)} steps")
    if band == "minmax":
        mid, lo, hi = np.median(v, 0), v.min(0), v.max(0)
    elif band == "std":
        mid = v.mean(0)
        lo, hi = mid - v.std(0), mid + v.std(0)
    else:
        raise ValueError(f"band must be 'minmax' or 'std', got {band!r}")
    (line,) = ax.plot(x, mid, label=f"{label} ({len(v)} seeds)" if label and len(v) > 1 else label, color=color)
    if len(v) > 1:
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    return ax


def grid_of_samples(snapshots: Sequence[tuple], real: Optional[Array] = None, *, lim: float = 2.0,
                    size: float = 2.2) -> plt.Figure:
    """One panel per ``(title, points)`` snapshot, e.g. samples at several training steps."""
    fig, axes = plt.subplots(1, len(snapshots), figsize=(size * len(snapshots), size), squeeze=False)
    for ax, (title, pts) in zip(axes[0], snapshots):
        samples(ax, real, pts, lim=lim, title=title)
    fig.tight_layout()
    return fig


def ridge(ax: plt.Axes, scores: Array, labels: Array, *, names: Optional[Sequence[str]] = None,
          colors: Optional[Sequence] = None, bins: int = 40, title: str = "",
          xlabel: str = "critic score") -> plt.Axes:
    """One histogram of ``scores`` per class, stacked as rows sorted by the class mean m_c (highest on top).

    ``labels`` are integers 0..C-1. Every row uses the same ``bins`` bins over the range of all the scores and
    is scaled to its own peak (0.9 of a row), so narrow and wide classes both show; a black tick marks m_c.
    ``names[c]`` labels row c's class (default ``str(c)``), ``colors[c]`` fills it (default matplotlib's
    cycle). A dotted line marks score 0 (for shifted scores, the reference class's mean).
    """
    s = np.asarray(_np(scores), dtype=np.float64).reshape(-1)
    lab = np.asarray(_np(labels)).reshape(-1)
    if s.shape != lab.shape or s.size == 0:
        raise ValueError(f"scores and labels must be non-empty and of one length, got {s.shape} and {lab.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"scores must be finite, got {_bad_values(s)}")
    if lab.dtype.kind not in "iu" or lab.min() < 0:
        raise ValueError("labels must be non-negative integers")
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    n = int(lab.max()) + 1
    counts_per_class = np.bincount(lab, minlength=n)
    if (counts_per_class == 0).any():
        raise ValueError(f"classes {np.flatnonzero(counts_per_class == 0).tolist()} have no scores")
    names = [str(c) for c in range(n)] if names is None else list(names)
    colors = [f"C{c % 10}" for c in range(n)] if colors is None else list(colors)
    if len(names) < n or len(colors) < n:
        raise ValueError(f"names and colors need one entry per class ({n})")
    means = np.array([s[lab == c].mean() for c in range(n)])
    order = np.argsort(means, kind="stable")                       # lowest mean in the bottom row
    lo, hi = s.min(), s.max()
    edges = np.linspace(lo, hi, bins + 1) if hi > lo else np.linspace(lo - 0.5, hi + 0.5, bins + 1)
    for row, c in enumerate(order):
        counts, _ = np.histogram(s[lab == c], bins=edges)
        heights = np.r_[counts, counts[-1]] / counts.max()
        ax.fill_between(edges, row, row + 0.9 * heights, step="post", color=colors[c], lw=0)
        ax.plot([means[c]] * 2, [row, row + 0.95], color="k", lw=0.6)
    ax.set_yticks(np.arange(n) + 0.3, [names[c] for c in order], fontsize=7)
    ax.axvline(0, color="0.6", lw=0.6, ls=":")
    ax.set_xlabel(xlabel, fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return ax
