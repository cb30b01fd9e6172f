"""gan_lab.exercises.ch03: each check passes a correct answer, says "not attempted" for a fresh
stub and returns False, and raises AssertionError on planted wrong answers."""
import pytest
import torch

from gan_lab.exercises import ch03


# ---- reference answers and planted mistakes -----------------------------------------------------------

def w1_sorted(x, y):
    return (torch.sort(x).values - torch.sort(y).values).abs().mean()


def w1_unsorted(x, y):
    """Pairs the points in the order given: a valid plan, but not the optimal one."""
    return (x - y).abs().mean()


def w1_squared_gaps(x, y):
    return ((torch.sort(x).values - torch.sort(y).values) ** 2).mean()


def w1_sorted_one_side(x, y):
    return (torch.sort(x).values - y).abs().mean()


def w1_difference_of_means(x, y):
    """A lower bound (the dual with f(x) = x), not W1."""
    return (x.mean() - y.mean()).abs()


def w1_cdf(p, q, dx):
    return (torch.cumsum(p, 0) - torch.cumsum(q, 0)).abs().sum() * dx


def w1_cdf_missing_dx(p, q, dx):
    return (torch.cumsum(p, 0) - torch.cumsum(q, 0)).abs().sum()


def w1_cdf_pdf_gap(p, q, dx):
    """The gap between the probabilities instead of between the CDFs (a multiple of total variation)."""
    return (p - q).abs().sum() * dx


def w1_cdf_signed(p, q, dx):
    return (torch.cumsum(p, 0) - torch.cumsum(q, 0)).sum().abs() * dx


def lipschitz(f, x):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad.norm(dim=1).max().item()


def lipschitz_mean_norm(f, x):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad.norm(dim=1).mean().item()


def lipschitz_largest_entry(f, x):
    """The largest |partial derivative| (an infinity norm), not the Euclidean norm of the gradient."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad.abs().max().item()


def lipschitz_norm_of_summed_gradient(f, x):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad.sum(0).norm().item()


def lipschitz_value_range(f, x):
    """Largest |f(x)|: the size of the function, not of its slope."""
    with torch.no_grad():
        return f(x).abs().max().item()


CHECKS = {
    "sorting": (ch03.check_w1_by_sorting, w1_sorted,
                [w1_unsorted, w1_squared_gaps, w1_sorted_one_side, w1_difference_of_means]),
    "cdfs": (ch03.check_w1_from_cdfs, w1_cdf, [w1_cdf_missing_dx, w1_cdf_pdf_gap, w1_cdf_signed]),
    "lipschitz": (ch03.check_lipschitz_lower_bound, lipschitz,
                  [lipschitz_mean_norm, lipschitz_largest_entry, lipschitz_norm_of_summed_gradient,
                   lipschitz_value_range]),
}


def test_answers_may_return_floats_or_zero_dim_tensors():
    assert ch03.check_w1_by_sorting(lambda x, y: float(w1_sorted(x, y))) is True
    assert ch03.check_w1_from_cdfs(lambda p, q, dx: w1_cdf(p, q, dx).reshape(1)) is True


def test_a_wrong_answer_says_what_differed():
    with pytest.raises(AssertionError, match="W1 of two shuffled Gaussian samples"):
        ch03.check_w1_by_sorting(w1_unsorted)
    with pytest.raises(AssertionError, match="grid points 0.25 apart"):
        ch03.check_w1_from_cdfs(w1_cdf_missing_dx)
    with pytest.raises(AssertionError, match="Lipschitz constant 5"):
        ch03.check_lipschitz_lower_bound(lipschitz_largest_entry)


def test_an_answer_that_is_not_one_number_or_is_nan_fails():
    with pytest.raises(AssertionError, match="one number"):
        ch03.check_w1_by_sorting(lambda x, y: (torch.sort(x).values - torch.sort(y).values).abs())
    with pytest.raises(AssertionError, match="nan"):
        ch03.check_w1_from_cdfs(lambda p, q, dx: w1_cdf(p, q, dx) * float("nan"))


def test_the_checks_leave_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    ch03.check_lipschitz_lower_bound(lipschitz)
    assert torch.equal(torch.random.get_rng_state(), state)
