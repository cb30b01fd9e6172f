"""gan_lab.exercises.ch01: each check passes a correct answer, says "not attempted" for a fresh
stub and returns False, and raises AssertionError on planted wrong answers."""
import math

import pytest
import torch
import torch.nn.functional as F

from gan_lab import theory
from gan_lab.exercises import ch01


# ---- reference answers and planted mistakes -----------------------------------------------------------

def d_star(p, q):
    return p / (p + q)


def d_star_swapped(p, q):
    return q / (p + q)


def d_star_constant(p, q):
    return torch.full_like(p, 0.5)


def non_saturating(logits):
    return F.softplus(-logits).mean()


def non_saturating_via_log_sigmoid(logits):
    """-log(sigmoid(l)): right formula, but sigmoid underflows for very negative logits (inf at -200 in float32)."""
    return -torch.log(torch.sigmoid(logits)).mean()


def saturating_instead(logits):
    return -F.softplus(logits).mean()


def non_saturating_summed(logits):
    return F.softplus(-logits).sum()


def _value_at_optimum(a, *, js_factor=2.0, constant=-math.log(4.0)):
    """C(G) for p_data = U[0, 1], p_g = U[a, 1 + a], by a Riemann sum at D* (with optional planted mistakes)."""
    dx = 1e-4
    x = torch.arange(-1.0, 4.0, dx, dtype=torch.float64) + dx / 2
    p = ((x >= 0) & (x < 1)).double()
    q = ((x >= a) & (x < 1 + a)).double()
    v = theory.value_function(theory.optimal_discriminator(p, q), p, q, dx).item()
    js = (v + math.log(4.0)) / 2
    return constant + js_factor * js


def value_at_optimum(a):
    return _value_at_optimum(a)


def value_missing_factor_2(a):
    return _value_at_optimum(a, js_factor=1.0)


def value_missing_log_4(a):
    return _value_at_optimum(a, constant=0.0)


CHECKS = {
    "optimal discriminator": (ch01.check_optimal_discriminator, d_star,
                              [d_star_swapped, d_star_constant]),
    "non-saturating loss": (ch01.check_non_saturating_loss, non_saturating,
                            [non_saturating_via_log_sigmoid, saturating_instead, non_saturating_summed]),
    "value at optimum": (ch01.check_value_at_optimum, value_at_optimum,
                         [value_missing_factor_2, value_missing_log_4]),
}


def test_the_log_sigmoid_answer_really_is_inf_at_minus_200_in_float32():
    """The mistake the loss check is meant to catch."""
    assert non_saturating_via_log_sigmoid(torch.tensor([-200.0])).item() == math.inf
    assert non_saturating(torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_a_wrong_answer_says_what_differed():
    with pytest.raises(AssertionError, match="D\\* on random densities"):
        ch01.check_optimal_discriminator(d_star_swapped)
    with pytest.raises(AssertionError, match="C\\(G\\) for a = 0.25"):
        ch01.check_value_at_optimum(value_missing_factor_2)


def test_an_answer_with_the_wrong_shape_fails():
    with pytest.raises(AssertionError, match="shape"):
        ch01.check_optimal_discriminator(lambda p, q: d_star(p, q)[:-1])


def test_an_answer_with_nan_fails():
    with pytest.raises(AssertionError, match="NaN or Inf"):
        ch01.check_non_saturating_loss(lambda logits: non_saturating(logits) * float("nan"))
