"""The contract every exercise check keeps, for every chapter (see gan_lab/exercises/__init__.py):
a correct answer passes and says so, a fresh stub is reported "not attempted" and returns False, and
each planted wrong answer raises AssertionError.

The answers live next to each chapter's own tests, in the ``CHECKS`` table of test_exercises_chNN.py:
name -> (check, correct answer, [planted wrong answers]).
"""
import pytest
import torch

import test_exercises_ch01
import test_exercises_ch02
import test_exercises_ch03
import test_exercises_ch04
import test_exercises_ch05
import test_exercises_ch06
import test_exercises_ch07
import test_exercises_ch08
import test_exercises_ch09

TABLES = {"ch01": test_exercises_ch01.CHECKS, "ch02": test_exercises_ch02.CHECKS,
          "ch03": test_exercises_ch03.CHECKS, "ch04": test_exercises_ch04.CHECKS,
          "ch05": test_exercises_ch05.CHECKS, "ch06": test_exercises_ch06.CHECKS,
          "ch07": test_exercises_ch07.CHECKS, "ch08": test_exercises_ch08.CHECKS,
          "ch09": test_exercises_ch09.CHECKS}
CHECKS = {f"{chapter}: {name}": entry for chapter, table in TABLES.items() for name, entry in table.items()}
WRONG = [(name, wrong) for name, (_, _, wrongs) in CHECKS.items() for wrong in wrongs]


def not_attempted(*args):
    raise NotImplementedError("your code here")


@pytest.mark.parametrize("name", CHECKS)
def test_a_correct_answer_passes_and_says_so(name, capsys):
    check, correct, _ = CHECKS[name]
    assert check(correct) is True
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("name", CHECKS)
def test_a_fresh_stub_is_reported_not_attempted_and_returns_false(name, capsys):
    check, _, _ = CHECKS[name]
    assert check(not_attempted) is False
    out = capsys.readouterr().out
    assert "not attempted" in out and "correct" not in out


@pytest.mark.parametrize("name, wrong", WRONG, ids=[f"{n}: {w.__name__}" for n, w in WRONG])
def test_a_wrong_answer_raises_assertion_error(name, wrong, capsys):
    check = CHECKS[name][0]
    with pytest.raises(AssertionError):
        check(wrong)
    assert "correct." not in capsys.readouterr().out


@pytest.mark.parametrize("name", CHECKS)
def test_other_exceptions_from_the_answer_propagate(name):
    def broken(*args):
        raise TypeError("oops")

    with pytest.raises(TypeError, match="oops"):
        CHECKS[name][0](broken)


@pytest.mark.parametrize("name", CHECKS)
def test_a_check_leaves_the_global_random_state_alone(name, capsys):
    state = torch.random.get_rng_state()
    check, correct, _ = CHECKS[name]
    check(correct)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_every_chapter_with_exercises_has_a_table():
    import gan_lab.exercises as exercises
    chapters = sorted(m for m in exercises.__all__ if m.startswith("ch"))
    assert chapters == sorted(TABLES), f"exercise modules {chapters} vs tables {sorted(TABLES)}"
