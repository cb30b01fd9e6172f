"""Assignment "fix a collapsing GAN": the hidden test fails the pinned broken run and passes the reference fix
over its seeds; the visible check follows the exercise contract; the task's rules are enforced."""
import pytest

from classroom.hidden import fix_mode_collapse as hidden
from gan_lab.exercises import fix_mode_collapse as checks

REFERENCE = dict(objective="wgan-gp", lr_g=1e-3, lr_d=1e-3, n_critic=3, betas=(0.5, 0.9), penalty_weight=0.1)


def reference():
    return dict(REFERENCE)


def stub():
    raise NotImplementedError("your code here")


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setenv("GAN_LAB_BUDGET", "quick")
    monkeypatch.delenv("GAN_LAB_SEED_OFFSET", raising=False)


@pytest.fixture
def book(monkeypatch):
    monkeypatch.setenv("GAN_LAB_BUDGET", "book")
    monkeypatch.delenv("GAN_LAB_SEED_OFFSET", raising=False)


# ---- the statistical test of the issue: fail on the pinned run, pass on the reference fix, over seeds --------

def test_hidden_passes_the_reference_fix(quick):
    hidden.test_fixed_settings({"fixed_settings": reference})


@pytest.mark.parametrize("broken", [
    lambda: {"lr_g": 2e-4},                       # the pinned rate written out: no change at all
    lambda: {"betas": (0.5, 0.99)},               # a change that leaves the run collapsed
], ids=["unchanged", "betas-only"])
def test_hidden_fails_runs_that_still_collapse(quick, broken):
    with pytest.raises(AssertionError, match=r"W1|leaves the pinned run"):
        hidden.test_fixed_settings({"fixed_settings": broken})


def test_pinned_run_misses_the_bar_on_every_hidden_seed(quick):
    """Not one seed of the hidden test is passed by the unfixed run, so the margin is all NEED seeds."""
    results = checks.outcomes({}, hidden.SEEDS)
    assert not any(checks.meets_bar(o) for o in results), [str(o) for o in results]
    assert all(o.w1 > 2 * checks.W1_BAR for o in results), [str(o) for o in results]


def test_hidden_seeds_are_not_the_visible_ones():
    assert not set(hidden.SEEDS) & set(checks.VISIBLE_SEEDS)
    assert 1 <= hidden.NEED <= len(hidden.SEEDS)
    assert set(hidden.HIDDEN) == {"as-fix-mode-collapse-ex"}


def test_hidden_refuses_a_stub_and_a_missing_answer():
    with pytest.raises(AssertionError, match="not attempted"):
        hidden.test_fixed_settings({"fixed_settings": stub})
    with pytest.raises(AssertionError, match="not defined"):
        hidden.test_fixed_settings({})


def test_hidden_refuses_settings_that_change_from_call_to_call():
    calls = iter([1e-3, 2e-3])
    with pytest.raises(AssertionError, match="same settings on every call"):
        hidden.test_fixed_settings({"fixed_settings": lambda: {**REFERENCE, "lr_g": next(calls)}})


# ---- the visible check's contract ---------------------------------------------------------------------------

def test_visible_check_passes_the_reference(book, capsys):
    assert checks.check_fixed_settings(reference) is True
    assert "correct" in capsys.readouterr().out


def test_visible_check_says_not_attempted_for_the_stub(quick, capsys):
    assert checks.check_fixed_settings(stub) is False
    assert "not attempted" in capsys.readouterr().out


def test_visible_check_raises_on_a_collapsing_fix(book):
    with pytest.raises(AssertionError, match=r"seed 7: \d/8 modes, W1 [0-9.]+; the bar is W1 <= 0.25"):
        checks.check_fixed_settings(lambda: {"betas": (0.5, 0.99)})


def test_visible_check_quick_budget_is_a_smoke_test_that_still_passes_the_reference(quick, capsys):
    assert checks.check_fixed_settings(reference) is True


# ---- what the task keeps fixed --------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, message", [
    ({**REFERENCE, "steps": 5000}, r"changes \['steps'\], which the task keeps fixed"),
    ({"width": 512}, r"changes \['width'\]"),
    ({"batch_size": 1024, "noise_dim": 8}, r"changes \['batch_size', 'noise_dim'\]"),
    ({"seed": 3}, r"changes \['seed'\]"),
    ({"eval_samples": 50}, r"changes \['eval_samples'\]"),
    ({**REFERENCE, "n_critic": 6}, r"n_critic = 6 is above the allowed 5"),
    ({}, "leaves the pinned run as it is"),
    ({"objective": "gan", "n_critic": 2}, "leaves the pinned run as it is"),
    ([("objective", "wgan-gp")], "should return a dict"),
    ({"lr_g": -1.0}, r"the settings were refused: lr_g must be a positive finite number"),
])
def test_the_rules_are_enforced_with_a_clear_message(quick, answer, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_fixed_settings(lambda: answer)
    if "refused" not in message:   # the hidden test refuses it the same way, before any training
        with pytest.raises(AssertionError, match=message):
            hidden.test_fixed_settings({"fixed_settings": lambda: answer})
