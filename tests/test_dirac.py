"""gan_lab.dirac: the Dirac-GAN's updates against their closed forms."""
import math

import numpy as np
import pytest
import torch

from gan_lab import dirac


def starts(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("lr", [0.01, 0.1, 0.5])
def test_simultaneous_steps_multiply_the_radius_by_sqrt_one_plus_lr_squared(lr):
    theta0, psi0 = starts()
    thetas, psis = dirac.simulate(theta0, psi0, lr=lr, steps=50)
    r = dirac.distance(thetas, psis)
    expected = dirac.distance(theta0, psi0) * (1 + lr ** 2) ** (torch.arange(51, dtype=torch.float64)[:, None] / 2)
    torch.testing.assert_close(r, expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("lr", [0.05, 0.3, 1.0])
def test_alternating_steps_neither_grow_nor_shrink(lr):
    theta0, psi0 = starts()
    thetas, psis = dirac.simulate(theta0, psi0, lr=lr, steps=2000, update="alternating")
    r0 = dirac.distance(theta0, psi0)
    r = dirac.distance(thetas, psis)
    # det A = 1 with eigenvalues on the unit circle: bounded away from 0 and from infinity
    cond = (1 + lr) / (1 - lr / 2) ** 2   # a generous bound on the eigenvector basis' condition number
    assert (r.max(0).values <= cond * r0).all() and (r.min(0).values >= r0 / cond).all()
    assert torch.linalg.det(dirac.update_matrix(lr, update="alternating")).item() == pytest.approx(1.0, abs=1e-12)
    torch.testing.assert_close(dirac.eigenvalues(lr, update="alternating").abs(),
                               torch.ones(2, dtype=torch.float64), rtol=1e-10, atol=0)
    # cos omega = 1 - lr^2 / 2
    omega = dirac.eigenvalues(lr, update="alternating").angle().abs()
    torch.testing.assert_close(torch.cos(omega), torch.full((2,), 1 - lr ** 2 / 2, dtype=torch.float64))


def test_unregularised_eigenvalues_are_one_plus_minus_i_lr():
    ev = dirac.eigenvalues(0.2)
    assert sorted(ev.imag.tolist()) == pytest.approx([-0.2, 0.2])
    assert ev.real.tolist() == pytest.approx([1.0, 1.0])
    assert dirac.spectral_radius(0.2) == pytest.approx(math.sqrt(1.04))


@pytest.mark.parametrize("lr, gamma", [(0.1, 1.0), (0.05, 0.5), (0.3, 1.5)])
def test_penalised_simultaneous_radius_is_sqrt_one_minus_lr_gamma_plus_lr_squared(lr, gamma):
    assert dirac.spectral_radius(lr, penalty=gamma) == pytest.approx(math.sqrt(1 - lr * gamma + lr ** 2))
    converges = lr < gamma
    assert (dirac.spectral_radius(lr, penalty=gamma) < 1) == converges


def test_penalty_converges_only_when_lr_is_below_gamma():
    theta0, psi0 = starts()
    for lr, gamma, converges in ((0.1, 1.0, True), (0.3, 0.2, False)):
        thetas, psis = dirac.simulate(theta0, psi0, lr=lr, steps=500, penalty=gamma)
        ratio = (dirac.distance(thetas[-1], psis[-1]) / dirac.distance(theta0, psi0)).max().item()
        assert (ratio < 1e-3) if converges else (ratio > 1.0), (lr, gamma, ratio)


@pytest.mark.parametrize("update", dirac.UPDATES)
@pytest.mark.parametrize("gamma", [0.0, 0.7])
def test_update_matrix_is_the_step(update, gamma):
    theta, psi = starts(8, seed=3)
    new_theta, new_psi = dirac.gradient_step(theta, psi, 0.17, update=update, penalty=gamma)
    a = dirac.update_matrix(0.17, update=update, penalty=gamma)
    torch.testing.assert_close(torch.stack([new_theta, new_psi]), a @ torch.stack([theta, psi]))


def test_the_step_follows_the_game_gradients():
    # V = -psi theta: the generator descends dV/dtheta = -psi, the critic ascends dV/dpsi = -theta
    theta = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    psi = torch.tensor(-0.4, dtype=torch.float64, requires_grad=True)
    g_theta, g_psi = torch.autograd.grad(dirac.value(theta, psi), (theta, psi))
    new_theta, new_psi = dirac.gradient_step(theta.detach(), psi.detach(), 0.1)
    assert new_theta.item() == pytest.approx(0.7 - 0.1 * g_theta.item())
    assert new_psi.item() == pytest.approx(-0.4 + 0.1 * g_psi.item())


def test_equilibrium_is_a_fixed_point_and_iterate_keeps_shapes():
    thetas, psis = dirac.simulate(torch.zeros(3), torch.zeros(3), lr=0.1, steps=5, update="alternating")
    assert thetas.shape == (6, 3) and psis.shape == (6, 3)
    assert (thetas == 0).all() and (psis == 0).all()
    thetas, psis = dirac.simulate(1.0, 0.0, lr=0.1, steps=1)
    assert thetas.tolist() == [1.0, 1.0] and psis.tolist() == pytest.approx([0.0, -0.1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0.0, steps=3), "lr"), (dict(lr=float("nan"), steps=3), "lr"), (dict(lr=0.1, steps=-1), "steps"),
    (dict(lr=0.1, steps=3, update="sequential"), "sequential"), (dict(lr=0.1, steps=3, penalty=-1.0), "penalty"),
])
def test_bad_input_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dirac.simulate(1.0, 1.0, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=True), "lr must be a positive finite number, got True"),
    (dict(lr="0.1"), "lr must be a positive finite number, got '0.1'"),
    (dict(lr=0.1, steps=2.0), "steps must be an integer >= 0, got 2.0"),
    (dict(lr=0.1, steps=False), "steps must be an integer >= 0, got False"),
    (dict(lr=0.1, update=None), "unknown update None; use one of ('simultaneous', 'alternating')"),
    (dict(lr=0.1, penalty=-1.0), "penalty must be a finite number >= 0.0, got -1.0"),
    (dict(lr=0.1, penalty=True), "penalty must be a finite number >= 0.0, got True"),
])
def test_bad_input_is_refused_with_a_message_naming_the_argument_and_its_value(kwargs, message):
    with pytest.raises(ValueError) as err:
        dirac.simulate(1.0, 1.0, **dict(dict(steps=3), **kwargs))
    assert str(err.value) == message


def test_numpy_scalars_step_like_python_numbers():
    a = dirac.simulate(1.0, 0.5, lr=0.25, steps=4, penalty=0.5)
    b = dirac.simulate(1.0, 0.5, lr=np.float64(0.25), steps=np.int64(4), penalty=np.float32(0.5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(dirac.update_matrix(np.float32(0.25)), dirac.update_matrix(0.25))


def test_iterate_refuses_mismatched_shapes_and_non_finite_steps():
    with pytest.raises(ValueError, match="same shape"):
        dirac.iterate(lambda t, p, lr: (t, p), torch.zeros(2), torch.zeros(3), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="step 2"):
        dirac.iterate(lambda t, p, lr: (t * 1e200, p), torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64),
                      lr=0.1, steps=3)
