"""Hidden tests for chapter 8 (other losses, spectral normalisation, the tricks): book/08_losses_and_normalisation.ipynb.

Beyond the visible checks of ``gan_lab.exercises.ch08``: other label codings (including negative and
reversed ones), scores of shape (n,) as well as (n, 1), float32 inputs, a single sample, densities on a 2-D
grid, matrices of one row or one column, a u pointing away from the top singular vector, alpha = 0.5 and
0.9, logits of +-5000, packing the whole batch into one row, 1-D samples, and batches that do not split.
"""
from __future__ import annotations

import torch

from gan_lab import losses, objectives, spectral, theory

from . import answer
from .compare import call, close, close_tensors, unchanged

__all__ = ["HIDDEN"]


def _scores(seed: int, n_real: int, n_fake: int, *, shape: str = "column", dtype=torch.float64, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    real = scale * (torch.randn(n_real, 1, generator=g, dtype=torch.float64) + 0.5)
    fake = scale * (torch.randn(n_fake, 1, generator=g, dtype=torch.float64) - 0.5)
    if shape == "flat":
        real, fake = real[:, 0], fake[:, 0]
    return real.to(dtype), fake.to(dtype)


def _loss_matches(name: str, fn, reference, real, fake, args: tuple, rtol: float, hint: str = "") -> None:
    """The value of ``fn(real, fake, *args)`` and its gradient with respect to both batches."""
    r, f = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    got = call(name, fn, r, f, *args)
    unchanged(name, (r.detach(), f.detach()), (real, fake), "the scores")
    expected = reference(r, f)
    close(name, got, expected.item(), rtol=rtol, atol=rtol, hint=hint)
    if not (isinstance(got, torch.Tensor) and got.requires_grad):
        raise AssertionError(f"{name}: return a tensor connected to the scores (no .item(), float() or .detach())")
    want = torch.autograd.grad(expected, (r, f), retain_graph=True)
    have = torch.autograd.grad(got.reshape(()), (r, f), allow_unused=True)
    for label, g, w in zip(("real", "fake"), have, want):
        g = torch.zeros_like(w) if g is None else g
        close_tensors(f"{name}: the gradient with respect to the {label} scores", g, w, atol=rtol, rtol=rtol,
                      hint=hint)


def least_squares_loss(ns: dict) -> None:
    fn = answer(ns, "least_squares_discriminator_loss")
    hint = " (1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2], each mean over its own batch)"
    for k, (a, b) in enumerate(((2.0, 5.0), (-3.0, -1.0), (1.0, 0.0))):
        real, fake = _scores(800 + k, 33, 17)
        _loss_matches(f"labels a = {a}, b = {b}, scores (n, 1)", fn,
                      lambda r, f, a=a, b=b: losses.least_squares_discriminator_loss(r, f, a=a, b=b),
                      real, fake, (a, b), 1e-10, hint)
    real, fake = _scores(810, 50, 9, shape="flat")
    _loss_matches("labels a = -1, b = 1, scores of shape (n,)", fn,
                  lambda r, f: losses.least_squares_discriminator_loss(r, f, a=-1.0, b=1.0), real, fake,
                  (-1.0, 1.0), 1e-10, hint)
    real, fake = _scores(811, 1, 1, dtype=torch.float32)
    _loss_matches("one real and one fake float32 score", fn,
                  lambda r, f: losses.least_squares_discriminator_loss(r, f, a=0.0, b=1.0), real, fake,
                  (0.0, 1.0), 1e-5, hint)


def least_squares_optimum(ns: dict) -> None:
    fn = answer(ns, "least_squares_optimal_discriminator")
    g = torch.Generator().manual_seed(820)
    p = torch.rand(6, 7, generator=g, dtype=torch.float64)
    q = torch.rand(6, 7, generator=g, dtype=torch.float64)
    p[0, 0] = q[0, 0] = 0.0           # both vanish here
    p[1, 1] = 0.0                     # only fakes here
    q[2, 2] = 0.0                     # only real data here
    originals = (p.clone(), q.clone())
    for a, b in ((-2.0, 0.5), (3.0, -1.0), (0.0, 10.0)):
        name = f"D* on a 6 x 7 grid of densities, a = {a}, b = {b}"
        got = call(name, fn, p, q, a, b)
        unchanged(name, (p, q), originals, "the densities")
        close_tensors(name, got, theory.least_squares_optimal_discriminator(p, q, a=a, b=b), atol=1e-9,
                      hint=" ((b p_data + a p_g) / (p_data + p_g) elementwise, (a + b) / 2 where both are 0)")
    p32, q32 = p.float(), q.float()
    close_tensors("D* on float32 densities, a = 0, b = 1", call("D* on float32 densities", fn, p32, q32, 0.0, 1.0),
                  theory.least_squares_optimal_discriminator(p, q, a=0.0, b=1.0), atol=1e-5)


def power_iteration(ns: dict) -> None:
    fn = answer(ns, "power_iteration_step")
    for rows, cols, seed in ((1, 8, 830), (8, 1, 831), (5, 5, 832)):
        g = torch.Generator().manual_seed(seed)
        weight = torch.randn(rows, cols, generator=g, dtype=torch.float64)
        u = -0.01 * torch.randn(rows, generator=g, dtype=torch.float64)      # small and pointing anywhere
        name = f"one step on a {rows} x {cols} matrix"
        out = call(name, fn, weight, u)
        if not (isinstance(out, (tuple, list)) and len(out) == 3):
            raise AssertionError(f"{name}: return (sigma, u, v), got {type(out).__name__}")
        ref_sigma, ref_u, ref_v = spectral.power_iteration(weight, u, 1)
        close_tensors(f"{name}: v", out[2], ref_v, atol=1e-10)
        close_tensors(f"{name}: the new u", out[1], ref_u, atol=1e-10)
        close(f"{name}: sigma", out[0], ref_sigma.item(), rtol=1e-10)
    weight = torch.outer(torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64), torch.tensor([0.0, 3.0, 4.0],
                                                                                          dtype=torch.float64))
    sigma, _, _ = call("one step on a rank-1 matrix", fn, weight, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    close("one step on the rank-1 matrix (1, 2, 2)^T (0, 3, 4): sigma is exact at once", sigma, 15.0, rtol=1e-12)
    w32 = torch.randn(4, 6, generator=torch.Generator().manual_seed(833))
    u32 = torch.randn(4, generator=torch.Generator().manual_seed(834))
    for _ in range(300):
        s32, u32, _ = call("a step on a float32 matrix", fn, w32, u32)
    close("sigma of a float32 4 x 6 matrix after 300 steps", s32, torch.linalg.matrix_norm(w32.double(), 2).item(),
          rtol=1e-5)


def label_smoothing(ns: dict) -> None:
    fn = answer(ns, "smoothed_discriminator_loss")
    for k, alpha in enumerate((0.5, 0.9)):
        real, fake = _scores(840 + k, 21, 45, scale=4.0)
        _loss_matches(f"alpha = {alpha}", fn, lambda r, f, alpha=alpha: objectives.smoothed_discriminator_loss(
            r, f, alpha), real, fake, (alpha,), 1e-10, " (real label 1 - alpha, fake label 0)")
    real, fake = _scores(842, 10, 3, shape="flat", scale=2.0)
    _loss_matches("alpha = 0.2, logits of shape (n,)", fn,
                  lambda r, f: objectives.smoothed_discriminator_loss(r, f, 0.2), real, fake, (0.2,), 1e-10)
    huge = torch.tensor([[-5000.0], [5000.0]], dtype=torch.float64)
    _loss_matches("alpha = 0.1 on logits of -5000 and 5000", fn,
                  lambda r, f: objectives.smoothed_discriminator_loss(r, f, 0.1), huge, huge.flip(0), (0.1,), 1e-10,
                  " (use softplus: sigmoid rounds to 0 and 1 here)")
    real, fake = _scores(843, 8, 8, dtype=torch.float32)
    _loss_matches("alpha = 0.3 on float32 logits", fn, lambda r, f: objectives.smoothed_discriminator_loss(
        r, f, 0.3), real, fake, (0.3,), 1e-5)


def pack(ns: dict) -> None:
    fn = answer(ns, "pack")
    g = torch.Generator().manual_seed(850)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64)
    close_tensors("packing 6 samples of 3-D into one row (m = 6)", call("packing by 6", fn, x, 6), x.reshape(1, 18),
                  atol=0.0)
    y = torch.arange(8, dtype=torch.float32).reshape(8, 1)
    close_tensors("packing 8 one-dimensional float32 samples by 2", call("packing by 2", fn, y, 2),
                  torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]), atol=0.0)
    z = torch.randn(20, 2, generator=g, dtype=torch.float64).t().contiguous().t()   # not contiguous
    close_tensors("packing a non-contiguous (20, 2) batch by 4", call("packing by 4", fn, z, 4),
                  z.contiguous().reshape(5, 8), atol=0.0)
    for n, m in ((7, 3), (5, 10)):
        try:
            fn(torch.zeros(n, 2, dtype=torch.float64), m)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as err:   # noqa: BLE001
            raise AssertionError(f"packing {n} samples by {m} raised {type(err).__name__}; refuse with a "
                                 "ValueError") from None
        raise AssertionError(f"packing {n} samples by {m} should raise a ValueError ({n} is not a multiple of {m})")


HIDDEN = {
    "ch8-ex-ls-loss": least_squares_loss,
    "ch8-ex-ls-optimum": least_squares_optimum,
    "ch8-ex-power-iteration": power_iteration,
    "ch8-ex-smoothing": label_smoothing,
    "ch8-ex-pack": pack,
}
