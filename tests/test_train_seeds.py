"""gan_lab.train_seeds: K seeds as one batched computation equal K separate runs; per-seed divergence."""
import pytest
import torch

import gan_lab
from gan_lab import nets
from gan_lab.train import TrainConfig, train, train_seeds

TINY = dict(width=32, depth=2, steps=12, batch_size=64, log_every=4, eval_samples=128, snapshots=3,
            progress=False, device="cpu")
SEEDS = [3, 5, 11]


def _params(result):
    return list(result.generator.parameters()) + list(result.critic.parameters())


def _initial(cfg):
    gan_lab.seed_everything(cfg.seed)
    return torch.cat([p.detach().flatten() for m in (nets.generator(2, cfg.noise_dim, width=cfg.width, depth=cfg.depth),
                                                     nets.critic(2, width=cfg.width, depth=cfg.depth))
                      for p in m.parameters()])


def _flat(result):
    return torch.cat([p.detach().flatten() for p in _params(result)])


def _assert_same_run(batched, separate, atol=1e-4):
    """Same trajectory up to summation order: the parameters differ by under 1% of how far training moved
    them (a different data stream or a leak between seeds moves them by about as much as training does),
    and every logged number agrees to ``atol``."""
    assert batched.config == separate.config
    moved = (_flat(separate) - _initial(separate.config)).norm()
    assert moved > 0
    assert (_flat(batched) - _flat(separate)).norm() <= 0.01 * moved
    for key in ("step", "modes"):
        if key in separate.history:
            assert batched.history[key] == separate.history[key]
    for key in ("loss_d", "loss_g", "estimate", "penalty", "w1", "hq_fraction"):
        if key in separate.history:
            torch.testing.assert_close(torch.tensor(batched.history[key]), torch.tensor(separate.history[key]),
                                       atol=atol, rtol=0, equal_nan=True)
    for (s1, x1), (s2, x2) in zip(batched.snapshots, separate.snapshots):
        assert s1 == s2
        torch.testing.assert_close(x1, x2, atol=atol, rtol=0)


# WGAN-GP at the paper's lr 1e-4: at the default 1e-3 rounding differences between the batched and separate
# sums grow past the tolerance within a dozen steps, which says nothing about the batching itself.
@pytest.mark.parametrize("options", [
    dict(objective="wgan-gp", lr_g=1e-4, lr_d=1e-4),
    dict(objective="wgan-gp", one_sided=True, n_critic_early=3, lr_g=1e-4, lr_d=1e-4),
    dict(objective="wgan-clip"),
    dict(objective="wgan-clip", optimizer="adam"),
    dict(objective="gan", generator_loss="saturating"),
    dict(objective="gan", generator_loss="non_saturating"),
], ids=lambda o: "-".join(str(v) for v in o.values()))
def test_batched_seeds_equal_separate_runs_with_the_same_seeds(options):
    batched = train_seeds("8gaussians", seeds=SEEDS, **TINY, **options)
    separate = [train("8gaussians", seed=s, **TINY, **options) for s in SEEDS]
    assert [r.config.seed for r in batched] == SEEDS
    for b, s in zip(batched, separate):
        _assert_same_run(b, s)
    # and the seeds really are different runs
    assert batched[0].history["w1"] != batched[1].history["w1"]


def test_batched_seeds_return_separate_plain_mlps_on_the_device():
    results = train_seeds("25gaussians", seeds=[0, 1], **TINY)
    assert all(isinstance(r.generator, nets.MLP) and isinstance(r.critic, nets.MLP) for r in results)
    assert results[0].generator is not results[1].generator
    assert results[0].sample(5, seed=1).shape == (5, 2)
    assert results[0].seconds == results[1].seconds > 0


def test_a_config_object_and_overrides_combine_as_in_train():
    cfg = TrainConfig(objective="wgan-clip", clip=0.05, **{k: v for k, v in TINY.items() if k != "device"})
    results = train_seeds("swissroll", cfg, seeds=[2], steps=4, device="cpu")
    assert results[0].config == cfg.resolved().__class__(**{**cfg.resolved().__dict__, "steps": 4, "seed": 2})
    assert all(p.abs().max() <= 0.05 for p in results[0].critic.parameters())


def test_one_seed_diverging_stops_only_that_seed():
    """The sampler hands seed 5's generator NaN data: seed 5 stops at step 1, the others match train()."""
    def sampler(n, g):
        x = torch.randn(n, 2, generator=g)
        return x * float("nan") if g.initial_seed() == 5 else x

    results = train_seeds(sampler, seeds=SEEDS, **TINY)
    assert results[1].diverged is not None and "step 1" in results[1].diverged
    assert results[1].history["step"] == []
    assert results[0].diverged is None and results[2].diverged is None
    for k in (0, 2):
        _assert_same_run(results[k], train(sampler, seed=SEEDS[k], **TINY))
    with pytest.raises(gan_lab.TrainingDiverged, match="step 1"):
        train(sampler, seed=5, **TINY)


def test_on_log_sees_each_seed_and_stop_training_ends_only_that_seed():
    seen = []

    def on_log(result):
        seen.append((result.config.seed, result.history["step"][-1]))
        assert isinstance(result.generator, nets.MLP)
        if result.config.seed == 5:
            raise gan_lab.StopTraining
        return {"first_bias": result.generator.net[0].bias[0].detach().item()}

    results = train_seeds("8gaussians", seeds=SEEDS, on_log=on_log, **TINY)
    assert seen[:3] == [(3, 4), (5, 4), (11, 4)]
    assert results[1].stopped and results[1].history["step"] == [4]
    assert results[0].history["step"] == [4, 8, 12] and len(results[0].history["first_bias"]) == 3
    assert results[0].history["first_bias"][-1] == pytest.approx(results[0].generator.net[0].bias[0].detach().item())


@pytest.mark.parametrize("seeds, match", [
    ([], "non-empty"), ([1, 1], "distinct"), ([0, -1], "non-negative"), ([0, True], "non-negative"),
    ([0, 1.5], "non-negative"),
])
def test_bad_seeds_are_rejected_before_any_work(seeds, match):
    with pytest.raises(ValueError, match=match):
        train_seeds("8gaussians", seeds=seeds, **TINY)


def test_bad_options_are_rejected_as_in_train():
    with pytest.raises(ValueError, match="unknown training option"):
        train_seeds("8gaussians", seeds=[0], widht=3)
    with pytest.raises(ValueError, match="n_critic_early"):
        train_seeds("8gaussians", seeds=[0], n_critic_early=-1)
