"""Assignment "fix a stalled generator": the hidden test fails the pinned saturating run and passes the
reference fix over its seeds; the visible check follows the exercise contract; the task's rules are enforced."""
import pytest

from classroom.hidden import fix_saturating_loss as hidden
from gan_lab.exercises import fix_saturating_loss as checks
from gan_lab.exercises.fix_mode_collapse import outcomes


def reference():
    return {"generator_loss": "non_saturating"}


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


def test_hidden_fails_a_slower_saturating_generator(quick):
    with pytest.raises(AssertionError, match=r"high-quality fraction 0\.0\d.*\(missed\)"):
        hidden.test_fixed_settings({"fixed_settings": lambda: {"lr_g": 5e-5}})


def test_pinned_run_stalls_on_every_hidden_seed(quick):
    results = outcomes({}, hidden.SEEDS, checks.PINNED)
    assert not any(checks.meets_bar(o) for o in results), [checks.describe(o) for o in results]
    assert all(o.hq < checks.HQ_BAR / 2 for o in results), [checks.describe(o) for o in results]


def test_hidden_seeds_are_not_the_visible_ones():
    assert not set(hidden.SEEDS) & set(checks.VISIBLE_SEEDS)
    assert 1 <= hidden.NEED <= len(hidden.SEEDS)
    assert set(hidden.HIDDEN) == {"as-fix-saturating-ex"}


def test_hidden_refuses_a_stub():
    with pytest.raises(AssertionError, match="not attempted"):
        hidden.test_fixed_settings({"fixed_settings": stub})


# ---- the visible check's contract ---------------------------------------------------------------------------

def test_visible_check_passes_the_reference(book, capsys):
    assert checks.check_fixed_settings(reference) is True
    assert "correct" in capsys.readouterr().out


def test_visible_check_says_not_attempted_for_the_stub(quick, capsys):
    assert checks.check_fixed_settings(stub) is False
    assert "not attempted" in capsys.readouterr().out


def test_visible_check_raises_on_a_fix_that_still_stalls(book):
    with pytest.raises(AssertionError, match=r"seed 7: high-quality fraction 0\.0\d.*the bar is"):
        checks.check_fixed_settings(lambda: {"lr_g": 5e-5})


# ---- what the task keeps fixed: the discriminator may stay strong ---------------------------------------------

@pytest.mark.parametrize("answer, message", [
    ({"generator_loss": "non_saturating", "n_critic": 1}, r"changes \['n_critic'\], which the task keeps fixed"),
    ({"lr_d": 1e-4}, r"changes \['lr_d'\]"),
    ({"betas": (0.0, 0.9)}, r"changes \['betas'\]"),
    ({"objective": "wgan-gp"}, r"changes \['objective'\]"),
    ({"steps": 2000, "generator_loss": "non_saturating"}, r"changes \['steps'\]"),
    ({"generator_loss": "saturating"}, "leaves the pinned run as it is"),
    ("non_saturating", "should return a dict"),
])
def test_the_rules_are_enforced_with_a_clear_message(quick, answer, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_fixed_settings(lambda: answer)
    with pytest.raises(AssertionError, match=message):
        hidden.test_fixed_settings({"fixed_settings": lambda: answer})
