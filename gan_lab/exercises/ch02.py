"""Checks for chapter 2's exercises (KL, JS, TV and W1 when supports do or do not overlap)."""
from __future__ import annotations

from typing import Callable

import torch

from .. import theory
from ._compare import close

__all__ = ["check_parallel_lines", "check_js_discrete", "check_tv_discrete", "check_kl_gaussians"]


_NAN_HINT = (" (a NaN usually comes from a 0 * log 0 term, which counts as 0 in a divergence: "
             "use torch.special.xlogy(p, p), or skip the terms where p = 0)")


def _close(name: str, got, expected: float, atol: float) -> None:
    """``got`` must be one number within ``atol`` of ``expected``; an expected +inf must be +inf exactly."""
    close(name, got, expected, atol=atol, nan_hint=_NAN_HINT)


def _discrete_pairs() -> dict:
    """Pairs of probability vectors (float64) a reader did not choose, named for the messages."""
    g = torch.Generator().manual_seed(2)

    def normalised(x: torch.Tensor) -> torch.Tensor:
        return x / x.sum()

    r = lambda n: torch.rand(n, generator=g, dtype=torch.float64)          # noqa: E731
    return {
        "two random distributions on 5 points": (normalised(r(5)), normalised(r(5))),
        "two random distributions on 40 points": (normalised(r(40) ** 3), normalised(r(40))),
        "supports that overlap on one point": (torch.tensor([0.6, 0.4, 0.0], dtype=torch.float64),
                                               torch.tensor([0.0, 0.3, 0.7], dtype=torch.float64)),
        "disjoint supports": (torch.tensor([0.2, 0.8, 0.0, 0.0], dtype=torch.float64),
                              torch.tensor([0.0, 0.0, 0.5, 0.5], dtype=torch.float64)),
        "P equal to Q": (torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64),
                         torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)),
    }


def check_parallel_lines(fn: Callable[[float], dict]) -> bool:
    """``fn(theta)`` must return the four divergences between P_0 = (0, Z) and P_theta = (theta, Z),
    Z ~ U[0, 1], as a dict with keys ``"kl"`` (KL(P_0 || P_theta)), ``"js"``, ``"tv"`` and ``"w1"``,
    in nats; ``math.inf`` stands for an infinite value."""
    from . import run_check

    def attempt() -> None:
        for theta in (0.5, -1.5, 0.01, 3.0, 0.0):
            got = fn(theta)
            if not isinstance(got, dict):
                raise AssertionError(f"theta = {theta}: return a dict with keys 'kl', 'js', 'tv', 'w1', "
                                     f"got {type(got).__name__}")
            expected = theory.parallel_lines(theta)
            missing = sorted(set(expected) - set(got))
            if missing:
                raise AssertionError(f"theta = {theta}: the dict has no key(s) {missing}")
            for key in ("kl", "js", "tv", "w1"):
                _close(f"{key.upper()} at theta = {theta}", got[key], expected[key], 1e-6)
    return run_check("the four divergences of the parallel lines", attempt)


def check_js_discrete(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(p, q)`` gets two probability vectors of the same length (float64, summing to 1, possibly with
    zeros) and must return JS(P || Q) in nats."""
    from . import run_check

    def attempt() -> None:
        for name, (p, q) in _discrete_pairs().items():
            _close(f"JS for {name}", fn(p.clone(), q.clone()), theory.js_divergence(p, q).item(), 1e-7)
    return run_check("Jensen-Shannon divergence of two discrete distributions", attempt)


def check_tv_discrete(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(p, q)`` gets two probability vectors of the same length and must return TV(P, Q)."""
    from . import run_check

    def attempt() -> None:
        for name, (p, q) in _discrete_pairs().items():
            _close(f"TV for {name}", fn(p.clone(), q.clone()), theory.tv_distance(p, q).item(), 1e-7)
    return run_check("total variation of two discrete distributions", attempt)


def check_kl_gaussians(fn: Callable[[float, float, float, float], float]) -> bool:
    """``fn(m1, s1, m2, s2)`` must return KL(N(m1, s1^2) || N(m2, s2^2)) in nats, in closed form
    (s1, s2 are standard deviations)."""
    from . import run_check

    def attempt() -> None:
        cases = [(0.0, 1.0, 0.0, 1.0), (0.0, 1.0, 1.5, 1.0), (1.0, 0.5, -0.5, 2.0), (-2.0, 3.0, 0.5, 1.2),
                 (0.3, 0.8, 0.3, 0.4)]
        for m1, s1, m2, s2 in cases:
            _close(f"KL(N({m1}, {s1}^2) || N({m2}, {s2}^2))", fn(m1, s1, m2, s2),
                   theory.kl_gaussians(m1, s1, m2, s2), 1e-7)
    return run_check("KL divergence of two Gaussians", attempt)
