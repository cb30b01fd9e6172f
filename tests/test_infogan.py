"""gan_lab.infogan: latent codes, Q on the critic's trunk, the mutual-information bound, cluster scores in
closed form, bit-identical seeds and resumes, and a short run whose info loss falls."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from gan_lab import convnets, data, losses
from gan_lab import infogan as ig
from gan_lab.checkpoint import CheckpointError
from gan_lab.infogan import InfoGANConfig, cluster_accuracy, purity, train_infogan

# WGAN-GP, so that seeds and resumes are tested with every draw of the stream (the penalty's eps too)
TINY = InfoGANConfig(size=16, width=8, noise_dim=8, n_categories=3, n_continuous=1, q_width=16, batch_size=8,
                     objective="wgan-gp", n_critic=2, lr=1e-4, betas=(0.0, 0.9), steps=4, log_every=2,
                     checkpoint_every=2, progress=False)


@pytest.fixture(scope="module")
def shapes() -> tuple[torch.Tensor, np.ndarray]:
    """48 16-px shapes of one colour (16 squares, circles, triangles) and their shape labels."""
    classes = [data.ShapeClass(s, 0.25, +1, 0.03) for s in ("square", "circle", "triangle")]
    x, y = data.shapes_dataset(classes, 16, size=16, seed=0)
    return data.to_tensor(x), y


def run(images, **kw):
    return train_infogan(images, TINY, **{"device": "cpu", **kw})


def assert_bit_identical(a: torch.nn.Module, b: torch.nn.Module) -> None:
    wa, wb = a.state_dict(), b.state_dict()
    assert list(wa) == list(wb)
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


# ---- latent codes ---------------------------------------------------------------------------------------

def test_sample_latent_draws_normal_noise_uniform_categories_and_uniform_codes():
    cfg = replace(TINY, n_categories=4, n_continuous=2)
    lat = ig.sample_latent(4000, cfg, torch.Generator().manual_seed(0))
    assert lat.z.shape == (4000, 8) and lat.categories.shape == (4000,) and lat.continuous.shape == (4000, 2)
    assert lat.categories.dtype == torch.int64 and set(lat.categories.tolist()) == {0, 1, 2, 3}
    counts = torch.bincount(lat.categories, minlength=4).float() / 4000
    assert (counts - 0.25).abs().max() < 0.03
    assert lat.continuous.min() >= -1 and lat.continuous.max() <= 1 and lat.continuous.abs().mean() > 0.45
    assert abs(float(lat.z.std()) - 1) < 0.03


def test_generator_input_is_z_then_one_hot_then_continuous():
    z, c, u = torch.randn(5, 3), torch.tensor([0, 2, 1, 2, 0]), torch.rand(5, 2)
    x = ig.generator_input(z, c, u, 3)
    assert x.shape == (5, 3 + 3 + 2)
    assert torch.equal(x[:, :3], z) and torch.equal(x[:, 6:], u)
    assert torch.equal(x[:, 3:6], torch.eye(3)[c])
    assert TINY.latent_dim == 8 + 3 + 1


@pytest.mark.parametrize("args, match", [
    ((torch.randn(2, 3), torch.tensor([0, 3]), torch.rand(2, 1), 3), r"\[0, 3\).*\[0, 3\]"),
    ((torch.randn(2, 3), torch.tensor([0.0, 1.0]), torch.rand(2, 1), 3), "categories.*int64"),
    ((torch.randn(2, 3), torch.tensor([0, 1]), torch.rand(3, 1), 3), "continuous"),
    ((torch.randn(2, 3), torch.tensor([0, 1]), torch.rand(2, 1), 1), "n_categories.*1"),
])
def test_generator_input_refuses_bad_codes(args, match):
    with pytest.raises(ValueError, match=match):
        ig.generator_input(*args)


def test_a_q_that_reads_the_code_perfectly_reaches_the_bound_log_k():
    """L_I = log K - CE: Q that sees G's one-hot input recovers c with certainty; one that sees nothing gets 0."""
    cfg = replace(TINY, n_categories=5)
    lat = ig.sample_latent(64, cfg, torch.Generator().manual_seed(1))
    one_hot = ig.generator_input(*lat, 5)[:, 8:13]
    perfect = losses.mutual_information_lower_bound(60.0 * one_hot, lat.categories, 5)
    blind = losses.mutual_information_lower_bound(torch.zeros(64, 5), lat.categories, 5)
    assert float(perfect) == pytest.approx(math.log(5), abs=1e-6)
    assert float(blind) == pytest.approx(0.0, abs=1e-6)


# ---- networks -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, norm", [("dcgan", "none"), ("resnet", "none"), ("dcgan", "spectral"),
                                        ("resnet", "layer")])
def test_the_critics_head_on_critic_features_is_the_critic(kind, norm):
    torch.manual_seed(0)
    D = convnets.Critic(16, 8, kind, norm).eval()
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    h = ig.critic_features(D, x)
    assert h.shape == (4, D.head.in_features)
    assert torch.equal(D.head(h).view(-1), D(x))


def test_build_networks_sizes_g_for_z_plus_codes_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    G, D, Q = ig.build_networks(TINY)
    assert torch.equal(torch.random.get_rng_state(), before)
    G2, D2, Q2 = ig.build_networks(TINY)
    for a, b in ((G, G2), (D, D2), (Q, Q2)):
        assert_bit_identical(a, b)
    assert G(torch.zeros(2, TINY.latent_dim)).shape == (2, 3, 16, 16)
    logits, mean, log_std = Q(ig.critic_features(D, torch.zeros(2, 3, 16, 16)))
    assert logits.shape == (2, 3) and mean.shape == (2, 1) and log_std.shape == (2, 1)


def test_q_head_clamps_log_sigma_and_has_no_continuous_outputs_without_codes():
    q = ig.QHead(4, 3, 2, width=4)
    with torch.no_grad():
        q.net[2].bias.fill_(1e3)
    _, _, log_std = q(torch.zeros(1, 4))
    assert torch.equal(log_std, torch.full((1, 2), 2.0))
    logits, mean, log_std = ig.QHead(4, 3, 0)(torch.zeros(2, 4))
    assert logits.shape == (2, 3) and mean.shape == (2, 0) and log_std.shape == (2, 0)


# ---- cluster scores -------------------------------------------------------------------------------------

def test_a_relabelled_truth_scores_one():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    perm = np.array([2, 0, 1])
    assert cluster_accuracy(perm[y], y) == 1.0 and purity(perm[y], y) == 1.0
    assert cluster_accuracy(torch.as_tensor(perm[y]), torch.as_tensor(y)) == 1.0


def test_cluster_accuracy_and_purity_by_hand():
    """Clusters {0: y=0,0,1}, {1: y=1,1,2}, {2: y=2,2,2,0}; best map 0->0, 1->1, 2->2: (2 + 2 + 3) / 10."""
    pred = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    y = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 0])
    assert cluster_accuracy(pred, y) == pytest.approx(0.7)
    assert purity(pred, y) == pytest.approx(0.7)
    assert ig.contingency(pred, y).tolist() == [[2, 1, 0], [0, 2, 1], [1, 0, 3]]


def test_purity_lets_clusters_share_a_label_accuracy_does_not():
    """Two clusters of label 0 and one of label 1: purity 1; one-to-one, one of the 0-clusters is wrong."""
    pred, y = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 0, 0, 1, 1])
    assert purity(pred, y) == 1.0
    assert cluster_accuracy(pred, y) == pytest.approx(4 / 6)
    constant = np.zeros(9, dtype=np.int64)
    assert cluster_accuracy(constant, np.repeat([0, 1, 2], 3)) == pytest.approx(1 / 3)


@pytest.mark.parametrize("pred, y, match", [
    (np.array([0.0, 1.0]), np.array([0, 1]), "predicted.*integers.*float64"),
    (np.array([0, 1]), np.array([0, 1, 1]), "same length.*2 and 3"),
    (np.array([0, -1]), np.array([0, 1]), "predicted.*non-negative.*-1 at index 1"),
    (np.array([], dtype=np.int64), np.array([], dtype=np.int64), "non-empty"),
    (np.zeros((2, 2), dtype=np.int64), np.array([0, 1]), r"shape \(2, 2\)"),
    (np.array([0, 1]), np.array([True, False]), "labels.*bool"),
])
def test_cluster_scores_refuse_bad_input(pred, y, match):
    for score in (cluster_accuracy, purity):
        with pytest.raises(ValueError, match=match):
            score(pred, y)


# ---- configuration --------------------------------------------------------------------------------------

def test_defaults_fill_only_the_chosen_objectives_lipschitz_setting():
    cfg = InfoGANConfig()
    assert (cfg.objective, cfg.penalty_weight, cfg.clip, cfg.n_critic, cfg.lr, cfg.betas) == \
        ("gan", None, None, 1, 1e-3, (0.5, 0.999))
    assert InfoGANConfig(objective="wgan-clip").clip == 0.01
    assert InfoGANConfig(objective="wgan-gp").penalty_weight == 10.0
    assert InfoGANConfig(betas=[0.5, 0.99]).betas == (0.5, 0.99)


BAD = [
    (dict(size=28), "size.*28"), (dict(width=0), "width.*0"), (dict(kind="vae"), "'vae'"),
    (dict(critic_norm="batch"), "'batch'"), (dict(generator="unet"), "'unet'"), (dict(objective="vae"), "'vae'"),
    (dict(noise_dim=0), "noise_dim.*0"), (dict(n_categories=1), "n_categories.*1"),
    (dict(n_categories=2.0), "n_categories.*2.0"), (dict(n_continuous=-1), "n_continuous.*-1"),
    (dict(info_weight=-0.5), "info_weight.*-0.5"), (dict(info_weight=float("nan")), "info_weight.*nan"),
    (dict(continuous_weight=True), "continuous_weight.*True"), (dict(q_width=0), "q_width.*0"),
    (dict(steps=0), "steps.*0"), (dict(batch_size=1), "batch_size.*1"), (dict(n_critic=0), "n_critic.*0"),
    (dict(lr=0.0), "lr.*0.0"), (dict(betas=(0.5, 1.0)), r"betas.*\(0.5, 1.0\)"), (dict(seed=-1), "seed.*-1"),
    (dict(log_every=0), "log_every.*0"), (dict(checkpoint_every=-1), "checkpoint_every.*-1"),
    (dict(penalty_weight=-1.0), "penalty_weight.*-1.0"), (dict(clip=0.01), "clip=0.01.*'gan'"),
    (dict(objective="gan", penalty_weight=10.0), "penalty_weight=10.0.*'gan'"),
    (dict(progress="no"), "progress.*'no'"),
]


@pytest.mark.parametrize("bad, match", BAD)
def test_bad_config_fields_raise_naming_the_value(bad, match):
    with pytest.raises(ValueError, match=match):
        InfoGANConfig(**bad)


def test_bad_arguments_are_refused_before_any_work(shapes, tmp_path):
    x, _ = shapes
    path = tmp_path / "run.pt"
    for kwargs, match in [(dict(n_categories=1), "n_categories.*1"), (dict(nonsense=3), "nonsense"),
                          (dict(resume="yes"), "resume.*'yes'"), (dict(on_log=3), "on_log")]:
        with pytest.raises(ValueError, match=match):
            run(x, checkpoint_path=path, **kwargs)
    with pytest.raises(ValueError, match=r"images.*\(n, 3, 16, 16\)"):
        run(x[:, :, :8, :8], checkpoint_path=path)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        run(x * 3, checkpoint_path=path)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_path"):
        run(x, resume=True)
    assert list(tmp_path.iterdir()) == []


# ---- training -------------------------------------------------------------------------------------------

def test_the_same_seed_gives_bit_identical_networks_and_history(shapes):
    x, _ = shapes
    a, b, c = run(x), run(x), run(x, seed=1)
    for net in ("generator", "critic", "q"):
        assert_bit_identical(getattr(a, net), getattr(b, net))
    assert {k: v for k, v in a.history.items() if k != "seconds"} == \
        {k: v for k, v in b.history.items() if k != "seconds"}
    assert not torch.equal(a.q.net[0].weight, c.q.net[0].weight)
    assert a.history["step"] == [2, 4] and set(a.history) >= {"loss_d", "loss_g", "info_loss", "mi_bound"}
    assert all(math.isfinite(v) and v >= 0 for v in a.history["penalty"])


def test_an_interrupted_run_resumes_to_the_uninterrupted_run(shapes, tmp_path):
    x, _ = shapes
    cfg = dict(steps=6, log_every=1, checkpoint_every=2)
    whole = run(x, **cfg)
    path = tmp_path / "run.pt"

    def interrupt(result):
        if result.history["step"][-1] == 5:    # after the checkpoint at step 4: step 5's work is lost
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(x, **cfg, checkpoint_path=path, on_log=interrupt)
    resumed = run(x, **cfg, checkpoint_path=path, resume=True)
    assert resumed.start_step == 4
    for net in ("generator", "critic", "q"):
        assert_bit_identical(getattr(whole, net), getattr(resumed, net))
    for key in ("step", "loss_d", "loss_g", "penalty", "info_loss", "mi_bound", "mi_bound_continuous"):
        assert np.array_equal(whole.history[key], resumed.history[key], equal_nan=True), key


def test_a_checkpoint_of_another_config_is_refused(shapes, tmp_path):
    x, _ = shapes
    path = tmp_path / "run.pt"
    run(x, checkpoint_path=path)
    with pytest.raises(ValueError, match="n_categories: checkpoint 3, given 4"):
        run(x, n_categories=4, checkpoint_path=path, resume=True)
    with pytest.raises(ValueError, match="step 4, beyond steps=2"):
        run(x, steps=2, checkpoint_path=path, resume=True)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        run(x, checkpoint_path=junk, resume=True)


def test_a_short_run_has_finite_losses_and_its_info_loss_falls(shapes):
    """40 steps of the standard GAN at 16 px: Q and G learn to agree on the code long before the images are good
    (on this seed the info loss falls by 0.9 nats; other seeds by 0.2 to 0.9)."""
    x, _ = shapes
    r = run(x, objective="gan", n_critic=1, lr=2e-3, betas=(0.5, 0.999), steps=40, log_every=1, batch_size=16)
    h = r.history
    for key in ("loss_d", "loss_g", "info_loss", "mi_bound", "mi_bound_continuous"):
        assert all(math.isfinite(v) for v in h[key]), key
    assert all(math.isnan(v) for v in h["penalty"])
    first, last = np.mean(h["info_loss"][:5]), np.mean(h["info_loss"][-5:])
    assert last < first - 0.5, (first, last)
    assert max(h["mi_bound"]) <= math.log(3)
    assert np.mean(h["mi_bound"][-5:]) > np.mean(h["mi_bound"][:5]) + 0.5


def test_weight_clipping_keeps_the_critic_in_its_box(shapes):
    x, _ = shapes
    r = run(x, objective="wgan-clip", clip=0.02)
    assert all(float(p.detach().abs().max()) <= 0.02 for p in r.critic.parameters())
    assert all(math.isnan(v) for v in r.history["penalty"])


def test_on_log_extras_go_into_the_history_and_stop_training_stops(shapes):
    x, _ = shapes

    def stop_at_2(result):
        if result.history["step"][-1] == 2:
            raise ig.StopTraining
        return {"k": 1}

    r = run(x, log_every=1, on_log=stop_at_2)
    assert r.stopped and r.history["step"] == [1, 2] and r.history["k"] == [1]


# ---- using a trained run --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(shapes):
    return run(shapes[0])


def test_infer_codes_gives_one_category_and_the_continuous_means_per_image(trained, shapes):
    x, y = shapes
    cats, means = ig.infer_codes(trained, x, batch_size=7)
    assert cats.shape == (48,) and cats.dtype == torch.int64 and means.shape == (48, 1)
    assert cats.min() >= 0 and cats.max() < 3
    logits, mean, _ = trained.q(ig.critic_features(trained.critic, x))
    assert torch.equal(cats, logits.argmax(1)) and torch.allclose(means, mean)
    assert 1 / 3 <= cluster_accuracy(cats, y) <= purity(cats, y) <= 1


def test_generate_is_seeded_uses_the_codes_and_can_share_z(trained):
    codes = torch.tensor([0, 1, 2, 0])
    a = ig.generate(trained, codes, seed=3)
    assert a.shape == (4, 3, 16, 16) and a.abs().max() <= 1
    assert torch.equal(a, ig.generate(trained, codes, seed=3))
    assert not torch.equal(a, ig.generate(trained, codes, seed=4))
    shared = ig.generate(trained, torch.tensor([1, 1]), seed=3, shared_noise=True)
    assert torch.equal(shared[0], shared[1])
    assert trained.generator.training
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        ig.generate(trained, torch.tensor([3]))
    with pytest.raises(ValueError, match=r"continuous.*\(1, 1\)"):
        ig.generate(trained, torch.tensor([0]), torch.zeros(1, 2))


def test_code_traversal_puts_categories_on_rows_and_one_code_on_columns(trained):
    grid = ig.code_traversal(trained, [-1.0, 0.0, 1.0], seed=5)
    assert grid.shape == (9, 3, 16, 16)
    row1 = ig.generate(trained, torch.tensor([1, 1, 1]), torch.tensor([[-1.0], [0.0], [1.0]]), seed=5,
                       shared_noise=True)
    torch.testing.assert_close(grid[3:6], row1)      # the same inputs (a batch of 9 vs 3 may round apart)
    assert not torch.allclose(grid[0:3], grid[3:6])
    with pytest.raises(ValueError, match="dim must be < n_continuous = 1, got 1"):
        ig.code_traversal(trained, [0.0], dim=1)
