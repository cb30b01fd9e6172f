"""gan_lab.nets: the MLPs, and the custom ReLU that must be numerically identical to nn.ReLU."""
import copy
import re

import numpy as np

import pytest
import torch
from torch import nn

from gan_lab import losses, nets


def _with_torch_relu(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (same weights) whose nets.ReLU layers are torch.nn.ReLU."""
    twin = copy.deepcopy(model)
    for i, layer in enumerate(twin.net):
        if isinstance(layer, nets.ReLU):
            twin.net[i] = nn.ReLU()
    return twin


def _grads(outputs, params, **kw):
    """Gradients of ``outputs``; a tensor that does not reach them gets zeros (not an error)."""
    return torch.autograd.grad(outputs, params, allow_unused=True, materialize_grads=True, **kw)


def test_relu_forward_and_gradient_equal_torch_relu_including_at_zero():
    x = torch.tensor([-2.0, -0.0, 0.0, 1e-30, 3.0], requires_grad=True)
    y = nets.ReLU()(x)
    (g,) = _grads((y * torch.arange(1.0, 6.0)).sum(), [x])
    x2 = x.detach().clone().requires_grad_(True)
    y2 = nn.ReLU()(x2)
    (g2,) = _grads((y2 * torch.arange(1.0, 6.0)).sum(), [x2])
    assert torch.equal(y, y2) and torch.equal(g, g2)
    assert g.tolist() == [0.0, 0.0, 0.0, 4.0, 5.0]


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_custom_relu_mlp_gives_torch_relu_outputs_and_parameter_gradients(depth):
    torch.manual_seed(depth)
    ours = nets.critic(2, width=32, depth=depth)
    theirs = _with_torch_relu(ours)
    x = torch.randn(64, 2) * 2
    out, out2 = ours(x), theirs(x)
    assert torch.equal(out, out2)
    g = _grads(out.pow(2).mean(), list(ours.parameters()))
    g2 = _grads(out2.pow(2).mean(), list(theirs.parameters()))
    for a, b in zip(g, g2):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_custom_relu_gives_torch_relu_gradient_penalty_gradients_under_double_backward(depth):
    torch.manual_seed(10 + depth)
    ours = nets.critic(2, width=32, depth=depth)
    theirs = _with_torch_relu(ours)
    real, fake = torch.randn(128, 2), torch.randn(128, 2) * 0.5 + 1
    gp = losses.gradient_penalty(ours, real, fake, generator=torch.Generator().manual_seed(0))
    gp2 = losses.gradient_penalty(theirs, real, fake, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gp, gp2, atol=1e-6, rtol=1e-6)
    g = _grads(gp, list(ours.parameters()))
    g2 = _grads(gp2, list(theirs.parameters()))
    assert any(a.abs().max() > 0 for a in g)
    for a, b in zip(g, g2):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("depth", [1, 3])
def test_custom_relu_input_hessian_vector_products_equal_torch_relu(depth):
    """Second derivatives w.r.t. the input (not only the weights) must match too."""
    torch.manual_seed(20 + depth)
    ours = nets.critic(2, width=16, depth=depth).double()
    theirs = _with_torch_relu(ours)
    x = torch.randn(32, 2, dtype=torch.float64)
    results = []
    for model in (ours, theirs):
        xi = x.clone().requires_grad_(True)
        (gx,) = _grads(model(xi).sum(), [xi], create_graph=True)
        loss = (gx.norm(dim=1) - 1).pow(2).sum()
        results.append(_grads(loss, [xi] + list(model.parameters())))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_a_penalty_only_backward_leaves_exactly_the_hidden_biases_without_grad():
    """Documented difference from nn.ReLU: the hidden biases do not enter grad_x f, so a penalty-only
    backward gives them ``grad=None`` (torch's ReLU gives zeros); every weight and the output bias get a
    gradient, equal to torch's."""
    torch.manual_seed(0)
    ours = nets.critic(2, width=8, depth=2)
    theirs = _with_torch_relu(ours)
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    for model in (ours, theirs):
        losses.gradient_penalty(model, real, fake, generator=torch.Generator().manual_seed(0)).backward()
    hidden_biases = {"net.0.bias", "net.2.bias"}
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        if name in hidden_biases:
            assert p.grad is None, name
            assert torch.count_nonzero(q.grad) == 0, name
        else:
            torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_custom_relu_passes_gradcheck_and_gradgradcheck():
    x = (torch.randn(20, dtype=torch.float64) + 0.05).requires_grad_(True)   # away from the kink
    x = x.detach().masked_fill(x.detach().abs() < 1e-3, 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(nets.ReLU(), (x,))
    assert torch.autograd.gradgradcheck(nets.ReLU(), (x,))


# ---- MLPs --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("width, depth, activation", [(8, 0, "relu"), (16, 1, "tanh"), (32, 3, "leaky_relu"),
                                                      (4, 2, "elu")])
def test_mlp_has_depth_hidden_layers_of_width_with_the_chosen_activation(width, depth, activation):
    m = nets.MLP(3, 5, width=width, depth=depth, activation=activation)
    linears = [layer for layer in m.net if isinstance(layer, nn.Linear)]
    assert len(linears) == depth + 1
    assert [lin.out_features for lin in linears] == [width] * depth + [5]
    assert linears[0].in_features == 3
    acts = [layer for layer in m.net if not isinstance(layer, nn.Linear)]
    assert len(acts) == depth
    assert all(type(a) is type(nets.ACTIVATIONS[activation]()) for a in acts)
    assert m(torch.randn(7, 3)).shape == (7, 5)


def test_relu_mlps_use_the_custom_relu():
    assert any(isinstance(layer, nets.ReLU) for layer in nets.critic(width=8).net)


def test_toy_nets_default_to_the_wgan_gp_papers_3_layers_of_512():
    m = nets.critic()
    linears = [layer for layer in m.net if isinstance(layer, nn.Linear)]
    assert [lin.out_features for lin in linears] == [512, 512, 512, 1]


@pytest.mark.parametrize("make, x_dim, out_dim", [
    (lambda: nets.generator(2, 3, width=8), 3, 2),
    (lambda: nets.generator(1, 1, width=8), 1, 1),
    (lambda: nets.discriminator(2, width=8), 2, 1),
    (lambda: nets.discriminator(1, width=8), 1, 1),
    (lambda: nets.critic(2, width=8), 2, 1),
])
def test_generator_discriminator_and_critic_shapes(make, x_dim, out_dim):
    m = make()
    y = m(torch.randn(11, x_dim))
    assert y.shape == (11, out_dim) and y.dtype == torch.float32
    assert (m.in_dim, m.out_dim) == (x_dim, out_dim)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(width=0), "width.*got 0"),
    (dict(width=-3), "width.*got -3"),
    (dict(width=2.5), "width.*got 2.5"),
    (dict(depth=-1), "depth.*got -1"),
    (dict(in_dim=0), "in_dim.*got 0"),
    (dict(out_dim=True), "out_dim.*got True"),
    (dict(activation="gelu"), "'gelu'"),
])
def test_mlp_rejects_bad_sizes_and_activations_naming_them(kwargs, pattern):
    args = dict(in_dim=2, out_dim=1, width=8, depth=2, activation="relu")
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        nets.MLP(args.pop("in_dim"), args.pop("out_dim"), **args)


@pytest.mark.parametrize("kwargs, message", [
    (dict(width=0), "width must be an integer >= 1, got 0"),
    (dict(depth=-1), "depth must be an integer >= 0, got -1"),
    (dict(depth=1.0), "depth must be an integer >= 0, got 1.0"),
    (dict(in_dim=True), "in_dim must be an integer >= 1, got True"),
    (dict(activation="gelu"), f"unknown activation 'gelu'; use one of {tuple(nets.ACTIVATIONS)}"),
    (dict(activation=None), f"unknown activation None; use one of {tuple(nets.ACTIVATIONS)}"),
    (dict(spectral_norm=np.True_), "spectral_norm must be True or False, got np.True_"),
])
def test_mlp_messages_name_the_argument_and_show_the_value(kwargs, message):
    args = dict(dict(in_dim=2, out_dim=1, width=8, depth=2), **kwargs)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        nets.MLP(args.pop("in_dim"), args.pop("out_dim"), **args)


def test_numpy_integer_sizes_build_the_network_python_ints_build():
    torch.manual_seed(0)
    a = nets.MLP(np.int64(3), np.int32(2), width=np.int64(8), depth=np.int64(2))
    torch.manual_seed(0)
    b = nets.MLP(3, 2, width=8, depth=2)
    assert all(type(v) is int for v in (a.in_dim, a.out_dim, a.width, a.depth))
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    nets.StackedMLP([a, b])                       # the same shape: they stack


def test_parallel_lines_generator_puts_theta_first_and_a_uniform_second():
    g = nets.ParallelLines(theta=0.7)
    z = torch.randn(20_000, 1, generator=torch.Generator().manual_seed(0))
    x = g(z)
    assert torch.all(x[:, 0] == 0.7)
    u = x[:, 1]
    assert 0 <= u.min() and u.max() <= 1
    # U[0, 1] has mean 1/2 and variance 1/12; the sample's standard error is ~0.002.
    assert abs(u.mean().item() - 0.5) < 0.01 and abs(u.var().item() - 1 / 12) < 0.005


def test_parallel_lines_generator_has_one_parameter_with_gradient_from_the_first_coordinate():
    g = nets.ParallelLines(theta=-0.3)
    assert [p.numel() for p in g.parameters()] == [1]
    g(torch.randn(8, 1))[:, 0].sum().backward()
    assert g.theta.grad.item() == 8.0


def test_parallel_lines_generator_rejects_noise_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        nets.ParallelLines()(torch.randn(4, 2))


# ---- StackedMLP -----------------------------------------------------------------------------------------
def _mlps(k, **kw):
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(nets.MLP(3, 2, **kw))
    return out


def test_stacked_mlp_slice_k_computes_network_k():
    mlps = _mlps(4, width=16, depth=2)
    stack = nets.StackedMLP(mlps)
    x = torch.randn(4, 10, 3)
    y = stack(x)
    assert y.shape == (4, 10, 2)
    for k, m in enumerate(mlps):
        torch.testing.assert_close(y[k], m(x[k]), atol=1e-6, rtol=0)


def test_stacked_mlp_unstack_round_trips_the_weights_exactly():
    mlps = _mlps(3, width=8, depth=1, activation="tanh")
    back = nets.StackedMLP(mlps).unstack()
    assert [b.activation for b in back] == ["tanh"] * 3
    for m, b in zip(mlps, back):
        for p, q in zip(m.parameters(), b.parameters()):
            assert torch.equal(p, q)


def test_stacked_mlp_gradients_of_a_sum_are_each_networks_own():
    mlps = _mlps(2, width=8, depth=2)
    stack = nets.StackedMLP(mlps)
    x = torch.randn(2, 5, 3)
    stack(x).pow(2).sum().backward()
    for k, m in enumerate(mlps):
        m(x[k]).pow(2).sum().backward()
        torch.testing.assert_close(stack.weights[0].grad[k], m.net[0].weight.grad, atol=1e-5, rtol=0)


def test_stacked_mlp_rejects_mixed_shapes_and_wrong_inputs():
    with pytest.raises(ValueError, match="share"):
        nets.StackedMLP([nets.MLP(3, 2, width=8), nets.MLP(3, 2, width=9)])
    with pytest.raises(ValueError, match="non-empty"):
        nets.StackedMLP([])
    with pytest.raises(ValueError, match=r"\(2, n, 3\).*\(3, 5, 3\)"):
        nets.StackedMLP(_mlps(2, width=4))(torch.randn(3, 5, 3))


# ---- spectral normalisation (SN-GAN) --------------------------------------------------------------------
from gan_lab import spectral  # noqa: E402


def _linears(model):
    return [layer for layer in model.net if isinstance(layer, nn.Linear)]


@pytest.mark.parametrize("make", [
    lambda **kw: nets.critic(2, width=16, depth=3, **kw),
    lambda **kw: nets.discriminator(2, width=16, depth=2, **kw),
    lambda **kw: nets.MLP(3, 2, width=8, depth=1, activation="tanh", **kw),
], ids=["critic", "discriminator", "mlp"])
def test_spectral_norm_false_leaves_the_networks_bit_identical(make):
    torch.manual_seed(5)
    plain = make()
    after_plain = torch.get_rng_state()
    torch.manual_seed(5)
    flagged = make(spectral_norm=False)
    assert torch.equal(torch.get_rng_state(), after_plain)
    assert list(plain.state_dict()) == list(flagged.state_dict())
    assert all(torch.equal(p, q) for p, q in zip(plain.state_dict().values(), flagged.state_dict().values()))
    assert all(type(layer) is nn.Linear for layer in _linears(flagged))


def test_spectral_norm_true_draws_the_same_weights_and_nothing_more_from_the_global_generator():
    torch.manual_seed(6)
    plain = nets.critic(2, width=16, depth=3)
    after_plain = torch.get_rng_state()
    torch.manual_seed(6)
    sn = nets.critic(2, width=16, depth=3, spectral_norm=True)
    assert torch.equal(torch.get_rng_state(), after_plain)
    params = dict(sn.named_parameters())
    assert list(params) == [name for name, _ in plain.named_parameters()]
    assert all(torch.equal(params[name], p) for name, p in plain.named_parameters())
    assert all(isinstance(layer, nets.SpectralNormLinear) for layer in _linears(sn))
    assert any(isinstance(layer, nets.ReLU) for layer in sn.net)      # the custom ReLU path is kept


def test_a_spectrally_normalised_layer_computes_w_over_the_power_iteration_sigma():
    torch.manual_seed(7)
    layer = nets.SpectralNormLinear(5, 4, seed=2)
    u0 = layer.spectral_norm.u.clone()
    x = torch.randn(10, 5)
    sigma, _, _ = spectral.power_iteration(layer.weight, u0, 1)
    torch.testing.assert_close(layer(x), x @ (layer.weight / sigma).T + layer.bias, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(layer.normalised_weight(), layer.weight / sigma, rtol=1e-6, atol=1e-7)


def test_every_layer_of_an_sn_mlp_has_unit_largest_singular_value_after_enough_passes():
    torch.manual_seed(8)
    f = nets.critic(2, width=32, depth=3, spectral_norm=True)
    with torch.no_grad():             # raw weights far from unit norm: the normalisation must do the work
        for i, layer in enumerate(_linears(f)):
            layer.weight.mul_(3.0 + i)
    x = torch.randn(16, 2)
    raw = [spectral.largest_singular_value(layer.weight.detach()).item() for layer in _linears(f)]
    assert all(s > 2 for s in raw)
    for _ in range(300):
        f(x)
    normalised = [spectral.largest_singular_value(layer.normalised_weight().detach().double()).item()
                  for layer in _linears(f)]
    assert normalised == pytest.approx([1.0] * len(normalised), abs=1e-3)


def test_an_sn_critic_is_at_most_1_lipschitz_once_sigma_has_converged():
    torch.manual_seed(9)
    f = nets.critic(2, width=32, depth=3, spectral_norm=True)
    for _ in range(300):
        f(torch.zeros(1, 2))
    f.eval()
    x = (torch.randn(512, 2) * 3).requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    assert grad.norm(dim=1).max().item() <= 1.0 + 1e-3
    torch.manual_seed(9)
    plain = nets.critic(2, width=32, depth=3)
    (grad_plain,) = torch.autograd.grad(plain(x).sum(), x)
    assert not torch.allclose(grad, grad_plain)


def test_eval_mode_and_check_fits_leave_u_and_v_unchanged():
    torch.manual_seed(10)
    f = nets.critic(2, width=8, depth=2, spectral_norm=True)
    f(torch.randn(4, 2))
    before = {k: v.clone() for k, v in f.state_dict().items()}
    nets.check_fits("critic", f, 2, [(2, 1)], torch.device("cpu"))
    f.eval()
    f(torch.randn(4, 2))
    assert all(torch.equal(before[k], v) for k, v in f.state_dict().items())
    f.train()
    f(torch.randn(4, 2))
    assert not torch.equal(before["net.0.spectral_norm.u"], f.state_dict()["net.0.spectral_norm.u"])


def test_sn_critics_are_deterministic_under_seeds():
    def run(seed):
        torch.manual_seed(seed)
        f = nets.critic(2, width=16, depth=2, spectral_norm=True)
        x = torch.randn(32, 2, generator=torch.Generator().manual_seed(0))
        outs = [f(x) for _ in range(5)]
        return torch.cat(outs), f.state_dict()

    (a, sa), (b, sb), (c, _) = run(1), run(1), run(2)
    assert torch.equal(a, b) and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(a, c)


def test_sn_critic_custom_relu_gives_torch_relu_penalty_gradients():
    torch.manual_seed(11)
    ours = nets.critic(2, width=16, depth=2, spectral_norm=True)
    theirs = _with_torch_relu(ours)
    real, fake = torch.randn(64, 2), torch.randn(64, 2) + 1
    g = []
    for model in (ours, theirs):
        loss = losses.critic_loss(model(real), model(fake)) + 10 * losses.gradient_penalty(
            model, real, fake, generator=torch.Generator().manual_seed(0))
        g.append(_grads(loss, list(model.parameters())))
    assert all(torch.isfinite(a).all() for a in g[0]) and any(a.abs().max() > 0 for a in g[0])
    for a, b in zip(*g):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def _sn_mlps(k, **kw):
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(nets.MLP(3, 1, spectral_norm=True, **kw))
    return out


def test_stacked_sn_mlp_equals_k_separate_sn_mlps_over_training_steps():
    """Forward outputs, gradients, u and v of the stack against K separate networks, over three Adam steps
    (each step: one critic pass on two batches, like the loop's generator and critic passes)."""
    mlps = _sn_mlps(3, width=16, depth=2)
    twins = [copy.deepcopy(m) for m in mlps]
    stack = nets.StackedMLP(twins)
    opt_s = torch.optim.Adam(stack.parameters(), lr=1e-2)
    opts = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in mlps]
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        x, y = torch.randn(3, 20, 3, generator=g), torch.randn(3, 20, 3, generator=g)
        out_x, out_y = stack(x), stack(y)
        opt_s.zero_grad()
        (out_x.mean(dim=(1, 2)) - out_y.pow(2).mean(dim=(1, 2))).sum().backward()
        for k, (m, opt) in enumerate(zip(mlps, opts)):
            mx, my = m(x[k]), m(y[k])
            torch.testing.assert_close(out_x[k], mx, atol=1e-6, rtol=0)
            torch.testing.assert_close(out_y[k], my, atol=1e-6, rtol=0)
            opt.zero_grad()
            (mx.mean() - my.pow(2).mean()).backward()
            for i, layer in enumerate(_linears(m)):
                torch.testing.assert_close(stack.weights[i].grad[k], layer.weight.grad, atol=1e-6, rtol=0)
                torch.testing.assert_close(stack.biases[i].grad[k], layer.bias.grad, atol=1e-6, rtol=0)
                torch.testing.assert_close(stack.spectral_norms[i].u[k], layer.spectral_norm.u, atol=1e-6, rtol=0)
                torch.testing.assert_close(stack.spectral_norms[i].v[k], layer.spectral_norm.v, atol=1e-6, rtol=0)
        opt_s.step()
        for opt in opts:
            opt.step()


def test_stacked_sn_mlp_gives_the_separate_networks_u_v_and_gradients_for_a_critic_and_penalty_step():
    """The stack's power iteration and sigma gradients are those of the separate networks, to float32 rounding.
    Not bit for bit: the stack's layers are batched products (bmm) where a network's are matrix products, and
    a CPU's kernels may sum those in other orders (stop 22's CI CPU differed in the last bit of one gradient).
    A wrong u or v, a power iteration that mixes the networks, or a missing sigma gradient is off by orders
    more than 1e-5 relative."""
    mlps = _sn_mlps(3, width=32, depth=3)
    stack = nets.StackedMLP([copy.deepcopy(m) for m in mlps])
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(3, 16, 3, generator=g), torch.randn(3, 16, 3, generator=g)
    eps = torch.rand(3 * 16, 1, generator=g)
    flat = lambda z: stack(z.view(3, 16, 3)).view(3 * 16, -1)  # noqa: E731
    scores = stack(torch.cat([real, fake], dim=1))
    penalty = losses.gradient_penalty(flat, real.view(-1, 3), fake.view(-1, 3), eps=eps, reduction="none")
    critic = torch.stack([losses.critic_loss(s[:16], s[16:]) for s in scores])
    (critic + 10 * penalty.view(3, 16).mean(1)).sum().backward()
    close = dict(rtol=1e-5, atol=1e-7)
    for k, m in enumerate(mlps):
        s = m(torch.cat([real[k], fake[k]]))
        (losses.critic_loss(s[:16], s[16:]) + 10 * losses.gradient_penalty(m, real[k], fake[k],
                                                                          eps=eps.view(3, 16, 1)[k])).backward()
        for i, layer in enumerate(_linears(m)):
            torch.testing.assert_close(stack.spectral_norms[i].u[k], layer.spectral_norm.u, **close)
            torch.testing.assert_close(stack.spectral_norms[i].v[k], layer.spectral_norm.v, **close)
            torch.testing.assert_close(stack.weights[i].grad[k], layer.weight.grad, **close,
                                       msg=lambda t: f"network {k}, layer {i}: {t}")
            assert layer.weight.grad.abs().max() > 1e-3       # a gradient to compare, not zeros against zeros


def test_stacked_sn_mlp_stacks_and_unstacks_u_and_v_exactly():
    mlps = _sn_mlps(2, width=8, depth=1)
    for i, m in enumerate(mlps):      # move each network's u, v away from their (shared) starting values
        for _ in range(i + 1):
            m(torch.randn(4, 3))
    stack = nets.StackedMLP(mlps)
    assert stack.spectral_norm and [n.u.shape for n in stack.spectral_norms] == [(2, 8), (2, 1)]
    back = stack.unstack()
    assert all(b.spectral_norm for b in back)
    for m, b in zip(mlps, back):
        assert list(m.state_dict()) == list(b.state_dict())
        assert all(torch.equal(v, b.state_dict()[k]) for k, v in m.state_dict().items())
    assert not torch.equal(mlps[0].net[0].spectral_norm.u, mlps[1].net[0].spectral_norm.u)


def test_stacked_mlp_refuses_to_mix_sn_and_plain_networks():
    with pytest.raises(ValueError, match="spectral_norm"):
        nets.StackedMLP([nets.MLP(3, 2, width=8), nets.MLP(3, 2, width=8, spectral_norm=True)])


def test_stacked_plain_mlp_has_no_spectral_norms():
    stack = nets.StackedMLP(_mlps(2, width=8, depth=1))
    assert not stack.spectral_norm and not hasattr(stack, "spectral_norms")
    assert not any("spectral" in k for k in stack.state_dict())


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_mlp_rejects_a_non_bool_spectral_norm_naming_it(bad):
    with pytest.raises(ValueError, match=f"spectral_norm.*got {bad!r}"):
        nets.critic(2, width=8, spectral_norm=bad)
