"""gan_lab.objectives: each objective's losses are the formulas of its table, computed here by hand on
made-up scores; options of one objective are refused by every other (TrainConfig and ImageTrainConfig);
override drops the old objective's own options and keeps what is asked for."""
import math
import re

import pytest
import torch

from gan_lab import losses, objectives
from gan_lab.images import ImageTrainConfig
from gan_lab.objectives import NAMES, OPTIONS, WASSERSTEIN, objective, override, smoothed_discriminator_loss
from gan_lab.train import TrainConfig

REAL = [2.0, -1.0, 0.5, 3.5]        # made-up critic outputs (logits for "gan") on real samples
FAKE = [-3.0, 0.0, 1.5, -0.25]      # ... and on generated ones
REAL_T, FAKE_T = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)


def mean(xs):
    return sum(xs) / len(xs)


def log_sigmoid(x):
    return -math.log1p(math.exp(-x))


def log_one_minus_sigmoid(x):
    return -math.log1p(math.exp(x))


def close(tensor, number):
    assert tensor.dim() == 0
    assert float(tensor) == pytest.approx(number, rel=1e-12, abs=1e-12)


# ---- the table ------------------------------------------------------------------------------------------

def test_the_table_names_every_objective_once_with_its_options():
    assert NAMES == ("gan", "wgan-clip", "wgan-gp", "lsgan", "hinge")
    assert set(OPTIONS) == set(NAMES) and set(WASSERSTEIN) <= set(NAMES)
    every = [o for names in OPTIONS.values() for o in names]
    assert len(every) == len(set(every))   # each option belongs to one objective


@pytest.mark.parametrize("name, lipschitz", [("gan", "none"), ("wgan-clip", "clip"), ("wgan-gp", "penalty"),
                                             ("lsgan", "none"), ("hinge", "none")])
def test_each_objective_has_its_name_and_lipschitz_method(name, lipschitz):
    game = objective(name)
    assert isinstance(game, objectives.Objective) and game.name == name and game.lipschitz == lipschitz


# ---- each objective's losses, by hand ------------------------------------------------------------------

def test_gan_losses_are_the_cross_entropy_on_logits():
    game = objective("gan")
    expected = -mean([log_sigmoid(r) for r in REAL]) - mean([log_one_minus_sigmoid(f) for f in FAKE])
    close(game.critic_loss(REAL_T, FAKE_T), expected)
    close(game.generator_loss(FAKE_T), -mean([log_sigmoid(f) for f in FAKE]))
    saturating = objective("gan", generator_loss="saturating")
    close(saturating.generator_loss(FAKE_T), mean([log_one_minus_sigmoid(f) for f in FAKE]))


@pytest.mark.parametrize("alpha", [0.1, 0.3, 0.9])
def test_gan_with_label_smoothing_uses_the_real_label_one_minus_alpha(alpha):
    expected = (-(1 - alpha) * mean([log_sigmoid(r) for r in REAL])
                - alpha * mean([log_one_minus_sigmoid(r) for r in REAL])
                - mean([log_one_minus_sigmoid(f) for f in FAKE]))
    close(objective("gan", label_smoothing=alpha).critic_loss(REAL_T, FAKE_T), expected)
    close(smoothed_discriminator_loss(REAL_T, FAKE_T, alpha), expected)
    # smoothing is one-sided: the generator's loss does not change
    close(objective("gan", label_smoothing=alpha).generator_loss(FAKE_T), -mean([log_sigmoid(f) for f in FAKE]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_smoothing_alpha_0_is_the_plain_discriminator_loss_exactly(dtype):
    real, fake = REAL_T.to(dtype), FAKE_T.to(dtype)
    plain = losses.discriminator_loss(real, fake)
    assert torch.equal(smoothed_discriminator_loss(real, fake, 0.0), plain)
    assert torch.equal(objective("gan", label_smoothing=0.0).critic_loss(real, fake), plain)
    assert torch.equal(objective("gan", label_smoothing=0).critic_loss(real, fake), plain)


@pytest.mark.parametrize("alpha", [0.1, 0.3])
def test_the_smoothed_loss_is_flat_where_the_real_score_is_one_minus_alpha(alpha):
    """d/dl of -(1 - alpha) log sigmoid(l) - alpha log(1 - sigmoid(l)) is sigmoid(l) - (1 - alpha): zero at
    sigmoid(l) = 1 - alpha, the real score the smoothed discriminator aims for, and not at the unsmoothed 1/2."""
    for logit, gradient in ((math.log((1 - alpha) / alpha), 0.0), (0.0, 0.5 - (1 - alpha))):
        real = torch.full((4,), logit, dtype=torch.float64, requires_grad=True)
        smoothed_discriminator_loss(real, FAKE_T, alpha).backward()
        torch.testing.assert_close(real.grad, torch.full((4,), gradient / 4, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", WASSERSTEIN)
def test_wasserstein_losses_are_mean_fake_minus_mean_real_and_minus_mean_fake(name):
    game = objective(name)
    close(game.critic_loss(REAL_T, FAKE_T), mean(FAKE) - mean(REAL))
    close(game.generator_loss(FAKE_T), -mean(FAKE))


@pytest.mark.parametrize("targets", [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0), (0, 2, 1)])
def test_lsgan_losses_regress_onto_its_targets(targets):
    a, b, c = targets
    game = objective("lsgan", targets=targets)
    expected = 0.5 * mean([(r - b) ** 2 for r in REAL]) + 0.5 * mean([(f - a) ** 2 for f in FAKE])
    close(game.critic_loss(REAL_T, FAKE_T), expected)
    close(game.generator_loss(FAKE_T), 0.5 * mean([(f - c) ** 2 for f in FAKE]))


def test_lsgan_defaults_to_the_0_1_coding():
    game, coded = objective("lsgan"), objective("lsgan", targets=(0.0, 1.0, 1.0))
    assert torch.equal(game.critic_loss(REAL_T, FAKE_T), coded.critic_loss(REAL_T, FAKE_T))
    assert torch.equal(game.generator_loss(FAKE_T), coded.generator_loss(FAKE_T))


def test_hinge_losses_are_the_margin_losses():
    game = objective("hinge")
    expected = mean([max(0.0, 1 - r) for r in REAL]) + mean([max(0.0, 1 + f) for f in FAKE])
    close(game.critic_loss(REAL_T, FAKE_T), expected)
    close(game.generator_loss(FAKE_T), -mean(FAKE))


def test_losses_take_scores_of_shape_n_by_1_as_the_loops_give_them():
    for name in NAMES:
        game = objective(name)
        assert torch.equal(game.critic_loss(REAL_T[:, None], FAKE_T[:, None]), game.critic_loss(REAL_T, FAKE_T)), name
        assert torch.equal(game.generator_loss(FAKE_T[:, None]), game.generator_loss(FAKE_T)), name


def test_only_the_gans_feature_matching_takes_hidden_features_and_images_refuse_it():
    assert objective("gan", generator_loss="feature_matching").feature_matching is True
    assert not any(objective(name).feature_matching for name in NAMES)
    toy = TrainConfig(objective="gan", generator_loss="feature_matching").resolved()
    assert toy.objective_losses().feature_matching
    with pytest.raises(ValueError, match=r"generator_loss='feature_matching' is for the toy MLPs"):
        ImageTrainConfig(objective="gan", generator_loss="feature_matching")


# ---- objective(): bad arguments -----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(name="wgan"), r"unknown objective 'wgan'"),
    (dict(name="gan", generator_loss="minimax"), r"unknown generator_loss 'minimax'"),
    (dict(name="gan", label_smoothing=1.0), r"label_smoothing must be a finite number in \[0.0, 1.0\), got 1.0"),
    (dict(name="gan", label_smoothing=-0.1), r"label_smoothing .* got -0.1"),
    (dict(name="gan", label_smoothing=True), r"label_smoothing .* got True"),
    (dict(name="gan", label_smoothing=float("nan")), r"label_smoothing .* got nan"),
    (dict(name="lsgan", targets=(0.0, 1.0)), r"targets must be three numbers \(a, b, c\), got \(0.0, 1.0\)"),
    (dict(name="lsgan", targets=(0, "1", 1)), r"targets must be three numbers .* got \(0, '1', 1\)"),
    (dict(name="lsgan", targets=(0, True, 1)), r"targets must be three numbers .* got \(0, True, 1\)"),
    (dict(name="lsgan", targets=0.5), r"targets must be three numbers .* got 0.5"),
    (dict(name="lsgan", targets=(1.0, 1.0, 0.0)),
     r"targets: the fake label a and the real label b must differ, got a = b = 1.0"),
])
def test_objective_refuses_bad_options_naming_them(kwargs, match):
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=match):
        objective(kwargs.pop("name"), **kwargs)


# ---- OPTIONS: an option of another objective is refused -------------------------------------------------

VALUES = dict(generator_loss="saturating", label_smoothing=0.1, clip=0.02, penalty_weight=1.0, one_sided=True,
              targets=(-1.0, 1.0, 0.0))
PAIRS = [(name, option) for name in NAMES for option in VALUES if option not in OPTIONS[name]]
OWN = [(name, option) for name in NAMES for option in OPTIONS[name]]


def test_every_option_has_a_value_here():
    assert set(VALUES) == {o for names in OPTIONS.values() for o in names}


def _foreign_message(name, option):
    owner = next(o for o, names in OPTIONS.items() if option in names)
    return "^" + re.escape(f"{option}={VALUES[option]!r} does not apply to objective '{name}' (only to '{owner}')")


@pytest.mark.parametrize("name, option", PAIRS)
def test_train_config_refuses_an_option_of_another_objective_naming_both(name, option):
    with pytest.raises(ValueError, match=_foreign_message(name, option)):
        TrainConfig(objective=name, **{option: VALUES[option]}).resolved()


@pytest.mark.parametrize("name, option", PAIRS)
def test_image_config_refuses_an_option_of_another_objective_naming_both(name, option):
    with pytest.raises(ValueError, match=_foreign_message(name, option)):
        ImageTrainConfig(objective=name, **{option: VALUES[option]})


@pytest.mark.parametrize("name, option", OWN)
def test_both_configs_take_their_objectives_own_options(name, option):
    value = VALUES[option]
    assert getattr(TrainConfig(objective=name, **{option: value}).resolved(), option) == value
    assert getattr(ImageTrainConfig(objective=name, **{option: value}), option) == value


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_filled_in_for_the_objectives_own_options_only(name):
    for cfg in (TrainConfig(objective=name).resolved(), ImageTrainConfig(objective=name)):
        for option in VALUES:
            assert (getattr(cfg, option) is not None) == (option in OPTIONS[name]), (type(cfg).__name__, option)


def test_the_configs_objective_losses_carry_the_options():
    smoothed = TrainConfig(objective="gan", label_smoothing=0.3).resolved().objective_losses()
    close(smoothed.critic_loss(REAL_T, FAKE_T), float(smoothed_discriminator_loss(REAL_T, FAKE_T, 0.3)))
    coded = ImageTrainConfig(objective="lsgan", targets=(-1, 1, 0)).objective_losses()
    close(coded.generator_loss(FAKE_T), 0.5 * mean([f ** 2 for f in FAKE]))


# ---- override -----------------------------------------------------------------------------------------

def test_override_to_another_objective_drops_the_old_objectives_own_options():
    base = dict(objective="wgan-clip", clip=0.01, steps=400, width=64, spectral_norm=True, pack=2)
    assert override(base, dict(objective="wgan-gp")) == dict(objective="wgan-gp", steps=400, width=64,
                                                              spectral_norm=True, pack=2)
    gan = dict(objective="gan", generator_loss="saturating", label_smoothing=0.1, lr_d=1e-3)
    assert override(gan, dict(objective="lsgan", targets=(-1, 1, 0))) == dict(objective="lsgan", lr_d=1e-3,
                                                                              targets=(-1, 1, 0))


def test_override_keeps_options_that_apply_to_the_new_objective_and_does_not_change_its_arguments():
    base = dict(objective="gan", generator_loss="saturating", steps=10)
    before = dict(base)
    assert override(base, dict(steps=20)) == dict(objective="gan", generator_loss="saturating", steps=20)
    assert override(base, dict(objective="gan", label_smoothing=0.2)) == dict(
        objective="gan", generator_loss="saturating", steps=10, label_smoothing=0.2)
    assert base == before


def test_override_keeps_an_option_given_explicitly_even_one_the_config_will_refuse():
    merged = override(dict(objective="wgan-clip", clip=0.01), dict(objective="hinge", clip=0.05))
    assert merged == dict(objective="hinge", clip=0.05)
    with pytest.raises(ValueError, match=r"clip=0.05 does not apply to objective 'hinge'"):
        TrainConfig(**merged).resolved()


def test_override_without_an_objective_means_the_default_wgan_gp():
    assert override(dict(penalty_weight=1.0, clip=0.01), {}) == dict(penalty_weight=1.0)


@pytest.mark.parametrize("old", NAMES)
@pytest.mark.parametrize("new", NAMES)
def test_an_overridden_config_of_every_objective_builds_for_every_other(old, new):
    base = dict(objective=old, steps=3, **{o: VALUES[o] for o in OPTIONS[old]})
    merged = override(base, dict(objective=new))
    cfg = TrainConfig(**merged).resolved()
    assert cfg.objective == new and cfg.steps == 3
    ImageTrainConfig(**merged)
