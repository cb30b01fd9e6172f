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


# ---- chapter 9: cycle consistency, the matching-aware discriminator, InfoGAN's code losses --------------

def test_cycle_consistency_loss_is_the_mean_absolute_error_over_all_elements():
    x = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    x_hat = torch.tensor([[1.5, -2.0], [-0.5, 0.0]])
    # |.| = 0.5, 0, 1, 3 -> mean 4.5 / 4; not the sum (4.5), not the mean square ((0.25 + 1 + 9) / 4)
    assert losses.cycle_consistency_loss(x, x_hat).item() == pytest.approx(1.125)
    images = torch.randn(3, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    assert losses.cycle_consistency_loss(images, images).item() == 0.0
    assert losses.cycle_consistency_loss(images, images + 0.25).item() == pytest.approx(0.25)


def test_cycle_consistency_gradient_is_the_sign_of_the_error_over_n():
    x = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    x_hat = torch.tensor([1.0, 0.0, 5.0, 2.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(losses.cycle_consistency_loss(x, x_hat), x_hat)
    torch.testing.assert_close(g, torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64) / 4)


def test_matching_aware_discriminator_loss_on_hand_computed_logits():
    """softplus(0) = log 2: at l = 0 everywhere the loss is log 2 + (log 2 + log 2) / 2 = 2 log 2."""
    zeros = torch.zeros(5)
    assert losses.matching_aware_discriminator_loss(zeros, zeros, zeros).item() == pytest.approx(2 * math.log(2))
    right, wrong, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5]), torch.tensor([[3.0], [-2.0], [0.0]])
    sp = lambda t: math.log1p(math.exp(t))  # noqa: E731
    expected = (sp(-2.0) + sp(1.0)) / 2 + 0.5 * (sp(0.5) + (sp(3.0) + sp(-2.0) + sp(0.0)) / 3)
    assert losses.matching_aware_discriminator_loss(right, wrong, fake).item() == pytest.approx(expected, rel=1e-6)


def test_matching_aware_discriminator_loss_equals_its_formula_in_probabilities():
    right, wrong, fake = LOGITS, LOGITS.flip(0) * 0.7, LOGITS * 0.3 - 1
    d = torch.sigmoid
    expected = -torch.log(d(right)).mean() - 0.5 * (torch.log(1 - d(wrong)).mean() + torch.log(1 - d(fake)).mean())
    torch.testing.assert_close(losses.matching_aware_discriminator_loss(right, wrong, fake), expected)


def test_matching_aware_discriminator_weighs_the_mismatched_and_the_fake_pairs_half_each():
    """Against discriminator_loss: the same real term, and the two fake kinds averaged."""
    right, wrong, fake = torch.randn(6), torch.randn(6), torch.randn(6)
    got = losses.matching_aware_discriminator_loss(right, wrong, fake)
    expected = 0.5 * (losses.discriminator_loss(right, wrong) + losses.discriminator_loss(right, fake))
    torch.testing.assert_close(got, expected)
    # a planted mistake, the wrong pairs labelled real, would move the loss: check the wrong term has sign +
    assert losses.matching_aware_discriminator_loss(right, wrong + 5, fake) > got


def test_matching_aware_discriminator_loss_is_finite_with_finite_gradients_at_logits_of_1e4():
    big = torch.tensor([-1e4, 1e4])
    args = [big.clone().requires_grad_(True) for _ in range(3)]
    loss = losses.matching_aware_discriminator_loss(*args)
    grads = torch.autograd.grad(loss, args)
    # softplus(1e4) = 1e4 for the wrong-sign logit of each of the three kinds: (1e4 + 0.5 * (1e4 + 1e4)) / 2
    assert loss.item() == pytest.approx(1e4, rel=1e-6)
    assert all(torch.isfinite(g).all() for g in grads)
    torch.testing.assert_close(grads[0], torch.tensor([-0.5, 0.0]))     # d/dl softplus(-l) / n at -1e4 and 1e4


def test_categorical_code_loss_is_the_cross_entropy_of_q():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]], dtype=torch.float64))
    codes = torch.tensor([0, 2])
    expected = -(math.log(0.5) + math.log(0.8)) / 2
    assert losses.categorical_code_loss(logits, codes).item() == pytest.approx(expected, rel=1e-12)
    # softmax ignores a shift of each row's logits
    assert losses.categorical_code_loss(logits + 7.0, codes).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("k", [2, 3, 10])
def test_mutual_information_bound_is_0_for_a_uniform_q_and_log_k_for_a_perfect_q(k):
    codes = torch.arange(20) % k
    uniform = torch.zeros(20, k)
    assert losses.mutual_information_lower_bound(uniform, codes, k).item() == pytest.approx(0.0, abs=1e-6)
    perfect = 1e4 * F.one_hot(codes, k).float()            # Q(c | x) = 1 on the right code, in float32
    assert losses.categorical_code_loss(perfect, codes).item() == 0.0
    assert losses.mutual_information_lower_bound(perfect, codes, k).item() == pytest.approx(math.log(k), rel=1e-6)


def test_mutual_information_bound_is_log_k_minus_the_cross_entropy_and_never_above_log_k():
    g = torch.Generator().manual_seed(3)
    for trial in range(20):
        k = 2 + trial % 7
        logits = torch.randn(16, k, generator=g, dtype=torch.float64) * (1 + trial)
        codes = torch.randint(0, k, (16,), generator=g)
        bound = losses.mutual_information_lower_bound(logits, codes, k)
        assert bound.item() == pytest.approx(math.log(k) - F.cross_entropy(logits, codes).item(), rel=1e-12)
        assert bound.item() <= math.log(k)
    # a Q confidently wrong on every code: a bound far below 0 (valid, and useless)
    codes = torch.tensor([0, 1])
    wrong = torch.tensor([[0.0, 50.0], [50.0, 0.0]])
    assert losses.mutual_information_lower_bound(wrong, codes, 2).item() == pytest.approx(math.log(2) - 50, rel=1e-6)


def test_categorical_code_loss_is_finite_with_finite_gradients_at_logits_of_1e4():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4]], requires_grad=True)
    codes = torch.tensor([1, 1])
    loss = losses.categorical_code_loss(logits, codes)
    (g,) = torch.autograd.grad(loss, logits)
    assert loss.item() == pytest.approx(1e4, rel=1e-6)                  # row 0 misses by 2e4, row 1 is exact
    assert torch.isfinite(g).all()
    torch.testing.assert_close(g, torch.tensor([[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]]))


def test_gaussian_code_loss_is_the_normal_negative_log_likelihood():
    mean = torch.tensor([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]], dtype=torch.float64)
    log_std = torch.tensor([[0.0, 0.5], [-1.0, 1.0], [0.2, -0.3]], dtype=torch.float64)
    codes = torch.tensor([[0.3, -1.0], [2.5, 0.0], [0.0, 1.0]], dtype=torch.float64)
    expected = -torch.distributions.Normal(mean, log_std.exp()).log_prob(codes).sum(dim=1).mean()
    torch.testing.assert_close(losses.gaussian_code_loss(mean, log_std, codes), expected)
    # one code dimension as an (n,) tensor is the (n, 1) case
    torch.testing.assert_close(losses.gaussian_code_loss(mean[:, 0], log_std[:, 0], codes[:, 0]),
                               losses.gaussian_code_loss(mean[:, :1], log_std[:, :1], codes[:, :1]))


def test_gaussian_code_loss_on_hand_values_keeps_the_constant():
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    zero = torch.zeros(4)
    assert losses.gaussian_code_loss(zero, zero, zero).item() == pytest.approx(half_log_2pi)
    # sigma = e: log sigma = 1, (c - mu)^2 / (2 sigma^2) = 4 / (2 e^2)
    got = losses.gaussian_code_loss(torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([3.0]))
    assert got.item() == pytest.approx(1 + 2 / math.e ** 2 + half_log_2pi, rel=1e-6)


def test_gaussian_code_loss_without_log_std_fixes_sigma_to_1():
    mean, codes = torch.tensor([[0.0, 1.0], [2.0, 0.0]]), torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    # per sample: 1/2 (1 + 0) + 2 c and 1/2 (4 + 0) + 2 c, with c = 1/2 log 2 pi per dimension
    expected = (0.5 + 2.0) / 2 + 2 * 0.5 * math.log(2 * math.pi)
    assert losses.gaussian_code_loss(mean, None, codes).item() == pytest.approx(expected, rel=1e-6)
    torch.testing.assert_close(losses.gaussian_code_loss(mean, None, codes),
                               losses.gaussian_code_loss(mean, torch.zeros_like(mean), codes))


def test_gaussian_code_loss_is_finite_with_finite_gradients_at_large_values():
    mean = torch.tensor([1e4, -1e4, 0.0], requires_grad=True)
    log_std = torch.tensor([0.0, 5.0, 30.0], requires_grad=True)
    codes = torch.tensor([-1e4, 1e4, 1.0])
    loss = losses.gaussian_code_loss(mean, log_std, codes)
    grads = torch.autograd.grad(loss, (mean, log_std))
    assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads)
    # d/dmu = (mu - c) / sigma^2 / n at the first sample: 2e4 / 3
    assert grads[0][0].item() == pytest.approx(2e4 / 3, rel=1e-6)


def test_chapter_9_losses_give_finite_gradients_to_both_players():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g)
    x_hat = torch.randn(4, 3, generator=g, requires_grad=True)
    mean = torch.randn(4, 2, generator=g, requires_grad=True)
    log_std = torch.zeros(4, 2, requires_grad=True)
    logits = torch.randn(4, 5, generator=g, requires_grad=True)
    total = losses.cycle_consistency_loss(x, x_hat) + losses.categorical_code_loss(logits, torch.tensor([0, 1, 4, 2])) \
        + losses.gaussian_code_loss(mean, log_std, torch.randn(4, 2, generator=g))
    for t in torch.autograd.grad(total, (x_hat, mean, log_std, logits)):
        assert torch.isfinite(t).all() and t.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_chapter_9_losses_are_scalars_of_the_inputs_dtype(dtype):
    a, b, c = (torch.randn(5, 1, dtype=dtype) for _ in range(3))
    codes = torch.tensor([0, 1, 2, 0, 1])
    for out in (losses.cycle_consistency_loss(a, b), losses.matching_aware_discriminator_loss(a, b, c),
                losses.categorical_code_loss(torch.randn(5, 3, dtype=dtype), codes),
                losses.mutual_information_lower_bound(torch.randn(5, 3, dtype=dtype), codes, 3),
                losses.gaussian_code_loss(a, b, c), losses.gaussian_code_loss(a, None, c)):
        assert out.shape == () and out.dtype == dtype


@pytest.mark.parametrize("call, pattern", [
    (lambda: losses.cycle_consistency_loss(torch.zeros(2, 3), torch.zeros(3, 2)), r"same shape.*\(2, 3\).*\(3, 2\)"),
    (lambda: losses.cycle_consistency_loss([0.0], torch.zeros(1)), "x must be.*got list"),
    (lambda: losses.cycle_consistency_loss(torch.zeros(1), torch.zeros(1, dtype=torch.int64)),
     "x_reconstructed must be.*torch.int64"),
    (lambda: losses.cycle_consistency_loss(torch.zeros(0), torch.zeros(0)), r"non-empty.*\(0,\)"),
    (lambda: losses.matching_aware_discriminator_loss(torch.zeros(3), torch.zeros(3, 2), torch.zeros(3)),
     r"real_wrong must be.*\(3, 2\)"),
    (lambda: losses.matching_aware_discriminator_loss(torch.zeros(3), torch.zeros(3), None),
     "fake_right must be.*got NoneType"),
    (lambda: losses.categorical_code_loss(torch.zeros(3), torch.zeros(3, dtype=torch.int64)),
     r"logits must be.*\(n, K\).*\(3,\)"),
    (lambda: losses.categorical_code_loss(torch.zeros(3, 2), torch.zeros(4, dtype=torch.int64)),
     r"codes must be an int64 tensor of shape \(3,\).*\(4,\)"),
    (lambda: losses.categorical_code_loss(torch.zeros(3, 2), torch.zeros(3)), "codes.*torch.float32"),
    (lambda: losses.categorical_code_loss(torch.zeros(3, 2), [0, 1, 1]), "codes.*got list"),
    (lambda: losses.categorical_code_loss(torch.zeros(3, 2), torch.tensor([0, 2, 1])),
     r"codes must lie in \[0, 2\).*got 2 at index 1"),
    (lambda: losses.categorical_code_loss(torch.zeros(2, 2), torch.tensor([0, -1])), "got -1 at index 1"),
    (lambda: losses.mutual_information_lower_bound(torch.zeros(2, 3), torch.tensor([0, 1]), 4),
     r"n_categories must equal.*\(3\), got 4"),
    (lambda: losses.mutual_information_lower_bound(torch.zeros(2, 3), torch.tensor([0, 1]), True),
     "n_categories must be an integer >= 1, got True"),
    (lambda: losses.gaussian_code_loss(torch.zeros(3), torch.zeros(3), torch.zeros(4)),
     r"mean and codes.*\(3,\) and \(4,\)"),
    (lambda: losses.gaussian_code_loss(torch.zeros(3, 2), torch.zeros(3), torch.zeros(3, 2)),
     r"mean and log_std.*\(3, 2\) and \(3,\)"),
    (lambda: losses.gaussian_code_loss(torch.zeros(2, 2, 2), None, torch.zeros(2, 2, 2)), r"mean.*\(2, 2, 2\)"),
    (lambda: losses.gaussian_code_loss(torch.zeros(3), "0", torch.zeros(3)), "log_std must be.*got str"),
    (lambda: losses.gaussian_code_loss(torch.zeros(3), None, torch.zeros(3, dtype=torch.int64)), "codes.*int64"),
], ids=["cycle_shapes", "cycle_list", "cycle_int", "cycle_empty", "mad_shape", "mad_none", "cat_1d", "cat_n",
        "cat_float_codes", "cat_list_codes", "cat_range", "cat_negative", "mi_k", "mi_bool", "gauss_codes",
        "gauss_log_std", "gauss_3d", "gauss_str", "gauss_int_codes"])
def test_chapter_9_losses_reject_bad_input_naming_it(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
