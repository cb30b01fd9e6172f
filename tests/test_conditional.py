"""gan_lab.conditional and conditional train_images: summed attribute embeddings, the projection critic's
closed form, a generator that follows its label, labels checked before any work, and a conditional run on
16 px shapes that trains, draws its batches as the docstring says and resumes bit for bit."""
import math
import os
from dataclasses import asdict

import numpy as np
import pytest
import torch
from torch import nn

from gan_lab import conditional, convnets, data, losses, runs
from gan_lab import images as gi
from gan_lab.checkpoint import load_checkpoint
from gan_lab.conditional import (AttributeEmbedding, ConditionalGenerator, ProjectionCritic, check_labels,
                                 generate, label_grid)
from gan_lab.images import ImageTrainConfig, train_images

COND = (3, 2)   # (shape, colour)
TINY = ImageTrainConfig(size=16, width=8, noise_dim=16, condition_dim=8, condition=COND, batch_size=8, n_critic=2,
                        steps=4, log_every=2, snapshots=6, sample_every=2, checkpoint_every=2, progress=False)


@pytest.fixture(scope="module")
def shapes():
    """48 images of 16 px: square / circle / triangle in colours A and B (8 each), with (shape, colour) labels."""
    classes = [data.ShapeClass(s, b, o, 0.03) for s in ("square", "circle", "triangle") for b, o in ((0.25, 1), (0.6, -1))]
    x, y = data.shapes_dataset(classes, 8, size=16, seed=0)
    return data.to_tensor(x), torch.stack([torch.from_numpy(y) // 2, torch.from_numpy(y) % 2], dim=1)


def run(shapes, **kw):
    x, y = shapes
    return train_images(x, TINY, **{"labels": y, "device": "cpu", **kw})


def assert_bit_identical(a: nn.Module, b: nn.Module) -> None:
    wa, wb = a.state_dict(), b.state_dict()
    assert list(wa) == list(wb)
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


# ---- labels and the grid -------------------------------------------------------------------------------

def test_label_grid_runs_through_every_combination_last_attribute_fastest():
    assert label_grid((3, 2), 8).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1], [0, 0], [0, 1]]
    assert label_grid((10,), 3).tolist() == [[0], [1], [2]]
    assert label_grid((2, 2, 3), 0).shape == (0, 3)
    assert len({tuple(r) for r in label_grid((2, 2, 3), 12).tolist()}) == 12


def test_check_labels_accepts_integer_rows_and_one_column_for_one_attribute():
    y = check_labels(np.array([[0, 1], [2, 0]], dtype=np.int32), (3, 2))
    assert y.dtype == torch.long and y.tolist() == [[0, 1], [2, 0]]
    assert check_labels(torch.tensor([3, 9, 0]), (10,), 3).tolist() == [[3], [9], [0]]


@pytest.mark.parametrize("labels, condition, n, match", [
    (torch.zeros(4, 2), (3, 2), 4, "integer dtype.*float32"),
    (torch.zeros(4, 2, dtype=torch.bool), (3, 2), 4, "integer dtype.*bool"),
    (torch.zeros(5, 2, dtype=torch.long), (3, 2), 4, r"shape \(4, 2\) for condition \(3, 2\).*got \(5, 2\)"),
    (torch.zeros(4, dtype=torch.long), (3, 2), 4, r"shape \(4, 2\).*got \(4,\)"),
    (torch.zeros(4, 3, dtype=torch.long), (3, 2), None, r"shape \(4, 2\).*got \(4, 3\)"),
    (torch.tensor([[0, 0], [1, 2]]), (3, 2), 2, r"labels\[:, 1\] must lie in \{0, ..., 1\}.*got 2 at row 1"),
    (torch.tensor([[0, 0], [-1, 0]]), (3, 2), 2, r"labels\[:, 0\].*got -1 at row 1"),
    (torch.tensor([10]), (10,), 1, r"labels\[:, 0\] must lie in \{0, ..., 9\}.*got 10 at row 0"),
    ([[0, 1]], (3, 2), 1, "integer tensor.*list"),
    (torch.zeros(1, 0, dtype=torch.long), (), 1, r"condition=\(\)"),
])
def test_bad_labels_raise_naming_the_value(labels, condition, n, match):
    with pytest.raises(ValueError, match=match):
        check_labels(labels, condition, n)


@pytest.mark.parametrize("bad", [3, (3, 0), (2, 1.0), (True,), "32", (2, -1)])
def test_bad_conditions_raise_naming_the_value(bad):
    with pytest.raises(ValueError, match="condition"):
        ImageTrainConfig(condition=bad)


def test_a_condition_given_as_a_list_becomes_a_tuple_of_ints():
    cfg = ImageTrainConfig(condition=[np.int64(3), 2])
    assert cfg.condition == (3, 2) and all(type(k) is int for k in cfg.condition)
    assert ImageTrainConfig().condition == ()
    with pytest.raises(ValueError, match="condition_dim.*0"):
        ImageTrainConfig(condition=(2,), condition_dim=0)


# ---- the embedding and the projection critic --------------------------------------------------------

def test_the_embedding_is_the_sum_of_one_table_row_per_attribute():
    torch.manual_seed(0)
    e = AttributeEmbedding((3, 2, 4), 5)
    y = torch.tensor([[2, 0, 3], [0, 1, 1]])
    rows = [e.tables[a].weight[y[:, a]] for a in range(3)]
    torch.testing.assert_close(e(y), rows[0] + rows[1] + rows[2], rtol=0, atol=0)
    torch.manual_seed(0)
    small = AttributeEmbedding((3, 2, 4), 5, std=0.1)      # the same draw, scaled
    torch.testing.assert_close(small.tables[2].weight, 0.1 * e.tables[2].weight)
    with pytest.raises(ValueError, match=r"shape \(n, 3\).*\(2, 2\)"):
        e(y[:, :2])
    with pytest.raises(ValueError, match="float32"):
        e(y.float())


class _FixedFeatures(nn.Module):
    """A critic with phi(x) = the first two pixels of x, and a hand-set head psi(h) = 0.5 h_1 - h_2 + 0.25."""

    num_features = 2

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(2, 1)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[0.5, -1.0]]))
            self.head.bias.fill_(0.25)

    def features(self, x):
        return x.flatten(1)[:, :2]


def test_projection_critic_closed_form_with_phi_fixed():
    e = AttributeEmbedding((2, 2), 2)
    with torch.no_grad():
        e.tables[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        e.tables[1].weight.copy_(torch.tensor([[2.0, 2.0], [-1.0, 3.0]]))
    f = ProjectionCritic(_FixedFeatures(), e)
    x = torch.tensor([[1.0, 2.0, 7.0], [-1.0, 0.5, 7.0]])       # phi = (1, 2) and (-1, 0.5)
    y = torch.tensor([[1, 0], [0, 1]])
    # psi(1, 2) = -1.25, e(1, 0) = (2, 3), <e, phi> = 8;  psi(-1, 0.5) = -0.75, e(0, 1) = (0, 3), <e, phi> = 1.5
    assert f(x, y).tolist() == [-1.25 + 8.0, -0.75 + 1.5]
    assert f.projection(x, y).tolist() == [8.0, 1.5]


@pytest.mark.parametrize("kind", convnets.KINDS)
@pytest.mark.parametrize("norm", convnets.NORMS)
def test_projection_term_is_the_inner_product_with_the_critics_features(kind, norm):
    torch.manual_seed(0)
    critic = convnets.Critic(16, 4, kind, norm)
    f = ProjectionCritic(critic, AttributeEmbedding((3, 2), critic.num_features, spectral=norm == "spectral"))
    f.eval()          # spectral norm: the stored u, so that the passes below see the same weights
    x, y = torch.rand(5, 3, 16, 16) * 2 - 1, torch.tensor([[0, 0], [1, 1], [2, 0], [2, 1], [0, 1]])
    phi = critic.features(x)
    torch.testing.assert_close(f(x, y) - critic(x), (f.encoder(y) * phi).sum(1), rtol=1e-5, atol=1e-5)
    # the class term is a sum over attributes: changing the shape shifts f by the same amount in either colour
    shape_0, shape_2 = torch.tensor([[0, 0], [0, 1]]), torch.tensor([[2, 0], [2, 1]])
    x2 = x[:1].expand(2, -1, -1, -1)
    shift = f(x2, shape_2) - f(x2, shape_0)
    torch.testing.assert_close(shift[0], shift[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind, norm", [("dcgan", "none"), ("dcgan", "spectral"), ("resnet", "layer")])
def test_the_gradient_penalty_reaches_every_weight_of_the_projection_critic(kind, norm):
    torch.manual_seed(0)
    critic = convnets.Critic(16, 4, kind, norm)
    f = ProjectionCritic(critic, AttributeEmbedding((3, 2), critic.num_features, spectral=norm == "spectral"))
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    y = torch.tensor([[0, 1], [1, 0], [2, 1], [2, 0]])
    losses.gradient_penalty(lambda x: f(x, y), real, fake).backward()
    # the input gradient of a piecewise-linear net does not depend on its biases; every weight it does
    # depend on, the embedding tables included, feels the penalty
    weights = [name for name, _ in f.named_parameters() if not name.endswith("bias")]
    assert any(name.startswith("encoder.tables") for name in weights)
    for name, p in f.named_parameters():
        if name in weights:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_the_spectral_embedding_draws_the_plain_weights_and_nothing_more_and_has_sigma_one():
    torch.manual_seed(0)
    plain = AttributeEmbedding((3, 2), 6)
    after_plain = torch.randn(())
    torch.manual_seed(0)
    sn = AttributeEmbedding((3, 2), 6, spectral=True)
    assert torch.randn(()) == after_plain
    for a in range(2):
        assert torch.equal(sn.tables[a].parametrizations.weight.original, plain.tables[a].weight)
    for _ in range(30):                    # power iteration: one step per training-mode pass
        sn(torch.tensor([[0, 0]]))
    for a in range(2):
        assert torch.linalg.matrix_norm(sn.tables[a].weight, 2).item() == pytest.approx(1.0, abs=1e-3)


# ---- the conditional generator and generate -------------------------------------------------------------

@pytest.mark.parametrize("size", convnets.SIZES)
@pytest.mark.parametrize("kind", convnets.KINDS)
def test_build_networks_gives_a_conditional_pair_at_every_size_and_kind(size, kind):
    cfg = ImageTrainConfig(size=size, width=4, noise_dim=8, condition=(3, 2, 2), condition_dim=4, kind=kind)
    G, D = gi.build_networks(cfg)
    assert isinstance(G, ConditionalGenerator) and isinstance(D, ProjectionCritic) and G.noise_dim == 8
    y = label_grid((3, 2, 2), 3)
    x = G(torch.randn(3, 8), y)
    assert x.shape == (3, 3, size, size) and D(x, y).shape == (3,)


def test_the_generators_image_depends_on_the_label_and_only_through_it():
    torch.manual_seed(0)
    G, _ = gi.build_networks(ImageTrainConfig(size=16, width=4, noise_dim=8, condition=(3, 2), condition_dim=4))
    G.eval()
    z = torch.randn(1, 8).expand(6, 8)                  # one z for every label
    x = G(z, label_grid((3, 2), 6))
    for i in range(6):
        for j in range(i):
            assert (x[i] - x[j]).abs().max() > 1e-4, (i, j)
    torch.testing.assert_close(G(z[:2], torch.tensor([[1, 1], [1, 1]]))[0], x[3], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match=r"noise of shape \(n, 8\)"):
        G(torch.randn(2, 12), label_grid((3, 2), 2))
    with pytest.raises(ValueError, match="2 noise vectors but 3 labels"):
        G(torch.randn(2, 8), label_grid((3, 2), 3))


def test_generate_is_seeded_and_one_label_repeats():
    torch.manual_seed(0)
    G, _ = gi.build_networks(ImageTrainConfig(size=16, width=4, noise_dim=8, condition=(3, 2), condition_dim=4))
    a = generate(G, (2, 1), n=3, seed=5)
    b = generate(G, torch.tensor([[2, 1]] * 3), seed=5)
    assert a.shape == (3, 3, 16, 16) and torch.equal(a, b) and G.training      # G is back in training mode
    assert not torch.equal(a, generate(G, (2, 1), n=3, seed=6))
    assert not torch.equal(a, generate(G, (2, 0), n=3, seed=5))
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(5))     # the z of settings.rng(5)
    with torch.no_grad():
        assert torch.equal(a, G.eval()(z, torch.tensor([[2, 1]] * 3)))
    for bad, match in [((2, 2), r"label\[:, 1\].*got 2"), ((1,), r"shape \(3, 2\)"), ("red", "one label of 2 ints"),
                       ((1.0, 0), "one label of 2 ints")]:
        with pytest.raises(ValueError, match=match):
            generate(G, bad, n=3, seed=0)
    with pytest.raises(ValueError, match="n=2 but labels has 3 rows"):
        generate(G, torch.zeros(3, 2, dtype=torch.long), n=2, seed=0)
    with pytest.raises(ValueError, match="ConditionalGenerator.*Generator"):
        generate(convnets.Generator(8, 16, 4), (0, 0), seed=0)


# ---- conditional training --------------------------------------------------------------------------------

def test_a_fifty_step_conditional_run_on_shapes_logs_finite_numbers_and_snapshots_the_label_grid(shapes):
    result = run(shapes, steps=50, log_every=10, sample_every=25)
    for key in ("estimate", "penalty", "loss_d", "loss_g"):
        assert len(result.history[key]) == 5 and all(math.isfinite(v) for v in result.history[key]), key
    assert [s for s, _ in result.samples] == [0, 25, 50]
    assert result.snapshot_labels.tolist() == label_grid(COND, 6).tolist()
    x = result.sample(4, seed=0, labels=(2, 1))
    assert torch.equal(x, generate(result.generator, (2, 1), n=4, seed=0))
    with pytest.raises(ValueError, match="needs labels"):
        result.sample(4, seed=0)


def test_hinge_with_a_spectral_projection_critic_and_a_resnet_pair_train(shapes):
    for kw in (dict(objective="hinge", critic_norm="spectral"), dict(kind="resnet", critic_norm="layer", steps=2)):
        result = run(shapes, **kw)
        assert all(math.isfinite(v) for k in ("estimate", "loss_d", "loss_g") for v in result.history[k]), kw


def test_batches_pair_images_with_their_labels_and_fakes_get_training_labels(monkeypatch):
    """Image i is a flat grey whose level encodes its label, so the critic's real half shows whether image and
    label came by the same index; only 3 of the 6 combinations are in the data."""
    present = torch.tensor([[0, 0], [1, 1], [2, 0]])
    y = present[torch.arange(30) % 3]
    level = (y[:, 0] * 2 + y[:, 1]).float() / 10 - 0.5
    x = level.view(-1, 1, 1, 1).expand(-1, 3, 16, 16).contiguous()
    calls = []
    forward = ProjectionCritic.forward

    def recording(self, images, labels):
        calls.append((images.detach().clone(), labels.clone(), images.requires_grad and images.is_leaf))
        return forward(self, images, labels)

    monkeypatch.setattr(ProjectionCritic, "forward", recording)
    train_images(x, TINY, labels=y, steps=2, snapshots=0, device="cpu")
    B = TINY.batch_size
    pairs = [c for c in calls if len(c[1]) == 2 * B]              # f on [real, fake]
    penalties = [c for c in calls if c[2]]                        # f on x_hat (a leaf that requires grad)
    assert len(pairs) == len(penalties) == 2 * TINY.n_critic
    allowed = {tuple(r) for r in present.tolist()}
    for (images, labels, _), (_, pen_labels, _) in zip(pairs, penalties):
        real, real_y, fake_y = images[:B], labels[:B], labels[B:]
        torch.testing.assert_close(real[:, 0, 0, 0], (real_y[:, 0] * 2 + real_y[:, 1]).float() / 10 - 0.5)
        assert {tuple(r) for r in fake_y.tolist()} <= allowed     # the empirical label distribution
        assert torch.equal(pen_labels, real_y)                    # x_hat scored with the real image's label
        assert not torch.equal(fake_y, real_y)                    # drawn by their own indices
    gen = [c for c in calls if len(c[1]) == B and not c[2]]       # the generator steps
    assert len(gen) == 2 and all({tuple(r) for r in c[1].tolist()} <= allowed for c in gen)


def test_same_seed_same_conditional_run_and_another_seed_another(shapes):
    a, b, c = run(shapes, seed=3), run(shapes, seed=3), run(shapes, seed=4)
    assert_bit_identical(a.generator, b.generator)
    assert_bit_identical(a.critic, b.critic)
    assert not torch.equal(a.critic.encoder.tables[0].weight, c.critic.encoder.tables[0].weight)


def test_a_conditional_checkpoint_resumes_exactly_like_an_uninterrupted_run(shapes, tmp_path):
    path = tmp_path / "c.pt"
    whole = run(shapes, steps=6, log_every=1)
    run(shapes, steps=3, log_every=1, checkpoint_path=path)
    state = load_checkpoint(path)
    assert state["config"] == asdict(TINY.__class__(**{**asdict(TINY), "steps": 3, "log_every": 1}))
    assert any(k.startswith("encoder.tables") for k in state["generator"])
    resumed = run(shapes, steps=6, log_every=1, checkpoint_path=path, resume=True)
    assert resumed.start_step == 3
    assert_bit_identical(whole.generator, resumed.generator)
    assert_bit_identical(whole.critic, resumed.critic)
    for key in ("step", "estimate", "penalty", "loss_d", "loss_g"):
        assert whole.history[key] == resumed.history[key], key
    kept = dict(resumed.samples)     # steps 0, 2, 3 (the short run's end), 4, 6
    assert [s for s, _ in resumed.samples] == [0, 2, 3, 4, 6]
    assert all(torch.equal(x, kept[s]) for s, x in whole.samples)
    with pytest.raises(ValueError, match=r"condition: checkpoint \(3, 2\), given \(3, 3\)"):
        run(shapes, steps=8, checkpoint_path=path, resume=True, condition=(3, 3))


def test_a_finished_conditional_run_rebuilds_through_runs(shapes):
    result = run(shapes)
    again = runs.restore_result(runs.result_state(result))
    assert isinstance(again.generator, ConditionalGenerator)
    torch.testing.assert_close(again.sample(3, seed=1, labels=(1, 0)), result.sample(3, seed=1, labels=(1, 0)))


@pytest.mark.parametrize("labels, kw, match", [
    (lambda y: y[:-1], {}, r"shape \(48, 2\).*got \(47, 2\)"),
    (lambda y: y + torch.tensor([0, 1]), {}, r"labels\[:, 1\] must lie in \{0, ..., 1\}.*got 2 at row 8"),
    (lambda y: y.float(), {}, "integer dtype.*float32"),
    (lambda y: y[:, 0], {}, r"shape \(48, 2\).*got \(48,\)"),
    (lambda y: y, dict(condition=()), r"labels \(a tensor of shape \(48, 2\)\) were given, but the config is "
                                       r"unconditional"),
    (lambda y: None, {}, r"condition=\(3, 2\) makes a conditional run: train_images needs labels"),
])
def test_bad_labels_raise_before_any_work_or_file(shapes, tmp_path, monkeypatch, labels, kw, match):
    monkeypatch.setattr(gi.convnets, "Generator", lambda *a, **k: pytest.fail("built a network"))
    x, y = shapes
    with pytest.raises(ValueError, match=match):
        train_images(x, TINY, labels=labels(y), checkpoint_path=tmp_path / "c.pt", device="cpu", **kw)
    assert os.listdir(tmp_path) == []


def test_an_unconditional_result_refuses_labels(shapes):
    x, _ = shapes
    result = train_images(x, TINY, condition=(), steps=1, snapshots=0, device="cpu")
    assert result.snapshot_labels is None and result.sample(2, seed=0).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="unconditional"):
        result.sample(2, seed=0, labels=(0, 0))
