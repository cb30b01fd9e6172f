"""gan_lab.convnets: shapes at every size and kind, a batch-norm-free per-sample critic, the penalty's
double backward, and the cheaper LeakyReLU matching torch's bit for bit; the WGAN paper's robustness
generators (no batch norm, constant width, MLP) and the spectrally normalised critic, with every default
network bit-identical to the one built before those options existed."""
import copy
import hashlib

import numpy as np
import pytest
import torch
from torch import nn

from gan_lab import losses, nets
from gan_lab.convnets import (GENERATORS, KINDS, SIZES, Critic, Generator, LeakyReLU, MLPGenerator,
                              generator_for)

CASES = [(size, kind) for size in SIZES for kind in KINDS]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("size, kind", CASES)
def test_generator_maps_noise_to_images_in_the_tanh_range(size, kind):
    torch.manual_seed(0)
    G = Generator(noise_dim=16, size=size, width=4, kind=kind)
    x = G(torch.randn(5, 16) * 3)
    assert x.shape == (5, 3, size, size)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0


@pytest.mark.parametrize("size, kind", CASES)
def test_critic_maps_images_to_one_score_each(size, kind):
    torch.manual_seed(0)
    D = Critic(size=size, width=4, kind=kind)
    scores = D(torch.rand(5, 3, size, size) * 2 - 1)
    assert scores.shape == (5,) and torch.isfinite(scores).all()


@pytest.mark.parametrize("kind", KINDS)
def test_layer_norm_critic_keeps_the_shapes(kind):
    D = Critic(size=16, width=4, kind=kind, norm="layer")
    assert any(isinstance(m, nn.GroupNorm) for m in D.modules())
    assert D(torch.zeros(3, 3, 16, 16)).shape == (3,)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("norm", ["none", "layer"])
def test_critic_has_no_batch_norm_and_scores_each_sample_alone(kind, norm):
    torch.manual_seed(0)
    D = Critic(size=16, width=4, kind=kind, norm=norm)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules())
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    together = D(x)
    alone = torch.cat([D(x[i:i + 1]) for i in range(6)])
    torch.testing.assert_close(together, alone)


@pytest.mark.parametrize("kind", KINDS)
def test_generator_uses_batch_norm(kind):
    assert any(isinstance(m, nn.BatchNorm2d) for m in Generator(noise_dim=8, size=16, width=4, kind=kind).modules())


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_penalty_double_backward_reaches_every_critic_weight(kind):
    torch.manual_seed(0)
    D = Critic(size=16, width=4, kind=kind)
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    scores = D(torch.cat([real, fake]))
    loss = losses.critic_loss(scores[:4], scores[4:]) + 10 * losses.gradient_penalty(D, real, fake)
    loss.backward()
    for name, p in D.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    # the penalty alone differentiates through the input gradient: the conv weights feel it
    D.zero_grad()
    losses.gradient_penalty(D, real, fake).backward()
    first_conv = next(m for m in D.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0


def _with_torch_activations(D: nn.Module) -> nn.Module:
    """A copy of D with gan_lab's LeakyReLU / ReLU swapped for torch's."""
    D2 = copy.deepcopy(D)
    for parent in D2.modules():
        for name, child in parent.named_children():
            if isinstance(child, LeakyReLU):
                setattr(parent, name, nn.LeakyReLU(child.slope))
            elif isinstance(child, nets.ReLU):
                setattr(parent, name, nn.ReLU())
    return D2


@pytest.mark.parametrize("kind", KINDS)
def test_cheap_activations_give_torchs_penalty_gradients_bit_for_bit(kind):
    torch.manual_seed(1)
    D = Critic(size=16, width=4, kind=kind)
    D_torch = _with_torch_activations(D)
    assert any(isinstance(m, (nn.LeakyReLU, nn.ReLU)) for m in D_torch.modules())
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    eps = torch.rand(4, 1, 1, 1)
    for net in (D, D_torch):
        s = net(torch.cat([real, fake]))
        (losses.critic_loss(s[:4], s[4:]) + 10 * losses.gradient_penalty(net, real, fake, eps=eps)).backward()
    for (name, a), b in zip(D.named_parameters(), D_torch.parameters()):
        assert torch.equal(a.grad, b.grad), name


def test_leaky_relu_matches_torch_forward_and_backward():
    x = torch.randn(100, requires_grad=True)
    y = torch.randn(100)
    (LeakyReLU(0.2)(x) * y).sum().backward()
    g = x.grad.clone()
    x.grad = None
    (nn.LeakyReLU(0.2)(x) * y).sum().backward()
    assert torch.equal(g, x.grad)
    assert torch.equal(LeakyReLU(0.2)(x), nn.functional.leaky_relu(x, 0.2))


@pytest.mark.parametrize("kind", KINDS)
def test_parameter_count_grows_with_width(kind):
    for make in (lambda w: Generator(noise_dim=16, size=32, width=w, kind=kind),
                 lambda w: Critic(size=32, width=w, kind=kind)):
        counts = [n_params(make(w)) for w in (4, 8, 16)]
        assert counts[0] < counts[1] < counts[2]


def test_dcgan_channels_double_per_halving():
    D = Critic(size=32, width=8)
    assert [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)] == [8, 16, 32]
    G = Generator(noise_dim=8, size=32, width=8)
    assert [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)] == [16, 8, 3]


@pytest.mark.parametrize("make, match", [
    (lambda: Generator(size=24), "size.*24"),
    (lambda: Generator(size=True), "size.*True"),
    (lambda: Generator(kind="vgg"), "'vgg'"),
    (lambda: Generator(noise_dim=0), "noise_dim.*0"),
    (lambda: Generator(width=2.5), "width.*2.5"),
    (lambda: Critic(size=128), "size.*128"),
    (lambda: Critic(width=-1), "width.*-1"),
    (lambda: Critic(kind="mlp"), "'mlp'"),
    (lambda: Critic(norm="batch"), "'batch'"),
])
def test_bad_arguments_raise_naming_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make, message", [
    (lambda: Generator(noise_dim=0), "noise_dim must be an integer >= 1, got 0"),
    (lambda: Generator(width=True), "width must be an integer >= 1, got True"),
    (lambda: Generator(size=32.0), f"size must be one of {SIZES}, got 32.0"),
    (lambda: Generator(kind="vgg"), f"unknown kind 'vgg'; use one of {KINDS}"),
    (lambda: Generator(batch_norm=1), "batch_norm must be True or False, got 1"),
    (lambda: MLPGenerator(depth=0), "depth must be an integer >= 1, got 0"),
    (lambda: Critic(norm="batch"), "unknown critic norm 'batch'; use one of ('none', 'layer', 'spectral')"),
    (lambda: generator_for("wgan"), f"unknown generator 'wgan'; use one of {GENERATORS}"),
])
def test_messages_name_the_argument_and_show_the_value(make, message):
    with pytest.raises(ValueError) as err:
        make()
    assert str(err.value) == message


def test_numpy_integer_widths_build_the_networks_python_ints_build():
    for make in (lambda n, w: Generator(noise_dim=n, size=16, width=w), lambda n, w: Critic(size=16, width=w),
                 lambda n, w: MLPGenerator(noise_dim=n, size=16, width=w, depth=2)):
        torch.manual_seed(0)
        a = make(np.int64(8), np.int64(4))
        torch.manual_seed(0)
        b = make(8, 4)
        assert type(a.width) is int and a.width == 4
        assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_wrong_input_shapes_raise():
    with pytest.raises(ValueError, match=r"\(n, 8\).*\(2, 4\)"):
        Generator(noise_dim=8, size=16, width=4)(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\(n, 3, 16, 16\).*\(2, 3, 32, 32\)"):
        Critic(size=16, width=4)(torch.zeros(2, 3, 32, 32))


# ---- the WGAN paper's robustness generators (no BN, constant width, MLP) and the SN critic -------------

def _digest(module: nn.Module) -> str:
    """sha256 of a state_dict: every key, shape, dtype and the tensor's bytes, in order."""
    h = hashlib.sha256()
    for key, value in module.state_dict().items():
        h.update(key.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(str(value.dtype).encode())
        h.update(value.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


# Measured on convnets.py as of commit 4c72d12 (before batch_norm / constant_width / "spectral" existed),
# torch 2.13.0 on the CPU, building each default network from torch.manual_seed(0): the digest of its
# state_dict, the digest of its repr (layer types, kernel sizes, strides, eps, momentum, slopes), the global
# generator's next draw (the same random numbers consumed, no more), and mean |output| on a seeded batch
# (to 1e-6 relative, as the last bits of a convolution may differ between CPUs). The new options must not
# move any of them.
BEFORE_THE_OPTIONS = {
    "G(128,32,64,dcgan)": (lambda: Generator(128, 32, 64, "dcgan"),
        "6a0ad5204a39ab38", "69f445122c73a847", -0.9516237378120422, 0.5008713),
    "G(128,32,64,resnet)": (lambda: Generator(128, 32, 64, "resnet"),
        "a2af600287a2a667", "984997f4a7c1a69d", -0.896289587020874, 0.2940234),
    "C(32,64,dcgan,none)": (lambda: Critic(32, 64, "dcgan", "none"),
        "a77e435fc0f2952f", "8aafa3920633d239", -1.9643492698669434, 0.0127438),
    "C(32,64,dcgan,layer)": (lambda: Critic(32, 64, "dcgan", "layer"),
        "1b5172d33629118d", "979828a7a50936b1", -1.9643492698669434, 0.2082546),
    "C(32,64,resnet,none)": (lambda: Critic(32, 64, "resnet", "none"),
        "9084e16198b491de", "e57cbec1577c9b4f", 0.15357208251953125, 0.0708179),
    "C(32,64,resnet,layer)": (lambda: Critic(32, 64, "resnet", "layer"),
        "a9ae82e31f87cc80", "a03811d92cd6f217", 0.15357208251953125, 0.0311238),
    "G(16,16,8,dcgan)": (lambda: Generator(16, 16, 8, "dcgan"),
        "7f6e702621b9fa3d", "9d0e69be85a72632", 0.5019271969795227, 0.2364284),
    "G(16,64,8,resnet)": (lambda: Generator(16, 64, 8, "resnet"),
        "2c66fc314806b3b6", "9eb621f9811ad227", 0.4209270477294922, 0.2593271),
    "C(64,8,dcgan,none)": (lambda: Critic(64, 8, "dcgan", "none"),
        "47dd7dc969f470cb", "9a1b012c3a547ac3", 2.220332622528076, 0.0040302),
    "C(16,8,resnet,layer)": (lambda: Critic(16, 8, "resnet", "layer"),
        "8cef1f03d02698a0", "fcf98bfd330d6d1f", -0.18454699218273163, 0.1187848),
}


def _output_size(net: nn.Module) -> float:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, net.noise_dim, generator=g) if isinstance(net, Generator) \
        else torch.rand(4, 3, net.size, net.size, generator=g) * 2 - 1
    return net(x).double().abs().mean().item()


@pytest.mark.parametrize("name", list(BEFORE_THE_OPTIONS))
def test_default_networks_are_bit_identical_to_before_the_options(name):
    make, state_digest, repr_digest, next_draw, output_size = BEFORE_THE_OPTIONS[name]
    torch.manual_seed(0)
    net = make()
    assert _digest(net) == state_digest
    assert hashlib.sha256(repr(net).encode()).hexdigest()[:16] == repr_digest
    assert torch.randn(()).item() == next_draw
    assert _output_size(net) == pytest.approx(output_size, rel=1e-6, abs=1e-7)


def test_generator_for_builds_the_default_networks_unchanged():
    for name, kind in (("dcgan", "dcgan"), ("resnet", "resnet")):
        torch.manual_seed(0)
        a = _digest(generator_for(name, 128, 32, 64))
        torch.manual_seed(0)
        assert a == _digest(Generator(128, 32, 64, kind))
    assert _digest(_seeded(lambda: generator_for("dcgan", 128, 32, 64))) == BEFORE_THE_OPTIONS["G(128,32,64,dcgan)"][1]


def _seeded(make):
    torch.manual_seed(0)
    return make()


GENERATOR_OPTIONS = [(kind, bn, cw) for kind in KINDS for bn in (True, False) for cw in (False, True)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind, batch_norm, constant_width", GENERATOR_OPTIONS)
def test_every_generator_option_maps_noise_to_images_in_the_tanh_range(size, kind, batch_norm, constant_width):
    torch.manual_seed(0)
    G = Generator(noise_dim=16, size=size, width=4, kind=kind, batch_norm=batch_norm, constant_width=constant_width)
    x = G(torch.randn(5, 16) * 3)
    assert x.shape == (5, 3, size, size)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0
    if not batch_norm:                                        # no batch norm needs no batch to train on
        assert G(torch.randn(1, 16)).shape == (1, 3, size, size)
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in G.modules())
    assert has_bn == batch_norm


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", GENERATORS)
def test_every_named_generator_gives_images_of_the_size(size, name):
    torch.manual_seed(0)
    G = generator_for(name, noise_dim=16, size=size, width=4)
    x = G(torch.randn(3, 16))
    assert x.shape == (3, 3, size, size) and x.abs().max() <= 1


@pytest.mark.parametrize("kind", KINDS)
def test_no_batch_norm_generator_has_no_normalisation_and_trains_with_one_sample(kind):
    G = Generator(noise_dim=8, size=32, width=4, kind=kind, batch_norm=False)
    norms = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)
    assert not any(isinstance(m, norms) for m in G.modules())
    z = torch.randn(4, 8)
    torch.testing.assert_close(G(z), torch.cat([G(z[i:i + 1]) for i in range(4)]))   # each sample alone


@pytest.mark.parametrize("kind", KINDS)
def test_leaving_out_batch_norm_keeps_the_seeded_weights(kind):
    weights = []
    for batch_norm in (True, False):
        G = _seeded(lambda: Generator(16, 32, 8, kind, batch_norm=batch_norm))
        weights.append([m.weight for m in G.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))])
    assert len(weights[0]) == len(weights[1]) > 2
    for a, b in zip(*weights):
        assert torch.equal(a, b)


@pytest.mark.parametrize("size", SIZES)
def test_constant_width_dcgan_generator_has_width_channels_in_every_block(size):
    width = 8
    G = Generator(noise_dim=8, size=size, width=width, constant_width=True)
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == {16: 2, 32: 3, 64: 4}[size]
    assert [m.in_channels for m in convs] == [width] * len(convs)
    assert [m.out_channels for m in convs] == [width] * (len(convs) - 1) + [3]
    assert G.stem[0].out_features == 4 * 4 * width
    doubling = Generator(noise_dim=8, size=size, width=width)
    assert [m.in_channels for m in doubling.modules() if isinstance(m, nn.ConvTranspose2d)][0] > width or size == 16


def test_constant_width_changes_nothing_in_the_already_constant_resnet_generator():
    a = _seeded(lambda: Generator(16, 32, 8, "resnet"))
    b = _seeded(lambda: Generator(16, 32, 8, "resnet", constant_width=True))
    assert _digest(a) == _digest(b)


def test_the_papers_robustness_generator_is_dcgan_without_bn_at_constant_width():
    G = generator_for("dcgan-no-bn-constant-width", 16, 32, 8)
    assert isinstance(G, Generator) and G.kind == "dcgan" and not G.batch_norm and G.constant_width
    assert _digest(_seeded(lambda: generator_for("dcgan-no-bn-constant-width", 16, 32, 8))) == \
        _digest(_seeded(lambda: Generator(16, 32, 8, "dcgan", batch_norm=False, constant_width=True)))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("width, depth", [(512, 4), (32, 1), (16, 3)])
def test_mlp_generator_shape_range_and_parameter_count(size, width, depth):
    torch.manual_seed(0)
    noise_dim = 10
    G = MLPGenerator(noise_dim, size, width=width, depth=depth)
    x = G(torch.randn(6, noise_dim) * 5)
    assert x.shape == (6, 3, size, size)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0
    pixels = 3 * size * size
    assert n_params(G) == noise_dim * width + width + (depth - 1) * (width * width + width) + (width + 1) * pixels
    assert sum(isinstance(m, nn.Linear) for m in G.modules()) == depth + 1
    assert sum(isinstance(m, nets.ReLU) for m in G.modules()) == depth
    assert not any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.modules.batchnorm._BatchNorm))
                   for m in G.modules())


def test_named_mlp_generator_is_the_papers_four_by_512():
    G = generator_for("mlp", 128, 32, 64)
    assert isinstance(G, MLPGenerator) and (G.width, G.depth) == (512, 4)


def _weighted_layers(D: nn.Module) -> list[nn.Module]:
    return [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _sigma(weight: torch.Tensor) -> float:
    return torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), 2).item()


@pytest.mark.parametrize("kind", KINDS)
def test_spectral_norm_critic_layers_have_largest_singular_value_one(kind):
    torch.manual_seed(0)
    D = Critic(size=16, width=8, kind=kind, norm="spectral")
    layers = _weighted_layers(D)
    # every conv, 1x1 shortcut and the head: dcgan 2 convs + head, resnet 7 convs (one shortcut) + head
    assert len(layers) == len(_weighted_layers(Critic(size=16, width=8, kind=kind))) == {"dcgan": 3, "resnet": 8}[kind]
    assert all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    with torch.no_grad():                                        # W far from sigma 1, so the norm must act
        for m in layers:
            m.parametrizations.weight.original.mul_(4.0)
    raw = [_sigma(m.parametrizations.weight.original.detach()) for m in layers]
    assert min(raw) > 1.5
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    D.train()
    with torch.no_grad():
        for _ in range(50):
            D(x)
    D.eval()                                                     # read W / sigma without another iteration
    with torch.no_grad():
        normalised = [_sigma(m.weight) for m in layers]
    assert max(abs(s - 1) for s in normalised) < 0.05, normalised


def test_spectral_norm_critic_draws_the_plain_critics_weights_and_nothing_more():
    for kind in KINDS:
        torch.manual_seed(0)
        plain = Critic(size=16, width=4, kind=kind)
        after_plain = torch.randn(3)
        torch.manual_seed(0)
        sn = Critic(size=16, width=4, kind=kind, norm="spectral")
        assert torch.equal(torch.randn(3), after_plain)
        for a, b in zip(_weighted_layers(plain), _weighted_layers(sn)):
            assert torch.equal(a.weight, b.parametrizations.weight.original)
            assert torch.equal(a.bias, b.bias)


def test_spectral_norm_updates_u_in_training_and_not_in_eval():
    torch.manual_seed(0)
    D = Critic(size=16, width=4, norm="spectral")
    u = D.body[0].parametrizations.weight[0]._u
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    before = u.clone()
    D.eval()
    first = D(x)
    assert torch.equal(u, before)
    torch.testing.assert_close(D(x[:2]), first[:2])              # eval mode: each sample alone, same u
    D.train()
    D(x)
    assert not torch.equal(u, before)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_penalty_runs_on_a_spectral_norm_critic(kind):
    torch.manual_seed(0)
    D = Critic(size=16, width=4, kind=kind, norm="spectral")
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    scores = D(torch.cat([real, fake]))
    loss = losses.critic_loss(scores[:4], scores[4:]) + 10 * losses.gradient_penalty(D, real, fake)
    loss.backward()
    for name, p in D.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    D.zero_grad()
    losses.gradient_penalty(D, real, fake).backward()           # through the input gradient, to W itself
    first = _weighted_layers(D)[0].parametrizations.weight.original
    assert first.grad is not None and first.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_cheap_activations_give_torchs_penalty_gradients_on_a_spectral_norm_critic(kind):
    torch.manual_seed(1)
    D = Critic(size=16, width=4, kind=kind, norm="spectral")
    D_torch = _with_torch_activations(D)
    assert any(isinstance(m, (nn.LeakyReLU, nn.ReLU)) for m in D_torch.modules())
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    eps = torch.rand(4, 1, 1, 1)
    for net in (D, D_torch):
        s = net(torch.cat([real, fake]))
        (losses.critic_loss(s[:4], s[4:]) + 10 * losses.gradient_penalty(net, real, fake, eps=eps)).backward()
    for (name, a), b in zip(D.named_parameters(), D_torch.parameters()):
        assert torch.equal(a.grad, b.grad), name


def test_spectral_norm_critic_state_round_trips_through_a_state_dict():
    torch.manual_seed(0)
    D = Critic(size=16, width=4, norm="spectral")
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    D(x)
    torch.manual_seed(5)
    D2 = Critic(size=16, width=4, norm="spectral")
    D2.load_state_dict(D.state_dict())                           # W, b and the power iteration's u, v
    assert torch.equal(D(x), D2(x))


@pytest.mark.parametrize("make, match", [
    (lambda: Generator(batch_norm="no"), "batch_norm.*'no'"),
    (lambda: Generator(constant_width=1), "constant_width.*1"),
    (lambda: Generator(kind="mlp"), "'mlp'"),
    (lambda: MLPGenerator(depth=0), "depth.*0"),
    (lambda: MLPGenerator(width=0), "width.*0"),
    (lambda: MLPGenerator(size=20), "size.*20"),
    (lambda: MLPGenerator(noise_dim=-3), "noise_dim.*-3"),
    (lambda: generator_for("wgan"), "'wgan'"),
    (lambda: generator_for("mlp", size=48), "size.*48"),
    (lambda: generator_for("dcgan-no-bn-constant-width", width=0), "width.*0"),
    (lambda: Critic(norm="sn"), "'sn'"),
])
def test_bad_new_options_raise_naming_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_mlp_generator_refuses_noise_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\(n, 8\).*\(2, 4\)"):
        MLPGenerator(noise_dim=8, size=16, width=4, depth=1)(torch.zeros(2, 4))


@pytest.mark.parametrize("size, kind", CASES)
def test_critic_features_are_the_heads_input(size, kind):
    torch.manual_seed(0)
    D = Critic(size=size, width=4, kind=kind)
    x = torch.rand(3, 3, size, size) * 2 - 1
    phi = D.features(x)
    assert phi.shape == (3, D.num_features) and D.num_features == D.head.in_features
    assert torch.equal(D.head(phi).view(-1), D(x))
    with pytest.raises(ValueError, match=r"Critic takes images of shape \(n, 3, 16, 16\)"):
        Critic(size=16, width=4, kind=kind).features(torch.zeros(2, 3, 8, 8))
