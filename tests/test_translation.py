"""gan_lab.translation: the translator's shapes and range, the losses' closed forms on hand-built generators and
critics (identity maps, constant shifts, constant scores), the config's refusals, seed determinism, and a
checkpointed run that is interrupted and resumed to the uninterrupted run's weights bit for bit."""
import math
import os
from dataclasses import replace

import pytest
import torch
from torch import nn

from gan_lab import data, losses, settings
from gan_lab import translation as tr
from gan_lab.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from gan_lab.translation import (StopTraining, TrainingDiverged, TranslationConfig, Translator, critic_objective,
                                 generator_objective, identity_loss, reconstruction_loss, train_translation,
                                 translate)

TINY = TranslationConfig(width=4, blocks=1, batch_size=3, steps=6, log_every=2, checkpoint_every=2, progress=False)


@pytest.fixture(scope="module")
def domains():
    """8 squares and 6 circles of two colours at 16 px, as float tensors in [-1, 1] (unpaired: sizes differ)."""
    a, _ = data.shapes_dataset([data.ShapeClass("square", 0.25, 1, 0.03), data.ShapeClass("square", 0.60, -1, 0.03)],
                               4, size=16, seed=1)
    b, _ = data.shapes_dataset([data.ShapeClass("circle", 0.25, 1, 0.03), data.ShapeClass("circle", 0.60, -1, 0.03)],
                               3, size=16, seed=2)
    return data.to_tensor(a), data.to_tensor(b)


def run(domains, config=TINY, **kw):
    return train_translation(*domains, config, **{"device": "cpu", **kw})


def assert_bit_identical(a: nn.Module, b: nn.Module) -> None:
    wa, wb = a.state_dict(), b.state_dict()
    assert list(wa) == list(wb)
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


class Shift(nn.Module):
    """x -> x + c: a generator whose every loss term has a closed form (c = 0 is the identity map)."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = c

    def forward(self, x):
        return x + self.c


class Scale(nn.Module):
    """x -> s x: moves an image by |s - 1| |x|, so its identity loss depends on which domain it sees."""

    def __init__(self, s: float) -> None:
        super().__init__()
        self.s = s

    def forward(self, x):
        return self.s * x


class Constant(nn.Module):
    """A critic that scores every image k."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x):
        return torch.full((len(x),), self.k, dtype=x.dtype) + 0 * x.sum(dim=(1, 2, 3))


class MeanScore(nn.Module):
    """A critic that scores an image by its mean pixel."""

    def forward(self, x):
        return x.mean(dim=(1, 2, 3))


# ---- the translator ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [16, 32])
def test_translator_maps_images_to_images_of_the_same_shape_inside_the_tanh_range(size):
    torch.manual_seed(0)
    G = Translator(size, width=4, blocks=2)
    x = torch.rand(3, 3, size, size) * 2 - 1
    y = G(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert -1 < y.min() and y.max() < 1 and y.std() > 0.01          # inside tanh's range, not constant
    y.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in G.parameters())
    assert len(G.residual) == 2 and G.residual[0].body[1].in_channels == 16        # 4 width at size / 4
    with pytest.raises(ValueError, match=rf"\(n, 3, {size}, {size}\).*\(3, 3, 8, 8\)"):
        G(torch.zeros(3, 3, 8, 8))


def test_translator_is_one_function_in_train_and_eval_mode_and_per_image():
    torch.manual_seed(1)
    G = Translator(16, width=4, blocks=1)
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    y_train = G.train()(x)
    y_eval = G.eval()(x)
    torch.testing.assert_close(y_train, y_eval, rtol=0, atol=0)      # instance norm keeps no running statistics
    torch.testing.assert_close(G(x[1:2]), y_eval[1:2], rtol=1e-5, atol=1e-6)   # no statistics across the batch


@pytest.mark.parametrize("bad, match", [(dict(size=24), "size must be one of"), (dict(size=16.0), "size must be"),
                                        (dict(width=0), "width"), (dict(blocks=-1), "blocks")])
def test_translator_refuses_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        Translator(**{"size": 16, **bad})


# ---- the losses -------------------------------------------------------------------------------------------

def test_identity_loss_is_zero_for_identity_maps_and_the_shift_for_shifts(domains):
    a, b = domains
    assert identity_loss(nn.Identity(), nn.Identity(), a, b).item() == 0.0
    assert identity_loss(Shift(0.0), Shift(0.0), a, b).item() == 0.0
    # E|G_BA(a) - a| + E|G_AB(b) - b| = |d| + |c| for G_AB = x + c, G_BA = x + d
    torch.testing.assert_close(identity_loss(Shift(0.25), Shift(-0.5), a, b), torch.tensor(0.75))


def test_identity_loss_gives_each_generator_its_target_domain(domains):
    a, b = domains
    assert a.abs().mean() != pytest.approx(b.abs().mean().item())      # squares and circles cover other areas
    # G_BA sees a (moved by |0.5 - 1| |a|), G_AB sees b (moved by |2 - 1| |b|)
    expected = 0.5 * a.abs().mean() + 1.0 * b.abs().mean()
    torch.testing.assert_close(identity_loss(Scale(2.0), Scale(0.5), a, b), expected)
    out = generator_objective(Scale(2.0), Scale(0.5), Constant(1.0), Constant(1.0), a, b, TranslationConfig())
    torch.testing.assert_close(out.identity, expected)


@pytest.mark.parametrize("method", ["cyclegan", "discogan"])
def test_generator_objective_in_closed_form_for_shifts_and_constant_critics(domains, method):
    a, b = domains
    c, d, k = 0.25, -0.125, 0.3
    cfg = TranslationConfig(method=method, cycle_weight=3.0, identity_weight=None if method == "discogan" else 2.0)
    out = generator_objective(Shift(c), Shift(d), Constant(k), Constant(k), a, b, cfg)
    # cycle: G_BA(G_AB(a)) = a + c + d, through losses.cycle_consistency_loss (the L1 E|x - x_hat|)
    assert out.cycle_a.item() == pytest.approx(abs(c + d)) and out.cycle_b.item() == pytest.approx(abs(c + d))
    torch.testing.assert_close(out.cycle_a, losses.cycle_consistency_loss(a, a + c + d))
    if method == "cyclegan":   # E(D - 1)^2 per direction (twice objectives' 1/2 E(D - 1)^2); L1 cycle; identity
        adversarial, reconstruction = 2 * (k - 1) ** 2, 2 * abs(c + d)
        assert out.identity.item() == pytest.approx(abs(c) + abs(d))
        total = adversarial + 3.0 * reconstruction + 2.0 * (abs(c) + abs(d))
    else:                      # -log sigmoid(k) per direction; MSE reconstruction; no identity term
        adversarial, reconstruction = 2 * math.log1p(math.exp(-k)), 2 * (c + d) ** 2
        assert out.identity is None
        total = adversarial + 3.0 * reconstruction
    assert out.adversarial.item() == pytest.approx(adversarial, rel=1e-6)
    assert out.reconstruction.item() == pytest.approx(reconstruction, rel=1e-6)
    assert out.total.item() == pytest.approx(total, rel=1e-6)
    torch.testing.assert_close(out.fake_b, a + c)
    torch.testing.assert_close(out.fake_a, b + d)


def test_a_zero_identity_weight_drops_the_term_and_its_cost(domains):
    a, b = domains
    out = generator_objective(Shift(0.5), Shift(0.5), Constant(1.0), Constant(1.0), a, b,
                              TranslationConfig(identity_weight=0))
    assert out.identity is None
    assert out.total.item() == pytest.approx(10 * 2 * 1.0)            # lambda_cyc 10 x (|1| + |1|), D at its target


@pytest.mark.parametrize("method", ["cyclegan", "discogan"])
def test_critic_objective_in_closed_form_per_domain_and_blind_to_the_generators(method):
    real_a, real_b = torch.full((3, 3, 16, 16), 0.5), torch.full((2, 3, 16, 16), 1.0)
    fake_a = torch.full((3, 3, 16, 16), -0.5, requires_grad=True)
    fake_b = torch.zeros(3, 3, 16, 16, requires_grad=True)
    loss_a, loss_b = critic_objective(MeanScore(), MeanScore(), real_a, real_b, fake_a, fake_b,
                                      TranslationConfig(method=method))
    if method == "cyclegan":    # 1/2 (D(real) - 1)^2 + 1/2 D(fake)^2 for each critic
        expected_a, expected_b = 0.5 * 0.25 + 0.5 * 0.25, 0.5 * 0.0 + 0.5 * 0.0
    else:                       # softplus(-D(real)) + softplus(D(fake))
        softplus = lambda t: math.log1p(math.exp(t))    # noqa: E731
        expected_a, expected_b = softplus(-0.5) + softplus(-0.5), softplus(-1.0) + softplus(0.0)
    assert loss_a.item() == pytest.approx(expected_a, rel=1e-6, abs=1e-12)
    assert loss_b.item() == pytest.approx(expected_b, rel=1e-6, abs=1e-12)
    assert not (loss_a + loss_b).requires_grad                        # the fakes were detached


def test_reconstruction_loss_is_l1_for_cyclegan_and_mse_for_discogan():
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(2, 3, 4, 4, generator=g), torch.rand(2, 3, 4, 4, generator=g)
    torch.testing.assert_close(reconstruction_loss("cyclegan", x, y), (x - y).abs().mean())
    torch.testing.assert_close(reconstruction_loss("discogan", x, y), ((x - y) ** 2).mean())
    with pytest.raises(ValueError, match="unknown method 'pix2pix'"):
        reconstruction_loss("pix2pix", x, y)
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_loss("discogan", x, y[:1])


# ---- configuration ------------------------------------------------------------------------------------------

def test_defaults_are_the_papers_weights_and_adam():
    cyc, disco = TranslationConfig(), TranslationConfig(method="discogan")
    assert (cyc.cycle_weight, cyc.identity_weight, cyc.lr, cyc.betas) == (10.0, 5.0, 2e-4, (0.5, 0.999))
    assert (disco.cycle_weight, disco.identity_weight) == (1.0, 0.0)
    assert (cyc.reconstruction, disco.reconstruction) == ("l1", "mse")
    assert [o.name for o, _ in (cyc.adversarial(), disco.adversarial())] == ["lsgan", "gan"]
    assert TranslationConfig(cycle_weight=4).identity_weight == 2.0        # 0.5 lambda_cyc
    assert TranslationConfig(identity_weight=0).identity_weight == 0.0
    assert TranslationConfig(method="discogan", identity_weight=0).identity_weight == 0.0
    assert TranslationConfig(betas=[0.5, 0.9]).betas == (0.5, 0.9)


@pytest.mark.parametrize("bad, match", [
    (dict(method="discogan", identity_weight=0.5), "identity_weight=0.5 does not apply to method 'discogan'"),
    (dict(method="unit"), "unknown method 'unit'"),
    (dict(size=24), "size must be one of .* got 24"),
    (dict(size=16.0), "size must be one of .* got 16.0"),
    (dict(size=True), "size must be one of .* got True"),
    (dict(width=0), "width must be an integer >= 1, got 0"),
    (dict(blocks=1.5), "blocks must be an integer >= 0, got 1.5"),
    (dict(steps=0), "steps must be an integer >= 1, got 0"),
    (dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
    (dict(lr=0), "lr must be a positive finite number, got 0"),
    (dict(betas=(0.5, 1.0)), r"betas must be two numbers in \[0, 1\)"),
    (dict(cycle_weight=-1), "cycle_weight must be a finite number >= 0.0, got -1"),
    (dict(identity_weight=float("nan")), "identity_weight must be a finite number"),
    (dict(seed=-1), "seed must be an integer >= 0, got -1"),
    (dict(checkpoint_every=-1), "checkpoint_every must be an integer >= 0"),
    (dict(progress=1), "progress must be True or False, got 1"),
])
def test_bad_config_values_are_refused_naming_them(bad, match):
    with pytest.raises(ValueError, match=match):
        TranslationConfig(**bad)


@pytest.mark.parametrize("make, match", [
    (lambda a, b: (a, b[:, :, :8, :8]), r"domain_b must have shape \(n, 3, 16, 16\).*\(6, 3, 8, 8\)"),
    (lambda a, b: (a[:, :2], b), r"domain_a must have shape \(n, 3, 16, 16\).*\(8, 2, 16, 16\)"),
    (lambda a, b: (a[:0], b), r"domain_a must have shape .* with n > 0"),
    (lambda a, b: (((a + 1) * 127.5).to(torch.uint8), b), "domain_a must be a float tensor.*uint8.*to_tensor"),
    (lambda a, b: (a, b * 2), r"domain_b must lie in \[-1, 1\]"),
    (lambda a, b: (a, b.index_fill(0, torch.tensor([2]), float("nan"))), "domain_b contains NaN"),
    (lambda a, b: (a.numpy(), b), "domain_a must be a float tensor.*ndarray"),
])
def test_bad_domains_are_refused_before_any_work_or_file(domains, tmp_path, monkeypatch, make, match):
    monkeypatch.setattr(tr, "build_networks", lambda cfg: pytest.fail("networks built"))
    path = tmp_path / "c.pt"
    with pytest.raises(ValueError, match=match):
        train_translation(*make(*domains), TINY, checkpoint_path=path, device="cpu")
    assert not path.exists()


def test_bad_arguments_of_the_loop_are_refused(domains, tmp_path):
    with pytest.raises(ValueError, match="config must be a TranslationConfig, got dict"):
        train_translation(*domains, {"steps": 3})
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_path"):
        run(domains, resume=True)
    with pytest.raises(ValueError, match="resume must be True, False or 'auto', got 1"):
        run(domains, checkpoint_path=tmp_path / "c.pt", resume=1)
    with pytest.raises(ValueError, match="on_log must be a callable"):
        run(domains, on_log=3)
    with pytest.raises(ValueError, match="directory .* does not exist"):
        run(domains, checkpoint_path=tmp_path / "no" / "c.pt")


# ---- training -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, steps", [("cyclegan", 30), ("discogan", 9)])
def test_a_30_step_run_logs_finite_losses_and_trains_every_network(domains, method, steps):
    cfg = replace(TINY, method=method, steps=steps, log_every=steps // 3, cycle_weight=None, identity_weight=None)
    before = tr.build_networks(cfg)
    result = run(domains, cfg)
    h = result.history
    assert h["step"] == [steps // 3, 2 * steps // 3, steps]
    for key in ("loss_d_a", "loss_d_b", "adversarial", "reconstruction", "cycle_a", "cycle_b", "identity", "loss_g"):
        assert len(h[key]) == 3 and all(math.isfinite(v) for v in h[key]), key
    assert all(v > 0 for v in h["identity"])             # measured also for DiscoGAN, which does not train it
    assert h["seconds"] == sorted(h["seconds"]) and result.seconds > 0
    for name in ("g_ab", "g_ba", "d_a", "d_b"):
        trained, untrained = getattr(result, name).state_dict(), before[name].state_dict()
        changed = [k for k in trained if k.endswith("weight") and not torch.equal(trained[k], untrained[k])]
        assert len(changed) == sum(k.endswith("weight") for k in trained), name


def test_same_seed_is_bit_identical_and_another_seed_is_not(domains):
    one, two = run(domains), run(domains)
    for name in ("g_ab", "g_ba", "d_a", "d_b"):
        assert_bit_identical(getattr(one, name), getattr(two, name))
    assert {k: v for k, v in one.history.items() if k != "seconds"} == \
        {k: v for k, v in two.history.items() if k != "seconds"}
    other = run(domains, replace(TINY, seed=1))
    assert not torch.equal(other.g_ab.state_dict()["encoder.1.weight"], one.g_ab.state_dict()["encoder.1.weight"])


def test_each_step_draws_its_two_batches_independently_from_the_train_stream(domains, monkeypatch):
    a, b = domains
    seen = []
    original = tr.generator_objective

    def recording(g_ab, g_ba, d_a, d_b, real_a, real_b, config):
        seen.append((real_a.clone(), real_b.clone()))
        return original(g_ab, g_ba, d_a, d_b, real_a, real_b, config)
    monkeypatch.setattr(tr, "generator_objective", recording)
    run(domains, replace(TINY, steps=3, batch_size=5))
    g = settings.stream(TINY.seed, "train")
    for real_a, real_b in seen:              # i ~ U{0..n_a - 1}, then j ~ U{0..n_b - 1}, B of each, per step
        i, j = torch.randint(len(a), (5,), generator=g), torch.randint(len(b), (5,), generator=g)
        assert torch.equal(real_a, a[i]) and torch.equal(real_b, b[j])
    assert len(seen) == 3


def test_the_global_random_state_is_left_alone(domains):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    run(domains)
    assert torch.equal(torch.rand(3), expected)


def test_an_interrupted_run_resumed_from_its_checkpoint_equals_the_uninterrupted_one(domains, tmp_path):
    cfg = replace(TINY, steps=8, log_every=1, checkpoint_every=3)
    whole = run(domains, cfg)
    path = tmp_path / "c.pt"

    def crash(result):                       # a kernel interrupt after step 5: the file holds step 3
        if result.history["step"][-1] == 5:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run(domains, cfg, checkpoint_path=path, on_log=crash)
    assert load_checkpoint(path)["step"] == 3
    resumed = run(domains, cfg, checkpoint_path=path, resume=True)
    assert resumed.start_step == 3
    for name in ("g_ab", "g_ba", "d_a", "d_b"):
        assert_bit_identical(getattr(whole, name), getattr(resumed, name))
    for key in whole.history:
        if key != "seconds":
            assert resumed.history[key] == whole.history[key], key
    state = load_checkpoint(path)
    assert state["step"] == 8 and state["trainer"] == "gan_lab.translation.train_translation"
    assert os.listdir(tmp_path) == ["c.pt"]


def test_stop_training_checkpoints_where_it_stops_and_resume_auto_continues(domains, tmp_path):
    path = tmp_path / "c.pt"

    def stop(result):
        if result.history["step"][-1] == 4:
            raise StopTraining
        return {"extra": 1.5}
    stopped = run(domains, checkpoint_path=path, resume="auto", on_log=stop)
    assert stopped.stopped and stopped.history["step"] == [2, 4] and stopped.history["extra"] == [1.5]
    assert load_checkpoint(path)["step"] == 4
    rest = run(domains, checkpoint_path=path, resume="auto")
    assert rest.start_step == 4 and rest.history["step"] == [2, 4, 6]
    assert_bit_identical(rest.g_ba, run(domains).g_ba)


def test_resume_refuses_another_config_other_images_and_foreign_files(domains, tmp_path):
    path = tmp_path / "c.pt"
    run(domains, checkpoint_path=path)
    with pytest.raises(ValueError, match="different configuration.*cycle_weight: checkpoint 10.0, given 3.0"):
        run(domains, replace(TINY, cycle_weight=3.0, identity_weight=1.5), checkpoint_path=path, resume=True)
    a, b = domains
    with pytest.raises(ValueError, match="trained on other images"):
        train_translation(a, b[:4], TINY, checkpoint_path=path, resume=True, device="cpu")
    assert run(domains, replace(TINY, steps=8), checkpoint_path=path, resume=True).start_step == 6  # steps may grow
    with pytest.raises(ValueError, match="at step 8, beyond steps=6"):
        run(domains, checkpoint_path=path, resume=True)
    foreign = tmp_path / "f.pt"
    save_checkpoint(foreign, {"trainer": "gan_lab.images.train_images", "step": 1})
    with pytest.raises(CheckpointError, match="not one of train_translation"):
        run(domains, checkpoint_path=foreign, resume=True)


def test_a_nan_loss_raises_training_diverged_with_the_partial_result(domains, monkeypatch):
    monkeypatch.setattr(tr, "reconstruction_loss", lambda method, x, y: (x - y).abs().mean() * float("nan"))
    with pytest.raises(TrainingDiverged, match="diverged at step 2") as info:
        run(domains)
    assert info.value.result.history["step"] == [2]


# ---- translate ----------------------------------------------------------------------------------------------------

def test_translate_batches_like_one_pass_and_restores_the_mode(domains):
    torch.manual_seed(4)
    G = Translator(16, width=4, blocks=1).train()
    a, _ = domains
    out = translate(G, a, batch_size=3)
    assert out.shape == a.shape and out.device.type == "cpu" and G.training
    torch.testing.assert_close(out, G(a).detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(translate(nn.Identity(), a), a)
    with pytest.raises(ValueError, match="images must be a non-empty float tensor.*uint8"):
        translate(G, a.to(torch.uint8))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        translate(G, a, batch_size=0)
    with pytest.raises(ValueError, match="generator must be a torch module"):
        translate(lambda x: x, a)
