"""gan_lab.exercises.ch02: each check passes a correct answer, says "not attempted" for a fresh
stub and returns False, and raises AssertionError on planted wrong answers."""
import math

import pytest
import torch

from gan_lab.exercises import ch02


# ---- reference answers and planted mistakes -----------------------------------------------------------

def lines(theta):
    if theta == 0:
        return {"kl": 0.0, "js": 0.0, "tv": 0.0, "w1": 0.0}
    return {"kl": math.inf, "js": math.log(2), "tv": 1.0, "w1": abs(theta)}


def lines_js_in_bits(theta):
    return {**lines(theta), "js": 1.0 if theta != 0 else 0.0}


def lines_tv_without_half(theta):
    return {**lines(theta), "tv": 2.0 if theta != 0 else 0.0}


def lines_signed_w1(theta):
    return {**lines(theta), "w1": theta}


def lines_forgetting_theta_0(theta):
    return {"kl": math.inf, "js": math.log(2), "tv": 1.0, "w1": abs(theta)}


def lines_finite_kl(theta):
    return {**lines(theta), "kl": math.log(2) if theta != 0 else 0.0}


def lines_missing_a_key(theta):
    out = lines(theta)
    del out["tv"]
    return out


def _kl(p, q):
    """Discrete KL with 0 log 0 = 0 (inf where p > 0 = q)."""
    if ((p > 0) & (q == 0)).any():
        return torch.tensor(math.inf, dtype=torch.float64)
    return (torch.special.xlogy(p, p) - torch.special.xlogy(p, q)).sum()


def js(p, q):
    m = (p + q) / 2
    return (_kl(p, m) + _kl(q, m)) / 2


def js_without_half(p, q):
    m = (p + q) / 2
    return _kl(p, m) + _kl(q, m)


def js_in_bits(p, q):
    return js(p, q) / math.log(2)


def js_is_kl_instead(p, q):
    return _kl(p, q)


def js_mixture_not_halved(p, q):
    m = p + q
    return (_kl(p, m) + _kl(q, m)) / 2


def js_naive_log(p, q):
    """Right formula, but p log(p / m) gives 0 * log 0 = NaN where p = 0."""
    m = (p + q) / 2
    return ((p * torch.log(p / m)).sum() + (q * torch.log(q / m)).sum()) / 2


def tv(p, q):
    return (p - q).abs().sum() / 2


def tv_without_half(p, q):
    return (p - q).abs().sum()


def tv_largest_pointwise_gap(p, q):
    return (p - q).abs().max()


def tv_euclidean(p, q):
    return (p - q).norm()


def kl_gauss(m1, s1, m2, s2):
    return math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5


def kl_gauss_swapped(m1, s1, m2, s2):
    return kl_gauss(m2, s2, m1, s1)


def kl_gauss_missing_half(m1, s1, m2, s2):
    return math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / s2 ** 2 - 0.5


def kl_gauss_missing_minus_half(m1, s1, m2, s2):
    return math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2)


def kl_gauss_std_as_variance(m1, s1, m2, s2):
    return kl_gauss(m1, math.sqrt(s1), m2, math.sqrt(s2))


CHECKS = {
    "parallel lines": (ch02.check_parallel_lines, lines,
                       [lines_js_in_bits, lines_tv_without_half, lines_signed_w1, lines_forgetting_theta_0,
                        lines_finite_kl, lines_missing_a_key]),
    "JS": (ch02.check_js_discrete, js,
           [js_without_half, js_in_bits, js_is_kl_instead, js_mixture_not_halved, js_naive_log]),
    "TV": (ch02.check_tv_discrete, tv, [tv_without_half, tv_largest_pointwise_gap, tv_euclidean]),
    "KL of Gaussians": (ch02.check_kl_gaussians, kl_gauss,
                        [kl_gauss_swapped, kl_gauss_missing_half, kl_gauss_missing_minus_half,
                         kl_gauss_std_as_variance]),
}


def test_answers_in_other_numeric_types_pass():
    """Floats, 0-d tensors, one-element tensors and float32 all count as one number."""
    assert ch02.check_tv_discrete(lambda p, q: float(tv(p, q)))
    assert ch02.check_tv_discrete(lambda p, q: tv(p, q).reshape(1))
    assert ch02.check_kl_gaussians(lambda *a: torch.tensor(kl_gauss(*a), dtype=torch.float64))
    assert ch02.check_parallel_lines(lambda t: {k: torch.tensor(v) for k, v in lines(t).items()})


def test_a_wrong_answer_says_what_differed():
    with pytest.raises(AssertionError, match=r"TV at theta = 0.5: expected 1, got 2"):
        ch02.check_parallel_lines(lines_tv_without_half)
    with pytest.raises(AssertionError, match=r"JS for two random distributions on 5 points"):
        ch02.check_js_discrete(js_in_bits)
    with pytest.raises(AssertionError, match=r"KL\(N\(0.0, 1.0\^2\) \|\| N\(0.0, 1.0\^2\)\): expected 0, got 0.5 \(off by 0.5, tolerance 1e-07\)"):
        ch02.check_kl_gaussians(kl_gauss_missing_half)
    with pytest.raises(AssertionError, match=r"KL\(N\(1.0, 0.5\^2\) \|\| N\(-0.5, 2.0\^2\)\)"):
        ch02.check_kl_gaussians(kl_gauss_swapped)
    with pytest.raises(AssertionError, match=r"KL at theta = 0.5: expected inf"):
        ch02.check_parallel_lines(lines_finite_kl)
    with pytest.raises(AssertionError, match=r"theta = 0.0"):
        ch02.check_parallel_lines(lines_forgetting_theta_0)
    with pytest.raises(AssertionError, match=r"no key\(s\) \['tv'\]"):
        ch02.check_parallel_lines(lines_missing_a_key)


def test_a_nan_answer_is_named_with_a_hint_about_0_log_0():
    with pytest.raises(AssertionError, match=r"NaN .*0 \* log 0"):
        ch02.check_js_discrete(js_naive_log)


def test_an_answer_that_is_not_one_number_fails():
    with pytest.raises(AssertionError, match="one number"):
        ch02.check_tv_discrete(lambda p, q: (p - q).abs() / 2)
    with pytest.raises(AssertionError, match="a dict"):
        ch02.check_parallel_lines(lambda t: [0.0, 0.0, 0.0, 0.0])
    with pytest.raises(AssertionError, match="expected a number"):
        ch02.check_kl_gaussians(lambda *a: "zero")


def test_the_checks_do_not_depend_on_the_readers_function_mutating_its_input():
    def mutating_tv(p, q):
        value = tv(p, q)
        p.zero_()
        return value

    assert ch02.check_tv_discrete(mutating_tv)
    assert ch02.check_js_discrete(js)
