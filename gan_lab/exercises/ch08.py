"""Checks for chapter 8's exercises (least squares, spectral normalisation and the training tricks)."""
from __future__ import annotations

from typing import Callable

import torch

from .. import losses, objectives, spectral, theory
from ._compare import close, close_tensors

__all__ = ["check_least_squares_discriminator_loss", "check_least_squares_optimal_discriminator",
           "check_power_iteration_step", "check_one_sided_label_smoothing", "check_pack"]

# (a, b): the 0-1 coding, the Pearson chi^2 coding, and one that neither formula nor sign-flip can fake
CODINGS = ((0.0, 1.0), (-1.0, 1.0), (0.25, 3.0))


def _scores(seed: int, n_real: int, n_fake: int, scale: float = 1.0):
    """real (n_real, 1) around +0.7 and fake (n_fake, 1) around -0.3, float64; the halves differ in size,
    so a mean over the concatenated batch is not the sum of the two halves' means."""
    g = torch.Generator().manual_seed(seed)
    real = scale * (torch.randn(n_real, 1, generator=g, dtype=torch.float64) + 0.7)
    fake = scale * (torch.randn(n_fake, 1, generator=g, dtype=torch.float64) - 0.3)
    return real, fake


def _same_gradients(name: str, got, expected: torch.Tensor, inputs: tuple, hint: str = "") -> None:
    """``got`` must be a tensor connected to ``inputs`` whose gradient with respect to each equals the one of
    ``expected`` (the reference, computed from the same inputs)."""
    if not (isinstance(got, torch.Tensor) and got.requires_grad):
        raise AssertionError(f"{name}: the value is right, but it is not a tensor connected to the scores, so "
                             "the discriminator could not train on it: return a tensor (no .item(), no "
                             "float(...), no .detach())")
    want = torch.autograd.grad(expected, inputs, retain_graph=True)
    have = torch.autograd.grad(got.reshape(()), inputs, allow_unused=True)
    for label, g, w in zip(("real", "fake"), have, want):
        g = torch.zeros_like(w) if g is None else g
        err = (g - w).abs().max().item()
        if not err <= 1e-9 * max(1.0, w.abs().max().item()):
            raise AssertionError(f"{name}: the value is right, but its gradient with respect to the {label} "
                                 f"scores is off by up to {err:.3g}{hint}")


def _check_loss(name: str, fn: Callable, reference: Callable, real, fake, args: tuple, hint: str = "") -> None:
    """The reader's loss ``fn(real, fake, *args)`` against ``reference(real, fake)``: the value, the scores left
    as they were, and the gradient with respect to both halves."""
    r, f = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    got = fn(r, f, *args)
    if not (torch.equal(r.detach(), real) and torch.equal(f.detach(), fake)):
        raise AssertionError(f"{name}: the scores were modified; leave them as they are")
    expected = reference(r, f)
    close(name, got, expected.item(), rtol=1e-10, atol=1e-12, hint=hint)
    _same_gradients(name, got, expected, (r, f), hint)


def check_least_squares_discriminator_loss(fn: Callable[[torch.Tensor, torch.Tensor, float, float],
                                                        torch.Tensor]) -> bool:
    """``fn(real, fake, a, b)`` must return the LSGAN discriminator's loss
    1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] from the raw scores D of a real batch (n, 1) and a fake
    batch (m, 1), as a tensor the scores can be differentiated through (b: the label of real samples, a:
    that of fakes)."""
    from . import run_check

    def attempt() -> None:
        real, fake = _scores(80, 64, 40)
        for a, b in CODINGS:
            _check_loss(f"the loss with labels a = {a} (fake), b = {b} (real), 64 real and 40 fake scores", fn,
                        lambda r, f, a=a, b=b: losses.least_squares_discriminator_loss(r, f, a=a, b=b),
                        real, fake, (a, b),
                        " (real scores are pulled to b and fakes to a, each squared error averaged over its own "
                        "half and halved, the two halves added; no sigmoid: D is the raw score)")
        real, fake = _scores(81, 7, 300, scale=20.0)
        _check_loss("the loss on far-off scores (7 real, 300 fake)", fn,
                    lambda r, f: losses.least_squares_discriminator_loss(r, f, a=-1.0, b=1.0),
                    real, fake, (-1.0, 1.0))
    return run_check("least-squares discriminator loss", attempt)


def _densities(seed: int, n: int):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(n, generator=g, dtype=torch.float64) * 2 + 0.01
    q = torch.rand(n, generator=g, dtype=torch.float64) * 2 + 0.01
    return p, q


def check_least_squares_optimal_discriminator(fn: Callable[[torch.Tensor, torch.Tensor, float, float],
                                                           torch.Tensor]) -> bool:
    """``fn(p_data, p_g, a, b)`` must return D*(x) = (b p_data(x) + a p_g(x)) / (p_data(x) + p_g(x))
    elementwise (the output minimising 1/2 E_data[(D - b)^2] + 1/2 E_g[(D - a)^2] point by point), and
    (a + b) / 2 where both densities vanish."""
    from . import run_check

    def attempt() -> None:
        p, q = _densities(90, 50)
        zero = torch.zeros_like(p)
        for a, b in CODINGS:
            labels = f"a = {a}, b = {b}"
            expected = theory.least_squares_optimal_discriminator(p, q, a=a, b=b)
            close_tensors(f"D* on random densities, {labels}", fn(p, q, a, b), expected, atol=1e-9)
            close_tensors(f"D* where p_g = p_data, {labels} (the midpoint (a + b) / 2)", fn(p, p, a, b),
                          torch.full_like(p, (a + b) / 2), atol=1e-9)
            close_tensors(f"D* where p_g = 0, {labels} (only real samples there: b)", fn(p, zero, a, b),
                          torch.full_like(p, b), atol=1e-9)
            close_tensors(f"D* where p_data = 0, {labels} (only fakes there: a)", fn(zero, q, a, b),
                          torch.full_like(p, a), atol=1e-9)
        both = torch.tensor([0.0, 0.5, 0.0], dtype=torch.float64)
        other = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
        close_tensors("D* where both densities vanish (first point; should be (a + b) / 2 = 1.625, not NaN)",
                      fn(both, other, 0.25, 3.0), theory.least_squares_optimal_discriminator(
                          both, other, a=0.25, b=3.0), atol=1e-9)
    return run_check("least-squares optimal discriminator", attempt)


def _matrix(seed: int, rows: int, cols: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, cols, generator=g, dtype=torch.float64)


def check_power_iteration_step(fn: Callable[[torch.Tensor, torch.Tensor], tuple]) -> bool:
    """``fn(weight, u)`` must make one power-iteration step for the largest singular value of ``weight``
    (out, in) from u (out,): v = W^T u / ||W^T u||, u' = W v / ||W v||, and return (sigma, u', v) with
    sigma = u'^T W v, leaving ``weight`` and ``u`` as they were. u need not be a unit vector."""
    from . import run_check

    def attempt() -> None:
        for rows, cols, seed in ((7, 5, 100), (3, 9, 101)):
            weight = _matrix(seed, rows, cols)
            u = 3.0 * _matrix(seed + 10, 1, rows)[0]           # not a unit vector: only its direction counts
            w_copy, u_copy = weight.clone(), u.clone()
            name = f"one step on a {rows} x {cols} matrix from a u of norm {u.norm():.2f}"
            out = fn(weight, u)
            if not (torch.equal(weight, w_copy) and torch.equal(u, u_copy)):
                raise AssertionError(f"{name}: weight or u was modified; return new tensors instead")
            if not (isinstance(out, (tuple, list)) and len(out) == 3):
                raise AssertionError(f"{name}: return the three values (sigma, u, v), got {type(out).__name__}")
            sigma, u_new, v = out
            ref_sigma, ref_u, ref_v = spectral.power_iteration(weight, u, 1)
            close_tensors(f"{name}: v", v, ref_v, atol=1e-10)
            close_tensors(f"{name}: the new u", u_new, ref_u, atol=1e-10)
            close(f"{name}: sigma", sigma, ref_sigma.item(), rtol=1e-10,
                  hint=" (sigma = u'^T W v with the new u and v, not the old u, nor a norm squared)")
        weight = _matrix(102, 6, 4)
        u = _matrix(103, 1, 6)[0]
        for _ in range(200):
            sigma, u, _ = fn(weight, u)
        close("sigma after 200 of your steps (should reach the largest singular value)", sigma,
              spectral.largest_singular_value(weight).item(), rtol=1e-8)
    return run_check("one power-iteration step", attempt)


def check_one_sided_label_smoothing(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> bool:
    """``fn(real_logits, fake_logits, alpha)`` must return the discriminator's cross-entropy with label
    1 - alpha for real samples and 0 for fakes, -(1 - alpha) E[log D(x)] - alpha E[log(1 - D(x))]
    - E[log(1 - D(G(z)))] with D = sigmoid(logit), the real and fake means added (at alpha = 0 it is
    ``gl.losses.discriminator_loss``), finite for logits as large as +-1000, as a tensor the logits can be
    differentiated through."""
    from . import run_check

    def attempt() -> None:
        real, fake = _scores(110, 64, 40, scale=3.0)
        for alpha in (0.0, 0.1, 0.3):
            _check_loss(f"the smoothed loss with alpha = {alpha}, 64 real and 40 fake logits", fn,
                        lambda r, f, alpha=alpha: objectives.smoothed_discriminator_loss(r, f, alpha),
                        real, fake, (alpha,),
                        " (only the real samples' label is smoothed, to 1 - alpha; the fakes keep label 0; "
                        "a label y costs -y log D - (1 - y) log(1 - D); the real and the fake means are added)")
        extreme = torch.tensor([[-1000.0], [-200.0], [0.0], [200.0], [1000.0]], dtype=torch.float64)
        _check_loss("the smoothed loss (alpha = 0.1) on extreme logits", fn,
                    lambda r, f: objectives.smoothed_discriminator_loss(r, f, 0.1), extreme, extreme.flip(0),
                    (0.1,), " (log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l) stay "
                            "finite where sigmoid rounds to 0 or 1)")
    return run_check("one-sided label smoothing", attempt)


def check_pack(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """``fn(x, m)`` must pack a batch x (n, d) for a PacGAN critic: an (n / m, m d) tensor whose row i holds the
    samples i m, i m + 1, ..., i m + m - 1 side by side (all coordinates of the first, then of the next), as
    ``gl.train`` packs with ``pack=m``; x itself is left as it was. An n that is not a multiple of m must be
    refused with a ValueError."""
    from . import run_check

    def attempt() -> None:
        x = torch.arange(24, dtype=torch.float64).reshape(12, 2)
        for m in (1, 2, 3, 4):
            copy = x.clone()
            got = fn(x, m)
            if not torch.equal(x, copy):
                raise AssertionError(f"packing 12 two-dimensional samples by {m}: x was modified")
            rows = torch.stack([torch.cat([x[i * m + j] for j in range(m)]) for i in range(12 // m)])
            close_tensors(f"packing 12 two-dimensional samples (x[k] = (2k, 2k + 1)) by {m}", got, rows,
                          atol=0.0)
        g = torch.Generator().manual_seed(120)
        y = torch.randn(30, 3, generator=g, dtype=torch.float64)
        close_tensors("packing 30 three-dimensional samples by 5", fn(y, 5), y.reshape(6, 15), atol=0.0)
        try:
            fn(torch.zeros(10, 2, dtype=torch.float64), 4)
        except ValueError:
            pass
        except NotImplementedError:
            raise
        except Exception as err:   # noqa: BLE001 - any other error is the wrong way to refuse
            raise AssertionError(f"packing 10 samples by 4 raised {type(err).__name__} ({err}); refuse it with a "
                                 "ValueError that says n must be a multiple of m") from None
        else:
            raise AssertionError("packing 10 samples by 4 should raise a ValueError (10 is not a multiple of 4); "
                                 "dropping samples silently would change the batch")
    return run_check("packing a batch (PacGAN)", attempt)

