"""Checks for the assignment "Fix the dead critic" (book/assignments/fix_dead_critic.ipynb).

The pinned configuration ``BROKEN`` is a weight-clipped WGAN (``objective="wgan-clip"``) on the eight
Gaussians whose critic is narrow and deep (six hidden layers of 64 units) and clipped at the WGAN paper's
c = 0.01. Each hidden layer of such a critic shrinks what passes through it, so the gradient that reaches
the first layers vanishes, the critic's estimate of W1 stays near 0 and the generator does not learn.

The reader writes ``fixed_settings()``, returning overrides of ``BROKEN``. Only the Lipschitz constraint
may change (``ALLOWED``): the clip c, or the gradient penalty instead (``objective="wgan-gp"``, with
``penalty_weight`` and ``one_sided``). The networks, the data, the optimiser, the learning rates, the batch
and the number of steps stay as they are.
"""
from __future__ import annotations

import random
from dataclasses import replace
from typing import Callable

import numpy as np
import torch

from .. import data, lipschitz, objectives
from ..train import TrainConfig, TrainResult, train_seeds

__all__ = ["DATA", "BROKEN", "ALLOWED", "OBJECTIVES", "MAX_W1_RATIO", "MIN_CORRELATION", "MIN_FIRST_LAYER",
           "fixed_config", "w1_ratio", "estimate_correlation", "first_layer_share", "check_fixed_settings"]

DATA = "8gaussians"
BROKEN = dict(objective="wgan-clip", clip=0.01, width=64, depth=6, optimizer="rmsprop", lr_d=3e-4, lr_g=1e-4,
              n_critic=5, batch_size=64, steps=400, log_every=40, eval_samples=300, log_start=True,
              progress=False)
ALLOWED = ("objective", "clip", "penalty_weight", "one_sided")
OBJECTIVES = ("wgan-clip", "wgan-gp")
MAX_W1_RATIO = 0.85      # learned: W1 at the end (mean of the last 3 logs) <= 0.85 W1 at step 0
MIN_CORRELATION = 0.5    # tracks: corr(estimate, W1) over the logs >= 0.5
MIN_FIRST_LAYER = 1e-2   # alive: ||dL/dz_1|| >= 1e-2 ||dL/df|| (the first layer gets the gradient)


def fixed_config(fix: Callable[[], dict]) -> TrainConfig:
    """The resolved ``TrainConfig`` of ``BROKEN`` with ``fix()``'s overrides; AssertionError if ``fix()``
    returns something other than a dict of ``ALLOWED`` keys, leaves the broken run as it is, or is refused
    by ``TrainConfig``."""
    overrides = fix()
    if not isinstance(overrides, dict):
        raise AssertionError(f"fixed_settings() should return a dict of settings, got {type(overrides).__name__}")
    bad = sorted(set(overrides) - set(ALLOWED))
    if bad:
        raise AssertionError(f"fixed_settings() changes {bad}, which must stay as they are; only the Lipschitz "
                             f"constraint may change: {list(ALLOWED)}")
    if overrides.get("objective", BROKEN["objective"]) not in OBJECTIVES:
        raise AssertionError(f"objective must be one of {OBJECTIVES}, got {overrides['objective']!r}")
    try:
        cfg = replace(TrainConfig(), **objectives.override(BROKEN, overrides)).resolved()
    except ValueError as e:
        raise AssertionError(f"gl.train refuses these settings: {e}") from None
    if cfg == replace(TrainConfig(), **BROKEN).resolved() or (
            cfg.objective == "wgan-clip" and cfg.clip == BROKEN["clip"]):
        raise AssertionError("these settings train the broken configuration again: change the clip, or switch "
                             "to the gradient penalty")
    return cfg


def w1_ratio(result: TrainResult) -> float:
    """W1 at the end of training (the mean of the last three logs) over W1 at step 0."""
    w = result.history["w1"]
    return float(np.mean(w[-3:]) / w[0])


def estimate_correlation(result: TrainResult) -> float:
    """The correlation over the logs (step 0 left out: no estimate yet) between the critic's estimate and
    the exact W1; 0 if the estimate never moves."""
    e, w = np.array(result.history["estimate"][1:]), np.array(result.history["w1"][1:])
    if e.std() == 0 or w.std() == 0 or not np.isfinite(e).all():
        return 0.0
    return float(np.corrcoef(e, w)[0, 1])


def first_layer_share(result: TrainResult, *, seed: int) -> float:
    """||dL/dz_1|| / ||dL/df||: how much of the critic loss's gradient reaches the first layer
    (``lipschitz.layer_gradient_norms`` on 256 real and 256 generated points drawn with ``seed``)."""
    norms = lipschitz.layer_gradient_norms(result.critic, data.sample(DATA, 256, seed=seed),
                                           result.sample(256, seed=seed + 1))
    return float(norms[0] / norms[-1])


def check_fixed_settings(fix: Callable[[], dict]) -> bool:
    """``fix()`` keeps the rules (``fixed_config``), and after 40 generator steps of the fixed run (seed 0)
    the first layer of the critic gets at least 1 % of the gradient at its output: the critic is alive.
    The full outcome (W1 falls, the estimate tracks it, over seeds) is graded elsewhere."""
    from . import run_check

    def attempt() -> None:
        cfg = fixed_config(fix)
        torch_state, np_state, py_state = torch.random.get_rng_state(), np.random.get_state(), random.getstate()
        try:
            (result,) = train_seeds(DATA, replace(cfg, steps=40, log_every=40, eval_samples=0), seeds=[0])
            share = first_layer_share(result, seed=9)
        finally:
            torch.random.set_rng_state(torch_state)
            np.random.set_state(np_state)
            random.setstate(py_state)
        if result.diverged is not None:
            raise AssertionError(f"the fixed run diverged: {result.diverged}")
        if not share >= MIN_FIRST_LAYER:
            raise AssertionError(f"after 40 steps the critic's first layer gets {share:.2g} of the gradient at "
                                 f"its output (needed >= {MIN_FIRST_LAYER:g}): the gradient still vanishes "
                                 "on its way down the critic")
    return run_check("a critic that is alive", attempt)
