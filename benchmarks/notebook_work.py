"""Count the work of each notebook of the book at each budget, and record it in gan_lab/costs.json ("work").

The work (``gan_lab.work.Work``) is what the notebook computes: FLOPs of matrix products and convolutions,
operators that launched a kernel, and host seconds in NumPy/POT (exact W1). ``gl.costs.report`` turns it into
an estimate of the wall time on a device that has no measurement.

A full-budget notebook trains for hours on a CPU, so the counting run does not train in full. It executes
the notebook in a fresh kernel (nbclient, the budget set, errors allowed) with the package's training entry
points wrapped by kernel start-up code (``install``). Each call of ``train``, ``train_seeds``,
``images.train_images``, ``estimate.fit_two_sample`` (behind ``fit_discriminator``, ``wasserstein1_dual``,
``lipschitz.fit_critic``) and ``quality.train_classifier`` (also through ``runs.cached``) is run for a few
steps of the same configuration, several times, so that the work splits into

    W(N) = S + N u + (logs) l + (samples) s + (early critic steps) d        (``count_train``, ...)

set-up S, per step u, per log l, per snapshot s and per extra critic step d, each read off the difference
of two counted runs; W is then evaluated at the call's own steps and schedule. The user's ``on_log`` is
replayed at every log step of the full schedule (its own work counted as it runs, and a StopTraining ends
the extrapolation where it would have ended the run). The call returns the short run's result, its history
padded to the full schedule, so the notebook goes on; check cells that then fail do not matter (errors are
allowed, and their number is recorded). Everything outside the training calls is counted as it runs.
``tests/test_costs.py`` proves the extrapolation equal to the full count on runs small enough to count;
``--exact`` at the quick budget checks it on whole notebooks (FLOPs within 0.2%, dispatches within 0.1%).

What the count leaves out, so where an estimate from it errs: memory traffic of elementwise operators (the
FLOPs are those of products only); Python and autograd work between operators beyond what the calibrated
cost of one dispatch holds; plotting, imports and kernel start-up. It is counted on the CPU in float32: on
CUDA the image loop autocasts to bfloat16 (more cast kernels, faster products), RMSProp and unfused Adam
use foreach kernels (fewer launches than the CPU's loop over parameters), and host-to-device copies (no-ops
on the CPU) launch kernels the count does not have. The cache's own saves (``runs.cached``) are not counted.
Loops a notebook writes itself run in full, so a counting run at the full budget can hit its time limit:
it is then marked partial (a lower bound).

    python benchmarks/notebook_work.py --budgets quick book full [--only 01_minimax ...]
    python benchmarks/notebook_work.py --budgets quick --exact    # count every operator of full runs instead
    python benchmarks/notebook_work.py --compare [--only ...]     # estimates next to this CPU's measurements
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import functools
import inspect
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from gan_lab import work as _work  # noqa: E402
from gan_lab.work import Work  # noqa: E402

K = 1                      # steps of the shortest counted run (the others run 2K)
EXACT_STEPS = 4 * K        # a call this short runs as it is: counting it would cost more
BIG = 10 ** 9              # a log_every / sample_every that never fires before the last step
EXTRAPOLATED = "per step, extrapolated"
EXACT = "exactly (every operator of a full run)"
HOST_TIMINGS = 2           # calls of W1, a transport plan or scoring.score run per size; later ones reuse their work


def events(start: int, stop: int, every: int, last: int) -> int:
    """How many steps s in (start, stop] have s % every == 0 or s == last: the logs (or snapshots) of a loop
    that logs every ``every`` steps and at its last step ``last``."""
    if stop <= start:
        return 0
    n = stop // every - start // every
    if start < last <= stop and last % every:
        n += 1
    return n


def schedule(start: int, stop: int, every: int, last: int) -> list[int]:
    """The steps that ``events`` counts, in order."""
    return [s for s in range(start + 1, stop + 1) if s % every == 0 or s == last]


def early_steps(start: int, stop: int) -> int:
    """Steps s in (start, stop] where ``train`` runs ``n_critic_early`` critic steps: s <= 25 or s % 500 == 0."""
    if stop <= start:
        return 0
    return max(0, min(stop, 25) - start) + events(max(start, 25), stop, 500, -1)


@dataclass
class Call:
    """One training call of the notebook: its work as extrapolated (or counted, if it ran as it is)."""

    fn: str
    steps: int
    work: Work
    actual: Work = Work()
    exact: bool = False
    stopped_at: Optional[int] = None
    start: int = 0
    parts: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"fn": self.fn, "steps": self.steps, "exact": self.exact, "work": self.work.as_dict(),
               "counted_while_running": self.actual.as_dict()}
        if self.start:
            out["resumed_at"] = self.start
        if self.stopped_at is not None:
            out["stopped_at"] = self.stopped_at
        if self.parts:
            out["parts"] = {k: v.as_dict() for k, v in self.parts.items()}
        return out


class Session:
    """The counting state of one kernel: the counter, the calls, and the checkpoints runs reached."""

    def __init__(self, counter: _work.Counter, *, exact: bool = False) -> None:
        self.counter = counter
        self.exact = exact
        self.calls: list[Call] = []
        self.depth = 0
        self.reached: dict = {}       # checkpoint path -> (step, result) of a counted call that "wrote" it
        self.undo: list = []          # (namespace, name, original) that install replaced
        self.reused = 0               # calls not run: their work is that of earlier calls of their size

    def measure(self, fn: Callable, *args: Any, **kwargs: Any) -> tuple[Any, Work]:
        """``fn(*args, **kwargs)`` and the work counted while it ran."""
        before = self.counter.total
        out = fn(*args, **kwargs)
        return out, self.counter.total - before

    def total(self) -> Work:
        """What the notebook computed: everything counted, with each training call's counted short runs
        replaced by its extrapolated work."""
        w = self.counter.total
        for c in self.calls:
            w = w - c.actual + c.work
        return w


# ---- padding a short run's result to the full schedule ------------------------------------------------------

def _pad_history(history: dict, steps: list[int], prefix: int = 0) -> dict:
    """The history a run logging at ``steps`` would have: the short run's entries after the first ``prefix``
    (kept as they are) replaced by its last value at each of ``steps``."""
    out = {}
    for key, values in history.items():
        values = list(values)
        last = values[-1] if values else float("nan")
        out[key] = values[:prefix] + ([*steps] if key == "step" else [last] * len(steps))
    return out


def _replay(session: Session, on_log: Optional[Callable], results: list, steps: list[int], prefix: int = 0
            ) -> tuple[list[Optional[int]], Work]:
    """Give each result the history of the full schedule ``steps``, calling ``on_log`` at every log step as the
    loop would (seed by seed); returns the step at which each seed's ``on_log`` raised StopTraining (None: never)
    and the work ``on_log`` did."""
    from gan_lab import loop
    stopped: list[Optional[int]] = [None] * len(results)
    done = Work()
    bases = [{k: list(v) for k, v in r.history.items()} for r in results]
    for r, base in zip(results, bases):
        r.history = {k: v[:prefix] for k, v in base.items()}
    for s in steps:
        for i, (r, base) in enumerate(zip(results, bases)):
            if stopped[i] is not None:
                continue
            for key, values in base.items():
                if key == "step" or values:     # what the loop records at a log: the short run's last values
                    r.history[key].append(s if key == "step" else values[-1])
            if on_log is None:
                continue
            (extra, stop), w = session.measure(loop.log_extras, on_log, r, s)
            done = done + w
            for key, value in extra.items():
                r.history.setdefault(key, []).append(value)
            if stop:
                stopped[i], r.stopped = s, True
    return stopped, done


def _timed_by_calls(parts: dict, runs: list[Work]) -> dict:
    """The parts with their host seconds re-derived as host_calls x the mean seconds per host call in the
    counted runs: a host call count differences exactly, a difference of two timings is noise (which a
    per-step part would multiply by the number of steps)."""
    calls = sum(r.host_calls for r in runs)
    mean = sum(r.host_seconds for r in runs) / calls if calls else 0.0
    return {k: Work(w.flops, w.dispatches, w.host_calls * mean, w.host_calls) for k, w in parts.items()}


# ---- the toy loop: train and train_seeds ---------------------------------------------------------------------

def _start_of(session: Session, path: Any, resume: Any) -> tuple[int, Any]:
    """(step, what the earlier call left) a resumed call starts from: a checkpoint an earlier counted call
    reached, else (0, None); a checkpoint on disk that no counted call wrote: the call runs as it is."""
    if path is None or resume is False:
        return 0, None
    key = os.fspath(path)
    if key in session.reached:
        return session.reached[key]
    if os.path.exists(key):           # written by a call that really ran: resume it for real
        raise _RunAsIs
    return 0, None


class _RunAsIs(Exception):
    """This call is run as it is (counted while it runs), not extrapolated."""


@contextlib.contextmanager
def _as_is_on_bad_input():
    """Arguments that cannot be read: the call runs as it is, and raises the error the notebook would see."""
    try:
        yield
    except (TypeError, ValueError, KeyError):
        raise _RunAsIs from None


def count_train(session: Session, original: Callable, args: tuple, kwargs: dict) -> tuple[Any, Call]:
    """Count ``train`` / ``train_seeds``: runs of K and 2K steps (logging only at their last step), one of 2K
    steps logging every K, and, when ``n_critic_early`` > 0, one of 2K steps with one more critic step."""
    from gan_lab import loop
    from gan_lab.train import TrainConfig
    with _as_is_on_bad_input():
        a = dict(inspect.signature(original).bind(*args, **kwargs).arguments)
        overrides = dict(a.pop("overrides", {}))
        cfg = loop.configure(a.pop("config", None), TrainConfig, overrides).resolved()
    on_log = a.pop("on_log", None)
    start, before = _start_of(session, a.pop("checkpoint_path", None), a.pop("resume", False))
    a.pop("checkpoint_seconds", None)
    N = cfg.steps
    if N <= EXACT_STEPS or start:     # short, or resuming a checkpoint (only runs.cached does: not counted)
        raise _RunAsIs
    data = a.pop("data")
    nets = {k: a.pop(k) for k in ("generator", "critic") if a.get(k) is not None}
    a.pop("generator", None), a.pop("critic", None)
    recorder = (lambda r: None) if on_log is not None else None

    def run(steps: int, log_every: int, n_critic: int = cfg.n_critic, own: bool = False):
        c = replace(cfg, steps=steps, log_every=log_every, n_critic=n_critic, n_critic_early=0, progress=False)
        mine = nets if own else {k: copy.deepcopy(v) for k, v in nets.items()}
        return session.measure(original, data, c, on_log=recorder, **mine, **a)

    _, w_a = run(K, BIG)
    _, w_b = run(2 * K, BIG)
    early = cfg.n_critic_early > 0 and early_steps(0, N) > 0
    w_d = run(2 * K, BIG, cfg.n_critic + 1)[1] if early else None
    result, w_c = run(2 * K, K, own=True)
    u, l = (w_b - w_a) / K, w_c - w_b
    parts = _timed_by_calls({"setup": w_a - u * K - l, "per_step": u, "per_log": l,
                             "per_critic_step": (w_d - w_b) / (2 * K) if early else Work()},
                            [w for w in (w_a, w_b, w_c, w_d) if w is not None])
    setup, u, l, d = parts["setup"], parts["per_step"], parts["per_log"], parts["per_critic_step"]
    results = result if isinstance(result, list) else [result]
    for r in results:
        r.config = replace(cfg, seed=r.config.seed)
    log_steps = schedule(0, N, cfg.log_every, N)
    stopped, on_log_work = _replay(session, on_log, results, log_steps)
    end = max(stopped) if stopped and all(s is not None for s in stopped) else N
    if cfg.snapshots:
        for r in results:
            r.snapshots = [(s, r.snapshots[-1][1]) for s in log_steps if s <= end] if r.snapshots else []
    extra_critic = (cfg.n_critic_early - cfg.n_critic) * early_steps(0, end) if early else 0
    total = setup + u * end + l * events(0, end, cfg.log_every, N) + d * extra_critic + on_log_work
    return result, Call(original.__name__, N, total, exact=False, stopped_at=None if end == N else end,
                        parts={**parts, "on_log": on_log_work})


# ---- the image loop -------------------------------------------------------------------------------------------

def count_train_images(session: Session, original: Callable, args: tuple, kwargs: dict) -> tuple[Any, Call]:
    """Count ``images.train_images``: runs of K and 2K steps (logging and sampling only at their last step),
    one of 2K steps logging every K and one sampling every K, all at a batch of 2 (a step's FLOPs are then
    scaled to the call's batch; its dispatches do not depend on it); with a ``checkpoint_path``, one of 2K steps
    saving every K and one resuming it at its end. A call that resumes what an earlier counted call reached
    (``resume``, the same path) reuses that call's parts and result, as the real call reuses its checkpoint."""
    from gan_lab import loop
    from gan_lab.images import ImageTrainConfig
    with _as_is_on_bad_input():
        a = dict(inspect.signature(original).bind(*args, **kwargs).arguments)
        overrides = dict(a.pop("overrides", {}))
        cfg = loop.configure(a.pop("config", None), ImageTrainConfig, overrides)
    on_log = a.pop("on_log", None)
    path, resume = a.pop("checkpoint_path", None), a.pop("resume", False)
    start, before = _start_of(session, path, resume)
    N = cfg.steps
    if start > N:
        raise _RunAsIs        # the real call refuses it
    if N - start <= EXACT_STEPS and start == 0:
        raise _RunAsIs
    pictures = a.pop("images")
    recorder = (lambda r: None) if on_log is not None else None

    # counted at a batch of 2: a step's FLOPs (products and convolutions over the batch) grow linearly with
    # the batch and its dispatches do not depend on it, while a 64-px step at batch 64 takes seconds here
    small = min(cfg.batch_size, 2)

    def run(steps: int, log_every: int, sample_every: int, **saving):
        c = replace(cfg, steps=steps, log_every=log_every, sample_every=sample_every, progress=False,
                    batch_size=small, checkpoint_every=saving.pop("checkpoint_every", cfg.checkpoint_every))
        return session.measure(original, pictures, c, on_log=recorder, **saving, **a)

    zero = Work()
    if start:          # resuming what an earlier counted call reached: its parts, its result continued
        parts = dict(before[1])
        result = copy.copy(before[0])
        result.history = {k: list(v) for k, v in before[0].history.items()}
        result.samples, result.start_step = list(before[0].samples), start
        prefix = len(result.history.get("step", []))
        setup = parts["resumed_setup"]
    else:
        _, w_a = run(K, BIG, BIG)
        _, w_b = run(2 * K, BIG, BIG)
        w_e = run(2 * K, BIG, K)[1] if cfg.snapshots else w_b
        result, w_c = run(2 * K, K, BIG)
        result.config = cfg
        u_small, l, s = (w_b - w_a) / K, w_c - w_b, w_e - w_b
        u = Work(u_small.flops * cfg.batch_size / small, u_small.dispatches, u_small.host_seconds, u_small.host_calls)
        # the set-up holds the snapshot of the untrained generator; it is read off the runs at the small batch
        parts = {"setup": w_a - u_small * K - l - (s if cfg.snapshots else zero), "per_step": u, "per_log": l,
                 "per_snapshot": s, "per_save": zero, "resumed_setup": zero}
        runs = [w_a, w_b, w_c, w_e]
        if path is not None:   # saves at K and 2K; then a resume of that finished run: set-up and restore
            with tempfile.TemporaryDirectory() as tmp:
                where = os.path.join(tmp, "counted.pt")
                w_f = run(2 * K, BIG, BIG, checkpoint_path=where, checkpoint_every=K)[1]
                w_g = run(2 * K, BIG, BIG, checkpoint_path=where, resume=True)[1]
            parts.update(per_save=(w_f - w_b) / 2, resumed_setup=w_g)
            runs += [w_f, w_g]
        parts = _timed_by_calls(parts, runs)
        setup, prefix = parts["setup"], 0
    u, l, s = parts["per_step"], parts["per_log"], parts["per_snapshot"]
    log_steps = schedule(start, N, cfg.log_every, N)
    (stopped,), on_log_work = _replay(session, on_log, [result], log_steps, prefix)
    end = stopped if stopped is not None else N
    if cfg.snapshots and result.samples:
        last = result.samples[-1][1]
        kept = [x for x in result.samples if x[0] <= start] if start else result.samples[:1]
        result.samples = kept + [(t, last) for t in schedule(start, end, cfg.sample_every, N)]
    saves = events(start, end, cfg.checkpoint_every or BIG, end) if path is not None else 0
    total = (setup + u * (end - start) + l * events(start, end, cfg.log_every, N) + parts["per_save"] * saves
             + s * (events(start, end, cfg.sample_every, N) if cfg.snapshots else 0) + on_log_work)
    if path is not None:
        session.reached[os.fspath(path)] = (end, (result, parts))
    return result, Call(original.__name__, N, total, stopped_at=None if end == N else end, start=start,
                        parts={**parts, "on_log": on_log_work})


# ---- the two loops with a config of steps, log_every and batch_size: text to image, InfoGAN ------------------

def _count_by_short_runs(session: Session, original: Callable, args: tuple, kwargs: dict, config_class: type,
                         data: tuple[str, ...]) -> tuple[Any, Call]:
    """Count a loop called as ``original(*data, config, device=..., **overrides)`` whose config has ``steps``,
    ``log_every`` and ``batch_size``: runs of K and 2K steps (logging only at their last step) and one of 2K
    steps logging every K, at a batch of 2, a step's FLOPs scaled to the call's batch (as for
    ``train_images``). A call with a ``checkpoint_path``, ``resume`` or ``on_log`` runs as it is."""
    from gan_lab import loop
    with _as_is_on_bad_input():
        a = dict(inspect.signature(original).bind(*args, **kwargs).arguments)
        overrides = dict(a.pop("overrides", {}))
        cfg = loop.configure(a.pop("config", None), config_class, overrides)
    if a.get("checkpoint_path") is not None or a.get("resume") or a.get("on_log") is not None:
        raise _RunAsIs
    N = cfg.steps
    if N <= EXACT_STEPS:
        raise _RunAsIs
    small = min(cfg.batch_size, 2)

    def run(steps: int, log_every: int):
        c = replace(cfg, steps=steps, log_every=log_every, batch_size=small, progress=False)
        return session.measure(original, *(a[name] for name in data), c,
                               **{k: v for k, v in a.items() if k in ("device",)})

    _, w_a = run(K, BIG)
    _, w_b = run(2 * K, BIG)
    result, w_c = run(2 * K, K)
    u_small, l = (w_b - w_a) / K, w_c - w_b
    u = Work(u_small.flops * cfg.batch_size / small, u_small.dispatches, u_small.host_seconds, u_small.host_calls)
    parts = _timed_by_calls({"setup": w_a - u_small * K - l, "per_step": u, "per_log": l}, [w_a, w_b, w_c])
    result.config = cfg
    result.history = _pad_history(result.history, schedule(0, N, cfg.log_every, N))
    total = parts["setup"] + parts["per_step"] * N + parts["per_log"] * events(0, N, cfg.log_every, N)
    return result, Call(original.__name__, N, total, parts=parts)


def count_train_text_to_image(session: Session, original: Callable, args: tuple, kwargs: dict) -> tuple[Any, Call]:
    """Count ``text_to_image.train_text_to_image`` (``_count_by_short_runs``)."""
    from gan_lab.text_to_image import TextToImageConfig
    return _count_by_short_runs(session, original, args, kwargs, TextToImageConfig, ("images", "labels", "classes"))


def count_train_infogan(session: Session, original: Callable, args: tuple, kwargs: dict) -> tuple[Any, Call]:
    """Count ``infogan.train_infogan`` (``_count_by_short_runs``)."""
    from gan_lab.infogan import InfoGANConfig
    return _count_by_short_runs(session, original, args, kwargs, InfoGANConfig, ("images",))


def count_train_translation(session: Session, original: Callable, args: tuple, kwargs: dict) -> tuple[Any, Call]:
    """Count ``translation.train_translation`` (``_count_by_short_runs``: a step's FLOPs scale with the batch
    drawn from each domain)."""
    from gan_lab.translation import TranslationConfig
    return _count_by_short_runs(session, original, args, kwargs, TranslationConfig, ("domain_a", "domain_b"))


# ---- two fixed distributions: estimate.fit_two_sample --------------------------------------------------------

def count_fit_two_sample(session: Session, original: Callable, args: tuple, kwargs: dict) -> tuple[Any, Call]:
    """Count ``estimate.fit_two_sample``: runs of K and 2K steps, with the work of its ``score`` (at each of
    its ~50 logs) counted apart."""
    from gan_lab import checks
    with _as_is_on_bad_input():
        a = dict(inspect.signature(original).bind(*args, **kwargs).arguments)
        N = checks.integer("steps", a["steps"], 1)
    if N <= EXACT_STEPS:
        raise _RunAsIs
    score = a["score"]
    scored = {"work": Work(), "calls": 0}

    def counted_score(net, x, y):
        value, w = session.measure(lambda: float(score(net, x, y)))
        scored["work"], scored["calls"] = scored["work"] + w, scored["calls"] + 1
        return value

    def run(steps: int, own: bool):
        scored["work"], scored["calls"] = Work(), 0
        b = dict(a, steps=steps, score=counted_score, net=a["net"] if own else copy.deepcopy(a["net"]))
        out, w = session.measure(original, **b)
        return out, w - scored["work"], scored["work"] / scored["calls"]

    _, rest_a, l_a = run(K, own=False)
    (net, curve), rest_b, l = run(2 * K, own=True)
    u = (rest_b - rest_a) / K
    parts = _timed_by_calls({"setup": rest_a - u * K, "per_step": u, "per_log": l}, [rest_a, rest_b, l_a, l])
    every = max(1, N // 50)
    total = parts["setup"] + parts["per_step"] * N + parts["per_log"] * events(0, N, every, N)
    curve = [(s, curve[-1][1]) for s in schedule(0, N, every, N)]
    return (net, curve), Call("fit_two_sample", N, total, parts=parts)


# ---- quality.train_classifier --------------------------------------------------------------------------------

def count_train_classifier(session: Session, original: Callable, args: tuple, kwargs: dict) -> tuple[Any, Call]:
    """Count ``quality.train_classifier`` on subsets of the images: 2b + r and 3b + r images for one epoch, and
    2b + r for two (b the batch size, r = n mod b), which separate set-up, an epoch and a full batch."""
    from gan_lab import checks
    with _as_is_on_bad_input():
        a = dict(inspect.signature(original).bind(*args, **kwargs).arguments)
        images, labels = a.pop("images"), a.pop("labels")
        b = checks.integer("batch_size", a.get("batch_size", 64), 1)
        E = checks.integer("epochs", a.get("epochs", 10), 1)
        n = len(images)
    r = n % b
    if n < 3 * b + r or E * math.ceil(n / b) <= 3 * EXACT_STEPS:
        raise _RunAsIs
    if a.get("n_classes") is None:     # a subset might miss the last class: keep the full set's head
        a["n_classes"] = int(torch.as_tensor(labels).max()) + 1

    def run(m: int, epochs: int):
        return session.measure(original, images[:m], labels[:m], **dict(a, epochs=epochs))

    _, w_a = run(2 * b + r, 1)
    _, w_b = run(3 * b + r, 1)
    model, w_c = run(2 * b + r, 2)
    batch, epoch_a = w_b - w_a, w_c - w_a
    parts = _timed_by_calls({"setup": w_a - epoch_a, "per_epoch": epoch_a + batch * (n // b - 2), "per_batch": batch},
                            [w_a, w_b, w_c])
    return model, Call("train_classifier", E, parts["setup"] + parts["per_epoch"] * E, parts=parts)


def _size_of(value: Any) -> Any:
    """What the work of a call depends on: tensors by shape and dtype, networks by their parameters' shapes,
    containers item by item, numbers and strings as they are, anything else by its type."""
    if isinstance(value, torch.Tensor) or hasattr(value, "shape") and hasattr(value, "dtype"):
        return ("tensor", tuple(value.shape), str(value.dtype))
    if isinstance(value, torch.nn.Module):
        return ("module", type(value).__name__, tuple(tuple(p.shape) for p in value.parameters()))
    if isinstance(value, (list, tuple)):
        return tuple(_size_of(v) for v in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return type(value).__name__


# ---- installing the wrappers in a kernel --------------------------------------------------------------------

COUNTERS = {"train": count_train, "train_seeds": count_train, "train_images": count_train_images,
            "fit_two_sample": count_fit_two_sample, "train_classifier": count_train_classifier,
            "train_text_to_image": count_train_text_to_image, "train_infogan": count_train_infogan,
            "train_translation": count_train_translation}


def _wrapper(session: Session, name: str, original: Callable) -> Callable:
    counter = COUNTERS[name]

    @functools.wraps(original)
    def counted(*args: Any, **kwargs: Any) -> Any:
        if session.depth:                 # inside another counted call: it runs, and is counted, as it is
            return original(*args, **kwargs)
        session.depth += 1
        before = session.counter.total
        try:
            if session.exact:
                raise _RunAsIs
            result, call = counter(session, original, args, kwargs)
        except _RunAsIs:
            result = original(*args, **kwargs)
            call = Call(name, -1, Work(), exact=True)
            call.work = session.counter.total - before
        finally:
            session.depth -= 1
        call.actual = session.counter.total - before
        if call.exact:
            call.work = call.actual
        session.calls.append(call)
        return result

    counted.__gan_lab_original__ = original
    return counted


def install(*, exact: bool = False) -> Session:
    """Start counting every operator of this process, and wrap the training entry points (wherever gan_lab
    holds them: module attributes, ``runs.CACHEABLE``, ``runs.cached``); exact POT work is timed as host work
    and ``costs.report`` (which may calibrate) is left out of the count. Returns the session."""
    from gan_lab import (costs, estimate, images, infogan, metrics, quality, runs, scoring, text_to_image, translation,
                         transport)
    train_module = sys.modules["gan_lab.train"]      # gan_lab.train is the function, re-exported
    session = Session(_work.Counter(), exact=exact)
    originals = {"train": train_module.train, "train_seeds": train_module.train_seeds,
                 "train_images": images.train_images, "fit_two_sample": estimate.fit_two_sample,
                 "train_classifier": quality.train_classifier,
                 "train_text_to_image": text_to_image.train_text_to_image, "train_infogan": infogan.train_infogan,
                 "train_translation": translation.train_translation}
    wrapped = {id(fn): _wrapper(session, name, fn) for name, fn in originals.items()}

    def by_size(fn: Callable, host: bool) -> Callable:
        """``fn`` counted (and timed as host work if ``host``); once it has run HOST_TIMINGS times on arguments
        of one size, a call of that size is not run: it adds their mean work and returns the last answer."""
        seen: dict = {}            # size of the arguments -> (works of the calls that ran, last answer)

        @functools.wraps(fn)
        def counted(*args: Any, **kwargs: Any) -> Any:
            key = _size_of((fn.__name__, args, sorted(kwargs.items())))
            done = seen.get(key)
            if done is not None and len(done[0]) >= HOST_TIMINGS and not session.exact:
                session.counter.add(sum(done[0], Work()) / len(done[0]))
                session.reused += 1
                return done[1]
            def run() -> Any:
                with session.counter.host() if host else contextlib.nullcontext():
                    return fn(*args, **kwargs)
            out, w = session.measure(run)
            seen[key] = ((done[0] if done else []) + [w], out)
            return out
        return counted

    def uncounted(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def quiet(*args: Any, **kwargs: Any) -> Any:
            with session.counter.excluded():
                return fn(*args, **kwargs)
        return quiet

    replaced = {id(metrics.wasserstein1): by_size(metrics.wasserstein1, host=True),
                id(transport.transport_plan): by_size(transport.transport_plan, host=True),
                id(scoring.score): by_size(scoring.score, host=False),
                id(costs.report): uncounted(costs.report), **wrapped}
    for name, module in list(sys.modules.items()):
        if name == "gan_lab" or name.startswith("gan_lab."):
            for attr, value in list(vars(module).items()):
                if callable(value) and id(value) in replaced:
                    session.undo.append((module, attr, value))
                    setattr(module, attr, replaced[id(value)])
    for key, fn in list(runs.CACHEABLE.items()):
        if id(fn) in wrapped:
            session.undo.append((runs.CACHEABLE, key, fn))
            runs.CACHEABLE[key] = wrapped[id(fn)]
    real_cached = runs.cached

    @functools.wraps(real_cached)
    def cached(fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Counted like a direct call: nothing is loaded or stored (GAN_LAB_REUSE=0 trains every call)."""
        runs.run_key(fn, *args, **kwargs)          # refuses what runs.cached refuses
        # a cacheable loop without a counter of its own runs as it is (every operator counted, nothing extrapolated)
        target = fn if getattr(fn, "__gan_lab_original__", None) else wrapped.get(id(fn), fn)
        return target(*args, **kwargs)

    session.undo.append((runs, "cached", real_cached))
    runs.cached = cached
    session.counter.start()
    return session


def uninstall(session: Session) -> None:
    """Stop counting (if still counting) and put back everything ``install`` replaced."""
    if session.counter.counting:
        session.counter.stop()
    for where, name, original in reversed(session.undo):
        if isinstance(where, dict):
            where[name] = original
        else:
            setattr(where, name, original)
    session.undo.clear()


def finish(session: Session, path: str) -> dict:
    """Stop counting and write the notebook's work (and each call's) to ``path`` as JSON."""
    if session.counter.counting:
        session.counter.stop()
    out = {"total": session.total().as_dict(), "outside": (session.counter.total - sum(
        (c.actual for c in session.calls), Work())).as_dict(), "calls": [c.as_dict() for c in session.calls],
           "calls_reused_by_size": session.reused}
    Path(path).write_text(json.dumps(out, indent=1))
    return out


# ---- running a notebook ---------------------------------------------------------------------------------------

SETUP = """import sys
sys.path.insert(0, {root!r})
import benchmarks.notebook_work as _nw
_nw_session = _nw.install(exact={exact!r})
"""
FINISH = "_nw.finish(_nw_session, {path!r});"


def count_notebook(path: Path, budget: str, *, exact: bool = False, limit: float = 600.0) -> dict:
    """Execute ``path`` at ``budget`` in a fresh kernel with the counting wrappers; its work as a costs.json
    entry. Cells run until ``limit`` seconds have passed; then the kernel is interrupted and the entry
    marked partial (what was counted so far)."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        out_path = Path(tmp) / "work.json"
        env = dict(os.environ, GAN_LAB_BUDGET=budget, GAN_LAB_REUSE="0", GAN_LAB_RUN_DIR=tmp,
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", GAN_LAB_DEVICE="cpu")
        client = NotebookClient(nb, timeout=int(limit), kernel_name="python3", allow_errors=True,
                                interrupt_on_timeout=True, resources={"metadata": {"path": str(path.parent)}})
        setup = nbformat.v4.new_code_cell(SETUP.format(root=str(ROOT), exact=exact))
        finish_cell = nbformat.v4.new_code_cell(FINISH.format(path=str(out_path)))
        nb.cells = [setup, *nb.cells, finish_cell]
        start = time.perf_counter()
        partial, failed, ran = False, [], 0
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"][1:-1]
        with client.setup_kernel(env=env):
            client.execute_cell(setup, 0)
            if any(o.get("output_type") == "error" for o in setup.outputs):
                raise RuntimeError(f"the counting set-up failed in {path.name}: {setup.outputs}")
            for i in code:
                left = limit - (time.perf_counter() - start)
                if left <= 1:
                    partial = True
                    break
                client.timeout = int(left)
                cell = nb.cells[i]
                client.execute_cell(cell, i)
                ran += 1
                errors = [o for o in cell.outputs if o.get("output_type") == "error"]
                if errors:
                    failed.append(f"cell {i - 1}: {errors[0].get('ename')}: {str(errors[0].get('evalue'))[:120]}")
                if errors and errors[0].get("ename") == "KeyboardInterrupt":
                    partial = True   # interrupted at the time limit
                    break
            client.timeout = 600
            client.execute_cell(finish_cell, len(nb.cells) - 1)
            if any(o.get("output_type") == "error" for o in finish_cell.outputs):
                raise RuntimeError(f"the counting finish failed in {path.name}: {finish_cell.outputs}")
        seconds = time.perf_counter() - start
        counted = json.loads(out_path.read_text())
    calls = counted["calls"]
    entry = {**counted["total"], "calls_reused_by_size": counted["calls_reused_by_size"], "calls": len(calls),
             "calls_run_as_they_are": sum(c["exact"] for c in calls),
             "counted": EXACT if exact else EXTRAPOLATED, "code_cells": len(code), "cells_run": ran,
             "cells_failed": len(failed), "partial": partial, "counting_seconds": round(seconds, 1)}
    return entry, failed


def compare(only: Optional[list[str]] = None) -> int:
    """Print, for each notebook and budget measured on this kind of device, the estimate from its counted work
    (this device calibrated now) next to the measurement: how far ``gl.costs.report``'s estimates are off."""
    from classroom.build import book_notebooks
    from gan_lab import costs
    table, rates = costs.load(), costs.rates_for()
    kind = costs.kind_of_device()
    print(f"rates on {kind}: R = {rates.flops_per_second:.3g} FLOP/s, L = {rates.seconds_per_dispatch * 1e6:.3g} us")
    ratios = []
    for path in book_notebooks():
        if only and path.stem not in only:
            continue
        for budget in costs.BUDGETS:
            measured, counted = costs.seconds(path.stem, budget, kind, table), costs.work(path.stem, budget, table)
            if measured is None or counted is None:
                continue
            estimate = costs.estimate_seconds(counted, rates)
            ratios.append((estimate / measured, path.stem, budget))
            print(f"{path.stem:28s} {budget:5s} measured {measured:7.1f} s  estimate {estimate:7.1f} s  "
                  f"ratio {estimate / measured:5.2f}")
    if ratios:
        lo, hi = min(ratios), max(ratios)
        print(f"estimate / measurement from {lo[0]:.2f} ({lo[1]} {lo[2]}) to {hi[0]:.2f} ({hi[1]} {hi[2]})")
    return 0


def main() -> int:
    from classroom.build import book_notebooks
    from gan_lab import costs
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", nargs="+", default=["quick", "book", "full"], choices=list(costs.BUDGETS))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--exact", action="store_true", help="count every operator of full runs (no extrapolation)")
    ap.add_argument("--limit", type=float, default=600.0, help="seconds per notebook before it is cut off")
    ap.add_argument("--dry-run", action="store_true", help="print the entries, do not write costs.json")
    ap.add_argument("--compare", action="store_true",
                    help="print estimate / measurement on this CPU for every budget measured on it, then exit")
    args = ap.parse_args()
    if args.compare:
        return compare(args.only)
    failed: list[str] = []
    for path in book_notebooks():
        if args.only and path.stem not in args.only:
            continue
        for budget in args.budgets:
            try:
                entry, errors = count_notebook(path, budget, exact=args.exact, limit=args.limit)
            except Exception as err:  # noqa: BLE001 - one notebook's failure is reported, the others counted
                failed.append(f"{path.stem} at {budget}")
                print(f"{path.stem:28s} {budget:5s} FAILED: {err!r:.600}", flush=True)
                continue
            print(f"{path.stem:28s} {budget:5s} {entry['flops']:.3e} FLOP {entry['dispatches']:.3e} dispatches "
                  f"{entry['host_seconds']:7.1f} s host, {entry['calls']} calls, {entry['cells_failed']} cells "
                  f"failed{', PARTIAL' if entry['partial'] else ''} ({entry['counting_seconds']:.0f} s)", flush=True)
            for line in errors:
                print(f"    {line}", flush=True)
            if args.dry_run:
                continue
            table = costs.load()      # read afresh: another benchmark may have written measurements meanwhile
            table.setdefault("work", {}).setdefault(path.stem, {})[budget] = entry
            table["work_machine"] = (f"counted on the CPU ({platform.processor() or platform.machine()}, float32) "
                                     f"with torch {torch.__version__}, {datetime.date.today().isoformat()}; "
                                     "benchmarks/notebook_work.py")
            costs.save(table)
    if failed:
        print(f"failed (not counted): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
