"""Checks for chapter 4's exercises (the WGAN critic kept Lipschitz by weight clipping)."""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from .. import lipschitz, losses, nets
from ._compare import close, same_parameters, seeded, seeded_critic, seeded_generator

__all__ = ["check_clip_weights", "check_clipped_critic_step", "check_lipschitz_upper_bound"]


def _snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _unchanged(name: str, module: nn.Module, before: list[torch.Tensor]) -> None:
    for (label, p), old in zip(module.named_parameters(), before):
        if not torch.equal(p.detach(), old):
            raise AssertionError(f"{name}: parameter {label} changed, but it should not have")


def check_clip_weights(fn: Callable[[nn.Module, float], None]) -> bool:
    """``fn(module, c)`` must clamp every parameter of ``module`` (weights and biases) to [-c, c] in place
    and return None."""
    from . import run_check

    def attempt() -> None:
        def nested() -> nn.Module:
            module = nn.Sequential(nets.critic(3, width=8, depth=2), nn.Tanh(), nn.Linear(1, 4))
            module.register_parameter("scale", nn.Parameter(torch.randn(4) * 2))
            return module

        mixed = seeded(41, nested)
        cases = {
            "a random critic, c = 0.05": (seeded_critic(40, data_dim=2, width=16, depth=2), 0.05),
            "a random critic, c = 0.3 (some entries already inside)": (
                seeded_critic(42, data_dim=2, width=16, depth=2), 0.3),
            "nested modules with a bare parameter, c = 0.5": (mixed, 0.5),
        }
        for name, (module, c) in cases.items():
            with torch.no_grad():                        # make sure every kind of parameter sticks out
                for p in module.parameters():
                    p.mul_(3.0)
            reference = copy.deepcopy(module)
            losses.clip_weights(reference, c)
            ids = [id(p) for p in module.parameters()]
            returned = fn(module, c)
            if [id(p) for p in module.parameters()] != ids:
                raise AssertionError(f"{name}: the module's parameters were replaced by new objects; "
                                     "clamp them in place (an optimizer keeps references to the old ones)")
            for (label, p), q in zip(module.named_parameters(), reference.parameters()):
                p = p.detach()
                if torch.equal(p, q):
                    continue
                outside = ((p < -c) | (p > c)).sum().item()
                if outside:
                    raise AssertionError(f"{name}: {outside} entries of {label} are still outside [-c, c] "
                                         "(every parameter is clipped, biases included)")
                err = (p - q).abs().max().item()
                raise AssertionError(f"{name}: {label} is inside [-c, c] but differs from clamping by up to "
                                     f"{err:.3g}: entries already inside stay as they are, entries beyond "
                                     "c become c, entries below -c become -c")
            if returned is not None:
                raise AssertionError(f"{name}: the function should work in place and return None, "
                                     f"it returned a {type(returned).__name__}")
    return run_check("clip every weight to [-c, c]", attempt)


def _batches(seed: int, n: int, steps: int, maker: nn.Module):
    """``steps`` pairs (real, fake): fake still attached to the graph of a small generator ``maker``."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        real = torch.randn(n, 2, generator=g, dtype=torch.float64) * 0.5 + torch.tensor([1.0, -1.0],
                                                                                        dtype=torch.float64)
        z = torch.randn(n, 2, generator=g, dtype=torch.float64)
        out.append((real, maker(z)))
    return out


def check_clipped_critic_step(fn: Callable[[nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor, float],
                                           float]) -> bool:
    """``fn(critic, optimizer, real, fake, c)`` must make one WGAN critic update: the loss
    E[f(fake)] - E[f(real)], zero_grad / backward / step, then clip every parameter to [-c, c]. It returns
    the estimate E[f(real)] - E[f(fake)] measured before the update, as a float."""
    from . import run_check

    def attempt() -> None:
        c, lr = 0.05, 1e-3
        critic = seeded_critic(43, data_dim=2, width=16, depth=2)
        losses.clip_weights(critic, c)                  # a critic that has been clipped before
        reference = copy.deepcopy(critic)
        optimizer = torch.optim.RMSprop(critic.parameters(), lr=lr)
        ref_optimizer = torch.optim.RMSprop(reference.parameters(), lr=lr)
        maker = seeded_generator(44)
        maker_before = _snapshot(maker)
        for step, (real, fake) in enumerate(_batches(45, 64, 2, maker), start=1):
            name = f"critic step {step} of 2"
            real_copy, fake_copy = real.clone(), fake.detach().clone()

            ref_optimizer.zero_grad()
            with torch.no_grad():
                expected = (reference(real).mean() - reference(fake).mean()).item()
            losses.critic_loss(reference(real), reference(fake.detach())).backward()
            ref_optimizer.step()
            losses.clip_weights(reference, c)

            got = fn(critic, optimizer, real, fake, c)
            if not (torch.equal(real, real_copy) and torch.equal(fake.detach(), fake_copy)):
                raise AssertionError(f"{name}: the batches real and fake were modified; leave them as they are")
            close(f"{name}: the estimate E f(real) - E f(fake) before the update", got, expected, rtol=1e-6)
            for label, p in critic.named_parameters():
                if (p.detach().abs() > c * (1 + 1e-12)).any():
                    raise AssertionError(f"{name}: parameter {label} is outside [-c, c] after your step; "
                                         "clip after optimizer.step(), not before")
            same_parameters(name, critic, reference, 1e-6,
                            " (is the loss E f(fake) - E f(real), minimised? are the gradients zeroed "
                            "before backward? do you clip after the step?)")
        _unchanged("the generator that made fake", maker, maker_before)
    return run_check("one WGAN critic step with weight clipping", attempt)


def _closed_form_mlp() -> tuple[nets.MLP, float]:
    """An MLP 2 -> 2 -> 1 with W1 = [[3, 0], [0, 0.5]] and W2 = [[1, 1]]: bound 3 * sqrt(2)."""
    with torch.random.fork_rng(devices=[]):
        mlp = nets.MLP(2, 1, width=2, depth=1).double()
    with torch.no_grad():
        mlp.net[0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 0.5]]))
        mlp.net[0].bias.copy_(torch.tensor([0.7, -0.2]))
        mlp.net[2].weight.copy_(torch.tensor([[1.0, 1.0]]))
        mlp.net[2].bias.fill_(5.0)
    return mlp, 3.0 * 2.0 ** 0.5


def check_lipschitz_upper_bound(fn: Callable[[nets.MLP], float]) -> bool:
    """``fn(mlp)`` gets a ``gan_lab.nets.MLP`` with ReLU activations and must return the product over its
    Linear layers of the spectral norms ||W||_2 (largest singular values), an upper bound on its Lipschitz
    constant."""
    from . import run_check

    def attempt() -> None:
        mlp, expected = _closed_form_mlp()
        cases = {
            "a random critic 2 -> 16 -> 16 -> 1": seeded_critic(46, data_dim=2, width=16, depth=2),
            "a random critic 5 -> 8 -> 8 -> 8 -> 1": seeded_critic(47, data_dim=5, width=8, depth=3),
            "a weight-clipped critic 2 -> 32 -> 32 -> 1 (c = 0.1)": seeded_critic(48, data_dim=2, width=32,
                                                                                  depth=2),
        }
        losses.clip_weights(cases["a weight-clipped critic 2 -> 32 -> 32 -> 1 (c = 0.1)"], 0.1)
        cases = {"an MLP with W1 = diag(3, 0.5) and W2 = [1, 1] (bound 3 sqrt 2)": mlp, **cases}
        for name, net in cases.items():
            before = _snapshot(net)
            got = fn(net)
            _unchanged(name, net, before)
            close(name, got, lipschitz.spectral_bound(net), rtol=1e-5)
        close("the closed form", lipschitz.spectral_bound(mlp), expected, rtol=1e-12)   # guards the reference itself
    return run_check("Lipschitz upper bound from spectral norms", attempt)
