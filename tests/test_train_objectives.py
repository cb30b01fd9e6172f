"""gan_lab.train with the objectives and tricks of chapter 8: LSGAN, hinge, spectral norm, one-sided label
smoothing, instance noise, PacGAN packing. Each trains, repeats bit for bit under its seed, and batches over
seeds (train_seeds) as separate runs do; the tricks do what they say to the critic's inputs and weights."""
import math

import pytest
import torch
from torch import nn

from gan_lab import data as gdata
from gan_lab import lipschitz, loop, nets
from gan_lab.train import TrainConfig, train, train_seeds

TINY = dict(width=32, depth=2, steps=8, batch_size=64, log_every=4, eval_samples=128, lr_g=1e-3, lr_d=1e-3,
            progress=False, device="cpu")
CASES = [
    dict(objective="lsgan"),
    dict(objective="lsgan", targets=(-1.0, 1.0, 0.0)),
    dict(objective="hinge"),
    dict(objective="hinge", spectral_norm=True),
    dict(objective="gan", label_smoothing=0.2),
    dict(objective="gan", instance_noise=0.2),
    dict(objective="wgan-gp", instance_noise=0.1),
    dict(objective="gan", pack=2),
    dict(objective="wgan-gp", pack=4),
    dict(objective="wgan-clip", spectral_norm=True),
    dict(objective="hinge", spectral_norm=True, pack=2, instance_noise=0.1),
]
IDS = ["-".join(f"{k}={v}" for k, v in case.items()) for case in CASES]


def flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def assert_bit_identical(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def numbers(history: dict) -> dict:
    """The history without its wall-clock times."""
    return {k: v for k, v in history.items() if k != "seconds"}


def same_numbers(a: dict, b: dict) -> bool:
    """Equal histories, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        len(a[k]) == len(b[k]) and all(x == y or (x != x and y != y) for x, y in zip(a[k], b[k])) for k in a)


# ---- each new objective and trick trains and repeats under its seed ---------------------------------------

@pytest.mark.parametrize("options", CASES, ids=IDS)
def test_each_objective_and_trick_trains_to_finite_numbers_and_repeats_bit_for_bit(options):
    first = train("8gaussians", **TINY, **options)
    again = train("8gaussians", **TINY, **options)
    h = first.history
    assert h["step"] == [4, 8]
    for key in ("loss_d", "loss_g", "w1"):
        assert all(math.isfinite(v) for v in h[key]), key
    wasserstein = options["objective"] in ("wgan-clip", "wgan-gp")
    assert all(math.isfinite(v) != (not wasserstein) for v in h["estimate"])   # an estimate for WGANs only
    assert all(math.isfinite(v) == (options["objective"] == "wgan-gp") for v in h["penalty"])
    assert_bit_identical(first.generator, again.generator)
    assert_bit_identical(first.critic, again.critic)
    assert same_numbers(numbers(first.history), numbers(again.history))
    assert first.config.resolved() == first.config


@pytest.fixture
def float64():
    """Train in float64 for the comparison, then restore the default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("options", CASES, ids=IDS)
def test_batched_seeds_equal_separate_runs_for_each_objective_and_trick(options, float64):
    """Compared in float64. A stack's batched products round differently from a network's matrix products on
    some CPUs (stop 22's CI CPU), and training amplifies the last bit: in float32 a 1e-8 difference grew to
    1e-4 in 8 hinge steps and to 0.16 in WGAN-clip + SN (RMSProp's first steps move every weight by about
    10 lr whatever its gradient's size, and clipped weights give power iteration nearly equal singular
    values). In float64 the same runs agree to 1e-15 on the CPUs measured; 1e-8 leaves that amplification
    room, and a seed stream, a per-seed mean or a stacked layer gone wrong moves the numbers by more than 1e-3."""
    seeds = [3, 5]
    batched = train_seeds("8gaussians", seeds=seeds, **TINY, **options)
    assert flat(batched[0].generator).dtype == torch.float64
    for seed, b in zip(seeds, batched):
        alone = train("8gaussians", seed=seed, **TINY, **options)
        assert b.config == alone.config
        torch.testing.assert_close(flat(b.generator), flat(alone.generator), atol=1e-8, rtol=0)
        torch.testing.assert_close(flat(b.critic), flat(alone.critic), atol=1e-8, rtol=0)
        torch.testing.assert_close(torch.tensor(b.history["loss_d"]), torch.tensor(alone.history["loss_d"]),
                                   atol=1e-8, rtol=0)
    # 1e-8 is small next to what training moved and next to what another seed's run is
    other = train("8gaussians", seed=seeds[1], **TINY, **options)
    assert (flat(batched[0].generator) - flat(other.generator)).abs().max() > 1e-3


# ---- the tricks at their neutral values change nothing -------------------------------------------------

@pytest.mark.parametrize("objective", ["wgan-gp", "gan"])
def test_instance_noise_0_and_pack_1_leave_a_run_bit_identical_to_one_without_them(objective):
    plain = train("8gaussians", objective=objective, **TINY)
    neutral = train("8gaussians", objective=objective, instance_noise=0, pack=1, **TINY)
    assert_bit_identical(plain.generator, neutral.generator)
    assert_bit_identical(plain.critic, neutral.critic)
    assert same_numbers(numbers(plain.history), numbers(neutral.history))
    noisy = train("8gaussians", objective=objective, instance_noise=0.05, **TINY)
    assert not torch.equal(flat(plain.generator), flat(noisy.generator))   # the noise does reach the run


@pytest.mark.parametrize("objective, sigma, pack", [("gan", 0.0, 1), ("gan", 0.1, 1), ("wgan-gp", 0.0, 2),
                                                   ("wgan-gp", 0.1, 2), ("hinge", 0.3, 4)])
def test_the_training_stream_draws_instance_noise_only_when_it_is_on(objective, sigma, pack):
    """Between two real batches (n_critic = 1) the training stream draws z (B x k), eps (B x 1, WGAN-GP),
    the critic's noise (2B x d), the generator's z (B x k) and its noise (B x d), the last ones only with
    instance_noise > 0: a run with instance_noise = 0 draws exactly what a run without the trick draws."""
    B, k = 32, 3
    states = []

    def real(n, g):                                   # train's stream reaches the sampler: note where it is
        start = g.get_state()
        x = gdata.sample("8gaussians", n, generator=g)
        if n == B:
            states.append((start, g.get_state()))
        return x

    train(real, objective=objective, instance_noise=sigma, pack=pack, n_critic=1, steps=4, batch_size=B,
          noise_dim=k, eval_samples=0, log_every=4, width=16, depth=1, progress=False, device="cpu")
    assert len(states) == 4
    for (_, drawn), (next_batch, _) in zip(states, states[1:]):
        replay = torch.Generator()
        replay.set_state(drawn)
        torch.randn(B, k, generator=replay)
        if objective == "wgan-gp":
            torch.rand(B, 1, generator=replay)
        if sigma > 0:
            torch.randn(2 * B, 2, generator=replay)
        torch.randn(B, k, generator=replay)
        if sigma > 0:
            torch.randn(B, 2, generator=replay)
        assert torch.equal(replay.get_state(), next_batch)


@pytest.mark.parametrize("field, value, match", [
    ("instance_noise", -0.1, r"instance_noise must be a finite number >= 0.0, got -0.1"),
    ("instance_noise", float("nan"), r"instance_noise .* got nan"),
    ("instance_noise", True, r"instance_noise .* got True"),
    ("instance_noise", "0.1", r"instance_noise .* got '0.1'"),
    ("pack", 0, r"pack must be an integer >= 1, got 0"),
    ("pack", 2.0, r"pack must be an integer >= 1, got 2.0"),
    ("pack", True, r"pack must be an integer >= 1, got True"),
    ("pack", 3, r"batch_size=64 must be a multiple of pack=3"),
    ("spectral_norm", 1, r"spectral_norm must be True or False, got 1"),
])
def test_bad_trick_settings_are_refused_naming_them(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(batch_size=64, **{field: value}).resolved()
    with pytest.raises(ValueError, match=match):
        train_seeds("8gaussians", seeds=[0, 1], batch_size=64, progress=False, **{field: value})


# ---- instance noise: N(0, sigma^2) on every critic input, sigma annealed linearly to 0 --------------------

class Recorder(nn.Module):
    """A critic that remembers every input it sees in training mode, then scores it with ``net``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net, self.inputs = net, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.inputs.append(x.detach().clone())
        return self.net(x)


def test_instance_noise_reaches_real_fake_and_generator_inputs_and_anneals_linearly():
    point = torch.tensor([[1.0, -2.0]])               # every real sample is this point
    B, steps, sigma = 256, 4, 0.5
    torch.manual_seed(0)
    G = nn.Linear(2, 2)
    with torch.no_grad():
        G.weight.zero_()
        G.bias.copy_(torch.tensor([-3.0, 0.5]))       # G(z) = a constant, moved by lr_g = 1e-12 only
    D = Recorder(nets.critic(2, width=16, depth=1))
    train(point, objective="gan", generator=G, critic=D, steps=steps, batch_size=B, n_critic=1, lr_g=1e-12,
          instance_noise=sigma, eval_samples=0, log_every=steps, progress=False, device="cpu")
    critic_steps = [x for x in D.inputs if len(x) == 2 * B]
    generator_steps = [x for x in D.inputs if len(x) == B]
    assert len(critic_steps) == steps and len(generator_steps) == steps
    for step in range(1, steps + 1):
        expected = sigma * (1 - (step - 1) / steps)
        real, fake = critic_steps[step - 1][:B], critic_steps[step - 1][B:]
        for x, centre in ((real, point[0]), (fake, G.bias.detach()), (generator_steps[step - 1], G.bias.detach())):
            assert float(x.std(dim=0).mean()) == pytest.approx(expected, rel=0.15), step
            torch.testing.assert_close(x.mean(dim=0), centre, atol=4 * expected / math.sqrt(B), rtol=0)


class FeatureRecorder(Recorder):
    """A Recorder that also remembers the inputs of ``features`` (feature matching's generator step)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__(net)
        self.feature_inputs = []

    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.feature_inputs.append(x.detach().clone())
        return self.net.features(x)


def test_instance_noise_reaches_both_batches_of_feature_matching():
    point = torch.tensor([[1.0, -2.0]])
    B, sigma = 256, 0.5
    torch.manual_seed(0)
    D = FeatureRecorder(nets.critic(2, width=16, depth=1))
    train(point, objective="gan", generator_loss="feature_matching", critic=D, steps=1, batch_size=B,
          instance_noise=sigma, eval_samples=0, log_every=1, progress=False, device="cpu", width=16, depth=1)
    real_h_input, fake_h_input = D.feature_inputs      # one generator step: the real batch, then the fakes
    assert float(fake_h_input.std(dim=0).mean()) > 0.3      # G's spread plus the noise
    assert float(real_h_input.std(dim=0).mean()) == pytest.approx(sigma, rel=0.15)


# ---- pack: the critic scores m samples side by side ---------------------------------------------------

@pytest.mark.parametrize("pack", [2, 4])
def test_pack_builds_a_critic_on_pack_times_d_inputs_alone_and_batched(pack):
    alone = train("8gaussians", pack=pack, **TINY)
    first = [m for m in alone.critic.modules() if isinstance(m, nn.Linear)][0]
    assert first.in_features == 2 * pack
    assert alone.critic(torch.zeros(5, 2 * pack)).shape == (5, 1)
    (batched,) = train_seeds("8gaussians", seeds=[0], pack=pack, **TINY)
    assert [m for m in batched.critic.modules() if isinstance(m, nn.Linear)][0].in_features == 2 * pack
    g = [m for m in alone.generator.modules() if isinstance(m, nn.Linear)]
    assert g[-1].out_features == 2                      # the generator still makes single points


def test_packed_critic_inputs_are_consecutive_samples_of_the_batch_side_by_side():
    B, P = 48, 3
    batches = []

    def real(n, g):                                   # records the real batches train draws
        x = gdata.sample("8gaussians", n, generator=g)
        batches.append(x)
        return x

    torch.manual_seed(0)
    D = Recorder(nets.critic(2 * P, width=16, depth=1))
    train(real, objective="hinge", critic=D, pack=P, steps=3, batch_size=B, n_critic=1, eval_samples=0,
          log_every=3, progress=False, device="cpu", width=16, depth=1)
    draws = [x for x in batches if len(x) == B]
    critic_steps = [x for x in D.inputs if len(x) == 2 * B // P]
    assert len(draws) == len(critic_steps) == 3
    for x, scored in zip(draws, critic_steps):
        assert scored.shape == (2 * B // P, 2 * P)
        assert torch.equal(scored[:B // P], x.reshape(B // P, P * 2))
        assert torch.equal(scored[0], torch.cat([x[0], x[1], x[2]]))
    assert all(x.shape == (B // P, 2 * P) for x in D.inputs if len(x) != 2 * B // P)   # generator steps


def test_a_user_critic_that_does_not_take_packed_inputs_is_refused_before_any_step(monkeypatch):
    monkeypatch.setattr(loop, "optimizer", lambda *a, **k: pytest.fail("training started"))
    torch.manual_seed(0)
    with pytest.raises(ValueError, match=r"critic does not take inputs of shape \(n, 4\)"):
        train("8gaussians", critic=nets.critic(2, width=16), pack=2, **TINY)


def test_a_user_critic_that_takes_packed_inputs_is_the_one_trained():
    torch.manual_seed(0)
    D = nets.critic(6, width=16, depth=1)
    before = flat(D).clone()
    result = train("8gaussians", critic=D, pack=3, **{**TINY, "batch_size": 63})
    assert result.critic is D and not torch.equal(flat(D), before)


# ---- spectral norm: the trained critic's layers stay at spectral norm ~1 --------------------------------

def test_spectral_norm_builds_spectrally_normalised_layers_from_the_same_weights():
    sn = train("8gaussians", spectral_norm=True, **{**TINY, "steps": 1})
    layers = [m for m in sn.critic.modules() if isinstance(m, nn.Linear)]
    assert layers and all(isinstance(m, nets.SpectralNormLinear) for m in layers)
    plain = train("8gaussians", **{**TINY, "steps": 1})
    assert not any(isinstance(m, nets.SpectralNormLinear) for m in plain.critic.modules())


def test_a_spectrally_normalised_critic_ends_with_a_lipschitz_bound_near_1():
    """Measured (hinge, 300 steps, width 32, depth 3, lr 1e-4, 10 seeds at seed offsets 0, 1000, 2000):
    spectral_bound 1.018 - 1.095 with spectral_norm, 1.55 - 2.63 without. The bound is >= 1 by construction
    (sigma = u^T W v <= sigma(W) with the stored u, v) and approaches 1 as the power iteration tracks W."""
    settings = dict(objective="hinge", steps=300, width=32, depth=3, batch_size=64, lr_g=1e-4, lr_d=1e-4,
                    log_every=300, eval_samples=0, progress=False, device="cpu")
    seeds = [0, 1, 2]
    normalised = [lipschitz.spectral_bound(r.critic) for r in
                  train_seeds("8gaussians", seeds=seeds, spectral_norm=True, **settings)]
    plain = [lipschitz.spectral_bound(r.critic) for r in train_seeds("8gaussians", seeds=seeds, **settings)]
    assert all(1 - 1e-6 <= b <= 1.2 for b in normalised), normalised
    assert all(b > 1.4 for b in plain), plain


# ---- label smoothing: the discriminator stops at 1 - alpha on real data ---------------------------------

def test_label_smoothing_keeps_the_discriminators_real_score_near_one_minus_alpha():
    """Measured (gan, 200 steps, lr_d 1e-3, lr_g 1e-4, 3 seeds at seed offsets 0, 1000, 2000): the mean
    sigmoid(D(x)) on real data is 0.66 - 0.70 with alpha = 0.3 (optimum (1 - alpha) p / (p + p_g) <= 0.7)
    and above 0.98 without smoothing; on generated data about 0.01 in both."""
    alpha = 0.3
    settings = dict(objective="gan", steps=200, width=32, depth=3, batch_size=64, lr_d=1e-3, lr_g=1e-4,
                    log_every=200, eval_samples=0, progress=False, device="cpu")
    x = gdata.sample("8gaussians", 2000, seed=7)

    def real_scores(**options):
        out = []
        for r in train_seeds("8gaussians", seeds=[0, 1, 2], **settings, **options):
            with torch.no_grad():
                out.append(float(torch.sigmoid(r.critic(x)).mean()))
        return out

    smoothed, plain = real_scores(label_smoothing=alpha), real_scores()
    assert all(1 - alpha - 0.1 < s < 1 - alpha + 0.03 for s in smoothed), smoothed
    assert all(p > 0.95 for p in plain), plain
