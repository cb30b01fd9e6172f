"""gan_lab.convnets: shapes at every size and kind, a batch-norm-free per-sample critic, the penalty's
double backward, and the cheaper LeakyReLU matching torch's bit for bit."""
import copy

import pytest
import torch
from torch import nn

from gan_lab import losses, nets
from gan_lab.convnets import KINDS, SIZES, Critic, Generator, LeakyReLU

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


def test_wrong_input_shapes_raise():
    with pytest.raises(ValueError, match=r"\(n, 8\).*\(2, 4\)"):
        Generator(noise_dim=8, size=16, width=4)(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\(n, 3, 16, 16\).*\(2, 3, 32, 32\)"):
        Critic(size=16, width=4)(torch.zeros(2, 3, 32, 32))
