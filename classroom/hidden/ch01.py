"""Hidden tests for chapter 1 (the minimax game): book/01_minimax.ipynb.

They use inputs the visible checks in ``gan_lab.exercises.ch01`` do not: other seeds and shapes, float32,
densities where one of the two vanishes or both are tiny, the gradient of the loss, and values of ``a``
between the checked ones.
"""
from __future__ import annotations

import math

import torch

from gan_lab import losses, theory

from . import answer
from .compare import call, close, close_tensors, number, unchanged

__all__ = ["HIDDEN"]


def optimal_discriminator(ns: dict) -> None:
    fn = answer(ns, "optimal_discriminator")
    g = torch.Generator().manual_seed(1001)
    f64 = torch.float64

    def compare(name: str, p: torch.Tensor, q: torch.Tensor, expected: torch.Tensor, atol: float,
                hint: str = "") -> None:
        given = (p.clone(), q.clone())
        got = call(name, fn, *given)
        unchanged(name, given, (p, q), "p_data or p_g")
        close_tensors(name, got, expected, atol=atol, hint=hint)

    p, q = torch.rand(7, 9, generator=g, dtype=f64) + 1e-3, torch.rand(7, 9, generator=g, dtype=f64) + 1e-3
    compare("D* on densities given as a 7x9 grid of points", p, q, theory.optimal_discriminator(p, q), 1e-9,
            " (work elementwise, whatever the shape)")
    p32, q32 = torch.rand(64, generator=g), torch.rand(64, generator=g)
    compare("D* on float32 densities", p32, q32, theory.optimal_discriminator(p32, q32), 1e-6)
    p = torch.rand(12, generator=g, dtype=f64) + 0.1
    q = torch.rand(12, generator=g, dtype=f64) * (torch.arange(12) % 3 != 0)
    compare("D* where p_g = 0 at every third point", p, q, p / (p + q), 1e-9,
            " (D* where p_g = 0 should be 1: the discriminator is sure those points are real)")
    compare("D* where p_data = 0 at every third point", q + 0.0, p, q / (p + q), 1e-9,
            " (D* where p_data = 0 should be 0: those points can only be generated)")
    p, q = torch.rand(20, generator=g, dtype=f64) + 0.01, torch.rand(20, generator=g, dtype=f64) + 0.01
    compare("D* on densities of order 1e-200 (tiny, but positive)", p * 1e-200, q * 1e-200,
            theory.optimal_discriminator(p, q), 1e-9,
            " (D* depends only on the ratio of the densities: do not clamp or add a constant to p_data + p_g)")
    compare("D* where p_g = p_data on a 3x4 grid (should be 1/2)", p[:12].reshape(3, 4), p[:12].reshape(3, 4),
            torch.full((3, 4), 0.5, dtype=f64), 1e-9)


def non_saturating_loss(ns: dict) -> None:
    fn = answer(ns, "non_saturating_loss")
    g = torch.Generator().manual_seed(1002)
    f64 = torch.float64

    def value(name: str, logits: torch.Tensor, hint: str = "") -> None:
        given = logits.clone()
        got = call(name, fn, given)
        unchanged(name, (given,), (logits,), "the logits")
        expected = losses.generator_loss(logits.double(), "non_saturating").item()
        if isinstance(got, torch.Tensor) and got.numel() > 1:
            raise AssertionError(f"{name}: expected one number, the average over every logit, got a tensor of "
                                 f"shape {tuple(got.shape)}")
        close(name, got, expected, rtol=1e-6, atol=1e-9, hint=hint)

    batch = 4 * torch.randn(8, 16, generator=g, dtype=f64)
    value("the loss on an 8x16 batch of logits", batch,
          " (average -log D over all the logits, whatever the batch's shape; not a sum)")
    extreme32 = torch.tensor([-1000.0, -200.0, -88.0, -20.0, 0.0, 20.0, 88.0, 200.0, 1000.0])
    value("the loss on float32 logits from -1000 to 1000", extreme32,
          " (in float32 sigmoid(-200) is 0 and log 0 = -inf: use -log sigmoid(l) = softplus(-l))")
    value("the loss on one float32 logit of -500 (should be 500)", torch.tensor([-500.0]))

    name = "the gradient of the loss with respect to the logits"
    logits = torch.cat([torch.tensor([-1000.0, -200.0, -40.0, 0.0, 40.0, 200.0, 1000.0], dtype=f64),
                        3 * torch.randn(13, generator=g, dtype=f64)]).requires_grad_(True)
    got = call(name, fn, logits)
    if not (isinstance(got, torch.Tensor) and got.requires_grad):
        raise AssertionError(f"{name}: your loss is not connected to the logits, so the generator could not "
                             "train on it: return a tensor computed with torch operations (no .item(), no "
                             "numpy)")
    (grad,) = torch.autograd.grad(got.reshape(()), logits, allow_unused=True)
    if grad is None:
        raise AssertionError(f"{name}: your loss does not depend on the logits")
    expected = -torch.sigmoid(-logits.detach()) / len(logits)          # d/dl softplus(-l) = -sigmoid(-l)
    close_tensors(name, grad, expected, atol=1e-12,
                  hint=" (a torch.where between two formulas still differentiates the branch it did not pick, "
                       "and an inf there gives a NaN gradient: use F.softplus(-l), stable in both directions)")


def value_at_optimum(ns: dict) -> None:
    fn = answer(ns, "value_at_optimum")
    for a in (0.1, 0.37, 0.8, 0.95, 1.25, 2.0, 4.0):
        name = f"C(G) for a = {a}"
        got = number(name, call(name, fn, a))
        expected = -math.log(4.0) + 2.0 * theory.js_shifted_uniforms(a)
        close(name, got, expected, atol=1e-3,
              hint=" (C(G) = -log 4 + 2 JS(p_data || p_g): sum p_data log D* + p_g log(1 - D*) over a grid "
                   "fine enough, and wide enough, for any a, not only the checked ones)")


HIDDEN = {
    "ch1-ex-optimal-d": optimal_discriminator,
    "ch1-ex-non-saturating": non_saturating_loss,
    "ch1-ex-value-at-optimum": value_at_optimum,
}
