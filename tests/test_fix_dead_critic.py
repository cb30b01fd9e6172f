"""The "fix the dead critic" assignment: the rules on the settings, the visible check's contract, and the
hidden test failing the pinned broken configuration and passing the reference fix over its seeds."""
import pytest
import torch

from classroom.hidden import fix_dead_critic as hidden
from gan_lab.exercises import fix_dead_critic as checks


def gradient_penalty():                          # the reference fix
    return {"objective": "wgan-gp", "penalty_weight": 0.1}


def not_attempted():
    raise NotImplementedError("your code here")


@pytest.mark.parametrize("wrong, match", [
    (lambda: {"depth": 3}, "depth"),                                  # a shallower critic: not allowed
    (lambda: {"lr_g": 1e-3, "clip": 0.05}, "lr_g"),                   # faster learning rates: not allowed
    (lambda: {"objective": "gan"}, "objective"),
    (lambda: {}, "broken configuration"),
    (lambda: {"clip": 0.01, "penalty_weight": 1.0}, "penalty_weight=1.0 does not apply to objective .wgan-clip."),
    (lambda: {"clip": -0.1}, "refuses"),
    (lambda: [("clip", 0.05)], "dict"),
])
def test_the_rules_refuse(wrong, match):
    with pytest.raises(AssertionError, match=match):
        checks.fixed_config(wrong)


def test_the_fixed_config_keeps_everything_else():
    cfg = checks.fixed_config(gradient_penalty)
    assert (cfg.objective, cfg.penalty_weight) == ("wgan-gp", 0.1)
    assert (cfg.width, cfg.depth, cfg.optimizer, cfg.lr_d, cfg.lr_g, cfg.steps) == (64, 6, "rmsprop", 3e-4, 1e-4, 400)


def test_the_visible_check_passes_the_reference_and_leaves_the_random_state_alone(capsys):
    state = torch.random.get_rng_state()
    assert checks.check_fixed_settings(gradient_penalty) is True
    assert "correct" in capsys.readouterr().out
    assert torch.equal(torch.random.get_rng_state(), state)


def test_a_stub_is_not_attempted(capsys):
    assert checks.check_fixed_settings(not_attempted) is False
    assert "not attempted" in capsys.readouterr().out


def test_the_visible_check_refuses_a_clip_that_leaves_the_critic_dead():
    with pytest.raises(AssertionError, match="vanishes"):
        checks.check_fixed_settings(lambda: {"clip": 0.011})


def test_the_hidden_test_passes_the_reference_fix():
    hidden.HIDDEN["as-fix-dead-critic"]({"fixed_settings": gradient_penalty})


def test_the_hidden_test_fails_the_broken_configuration():
    # the smallest change the rules let through: the broken run with c = 0.0101 instead of 0.01
    with pytest.raises(AssertionError, match="0 of 5 seeds"):
        hidden.HIDDEN["as-fix-dead-critic"]({"fixed_settings": lambda: {"clip": 0.0101}})


def test_the_hidden_seeds_are_not_the_visible_check_s():
    assert 0 not in hidden.SEEDS and hidden.NEED < len(hidden.SEEDS)
