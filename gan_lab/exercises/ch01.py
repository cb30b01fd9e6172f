"""Checks for chapter 1's exercises (the minimax game)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from .. import losses, theory
from ._compare import close, close_tensors

__all__ = ["check_optimal_discriminator", "check_non_saturating_loss", "check_value_at_optimum"]


def check_optimal_discriminator(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(p_data, p_g)`` must return D*(x) = p_data / (p_data + p_g) elementwise."""
    from . import run_check

    def attempt() -> None:
        g = torch.Generator().manual_seed(1)
        p, q = torch.rand(50, generator=g, dtype=torch.float64) + 0.01, torch.rand(50, generator=g, dtype=torch.float64) + 0.01
        close_tensors("D* on random densities", fn(p, q), theory.optimal_discriminator(p, q), atol=1e-9)
        close_tensors("D* where p_g = p_data (should be 1/2)", fn(p, p), torch.full_like(p, 0.5), atol=1e-9)
    return run_check("optimal discriminator", attempt)


def check_non_saturating_loss(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """``fn(fake_logits)`` must return -E[log D(G(z))], finite even for logits like -1000."""
    from . import run_check

    def attempt() -> None:
        moderate = torch.linspace(-6, 6, 25, dtype=torch.float64)
        close_tensors("loss on moderate logits", fn(moderate), losses.generator_loss(moderate, "non_saturating"),
                      atol=1e-9)
        extreme = torch.tensor([-1000.0, -200.0, -50.0, 0.0, 50.0, 200.0, 1000.0], dtype=torch.float64)
        close_tensors("loss on extreme logits (use softplus, not log(sigmoid))", fn(extreme),
                      losses.generator_loss(extreme, "non_saturating"), atol=1e-9)
    return run_check("non-saturating generator loss", attempt)


def check_value_at_optimum(fn: Callable[[float], float]) -> bool:
    """``fn(a)`` must return C(G) = max_D V(D, G) for p_data = U[0, 1] and p_g = U[a, 1 + a],
    computed numerically; it must equal -log 4 + 2 JS = -log 4 + 2 min(a, 1) log 2 within 1e-3."""
    from . import run_check

    def attempt() -> None:
        for a in (0.0, 0.25, 0.5, 1.0, 1.5):
            expected = -math.log(4.0) + 2.0 * theory.js_shifted_uniforms(a)
            close(f"C(G) for a = {a}", fn(a), expected, atol=1e-3)
    return run_check("value of the game at D*", attempt)
