"""Checks for the assignment "A loop of their own" (book/assignments/wgan_gp_loop.ipynb): the WGAN-GP
critic loss, the gradient penalty with its interpolation weights drawn from a ``torch.Generator``, and a
whole WGAN-GP training loop on 8 Gaussians.

The comparisons are public (``compare_critic_loss``, ``compare_penalty``, ``samples_of``, ``distance_to_data``)
so that other checks (the classroom's hidden tests) can run them on other inputs.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .. import data, losses, metrics, nets, settings
from ._compare import close, same_parameter_gradients, seeded

__all__ = ["check_critic_loss", "check_gradient_penalty", "check_training_loop", "compare_critic_loss",
           "compare_penalty", "score_batch", "point_batch", "small_critic", "samples_of", "distance_to_data",
           "untrained_generator", "DATA"]

DATA = "8gaussians"

CriticLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Penalty = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]
Loop = Callable[..., nn.Module]


def score_batch(seed: int, n: int, shape_1d: bool = False, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Critic scores f(x) (n, 1) for real and fake, differentiable leaves, real ones higher on average."""
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, 1, generator=g, dtype=dtype) + 0.7
    fake = torch.randn(n, 1, generator=g, dtype=dtype) * 2.0 - 0.3
    if shape_1d:
        real, fake = real.squeeze(1), fake.squeeze(1)
    return real.requires_grad_(True), fake.requires_grad_(True)


def compare_critic_loss(name: str, fn: CriticLoss, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> None:
    """``fn(real_scores, fake_scores)`` must equal E[f(fake)] - E[f(real)] (``losses.critic_loss``), as one
    number, with the gradient -1/n on each real score and +1/n on each fake score."""
    real_in, fake_in = real_scores.detach().clone(), fake_scores.detach().clone()
    got = fn(real_scores, fake_scores)
    if not (torch.equal(real_scores.detach(), real_in) and torch.equal(fake_scores.detach(), fake_in)):
        raise AssertionError(f"{name}: the scores were modified; leave them as they are")
    expected = losses.critic_loss(real_scores, fake_scores)
    close(name, got, expected.item(), rtol=1e-5, atol=1e-6,
          hint=" (the critic minimises E[f(fake)] - E[f(real)]: the mean of the fake scores minus the mean of "
               "the real ones, each over the whole batch)")
    if not (isinstance(got, torch.Tensor) and got.requires_grad):
        raise AssertionError(f"{name}: the value is right, but it is not a tensor connected to the scores, so the "
                             "critic could not train on it: compute it with torch operations, without .item()")
    g_real, g_fake = torch.autograd.grad(got.reshape(()), [real_scores, fake_scores], allow_unused=True)
    n_real, n_fake = real_scores.numel(), fake_scores.numel()
    for label, grad, n, sign in (("real", g_real, n_real, -1.0), ("fake", g_fake, n_fake, 1.0)):
        want = torch.full_like(real_scores if label == "real" else fake_scores, sign / n)
        if grad is None or not torch.allclose(grad, want, rtol=1e-4, atol=1e-7):
            raise AssertionError(f"{name}: the value is right, but its gradient with respect to the {label} scores "
                                 f"should be {sign / n:+.3g} on each (sign {sign:+.0f}, averaged over all {n})")


def check_critic_loss(fn: CriticLoss) -> bool:
    """``fn(real_scores, fake_scores)`` must return E[f(fake)] - E[f(real)] for (n, 1) score batches."""
    from . import run_check

    def attempt() -> None:
        compare_critic_loss("the critic loss of 64 real and 64 fake scores", fn, *score_batch(80, 64))
        real, fake = score_batch(81, 200)
        compare_critic_loss("the critic loss when the fake scores are all higher", fn, real, fake + 5.0)
    return run_check("critic loss", attempt)


def point_batch(seed: int, n: int, dim: int = 2, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """A real batch near the 8 Gaussians' ring and a wider fake batch, (n, dim) each."""
    g = torch.Generator().manual_seed(seed)
    angle = torch.rand(n, generator=g, dtype=dtype) * 6.283
    ring = torch.stack([angle.cos(), angle.sin()], dim=1) * 1.414
    real = torch.cat([ring, torch.zeros(n, dim - 2, dtype=dtype)], dim=1) if dim > 2 else ring
    real = real + 0.05 * torch.randn(n, dim, generator=g, dtype=dtype)
    fake = 0.8 * torch.randn(n, dim, generator=g, dtype=dtype)
    return real, fake


def small_critic(seed: int, dim: int = 2, activation: str = "relu", scale: float = 1.0) -> nets.MLP:
    """A float32 ``nets.critic`` (2 x 16) drawn from ``seed`` without touching the global random state, its
    last layer multiplied by ``scale`` (which scales every gradient norm by it)."""
    critic = seeded(seed, lambda: nets.critic(dim, width=16, depth=2, activation=activation))
    with torch.no_grad():
        critic.net[-1].weight.mul_(scale)
    return critic


def compare_penalty(name: str, fn: Penalty, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                    seed: int) -> None:
    """``fn(critic, real, fake, generator)`` with ``generator`` a fresh ``torch.Generator`` seeded with ``seed``
    must return ``losses.gradient_penalty(critic, real, fake, generator=<the same>)``: E[(||grad f(x_hat)||_2 - 1)^2]
    at x_hat = eps * real + (1 - eps) * fake, eps = torch.rand(n, 1, generator=generator); a tensor whose
    gradient with respect to the critic's parameters is the reference's, and that leaves its inputs as they are."""
    args = [real.clone(), fake.clone()]
    got = fn(critic, *args, torch.Generator().manual_seed(seed))
    if not (torch.equal(args[0], real) and torch.equal(args[1], fake)):
        raise AssertionError(f"{name}: real or fake was modified; leave them as they are")
    expected = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(seed))
    close(name, got, expected.item(), rtol=1e-4, atol=1e-6,
          hint=" (draw the weights as eps = torch.rand(n, 1, generator=generator), one per pair and nothing "
               "drawn before them; x_hat = eps * real + (1 - eps) * fake; take each point's own gradient norm, "
               "not squared, subtract 1, square, then average over the batch)")
    same_parameter_gradients(name, got, expected, critic, rtol=1e-4)


def check_gradient_penalty(fn: Penalty) -> bool:
    """``fn(critic, real, fake, generator)`` must return the WGAN-GP penalty at random interpolates whose
    weights come from ``torch.rand(n, 1, generator=generator)``, differentiable in the critic's parameters."""
    from . import run_check

    def attempt() -> None:
        real, fake = point_batch(90, 128)
        compare_penalty("the penalty of a random critic on 128 interpolates", fn, small_critic(91), real, fake, 92)
        real, fake = point_batch(93, 50)
        compare_penalty("the penalty of a steep critic (gradient norms above 1)", fn,
                        small_critic(94, scale=8.0), real, fake, 95)
    return run_check("gradient penalty from a generator", attempt)


def untrained_generator(seed: int, width: int) -> nets.MLP:
    """The generator a loop that starts with ``settings.seed_everything(seed)`` and then builds
    ``nets.generator(2, 2, width=width)`` trains from (the global random state is restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        settings.seed_everything(seed)
        return nets.generator(2, 2, width=width)


def samples_of(name: str, generator, seed: int, n: int = 1000) -> torch.Tensor:
    """``n`` points G(z) of a trained ``generator``, z ~ N(0, I) (n, 2) from the run's
    ``eval_noise`` stream (``settings.STREAMS``);
    AssertionError naming ``name`` if it is not an ``nn.Module``, or its samples are not finite (n, 2) points."""
    if not isinstance(generator, nn.Module):
        raise AssertionError(f"{name}: the loop should return the trained generator (an nn.Module mapping noise "
                             f"(n, 2) to points (n, 2)), got {type(generator).__name__}")
    z = torch.randn(n, 2, generator=settings.stream(seed, "eval_noise"))
    try:
        device = next(generator.parameters()).device
    except StopIteration:
        raise AssertionError(f"{name}: the returned generator has no parameters; return the network you trained") \
            from None
    with torch.no_grad():
        x = generator(z.to(device))
    if not isinstance(x, torch.Tensor) or tuple(x.shape) != (n, 2):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise AssertionError(f"{name}: the generator maps noise ({n}, 2) to {shape}; it should give ({n}, 2) points")
    x = x.detach().float().cpu()
    if not torch.isfinite(x).all():
        raise AssertionError(f"{name}: the generator's samples contain NaN or Inf: training diverged (is the "
                             "penalty in the critic's loss? are the learning rates the ones given?)")
    return x


def distance_to_data(samples: torch.Tensor, seed: int) -> float:
    """Exact W1 between ``samples`` and as many real points, drawn from the run's ``eval_real`` stream."""
    real = data.sample(DATA, len(samples), generator=settings.stream(seed, "eval_real"))
    return metrics.wasserstein1(samples, real)


def check_training_loop(fn: Loop, *, seed: int = 7, steps: int = 150, width: int = 64) -> bool:
    """``fn(seed, steps, width=width)`` must train WGAN-GP on 8 Gaussians and return the generator: an
    ``nn.Module`` whose samples are finite (n, 2) points, with W1 to the data below 0.75 times the untrained
    generator's (the one ``untrained_generator(seed, width)`` builds)."""
    from . import run_check

    def attempt() -> None:
        name = f"train_wgan_gp({seed}, {steps}, width={width})"
        before = distance_to_data(samples_of("the untrained generator", untrained_generator(seed, width), seed), seed)
        trained = fn(seed, steps, width=width)
        after = distance_to_data(samples_of(name, trained, seed), seed)
        print(f"W1 to the data: untrained generator {before:.3f}, after {steps} steps {after:.3f}")
        if not after < 0.75 * before:
            raise AssertionError(f"{name}: W1 to the data is {after:.3f} after training, not below 0.75 x the "
                                 f"untrained generator's {before:.3f}: the generator did not learn (does the critic "
                                 "maximise E f(real) - E f(fake)? does the generator's optimiser hold the "
                                 "generator's parameters? is the penalty in the critic's loss?)")
    return run_check("WGAN-GP training loop", attempt)
