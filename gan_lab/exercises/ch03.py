"""Checks for chapter 3's exercises (Wasserstein-1 and the Kantorovich-Rubinstein dual)."""
from __future__ import annotations

from typing import Callable

import torch

from .. import estimate, metrics, nets, transport
from ._compare import close, seeded

__all__ = ["check_w1_by_sorting", "check_w1_from_cdfs", "check_lipschitz_lower_bound"]


def check_w1_by_sorting(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(x, y)`` gets two 1-D samples of the same size n (shape (n,), in no particular order) and must
    return W1 between their empirical distributions, (1/n) sum_i |x_(i) - y_(i)| with both sorted."""
    from . import run_check

    def attempt() -> None:
        g = torch.Generator().manual_seed(3)
        pairs = {
            "two shuffled Gaussian samples": (torch.randn(300, generator=g, dtype=torch.float64),
                                              0.5 + 2.0 * torch.randn(300, generator=g, dtype=torch.float64)),
            "a Gaussian against an exponential": (torch.randn(200, generator=g, dtype=torch.float64),
                                                  torch.empty(200, dtype=torch.float64).exponential_(generator=g)),
            "three points": (torch.tensor([2.0, 0.0, 1.0], dtype=torch.float64),
                             torch.tensor([0.5, 3.0, 1.5], dtype=torch.float64)),
        }
        for name, (x, y) in pairs.items():
            close(f"W1 of {name}", fn(x.clone(), y.clone()), metrics.wasserstein1(x, y), rtol=1e-9)
    return run_check("W1 of two 1-D samples by sorting", attempt)


def check_w1_from_cdfs(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> bool:
    """``fn(p, q, dx)`` gets the probabilities p_k and q_k of two distributions on the same uniform grid
    with spacing ``dx`` and must return W1 = sum_k |F_k - G_k| dx, with F and G their CDFs."""
    from . import run_check

    def attempt() -> None:
        g = torch.Generator().manual_seed(4)
        for n, dx in ((40, 0.25), (7, 0.1), (100, 0.05)):
            p = torch.rand(n, generator=g, dtype=torch.float64) ** 3
            q = torch.rand(n, generator=g, dtype=torch.float64)
            p, q = p / p.sum(), q / q.sum()
            grid = torch.arange(n, dtype=torch.float64) * dx
            expected = transport.transport_plan(grid, grid, p, q).cost
            close(f"W1 of two distributions on {n} grid points {dx:g} apart", fn(p.clone(), q.clone(), dx),
                  expected, rtol=1e-7)
        # all the mass moves by 3 grid steps
        p = torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
        q = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0], dtype=torch.float64)
        close("W1 of a unit mass moved 3 steps of 0.5", fn(p, q, 0.5), 1.5, rtol=1e-9)
    return run_check("W1 on a grid from CDFs", attempt)


def check_lipschitz_lower_bound(fn: Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor], float]) -> bool:
    """``fn(f, x)`` gets a function f of points and a batch ``x`` (n, d) and must return the largest
    gradient norm max_i ||grad f(x_i)||_2, a lower bound on f's Lipschitz constant."""
    from . import run_check

    def attempt() -> None:
        g = torch.Generator().manual_seed(5)
        x = torch.randn(256, 2, generator=g)
        w = torch.tensor([[3.0], [-4.0]])
        close("a linear f(x) = 3 x1 - 4 x2 (Lipschitz constant 5)", fn(lambda z: z @ w, x.clone()), 5.0, rtol=1e-5)
        f = seeded(6, lambda: nets.critic(2, width=32, depth=2))
        expected = estimate.input_gradient(f, x).norm(dim=1).max().item()
        close("a random two-layer critic on 256 points", fn(f, x.clone()), expected, rtol=1e-4)
        bump = lambda z: torch.exp(-(z ** 2).sum(dim=1))          # steepest at radius 1/sqrt(2)
        close("f(x) = exp(-||x||^2) on 256 points", fn(bump, x.clone()),
              estimate.input_gradient(bump, x).norm(dim=1).max().item(), rtol=1e-4)
    return run_check("Lipschitz lower bound from input gradients", attempt)
