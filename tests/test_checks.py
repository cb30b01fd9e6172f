"""gan_lab.checks: every validator passes good values through as plain Python values (NumPy scalars
included where a number is meant) and refuses bools, NaN, inf, strings and out-of-range values with a
ValueError whose message names the argument and shows the value."""
import math
import re

import numpy as np
import pytest
import torch

from gan_lab import checks
from gan_lab.settings import SEED_LIMIT


def refused(call, name, value):
    """``call()`` raises ValueError naming ``name`` and showing ``repr(value)``."""
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert re.search(rf"\b{re.escape(name)}\b", message), message
    assert repr(value) in message, message


# ---- is_number ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0, -3, 2.5, float("nan"), float("inf"), np.int8(1), np.int64(-2),
                                   np.uint64(7), np.float16(0.5), np.float32(1.5), np.float64(2.0)])
def test_is_number_accepts_python_and_numpy_reals(value):
    assert checks.is_number(value) is True


@pytest.mark.parametrize("value", [True, False, np.bool_(True), "1", b"1", None, 1j, [1], (1,),
                                   torch.tensor(1.0), np.array([1.0])])
def test_is_number_refuses_bools_strings_containers_and_tensors(value):
    assert checks.is_number(value) is False


# ---- integer ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, minimum", [(1, 1), (7, 1), (0, 0), (np.int64(5), 1), (np.int32(3), 3),
                                            (np.uint8(2), 0), (-4, -10)])
def test_integer_returns_a_plain_int(value, minimum):
    out = checks.integer("steps", value, minimum)
    assert type(out) is int and out == int(value)


@pytest.mark.parametrize("value, minimum", [(0, 1), (-1, 0), (2, 3), (np.int64(0), 1), (True, 0), (False, 0),
                                            (np.bool_(True), 0), (1.0, 1), (np.float64(2.0), 1), ("3", 1),
                                            (None, 1), (float("nan"), 0), (float("inf"), 0)])
def test_integer_refuses_non_integers_and_values_below_the_minimum(value, minimum):
    refused(lambda: checks.integer("steps", value, minimum), "steps", value)


def test_integer_message_says_the_minimum():
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 2, got 1"):
        checks.integer("batch_size", 1, 2)


# ---- finite_number --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0, -3, 2.5, -1e300, 1e-320, 10**300, np.float16(0.5), np.float32(-1.5),
                                   np.float64(2.0), np.int64(-2), np.uint8(7)])
def test_finite_number_returns_a_plain_float(value):
    out = checks.finite_number("a", value)
    assert type(out) is float and out == float(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), np.float64("nan"), np.float32("inf"),
                                   10**400, -10**400, True, False, np.bool_(False), "1.0", None, 1j, [1.0],
                                   torch.tensor(1.0), np.array(1.0)])
def test_finite_number_refuses_non_finite_values_bools_strings_and_containers(value):
    refused(lambda: checks.finite_number("a", value), "a", value)


def test_finite_number_message():
    with pytest.raises(ValueError, match=r"^theta must be a finite number, got nan$"):
        checks.finite_number("theta", float("nan"))


# ---- positive_number ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [1, 0.5, 1e-12, 3e8, np.float32(0.25), np.float64(2.0), np.int64(3)])
def test_positive_number_returns_a_plain_float(value):
    out = checks.positive_number("lr", value)
    assert type(out) is float and out == float(value)


@pytest.mark.parametrize("value", [0, 0.0, -1e-9, -2, float("nan"), float("inf"), -float("inf"),
                                   np.float64("nan"), np.float32("inf"), True, np.bool_(True), "0.1", None,
                                   [0.1], torch.tensor(0.1)])
def test_positive_number_refuses_zero_negatives_non_finite_bools_and_strings(value):
    refused(lambda: checks.positive_number("lr", value), "lr", value)


@pytest.mark.parametrize("check", [lambda v: checks.positive_number("lr", v),
                                   lambda v: checks.number_at_least("lr", v, 0.0)])
@pytest.mark.parametrize("value", [10**400, -10**400])
def test_an_integer_too_large_for_a_float_is_refused_as_not_finite(check, value):
    refused(lambda: check(value), "lr", value)


# ---- number_at_least -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, minimum, below", [(0, 0.0, math.inf), (0.0, 0.0, 1.0), (0.999, 0.0, 1.0),
                                                   (5, 2.0, math.inf), (np.float32(0.5), 0.0, 1.0),
                                                   (np.int64(0), 0.0, 1.0), (-1.5, -2.0, math.inf)])
def test_number_at_least_returns_a_plain_float_in_range(value, minimum, below):
    out = checks.number_at_least("label_smoothing", value, minimum, below=below)
    assert type(out) is float and out == float(value)


@pytest.mark.parametrize("value, minimum, below", [(1.0, 0.0, 1.0), (1, 0.0, 1.0), (-1e-9, 0.0, 1.0),
                                                   (-0.1, 0.0, math.inf), (1.9, 2.0, math.inf),
                                                   (float("nan"), 0.0, 1.0), (float("inf"), 0.0, math.inf),
                                                   (np.float64("nan"), 0.0, math.inf), (True, 0.0, 1.0),
                                                   (False, 0.0, 1.0), ("0.5", 0.0, 1.0), (None, 0.0, 1.0)])
def test_number_at_least_refuses_values_outside_the_range(value, minimum, below):
    refused(lambda: checks.number_at_least("label_smoothing", value, minimum, below=below), "label_smoothing", value)


def test_number_at_least_message_gives_the_half_open_interval_or_the_minimum():
    with pytest.raises(ValueError, match=r"label_smoothing must be a finite number in \[0.0, 1.0\), got 1.0"):
        checks.number_at_least("label_smoothing", 1.0, 0.0, below=1.0)
    with pytest.raises(ValueError, match=r"penalty_weight must be a finite number >= 0.0, got -1"):
        checks.number_at_least("penalty_weight", -1, 0.0)


# ---- boolean --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [True, False])
def test_boolean_returns_the_bool(value):
    assert checks.boolean("progress", value) is value


@pytest.mark.parametrize("value", [0, 1, 1.0, "True", "false", None, np.bool_(True), [True]])
def test_boolean_refuses_everything_but_true_and_false(value):
    refused(lambda: checks.boolean("progress", value), "progress", value)


# ---- choice --------------------------------------------------------------------------------------------

def test_choice_returns_the_value_from_a_tuple_or_a_list():
    assert checks.choice("optimizer", "adam", ("adam", "rmsprop")) == "adam"
    assert checks.choice("size", 32, [16, 32, 64]) == 32


@pytest.mark.parametrize("value, options", [("sgd", ("adam", "rmsprop")), ("Adam", ("adam",)), (None, ("adam",)),
                                            (3, (1, 2)), (True, (1, 2)), (False, (0, 1)), (1.5, (1, 2))])
def test_choice_refuses_values_not_among_the_options_and_bools_that_equal_one(value, options):
    with pytest.raises(ValueError) as info:
        checks.choice("optimizer", value, options)
    message = str(info.value)
    assert f"unknown optimizer {value!r}" in message
    assert repr(tuple(options)) in message          # and says what would do


# ---- seed ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0, 1, 123456789, SEED_LIMIT, np.int64(5), np.uint64(SEED_LIMIT)])
def test_seed_accepts_integers_from_0_to_below_2_to_the_63(value):
    out = checks.seed("seed", value)
    assert type(out) is int and out == int(value)


@pytest.mark.parametrize("value", [-1, SEED_LIMIT + 1, 2**64, np.uint64(SEED_LIMIT + 1), 1.0, True, "0", None,
                                   float("nan")])
def test_seed_refuses_negative_too_large_and_non_integer_seeds(value):
    refused(lambda: checks.seed("seed", value), "seed", value)


def test_seed_too_large_says_the_limit():
    with pytest.raises(ValueError, match=r"seed must be below 2\*\*63"):
        checks.seed("seed", 2**63)


# ---- betas ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [(0.5, 0.9), [0, 0.9], (0.0, 0.0), (np.float32(0.5), np.float64(0.999)),
                                   (np.int64(0), 0.5)])
def test_betas_returns_two_plain_floats(value):
    out = checks.betas(value)
    assert type(out) is tuple and len(out) == 2 and all(type(b) is float for b in out)
    assert out == (float(value[0]), float(value[1]))


@pytest.mark.parametrize("value", [(1.0, 0.9), (0.5, 1), (-0.1, 0.9), (float("nan"), 0.9), (0.5, float("inf")),
                                   (True, 0.9), (0.5, False), ("0.5", 0.9), (0.5,), (0.5, 0.9, 0.99), 0.5, None,
                                   "ab", np.array([0.5, 0.9])])
def test_betas_refuses_anything_but_two_numbers_in_0_1(value):
    with pytest.raises(ValueError) as info:
        checks.betas(value, name="adam_betas")
    message = str(info.value)
    assert message.startswith("adam_betas must be two numbers in [0, 1)"), message
    assert repr(value) in message, message
