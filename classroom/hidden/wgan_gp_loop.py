"""Hidden tests for book/assignments/wgan_gp_loop.ipynb ("A loop of their own").

The two losses are compared with gan_lab's on inputs the visible checks do not use (other sizes, 1-D scores,
float64, a linear critic whose penalty is known in closed form, a tanh critic, fakes still attached to a
generator). The loop is graded on its outcome: on seeds the visible check does not use, the student's
``train_wgan_gp(seed, STEPS, width=WIDTH)`` and ``gl.train_seeds`` (the same runs as ``gl.train``, batched) with
the assignment's settings train for the same number of steps, and each seed's student generator must come
within ``W1_TOLERANCE`` of the reference's exact W1 and put mass on at least ``MIN_MODES`` of the 8 modes.

Measured on one CPU core (tests/test_wgan_gp_loop.py runs the reference and planted broken loops): see the
constants' comments.
"""
from __future__ import annotations

import functools
import math

import torch

import gan_lab as gl
from gan_lab import losses, metrics, settings
from gan_lab.exercises import wgan_gp_loop as visible

from . import answer, over_seeds

__all__ = ["HIDDEN", "SEEDS", "STEPS", "WIDTH", "NEED", "W1_TOLERANCE", "MIN_MODES", "MODE_STD"]

# The loop's hidden grading run: fixed, not budget-dependent. Reference (gl.train) W1 on these seeds after
# 600 steps at width 64: 0.16-0.23; every planted broken loop ends above 0.5 (see tests/test_wgan_gp_loop.py).
SEEDS = (101, 102, 103)
NEED = 2
STEPS, WIDTH = 600, 64
W1_TOLERANCE = 0.1            # student's W1 <= reference's W1 on the same seed + this
MODE_STD = 10.0               # a mode counts when >= 20 of 1000 samples lie within 10 std (0.14) of its centre
MIN_MODES = 7


def _close(name: str, got, expected: float, *, rtol: float, atol: float = 0.0, hint: str = "") -> None:
    """``got`` must be one finite number within atol + rtol * |expected| of ``expected``."""
    try:
        value = float(torch.as_tensor(got.detach() if isinstance(got, torch.Tensor) else got,
                                      dtype=torch.float64).reshape(()))
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"{name}: expected one number, got {got!r}") from None
    if not (math.isfinite(value) and abs(value - expected) <= atol + rtol * abs(expected)):
        raise AssertionError(f"{name}: expected {expected:.8g}, got {value:.8g}{hint}")


def _attempted(ns: dict, name: str):
    """The student's ``name``, wrapped so that a stub (NotImplementedError) or a crash becomes an
    AssertionError that says what happened."""
    fn = answer(ns, name)

    def called(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            raise AssertionError(f"`{name}` is not attempted yet: it still raises NotImplementedError") from None
        except AssertionError:
            raise
        except Exception as err:  # noqa: BLE001 - any crash is the student's feedback
            raise AssertionError(f"`{name}` raised {type(err).__name__}: {err}") from None

    return called


def _critic_loss(ns: dict) -> None:
    fn = _attempted(ns, "critic_loss")
    for seed, n, flat, dtype, shift in ((180, 37, False, torch.float32, 0.0), (181, 500, True, torch.float32, 0.0),
                                        (182, 64, False, torch.float64, 3.0), (183, 1, False, torch.float32, -2.0)):
        real, fake = visible.score_batch(seed, n, shape_1d=flat, dtype=dtype)
        shape = f"({n},)" if flat else f"({n}, 1)"
        visible.compare_critic_loss(f"the critic loss of {shape} {str(dtype).replace('torch.', '')} scores",
                                    fn, real, (fake + shift).detach().requires_grad_(True))
    # different batch sizes for real and fake: each mean over its own batch
    real, _ = visible.score_batch(184, 30)
    _, fake = visible.score_batch(185, 70)
    visible.compare_critic_loss("the critic loss of 30 real and 70 fake scores", fn, real, fake)


def _gradient_penalty(ns: dict) -> None:
    fn = _attempted(ns, "gradient_penalty")
    for seed, n, scale, activation in ((190, 33, 1.0, "relu"), (191, 256, 0.3, "relu"), (192, 80, 5.0, "tanh"),
                                       (193, 1, 2.0, "relu")):
        real, fake = visible.point_batch(seed, n)
        visible.compare_penalty(f"the penalty of a {activation} critic (last layer x {scale}) on {n} interpolates",
                                fn, visible.small_critic(seed + 1, activation=activation, scale=scale), real, fake,
                                seed + 2)
    real, fake = visible.point_batch(194, 40, dim=5)
    visible.compare_penalty("the penalty on 5-D points", fn, visible.small_critic(195, dim=5), real, fake, 196)
    # a linear critic f(x) = a.x has gradient a everywhere: the penalty is (||a|| - 1)^2 whatever eps is
    for norm in (0.5, 3.0):
        linear = torch.nn.Linear(2, 1).double()
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([[0.6, 0.8]], dtype=torch.float64) * norm)
        real, fake = (t.double() for t in visible.point_batch(197, 20))
        got = fn(linear, real, fake, torch.Generator().manual_seed(198))
        _close(f"the penalty of the linear critic f(x) = a.x with ||a|| = {norm} (float64 points)", got,
                      (norm - 1) ** 2, rtol=1e-6, atol=1e-9,
                      hint=" (its gradient is a at every point, so the penalty is (||a|| - 1)^2)")
    # the same generator state gives the same weights; the weights come from the generator given
    real, fake = visible.point_batch(199, 64)
    critic = visible.small_critic(200, scale=3.0)
    a = fn(critic, real, fake, torch.Generator().manual_seed(201))
    b = fn(critic, real, fake, torch.Generator().manual_seed(202))
    if math.isclose(float(a), float(b), rel_tol=1e-9):
        raise AssertionError("the penalty came out the same for two different generators: draw the interpolation "
                             "weights with torch.rand(n, 1, generator=generator)")
    # fakes still attached to a generator: the penalty must send nothing back into it
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(203)
        maker = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    attached = maker(torch.randn(48, 2, generator=torch.Generator().manual_seed(204)))
    tanh_critic = visible.small_critic(205, activation="tanh", scale=2.0)
    got = fn(tanh_critic, real[:48], attached, torch.Generator().manual_seed(206))
    _close("the penalty when fake comes straight from a generator", got,
                  losses.gradient_penalty(tanh_critic, real[:48], attached,
                                          generator=torch.Generator().manual_seed(206)).item(), rtol=1e-4)
    if isinstance(got, torch.Tensor) and got.requires_grad:
        grads = torch.autograd.grad(got.reshape(()), list(maker.parameters()), allow_unused=True)
        if any(g is not None and g.abs().max().item() > 0 for g in grads):
            raise AssertionError("the penalty sends gradient into the generator that made fake: it constrains the "
                                 "critic only, so build x_hat from real.detach() and fake.detach()")


def evaluate(generator, seed: int, name: str) -> tuple[float, int]:
    """Exact W1 of 1000 samples to 1000 real points, and the modes (of 8) holding >= 20 samples within
    ``MODE_STD`` standard deviations of their centre."""
    x = visible.samples_of(name, generator, seed)
    w1 = visible.distance_to_data(x, seed)
    return w1, metrics.mode_coverage(x, visible.DATA, n_std=MODE_STD).modes_covered


@functools.lru_cache(maxsize=4)
def _reference(seeds: tuple, steps: int, width: int, offset: int) -> dict[int, tuple[float, int]]:
    results = gl.train_seeds(visible.DATA, seeds=list(seeds), objective="wgan-gp", steps=steps, width=width,
                             batch_size=256, n_critic=3, lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.9),
                             penalty_weight=0.1, eval_samples=0, progress=False, device="cpu")
    return {s: evaluate(r.generator, s, "gl.train") for s, r in zip(seeds, results)}


def reference_outcomes(seeds=SEEDS, steps: int = STEPS, width: int = WIDTH) -> dict[int, tuple[float, int]]:
    """gl.train's (W1, modes) per seed with the assignment's settings (``train_seeds`` runs them batched: the
    same runs as ``gl.train``); computed once per process and seed offset."""
    return _reference(tuple(seeds), steps, width, settings.seed_offset())


def _training_loop(ns: dict) -> None:
    fn = _attempted(ns, "train_wgan_gp")
    # reproducible: the same seed twice gives the same generator
    first = visible.samples_of("train_wgan_gp(5, 3, width=16)", fn(5, 3, width=16), 5, n=50)
    second = visible.samples_of("train_wgan_gp(5, 3, width=16)", fn(5, 3, width=16), 5, n=50)
    if not torch.equal(first, second):
        raise AssertionError("two runs of train_wgan_gp(5, 3, width=16) gave different generators: seed everything "
                             "from `seed` (gl.settings.seed_everything(seed) before building the nets, one "
                             "gl.settings.rng(seed) for the batches, the noise and the penalty's weights)")
    reference = reference_outcomes()

    def outcome(seed: int) -> tuple[bool, str]:
        ref_w1, ref_modes = reference[seed]
        try:
            w1, modes = evaluate(fn(seed, STEPS, width=WIDTH), seed, f"train_wgan_gp({seed}, {STEPS}, width={WIDTH})")
        except AssertionError as err:   # diverged, or not a generator: this seed missed, say why
            return False, f"{err} (gl.train: W1 {ref_w1:.3f}, {ref_modes}/8 modes)"
        ok = w1 <= ref_w1 + W1_TOLERANCE and modes >= MIN_MODES
        return ok, f"W1 {w1:.3f} and {modes}/8 modes (gl.train: W1 {ref_w1:.3f}, {ref_modes}/8 modes)"

    over_seeds(outcome, SEEDS, NEED,
               f"after {STEPS} steps at width {WIDTH}, W1 to the data within {W1_TOLERANCE} of gl.train's with the "
               f"same settings and at least {MIN_MODES} of 8 modes")


HIDDEN = {
    "wgan-gp-loop-ex-critic-loss": _critic_loss,
    "wgan-gp-loop-ex-penalty": _gradient_penalty,
    "wgan-gp-loop-ex-train": _training_loop,
}

