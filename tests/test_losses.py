"""gan_lab.losses: each objective against its formula, the gradient penalty against closed forms."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_lab import losses, nets

LOGITS = torch.linspace(-6, 6, 25, dtype=torch.float64)


# ---- GAN losses ----------------------------------------------------------------------------------------

def test_discriminator_loss_is_bce_with_real_labelled_1_and_fake_0():
    real, fake = torch.randn(40, 1), torch.randn(30, 1)
    expected = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    torch.testing.assert_close(losses.discriminator_loss(real, fake), expected)


def test_discriminator_loss_equals_minus_the_value_function():
    real, fake = LOGITS, LOGITS.flip(0) * 0.5
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    v = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()
    torch.testing.assert_close(losses.discriminator_loss(real, fake), -v)


def test_discriminator_loss_at_an_undecided_discriminator_is_log_4():
    zeros = torch.zeros(8, 1)
    assert losses.discriminator_loss(zeros, zeros).item() == pytest.approx(math.log(4), rel=1e-6)


def test_saturating_generator_loss_is_mean_log_1_minus_d():
    expected = torch.log(1 - torch.sigmoid(LOGITS)).mean()
    torch.testing.assert_close(losses.generator_loss(LOGITS, "saturating"), expected)


def test_non_saturating_generator_loss_is_minus_mean_log_d_and_the_default():
    expected = -torch.log(torch.sigmoid(LOGITS)).mean()
    torch.testing.assert_close(losses.generator_loss(LOGITS, "non_saturating"), expected)
    torch.testing.assert_close(losses.generator_loss(LOGITS), expected)


@pytest.mark.parametrize("kind", losses.GENERATOR_LOSSES)
def test_generator_losses_are_finite_with_finite_gradients_at_extreme_float32_logits(kind):
    logits = torch.tensor([-200.0, -50.0, 0.0, 50.0, 200.0], requires_grad=True)
    loss = losses.generator_loss(logits, kind)
    (g,) = torch.autograd.grad(loss, logits)
    assert torch.isfinite(loss) and torch.isfinite(g).all()
    if kind == "non_saturating":
        assert loss.item() == pytest.approx((200 + 50 + math.log(2)) / 5, rel=1e-5)


def test_generator_loss_gradients_saturate_only_for_the_saturating_loss():
    """At l = -10 (D rejects the fake) d/dl is -sigmoid(l) ~ -4.5e-5 vs -(1 - sigmoid(l)) ~ -1."""
    l_sat = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
    l_ns = l_sat.detach().clone().requires_grad_(True)
    (g_sat,) = torch.autograd.grad(losses.generator_loss(l_sat, "saturating"), l_sat)
    (g_ns,) = torch.autograd.grad(losses.generator_loss(l_ns, "non_saturating"), l_ns)
    assert g_sat.item() == pytest.approx(-torch.sigmoid(torch.tensor(-10.0, dtype=torch.float64)).item())
    assert g_ns.item() == pytest.approx(-(1 - torch.sigmoid(torch.tensor(-10.0, dtype=torch.float64))).item())
    assert abs(g_sat.item()) < 1e-4 < 0.99 < abs(g_ns.item())


def test_unknown_generator_loss_raises_value_error_naming_it():
    with pytest.raises(ValueError, match="'x'"):
        losses.generator_loss(LOGITS, "x")
    for bad in (None, True):
        with pytest.raises(ValueError) as err:
            losses.generator_loss(LOGITS, bad)
        assert str(err.value) == f"unknown generator loss {bad!r}; use one of ('saturating', 'non_saturating')"


@pytest.mark.parametrize("loss", [
    lambda r, f: losses.discriminator_loss(r, f),
    lambda r, f: losses.generator_loss(f, "saturating"),
    lambda r, f: losses.generator_loss(f, "non_saturating"),
    lambda r, f: losses.critic_loss(r, f),
    lambda r, f: losses.wasserstein_generator_loss(f),
], ids=["discriminator", "saturating", "non_saturating", "critic", "wasserstein_generator"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_loss_is_a_scalar_of_the_scores_dtype(loss, dtype):
    out = loss(torch.randn(7, 1, dtype=dtype), torch.randn(5, 1, dtype=dtype))
    assert out.shape == () and out.dtype == dtype


# ---- Wasserstein losses ------------------------------------------------------------------------------

def test_critic_loss_is_mean_fake_minus_mean_real():
    real, fake = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([10.0, 20.0])
    assert losses.critic_loss(real, fake).item() == pytest.approx(15.0 - 2.0)


def test_wasserstein_generator_loss_is_minus_mean_fake_score():
    assert losses.wasserstein_generator_loss(torch.tensor([1.0, 2.0, 6.0])).item() == pytest.approx(-3.0)


# ---- gradient penalty ----------------------------------------------------------------------------------

def _linear_critic(w) -> nn.Linear:
    w = torch.as_tensor(w, dtype=torch.float32)
    f = nn.Linear(len(w), 1)
    with torch.no_grad():
        f.weight.copy_(w[None])
        f.bias.fill_(0.3)
    return f


@pytest.mark.parametrize("w", [[0.0, 0.5], [0.6, 0.8], [3.0, 4.0], [-1.0, 2.0, 2.0]])
def test_penalty_of_a_linear_critic_is_norm_w_minus_1_squared(w):
    f = _linear_critic(w)
    real, fake = torch.randn(64, len(w)), torch.randn(64, len(w)) + 2
    expected = (torch.tensor(w).norm().item() - 1) ** 2
    assert losses.gradient_penalty(f, real, fake).item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("w, expected", [([0.0, 0.5], 0.0), ([0.6, 0.8], 0.0), ([3.0, 4.0], 16.0)])
def test_one_sided_penalty_of_a_linear_critic_only_counts_norms_above_1(w, expected):
    f = _linear_critic(w)
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    assert losses.gradient_penalty(f, real, fake, one_sided=True).item() == pytest.approx(expected, abs=1e-6)


def test_penalty_of_the_norm_critic_is_zero_away_from_the_origin():
    """f(x) = ||x|| has gradient x / ||x||, of norm 1 everywhere but 0."""
    real = torch.randn(64, 3) * 0.1 + 5
    fake = torch.randn(64, 3) * 0.1 + 4
    assert losses.gradient_penalty(lambda x: x.norm(dim=1, keepdim=True), real, fake).item() < 1e-10


def test_penalty_of_a_quadratic_critic_where_real_equals_fake():
    """f(x) = a ||x||^2 / 2 has gradient a x; with real = fake the interpolate is x itself."""
    a = 1.7
    x = torch.randn(50, 2, dtype=torch.float64)
    expected = ((a * x.norm(dim=1) - 1) ** 2).mean()
    got = losses.gradient_penalty(lambda u: 0.5 * a * (u ** 2).sum(dim=1), x, x.clone())
    assert got.item() == pytest.approx(expected.item(), rel=1e-12)


def test_penalty_interpolates_uniformly_between_real_and_fake():
    """f(x) = ||x||^2 / 2 with real = 0 and fake = 1: x_hat = 1 - eps, so the penalty is E[eps^2] = 1/3."""
    n = 20_000
    real, fake = torch.zeros(n, 1, dtype=torch.float64), torch.ones(n, 1, dtype=torch.float64)
    got = losses.gradient_penalty(lambda u: 0.5 * (u ** 2).sum(dim=1), real, fake,
                                  generator=torch.Generator().manual_seed(0))
    # Var(eps^2) = 1/5 - 1/9, so the standard error is about 0.0021
    assert got.item() == pytest.approx(1 / 3, abs=0.01)


def test_penalty_on_image_shaped_inputs_uses_the_norm_over_all_pixels():
    w = torch.randn(3 * 4 * 4)
    f = lambda x: x.flatten(1) @ w   # noqa: E731
    real, fake = torch.randn(10, 3, 4, 4), torch.randn(10, 3, 4, 4)
    assert losses.gradient_penalty(f, real, fake).item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)


def test_penalty_is_differentiable_with_respect_to_the_critic():
    w = torch.tensor([3.0, 4.0])
    f = _linear_critic(w)
    gp = losses.gradient_penalty(f, torch.randn(16, 2), torch.randn(16, 2))
    gp.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    torch.testing.assert_close(f.weight.grad[0], 2 * (5 - 1) * w / 5)


def test_penalty_gives_gradients_to_every_weight_of_an_mlp_critic():
    torch.manual_seed(0)
    D = nets.critic(2, width=16, depth=2)
    losses.gradient_penalty(D, torch.randn(32, 2), torch.randn(32, 2)).backward()
    weights = [m.weight for m in D.net if isinstance(m, nn.Linear)]
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in weights)


def test_penalty_sends_no_gradient_to_the_generator_or_the_real_batch():
    torch.manual_seed(0)
    G, D = nets.generator(2, 2, width=8, depth=1), nets.critic(2, width=8, depth=1)
    real = torch.randn(16, 2, requires_grad=True)
    fake = G(torch.randn(16, 2))
    losses.gradient_penalty(D, real, fake).backward()
    assert all(p.grad is None for p in G.parameters())
    assert real.grad is None


def test_penalty_is_reproducible_with_a_generator_and_depends_on_its_seed():
    torch.manual_seed(0)
    D = nets.critic(2, width=16, depth=2)
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    gp = lambda s: losses.gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(s))  # noqa: E731
    assert torch.equal(gp(1), gp(1))
    assert not torch.equal(gp(1), gp(2))


def test_penalty_returns_a_scalar_of_the_inputs_dtype():
    gp = losses.gradient_penalty(_linear_critic([1.0, 1.0]).double(), torch.randn(4, 2, dtype=torch.float64),
                                 torch.randn(4, 2, dtype=torch.float64))
    assert gp.shape == () and gp.dtype == torch.float64


def test_penalty_rejects_real_and_fake_of_different_shapes():
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(5, 2\)"):
        losses.gradient_penalty(_linear_critic([1.0, 0.0]), torch.randn(4, 2), torch.randn(5, 2))


# ---- weight clipping -----------------------------------------------------------------------------------

def test_clip_weights_clamps_every_parameter_to_minus_c_c_and_keeps_the_rest():
    torch.manual_seed(0)
    D = nets.critic(2, width=16, depth=2)
    before = [p.detach().clone() for p in D.parameters()]
    c = 0.05
    losses.clip_weights(D, c)
    for p, b in zip(D.parameters(), before):
        assert p.abs().max() <= c
        torch.testing.assert_close(p, b.clamp(-c, c), rtol=0, atol=0)
    assert any((b.abs() > c).any() for b in before)


@pytest.mark.parametrize("c", [0, -0.01, float("nan"), float("inf"), True, "0.01", None])
def test_clip_weights_rejects_a_non_positive_non_finite_or_non_number_c_naming_it(c):
    layer = nn.Linear(2, 1)
    before = [p.detach().clone() for p in layer.parameters()]
    with pytest.raises(ValueError) as err:
        losses.clip_weights(layer, c)
    assert str(err.value) == f"c must be a positive finite number, got {c!r}"
    assert all(torch.equal(p, b) for p, b in zip(layer.parameters(), before))     # refused before any clamp


def test_penalty_with_given_eps_interpolates_at_exactly_those_weights():
    """f(x) = ||x||^2 / 2 has gradient x; real = 0 and fake = 1 put x_hat at 1 - eps, so term i is eps_i^2."""
    eps = torch.tensor([[0.0], [0.25], [1.0]], dtype=torch.float64)
    real, fake = torch.zeros(3, 1, dtype=torch.float64), torch.ones(3, 1, dtype=torch.float64)
    f = lambda u: 0.5 * (u ** 2).sum(dim=1)  # noqa: E731
    terms = losses.gradient_penalty(f, real, fake, eps=eps, reduction="none")
    torch.testing.assert_close(terms, torch.tensor([0.0, 0.0625, 1.0], dtype=torch.float64))
    assert losses.gradient_penalty(f, real, fake, eps=eps).item() == pytest.approx((0.0625 + 1.0) / 3)


def test_penalty_with_given_eps_equals_the_one_drawn_from_the_same_generator():
    torch.manual_seed(0)
    D = nets.critic(2, width=16, depth=2)
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    eps = torch.rand(32, 1, generator=torch.Generator().manual_seed(7))
    drawn = losses.gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(7))
    assert torch.equal(losses.gradient_penalty(D, real, fake, eps=eps), drawn)


def test_penalty_rejects_eps_of_the_wrong_shape_and_an_unknown_reduction():
    f = _linear_critic([1.0, 0.0])
    with pytest.raises(ValueError, match=r"eps must have shape \(4, 1\).*\(4,\)"):
        losses.gradient_penalty(f, torch.randn(4, 2), torch.randn(4, 2), eps=torch.rand(4))
    with pytest.raises(ValueError, match="'sum'"):
        losses.gradient_penalty(f, torch.randn(4, 2), torch.randn(4, 2), reduction="sum")


# ---- hinge (SN-GAN) and least-squares (LSGAN) losses ----------------------------------------------------

def test_hinge_discriminator_loss_on_hand_computed_scores():
    # max(0, 1 - D(x)) on (2, 0.5, -1) is (0, 0.5, 2); max(0, 1 + D(G(z))) on (-3, 0, 0.5) is (0, 1, 1.5)
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 0.0, 0.5])
    assert losses.hinge_discriminator_loss(real, fake).item() == pytest.approx(2.5 / 3 + 2.5 / 3)
    assert losses.hinge_discriminator_loss(real[:, None], fake[:, None]).item() == pytest.approx(5 / 3)


def test_hinge_discriminator_loss_is_zero_with_no_gradient_beyond_the_margins():
    real = torch.tensor([1.0, 2.0, 7.0], requires_grad=True)
    fake = torch.tensor([-1.0, -4.0], requires_grad=True)
    loss = losses.hinge_discriminator_loss(real, fake)
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(real.grad) == 0 and torch.count_nonzero(fake.grad) == 0
    inside = torch.tensor([0.5], requires_grad=True)
    losses.hinge_discriminator_loss(inside, torch.tensor([-2.0])).backward()
    assert inside.grad.item() == -1.0


def test_hinge_generator_loss_is_minus_mean_fake_score():
    assert losses.hinge_generator_loss(torch.tensor([1.0, 2.0, 6.0])).item() == pytest.approx(-3.0)
    assert losses.hinge_generator_loss(torch.tensor([[-1.0], [-3.0]])).item() == pytest.approx(2.0)


def test_least_squares_discriminator_loss_on_hand_computed_scores():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    # a = 0, b = 1: 1/2 mean(0, 4) + 1/2 mean(0, 4) = 2
    assert losses.least_squares_discriminator_loss(real, fake).item() == pytest.approx(2.0)
    # a = -1, b = 1: 1/2 mean(0, 4) + 1/2 mean(1, 1) = 1.5
    assert losses.least_squares_discriminator_loss(real, fake, a=-1, b=1).item() == pytest.approx(1.5)
    # a = 0.5, b = 3: 1/2 mean(4, 0) + 1/2 mean(0.25, 6.25) = 1 + 1.625
    assert losses.least_squares_discriminator_loss(real[:, None], fake[:, None], a=0.5, b=3.0).item() == \
        pytest.approx(2.625)


def test_least_squares_generator_loss_on_hand_computed_scores():
    fake = torch.tensor([1.0, 3.0])
    assert losses.least_squares_generator_loss(fake).item() == pytest.approx(1.0)          # c = 1: mean(0, 4) / 2
    assert losses.least_squares_generator_loss(fake, c=0).item() == pytest.approx(2.5)     # mean(1, 9) / 2


def test_least_squares_gradients_are_the_distances_to_the_targets():
    """d/dD of 1/2 (D - c)^2 is D - c: it does not vanish for a fake far from c (no saturation)."""
    fake = torch.tensor([-10.0, 0.0, 4.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(losses.least_squares_generator_loss(fake, c=1.0) * 3, fake)
    torch.testing.assert_close(g, torch.tensor([-11.0, -1.0, 3.0], dtype=torch.float64))


@pytest.mark.parametrize("loss", [
    lambda r, f: losses.hinge_discriminator_loss(r, f),
    lambda r, f: losses.hinge_generator_loss(f),
    lambda r, f: losses.least_squares_discriminator_loss(r, f, a=-1, b=1),
    lambda r, f: losses.least_squares_generator_loss(f, c=0),
], ids=["hinge_d", "hinge_g", "ls_d", "ls_g"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_hinge_and_least_squares_losses_are_scalars_of_the_scores_dtype(loss, dtype):
    out = loss(torch.randn(7, 1, dtype=dtype), torch.randn(5, 1, dtype=dtype))
    assert out.shape == () and out.dtype == dtype


@pytest.mark.parametrize("call", [
    lambda x: losses.hinge_discriminator_loss(x, torch.zeros(3)),
    lambda x: losses.hinge_discriminator_loss(torch.zeros(3), x),
    lambda x: losses.hinge_generator_loss(x),
    lambda x: losses.least_squares_discriminator_loss(x, torch.zeros(3)),
    lambda x: losses.least_squares_generator_loss(x),
], ids=["hinge_d_real", "hinge_d_fake", "hinge_g", "ls_d", "ls_g"])
@pytest.mark.parametrize("bad, pattern", [
    (torch.zeros(4, 2), r"shape \(n,\) or \(n, 1\).*\(4, 2\)"),
    (torch.zeros(2, 4, 1), r"\(2, 4, 1\)"),
    (torch.zeros(0), r"non-empty.*\(0,\)"),
    (torch.ones(3, dtype=torch.int64), "torch.int64"),
    ([0.0, 1.0], "got list"),
], ids=["two_columns", "stacked", "empty", "integer", "list"])
def test_hinge_and_least_squares_losses_reject_bad_scores_naming_them(call, bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(bad)


@pytest.mark.parametrize("kwargs, name", [(dict(a=math.nan), "a"), (dict(b=math.inf), "b"), (dict(a=True), "a"),
                                          (dict(b="1"), "b")])
def test_least_squares_discriminator_loss_rejects_non_finite_labels_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must be a finite number, got {next(iter(kwargs.values()))!r}"):
        losses.least_squares_discriminator_loss(torch.zeros(3), torch.zeros(3), **kwargs)


@pytest.mark.parametrize("c", [math.nan, -math.inf, None])
def test_least_squares_generator_loss_rejects_a_non_finite_c_naming_it(c):
    with pytest.raises(ValueError, match=f"c must be a finite number, got {c!r}"):
        losses.least_squares_generator_loss(torch.zeros(3), c=c)
