"""Automatic checks for the book's exercises, one module per chapter (``ch01``, ...).

Each ``check_*`` takes the reader's function, runs it on inputs the reader did not choose, and compares
with gan_lab's own implementation or a closed form:

- correct: prints a short confirmation and returns ``True``;
- not attempted (the function still raises ``NotImplementedError``): says so and returns ``False``,
  so a fresh notebook runs from top to bottom;
- wrong: raises ``AssertionError`` saying what differed.
"""
from __future__ import annotations

from typing import Callable

from . import ch01
from . import ch02
from . import ch03
from . import ch04
from . import ch05
from . import ch06
from . import ch07
from . import ch08
from . import ch09

from ._compare import same_parameter_gradients

__all__ = ["ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch08", "ch09", "run_check",
           "same_parameter_gradients"]


def run_check(title: str, attempt: Callable[[], None]) -> bool:
    """Run ``attempt`` (which raises AssertionError on a wrong answer); report the outcome."""
    try:
        attempt()
    except NotImplementedError:
        print(f"[{title}] not attempted yet: replace the NotImplementedError with your answer.")
        return False
    print(f"[{title}] correct.")
    return True
