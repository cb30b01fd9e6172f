"""gan_lab.lipschitz: critics trained under clipping, a gradient penalty or spectral normalisation, and what the
constraint did to them."""
import math

import pytest
import torch
from torch import nn

from gan_lab import estimate, lipschitz, losses, metrics, nets


def _shift(dx: float = 1.0):
    """P = N(0, 0.25 I) moved by (dx, 0), Q = N(0, 0.25 I): W1(P, Q) = dx."""
    p = lambda n, g: 0.5 * torch.randn(n, 2, generator=g) + torch.tensor([dx, 0.0])  # noqa: E731
    q = lambda n, g: 0.5 * torch.randn(n, 2, generator=g)  # noqa: E731
    return p, q


SMALL = dict(width=32, depth=2, batch_size=128, eval_samples=1000, device="cpu")


def _interpolate_norms(critic, p, q, n=2000, seed=5):
    g = torch.Generator().manual_seed(seed)
    x, y = p(n, g), q(n, g)
    return lipschitz.interpolate_norms(critic, x, y, generator=g)


# ---- fit_critic ---------------------------------------------------------------------------------------

def test_a_clipped_critic_keeps_every_parameter_in_the_box_and_scores_p_above_q():
    p, q = _shift()
    fit = lipschitz.fit_critic(p, q, constraint="clip", clip=0.05, steps=100, lr=1e-3, **SMALL)
    params = torch.cat([t.detach().reshape(-1) for t in fit.critic.parameters()])
    assert (params.abs() <= torch.tensor(0.05)).all()   # 0.05 as float32 has it
    assert (params.abs() > 0.0499).float().mean().item() > 0.3   # many sit on the boundary
    assert fit.estimate > 0
    assert (fit.constraint, fit.bound, fit.one_sided) == ("clip", 0.05, False)


def test_a_penalised_critic_has_gradient_norm_near_1_at_interpolates_and_estimates_w1():
    p, q = _shift(1.0)
    fit = lipschitz.fit_critic(p, q, constraint="penalty", penalty_weight=10.0, steps=300, lr=3e-3, **SMALL)
    norms = _interpolate_norms(fit.critic, p, q)
    # the soft penalty's optimum for a shift by W1 = 1 has slope 1 + W1 / (2 lambda) = 1.05
    assert 0.9 <= norms.median().item() <= 1.15
    assert fit.estimate == pytest.approx(1.05, rel=0.1)


def test_a_weak_penalty_lets_the_critic_get_steeper_and_the_one_sided_penalty_does_not_lift_small_slopes():
    p, q = _shift(1.0)
    weak = lipschitz.fit_critic(p, q, penalty_weight=0.1, steps=300, lr=3e-3, **SMALL)
    one_sided = lipschitz.fit_critic(p, q, penalty_weight=10.0, one_sided=True, steps=300, lr=3e-3, **SMALL)
    assert _interpolate_norms(weak.critic, p, q).median().item() > 2.0     # 1 + W1 / (2 lambda) = 6
    norms = _interpolate_norms(one_sided.critic, p, q)
    assert (norms > 1.15).float().mean().item() < 0.1
    assert one_sided.one_sided and one_sided.bound == 10.0


def test_the_curve_ends_at_the_estimate_and_the_same_seed_reproduces_the_fit():
    p, q = _shift()
    kw = dict(steps=20, lr=1e-3, width=8, depth=1, eval_samples=100, device="cpu")
    a = lipschitz.fit_critic(p, q, constraint="clip", seed=3, **kw)
    b = lipschitz.fit_critic(p, q, constraint="clip", seed=3, **kw)
    c = lipschitz.fit_critic(p, q, constraint="clip", seed=4, **kw)
    assert a.curve == b.curve and a.curve[-1] == (20, a.estimate)
    assert a.estimate != c.estimate


def test_a_given_critic_is_trained_in_place_and_data_set_names_work():
    critic = nets.critic(2, width=8, depth=1)
    before = [t.detach().clone() for t in critic.parameters()]
    fit = lipschitz.fit_critic("8gaussians", "25gaussians", critic=critic, steps=5, eval_samples=50,
                               device="cpu")
    assert fit.critic is critic
    assert any(not torch.equal(b, t) for b, t in zip(before, critic.parameters()))


def _state(net: nn.Module) -> dict:
    return {k: v.clone() for k, v in net.state_dict().items()}


SPECTRAL = dict(constraint="spectral", width=16, depth=2, steps=100, lr=1e-2, batch_size=128, eval_samples=500,
                device="cpu")


def test_a_spectrally_normalised_critic_is_1_lipschitz_and_its_estimate_a_lower_bound_of_w1():
    p, q = _shift(1.0)
    fit = lipschitz.fit_critic(p, q, **SPECTRAL)
    layers = [m for m in fit.critic.modules() if isinstance(m, nn.Linear)]
    assert len(layers) == 3 and all(isinstance(m, nets.SpectralNormLinear) for m in layers)
    assert (fit.constraint, fit.bound, fit.one_sided) == ("spectral", 1.0, False)
    # every layer multiplies by W / sigma with ||W / sigma||_2 ~ 1 (sigma from the persistent power iteration)
    sigmas = [torch.linalg.matrix_norm(m.normalised_weight().detach().double(), ord=2).item() for m in layers]
    assert all(abs(s - 1) < 1e-3 for s in sigmas), sigmas
    bound = lipschitz.spectral_bound(fit.critic)
    assert bound == pytest.approx(math.prod(sigmas), rel=1e-12) and bound <= 1 + 1e-3
    # Kantorovich on the empirical measures of x and y: mean f(x) - mean f(y) <= ||f||_L W1(x, y) <= bound W1(x, y)
    g = torch.Generator().manual_seed(9)
    x, y = p(500, g), q(500, g)
    fit.critic.eval()
    with torch.no_grad():
        gap = (fit.critic(x).mean() - fit.critic(y).mean()).item()
    w1 = metrics.wasserstein1(x, y)
    assert 0.9 * w1 < gap <= bound * w1 + 1e-6
    # the same fit without any constraint overshoots W1: the inequality above is the constraint's doing
    free = lipschitz.fit_critic(p, q, constraint="penalty", penalty_weight=0.0,
                                **{k: v for k, v in SPECTRAL.items() if k != "constraint"})
    with torch.no_grad():
        assert (free.critic(x).mean() - free.critic(y).mean()).item() > 1.5 * w1


def test_the_spectral_fit_starts_from_the_spectral_initial_critic_and_the_seed_reproduces_it():
    p, q = _shift(1.0)
    kw = {**SPECTRAL, "steps": 10}
    a, b = lipschitz.fit_critic(p, q, seed=3, **kw), lipschitz.fit_critic(p, q, seed=3, **kw)
    assert a.curve == b.curve and a.curve[-1] == (10, a.estimate)
    sa, sb = _state(a.critic), _state(b.critic)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(k.endswith("spectral_norm.u") for k in sa)          # the power iteration's u is part of the fit
    c = lipschitz.fit_critic(p, q, seed=4, **kw)
    assert a.estimate != c.estimate
    start = lipschitz.initial_critic(2, width=16, depth=2, seed=3, spectral_norm=True)
    plain = lipschitz.initial_critic(2, width=16, depth=2, seed=3)
    assert torch.equal(start.net[0].weight, plain.net[0].weight)    # the same W, divided by sigma(W)
    given = lipschitz.fit_critic(p, q, seed=3, critic=start, **kw)
    assert given.critic is start and given.curve == a.curve


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(clip=0.05), r"clip=0.05 does not apply to constraint='spectral' \(only to 'clip'\)"),
    (dict(clip=0.01), r"clip=0.01 does not apply"),                  # the default value, given, is still given
    (dict(clip=None), r"clip=None does not apply"),
    (dict(penalty_weight=10.0), r"penalty_weight=10.0 does not apply to constraint='spectral' \(only to 'penalty'\)"),
    (dict(one_sided=True), r"one_sided=True only applies to constraint='penalty'"),
    (dict(critic=nets.critic(2, width=4, depth=1)), r"SpectralNormLinear.*2 plain of 2 linear layers"),
    (dict(critic=nn.Sequential(nets.SpectralNormLinear(2, 4), nn.ReLU(), nn.Linear(4, 1))), r"1 plain of 2"),
    (dict(critic=nn.Sequential(nn.Tanh())), r"0 plain of 0"),
])
def test_the_spectral_constraint_refuses_the_other_constraints_options_and_plain_critics(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        lipschitz.fit_critic("8gaussians", "25gaussians", constraint="spectral", **kwargs)


def test_initial_critic_refuses_a_non_bool_spectral_norm():
    with pytest.raises(ValueError, match="spectral_norm must be True or False, got 1"):
        lipschitz.initial_critic(2, spectral_norm=1)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(constraint="box"), "constraint"),
    (dict(constraint="clip", one_sided=True), "one_sided"),
    (dict(one_sided=1), "one_sided"),
    (dict(clip=0.0), "clip"),
    (dict(clip=float("nan")), "clip"),
    (dict(penalty_weight=-1.0), "penalty_weight"),
    (dict(steps=0), "steps"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(depth=-1), "depth"),
    (dict(lr=0), "lr"),
    (dict(betas=(0.5, 1.0)), "betas"),
    (dict(seed=-1), "seed"),
    (dict(critic="not a net"), "critic"),
])
def test_fit_critic_rejects_bad_settings_naming_them(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        lipschitz.fit_critic("8gaussians", "25gaussians", **kwargs)


def test_fit_critic_rejects_distributions_of_different_dimensions_and_bad_data():
    with pytest.raises(ValueError, match="2-D but fake is 1-D"):
        lipschitz.fit_critic("8gaussians", "gaussian1d")
    with pytest.raises(ValueError, match="unknown data set"):
        lipschitz.fit_critic("9gaussians", "8gaussians")


# ---- layer_gradient_norms -----------------------------------------------------------------------------

def _tiny(a: float, b: float, w2: tuple) -> nets.MLP:
    """x -> Linear(2, 2) with W1 = a I, b1 = (b, b) -> ReLU -> Linear(2, 1) with W2 = w2, b2 = 0."""
    net = nets.critic(2, width=2, depth=1)
    with torch.no_grad():
        net.net[0].weight.copy_(a * torch.eye(2))
        net.net[0].bias.fill_(b)
        net.net[2].weight.copy_(torch.tensor([w2]))
        net.net[2].bias.zero_()
    return net


def test_layer_gradient_norms_match_the_hand_computed_values_of_a_tiny_net():
    # all inputs positive and b > 0, so both hidden units are active everywhere and f is linear
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(5, 2, generator=g) + 1, torch.rand(3, 2, generator=g) + 2
    net = _tiny(a=2.0, b=0.5, w2=(3.0, -4.0))
    acts = lipschitz.layer_gradient_norms(net, real, fake)
    # dL/df is -1/5 on each real point and +1/3 on each fake one; dL/dz1 = dL/df * W2 on each row
    out = math.sqrt(5 / 25 + 3 / 9)
    assert acts.shape == (2,) and acts.dtype == torch.float64
    assert acts[1].item() == pytest.approx(out, rel=1e-6)
    assert acts[0].item() == pytest.approx(5.0 * out, rel=1e-6)
    weights = lipschitz.layer_gradient_norms(net, real, fake, wrt="weights")
    gap = fake.mean(0) - real.mean(0)        # L is linear in the inputs' means
    assert weights[1].item() == pytest.approx(2.0 * gap.norm().item(), rel=1e-5)   # h = 2 x + 0.5
    assert weights[0].item() == pytest.approx(5.0 * gap.norm().item(), rel=1e-5)   # ||W2|| ||gap||


def test_dead_relus_pass_no_gradient_down():
    real, fake = torch.rand(4, 2) + 1, torch.rand(4, 2) + 1
    net = _tiny(a=-1.0, b=-0.1, w2=(3.0, -4.0))      # every hidden pre-activation is negative
    acts = lipschitz.layer_gradient_norms(net, real, fake)
    assert acts[0].item() == 0.0 and acts[1].item() > 0
    assert lipschitz.layer_gradient_norms(net, real, fake, wrt="weights")[0].item() == 0.0


def test_weights_pinned_at_plus_minus_c_scale_the_gradient_by_c_sqrt_w_over_2_per_layer():
    width, depth, c = 256, 6, 0.01
    net = nets.critic(2, width=width, depth=depth)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, nn.Linear):
                layer.weight.copy_(c * (2.0 * torch.randint(2, layer.weight.shape, generator=g) - 1))
                layer.bias.zero_()
    real, fake = torch.randn(256, 2, generator=g), torch.randn(256, 2, generator=g) + 1
    acts = lipschitz.layer_gradient_norms(net, real, fake)
    assert len(acts) == depth + 1
    factors = acts[:-1] / acts[1:]
    assert torch.allclose(factors, torch.full_like(factors, c * math.sqrt(width / 2)), rtol=0.2)


def test_layer_gradient_norms_leave_no_grad_and_no_hooks_behind():
    net = nets.critic(2, width=8, depth=2)
    lipschitz.layer_gradient_norms(net, torch.randn(6, 2), torch.randn(4, 2))
    assert all(p.grad is None for p in net.parameters())
    assert all(not layer._forward_hooks for layer in net.modules())


def test_layer_gradient_norms_reject_bad_input():
    net = nets.critic(2, width=8, depth=1)
    with pytest.raises(ValueError, match="wrt"):
        lipschitz.layer_gradient_norms(net, torch.randn(3, 2), torch.randn(3, 2), wrt="biases")
    with pytest.raises(ValueError, match="real must be"):
        lipschitz.layer_gradient_norms(net, torch.randn(3), torch.randn(3, 2))
    with pytest.raises(ValueError, match="fake must be"):
        lipschitz.layer_gradient_norms(net, torch.randn(3, 2), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="2-D but fake is 3-D"):
        lipschitz.layer_gradient_norms(net, torch.randn(3, 2), torch.randn(3, 3))
    with pytest.raises(ValueError, match="no nn.Linear"):
        lipschitz.layer_gradient_norms(nn.ReLU(), torch.randn(3, 2), torch.randn(3, 2))
    shared = nn.Linear(2, 2)
    twice = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(2, 1))
    with pytest.raises(ValueError, match="exactly once"):
        lipschitz.layer_gradient_norms(twice, torch.randn(3, 2), torch.randn(3, 2))


# ---- weight_values and fraction_at_bounds -------------------------------------------------------------

def test_weight_values_collects_every_weight_and_optionally_the_biases():
    net = nets.critic(2, width=4, depth=2)
    w = lipschitz.weight_values(net)
    assert w.dtype == torch.float64 and w.shape == (2 * 4 + 4 * 4 + 4,)
    assert torch.equal(w[:8], net.net[0].weight.detach().reshape(-1).double())
    assert lipschitz.weight_values(net, biases=True).shape == (28 + 4 + 4 + 1,)


def test_fraction_at_bounds_counts_values_within_rtol_of_plus_minus_c():
    values = torch.tensor([0.01, -0.01005, 0.0098, 0.005, -0.02])
    assert lipschitz.fraction_at_bounds(values, 0.01) == pytest.approx(2 / 5)
    assert lipschitz.fraction_at_bounds(values, 0.01, rtol=0.05) == pytest.approx(3 / 5)
    assert lipschitz.fraction_at_bounds(values, 0.01, rtol=0.0) == pytest.approx(1 / 5)


def test_a_clamped_fresh_critic_has_the_share_at_the_bounds_its_uniform_init_predicts():
    # torch draws a layer's weights uniformly on +-1/sqrt(fan_in): P(|w| > c) = 1 - c sqrt(fan_in)
    torch.manual_seed(0)
    net = nets.critic(2, width=400, depth=2)
    losses.clip_weights(net, 0.01)
    assert lipschitz.fraction_at_bounds(net.net[2], 0.01) == pytest.approx(1 - 0.01 * 20, abs=0.01)


def test_fraction_at_bounds_rejects_bad_input():
    with pytest.raises(ValueError, match="c must be"):
        lipschitz.fraction_at_bounds(torch.ones(3), 0.0)
    with pytest.raises(ValueError, match="rtol"):
        lipschitz.fraction_at_bounds(torch.ones(3), 0.1, rtol=1.0)
    with pytest.raises(ValueError, match="non-empty"):
        lipschitz.fraction_at_bounds(torch.ones(0), 0.1)


# ---- falloff ------------------------------------------------------------------------------------------

def test_a_plane_falls_half_the_time_and_a_peak_every_time():
    points = torch.randn(50, 2, generator=torch.Generator().manual_seed(2))
    plane = lambda x: x @ torch.tensor([[1.0], [0.3]])  # noqa: E731
    assert lipschitz.falloff(plane, points, 0.2) == pytest.approx(0.5)
    centres = torch.tensor([[1.0, 1.0], [-2.0, 0.5]])
    peaks = lambda x: -torch.cdist(x, centres).min(dim=1).values  # noqa: E731
    assert lipschitz.falloff(peaks, centres, 0.2) == 1.0
    bowl = lambda x: (x ** 2).sum(dim=1)  # noqa: E731  a minimum at 0: nothing falls from there
    assert lipschitz.falloff(bowl, torch.zeros(1, 2), 0.2) == 0.0


def test_falloff_rejects_bad_input():
    f = lambda x: x.sum(dim=1)  # noqa: E731
    with pytest.raises(ValueError, match="points"):
        lipschitz.falloff(f, torch.randn(4, 3), 0.2)
    with pytest.raises(ValueError, match="radius"):
        lipschitz.falloff(f, torch.randn(4, 2), -0.2)
    with pytest.raises(ValueError, match="directions"):
        lipschitz.falloff(f, torch.randn(4, 2), 0.2, directions=0)
    with pytest.raises(ValueError, match="finite"):
        lipschitz.falloff(f, torch.tensor([[0.0, float("nan")]]), 0.2)
    with pytest.raises(ValueError, match="one value per point"):
        lipschitz.falloff(lambda x: x, torch.randn(4, 2), 0.2)


def test_spectral_bound_is_the_product_of_largest_singular_values_and_bounds_the_gradient():
    net = nets.MLP(2, 1, width=2, depth=1)
    with torch.no_grad():
        net.net[0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, -0.5]]))   # ||W||_2 = 3
        net.net[2].weight.copy_(torch.tensor([[1.0, 1.0]]))                # ||W||_2 = sqrt(2)
    assert lipschitz.spectral_bound(net) == pytest.approx(3 * 2 ** 0.5, rel=1e-12)
    torch.manual_seed(0)
    critic = nets.critic(2, width=32, depth=3)
    x = torch.randn(2000, 2) * 3
    steepest = estimate.input_gradient(critic, x).norm(dim=1).max().item()
    assert 0 < steepest <= lipschitz.spectral_bound(critic)
    with pytest.raises(ValueError, match="no nn.Linear"):
        lipschitz.spectral_bound(torch.nn.Tanh())


# ---- clip_lipschitz_bound and matched_clip --------------------------------------------------------------

def test_clip_lipschitz_bound_is_c_to_the_l_times_the_root_layer_sizes():
    # 2 -> 64 -> 64 -> 64 -> 1: K(c) = c^4 sqrt(2) 64^3
    assert lipschitz.clip_lipschitz_bound(0.05, 64) == pytest.approx(0.05 ** 4 * 2 ** 0.5 * 64 ** 3, rel=1e-12)
    # 3 -> 10 -> 1: K(c) = c^2 sqrt(30) sqrt(10)
    assert lipschitz.clip_lipschitz_bound(0.2, 10, data_dim=3, depth=1) == pytest.approx(
        0.04 * 30 ** 0.5 * 10 ** 0.5, rel=1e-12)
    # the WGAN clip on 3 x 512 networks: about 1.9
    assert lipschitz.clip_lipschitz_bound(0.01, 512) == pytest.approx(1.898, abs=1e-3)


def test_clip_lipschitz_bound_is_reached_by_a_critic_with_every_weight_at_plus_c_and_bounds_any_clipped_one():
    c, width, depth = 0.1, 16, 3
    net = nets.critic(3, width=width, depth=depth)
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, nn.Linear):
                layer.weight.fill_(c)
                layer.bias.zero_()
    k = lipschitz.clip_lipschitz_bound(c, width, data_dim=3, depth=depth)
    x = torch.rand(20, 3) + 0.1      # positive inputs: every unit is active, f is linear with slope K(c)
    slope = estimate.input_gradient(net, x).norm(dim=1)
    assert torch.allclose(slope, torch.full_like(slope, k), rtol=1e-5)
    assert lipschitz.spectral_bound(net) == pytest.approx(k, rel=1e-5)
    torch.manual_seed(3)
    random_net = nets.critic(3, width=width, depth=depth)
    losses.clip_weights(random_net, c)
    assert lipschitz.spectral_bound(random_net) < 0.5 * k   # random signs are far from the worst case


def test_matched_clip_gives_another_width_the_reference_k_of_c():
    assert lipschitz.matched_clip(512) == pytest.approx(0.01, rel=1e-12)
    assert lipschitz.matched_clip(64) == pytest.approx(0.01 * 8 ** 0.75, rel=1e-12)   # (512 / w)^(3/4)
    for width, depth in ((32, 3), (100, 1), (700, 5)):
        c = lipschitz.matched_clip(width, reference_width=200, reference_clip=0.03, depth=depth)
        assert lipschitz.clip_lipschitz_bound(c, width, depth=depth) == pytest.approx(
            lipschitz.clip_lipschitz_bound(0.03, 200, depth=depth), rel=1e-9)
    # one hidden layer: K(c) = c^2 sqrt(2) w, so c scales as (w_ref / w)^(1/2)
    assert lipschitz.matched_clip(128, depth=1) == pytest.approx(0.01 * 2.0, rel=1e-12)


@pytest.mark.parametrize("call, fragment", [
    (lambda: lipschitz.clip_lipschitz_bound(0.0, 64), "c must be"),
    (lambda: lipschitz.clip_lipschitz_bound(0.01, 0), "width"),
    (lambda: lipschitz.clip_lipschitz_bound(0.01, 64, depth=-1), "depth"),
    (lambda: lipschitz.matched_clip(64, reference_clip=-0.01), "reference_clip"),
    (lambda: lipschitz.matched_clip(64, reference_width=2.5), "width"),
])
def test_the_clip_bounds_reject_bad_settings(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


# ---- interpolate_norms ----------------------------------------------------------------------------------

def test_interpolate_norms_is_the_slope_at_eps_x_plus_one_minus_eps_y():
    # f(x) = relu(x_1): slope 1 where x_hat_1 > 0, else 0; x = (1, 0), y = (-1, 0), so x_hat_1 = 2 eps - 1
    f = lambda x: torch.relu(x[:, 0])  # noqa: E731
    real, fake = torch.tensor([[1.0, 0.0]]).repeat(4, 1), torch.tensor([[-1.0, 0.0]]).repeat(4, 1)
    eps = torch.tensor([[0.1], [0.4], [0.6], [0.9]])
    norms = lipschitz.interpolate_norms(f, real, fake, eps=eps)
    assert norms.tolist() == [0.0, 0.0, 1.0, 1.0]
    # a linear critic a^T x has slope ||a|| at every interpolate
    linear = nn.Linear(2, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.2, -1.6]]))   # ||a|| = 2
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 2, generator=g), torch.randn(50, 2, generator=g)
    assert torch.allclose(lipschitz.interpolate_norms(linear, x, y, generator=g), torch.full((50,), 2.0))
    assert all(p.grad is None for p in linear.parameters())


def test_interpolate_norms_draws_eps_from_the_generator_it_is_given():
    torch.manual_seed(0)
    critic = nets.critic(2, width=16, depth=2)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(30, 2, generator=g), torch.randn(30, 2, generator=g) + 2
    drawn = lipschitz.interpolate_norms(critic, x, y, generator=torch.Generator().manual_seed(7))
    eps = torch.rand(30, 1, generator=torch.Generator().manual_seed(7))
    assert torch.equal(drawn, lipschitz.interpolate_norms(critic, x, y, eps=eps))
    other = lipschitz.interpolate_norms(critic, x, y, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(drawn, other)


def test_interpolate_norms_rejects_bad_input():
    f = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="same shape"):
        lipschitz.interpolate_norms(f, torch.randn(4, 2), torch.randn(5, 2))
    with pytest.raises(ValueError, match="eps must have shape"):
        lipschitz.interpolate_norms(f, torch.randn(4, 2), torch.randn(4, 2), eps=torch.rand(4))
    with pytest.raises(ValueError, match="real must be"):
        lipschitz.interpolate_norms(f, torch.randn(4), torch.randn(4, 2))


# ---- initial_critic -------------------------------------------------------------------------------------

def test_fit_critic_starts_from_initial_critic():
    p, q = _shift()
    kw = dict(width=16, depth=2, steps=10, lr=1e-3, eval_samples=100, seed=3, device="cpu")
    plain = lipschitz.fit_critic(p, q, constraint="clip", clip=0.05, **kw)
    start = lipschitz.initial_critic(2, width=16, depth=2, seed=3)
    given = lipschitz.fit_critic(p, q, constraint="clip", clip=0.05, critic=start, **kw)
    assert given.curve == plain.curve
    a = lipschitz.initial_critic(2, width=16, depth=2, seed=3)
    b = lipschitz.initial_critic(2, width=16, depth=2, seed=4)
    assert not torch.equal(a.net[0].weight, b.net[0].weight)


def test_initial_critic_moves_with_the_seed_offset(monkeypatch):
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", "0")
    base = lipschitz.initial_critic(2, width=8, depth=1, seed=1000)
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", "1000")
    shifted = lipschitz.initial_critic(2, width=8, depth=1, seed=0)
    moved = lipschitz.initial_critic(2, width=8, depth=1, seed=1000)
    assert torch.equal(base.net[0].weight, shifted.net[0].weight)
    assert not torch.equal(base.net[0].weight, moved.net[0].weight)
    with pytest.raises(ValueError, match="width"):
        lipschitz.initial_critic(2, width=0)
