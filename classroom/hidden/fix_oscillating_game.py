"""Hidden tests for book/assignments/fix_oscillating_game.ipynb.

``as-fix-oscillating``: the student's ``fixed_step(theta, psi, lr)`` is graded on

- the rules of the visible check (``gan_lab.exercises.fix_oscillating_game.check_rules``) at step sizes
  and states the visible check does not use: lr 0.02, 0.05 and 0.2 (an answer that hard-codes lr = 0.1
  fails), float32 and 0-d inputs, starts on the axes (theta = 0 or psi = 0);
- the outcome over 20 starting points (seeds 100-119, drawn here, none of them the visible check's): each
  seed draws a start at distance 0.2 to 5 from (0, 0) and a step size from {0.02, 0.05, 0.1, 0.2}; it
  passes when 1,500 steps bring the distance below 1 % of the start's. Tolerance: at least 18 of the 20
  seeds. Measured: the reference (simultaneous steps with the R1 penalty gamma = 1) passes 20 of 20 (worst
  ratio about 1e-5 at lr = 0.02); plain simultaneous steps 0 of 20 (they grow by (1 + lr^2)^(T/2)),
  alternating steps 0 of 20 (ratio about 1).

Measured: about 7 s on one CPU core (the 20 runs step one state at a time through the student's function).
"""
from __future__ import annotations

import torch

from gan_lab.exercises import fix_oscillating_game as rules

from . import answer, over_seeds

__all__ = ["HIDDEN"]

SEEDS = range(100, 120)
NEED = 18
LRS = (0.02, 0.05, 0.1, 0.2)
STEPS = 1500


def start_of(seed: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The start (theta0, psi0) and step size lr that hidden seed ``seed`` grades."""
    g = torch.Generator().manual_seed(seed)
    angle = 2 * torch.pi * torch.rand(1, generator=g, dtype=torch.float64)
    radius = 0.2 + 4.8 * torch.rand(1, generator=g, dtype=torch.float64)
    lr = LRS[int(torch.randint(len(LRS), (1,), generator=g))]
    return radius * torch.cos(angle), radius * torch.sin(angle), lr


def test_fixed_step(ns: dict) -> None:
    fn = answer(ns, "fixed_step")
    axes_theta = torch.tensor([0.0, 1.5, 0.0, -2.0], dtype=torch.float64)
    axes_psi = torch.tensor([1.0, 0.0, -3.0, 0.0], dtype=torch.float64)
    for lr in (0.02, 0.05, 0.2):
        rules.check_rules(fn, axes_theta, axes_psi, lr)
        g = torch.Generator().manual_seed(int(lr * 1000))
        rules.check_rules(fn, 3 * torch.randn(32, generator=g, dtype=torch.float64),
                          3 * torch.randn(32, generator=g, dtype=torch.float64), lr)
    # other dtypes and shapes: a float32 batch and a single 0-d state
    rules.check_rules(fn, torch.tensor([0.5, -1.0]), torch.tensor([1.0, 0.25]), 0.1)
    rules.check_rules(fn, torch.tensor(0.7, dtype=torch.float64), torch.tensor(-0.3, dtype=torch.float64), 0.1)

    def outcome(seed: int) -> tuple[bool, str]:
        theta0, psi0, lr = start_of(seed)
        ratio = rules.distance_ratio(fn, theta0, psi0, lr, STEPS).item()
        return ratio <= rules.MAX_RATIO, f"d_T / d_0 = {ratio:.2g} at lr = {lr}"

    over_seeds(outcome, list(SEEDS), NEED,
               f"{STEPS} steps brought the distance to (0, 0) below {rules.MAX_RATIO:g} of the start's")


HIDDEN = {"as-fix-oscillating": test_fixed_step}
