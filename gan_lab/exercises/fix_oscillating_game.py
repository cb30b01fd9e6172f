"""Checks for the assignment "Fix the oscillating game" (book/assignments/fix_oscillating_game.ipynb).

The reader writes ``fixed_step(theta, psi, lr) -> (theta', psi')``, one training step of the Dirac-GAN
(``gan_lab.dirac``: data at 0, generator at theta, critic f_psi(x) = psi x, value V = -psi theta) that
converges to the equilibrium (0, 0). The rules (``check_rules``):

- the step works elementwise on tensors (a batch of starting points at once) and keeps (0, 0) fixed;
- the generator's step is the game's: theta' = theta + lr psi, with the critic's current psi
  (simultaneous) or its new psi' (alternating);
- the critic still ascends the game: theta enters its step only through -lr theta, so
  psi' = psi - lr theta + r(psi), where the regulariser's share r is at most 10 lr |psi| in size
  (a penalty (gamma / 2) psi^2 with gamma <= 10 gives r = -lr gamma psi).

The outcome (``distance_ratio``): from every starting point, ``steps`` steps bring the distance to the
equilibrium, sqrt(theta^2 + psi^2), below a small fraction of where it started.
"""
from __future__ import annotations

from typing import Callable

import torch

from .. import dirac

__all__ = ["LR", "STEPS", "MAX_RATIO", "MAX_REGULARISER", "visible_starts", "check_rules", "distance_ratio",
           "check_fixed_step"]

LR = 0.1                 # the step size eta of the visible check
STEPS = 1000             # steps per run
MAX_RATIO = 1e-2         # converged: the distance to (0, 0) falls below 1 % of the start's
MAX_REGULARISER = 10.0   # |r(psi)| <= 10 lr |psi|: at most a penalty weight gamma = 10

Step = Callable[[torch.Tensor, torch.Tensor, float], tuple]


def visible_starts() -> tuple[torch.Tensor, torch.Tensor]:
    """The visible check's eight starting points (theta0, psi0), float64, at distances 0.5 to 2 from (0, 0)
    (from their own generator: the global random state is left alone)."""
    g = torch.Generator().manual_seed(2018)
    angle = 2 * torch.pi * torch.rand(8, generator=g, dtype=torch.float64)
    radius = 0.5 + 1.5 * torch.rand(8, generator=g, dtype=torch.float64)
    return radius * torch.cos(angle), radius * torch.sin(angle)


def _call(fn: Step, theta: torch.Tensor, psi: torch.Tensor, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
    out = fn(theta.clone(), psi.clone(), lr)
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise AssertionError(f"fixed_step should return a pair (theta, psi), got {type(out).__name__}")
    new = []
    for name, value in zip(("theta", "psi"), out):
        value = torch.as_tensor(value)
        if value.shape != theta.shape:
            raise AssertionError(f"the new {name} has shape {tuple(value.shape)} for inputs of shape "
                                 f"{tuple(theta.shape)}: work elementwise, one state per starting point")
        new.append(value.to(torch.float64))
    return new[0], new[1]


def check_rules(fn: Step, theta: torch.Tensor, psi: torch.Tensor, lr: float) -> None:
    """AssertionError unless ``fn`` keeps the assignment's rules (module docstring) at these states."""
    theta, psi = theta.to(torch.float64), psi.to(torch.float64)
    tol = 1e-9 * (1 + theta.abs().max().item() + psi.abs().max().item())
    zero_t, zero_p = _call(fn, torch.zeros_like(theta), torch.zeros_like(psi), lr)
    if zero_t.abs().max() > 1e-12 or zero_p.abs().max() > 1e-12:
        raise AssertionError("at the equilibrium (theta, psi) = (0, 0) the step moved: it must stay put")
    new_theta, new_psi = _call(fn, theta, psi, lr)
    simultaneous = (new_theta - (theta + lr * psi)).abs().max().item()
    alternating = (new_theta - (theta + lr * new_psi)).abs().max().item()
    if min(simultaneous, alternating) > tol:
        raise AssertionError(f"with lr = {lr} the generator's step is not the game's: theta' - theta differs "
                             f"from lr * psi by up to {simultaneous:.3g} and from lr * psi' by up to "
                             f"{alternating:.3g}; keep theta' = theta + lr * psi (or the new psi') and change "
                             "only the critic's step")
    h = 0.25
    _, shifted_psi = _call(fn, theta + h, psi, lr)
    moved = (shifted_psi - new_psi + lr * h).abs().max().item()
    if moved > tol:
        raise AssertionError(f"with lr = {lr}, moving theta by {h} should move the critic's psi' by -lr * {h} "
                             f"= {-lr * h:.4g} (its gradient step on V = -psi theta), but it moved it by "
                             f"{(shifted_psi - new_psi).mean().item():.4g} on average: theta may enter the "
                             "critic's step only through -lr * theta")
    regulariser = new_psi - psi + lr * theta
    too_big = regulariser.abs() > MAX_REGULARISER * lr * psi.abs() + tol
    if too_big.any():
        k = int(too_big.nonzero()[0, 0])
        raise AssertionError(f"with lr = {lr} at (theta, psi) = ({theta[k].item():.3g}, {psi[k].item():.3g}) the "
                             f"critic's step adds {regulariser[k].item():.3g} to the gradient step; a "
                             f"regulariser may add at most {MAX_REGULARISER:g} * lr * |psi| = "
                             f"{MAX_REGULARISER * lr * abs(psi[k].item()):.3g} (a penalty weight gamma <= "
                             f"{MAX_REGULARISER:g})")


def distance_ratio(fn: Step, theta0: torch.Tensor, psi0: torch.Tensor, lr: float, steps: int = STEPS
                   ) -> torch.Tensor:
    """d_T / d_0 per starting point, d_t = sqrt(theta_t^2 + psi_t^2) after t steps of ``fn``
    (inf where the run overflowed)."""
    try:
        thetas, psis = dirac.iterate(lambda t, p, eta: _call(fn, t, p, eta), theta0, psi0, lr=lr, steps=steps)
    except ValueError:               # NaN or Inf: it ran away
        return torch.full(theta0.shape, float("inf"), dtype=torch.float64)
    return dirac.distance(thetas[-1], psis[-1]) / dirac.distance(theta0, psi0)


def check_fixed_step(fn: Step) -> bool:
    """``fn(theta, psi, lr)`` keeps the rules and brings the eight visible starts within 1 % of their
    distance to (0, 0) in 1,000 steps at lr = 0.1."""
    from . import run_check

    def attempt() -> None:
        theta0, psi0 = visible_starts()
        check_rules(fn, theta0, psi0, LR)
        ratio = distance_ratio(fn, theta0, psi0, LR)
        if not (ratio <= MAX_RATIO).all():
            raise AssertionError(f"after {STEPS} steps at lr = {LR} the distance to (0, 0) is "
                                 f"{ratio.max().item():.3g} times the start's at worst (needed <= {MAX_RATIO}); "
                                 "the game still does not converge")
    return run_check("a Dirac-GAN step that converges", attempt)
