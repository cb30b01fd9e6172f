"""Hidden tests for chapter 2 (divergences): book/02_divergences.ipynb.

Beyond the visible checks of ``gan_lab.exercises.ch02``: other seeds and lengths, points where both
distributions have no mass (0 log 0 with a zero mixture), one-point distributions, shifts of the
parallel lines much smaller than the checked ones, and Gaussians far apart or very narrow.
"""
from __future__ import annotations

import math

import torch

from gan_lab import theory

from . import answer
from .compare import call, close, unchanged

__all__ = ["HIDDEN"]

_NAN_HINT = (" (a NaN comes from 0 * log 0 or 0 / 0 where both p and q are 0; such points count 0 in a "
             "divergence: use torch.special.xlogy(p, p) - torch.special.xlogy(p, m), or drop those points)")


def _pairs() -> dict:
    """Probability vectors (float64) the visible check does not use."""
    g = torch.Generator().manual_seed(1003)
    f64 = torch.float64

    def normalised(x: torch.Tensor) -> torch.Tensor:
        return x / x.sum()

    r = lambda n: torch.rand(n, generator=g, dtype=f64)            # noqa: E731
    shared_zeros = torch.tensor([0.0, 0.3, 0.0, 0.5, 0.2, 0.0], dtype=f64)
    near = normalised(r(10) + 1.0)
    nudge = torch.zeros(10, dtype=f64)
    nudge[:2] = torch.tensor([1e-3, -1e-3], dtype=f64)
    return {
        "two random distributions on 3 points": (normalised(r(3)), normalised(r(3))),
        "two random distributions on 500 points": (normalised(r(500) ** 4), normalised(r(500))),
        "distributions that both have no mass on some points": (
            shared_zeros, torch.tensor([0.0, 0.1, 0.0, 0.0, 0.4, 0.5], dtype=f64)),
        "disjoint supports with empty points in between": (
            torch.tensor([0.5, 0.0, 0.5, 0.0, 0.0, 0.0], dtype=f64),
            torch.tensor([0.0, 0.0, 0.0, 0.0, 0.25, 0.75], dtype=f64)),
        "one point carrying all the mass of both": (torch.ones(1, dtype=f64), torch.ones(1, dtype=f64)),
        "two nearly equal distributions": (near, near + nudge),
    }


def _discrete(ns: dict, name: str, label: str, reference, hint: str) -> None:
    fn = answer(ns, name)
    for case, (p, q) in _pairs().items():
        case = f"{label} for {case}"
        given = (p.clone(), q.clone())
        got = call(case, fn, *given)
        unchanged(case, given, (p, q), "p or q")
        close(case, got, reference(p, q).item(), atol=1e-9, rtol=1e-7, hint=hint, nan_hint=_NAN_HINT)
        swapped = call(case, fn, q.clone(), p.clone())
        close(f"{case}, with p and q swapped (both divergences are symmetric)", swapped,
              reference(p, q).item(), atol=1e-9, rtol=1e-7)


def js_discrete(ns: dict) -> None:
    _discrete(ns, "js_discrete", "JS", theory.js_divergence,
              " (JS = KL(P || M) / 2 + KL(Q || M) / 2 with M = (P + Q) / 2, in nats)")


def tv_discrete(ns: dict) -> None:
    _discrete(ns, "tv_discrete", "TV", theory.tv_distance, " (TV = sum |p - q| / 2)")


def lines_divergences(ns: dict) -> None:
    fn = answer(ns, "lines_divergences")
    for theta in (-0.25, 1e-9, -1e-12, 2, 42.0, -0.0):
        name = f"theta = {theta!r}"
        got = call(name, fn, theta)
        if not isinstance(got, dict):
            raise AssertionError(f"{name}: return a dict with keys 'kl', 'js', 'tv', 'w1', got "
                                 f"{type(got).__name__}")
        expected = theory.parallel_lines(theta)
        missing = sorted(set(expected) - set(got))
        if missing:
            raise AssertionError(f"{name}: the dict has no key(s) {missing}")
        hint = (" (however small theta is, the two segments are disjoint unless theta is exactly 0: compare "
                "with 0 itself, not with a tolerance)" if theta != 0 and abs(theta) < 1e-3 else "")
        for key in ("kl", "js", "tv", "w1"):
            close(f"{key.upper()} at {name}", got[key], expected[key], rtol=1e-6,
                  hint=hint or (" (W1 is a distance: |theta|, never negative)" if key == "w1" else ""))


def kl_gaussians(ns: dict) -> None:
    fn = answer(ns, "kl_gaussians")
    cases = [(0.0, 1.0, 0.7, 1.0), (2.0, 1.0, 2.0, 3.0), (50.0, 0.5, -50.0, 2.0), (0.0, 1e-3, 0.0, 1.0),
             (-1.0, 4.0, 1.0, 0.25), (1, 2, 3, 4)]
    for m1, s1, m2, s2 in cases:
        name = f"KL(N({m1}, {s1}^2) || N({m2}, {s2}^2))"
        got = call(name, fn, m1, s1, m2, s2)
        close(name, got, theory.kl_gaussians(m1, s1, m2, s2), rtol=1e-9, atol=1e-9,
              hint=" (log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2, with s1 and s2 standard deviations)")
    name = "KL(N(0, 1) || N(mu, 1)) for mu = 1.7 (should be mu^2 / 2)"
    close(name, call(name, fn, 0.0, 1.0, 1.7, 1.0), 1.7 ** 2 / 2, rtol=1e-9)


HIDDEN = {
    "ch2-ex-js": js_discrete,
    "ch2-ex-tv": tv_discrete,
    "ch2-ex-lines": lines_divergences,
    "ch2-ex-kl-gauss": kl_gaussians,
}
