"""Hidden tests for chapter 3 (Wasserstein-1): book/03_wasserstein.ipynb.

Beyond the visible checks of ``gan_lab.exercises.ch03``: other seeds and sizes, float32 samples, one-point
samples, samples that are equal up to order, grids with a spacing other than the checked ones, mass on
both ends of a grid, functions of points in 5 dimensions, and float64 critics.
"""
from __future__ import annotations

import numpy as np
import torch

from gan_lab import estimate, metrics, nets, transport

from . import answer
from .compare import call, close, number, seeded, unchanged

__all__ = ["HIDDEN"]


def _w1_sorted_exact(x: torch.Tensor, y: torch.Tensor) -> float:
    """(1/n) sum |x_(i) - y_(i)| in float64 (exact for two samples of the same size)."""
    return float(np.abs(np.sort(x.double().numpy()) - np.sort(y.double().numpy())).mean())


def w1_sorted(ns: dict) -> None:
    fn = answer(ns, "w1_sorted")
    g = torch.Generator().manual_seed(1004)
    f64 = torch.float64
    a = torch.randn(150, generator=g, dtype=f64)
    cases = {
        "two float32 samples of 400 points": (torch.randn(400, generator=g),
                                              torch.rand(400, generator=g) * 4 - 1),
        "a sample against a shuffled copy of itself (should be 0)": (a, a[torch.randperm(150, generator=g)]),
        "samples whose order has no relation to their values": (
            torch.randn(250, generator=g, dtype=f64).sort(descending=True).values,
            torch.randn(250, generator=g, dtype=f64) + 0.3),
        "samples with many repeated values": (torch.randint(0, 4, (60,), generator=g).to(f64),
                                              torch.randint(1, 6, (60,), generator=g).to(f64)),
        "one point against one point": (torch.tensor([2.5], dtype=f64), torch.tensor([-1.0], dtype=f64)),
        "a sample against the same sample moved by 1000": (a, a + 1000.0),
    }
    for name, (x, y) in cases.items():
        case = f"W1 of {name}"
        given = (x.clone(), y.clone())
        got = call(case, fn, *given)
        unchanged(case, given, (x, y), "x or y (sort copies, e.g. torch.sort(x).values)")
        expected = metrics.wasserstein1(x[:, None].double(), y[:, None].double()) if len(x) <= 60 \
            else _w1_sorted_exact(x, y)
        rtol = 1e-5 if x.dtype == torch.float32 else 1e-9
        close(case, got, expected, rtol=rtol, atol=1e-9,
              hint=" (sort both samples, then average |x_(i) - y_(i)| over the n pairs)")


def w1_grid(ns: dict) -> None:
    fn = answer(ns, "w1_grid")
    g = torch.Generator().manual_seed(1005)
    f64 = torch.float64
    for n, dx, dtype in ((12, 1.0, f64), (300, 0.02, f64), (25, 3.5, torch.float32), (2, 0.5, f64)):
        p = torch.rand(n, generator=g, dtype=f64) ** 2
        q = torch.rand(n, generator=g, dtype=f64)
        p, q = (p / p.sum()).to(dtype), (q / q.sum()).to(dtype)
        grid = torch.arange(n, dtype=f64) * dx
        expected = transport.transport_plan(grid, grid, p.double(), q.double()).cost
        case = f"W1 of two {'float32 ' if dtype == torch.float32 else ''}distributions on {n} grid points {dx:g} apart"
        given = (p.clone(), q.clone())
        got = call(case, fn, *given, dx)
        unchanged(case, given, (p, q), "p or q")
        close(case, got, expected, rtol=1e-5 if dtype == torch.float32 else 1e-9, atol=1e-12,
              hint=" (the gaps between the CDFs, |F_k - G_k|, times dx, summed)")
    special = {
        "all the mass at opposite ends of 9 points 0.25 apart (should be 8 * 0.25)": (
            torch.tensor([1.0] + [0.0] * 8, dtype=f64), torch.tensor([0.0] * 8 + [1.0], dtype=f64), 0.25, 2.0),
        "equal distributions (should be 0)": (torch.full((5,), 0.2, dtype=f64), torch.full((5,), 0.2, dtype=f64),
                                              0.1, 0.0),
        "mass split evenly, moved by one step of 2.0 (should be 2.0)": (
            torch.tensor([0.5, 0.5, 0.0], dtype=f64), torch.tensor([0.0, 0.5, 0.5], dtype=f64), 2.0, 2.0),
    }
    for name, (p, q, dx, expected) in special.items():
        case = f"W1 of {name}"
        close(case, call(case, fn, p.clone(), q.clone(), dx), expected, rtol=1e-12, atol=1e-12)


def lipschitz_lower_bound(ns: dict) -> None:
    fn = answer(ns, "lipschitz_lower_bound")
    g = torch.Generator().manual_seed(1006)
    f64 = torch.float64

    def compare(name: str, f, x: torch.Tensor, expected: float, rtol: float, hint: str = "") -> None:
        given = x.clone()
        got = number(name, call(name, fn, f, given))
        unchanged(name, (given,), (x,), "x")
        close(name, got, expected, rtol=rtol, hint=hint)

    x5 = torch.randn(300, 5, generator=g, dtype=f64)
    w = torch.tensor([[1.0], [-2.0], [2.0], [0.5], [-0.5]], dtype=f64)   # ||w|| = sqrt(9.5)
    compare("a linear f(x) = w.x in 5 dimensions with ||w|| = sqrt(9.5)", lambda z: z @ w, x5, 9.5 ** 0.5, 1e-9,
            " (the Euclidean norm of each point's whole gradient, over all d coordinates)")
    critic = seeded(1007, lambda: nets.critic(5, width=24, depth=2).double())
    compare("a random float64 critic in 5 dimensions on 300 points", critic, x5,
            estimate.input_gradient(critic, x5).norm(dim=1).max().item(), 1e-9,
            " (the largest of the n gradient norms, one per point)")
    steep = lambda z: torch.where(z[:, 0] > 2.0, 10.0 * z[:, 1], 0.1 * z[:, 1])   # noqa: E731
    x2 = torch.randn(200, 2, generator=g, dtype=f64)
    compare("a function 100 times steeper at the few points with x1 > 2", steep, x2,
            10.0 if (x2[:, 0] > 2.0).any() else 0.1, 1e-9,
            " (the maximum over the points, not the mean: one steep point is enough)")
    one = torch.tensor([[0.3, -0.4]])
    compare("f(x) = ||x||^2 at a single point (0.3, -0.4) (gradient 2x, norm 1)",
            lambda z: (z ** 2).sum(dim=1), one, 1.0, 1e-6)


HIDDEN = {
    "ch3-ex-sorting": w1_sorted,
    "ch3-ex-cdf": w1_grid,
    "ch3-ex-lipschitz": lipschitz_lower_bound,
}
