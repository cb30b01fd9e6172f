"""Argument checks shared by every module: each raises ``ValueError`` naming the argument and its value.

Bad input is refused before any work, with a message a student can act on. These are the few kinds of
argument gan_lab takes (counts, rates, switches, choices, seeds, Adam's betas), checked one way everywhere.
A ``bool`` is never accepted as a number: ``True`` is an ``int`` to Python, but ``steps=True`` is a mistake.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .settings import SEED_LIMIT

__all__ = ["integer", "finite_number", "positive_number", "number_at_least", "boolean", "choice", "seed", "betas",
           "is_number"]

def is_number(value: Any) -> bool:
    """A real number that is not a bool (ints, floats, NumPy scalars)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def integer(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` if it is an integer >= ``minimum`` (a bool is not)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _finite(value: Any) -> bool:
    """A finite real; an integer too large for a float (10**400) is not."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def finite_number(name: str, value: Any) -> float:
    """``value`` as a float if it is a finite real number (not NaN or +-inf; a bool is not a number)."""
    if not is_number(value) or not _finite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def positive_number(name: str, value: Any) -> float:
    """``value`` as a float if it is a finite number > 0."""
    if not is_number(value) or not _finite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def number_at_least(name: str, value: Any, minimum: float = 0.0, *, below: float = math.inf) -> float:
    """``value`` as a float if it is a finite number in [minimum, below)."""
    if not is_number(value) or not _finite(value) or value < minimum or value >= below:
        where = f">= {minimum}" if below == math.inf else f"in [{minimum}, {below})"
        raise ValueError(f"{name} must be a finite number {where}, got {value!r}")
    return float(value)


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def choice(name: str, value: Any, options: Sequence) -> Any:
    """``value`` if it is one of ``options``."""
    if isinstance(value, bool) or value not in tuple(options):
        raise ValueError(f"unknown {name} {value!r}; use one of {tuple(options)}")
    return value


def seed(name: str, value: Any) -> int:
    """A seed: a non-negative integer that torch's generators take (below 2**63)."""
    integer(name, value, 0)
    if value > SEED_LIMIT:
        raise ValueError(f"{name} must be below 2**63 (torch's generators take no larger), got {value!r}")
    return int(value)


def betas(value: Any, name: str = "betas") -> tuple:
    """Adam's (beta1, beta2) as two plain floats in [0, 1)."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(is_number(b) and 0 <= b < 1 for b in value)):
        raise ValueError(f"{name} must be two numbers in [0, 1), got {value!r}")
    return float(value[0]), float(value[1])
