"""Checks for the assignment "Fix a stalled generator" (``book/assignments/fix_saturating_loss.ipynb``).

The pinned run ``PINNED`` is a GAN on eight Gaussians with the saturating generator loss
L_G = E log(1 - D(G(z))) against a discriminator that takes five steps per generator step at ten times the
generator's rate. D soon rejects every fake, the factor D(G(z)) in the saturating gradient vanishes, and the
generator stays where it started: after 500 steps no sample lies within 3 standard deviations of a mode
(high-quality fraction 0.000 on seeds 0, 1, 2, 7, 101-105) and W1 stays at its starting value (1.35-1.39).

The reader's ``fixed_settings()`` may change only the generator's side of the game (``ALLOWED``); the
discriminator, the networks, the batch size and the step count stay as pinned. A run meets the bar when at
its last log at least ``HQ_BAR`` of the samples are high quality and at least one mode is covered.
"""
from __future__ import annotations

from typing import Callable, Mapping

from .. import settings
from .fix_mode_collapse import Outcome, checked_overrides, outcomes

__all__ = ["PINNED", "ALLOWED", "HQ_BAR", "VISIBLE_SEEDS", "meets_bar", "describe", "check_fixed_settings"]

PINNED: dict = dict(objective="gan", steps=500, batch_size=256, width=64, depth=3, noise_dim=2,
                    lr_g=1e-4, lr_d=1e-3, n_critic=5, betas=(0.5, 0.9), generator_loss="saturating",
                    log_every=100, log_start=True, eval_samples=1000, progress=False)
"""The stalled run: every TrainConfig field it sets (the rest keep TrainConfig's defaults)."""

ALLOWED = ("generator_loss", "lr_g", "generator_optimizer")
"""The generator's settings; the discriminator's (lr_d, n_critic, optimizer, betas), the networks, the batch
size, the step count, the seed and the logging stay as pinned."""

HQ_BAR = 0.10           # the stalled run: 0.000 on every seed measured
VISIBLE_SEEDS = (7,)    # the hidden test uses others


def meets_bar(outcome: Outcome) -> bool:
    """At least HQ_BAR of the samples within 3 std of a mode and >= 1 mode covered, without diverging."""
    return outcome.diverged is None and outcome.hq >= HQ_BAR and outcome.modes >= 1


def describe(outcome: Outcome) -> str:
    """The outcome in words for feedback: the high-quality fraction, the modes and W1."""
    if outcome.diverged is not None:
        return "diverged"
    return f"high-quality fraction {outcome.hq:.2f}, {outcome.modes}/8 modes, W1 {outcome.w1:.3f}"


def check_fixed_settings(fn: Callable[[], Mapping]) -> bool:
    """``fn()`` must return overrides of ``ALLOWED`` fields only that change the pinned run; at the book and
    full budgets the pinned run with them must meet the bar (``meets_bar``) on seed 7. At the quick budget the
    run is 100 steps and must only train without diverging (a smoke test: the bar needs all 500 steps)."""
    from . import run_check

    def attempt() -> None:
        overrides = checked_overrides(fn(), pinned=PINNED, allowed=ALLOWED)
        if settings.budget() == "quick":
            (o,) = outcomes(overrides, VISIBLE_SEEDS, {**PINNED, "steps": 100, "log_every": 100})
            assert o.diverged is None, f"seed {o.seed}: training diverged ({o.diverged})"
            return
        (o,) = outcomes(overrides, VISIBLE_SEEDS, PINNED)
        assert meets_bar(o), (f"seed {o.seed}: {describe(o)}; the bar is a high-quality fraction of at least "
                              f"{HQ_BAR} (the generator reaches the data)")
    return run_check("fix the stalled generator", attempt)
