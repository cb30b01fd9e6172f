"""Hidden tests: used only for grading, never shown to students.

One module per chapter with exercises: ``chNN`` for chapter NN (every ``book/NN_*.ipynb``: a chapter of
several pages, like chapter 9, has one module for the exercises of all of them), and the notebook's stem
for the assignments in ``book/assignments/`` (e.g. ``fix_mode_collapse``). Each module defines

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

import contextlib
import importlib
import io
import os
import signal
import threading
from typing import Callable, Sequence

__all__ = ["answer", "over_seeds", "visible_check", "run_hidden", "time_limit", "TEST_SECONDS"]

# The longest one test may run before it counts as failed (a student's endless loop must not hang the
# grade run). GAN_LAB_TEST_SECONDS overrides it.
TEST_SECONDS = float(os.environ.get("GAN_LAB_TEST_SECONDS", "300"))


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


@contextlib.contextmanager
def time_limit(seconds: float, what: str):
    """Raise TimeoutError in the block after ``seconds`` (SIGALRM: main thread on POSIX; elsewhere no limit)."""
    if seconds <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"{what} ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def visible_check(env: dict, call: str) -> None:
    """Run the exercise's visible check (``call``, e.g. ``gl.exercises.ch01.check_x(x)``) in the notebook's
    namespace; AssertionError carrying what it printed unless it returned True."""
    out = io.StringIO()
    try:
        with time_limit(TEST_SECONDS, "the visible check"), contextlib.redirect_stdout(out):
            passed = eval(call, env)  # noqa: S307 -- the call is written by the build, not by the student
    except NameError as e:
        raise AssertionError(f"{e}: its cell did not run, or a name was changed") from None
    if passed is not True:
        said = out.getvalue().strip() or "it did not say correct"
        raise AssertionError(f"the visible check did not pass: {said}")


def run_hidden(env: dict, module: str, label: str) -> None:
    """Run the hidden test of exercise ``label`` from ``classroom.hidden.<module>``."""
    test = importlib.import_module(f"{__name__}.{module}").HIDDEN[label]
    with time_limit(TEST_SECONDS, "the hidden test"), contextlib.redirect_stdout(io.StringIO()):
        test(env)
