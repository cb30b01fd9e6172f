"""What every training loop in gan_lab shares, written once.

``train`` (toy MLPs, any objective, batched seeds) and ``images.train_images`` (conv nets, checkpoints,
data parallel) are separate loops because their data, networks and bookkeeping differ; what they have in
common lives here, so a change to one is a change to both:

- stopping: ``StopTraining`` (raised by an ``on_log`` callback to end a run) and ``TrainingDiverged``
  (a NaN/Inf loss; it carries the partial result);
- ``configure``: a config dataclass with keyword overrides, unknown names refused (a new objective drops the
  old one's own settings);
- ``check_on_log``, ``log_extras`` and ``stateful``: the ``on_log(result) -> dict`` protocol (a callback
  that collects things, such as ``scoring.ScoreLog``, has its state saved in the run's checkpoints);
- ``optimizer``: Adam (fused when the device has the kernel) or RMSProp;
- ``RunState``: what a checkpoint of a run holds, saved and restored by one pair of functions;
  ``resume_state``: a checkpoint read back and checked to be the run that asks to resume from it;
  ``restore_run``: that checkpoint loaded into the run's objects and its result.

The random streams a run draws from are named in ``settings.STREAMS``; the argument checks are ``checks``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Iterable, Optional, Union

import torch
from torch import nn

from . import checkpoint, checks, objectives, settings

__all__ = ["StopTraining", "TrainingDiverged", "configure", "check_on_log", "log_extras", "stateful", "optimizer",
           "OPTIMIZERS", "RunState", "resume_state", "restore_run"]

OPTIMIZERS = ("adam", "rmsprop")


class TrainingDiverged(FloatingPointError):
    """A loss became NaN or Inf. ``result`` holds the run up to that point (nets and history)."""

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result


class StopTraining(Exception):
    """Raise this from ``on_log`` to end training after the current log (e.g. once a quality bar is met).
    The loop then returns the result as it stands; the history keeps this last log."""


def configure(config: Any, config_class: type, overrides: dict) -> Any:
    """``config`` (an instance of ``config_class``, or None for its defaults) with the keyword ``overrides``
    applied; an override that is not a field of the class is refused, naming the known ones."""
    base = config if config is not None else config_class()
    if not isinstance(base, config_class):
        raise ValueError(f"config must be a {config_class.__name__}, got {type(base).__name__}: {base!r:.80}")
    known = {f.name for f in fields(config_class)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
    if "objective" in known and "objective" in overrides:
        # a change of objective takes the old objective's own settings with it (objectives.override): a
        # WGAN-GP config's penalty weight does not follow it to objective="gan"
        values = {name: getattr(base, name) for name in known}
        kept = objectives.override(values, overrides)
        return config_class(**{name: kept.get(name) for name in known})
    return replace(base, **overrides)


def check_on_log(on_log: Optional[Callable]) -> None:
    if on_log is not None and not callable(on_log):
        raise ValueError(f"on_log must be a callable taking the result, got {on_log!r}")


def _plain(key: str, value: Any) -> Any:
    """An ``on_log`` value as a plain Python value (NumPy and tensor scalars become floats), so that the
    history can always be checkpointed."""
    if type(value) in (bool, int, float, str):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"on_log must return a dict of numbers or strings, got {key!r}: {value!r}") from None


def log_extras(on_log: Callable, result: Any, step: int) -> tuple[dict, bool]:
    """Call ``on_log(result)`` at a log: returns (the extra numbers it asked to record, plain values; whether
    it raised ``StopTraining``). It may return None or a dict of numbers or strings."""
    try:
        extra = on_log(result)
    except StopTraining:
        return {}, True
    if extra is not None and not isinstance(extra, dict):
        raise ValueError(f"on_log must return None or a dict of numbers, got {type(extra).__name__}: "
                         f"{extra!r:.80} (at generator step {step})")
    return {key: _plain(key, value) for key, value in (extra or {}).items()}, False


def stateful(on_log: Any) -> bool:
    """Whether an ``on_log`` callback keeps state that a checkpoint must carry: it has ``state_dict()`` (plain
    containers and CPU tensors) and ``load_state_dict(state)``, as ``scoring.ScoreLog`` has. A resumed run
    restores it, so the callback ends holding what it would hold after an uninterrupted run."""
    return callable(getattr(on_log, "state_dict", None)) and callable(getattr(on_log, "load_state_dict", None))


def optimizer(kind: str, params: Iterable[nn.Parameter], lr: float, betas: tuple = (0.5, 0.9), *,
              fused: bool = True) -> torch.optim.Optimizer:
    """``"adam"`` (Adam(lr, betas), with the fused kernel, which does the whole update in one pass over the
    parameters, where the device has it and ``fused``) or ``"rmsprop"`` (RMSProp(lr), as the WGAN paper).
    The fused and the plain Adam agree up to rounding, not bit for bit: a caller keeps one of them."""
    checks.choice("optimizer", kind, OPTIMIZERS)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    params = list(params)
    if not fused:
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas))
    try:
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas))


@dataclass
class RunState:
    """Everything a run needs to continue exactly where it stopped, as a checkpoint holds it.

    ``modules`` maps each checkpoint key to a network or an optimiser (its state dict is saved under that
    key, e.g. ``{"generator": G, "critic": D, "opt_g": opt_g, "opt_d": opt_d}``); ``scalers`` are the
    mixed-precision GradScalers (None where there is none); ``rng`` is the training stream's generator (or
    a list of them, one per seed of a batched run); ``on_log`` is the run's callback, whose state is kept
    when it is ``stateful`` (and ignored otherwise).
    ``state(**extra)`` is the dict ``checkpoint.save_checkpoint`` writes, with the loop's own plain values
    (step, config, history, ...) added; ``restore(saved)`` loads one back into the same objects. Adding
    something to a run's state (an EMA generator, say) touches this one place.
    """

    modules: dict
    scalers: list
    rng: Union[torch.Generator, list]
    on_log: Any = None     # saved under "on_log" when ``stateful(on_log)``

    def __post_init__(self) -> None:
        if not stateful(self.on_log):
            self.on_log = None

    def keys(self) -> tuple:
        """The keys every checkpoint of this run holds besides the loop's own."""
        return (*self.modules, "scalers", "rng", *(("on_log",) if self.on_log is not None else ()))

    def state(self, **extra: Any) -> dict:
        callback = {"on_log": self.on_log.state_dict()} if self.on_log is not None else {}
        return {**{k: m.state_dict() for k, m in self.modules.items()},
                "scalers": [s.state_dict() if s is not None else None for s in self.scalers],
                "rng": [g.get_state() for g in self.rng] if isinstance(self.rng, list) else self.rng.get_state(),
                **callback, **extra}

    def restore(self, saved: dict) -> None:
        """Load ``saved`` (a ``state()`` read back) into the modules, scalers and generator, networks
        first: a network whose shapes do not fit raises ``RuntimeError`` (from ``load_state_dict``)
        before anything else changes. A stateful ``on_log`` needs its saved state: a checkpoint written
        without one raises ``ValueError`` (resuming would leave the callback without what it collected
        before the checkpoint)."""
        if self.on_log is not None and "on_log" not in saved:
            raise ValueError(f"the checkpoint holds no state of on_log ({type(self.on_log).__name__}): it was "
                             "written by a run without that callback; start afresh or resume without it")
        for k, m in sorted(self.modules.items(), key=lambda km: not isinstance(km[1], nn.Module)):
            m.load_state_dict(saved[k])
        for scaler, s in zip(self.scalers, saved["scalers"]):
            if scaler is not None and s is not None:
                scaler.load_state_dict(s)
        if isinstance(self.rng, list):
            if not isinstance(saved["rng"], list) or len(saved["rng"]) != len(self.rng):
                raise RuntimeError(f"the saved state has {len(saved['rng']) if isinstance(saved['rng'], list) else 1} "
                                   f"random stream(s), this run {len(self.rng)}")
            for g, st in zip(self.rng, saved["rng"]):
                g.set_state(st)
        else:
            self.rng.set_state(saved["rng"])
        if self.on_log is not None:
            self.on_log.load_state_dict(saved["on_log"])


def resume_state(path: str, config: Any, *, trainer: str, keys: tuple, resumable: tuple,
                 data: Optional[str] = None) -> dict:
    """The checkpoint at ``path``, checked to be the run ``config`` describes before it is resumed.

    It must be ``trainer``'s (``state["trainer"]``) and hold ``keys``; its config (``type(config)(**saved)``)
    must equal ``config`` in every field but ``resumable`` (those that do not change the numbers, e.g.
    ``steps``); it must be at a step <= ``config.steps``, from the same ``settings.seed_offset()`` and, when
    ``data`` is given, from data of that fingerprint (``state["data"]``). A file of another trainer or
    with a config this gan_lab cannot read raises ``checkpoint.CheckpointError``; a different run,
    ``ValueError``; both name the path and the difference."""
    state = checkpoint.load_checkpoint(path)
    needed = ("trainer", "step", "config", "seed_offset", *(("data",) if data is not None else ()), *keys)
    missing = [k for k in needed if k not in state]
    if missing or state["trainer"] != trainer:
        raise checkpoint.CheckpointError(f"{path!r} is a gan_lab checkpoint but not one of {trainer.rsplit('.', 1)[-1]} "
                                         f"(trainer {state.get('trainer')!r}, missing {missing})")
    try:
        saved = type(config)(**state["config"])
    except (TypeError, ValueError) as err:
        raise checkpoint.CheckpointError(f"{path!r} holds a configuration this gan_lab cannot read: {err}") from err
    diffs = [f"{f.name}: checkpoint {getattr(saved, f.name)!r}, given {getattr(config, f.name)!r}"
             for f in fields(config) if f.name not in resumable and getattr(saved, f.name) != getattr(config, f.name)]
    if diffs:
        raise ValueError(f"cannot resume from {path!r}: it was written with a different configuration "
                         f"({'; '.join(diffs)}); only {', '.join(resumable)} may change on resume")
    if data is not None and state["data"] != data:
        raise ValueError(f"cannot resume from {path!r}: it was trained on other images (data fingerprint "
                         f"{state['data']}, given {data})")
    if state["seed_offset"] != settings.seed_offset():
        raise ValueError(f"cannot resume from {path!r}: it was written with GAN_LAB_SEED_OFFSET={state['seed_offset']}, "
                         f"this process has {settings.seed_offset()}")
    if state["step"] > config.steps:
        raise ValueError(f"cannot resume from {path!r}: it is at step {state['step']}, beyond steps={config.steps}")
    return state


def restore_run(run_state: RunState, state: dict, path: str, result: Any) -> tuple[int, float]:
    """Load a checkpoint ``state`` (from ``resume_state``) into ``run_state`` and ``result``: the networks,
    optimisers and random stream, then ``result.history`` and ``result.start_step``. Returns ``(step,
    seconds)``: where the run continues and the training seconds before it. Networks that do not fit raise
    ``checkpoint.CheckpointError`` naming ``path`` before anything of the result changes."""
    try:
        run_state.restore(state)
    except (RuntimeError, KeyError) as err:
        raise checkpoint.CheckpointError(f"cannot resume from {path!r}: its networks do not fit this "
                                         f"configuration ({str(err).strip().splitlines()[0]})") from None
    result.history = {k: list(v) for k, v in state["history"].items()}
    result.start_step = int(state["step"])
    return result.start_step, float(state["seconds"])
