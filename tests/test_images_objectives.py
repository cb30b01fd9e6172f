"""gan_lab.images.train_images with the objectives of gan_lab.objectives, the spectrally normalised critic and
the WGAN paper's generators: tiny runs train to finite numbers, resume bit for bit, clip where they should,
and a checkpoint of one objective does not resume under another."""
import math

import pytest
import torch

from gan_lab import images as gi
from gan_lab.checkpoint import load_checkpoint
from gan_lab.images import ImageTrainConfig, train_images

TINY = ImageTrainConfig(size=16, width=8, noise_dim=8, steps=4, batch_size=4, n_critic=2, snapshots=0,
                        log_every=1, progress=False)
CASES = [
    dict(objective="gan"),
    dict(objective="gan", generator_loss="saturating", label_smoothing=0.2),
    dict(objective="lsgan"),
    dict(objective="lsgan", targets=(-1.0, 1.0, 0.0)),
    dict(objective="hinge"),
    dict(objective="hinge", critic_norm="spectral"),
    dict(objective="wgan-clip"),
    dict(objective="wgan-gp", critic_norm="spectral", n_critic=1),
    dict(objective="wgan-gp", generator="dcgan-no-bn-constant-width"),
    dict(objective="wgan-clip", generator="mlp"),
    dict(objective="hinge", generator="mlp", critic_norm="spectral"),
]
IDS = ["-".join(f"{k}={v}" for k, v in case.items()) for case in CASES]


@pytest.fixture(scope="module")
def pictures() -> torch.Tensor:
    """16 random 16 x 16 images in [-1, 1]."""
    return torch.rand(16, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1


def config(**options) -> ImageTrainConfig:
    """TINY with ``options``; built afresh (not ``replace``d), so each objective fills in its own defaults."""
    return ImageTrainConfig(**{**{f: getattr(TINY, f) for f in ("size", "width", "noise_dim", "steps", "batch_size",
                                                                 "n_critic", "snapshots", "log_every", "progress")},
                               **options})


def run(pictures, cfg: ImageTrainConfig, **kw):
    return train_images(pictures, cfg, device="cpu", **kw)


def assert_bit_identical(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def same_numbers(a: dict, b: dict, keys=("step", "estimate", "penalty", "loss_d", "loss_g")) -> bool:
    return all(len(a[k]) == len(b[k]) and all(x == y or (x != x and y != y) for x, y in zip(a[k], b[k])) for k in keys)


@pytest.mark.parametrize("options", CASES, ids=IDS)
def test_each_objective_critic_norm_and_generator_trains_to_finite_numbers(pictures, options):
    result = run(pictures, config(**options))
    h = result.history
    assert h["step"] == [1, 2, 3, 4]
    for key in ("estimate", "loss_d", "loss_g"):
        assert all(math.isfinite(v) for v in h[key]), key
    penalised = options["objective"] == "wgan-gp"
    assert all(math.isfinite(v) == penalised for v in h["penalty"])
    out = result.sample(3, seed=0)
    assert out.shape == (3, 3, 16, 16) and torch.isfinite(out).all()


@pytest.mark.parametrize("options, family", [
    (dict(critic_norm="spectral"), "spectral"),
    (dict(generator="mlp"), "mlp"),
    (dict(generator="dcgan-no-bn-constant-width"), "no-bn"),
])
def test_the_config_builds_the_networks_it_names(options, family):
    G, D = gi.build_networks(config(**options))
    if family == "spectral":
        layers = [m for m in D.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    elif family == "mlp":
        assert isinstance(G, gi.convnets.MLPGenerator)
        assert not any(isinstance(m, torch.nn.Conv2d) for m in G.modules())
    else:
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in G.modules())
        convs = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
        assert len(convs) == 2 and all(m.in_channels == 8 for m in convs)   # width 8 in every block


@pytest.mark.parametrize("options", [dict(objective="hinge", critic_norm="spectral"), dict(objective="lsgan"),
                                     dict(objective="wgan-clip", generator="mlp")],
                         ids=["hinge-spectral", "lsgan", "clip-mlp"])
def test_the_same_seed_gives_bit_identical_runs(pictures, options):
    a, b = run(pictures, config(**options)), run(pictures, config(**options))
    assert_bit_identical(a.generator, b.generator)
    assert_bit_identical(a.critic, b.critic)
    assert same_numbers(a.history, b.history)


def test_the_objectives_options_reach_the_loop(pictures):
    """Each option changes the run it is set in (the losses of one run differ from the other's)."""
    pairs = [(dict(objective="gan"), dict(objective="gan", label_smoothing=0.3)),
             (dict(objective="gan"), dict(objective="gan", generator_loss="saturating")),
             (dict(objective="lsgan"), dict(objective="lsgan", targets=(-1.0, 1.0, 0.0))),
             (dict(objective="hinge"), dict(objective="hinge", critic_norm="spectral")),
             (dict(objective="hinge"), dict(objective="lsgan"))]
    for a, b in pairs:
        ra, rb = run(pictures, config(**a, steps=2)), run(pictures, config(**b, steps=2))
        assert ra.history["loss_g"] != rb.history["loss_g"] or ra.history["loss_d"] != rb.history["loss_d"], (a, b)


# ---- resume -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [dict(objective="hinge", critic_norm="spectral"), dict(objective="gan"),
                                     dict(objective="gan", label_smoothing=0.2),
                                     dict(objective="lsgan", targets=(-1, 1, 0)),
                                     dict(objective="wgan-clip", generator="dcgan-no-bn-constant-width")],
                         ids=["hinge-spectral", "gan", "gan-smoothed", "lsgan-chi2", "clip-no-bn"])
def test_a_checkpoint_resumes_to_the_uninterrupted_run_bit_for_bit(pictures, tmp_path, options):
    path = tmp_path / "c.pt"
    whole = run(pictures, config(**options, steps=6))
    run(pictures, config(**options, steps=3), checkpoint_path=path)
    resumed = run(pictures, config(**options, steps=6), checkpoint_path=path, resume=True)
    assert resumed.start_step == 3
    assert_bit_identical(whole.generator, resumed.generator)
    assert_bit_identical(whole.critic, resumed.critic)
    assert same_numbers(whole.history, resumed.history)
    assert load_checkpoint(path)["config"]["objective"] == options["objective"]


def test_the_spectral_critics_power_iteration_vectors_are_in_the_checkpoint(pictures, tmp_path):
    path = tmp_path / "c.pt"
    result = run(pictures, config(objective="hinge", critic_norm="spectral"), checkpoint_path=path)
    saved = load_checkpoint(path)["critic"]
    vectors = [k for k in saved if k.endswith("._u") or k.endswith("._v")]
    assert vectors
    for key in vectors:
        assert torch.equal(saved[key], result.critic.state_dict()[key]), key


@pytest.mark.parametrize("written, resumed, field", [
    (dict(objective="gan"), dict(objective="hinge"), "objective: checkpoint 'gan', given 'hinge'"),
    (dict(objective="hinge"), dict(objective="lsgan"), "objective: checkpoint 'hinge', given 'lsgan'"),
    (dict(objective="wgan-gp"), dict(objective="wgan-clip"), "objective: checkpoint 'wgan-gp', given 'wgan-clip'"),
    (dict(objective="gan"), dict(objective="gan", label_smoothing=0.1), "label_smoothing: checkpoint 0.0, given 0.1"),
    (dict(objective="lsgan"), dict(objective="lsgan", targets=(-1, 1, 0)),
     "targets: checkpoint (0.0, 1.0, 1.0), given (-1.0, 1.0, 0.0)"),
    (dict(objective="hinge"), dict(objective="hinge", critic_norm="spectral"),
     "critic_norm: checkpoint 'none', given 'spectral'"),
    (dict(objective="hinge"), dict(objective="hinge", generator="mlp"), "generator: checkpoint None, given 'mlp'"),
])
def test_a_checkpoint_refuses_to_resume_under_another_objective_naming_the_field(pictures, tmp_path, monkeypatch,
                                                                                 written, resumed, field):
    path = tmp_path / "c.pt"
    run(pictures, config(**written, steps=2), checkpoint_path=path)
    before = path.read_bytes()
    monkeypatch.setattr(gi, "build_networks", lambda cfg: pytest.fail("built the networks"))
    with pytest.raises(ValueError, match="different configuration") as info:
        run(pictures, config(**resumed, steps=4), checkpoint_path=path, resume=True)
    assert field in str(info.value)
    assert path.read_bytes() == before


# ---- weight clipping ----------------------------------------------------------------------------------

@pytest.mark.parametrize("critic_norm", ["none", "spectral"])
def test_wgan_clip_keeps_every_critic_parameter_within_c(pictures, critic_norm):
    c = 0.02
    result = run(pictures, config(objective="wgan-clip", clip=c, critic_norm=critic_norm))
    values = torch.cat([p.detach().flatten() for p in result.critic.parameters()])
    assert float(values.abs().max()) <= c
    assert float((values.abs() == c).double().mean()) > 0.1      # the clip binds: the start has larger weights
    torch.manual_seed(0)
    _, untrained = gi.build_networks(config(objective="wgan-clip", clip=c, critic_norm=critic_norm))
    assert max(float(p.detach().abs().max()) for p in untrained.parameters()) > c


def test_objectives_other_than_wgan_clip_do_not_clip(pictures):
    result = run(pictures, config(objective="hinge", steps=1))
    assert max(float(p.detach().abs().max()) for p in result.critic.parameters()) > 0.05


# ---- keyword overrides ---------------------------------------------------------------------------------

@pytest.mark.parametrize("objective", ["gan", "hinge"])
def test_an_objective_given_by_keyword_trains_as_the_same_config_object(pictures, objective):
    fields = dict(size=16, width=8, noise_dim=8, steps=2, batch_size=4, n_critic=1, snapshots=0, log_every=1,
                  progress=False)
    by_keyword = train_images(pictures, objective=objective, device="cpu", **fields)
    by_config = train_images(pictures, ImageTrainConfig(objective=objective, **fields), device="cpu")
    assert_bit_identical(by_keyword.generator, by_config.generator)
    assert by_keyword.config == by_config.config


def test_replacing_the_objective_of_a_config_drops_the_old_objective_s_own_settings():
    from gan_lab import loop
    cfg = loop.configure(ImageTrainConfig(objective="wgan-gp", penalty_weight=3.0), ImageTrainConfig,
                         {"objective": "hinge"})
    assert cfg.objective == "hinge" and cfg.penalty_weight is None and cfg.one_sided is None
    back = loop.configure(cfg, ImageTrainConfig, {"objective": "wgan-gp"})
    assert back.penalty_weight == 10.0     # the new objective's default, not the 3.0 dropped on the way
