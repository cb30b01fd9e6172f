"""gan_lab.style: AdaIN's closed forms, the mapping network's sphere, the style generator's shapes, range,
noise modes and determinism, style mixing's two ends, mixing regularisation redone by hand, gradients to
every parameter, and one WGAN-GP step against a convnets critic."""
import copy

import pytest
import torch

from gan_lab import convnets, data, losses
from gan_lab.style import (NOISE_MODES, SIZES, MappingNetwork, StyleGenerator, adain, mixing_attribute_transfer,
                           style_mixing)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _small(size=16, seed=0, **kwargs):
    torch.manual_seed(seed)
    return StyleGenerator(8, size=size, width=6, style_dim=10, mapping_depth=2, **kwargs)


def _noisy(G):
    """G with nonzero noise weights (they start at 0, where the noise has no effect)."""
    with torch.no_grad():
        for layer in G.layers:
            layer.noise_weight.fill_(0.5)
    return G


# ---- AdaIN ------------------------------------------------------------------------------------------------

def test_adain_on_a_hand_example():
    # one sample, two channels of 2 x 2: channel 0 = [1, 2, 3, 4] (mean 2.5, var 1.25), channel 1 constant 7
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[7.0, 7.0], [7.0, 7.0]]]], dtype=torch.float64)
    scale = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    bias = torch.tensor([[-1.0, 5.0]], dtype=torch.float64)
    out = adain(x, scale, bias, eps=1e-5)
    expected0 = 2.0 * (torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64) - 2.5) / (1.25 + 1e-5) ** 0.5 - 1.0
    torch.testing.assert_close(out[0, 0], expected0, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out[0, 1], torch.full((2, 2), 5.0, dtype=torch.float64))   # var 0: the bias
    assert out.dtype == torch.float64


def test_adain_output_has_the_styles_mean_and_std():
    g = _gen(1)
    x = torch.randn(5, 4, 8, 8, generator=g) * 3 + 2
    scale, bias = torch.rand(5, 4, generator=g) * 2 + 0.1, torch.randn(5, 4, generator=g)
    out = adain(x, scale, bias)
    torch.testing.assert_close(out.mean(dim=(2, 3)), bias, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(dim=(2, 3), unbiased=False), scale, atol=1e-4, rtol=1e-4)


def test_adain_forgets_the_input_maps_own_mean_and_scale():
    g = _gen(2)
    x = torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64)
    scale = torch.randn(3, 2, generator=g, dtype=torch.float64)
    bias = torch.randn(3, 2, generator=g, dtype=torch.float64)
    a = torch.rand(3, 2, 1, 1, generator=g, dtype=torch.float64) + 0.5    # per map: positive scale, any shift
    b = torch.randn(3, 2, 1, 1, generator=g, dtype=torch.float64)
    torch.testing.assert_close(adain(a * x + b, scale, bias, eps=1e-12), adain(x, scale, bias, eps=1e-12))


def test_adain_keeps_float32_and_the_shape():
    x = torch.randn(2, 3, 5, 7, generator=_gen(3))
    out = adain(x, torch.ones(2, 3), torch.zeros(2, 3))
    assert out.shape == x.shape and out.dtype == torch.float32


@pytest.mark.parametrize("x, scale, bias, eps, message", [
    (torch.zeros(2, 3, 4), torch.ones(2, 3), torch.zeros(2, 3), 1e-5, "x must be a 4-D"),
    (torch.zeros(2, 3, 4, 4, dtype=torch.int64), torch.ones(2, 3), torch.zeros(2, 3), 1e-5, "x must be a 4-D"),
    (torch.zeros(2, 3, 4, 4), torch.ones(2, 4), torch.zeros(2, 3), 1e-5, r"style_scale must have shape \(n, C\)"),
    (torch.zeros(2, 3, 4, 4), torch.ones(2, 3), torch.zeros(1, 3), 1e-5, r"style_bias must have shape \(n, C\)"),
    (torch.zeros(2, 3, 4, 4), torch.ones(3), torch.zeros(2, 3), 1e-5, "style_scale must be a 2-D"),
    (torch.zeros(2, 3, 4, 4), torch.ones(2, 3), torch.zeros(2, 3), 0.0, "eps must be a positive"),
    ("x", torch.ones(2, 3), torch.zeros(2, 3), 1e-5, "got str"),
])
def test_adain_refuses_bad_input(x, scale, bias, eps, message):
    with pytest.raises(ValueError, match=message):
        adain(x, scale, bias, eps)


# ---- mapping network --------------------------------------------------------------------------------------

def test_mapping_network_sees_only_the_direction_of_z():
    torch.manual_seed(0)
    f = MappingNetwork(6, 5, 3)
    z = torch.randn(4, 6, generator=_gen(4), dtype=torch.float64)
    f = f.double()
    w = f(z)
    assert w.shape == (4, 5)
    torch.testing.assert_close(f(7.5 * z), w)                 # z and c z (c > 0) lie on one ray
    unit = z / z.norm(dim=1, keepdim=True) * 6 ** 0.5          # the point on the sphere of radius sqrt(6)
    torch.testing.assert_close(f.net(unit), w)
    assert sum(isinstance(m, torch.nn.Linear) for m in f.modules()) == 3


def test_mapping_network_refuses_bad_arguments():
    with pytest.raises(ValueError, match="depth must be an integer >= 1, got 0"):
        MappingNetwork(4, 4, 0)
    with pytest.raises(ValueError, match=r"takes z of shape \(n, 4\), got \(2, 3\)"):
        MappingNetwork(4, 4, 1)(torch.zeros(2, 3))


# ---- the generator: shapes, range, construction -----------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
def test_generator_maps_noise_to_images_in_the_tanh_range(size):
    G = _small(size)
    z = torch.randn(3, 8, generator=_gen(5)) * 3
    for mode in NOISE_MODES:
        x = G(z, noise=mode)
        assert x.shape == (3, 3, size, size)
        assert x.min() >= -1 and x.max() <= 1 and x.std() > 0
    assert G.n_styles == {16: 6, 32: 8, 64: 10}[size] == len(G.layer_resolutions)
    assert G.layer_resolutions[-1] == size and G.layer_resolutions[:2] == (4, 4)


def test_generator_is_built_like_the_convnets_generators():
    torch.manual_seed(0)
    G = StyleGenerator(12, size=32, width=5)             # as images.build_networks would call it
    assert (G.noise_dim, G.size, G.width) == (12, 32, 5)
    torch.manual_seed(0)
    same = StyleGenerator(12, 32, 5)                     # convnets.Generator's positional order
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), same.state_dict().values())
               if isinstance(a, torch.Tensor))
    assert G(torch.randn(2, 12)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=48), r"size must be one of \(16, 32, 64\), got 48"),
    (dict(size=32.0), r"size must be one of \(16, 32, 64\), got 32.0"),
    (dict(width=0), "width must be an integer >= 1, got 0"),
    (dict(noise_dim=True), "noise_dim must be an integer >= 1, got True"),
    (dict(style_dim=0), "style_dim must be an integer >= 1, got 0"),
    (dict(mapping_depth=0), "mapping_depth must be an integer >= 1, got 0"),
    (dict(mixing_prob=1.5), r"mixing_prob must be a probability in \[0, 1\], got 1.5"),
    (dict(mixing_prob=-0.1), "mixing_prob must be a finite number >= 0.0, got -0.1"),
    (dict(noise_seed=-1), "noise_seed must be an integer >= 0, got -1"),
])
def test_generator_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StyleGenerator(**{"noise_dim": 4, "size": 16, "width": 4, **kwargs})


def test_forward_refuses_bad_calls():
    G = _small()
    with pytest.raises(ValueError, match="either z or styles"):
        G(torch.zeros(2, 8), styles=G.styles(torch.zeros(2, 8)))
    with pytest.raises(ValueError, match="either z or styles"):
        G()
    with pytest.raises(ValueError, match=r"noise of shape \(n, 8\), got \(2, 7\)"):
        G(torch.zeros(2, 7))
    with pytest.raises(ValueError, match=r"styles must have shape \(n, n_styles, style_dim\) = \(n, 6, 10\)"):
        G(styles=torch.zeros(2, 5, 10))
    with pytest.raises(ValueError, match="unknown noise 'off'"):
        G(torch.zeros(2, 8), noise="off")
    with pytest.raises(ValueError, match="rng must be a torch.Generator or None, got int"):
        G(torch.zeros(2, 8), rng=3)


# ---- determinism and noise --------------------------------------------------------------------------------

def test_seeded_builds_are_identical_and_other_seeds_differ():
    a, b, c = _small(seed=3), _small(seed=3), _small(seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert a.noise_seed == b.noise_seed != c.noise_seed
    for key, value in sa.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, sb[key]), key
    assert not torch.equal(sa["const"], sc["const"])
    z = torch.randn(4, 8, generator=_gen(6))
    _noisy(a), _noisy(b)
    assert torch.equal(a(z), b(z))                 # training mode: the own noise stream and mixing, seeded too


def test_without_noise_the_same_z_gives_the_same_image():
    G = _noisy(_small(mixing_prob=0.0))
    z = torch.randn(4, 8, generator=_gen(7))
    assert torch.equal(G(z, noise="none"), G(z, noise="none"))
    assert torch.equal(G(z, noise="const"), G(z, noise="const"))
    assert not torch.equal(G(z), G(z))             # training mode: fresh noise at every call
    G.eval()
    assert torch.equal(G(z), G(z))                 # eval mode: the fixed noise maps
    assert torch.equal(G(z), G(z, noise="const"))
    assert not torch.equal(G(z, noise="const"), G(z, noise="none"))


def test_random_noise_from_an_explicit_generator_is_reproducible():
    G = _noisy(_small(mixing_prob=0.0))
    z = torch.randn(3, 8, generator=_gen(8))
    one, again, other = G(z, rng=_gen(1)), G(z, rng=_gen(1)), G(z, rng=_gen(2))
    assert torch.equal(one, again) and not torch.equal(one, other)
    # the noise weights at 0 (as built) take the noise out entirely
    with torch.no_grad():
        for layer in G.layers:
            layer.noise_weight.zero_()
    assert torch.equal(G(z, rng=_gen(1)), G(z, noise="none"))


def test_an_eval_snapshot_leaves_the_training_noise_stream_alone():
    a, b = _noisy(_small(seed=5)), _noisy(_small(seed=5))
    z = torch.randn(3, 8, generator=_gen(9))
    a.eval()
    a(z)                                           # a snapshot, as images.train_images takes them
    a.train()
    assert torch.equal(a(z), b(z))


def test_the_noise_stream_travels_with_the_state_dict():
    a = _noisy(_small(seed=6))
    z = torch.randn(3, 8, generator=_gen(10))
    a(z)
    saved = copy.deepcopy(a.state_dict())
    expected = a(z)                                # the next training-mode draw
    b = _small(seed=7)                             # another build, another stream ...
    b.load_state_dict(saved)                       # ... resumed where a's stood
    assert torch.equal(b(z), expected)


# ---- style mixing -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("noise", ["none", "const"])
def test_style_mixing_ends_are_the_two_sources(noise):
    G = _noisy(_small(size=32)).eval()
    z1, z2 = torch.randn(4, 8, generator=_gen(11)), torch.randn(4, 8, generator=_gen(12))
    assert torch.equal(style_mixing(G, z1, z2, 0, noise=noise), G(z2, noise=noise))
    assert torch.equal(style_mixing(G, z1, z2, G.n_styles, noise=noise), G(z1, noise=noise))
    middle = G.mix(z1, z2, G.n_styles // 2, noise=noise)
    assert not torch.allclose(middle, G(z1, noise=noise)) and not torch.allclose(middle, G(z2, noise=noise))
    # given its styles, a training-mode generator does no mixing regularisation of its own
    assert torch.equal(style_mixing(G.train(), z1, z2, 0, noise=noise), style_mixing(G.eval(), z1, z2, 0, noise=noise))


def test_style_mixing_uses_w1_below_the_crossover_and_w2_from_it():
    G = _small().eval()
    z1, z2 = torch.randn(2, 8, generator=_gen(13)), torch.randn(2, 8, generator=_gen(14))
    w1, w2 = G.mapping(z1), G.mapping(z2)
    k = 2
    by_hand = torch.stack([w1] * k + [w2] * (G.n_styles - k), dim=1)
    assert torch.equal(style_mixing(G, z1, z2, k), G(styles=by_hand))
    # a planted wrong split (w2 below, w1 from k) gives another image
    assert not torch.equal(style_mixing(G, z1, z2, k), G(styles=by_hand.flip(1)))


def test_style_mixing_refuses_bad_arguments():
    G = _small()
    z = torch.zeros(2, 8)
    with pytest.raises(ValueError, match=r"crossover_layer must be in \[0, n_styles\] = \[0, 6\], got 7"):
        style_mixing(G, z, z, 7)
    with pytest.raises(ValueError, match="crossover_layer must be an integer >= 0, got -1"):
        style_mixing(G, z, z, -1)
    with pytest.raises(ValueError, match="z1 and z2 must have the same shape"):
        style_mixing(G, z, torch.zeros(3, 8), 1)
    with pytest.raises(ValueError, match=r"z2 must have shape \(n, 8\)"):
        style_mixing(G, z, torch.zeros(2, 4), 1)
    with pytest.raises(ValueError, match="generator must be a StyleGenerator, got Generator"):
        style_mixing(convnets.Generator(8, 16, 4), z, z, 1)


def test_mixing_regularisation_is_style_mixing_at_the_drawn_crossovers():
    G = _small(mixing_prob=1.0)
    z = torch.randn(5, 8, generator=_gen(15))
    got = G(z, noise="none", rng=_gen(3))
    g = _gen(3)                                    # the draws in forward's order: mix?, crossover, z2
    assert bool((torch.rand(5, generator=g) < 1.0).all())
    crossover = torch.randint(1, G.n_styles, (5,), generator=g)
    z2 = torch.randn(5, 8, generator=g)
    by_hand = torch.cat([style_mixing(G, z[i:i + 1], z2[i:i + 1], int(crossover[i]), noise="none")
                         for i in range(5)])
    torch.testing.assert_close(got, by_hand)
    assert not torch.allclose(got, G.eval()(z, noise="none"))       # eval mode: no mixing
    assert torch.equal(_small(mixing_prob=0.0)(z, noise="none"), G(z, noise="none"))


def test_mixing_attribute_transfer_ends_and_counts():
    G = _noisy(_small())
    z1, z2 = torch.randn(6, 8, generator=_gen(16)), torch.randn(6, 8, generator=_gen(17))

    def mean_colour(images):
        return images.mean(dim=(2, 3))

    t = mixing_attribute_transfer(G, z1, z2, mean_colour)
    assert t.crossovers == tuple(range(G.n_styles + 1)) and t.pairs == 6
    assert (t.follows_first[0], t.follows_second[0]) == (0.0, 1.0)
    assert (t.follows_first[-1], t.follows_second[-1]) == (1.0, 0.0)
    assert bool(((t.follows_first + t.follows_second) <= 1).all())
    flat = mixing_attribute_transfer(G, z1, z2, lambda x: torch.zeros(len(x)), crossovers=(1, 2))
    assert flat.pairs == 0 and bool(torch.isnan(flat.follows_first).all())
    with pytest.raises(ValueError, match=r"attribute must return a tensor of shape \(n,\) or \(n, d\)"):
        mixing_attribute_transfer(G, z1, z2, lambda x: x)
    with pytest.raises(ValueError, match="unknown noise 'random'"):
        mixing_attribute_transfer(G, z1, z2, mean_colour, noise="random")
    with pytest.raises(ValueError, match=r"crossover must be in \[0, n_styles\] = \[0, 6\], got 9"):
        mixing_attribute_transfer(G, z1, z2, mean_colour, crossovers=(0, 9))


# ---- training -----------------------------------------------------------------------------------------------

def test_the_gradient_reaches_every_parameter():
    G = _small(size=32)
    out = G(torch.randn(4, 8, generator=_gen(18)))
    (out * torch.randn(out.shape, generator=_gen(19))).sum().backward()
    names = [name for name, p in G.named_parameters()]
    assert any("noise_weight" in n for n in names) and any("mapping" in n for n in names) and "const" in names
    for name, p in G.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name


def test_one_wgan_gp_step_against_a_convnets_critic():
    images, _ = data.shapes_dataset(data.SHAPES_TRAIN, 8, size=16, seed=0)
    real = data.to_tensor(images)
    torch.manual_seed(0)
    G, D = StyleGenerator(8, size=16, width=8), convnets.Critic(16, 8)
    before = {k: v.detach().clone() for k, v in G.named_parameters()}
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.9))
    g = _gen(20)
    fake = G(torch.randn(16, 8, generator=g)).detach()
    loss_d = losses.critic_loss(D(real), D(fake)) + 10 * losses.gradient_penalty(D, real, fake, generator=g)
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    D.requires_grad_(False)
    loss_g = losses.wasserstein_generator_loss(D(G(torch.randn(16, 8, generator=g))))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    assert torch.isfinite(loss_d) and torch.isfinite(loss_g)
    for name, p in G.named_parameters():
        assert not torch.equal(p.detach(), before[name]), name
