"""The "fix the oscillating game" assignment: the visible check's contract and rules, and the hidden test
failing the unfixed updates and passing the reference fix over its 20 starting points."""
import pytest
import torch

from classroom.hidden import fix_oscillating_game as hidden
from gan_lab import dirac
from gan_lab.exercises import fix_oscillating_game as checks


def penalised(theta, psi, lr):                 # the reference: simultaneous steps, R1 penalty gamma = 1
    return dirac.gradient_step(theta, psi, lr, penalty=1.0)


def penalised_alternating(theta, psi, lr):
    return dirac.gradient_step(theta, psi, lr, update="alternating", penalty=1.0)


def simultaneous(theta, psi, lr):
    return dirac.gradient_step(theta, psi, lr)


def alternating(theta, psi, lr):
    return dirac.gradient_step(theta, psi, lr, update="alternating")


def shrink_both(theta, psi, lr):              # converges, but is not the game: the generator's step changed
    return 0.9 * theta, 0.9 * psi


def jump_to_equilibrium(theta, psi, lr):       # the critic's step ignores the game's gradient
    return theta + lr * psi, torch.zeros_like(psi)


def hard_coded_lr(theta, psi, lr):             # right at lr = 0.1 only
    return dirac.gradient_step(theta, psi, 0.1, penalty=1.0)


def weak_penalty(theta, psi, lr):              # gamma = 0.1 < lr = 0.2: still runs away there
    return dirac.gradient_step(theta, psi, lr, penalty=0.1)


def one_state(theta, psi, lr):                 # steps only the first starting point of a batch
    new_theta, new_psi = penalised(theta, psi, lr)
    return new_theta.reshape(-1)[:1], new_psi.reshape(-1)[:1]


def not_attempted(theta, psi, lr):
    raise NotImplementedError("your code here")


def test_the_reference_passes_the_visible_check(capsys):
    assert checks.check_fixed_step(penalised) is True
    assert checks.check_fixed_step(penalised_alternating) is True
    assert "correct" in capsys.readouterr().out


def test_a_stub_is_not_attempted(capsys):
    assert checks.check_fixed_step(not_attempted) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [simultaneous, alternating, shrink_both, jump_to_equilibrium, one_state])
def test_the_visible_check_refuses(wrong):
    with pytest.raises(AssertionError):
        checks.check_fixed_step(wrong)


def test_the_visible_check_leaves_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    checks.check_fixed_step(penalised)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("fix", [penalised, penalised_alternating])
def test_the_hidden_test_passes_the_reference(fix):
    hidden.HIDDEN["as-fix-oscillating"]({"fixed_step": fix})


@pytest.mark.parametrize("wrong, match", [
    (simultaneous, "0 of 20"), (alternating, "0 of 20"), (weak_penalty, "seeds"),
    (hard_coded_lr, "lr = 0.02"), (shrink_both, "generator's step"), (not_attempted, None),
])
def test_the_hidden_test_fails_the_unfixed_game_and_the_planted_mistakes(wrong, match):
    if match is None:
        with pytest.raises(NotImplementedError):
            hidden.HIDDEN["as-fix-oscillating"]({"fixed_step": wrong})
        return
    with pytest.raises(AssertionError, match=match):
        hidden.HIDDEN["as-fix-oscillating"]({"fixed_step": wrong})


def test_the_hidden_starts_are_not_the_visible_ones():
    visible = set(zip(*(t.tolist() for t in checks.visible_starts())))
    for seed in hidden.SEEDS:
        theta, psi, _ = hidden.start_of(seed)
        assert (theta.item(), psi.item()) not in visible
