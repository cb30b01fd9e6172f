"""Checks for chapter 5's exercises (WGAN-GP: the gradient penalty)."""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from .. import estimate, losses, nets
from ._compare import check_penalty, close, same_parameters, seeded_critic, seeded_generator

__all__ = ["check_gradient_penalty", "check_one_sided_penalty", "check_gp_critic_step"]

Penalty = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _points(seed: int, n: int):
    """real, fake (n, 2) and per-sample weights eps (n, 1), all float64."""
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, 2, generator=g, dtype=torch.float64) * 0.5 + torch.tensor([1.5, 0.0], dtype=torch.float64)
    fake = torch.randn(n, 2, generator=g, dtype=torch.float64) * 1.5
    eps = torch.rand(n, 1, generator=g, dtype=torch.float64)
    return real, fake, eps


def _straddling_critic(seed: int, real, fake, eps) -> nets.MLP:
    """A critic rescaled (last layer) so that half its gradient norms at the interpolates are above 1."""
    critic = seeded_critic(seed, data_dim=2, width=16, depth=2)
    x_hat = eps * real + (1 - eps) * fake
    median = estimate.input_gradient(critic, x_hat).norm(dim=1).median().item()
    with torch.no_grad():
        critic.net[-1].weight.div_(median * 1.05)
    return critic


def _check_no_gradient_to_generator(name: str, fn: Penalty, critic: nn.Module, real, eps) -> None:
    maker = seeded_generator(58)
    z = torch.randn(len(real), 2, generator=torch.Generator().manual_seed(59), dtype=torch.float64)
    fake = maker(z)                                     # still attached to the generator's graph
    got = fn(critic, real, fake, eps)
    close(name, got, losses.gradient_penalty(critic, real, fake, eps=eps).item(), rtol=1e-7)
    if isinstance(got, torch.Tensor) and got.requires_grad:
        grads = torch.autograd.grad(got.reshape(()), list(maker.parameters()), allow_unused=True)
        if any(g is not None and g.abs().max().item() > 0 for g in grads):
            raise AssertionError(f"{name}: the penalty sends gradient into the generator that made fake; "
                                 "it constrains the critic only, so build x_hat from real.detach() and "
                                 "fake.detach()")


def check_gradient_penalty(fn: Penalty) -> bool:
    """``fn(critic, real, fake, eps)`` must return E[(||grad f(x_hat)||_2 - 1)^2] at
    x_hat = eps * real + (1 - eps) * fake, with ``eps`` of shape (n, 1) given, as a tensor that is
    differentiable with respect to the critic's parameters (no gradient reaches ``fake``'s generator)."""
    from . import run_check

    def attempt() -> None:
        real, fake, eps = _points(50, 128)
        check_penalty("the penalty of a random critic on 128 interpolates", fn,
                       seeded_critic(51, data_dim=2, width=16, depth=2), real, fake, eps, False,
                       " (x_hat uses the given eps, between real and fake; the norm is the Euclidean norm of "
                       "each point's gradient, not squared; square (norm - 1) point by point, then average)")
        real, fake, eps = _points(52, 40)
        check_penalty("the penalty of a critic whose gradient norms straddle 1", fn,
                       _straddling_critic(53, real, fake, eps), real, fake, eps, False, "")
        real, _, eps = _points(54, 32)
        # a smooth critic: with ReLU the input gradient is piecewise constant in x_hat, so nothing would
        # flow back into fake either way
        _check_no_gradient_to_generator("the penalty of a tanh critic when fake comes straight from a generator",
                                        fn, seeded_critic(55, data_dim=2, width=16, depth=2, activation="tanh"),
                                        real, eps)
    return run_check("gradient penalty", attempt)


def check_one_sided_penalty(fn: Penalty) -> bool:
    """``fn(critic, real, fake, eps)`` must return E[max(0, ||grad f(x_hat)||_2 - 1)^2] at
    x_hat = eps * real + (1 - eps) * fake, differentiable with respect to the critic's parameters."""
    from . import run_check

    def attempt() -> None:
        real, fake, eps = _points(60, 128)
        check_penalty("the one-sided penalty of a critic whose gradient norms straddle 1", fn,
                       _straddling_critic(61, real, fake, eps), real, fake, eps, True,
                       " (only norms above 1 are penalised: max(0, norm - 1), squared, averaged over all "
                       "points)")
        steep = _straddling_critic(62, real, fake, eps)
        with torch.no_grad():
            steep.net[-1].weight.mul_(3.0)
        check_penalty("the one-sided penalty of a steep critic", fn, steep, real, fake, eps, True, "")
        flat = _straddling_critic(63, real, fake, eps)
        with torch.no_grad():
            flat.net[-1].weight.mul_(0.2)
        close("the one-sided penalty of a critic whose gradient norms are all below 1 (should be 0)",
              fn(flat, real, fake, eps), 0.0)
    return run_check("one-sided gradient penalty", attempt)


def check_gp_critic_step(fn: Callable[[nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor,
                                       torch.Tensor, float], float]) -> bool:
    """``fn(critic, optimizer, real, fake, eps, lam)`` must make one WGAN-GP critic update with the loss
    E[f(fake)] - E[f(real)] + lam * penalty (penalty at x_hat = eps * real + (1 - eps) * fake) and return
    that loss, measured before the update, as a float."""
    from . import run_check

    def attempt() -> None:
        lam = 10.0
        critic = seeded_critic(70, data_dim=2, width=16, depth=2)
        reference = copy.deepcopy(critic)
        optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
        ref_optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3, betas=(0.5, 0.9))
        maker = seeded_generator(71)
        g = torch.Generator().manual_seed(72)
        for step in (1, 2, 3):
            name = f"WGAN-GP critic step {step} of 3"
            real, _, eps = _points(72 + step, 64)
            fake = maker(torch.randn(64, 2, generator=g, dtype=torch.float64))
            real_copy, fake_copy, eps_copy = real.clone(), fake.detach().clone(), eps.clone()

            ref_optimizer.zero_grad()
            loss = (losses.critic_loss(reference(real), reference(fake.detach()))
                    + lam * losses.gradient_penalty(reference, real, fake, eps=eps))
            expected = loss.item()
            loss.backward()
            ref_optimizer.step()

            got = fn(critic, optimizer, real, fake, eps, lam)
            if not (torch.equal(real, real_copy) and torch.equal(fake.detach(), fake_copy)
                    and torch.equal(eps, eps_copy)):
                raise AssertionError(f"{name}: real, fake or eps was modified; leave them as they are")
            close(f"{name}: the loss E f(fake) - E f(real) + lam * penalty before the update", got, expected,
                  rtol=1e-6, hint=" (lam multiplies the penalty only; the penalty is at the interpolates x_hat)")
            same_parameters(name, critic, reference, 1e-6,
                            " after the update, though the loss value is right (does the penalty reach the "
                            "parameters, i.e. create_graph=True? are the gradients zeroed before backward?)")
    return run_check("one WGAN-GP critic step", attempt)
