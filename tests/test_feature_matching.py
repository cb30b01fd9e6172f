"""Feature matching (Salimans et al. 2016): the loss, the networks' hidden features, and train's path."""
import pytest
import torch
from torch import nn

import gan_lab as gl
from gan_lab import losses, nets

TINY = dict(objective="gan", generator_loss="feature_matching", width=16, depth=2, steps=6, batch_size=32,
            log_every=3, eval_samples=64, progress=False, device="cpu")


def test_the_loss_is_the_squared_distance_between_the_feature_means():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])       # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0], [1.0, 4.0]], requires_grad=True)   # mean (1, 2)
    loss = losses.feature_matching_loss(real, fake)
    assert loss.item() == pytest.approx(2.0)
    loss.backward()                                     # d/d fake_i = -2 (m_real - m_fake) / n
    assert torch.allclose(fake.grad, torch.full((3, 2), -2.0 / 3))


def test_the_loss_refuses_features_of_different_sizes():
    with pytest.raises(ValueError, match=r"\(4, 3\), \(4, 2\)"):
        losses.feature_matching_loss(torch.zeros(4, 3), torch.zeros(4, 2))


def test_mlp_features_are_the_last_hidden_layer_and_forward_is_the_last_linear_of_them():
    torch.manual_seed(0)
    f = nets.critic(2, width=8, depth=3)
    x = torch.randn(5, 2)
    h = f.features(x)
    assert h.shape == (5, 8) and (h >= 0).all()          # after a ReLU
    assert torch.allclose(f.net[-1](h), f(x))


def test_stacked_features_equal_each_network_s_own():
    torch.manual_seed(1)
    mlps = [nets.critic(2, width=8, depth=2) for _ in range(3)]
    x = torch.randn(3, 7, 2)
    stacked = nets.StackedMLP(mlps).features(x)
    for k, m in enumerate(mlps):
        assert torch.allclose(stacked[k], m.features(x[k]), atol=1e-6)


def test_training_with_feature_matching_is_seeded_and_batches_like_separate_runs():
    a, b = gl.train("8gaussians", **TINY), gl.train("8gaussians", **TINY)
    assert a.history["loss_g"] == b.history["loss_g"]
    assert all(torch.equal(p, q) for p, q in zip(a.generator.parameters(), b.generator.parameters()))
    (s0, s1) = gl.train_seeds("8gaussians", seeds=[0, 1], **TINY)
    for p, q in zip(a.generator.parameters(), s0.generator.parameters()):
        assert torch.allclose(p, q, atol=1e-5)
    assert s0.history["loss_g"] != s1.history["loss_g"]


def test_the_generator_loss_recorded_is_the_feature_distance_not_a_score():
    r = gl.train("8gaussians", **TINY)
    plain = gl.train("8gaussians", **{**TINY, "generator_loss": "non_saturating"})
    assert all(v >= 0 for v in r.history["loss_g"])     # a squared norm
    assert r.history["loss_g"] != plain.history["loss_g"]


def test_a_critic_without_features_is_refused_before_training():
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 1)

        def forward(self, x):
            return self.lin(x)

    with pytest.raises(ValueError, match="features.*Plain"):
        gl.train("8gaussians", critic=Plain(), **TINY)


def test_feature_matching_is_a_gan_option_only():
    with pytest.raises(ValueError, match="generator_loss='feature_matching' does not apply to objective 'hinge'"):
        gl.train("8gaussians", **{**TINY, "objective": "hinge"})
    with pytest.raises(ValueError, match="toy MLPs"):
        gl.images.ImageTrainConfig(objective="gan", generator_loss="feature_matching")
