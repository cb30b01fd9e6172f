"""Where training runs live, and a cache of finished ones, so re-running a notebook cell loads instead of training.

    result = runs.cached(gl.train, "8gaussians", seed=0, steps=2000)      # trains once, then loads
    result = runs.cached(gl.images.train_images, train_x, config)          # the same for images
    result = runs.cached(gl.images.train_images, train_x, config, on_log=scoring.ScoreLog(test_x, every=5))
                                          # a gan_lab callback that collects: its state is stored too
    result = runs.cached(gl.train, data.ParallelLinesData(0.0), generator=nets.ParallelLines(1.0),
                         critic=nets.critic(2), noise_dim=1)    # gan_lab networks, keyed by their weights
    result = runs.cached(text_to_image.train_text_to_image, x, y, classes, config)   # chapter 9's loops too

A finished run is stored under a *key*: the SHA-256 of the training function's name, every argument (tensors
by their bytes), the budget, the seed offset, the torch version, the numerics (``settings.numerics()``: the
device, and on the CPU torch's kernel path and ``make book``'s pinning variables, so a run trained by ``make
book`` is not loaded into a Jupyter kernel that computes on other kernels) and the package's code version
(``code_version()``: a hash of every ``gan_lab`` source file). Changing any setting, or any line of gan_lab,
gives another key, so the run trains again: a cached result can never be stale. Each entry is a checkpoint
file (``gan_lab.checkpoint``: atomic, ``weights_only`` loading) plus its own SHA-256; an entry whose bytes do
not match, or that cannot be read, is reported, deleted and retrained, never loaded.

``GAN_LAB_REUSE`` decides: unset or ``1`` (a student re-running a cell) loads finished runs; ``0`` (what
``make book`` and ``make test`` set, unless ``make book REUSE=1``) always trains, and stores the result
for later. Runs live in ``run_dir()``.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
import time
import warnings
from dataclasses import asdict, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from . import checkpoint, convnets, images, infogan, loop, nets, settings, text_to_image, translation
from .data import ShapeClass
from .train import TrainConfig, TrainResult, default_critic, train, train_seeds

__all__ = ["run_dir", "code_version", "run_key", "cacheable_callback", "cached", "reuse", "checkpoint_seconds", "checkpoint_path", "CACHEABLE", "result_state",
           "restore_result",
           "save_result", "load_result"]

_PACKAGE = Path(__file__).resolve().parent
DRIVE = Path("/content/drive/MyDrive")     # where Colab mounts Google Drive


def run_dir() -> Path:
    """Where checkpoints and finished runs go: ``GAN_LAB_RUN_DIR`` if set; on Colab with Google Drive mounted,
    ``MyDrive/gan-lab-runs`` (it survives a disconnect); else ``$XDG_CACHE_HOME/gan_lab/runs`` (default
    ``~/.cache/gan_lab/runs``). The folder is created."""
    forced = os.environ.get("GAN_LAB_RUN_DIR", "").strip()
    if forced:
        path = Path(forced).expanduser()
    elif DRIVE.is_dir():
        path = DRIVE / "gan-lab-runs"
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME", "") or Path.home() / ".cache") / "gan_lab" / "runs"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"run directory {str(path)!r} cannot be created ({err.strerror}); "
                         "set GAN_LAB_RUN_DIR to a writable folder") from None
    return path


def code_version() -> str:
    """The first 16 hex digits of a SHA-256 over every ``gan_lab/**/*.py`` file (path and bytes)."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(_PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def checkpoint_seconds() -> float:
    """How often (wall-clock seconds) a toy run that ``cached`` trains saves its partial checkpoint:
    ``GAN_LAB_CHECKPOINT_SECONDS``, default 60 (a cell shorter than a minute never writes one mid-run)."""
    raw = os.environ.get("GAN_LAB_CHECKPOINT_SECONDS", "").strip()
    if not raw:
        return 60.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"GAN_LAB_CHECKPOINT_SECONDS={raw!r} must be a non-negative number of seconds")
    return value


def reuse() -> bool:
    """Whether ``cached`` may load a finished run: ``GAN_LAB_REUSE`` unset or ``1``; ``0`` always trains."""
    raw = os.environ.get("GAN_LAB_REUSE", "").strip()
    if raw not in ("", "0", "1"):
        raise ValueError(f"GAN_LAB_REUSE={raw!r} must be 0 or 1")
    return raw != "0"


def _from_gan_lab(value: Any) -> bool:
    """Whether ``value``'s class is defined in gan_lab, so that ``code_version()`` covers what it does."""
    return type(value).__module__.split(".")[0] == "gan_lab"


def _qualname(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _canonical(value: Any, where: str) -> Any:
    """A JSON-able description of an argument, exact enough that two different arguments never share it."""
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float or isinstance(value, np.floating):
        return {"float": float(value).hex()}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest = hashlib.sha256(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"").hexdigest()
        return {"tensor": [str(t.dtype), list(t.shape), digest]}
    if isinstance(value, np.ndarray):
        return _canonical(torch.from_numpy(np.ascontiguousarray(value)), where)
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]]
    if isinstance(value, dict):
        return {"dict": [[_canonical(k, where), _canonical(v, f"{where}[{k!r}]")] for k, v in sorted(value.items())]}
    if is_dataclass(value) and not isinstance(value, type) and (_from_gan_lab(value) or not callable(value)):
        return {type(value).__name__: _canonical(asdict(value), where)}
    if isinstance(value, torch.device):
        return {"device": str(value)}
    if _from_gan_lab(value) and isinstance(value, torch.nn.Module):   # its class, layout and current weights
        return {"module": [_qualname(value), repr(value), _canonical(dict(value.state_dict()), f"{where}'s weights")]}
    if _from_gan_lab(value) and callable(getattr(value, "describe", None)):   # e.g. data.ParallelLinesData
        return {"described": [_qualname(value), _canonical(value.describe(), f"{where}.describe()")]}
    raise ValueError(f"{where} = {value!r:.60} is a {type(value).__name__}, which cannot be part of a cached run's key "
                     "(callables, modules and open files from outside gan_lab have no stable identity: their code "
                     "is not in code_version()): call the function directly")


CACHEABLE = {"train": train, "train_seeds": train_seeds, "train_images": images.train_images,
             "train_text_to_image": text_to_image.train_text_to_image, "train_infogan": infogan.train_infogan,
             "train_translation": translation.train_translation}
# the loops that checkpoint every config.checkpoint_every steps (the others every checkpoint_seconds())
_STEP_CHECKPOINTED = ("train_images", "train_text_to_image", "train_infogan", "train_translation")


def _name_of(fn: Callable) -> str:
    for name, known in CACHEABLE.items():
        if fn is known:
            return name
    raise ValueError(f"runs.cached can cache {sorted(CACHEABLE)} from gan_lab, not {fn!r}")


def run_key(fn: Callable, *args: Any, **kwargs: Any) -> str:
    """The cache key of ``fn(*args, **kwargs)``: a SHA-256 over the call, the budget, the seed offset, the
    torch version, ``settings.numerics()`` and ``code_version()``. A ``generator`` or ``critic`` enters by its class, layout and
    initial weights and an ``on_log`` by what it ``describe()``s, if their classes are gan_lab's; anything
    whose code lives outside gan_lab (a lambda, a network or sampler of the caller's) raises ``ValueError``."""
    name = _name_of(fn)
    for bad in ("on_log", "generator", "critic", "checkpoint_path", "resume"):
        value = kwargs.get(bad)
        if bad == "on_log" and cacheable_callback(value):
            continue
        if bad in ("generator", "critic") and isinstance(value, torch.nn.Module) and _from_gan_lab(value):
            continue   # keyed by its class, layout and initial weights
        if value is not None and value is not False:
            raise ValueError(f"runs.cached cannot cache a call with {bad}={value!r:.60}: its effect is not in the "
                             "key (a network can be, if its class is gan_lab's; an on_log, if it is a gan_lab "
                             "callback with describe(), such as scoring.ScoreLog); call the function directly")
    # positional arguments described one by one, so an error names the parameter (the key is the same as
    # _canonical(list(args)): the names go only into messages)
    params = [p for p in inspect.signature(fn).parameters if p not in ("self",)]
    positional = ["list", [_canonical(v, f"{params[i] if i < len(params) else 'args'} (argument {i + 1})")
                           for i, v in enumerate(args)]]
    described = {"fn": name, "args": positional, "kwargs": _canonical(kwargs, "kwargs"),
                 "budget": settings.budget(), "seed_offset": settings.seed_offset(), "torch": torch.__version__,
                 "numerics": settings.numerics(), "code": code_version()}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


def cacheable_callback(on_log: Any) -> bool:
    """Whether ``cached`` can key and store a run that calls ``on_log``: a callback defined in gan_lab (so
    ``code_version()`` covers its code) that says what it computes with ``describe()`` (plain values,
    tensors by their bytes), as ``scoring.ScoreLog`` and ``estimate.GeneratorGradientLog`` do. What it
    returns is in the stored history; a ``loop.stateful`` one's state is stored too, and a loaded run
    restores it, as if the callback had watched the run."""
    return on_log is not None and _from_gan_lab(on_log) and callable(getattr(on_log, "describe", None))


def checkpoint_path(name: str, pictures: torch.Tensor, config: "images.ImageTrainConfig", *,
                    labels: Optional[torch.Tensor] = None) -> Path:
    """Where an image run saves its checkpoint so that re-running the cell (after a Colab disconnect, say)
    continues it: ``run_dir()/<name>-<key>.pt``, the key made like ``run_key`` from the images and the
    config, but without the fields a resume may change (``images.RESUMABLE_FIELDS``: steps, ...), so a
    longer run continues a shorter one. A conditional run passes its ``labels``, which are part of the key
    too. With ``GAN_LAB_REUSE=0`` (``make book``) an existing file is deleted first: the published build
    trains from scratch."""
    if not isinstance(config, images.ImageTrainConfig):
        raise ValueError(f"config must be an ImageTrainConfig, got {type(config).__name__}")
    base = replace(config, **{f: getattr(images.ImageTrainConfig(), f) for f in images.RESUMABLE_FIELDS})
    key = run_key(images.train_images, pictures, base, **({"labels": labels} if labels is not None else {}))
    path = run_dir() / f"{name}-{key}.pt"
    if not reuse() and path.exists():
        path.unlink()
    return path


# ---- a finished result as a checkpoint state, and back -------------------------------------------------------

def _cpu_state_dict(module: torch.nn.Module) -> dict:
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def _train_state(r: TrainResult) -> dict:
    out_dim = getattr(r.generator, "out_dim", None)   # None for a generator of the caller's (nets.ParallelLines)
    return {"config": asdict(r.config), "data_dim": int(out_dim) if out_dim is not None else None,
            "generator": _cpu_state_dict(r.generator), "critic": _cpu_state_dict(r.critic), "history": r.history,
            "seconds": float(r.seconds), "snapshots": [[int(s), x] for s, x in r.snapshots],
            "diverged": r.diverged, "stopped": bool(r.stopped)}


def _train_restore(s: dict, generator: Optional[torch.nn.Module] = None,
                   critic: Optional[torch.nn.Module] = None) -> TrainResult:
    tuples = {k: tuple(s["config"][k]) for k in ("betas", "targets") if s["config"].get(k) is not None}
    cfg = TrainConfig(**{**s["config"], **tuples})
    if (generator is None or critic is None) and s["data_dim"] is None:
        raise checkpoint.CheckpointError("the run trained networks of the caller's: restore it into them "
                                         "(generator=, critic=)")
    G = generator if generator is not None else nets.generator(s["data_dim"], cfg.noise_dim, width=cfg.width,
                                                               depth=cfg.depth)
    D = critic if critic is not None else default_critic(s["data_dim"], cfg.resolved())
    G.load_state_dict(s["generator"])
    D.load_state_dict(s["critic"])
    dev = settings.device()
    return TrainResult(G.to(dev), D.to(dev), cfg, s["history"], s["seconds"],
                             [(int(st), x) for st, x in s["snapshots"]], s["diverged"], s["stopped"])


def _images_state(r: images.ImageTrainResult) -> dict:
    return {"config": asdict(r.config), "generator": _cpu_state_dict(r.generator), "critic": _cpu_state_dict(r.critic),
            "history": r.history, "samples": [[int(st), x] for st, x in r.samples], "seconds": float(r.seconds),
            "start_step": int(r.start_step), "stopped": bool(r.stopped)}


def _images_restore(s: dict) -> images.ImageTrainResult:
    cfg = images.ImageTrainConfig(**{**s["config"], "betas": tuple(s["config"]["betas"])})
    G, D = images.build_networks(cfg)
    G.load_state_dict(s["generator"])
    D.load_state_dict(s["critic"])
    dev = settings.device()
    return images.ImageTrainResult(G.to(dev), D.to(dev), cfg, s["history"], [(int(st), x) for st, x in s["samples"]],
                                   s["seconds"], s["start_step"], s["stopped"])


# The chapter-9 loops: a result dataclass of networks and plain values, networks rebuilt by the module's
# build_networks(config) (whose output is named by the result's fields, in this order).
_NETWORK_RESULTS = {
    "train_text_to_image": (text_to_image.TextToImageResult, text_to_image.TextToImageConfig,
                            text_to_image.build_networks, ("generator", "critic")),
    "train_infogan": (infogan.InfoGANResult, infogan.InfoGANConfig, infogan.build_networks,
                      ("generator", "critic", "q")),
    "train_translation": (translation.TranslationResult, translation.TranslationConfig, translation.build_networks,
                          ("g_ab", "g_ba", "d_a", "d_b")),
}


def _networks_state(r: Any) -> dict:
    """Every field of the result: networks by their CPU state dicts, the config as a dict, ShapeClasses (a
    text-to-image run's classes) by their four attributes, the rest as it is (plain history and numbers)."""
    out = {}
    for f in fields(r):
        value = getattr(r, f.name)
        if isinstance(value, torch.nn.Module):
            out[f.name] = _cpu_state_dict(value)
        elif is_dataclass(value):
            out[f.name] = asdict(value)
        elif f.name == "classes":
            out[f.name] = [[c.shape, c.base_color, c.offset_sign, c.noise] for c in value]
        else:
            out[f.name] = value
    return out


def _networks_restore(kind: str, s: dict) -> Any:
    result_class, config_class, build, names = _NETWORK_RESULTS[kind]
    cfg = config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in s["config"].items()})
    built = build(cfg)
    nets_ = dict(zip(names, built.values() if isinstance(built, dict) else built))
    dev = settings.device()
    for name, net in nets_.items():
        net.load_state_dict(s[name])
        nets_[name] = net.to(dev).eval()
    plain = {k: v for k, v in s.items() if k not in (*names, "config", "kind")}
    if "classes" in plain:
        plain["classes"] = tuple(ShapeClass(*c) for c in plain["classes"])
    return result_class(**nets_, config=cfg, **plain)


def _kind(result: Any) -> str:
    if isinstance(result, images.ImageTrainResult):
        return "train_images"
    for kind, (result_class, *_) in _NETWORK_RESULTS.items():
        if isinstance(result, result_class):
            return kind
    if isinstance(result, TrainResult):
        return "train"
    if isinstance(result, list) and result and all(isinstance(r, TrainResult) for r in result):
        return "train_seeds"
    raise ValueError(f"not a gan_lab training result: {type(result).__name__}")


def result_state(result: Any) -> dict:
    """A finished ``TrainResult``, list of them (``train_seeds``), ``ImageTrainResult`` or result of a chapter-9
    loop (``TextToImageResult``, ``InfoGANResult``, ``TranslationResult``) as a checkpoint
    state (plain containers and CPU tensors), tagged with its kind; ``restore_result`` inverts it."""
    kind = _kind(result)
    if kind == "train_seeds":
        return {"kind": kind, "runs": [_train_state(r) for r in result]}
    state = {"train": _train_state, "train_images": _images_state}.get(kind, _networks_state)(result)
    return {"kind": kind, **state}


def restore_result(state: dict, *, generator: Optional[torch.nn.Module] = None,
                   critic: Optional[torch.nn.Module] = None) -> Any:
    """The result that ``result_state`` described, with fresh networks (on ``settings.device()``); a ``train``
    run of networks the caller passed is loaded into the ``generator`` and ``critic`` given (of the same
    layout: they are the templates)."""
    kind = state.get("kind")
    if kind == "train_seeds":
        return [_train_restore(s) for s in state["runs"]]
    if kind == "train":
        return _train_restore(state, generator, critic)
    if kind == "train_images":
        return _images_restore(state)
    if kind in _NETWORK_RESULTS:
        return _networks_restore(kind, state)
    raise checkpoint.CheckpointError(f"not a gan_lab result state (kind {kind!r})")


def save_result(path: "str | os.PathLike[str]", result: Any, **meta: Any) -> str:
    """Write a finished result to ``path`` (atomically, ``gan_lab.checkpoint``), with plain ``meta`` entries
    (e.g. the data set's name) beside it; returns the SHA-256 of the bytes written."""
    return checkpoint.save_checkpoint(path, {"result": result_state(result), "meta": meta})


def load_result(path: "str | os.PathLike[str]", *, generator: Optional[torch.nn.Module] = None,
                critic: Optional[torch.nn.Module] = None) -> tuple[Any, dict]:
    """``(result, meta)`` as ``save_result`` wrote them (``generator``, ``critic``: as in ``restore_result``).
    A file that is not a saved result raises ``CheckpointError`` naming it."""
    state = checkpoint.load_checkpoint(path)
    if not isinstance(state.get("result"), dict) or "kind" not in state["result"]:
        raise checkpoint.CheckpointError(f"{os.fspath(path)!r} is a gan_lab checkpoint but not a finished run "
                                         f"(keys {sorted(state)})")
    try:
        return restore_result(state["result"], generator=generator, critic=critic), dict(state.get("meta") or {})
    except (KeyError, TypeError, RuntimeError) as err:
        raise checkpoint.CheckpointError(f"{os.fspath(path)!r} holds a run this gan_lab cannot rebuild: {err}") from None


# ---- the cache -----------------------------------------------------------------------------------------------

def cached(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` for ``fn`` in ``CACHEABLE`` (``train``, ``train_seeds``, ``train_images``,
    ``text_to_image.train_text_to_image``, ``infogan.train_infogan``, ``translation.train_translation``), loaded from
    ``run_dir()`` when the same call finished before under the same budget, seed offset and code (and
    ``reuse()``), else run and stored. Bad arguments raise ``ValueError`` before any work, as ``fn`` would.

    While it trains, the run checkpoints to ``<name>-<key>.partial.pt`` beside the entry (``train`` and
    ``train_seeds`` every ``checkpoint_seconds()``, by default a minute; the image loops every ``checkpoint_every`` steps), so a cell cut off
    half-way (a Colab disconnect, an interrupted kernel) continues from there when it is run again, to the
    same result it would have reached uninterrupted; the partial file goes once the run is stored. With
    ``reuse()`` off (``make book``) a partial file is deleted first, like a finished entry: every run trains
    from its start.

    The result is the one ``fn`` returned when it ran, with its networks on ``settings.device()`` (a run
    given its ``generator`` and ``critic`` is loaded into those, as training would have left them); its
    ``seconds`` are the original training time. A corrupted entry (bytes that do not match their SHA-256, or
    a file ``load_checkpoint`` refuses) is deleted with a warning and the run trains again; so is a corrupted
    partial checkpoint. A result that cannot be stored (a batched run with a diverged seed holds NaN
    weights, which no checkpoint keeps) is returned with a warning and not cached."""
    name = _name_of(fn)
    key = run_key(fn, *args, **kwargs)
    on_log = kwargs.get("on_log")   # None, or a cacheable_callback (run_key refused any other)
    folder = run_dir()
    path, digest_path = folder / f"{name}-{key}.pt", folder / f"{name}-{key}.sha256"
    partial = folder / f"{name}-{key}.partial.pt"
    if reuse() and path.exists():
        try:
            want, got = _entry_digests(path, digest_path)
            if got != want:
                raise checkpoint.CheckpointError(f"{path.name}: SHA-256 {got[:12]}... does not match {want[:12]}...")
            result, meta = load_result(path, generator=kwargs.get("generator"), critic=kwargs.get("critic"))
            if meta.get("fn") != name or meta.get("key") != key:
                raise checkpoint.CheckpointError(f"{path.name} holds another run ({meta.get('fn')!r})")
            if loop.stateful(on_log):
                if "on_log" not in meta:
                    raise checkpoint.CheckpointError(f"{path.name} holds no state of the on_log callback")
                on_log.load_state_dict(meta["on_log"])
            _remove(partial)   # left by a run cut off after it was stored
            return result
        except (OSError, checkpoint.CheckpointError, KeyError, TypeError, RuntimeError, ValueError) as err:
            warnings.warn(f"cached run {path.name} is unreadable or corrupted ({err}); training again",
                          RuntimeWarning, stacklevel=2)
            _remove(path, digest_path)
    if not reuse():
        _remove(partial)
    saving = {"checkpoint_path": partial, "resume": "auto"}
    if name not in _STEP_CHECKPOINTED:   # image runs save every config.checkpoint_every steps instead
        saving["checkpoint_seconds"] = checkpoint_seconds()
    if partial.exists():   # a run cut off earlier: resume it, unless the file is damaged
        try:
            checkpoint.load_checkpoint(partial)
        except (OSError, checkpoint.CheckpointError) as err:
            warnings.warn(f"partial run {partial.name} cannot be resumed ({err}); training from the start",
                          RuntimeWarning, stacklevel=2)
            _remove(partial)
    result = fn(*args, **saving, **kwargs)
    try:
        digest = save_result(path, result, fn=name, key=key,
                             **({"on_log": on_log.state_dict()} if loop.stateful(on_log) else {}))
    except checkpoint.CheckpointError as err:
        warnings.warn(f"the run is not cached ({err})", RuntimeWarning, stacklevel=2)
        _remove(partial)
        return result
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{digest_path.name}.", suffix=".tmp")  # one per writer:
    with os.fdopen(fd, "w") as f:                                  # the grader stores one run in several at once
        f.write(digest + "\n")
    os.replace(tmp, digest_path)
    _remove(partial)
    return result


def _entry_digests(path: Path, digest_path: Path, *, attempts: int = 3, wait: float = 0.2) -> tuple[str, str]:
    """(the digest stored beside the entry, the SHA-256 of the entry's bytes). Another process may be storing
    the same run: it replaces the entry, then its digest, so a reader between the two sees a mismatch (or no
    digest yet) for a moment; they are read again, ``attempts`` times ``wait`` seconds apart, before a
    mismatch counts."""
    def read() -> tuple[str, str]:
        try:
            want = digest_path.read_text().strip()
        except FileNotFoundError:
            want = ""
        return want, hashlib.sha256(path.read_bytes()).hexdigest()

    for _ in range(attempts - 1):
        want, got = read()
        if got == want:
            return want, got
        time.sleep(wait)
    return read()


def _remove(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except OSError:
            pass
