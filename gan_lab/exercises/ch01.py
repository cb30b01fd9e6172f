"""Checks for chapter 1's exercises (the minimax game)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from .. import losses, theory

__all__ = ["check_optimal_discriminator", "check_non_saturating_loss", "check_value_at_optimum"]


def _close(name: str, got, expected, atol: float) -> None:
    got_t = torch.as_tensor(got, dtype=torch.float64)
    exp_t = torch.as_tensor(expected, dtype=torch.float64)
    if got_t.shape != exp_t.shape:
        raise AssertionError(f"{name}: expected shape {tuple(exp_t.shape)}, got {tuple(got_t.shape)}")
    if not torch.isfinite(got_t).all():
        raise AssertionError(f"{name}: your answer contains NaN or Inf: {got_t.flatten()[:6].tolist()}")
    err = (got_t - exp_t).abs().max().item()
    if err > atol:
        raise AssertionError(f"{name}: off by up to {err:.3g} (tolerance {atol:g}); "
                             f"expected {exp_t.flatten()[:4].tolist()}, got {got_t.flatten()[:4].tolist()}")


def check_optimal_discriminator(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(p_data, p_g)`` must return D*(x) = p_data / (p_data + p_g) elementwise."""
    from . import run_check

    def attempt() -> None:
        g = torch.Generator().manual_seed(1)
        p, q = torch.rand(50, generator=g, dtype=torch.float64) + 0.01, torch.rand(50, generator=g, dtype=torch.float64) + 0.01
        _close("D* on random densities", fn(p, q), theory.optimal_discriminator(p, q), 1e-9)
        _close("D* where p_g = p_data (should be 1/2)", fn(p, p), torch.full_like(p, 0.5), 1e-9)
    return run_check("optimal discriminator", attempt)


def check_non_saturating_loss(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """``fn(fake_logits)`` must return -E[log D(G(z))], finite even for logits like -1000."""
    from . import run_check

    def attempt() -> None:
        moderate = torch.linspace(-6, 6, 25, dtype=torch.float64)
        _close("loss on moderate logits", fn(moderate), losses.generator_loss(moderate, "non_saturating"), 1e-9)
        extreme = torch.tensor([-1000.0, -200.0, -50.0, 0.0, 50.0, 200.0, 1000.0], dtype=torch.float64)
        _close("loss on extreme logits (use softplus, not log(sigmoid))", fn(extreme),
               losses.generator_loss(extreme, "non_saturating"), 1e-9)
    return run_check("non-saturating generator loss", attempt)


def check_value_at_optimum(fn: Callable[[float], float]) -> bool:
    """``fn(a)`` must return C(G) = max_D V(D, G) for p_data = U[0, 1] and p_g = U[a, 1 + a],
    computed numerically; it must equal -log 4 + 2 JS = -log 4 + 2 min(a, 1) log 2 within 1e-3."""
    from . import run_check

    def attempt() -> None:
        for a in (0.0, 0.25, 0.5, 1.0, 1.5):
            expected = -math.log(4.0) + 2.0 * theory.js_shifted_uniforms(a)
            _close(f"C(G) for a = {a}", float(fn(a)), expected, 1e-3)
    return run_check("value of the game at D*", attempt)
