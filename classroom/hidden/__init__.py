"""Hidden tests: used only for grading, never shown to students.

One module per notebook with exercises: ``chNN`` for chapter NN (``book/NN_*.ipynb``), and the notebook's
stem for the assignments in ``book/assignments/`` (e.g. ``fix_mode_collapse``). Each module defines

    HIDDEN: dict[str, Callable[[dict], None]]

mapping an exercise's label (the ``:label:`` of its ``{exercise}`` directive) to a test. The test receives
the graded notebook's global namespace after the student's notebook has run, fetches what it grades with
``answer(namespace, "name")`` and raises ``AssertionError`` whose message says what differed (it is the
student's feedback). It must test more than the visible check does: other inputs (other shapes, dtypes,
seeds), the planted-mistake classes the exercise contract knows, edge cases. A stub that still raises
``NotImplementedError`` fails it.

Exercises whose answer is a training outcome are graded with ``over_seeds``: the outcome on several seeds
with a stated tolerance, never one seed's numbers.
"""
from __future__ import annotations

from typing import Callable, Sequence

__all__ = ["answer", "over_seeds"]


def answer(namespace: dict, name: str) -> Callable:
    """The student's ``name`` from the notebook's namespace; AssertionError if it is missing or not callable."""
    if name not in namespace:
        raise AssertionError(f"`{name}` is not defined: its cell did not run, or it was renamed")
    value = namespace[name]
    if not callable(value):
        raise AssertionError(f"`{name}` should be a function, got {type(value).__name__}")
    return value


def over_seeds(outcome: Callable[[int], tuple[bool, str]], seeds: Sequence[int], need: int, what: str) -> None:
    """Pass when ``outcome(seed)`` is a success on at least ``need`` of ``seeds``.

    ``outcome(seed)`` returns ``(passed, figure)``: whether that seed's run met the bar, and the measured
    number in words (e.g. ``"6/8 modes"``), which goes into the feedback. ``what`` names the bar
    (e.g. ``"covers all 8 modes"``).
    """
    if not 1 <= need <= len(seeds):
        raise ValueError(f"need must be between 1 and {len(seeds)} seeds, got {need}")
    results = [(seed, *outcome(seed)) for seed in seeds]
    passed = sum(ok for _, ok, _ in results)
    if passed < need:
        detail = "; ".join(f"seed {s}: {fig}{'' if ok else ' (missed)'}" for s, ok, fig in results)
        raise AssertionError(f"{what} on {passed} of {len(seeds)} seeds; at least {need} needed ({detail})")
