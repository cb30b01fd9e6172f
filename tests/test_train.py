"""gan_lab.train: one loop for "gan", "wgan-clip" and "wgan-gp"; validation, reproducibility, divergence."""
import math
import warnings

import pytest
import torch
from torch import nn

import gan_lab
from gan_lab import nets
from gan_lab.train import OBJECTIVES, TrainConfig, TrainingDiverged, train

TINY = dict(width=32, depth=2, steps=6, batch_size=64, log_every=3, eval_samples=64, progress=False, device="cpu")


def tiny(**kw):
    return {**TINY, **kw}


# ---- configuration -------------------------------------------------------------------------------------

@pytest.mark.parametrize("objective, width, n_critic, optimizer, lr", [("gan", 512, 1, "adam", 1e-4),
                                                                       ("wgan-clip", 512, 5, "rmsprop", 5e-5),
                                                                       ("wgan-gp", 128, 3, "adam", 1e-3)])
def test_each_objective_resolves_to_its_defaults(objective, width, n_critic, optimizer, lr):
    # GAN and WGAN-clip: the papers' toy settings; WGAN-GP: the faster settings of benchmarks/time_to_quality.py
    cfg = TrainConfig(objective=objective).resolved()
    assert (cfg.width, cfg.n_critic, cfg.optimizer, cfg.lr_g, cfg.lr_d) == (width, n_critic, optimizer, lr, lr)
    assert (cfg.depth, cfg.batch_size, cfg.betas) == (3, 256, (0.5, 0.9))


def test_an_explicit_width_wins_over_the_objectives_default():
    assert TrainConfig(objective="wgan-gp", width=512).resolved().width == 512
    assert TrainConfig(objective="gan", width=64).resolved().width == 64


def test_explicit_fields_win_over_the_objectives_defaults():
    cfg = TrainConfig(objective="wgan-clip", n_critic=2, lr_d=1e-3).resolved()
    assert (cfg.n_critic, cfg.lr_d, cfg.lr_g, cfg.optimizer) == (2, 1e-3, 5e-5, "rmsprop")


def test_the_generator_takes_the_critics_optimizer_unless_told_otherwise():
    assert TrainConfig(objective="wgan-clip").resolved().generator_optimizer == "rmsprop"
    assert TrainConfig(objective="wgan-clip", optimizer="adam").resolved().generator_optimizer == "adam"
    cfg = TrainConfig(objective="wgan-clip", optimizer="adam", generator_optimizer="rmsprop").resolved()
    assert (cfg.optimizer, cfg.generator_optimizer) == ("adam", "rmsprop")


def test_adam_on_the_critic_only_leaves_the_generator_on_rmsprop():
    # one generator step: the critic steps come first, so the critic matches an all-Adam run exactly;
    # the generator's first step is lr * g / sqrt(v) with v = (1 - alpha) g^2: RMSProp moves each weight
    # by about 10 lr (alpha = 0.99), Adam by about lr (its bias-corrected first step is lr * sign(g))
    opts = tiny(objective="wgan-clip", steps=1, eval_samples=0, lr_g=1e-3, lr_d=1e-3, optimizer="adam")
    critic_only = train("8gaussians", **opts, generator_optimizer="rmsprop")
    both = train("8gaussians", **opts)
    for p, q in zip(critic_only.critic.parameters(), both.critic.parameters()):
        assert torch.equal(p, q)
    gan_lab.seed_everything(0)
    g0 = nets.generator(2, 2, width=32, depth=2)
    moved = lambda r: max((p - q).abs().max().item() for p, q in zip(r.generator.parameters(), g0.parameters()))  # noqa: E731
    assert 5e-3 < moved(critic_only) < 2e-2
    assert 5e-4 < moved(both) < 2e-3


def test_keyword_overrides_apply_on_top_of_a_config():
    result = train("8gaussians", TrainConfig(objective="gan", steps=2), **tiny(steps=3, eval_samples=0))
    assert result.config.objective == "gan" and result.config.steps == 3 and result.config.n_critic == 1
    assert result.history["step"] == [3]


BAD = [
    (dict(objective="foo"), "'foo'"),
    (dict(steps=0), "steps.*got 0"),
    (dict(steps=2.5), "steps.*got 2.5"),
    (dict(steps=True), "steps.*got True"),
    (dict(batch_size=-1), "batch_size.*got -1"),
    (dict(n_critic=0), "n_critic.*got 0"),
    (dict(lr_g=-1e-4), "lr_g.*got -0.0001"),
    (dict(lr_d=float("nan")), "lr_d.*got nan"),
    (dict(lr_g=float("inf")), "lr_g.*got inf"),
    (dict(optimizer="sgd"), "'sgd'"),
    (dict(generator_optimizer="sgd"), "generator_optimizer 'sgd'"),
    (dict(generator_loss="x"), "'x'"),
    (dict(penalty_weight=-1.0), "penalty_weight.*got -1.0"),
    (dict(objective="wgan-clip", clip=0.0), "clip.*got 0.0"),
    (dict(clip=0.01), "clip=0.01 does not apply to objective 'wgan-gp'"),
    (dict(objective="gan", penalty_weight=10.0), "penalty_weight=10.0 does not apply to objective 'gan'"),
    (dict(objective="hinge", generator_loss="saturating"), "generator_loss='saturating' does not apply"),
    (dict(objective="gan", label_smoothing=1.0), r"label_smoothing must be a finite number in \[0.0, 1.0\)"),
    (dict(objective="lsgan", targets=(1.0, 1.0, 0.0)), "a and the real label b must differ"),
    (dict(objective="lsgan", targets=(0.0, 1.0)), r"targets must be three numbers.*\(0.0, 1.0\)"),
    (dict(pack=3), "batch_size=64 must be a multiple of pack=3"),
    (dict(betas=(0.5, 1.0)), r"betas.*\(0.5, 1.0\)"),
    (dict(width=0), "width.*got 0"),
    (dict(depth=-1), "depth.*got -1"),
    (dict(noise_dim=0), "noise_dim.*got 0"),
    (dict(log_every=0), "log_every.*got 0"),
    (dict(eval_samples=-1), "eval_samples.*got -1"),
    (dict(snapshots=-2), "snapshots.*got -2"),
    (dict(seed=-1), "seed.*got -1"),
    (dict(foo_bar=1), "foo_bar"),
]


@pytest.fixture
def no_work(monkeypatch):
    """A data callable that records its calls, and nets that must not be built."""
    calls = []

    def data(n, g):
        calls.append(n)
        return torch.randn(n, 2, generator=g)

    def forbidden(*args, **kwargs):
        raise AssertionError("a network was built before the input was checked")

    monkeypatch.setattr(nets, "generator", forbidden)
    monkeypatch.setattr(nets, "critic", forbidden)
    return data, calls


@pytest.mark.parametrize("overrides, pattern", BAD, ids=[next(iter(o)) + "=" + repr(next(iter(o.values())))
                                                          for o, _ in BAD])
def test_bad_config_raises_value_error_naming_the_value_before_any_work(no_work, overrides, pattern):
    data, calls = no_work
    with pytest.raises(ValueError, match=pattern):
        train(data, **{**tiny(), **overrides})
    assert calls == []


@pytest.mark.parametrize("objective", ["foo", "GAN", ""])
def test_unknown_objective_in_a_config_object_is_rejected(objective):
    with pytest.raises(ValueError, match=repr(objective)):
        train("8gaussians", TrainConfig(objective=objective), progress=False, device="cpu")


def _tensor_with(value):
    x = torch.randn(50, 2)
    x[7, 1] = value
    return x


@pytest.mark.parametrize("data, pattern", [
    (_tensor_with(float("nan")), "NaN or Inf.*nan"),
    (_tensor_with(float("inf")), "NaN or Inf.*inf"),
    (_tensor_with(-float("inf")), "NaN or Inf.*-inf"),
    ("nope", "'nope'"),
    (torch.randn(50), r"\(50,\)"),
    (torch.zeros(0, 2), r"\(0, 2\)"),
    (42, "int"),
], ids=["nan", "inf", "-inf", "unknown name", "1-D tensor", "empty tensor", "int"])
def test_bad_data_raises_value_error_naming_it_before_building_nets(no_work, data, pattern):
    with pytest.raises(ValueError, match=pattern):
        train(data, **tiny())


def test_a_data_callable_returning_nan_is_rejected_before_training(no_work):
    """The callable is probed once before training; a NaN/Inf probe is bad data, like a NaN tensor."""
    with pytest.raises(ValueError, match="NaN or Inf"):
        train(lambda n, g: torch.full((n, 2), float("nan")), **tiny())


def test_a_bad_device_raises_value_error_naming_it(no_work):
    with pytest.raises(ValueError, match="'gpu0'"):
        train("8gaussians", **tiny(device="gpu0"))


# ---- the result ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("objective", OBJECTIVES)
def test_history_logs_every_log_every_steps_and_the_last(objective):
    result = train("8gaussians", **tiny(objective=objective, steps=7))
    h = result.history
    assert h["step"] == [3, 6, 7]
    assert set(h) == {"step", "loss_d", "loss_g", "estimate", "penalty", "seconds", "w1", "modes", "hq_fraction"}
    assert all(len(v) == 3 for v in h.values())
    assert all(isinstance(w, float) and w > 0 for w in h["w1"])
    assert all(0 <= m <= 8 for m in h["modes"])
    assert h["seconds"] == sorted(h["seconds"]) and result.seconds >= h["seconds"][-1]


def test_history_has_no_w1_on_1d_data_and_no_modes_off_mixtures():
    assert "w1" not in train("gaussian1d", **tiny()).history
    h = train("swissroll", **tiny()).history
    assert "w1" in h and "modes" not in h


def test_eval_samples_0_skips_w1_and_mode_coverage():
    h = train("8gaussians", **tiny(eval_samples=0)).history
    assert "w1" not in h and "modes" not in h and h["step"] == [3, 6]


def test_gan_records_no_wasserstein_estimate_and_no_penalty():
    h = train("8gaussians", **tiny(objective="gan")).history
    assert all(math.isnan(e) for e in h["estimate"]) and all(math.isnan(p) for p in h["penalty"])
    assert all(math.isfinite(v) for v in h["loss_d"] + h["loss_g"])


def test_wgan_gp_records_the_estimate_and_a_non_negative_penalty():
    h = train("8gaussians", **tiny(objective="wgan-gp")).history
    assert all(math.isfinite(e) for e in h["estimate"])
    assert all(math.isfinite(p) and p >= 0 for p in h["penalty"])
    h0 = train("8gaussians", **tiny(objective="wgan-gp", penalty_weight=0.0)).history
    assert all(math.isnan(p) for p in h0["penalty"])


def test_wgan_clip_keeps_every_critic_parameter_within_c():
    c = 0.02
    result = train("8gaussians", **tiny(objective="wgan-clip", clip=c, n_critic=2))
    params = torch.cat([p.detach().flatten() for p in result.critic.parameters()])
    assert params.abs().max() <= c
    assert (params.abs() == c).any()       # clipping was active, not vacuous


def test_the_critic_estimate_is_the_mean_real_score_minus_the_mean_fake_score():
    h = train("8gaussians", **tiny(objective="wgan-clip")).history
    torch.testing.assert_close(torch.tensor(h["estimate"]), -torch.tensor(h["loss_d"]))


def test_given_networks_are_the_ones_trained():
    G, D = nets.generator(2, 3, width=8, depth=1), nets.critic(2, width=8, depth=1)
    before = [p.detach().clone() for p in G.parameters()]
    result = train("8gaussians", generator=G, critic=D, **tiny(noise_dim=3))
    assert result.generator is G and result.critic is D
    assert any(not torch.equal(p, b) for p, b in zip(G.parameters(), before))


def test_a_data_tensor_and_a_data_callable_are_accepted():
    x = torch.randn(300, 2) * 0.1 + 1
    calls = []

    def sampler(n, g):
        assert isinstance(g, torch.Generator)
        calls.append(n)
        return torch.randn(n, 2, generator=g)

    assert train(x, **tiny()).history["w1"][0] > 0
    train(sampler, **tiny(batch_size=16, n_critic=2))
    assert 16 in calls and calls.count(16) == 6 * 2    # n_critic batches of batch_size per step


def test_snapshots_keep_g_of_fixed_noise_at_each_log():
    result = train("8gaussians", **tiny(snapshots=5))
    assert [s for s, _ in result.snapshots] == [3, 6]
    assert all(x.shape == (5, 2) and x.device.type == "cpu" for _, x in result.snapshots)
    assert not torch.equal(result.snapshots[0][1], result.snapshots[1][1])


def test_result_sample_has_shape_n_by_d_and_is_reproducible_with_a_seed():
    result = train("8gaussians", **tiny())
    x = result.sample(40, seed=1)
    assert x.shape == (40, 2) and x.dtype == torch.float32
    assert torch.equal(x, result.sample(40, seed=1)) and not torch.equal(x, result.sample(40, seed=2))


# ---- reproducibility ----------------------------------------------------------------------------------

def _without_seconds(history):
    return {k: v for k, v in history.items() if k != "seconds"}


def _same_floats(a, b):
    """Histories equal entry by entry, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        len(a[k]) == len(b[k]) and all(x == y or (x != x and y != y) for x, y in zip(a[k], b[k])) for k in a)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_same_seed_gives_bitwise_identical_runs_on_the_cpu(objective):
    runs = [train("8gaussians", **tiny(objective=objective, seed=11, snapshots=3)) for _ in range(2)]
    for p, q in zip(runs[0].generator.parameters(), runs[1].generator.parameters()):
        assert torch.equal(p, q)
    for p, q in zip(runs[0].critic.parameters(), runs[1].critic.parameters()):
        assert torch.equal(p, q)
    assert _same_floats(_without_seconds(runs[0].history), _without_seconds(runs[1].history))
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(runs[0].snapshots, runs[1].snapshots))


def test_different_seeds_give_different_runs():
    a, b = (train("8gaussians", **tiny(seed=s)) for s in (1, 2))
    assert not torch.equal(next(a.generator.parameters()), next(b.generator.parameters()))
    assert a.history["loss_d"] != b.history["loss_d"]


# ---- divergence ----------------------------------------------------------------------------------------

# lr 1e30: Adam's first step moves every weight by about 1e30, so the next forward pass overflows float32.
DIVERGING = {
    "gan, absurd learning rates": ("8gaussians", dict(objective="gan", lr_g=1e30, lr_d=1e30)),
    "wgan-gp, absurd learning rates": ("8gaussians", dict(objective="wgan-gp", lr_g=1e30, lr_d=1e30)),
    "wgan-gp, data near the float32 maximum": (torch.full((10, 2), 3e38), dict(objective="wgan-gp")),
}


@pytest.mark.parametrize("case", DIVERGING)
def test_divergence_raises_training_diverged_with_the_step_and_the_partial_result(case):
    data, kw = DIVERGING[case]
    with pytest.raises(TrainingDiverged, match="step 1") as info:
        train(data, **tiny(**kw))
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert isinstance(err.result.generator, nn.Module) and isinstance(err.result.critic, nn.Module)
    assert err.result.config.steps == TINY["steps"] and err.result.history["step"] == []


def test_divergence_after_some_logs_keeps_the_logged_history():
    """lr_g = 1e30 with eval off: the generator blows up in its first update; the losses show it at step 2."""
    with pytest.raises(TrainingDiverged, match="step 2") as info:
        train("8gaussians", **tiny(lr_g=1e30, log_every=1, eval_samples=0))
    assert info.value.result.history["step"] == [1]


def test_divergence_at_a_logged_step_raises_training_diverged_not_a_metrics_error():
    """Same run with evaluation on: the generator's samples are NaN/Inf when step 1 is logged; that is
    divergence too, not bad input to metrics.wasserstein1."""
    with pytest.raises(TrainingDiverged):
        train("8gaussians", **tiny(lr_g=1e30, log_every=1, eval_samples=64))


def test_divergence_raises_no_warnings():
    # torch warns only once per process unless told to always warn
    previous = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(TrainingDiverged):
                train("8gaussians", **tiny(objective="gan", lr_g=1e30, lr_d=1e30))
    finally:
        torch.set_warn_always(previous)
    assert [str(w.message) for w in caught] == []


# ---- training works -----------------------------------------------------------------------------------

def test_wgan_gp_on_8gaussians_reduces_w1():
    result = train("8gaussians", objective="wgan-gp", width=64, steps=150, log_every=30, eval_samples=256,
                   progress=False, device="cpu", seed=0)
    w1 = result.history["w1"]
    assert len(w1) == 5
    assert w1[-1] < 0.95 * w1[0], w1


def test_package_exports_train_and_its_types():
    assert gan_lab.train is train and gan_lab.TrainingDiverged is TrainingDiverged
    assert gan_lab.TrainConfig is TrainConfig and OBJECTIVES == ("gan", "wgan-clip", "wgan-gp", "lsgan", "hinge")


def test_on_log_records_extra_values_at_every_log():
    g = nets.ParallelLines(theta=1.0)
    seen = []

    def record(result):
        seen.append(result.history["step"][-1])
        return {"theta": result.generator.theta.item()}

    lines = lambda n, rng: gan_lab.data.parallel_lines(n, 0.0, generator=rng)
    r = train(lines, generator=g, on_log=record, **tiny(noise_dim=1, eval_samples=0))
    assert seen == r.history["step"] == [3, 6]
    assert r.history["theta"] == pytest.approx([r.history["theta"][0], g.theta.item()])
    assert r.history["theta"][-1] != 1.0          # the one parameter moved


def test_on_log_must_be_callable():
    with pytest.raises(ValueError, match="on_log"):
        train("8gaussians", on_log=3, **tiny())


def test_stop_training_from_on_log_ends_the_run_after_that_log():
    def stop_at_20(result):
        if result.history["step"][-1] >= 20:
            raise gan_lab.StopTraining
        return {"marker": 1.0}

    r = gan_lab.train("8gaussians", objective="wgan-gp", steps=100, log_every=10, width=16, depth=1,
                 eval_samples=0, progress=False, on_log=stop_at_20)
    assert r.history["step"] == [10, 20]
    assert r.history["marker"] == [1.0]          # the stopping log records no extras
    assert len(r.history["seconds"]) == 2


def test_n_critic_early_takes_many_critic_steps_in_the_first_25_generator_steps():
    calls = []

    def sampler(n, g):
        calls.append(n)
        return torch.randn(n, 2, generator=g)

    train(sampler, **tiny(batch_size=16, n_critic=2, n_critic_early=7, steps=30, eval_samples=0))
    assert calls.count(16) == 25 * 7 + 5 * 2


# ---- log_start: a log at step 0, before any training ---------------------------------------------------

def test_log_start_records_the_untrained_generator_and_leaves_the_run_unchanged():
    plain = train("8gaussians", **tiny(objective="wgan-gp"))
    started = train("8gaussians", **tiny(objective="wgan-gp", log_start=True))
    h = started.history
    assert h["step"] == [0] + plain.history["step"]
    assert all(math.isnan(h[key][0]) for key in ("loss_d", "loss_g", "estimate", "penalty"))
    for key in ("loss_d", "loss_g", "estimate", "penalty", "w1", "modes"):
        assert h[key][1:] == plain.history[key], key
    for p, q in zip(started.generator.parameters(), plain.generator.parameters()):
        assert torch.equal(p, q)
    # the step-0 W1 is that of the untrained generator (built right after seeding) on the run's evaluation set
    gan_lab.seed_everything(0)
    g0 = nets.generator(2, 2, width=32, depth=2)
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(20_000))
    real = gan_lab.data.sample("8gaussians", 64, generator=torch.Generator().manual_seed(10_000))
    with torch.no_grad():
        assert h["w1"][0] == pytest.approx(gan_lab.metrics.wasserstein1(g0(z), real), rel=1e-6)
    assert h["w1"][0] != h["w1"][1]


def test_log_start_works_for_batched_seeds_and_can_stop_at_step_0():
    results = gan_lab.train_seeds("8gaussians", seeds=[0, 1], **tiny(objective="gan", log_start=True))
    assert all(r.history["step"][0] == 0 for r in results)
    assert results[0].history["w1"][0] != results[1].history["w1"][0]

    def stop_at_once(result):
        raise gan_lab.StopTraining

    r = train("8gaussians", **tiny(log_start=True), on_log=stop_at_once)
    assert r.stopped and r.history["step"] == [0]
    with pytest.raises(ValueError, match="log_start must be True or False"):
        train("8gaussians", **tiny(log_start=1))


@pytest.mark.parametrize("field, value", [("lr_g", True), ("lr_d", True), ("penalty_weight", True), ("clip", True),
                                          ("betas", ("0.5", 0.9)), ("betas", (True, 0.9)), ("lr_g", "1e-3")])
def test_bools_and_strings_are_not_numbers(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value}).resolved()


def test_integer_betas_and_numpy_rates_train_as_plain_floats():
    import numpy as np
    cfg = TrainConfig(betas=(0, 0.9), lr_g=np.float64(1e-3), steps=2, width=8, depth=1, batch_size=16,
                      log_every=1, eval_samples=0, progress=False).resolved()
    assert cfg.betas == (0.0, 0.9) and type(cfg.betas[0]) is float and type(cfg.lr_g) is float
    result = train("8gaussians", betas=(0, 0.9), steps=2, width=8, depth=1, batch_size=16, log_every=1,
                   eval_samples=0, progress=False)
    assert len(result.history["step"]) == 2


def test_a_sampler_that_ignores_n_is_refused_at_the_first_bad_batch():
    two_rows = lambda n, g: torch.randn(2, 2, generator=g)   # right for the probe (n = 2), wrong after
    with pytest.raises(ValueError, match=r"returned \(2, 2\) for n = 16; it must return \(16, 2\)"):
        train(two_rows, steps=2, width=8, depth=1, batch_size=16, log_every=1, eval_samples=0, progress=False)


@pytest.mark.parametrize("bad, match", [
    (torch.randn(10, 2, dtype=torch.complex64), "real numbers"),
    (lambda n, g: torch.randn(n, 2, dtype=torch.complex64, generator=g), "real floating-point"),
    (lambda n, g: [[0.0, 0.0]] * n, r"returned list"),
])
def test_complex_or_non_tensor_data_is_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        train(bad, steps=1, width=8, depth=1, batch_size=4, log_every=1, eval_samples=0, progress=False)


def test_a_seed_torch_cannot_take_is_refused_by_the_config():
    from gan_lab.images import ImageTrainConfig
    with pytest.raises(ValueError, match="seed must be below 2\\*\\*63"):
        TrainConfig(seed=2**63).resolved()
    with pytest.raises(ValueError, match="seed must be below 2\\*\\*63"):
        ImageTrainConfig(seed=2**64)
    assert TrainConfig(seed=2**63 - 1).resolved().seed == 2**63 - 1
