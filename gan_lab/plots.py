"""Plots the chapters share: 2-D samples, value surfaces of a critic or discriminator, and curves
over training with a band across seeds. Each function draws on a matplotlib ``Axes`` and returns it."""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["samples", "density", "surface", "curves", "grid_of_samples"]

Array = Union[torch.Tensor, np.ndarray]


def _np(x: Array) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


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
