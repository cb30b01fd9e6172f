"""Toy data sets, made procedurally (nothing is downloaded).

2-D sets follow the recipes of the WGAN-GP paper's toy experiments (Gulrajani et al., 2017):

- ``"8gaussians"``: centres on the circle of radius 2 (axes and diagonals), std 0.02, all scaled by 1/1.414;
- ``"25gaussians"``: centres on the grid (2i, 2j), i, j in -2..2, std 0.05, all scaled by 1/2.828;
- ``"swissroll"``: the 3-D Swiss roll (noise 0.25) seen from its side, columns x and z, scaled by 1/7.5.

1-D sets (chapter 1) have closed-form densities, so the optimal discriminator can be written down:

- ``"gaussian1d"``: N(0, 1);
- ``"bimodal1d"``: the mixture 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch

__all__ = ["sample", "density", "modes", "parallel_lines", "NAMES", "Modes"]


@dataclass(frozen=True)
class Modes:
    """The mixture components of a data set: ``centers`` (k, d) and the common ``std``."""

    centers: torch.Tensor
    std: float


def _generator(seed: Optional[int]) -> Optional[torch.Generator]:
    if seed is None:
        return None
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")


def _eight_centers() -> torch.Tensor:
    s = 1.0 / math.sqrt(2.0)
    pts = [(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)]
    return 2.0 * torch.tensor(pts, dtype=torch.float32)


def _grid_centers() -> torch.Tensor:
    r = torch.arange(-2, 3, dtype=torch.float32) * 2.0
    return torch.cartesian_prod(r, r)


_MIXTURES = {
    # name: (centres before scaling, std before scaling, scale divisor)
    "8gaussians": (_eight_centers, 0.02, 1.414),
    "25gaussians": (_grid_centers, 0.05, 2.828),
}


def _mixture(name: str, n: int, g: Optional[torch.Generator]) -> torch.Tensor:
    make_centers, std, divisor = _MIXTURES[name]
    centers = make_centers()
    idx = torch.randint(len(centers), (n,), generator=g)
    noise = torch.randn(n, 2, generator=g) * std
    return (centers[idx] + noise) / divisor


def _swissroll(n: int, g: Optional[torch.Generator]) -> torch.Tensor:
    # The 3-D roll: t in [1.5 pi, 4.5 pi], point (t cos t, h, t sin t) plus N(0, 0.25^2) noise per
    # coordinate; we keep the two coordinates that show the spiral.
    t = 1.5 * math.pi * (1.0 + 2.0 * torch.rand(n, generator=g))
    xy = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
    return (xy + 0.25 * torch.randn(n, 2, generator=g)) / 7.5


def _gaussian1d(n: int, g: Optional[torch.Generator]) -> torch.Tensor:
    return torch.randn(n, 1, generator=g)


def _bimodal1d(n: int, g: Optional[torch.Generator]) -> torch.Tensor:
    sign = torch.randint(2, (n, 1), generator=g) * 2.0 - 1.0
    return 2.0 * sign + 0.5 * torch.randn(n, 1, generator=g)


_SAMPLERS: dict[str, Callable[[int, Optional[torch.Generator]], torch.Tensor]] = {
    "8gaussians": lambda n, g: _mixture("8gaussians", n, g),
    "25gaussians": lambda n, g: _mixture("25gaussians", n, g),
    "swissroll": _swissroll,
    "gaussian1d": _gaussian1d,
    "bimodal1d": _bimodal1d,
}
NAMES = tuple(_SAMPLERS)


def _check_name(name: str) -> None:
    if name not in _SAMPLERS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(NAMES)}")


def sample(name: str, n: int, *, seed: Optional[int] = None,
           generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Draw ``n`` points of the data set ``name`` as a float32 tensor of shape (n, d).

    d is 2 for the 2-D sets and 1 for the 1-D sets. ``seed`` makes the draw reproducible;
    alternatively pass a ``torch.Generator`` (e.g. inside a training loop). With neither,
    torch's global generator is used.
    """
    _check_name(name)
    _check_n(n)
    if seed is not None and generator is not None:
        raise ValueError("pass either seed or generator, not both")
    g = generator if generator is not None else _generator(seed)
    return _SAMPLERS[name](n, g).to(torch.float32)


def _normal_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2.0 * math.pi))


def density(name: str, x: torch.Tensor) -> torch.Tensor:
    """The probability density p(x) of a 1-D data set at the points ``x`` (any shape)."""
    _check_name(name)
    x = torch.as_tensor(x, dtype=torch.float64)
    if name == "gaussian1d":
        return _normal_pdf(x, 0.0, 1.0)
    if name == "bimodal1d":
        return 0.5 * _normal_pdf(x, -2.0, 0.5) + 0.5 * _normal_pdf(x, 2.0, 0.5)
    raise ValueError(f"density is only defined for the 1-D sets gaussian1d and bimodal1d, not {name!r}")


def modes(name: str) -> Modes:
    """Centres and std of a Gaussian-mixture data set, in the same (scaled) units as ``sample``."""
    if name not in _MIXTURES:
        raise ValueError(f"{name!r} has no modes; mixtures are {', '.join(_MIXTURES)}")
    make_centers, std, divisor = _MIXTURES[name]
    return Modes(centers=make_centers() / divisor, std=std / divisor)


def parallel_lines(n: int, theta: float, *, seed: Optional[int] = None,
                   generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``n`` points (theta, z) with z ~ U[0, 1]: the distribution P_theta of the WGAN paper's Example 1."""
    _check_n(n)
    theta = float(theta)
    if not math.isfinite(theta):
        raise ValueError(f"theta must be finite, got {theta!r}")
    if seed is not None and generator is not None:
        raise ValueError("pass either seed or generator, not both")
    g = generator if generator is not None else _generator(seed)
    z = torch.rand(n, 1, generator=g)
    return torch.cat([torch.full((n, 1), theta), z], dim=1)
