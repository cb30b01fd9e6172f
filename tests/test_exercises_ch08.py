"""gan_lab.exercises.ch08: each check passes a correct answer, says "not attempted" for a fresh
stub and returns False, and raises AssertionError on planted wrong answers."""

import pytest
import torch
import torch.nn.functional as F

from gan_lab import losses, objectives, spectral, theory
from gan_lab.exercises import ch08


# ---- least-squares discriminator loss ---------------------------------------------------------------------

def ls_loss(real, fake, a, b):
    return 0.5 * ((real - b) ** 2).mean() + 0.5 * ((fake - a) ** 2).mean()


def ls_loss_with_library(real, fake, a, b):
    return losses.least_squares_discriminator_loss(real, fake, a=a, b=b)


def ls_loss_labels_swapped(real, fake, a, b):
    return 0.5 * ((real - a) ** 2).mean() + 0.5 * ((fake - b) ** 2).mean()


def ls_loss_without_halves(real, fake, a, b):
    return ((real - b) ** 2).mean() + ((fake - a) ** 2).mean()


def ls_loss_over_the_whole_batch(real, fake, a, b):
    """One mean over the concatenated batch: the same as the loss only when the halves have equal sizes."""
    scores = torch.cat([real, fake])
    targets = torch.cat([torch.full_like(real, b), torch.full_like(fake, a)])
    return 0.5 * ((scores - targets) ** 2).mean() * 2


def ls_loss_on_probabilities(real, fake, a, b):
    return 0.5 * ((torch.sigmoid(real) - b) ** 2).mean() + 0.5 * ((torch.sigmoid(fake) - a) ** 2).mean()


def ls_loss_zero_one_only(real, fake, a, b):
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean()


def ls_loss_absolute(real, fake, a, b):
    return 0.5 * (real - b).abs().mean() + 0.5 * (fake - a).abs().mean()


def ls_loss_as_float(real, fake, a, b):
    return ls_loss(real, fake, a, b).item()


def ls_loss_detached_fakes(real, fake, a, b):
    return 0.5 * ((real - b) ** 2).mean() + 0.5 * ((fake.detach() - a) ** 2).mean()


# ---- least-squares optimal discriminator ------------------------------------------------------------------

def ls_d_star(p, q, a, b):
    total = p + q
    return torch.where(total > 0, (b * p + a * q) / torch.where(total > 0, total, 1.0),
                       torch.full_like(total, (a + b) / 2))


def ls_d_star_with_library(p, q, a, b):
    return theory.least_squares_optimal_discriminator(p, q, a=a, b=b)


def ls_d_star_swapped(p, q, a, b):
    return (a * p + b * q) / (p + q)


def ls_d_star_of_the_gan(p, q, a, b):
    return p / (p + q)


def ls_d_star_nan_where_both_vanish(p, q, a, b):
    return (b * p + a * q) / (p + q)


def ls_d_star_zero_where_both_vanish(p, q, a, b):
    return (b * p + a * q) / (p + q).clamp_min(1e-300)


def ls_d_star_midpoint(p, q, a, b):
    return torch.full_like(p, (a + b) / 2)


# ---- one power-iteration step -----------------------------------------------------------------------------

def power_step(weight, u):
    v = weight.T @ u
    v = v / v.norm()
    u_new = weight @ v
    u_new = u_new / u_new.norm()
    return u_new @ weight @ v, u_new, v


def power_step_with_library(weight, u):
    return spectral.power_iteration(weight, u, 1)


def power_step_sigma_from_old_u(weight, u):
    _, u_new, v = power_step(weight, u)
    return (u / u.norm()) @ weight @ v, u_new, v


def power_step_u_not_normalised(weight, u):
    v = weight.T @ u
    v = v / v.norm()
    u_new = weight @ v
    return u_new @ weight @ v / u_new.norm() ** 2 * u_new.norm(), u_new, v


def power_step_v_not_normalised(weight, u):
    v = weight.T @ u
    u_new = weight @ v
    u_new = u_new / u_new.norm()
    return u_new @ weight @ v, u_new, v


def power_step_sigma_squared(weight, u):
    sigma, u_new, v = power_step(weight, u)
    return sigma ** 2, u_new, v


def power_step_in_place(weight, u):
    sigma, u_new, v = power_step(weight, u)
    u.copy_(u_new)
    return sigma, u, v


def power_step_exact_sigma(weight, u):
    """Right u and v, but sigma from a full SVD: not what one step estimates."""
    _, u_new, v = power_step(weight, u)
    return torch.linalg.matrix_norm(weight, ord=2), u_new, v


def power_step_without_v(weight, u):
    """u <- W W^T u without normalising v: the right u, but v has W^T u's length."""
    v = weight.T @ u
    u_new = weight @ v
    u_new = u_new / u_new.norm()
    return u_new @ weight @ (v / v.norm()), u_new, v


# ---- one-sided label smoothing ----------------------------------------------------------------------------

def smoothed(real_logits, fake_logits, alpha):
    return ((1 - alpha) * F.softplus(-real_logits).mean() + alpha * F.softplus(real_logits).mean()
            + F.softplus(fake_logits).mean())


def smoothed_with_bce(real_logits, fake_logits, alpha):
    bce = F.binary_cross_entropy_with_logits
    return bce(real_logits, torch.full_like(real_logits, 1 - alpha)) + bce(fake_logits, torch.zeros_like(fake_logits))


def smoothed_two_sided(real_logits, fake_logits, alpha):
    """Also moves the fakes' label to alpha: the two-sided smoothing Salimans et al. advise against."""
    return ((1 - alpha) * F.softplus(-real_logits).mean() + alpha * F.softplus(real_logits).mean()
            + (1 - alpha) * F.softplus(fake_logits).mean() + alpha * F.softplus(-fake_logits).mean())


def smoothed_scaled_only(real_logits, fake_logits, alpha):
    """Scales the real term by 1 - alpha, forgetting the alpha log(1 - D(x)) the soft label brings."""
    return (1 - alpha) * F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def smoothed_label_alpha(real_logits, fake_logits, alpha):
    return alpha * F.softplus(-real_logits).mean() + (1 - alpha) * F.softplus(real_logits).mean() \
        + F.softplus(fake_logits).mean()


def smoothed_fake_side(real_logits, fake_logits, alpha):
    return F.softplus(-real_logits).mean() + (1 - alpha) * F.softplus(fake_logits).mean() \
        + alpha * F.softplus(-fake_logits).mean()


def smoothed_over_the_whole_batch(real_logits, fake_logits, alpha):
    logits = torch.cat([real_logits, fake_logits])
    labels = torch.cat([torch.full_like(real_logits, 1 - alpha), torch.zeros_like(fake_logits)])
    return 2 * F.binary_cross_entropy_with_logits(logits, labels)


def smoothed_via_log_sigmoid(real_logits, fake_logits, alpha):
    """The right formula, but log(sigmoid(l)) is -inf once sigmoid rounds to 0."""
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    return (-(1 - alpha) * torch.log(d_real).mean() - alpha * torch.log(1 - d_real).mean()
            - torch.log(1 - d_fake).mean())


# ---- packing ----------------------------------------------------------------------------------------------

def pack(x, m):
    n, d = x.shape
    if n % m:
        raise ValueError(f"n = {n} is not a multiple of m = {m}")
    return x.reshape(n // m, m * d)


def pack_by_concatenation(x, m):
    if len(x) % m:
        raise ValueError("n must be a multiple of m")
    return torch.cat([x[j::m] for j in range(m)], dim=1)


def pack_strided(x, m):
    """Groups samples i, i + n/m, i + 2n/m, ...: a packing, but not the one gl.train uses."""
    n, d = x.shape
    if n % m:
        raise ValueError("n must be a multiple of m")
    return x.reshape(m, n // m, d).transpose(0, 1).reshape(n // m, m * d)


def pack_coordinates_interleaved(x, m):
    """Puts the samples' first coordinates together, then their second ones."""
    n, d = x.shape
    if n % m:
        raise ValueError("n must be a multiple of m")
    return x.reshape(n // m, m, d).transpose(1, 2).reshape(n // m, m * d)


def pack_dropping_the_rest(x, m):
    n, d = x.shape
    return x[: n // m * m].reshape(n // m, m * d)


def pack_refusing_with_runtime_error(x, m):
    n, d = x.shape
    if n % m:
        raise RuntimeError("cannot pack")
    return x.reshape(n // m, m * d)


def pack_ignoring_m(x, m):
    return x


def pack_transposed(x, m):
    n, d = x.shape
    if n % m:
        raise ValueError("n must be a multiple of m")
    return x.reshape(n // m, m * d).T


def pack_in_place(x, m):
    n, d = x.shape
    if n % m:
        raise ValueError("n must be a multiple of m")
    out = x.reshape(n // m, m * d)
    x.mul_(1.0)
    x[0, 0] += 1.0
    return out.clone()


CHECKS = {
    "least-squares loss": (ch08.check_least_squares_discriminator_loss, ls_loss,
                           [ls_loss_labels_swapped, ls_loss_without_halves, ls_loss_over_the_whole_batch,
                            ls_loss_on_probabilities, ls_loss_zero_one_only, ls_loss_absolute, ls_loss_as_float,
                            ls_loss_detached_fakes]),
    "least-squares optimal discriminator": (ch08.check_least_squares_optimal_discriminator, ls_d_star,
                                            [ls_d_star_swapped, ls_d_star_of_the_gan, ls_d_star_nan_where_both_vanish,
                                             ls_d_star_zero_where_both_vanish, ls_d_star_midpoint]),
    "power iteration step": (ch08.check_power_iteration_step, power_step,
                             [power_step_sigma_from_old_u, power_step_u_not_normalised,
                              power_step_v_not_normalised, power_step_sigma_squared, power_step_in_place,
                              power_step_exact_sigma, power_step_without_v]),
    "one-sided label smoothing": (ch08.check_one_sided_label_smoothing, smoothed,
                                  [smoothed_two_sided, smoothed_scaled_only, smoothed_label_alpha,
                                   smoothed_fake_side, smoothed_over_the_whole_batch, smoothed_via_log_sigmoid]),
    "pack": (ch08.check_pack, pack,
             [pack_strided, pack_coordinates_interleaved, pack_dropping_the_rest, pack_refusing_with_runtime_error,
              pack_ignoring_m, pack_transposed, pack_in_place]),
}


# ---- other right answers pass; the messages say what differed ---------------------------------------------

@pytest.mark.parametrize("check, answer", [
    (ch08.check_least_squares_discriminator_loss, ls_loss_with_library),
    (ch08.check_least_squares_optimal_discriminator, ls_d_star_with_library),
    (ch08.check_power_iteration_step, power_step_with_library),
    (ch08.check_one_sided_label_smoothing, smoothed_with_bce),
    (ch08.check_one_sided_label_smoothing, lambda r, f, alpha: objectives.smoothed_discriminator_loss(r, f, alpha)),
    (ch08.check_pack, pack_by_concatenation),
])
def test_other_correct_answers_pass(check, answer):
    assert check(answer) is True


def test_a_wrong_answer_says_what_differed():
    with pytest.raises(AssertionError, match="a = 0.0 .*b = 1.0.*pulled to b"):
        ch08.check_least_squares_discriminator_loss(ls_loss_labels_swapped)
    with pytest.raises(AssertionError, match="a = -1.0"):
        ch08.check_least_squares_discriminator_loss(ls_loss_zero_one_only)
    with pytest.raises(AssertionError, match="not a tensor connected to the scores"):
        ch08.check_least_squares_discriminator_loss(ls_loss_as_float)
    with pytest.raises(AssertionError, match="gradient with respect to the fake scores"):
        ch08.check_least_squares_discriminator_loss(ls_loss_detached_fakes)
    with pytest.raises(AssertionError, match="both densities vanish.*not NaN"):
        ch08.check_least_squares_optimal_discriminator(ls_d_star_nan_where_both_vanish)
    with pytest.raises(AssertionError, match="sigma.*new u and v"):
        ch08.check_power_iteration_step(power_step_sigma_from_old_u)
    with pytest.raises(AssertionError, match="modified"):
        ch08.check_power_iteration_step(power_step_in_place)
    with pytest.raises(AssertionError, match=": v"):
        ch08.check_power_iteration_step(power_step_without_v)
    with pytest.raises(AssertionError, match="alpha = 0.1.*only the real samples' label"):
        ch08.check_one_sided_label_smoothing(smoothed_two_sided)
    with pytest.raises(AssertionError, match="extreme logits"):
        ch08.check_one_sided_label_smoothing(smoothed_via_log_sigmoid)
    with pytest.raises(AssertionError, match="by 2"):
        ch08.check_pack(pack_strided)
    with pytest.raises(AssertionError, match="should raise a ValueError"):
        ch08.check_pack(pack_dropping_the_rest)
    with pytest.raises(AssertionError, match="raised RuntimeError"):
        ch08.check_pack(pack_refusing_with_runtime_error)


def test_the_loss_checks_use_halves_of_different_sizes():
    """Otherwise a mean over the concatenated batch would pass for the sum of the two halves' means."""
    real, fake = ch08._scores(80, 64, 40)
    assert len(real) != len(fake)
    r, f = real[:40], fake
    assert torch.isclose(ls_loss_over_the_whole_batch(r, f, 0.0, 1.0), ls_loss(r, f, 0.0, 1.0))


def test_one_step_from_the_check_is_the_paper_step_and_converges_from_below():
    w = ch08._matrix(102, 6, 4)
    u = ch08._matrix(103, 1, 6)[0]
    exact = torch.linalg.matrix_norm(w, ord=2).item()
    for _ in range(5):
        sigma, u, _ = power_step(w, u)
        assert sigma.item() <= exact * (1 + 1e-12)
