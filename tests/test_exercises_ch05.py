"""gan_lab.exercises.ch05: each check passes a correct answer, says "not attempted" for a fresh
stub and returns False, and raises AssertionError on planted wrong answers."""

import pytest
import torch

from gan_lab import losses, nets
from gan_lab.exercises import ch05


# ---- reference answers and planted mistakes -----------------------------------------------------------

def _input_gradient_norms(critic, x_hat, create_graph=True):
    x_hat = x_hat.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=create_graph)
    return grad.norm(dim=1)


def penalty(critic, real, fake, eps):
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    return ((_input_gradient_norms(critic, x_hat) - 1) ** 2).mean()


def penalty_at_real_points(critic, real, fake, eps):
    return ((_input_gradient_norms(critic, real) - 1) ** 2).mean()


def penalty_without_create_graph(critic, real, fake, eps):
    """The right number, but a constant as far as the critic's parameters are concerned."""
    x_hat = eps * real + (1 - eps) * fake
    return ((_input_gradient_norms(critic, x_hat, create_graph=False) - 1) ** 2).mean()


def penalty_of_squared_norm(critic, real, fake, eps):
    x_hat = eps * real + (1 - eps) * fake
    return ((_input_gradient_norms(critic, x_hat) ** 2 - 1) ** 2).mean()


def penalty_of_mean_norm(critic, real, fake, eps):
    x_hat = eps * real + (1 - eps) * fake
    return (_input_gradient_norms(critic, x_hat).mean() - 1) ** 2


def penalty_at_midpoints(critic, real, fake, eps):
    """Ignores the given eps and uses 1/2 everywhere."""
    x_hat = 0.5 * real + 0.5 * fake
    return ((_input_gradient_norms(critic, x_hat) - 1) ** 2).mean()


def penalty_not_detached(critic, real, fake, eps):
    """Keeps x_hat on fake's graph, so the penalty also pushes on the generator."""
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


def penalty_of_summed_gradient(critic, real, fake, eps):
    """One norm of the whole batch's gradient instead of one per point."""
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.norm() - 1) ** 2


def one_sided(critic, real, fake, eps):
    x_hat = eps * real + (1 - eps) * fake
    return (torch.relu(_input_gradient_norms(critic, x_hat) - 1) ** 2).mean()


def one_sided_without_create_graph(critic, real, fake, eps):
    x_hat = eps * real + (1 - eps) * fake
    return (torch.relu(_input_gradient_norms(critic, x_hat, create_graph=False) - 1) ** 2).mean()


def one_sided_but_two_sided(critic, real, fake, eps):
    return penalty(critic, real, fake, eps)


def one_sided_wrong_side(critic, real, fake, eps):
    x_hat = eps * real + (1 - eps) * fake
    return (torch.relu(1 - _input_gradient_norms(critic, x_hat)) ** 2).mean()


def one_sided_mean_over_violators(critic, real, fake, eps):
    """Averages over the points above 1 only."""
    x_hat = eps * real + (1 - eps) * fake
    excess = _input_gradient_norms(critic, x_hat) - 1
    above = excess[excess > 0]
    return (above ** 2).mean() if len(above) else excess.sum() * 0


def one_sided_unsquared(critic, real, fake, eps):
    x_hat = eps * real + (1 - eps) * fake
    return torch.relu(_input_gradient_norms(critic, x_hat) - 1).mean()


def gp_step(critic, optimizer, real, fake, eps, lam):
    optimizer.zero_grad()
    loss = critic(fake.detach()).mean() - critic(real).mean() + lam * penalty(critic, real, fake, eps)
    loss.backward()
    optimizer.step()
    return loss.item()


def gp_step_with_library(critic, optimizer, real, fake, eps, lam):
    optimizer.zero_grad()
    loss = (losses.critic_loss(critic(real), critic(fake))
            + lam * losses.gradient_penalty(critic, real, fake, eps=eps))
    loss.backward()
    optimizer.step()
    return loss.item()


def gp_step_without_create_graph(critic, optimizer, real, fake, eps, lam):
    optimizer.zero_grad()
    loss = (critic(fake.detach()).mean() - critic(real).mean()
            + lam * penalty_without_create_graph(critic, real, fake, eps))
    loss.backward()
    optimizer.step()
    return loss.item()


def gp_step_lam_on_critic_loss(critic, optimizer, real, fake, eps, lam):
    optimizer.zero_grad()
    loss = lam * (critic(fake.detach()).mean() - critic(real).mean()) + penalty(critic, real, fake, eps)
    loss.backward()
    optimizer.step()
    return loss.item()


def gp_step_penalty_at_real(critic, optimizer, real, fake, eps, lam):
    optimizer.zero_grad()
    loss = (critic(fake.detach()).mean() - critic(real).mean()
            + lam * penalty_at_real_points(critic, real, fake, eps))
    loss.backward()
    optimizer.step()
    return loss.item()


def gp_step_no_zero_grad(critic, optimizer, real, fake, eps, lam):
    loss = critic(fake.detach()).mean() - critic(real).mean() + lam * penalty(critic, real, fake, eps)
    loss.backward()
    optimizer.step()
    return loss.item()


CHECKS = {
    "gradient penalty": (ch05.check_gradient_penalty, penalty,
                         [penalty_at_real_points, penalty_without_create_graph, penalty_of_squared_norm,
                          penalty_of_mean_norm, penalty_at_midpoints, penalty_not_detached,
                          penalty_of_summed_gradient]),
    "one-sided penalty": (ch05.check_one_sided_penalty, one_sided,
                          [one_sided_but_two_sided, one_sided_wrong_side, one_sided_mean_over_violators,
                           one_sided_unsquared, one_sided_without_create_graph]),
    "gp critic step": (ch05.check_gp_critic_step, gp_step,
                       [gp_step_without_create_graph, gp_step_lam_on_critic_loss, gp_step_penalty_at_real,
                        gp_step_no_zero_grad]),
}


def test_the_library_penalty_passes_both_penalty_checks():
    assert ch05.check_gradient_penalty(lambda f, r, g, e: losses.gradient_penalty(f, r, g, eps=e)) is True
    assert ch05.check_one_sided_penalty(
        lambda f, r, g, e: losses.gradient_penalty(f, r, g, eps=e, one_sided=True)) is True


def test_a_step_that_does_not_detach_fake_passes():
    assert ch05.check_gp_critic_step(gp_step_with_library) is True


def test_a_wrong_answer_says_what_differed():
    with pytest.raises(AssertionError, match="not connected to the critic's parameters.*create_graph=True"):
        ch05.check_gradient_penalty(penalty_without_create_graph)
    with pytest.raises(AssertionError, match="random critic on 128 interpolates.*not squared"):
        ch05.check_gradient_penalty(penalty_of_squared_norm)
    with pytest.raises(AssertionError, match="given eps"):
        ch05.check_gradient_penalty(penalty_at_midpoints)
    with pytest.raises(AssertionError, match="into the generator.*detach"):
        ch05.check_gradient_penalty(penalty_not_detached)
    with pytest.raises(AssertionError, match="straddle 1.*only norms above 1"):
        ch05.check_one_sided_penalty(one_sided_wrong_side)
    with pytest.raises(AssertionError, match="loss value is right.*create_graph=True"):
        ch05.check_gp_critic_step(gp_step_without_create_graph)
    with pytest.raises(AssertionError, match="step 1 of 3.*lam multiplies the penalty only"):
        ch05.check_gp_critic_step(gp_step_lam_on_critic_loss)
    with pytest.raises(AssertionError, match="step 2 of 3.*zeroed"):
        ch05.check_gp_critic_step(gp_step_no_zero_grad)


def test_a_penalty_with_the_wrong_parameter_gradient_fails():
    def half_detached(critic, real, fake, eps):
        """Right value; only the first half of the points carries a gradient."""
        value = penalty(critic, real, fake, eps)
        n = len(real) // 2
        part = penalty(critic, real[:n], fake[:n], eps[:n]) * n / len(real)
        return part + (value - part).detach()

    with pytest.raises(AssertionError, match="its gradient with respect to"):
        ch05.check_gradient_penalty(half_detached)


def test_the_one_sided_penalty_check_uses_norms_on_both_sides_of_one():
    real, fake, eps = ch05._points(60, 128)
    critic = ch05._straddling_critic(61, real, fake, eps)
    norms = _input_gradient_norms(critic, eps * real + (1 - eps) * fake).detach()
    assert 0.3 < (norms > 1).float().mean().item() < 0.7


def test_a_bias_free_gradient_is_not_an_error():
    """gan_lab's ReLU leaves hidden biases with no gradient from the penalty; torch's ReLU gives zeros."""
    torch.manual_seed(0)
    critic = nets.critic(2, width=8, depth=2).double()
    real, fake, eps = ch05._points(0, 16)
    value = penalty(critic, real, fake, eps)
    grads = torch.autograd.grad(value, list(critic.parameters()), allow_unused=True)
    assert any(g is None for g in grads)
    assert ch05.check_gradient_penalty(penalty) is True
