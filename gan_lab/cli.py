"""The command line: ``python -m gan_lab`` (or ``gan_lab``) train | sample | evaluate.

    gan_lab train --data 8gaussians --out runs/toy --steps 3000 --objective wgan-gp
    gan_lab train --data shapes --out runs/shapes --budget book          # chapter 6's image WGAN-GP
    gan_lab sample runs/toy/run.pt --n 2000 --out points.csv              # or .png: a scatter / a grid
    gan_lab evaluate runs/toy/run.pt                                      # exact W1 and modes; FID/KID

``train`` takes every field of ``TrainConfig`` (toy data) or ``ImageTrainConfig`` (``--data shapes``) as an
option (``--lr-g``, ``--n-critic`` ...), validated by the same checks as the Python API, before anything is
written. The budget picks the defaults (steps, and for shapes the image size and width, as chapter 6 does);
options given explicitly win. ``--out DIR`` receives ``run.pt`` (the finished run, ``runs.save_result``),
``checkpoint.pt`` (image runs, every ``checkpoint_every`` steps; ``--resume`` continues from it),
``history.json`` and ``history.csv``, ``samples.png`` and ``config.json``.

Under torchrun, ``train --data shapes`` is data parallel (``gan_lab.distributed``, ``images.train_images``):

    torchrun --standalone --nproc-per-node 2 -m gan_lab train --data shapes --out runs/ddp --budget quick

trains the run of one process with batch 2 x ``--batch-size``; rank 0 writes every file. Toy runs are
refused under torchrun with more than one process: a batch of 2-D points takes microseconds, so splitting
it over processes only adds communication, and N identical copies of a toy run would only overwrite one
another's files (many toy runs at once are the job of ``train_seeds`` or a sweep).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from . import checkpoint, checks, data, distributed, images, metrics, quality, runs, settings
from .train import TrainConfig, train

TOY_DATA = ("8gaussians", "25gaussians", "swissroll")
# What a budget means on the command line (chapter 6's schedule for shapes; steps for the toys).
TOY_BUDGETS = {"quick": dict(steps=200, eval_samples=500), "book": dict(steps=3000, eval_samples=1000),
               "full": dict(steps=20_000, eval_samples=2000)}
SHAPES_BUDGETS = {
    "quick": dict(size=16, width=8, steps=40, lr=1e-3, batch_size=32, n_per_class=100),
    "book": dict(size=32, width=16, steps=300, lr=1e-3, batch_size=64, n_per_class=300),
    "full": dict(size=64, width=64, steps=20_000, lr=1e-4, batch_size=64, n_per_class=2000),
}
NOT_OPTIONS = {"progress"}      # decided by the terminal (a bar on a TTY, plain lines otherwise)


class UsageError(Exception):
    """A bad command line: reported as one line on stderr, exit status 2."""


# ---- options from the config dataclasses ---------------------------------------------------------------------

def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parse_value(name: str, text: str, default: Any) -> Any:
    """``text`` as the type of the field's default (None-default fields: a number if it reads as one)."""
    try:
        if isinstance(default, bool) or name in ("one_sided", "log_start", "spectral_norm"):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if name in ("betas", "targets"):
            parts = [float(p) for p in text.split(",")]
            if len(parts) != (2 if name == "betas" else 3):
                raise ValueError(text)
            return tuple(parts)
        if isinstance(default, int) or name in ("n_critic", "width"):
            return int(text)
        if isinstance(default, float) or name in ("lr_g", "lr_d", "penalty_weight", "clip", "label_smoothing"):
            return float(text)
        if name == "amp" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        return text
    except ValueError:
        raise UsageError(f"{_option(name)} {text!r}: not a valid value for {name}") from None


def _config_fields(cls) -> list:
    return [f for f in fields(cls) if f.name not in NOT_OPTIONS]


def _default(f) -> Any:
    return f.default if f.default is not MISSING else None


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    seen = {}
    for cls in (TrainConfig, images.ImageTrainConfig):
        for f in _config_fields(cls):
            if f.name in seen or f.name == "seed":
                continue
            seen[f.name] = cls
            parser.add_argument(_option(f.name), dest=f"opt_{f.name}", metavar="VALUE",
                                help=f"{cls.__name__}.{f.name} (default: the budget's, else {_default(f)!r})")


def _given(args: argparse.Namespace, cls) -> dict:
    """The config options given on the command line that ``cls`` has, parsed; others given are an error."""
    known = {f.name: f for f in _config_fields(cls)}
    out = {}
    for key, text in vars(args).items():
        if not key.startswith("opt_") or text is None:
            continue
        name = key[4:]
        if name not in known:
            raise UsageError(f"{_option(name)} is not an option of {cls.__name__} "
                             f"(--data {args.data}); see --help")
        out[name] = _parse_value(name, text, _default(known[name]))
    return out


# ---- train ---------------------------------------------------------------------------------------------------

def _check_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        checkpoint.check_writable(out / "run.pt")
    except (OSError, ValueError) as err:
        raise UsageError(f"--out {str(out)!r} is not writable: {err}") from None
    return out


def _write_history(out: Path, history: dict) -> None:
    (out / "history.json").write_text(json.dumps(history, indent=1))
    keys = list(history)
    n = max((len(v) for v in history.values()), default=0)
    with open(out / "history.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(keys)
        for i in range(n):
            w.writerow([history[k][i] if i < len(history[k]) else "" for k in keys])


def _save_png(path: Path, result: Any, n: int, seed: int) -> None:
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    if isinstance(result, images.ImageTrainResult):
        grid = images.image_grid(result.sample(n, seed=seed), ncols=int(math.ceil(math.sqrt(n))))
        plt.imsave(path, grid.numpy())
        return
    points = result.sample(n, seed=seed).numpy()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5)
    ax.set_aspect("equal")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def cmd_train(args: argparse.Namespace) -> int:
    world = distributed.from_env()
    if world is not None and world.size > 1:
        if args.data in TOY_DATA:
            raise UsageError(f"--data {args.data} under torchrun with {world.size} processes: toy runs train in "
                             "one process (their batches of 2-D points are too small to split; for many runs "
                             "use train_seeds or a sweep); run it as python -m gan_lab train ...")
        if args.data == "shapes":
            return _train_data_parallel(args, world)
    return _train(args)


def _device_of(world: distributed.World) -> torch.device:
    """The device of this rank: its own GPU, cuda:LOCAL_RANK, when the detected device is CUDA."""
    dev = settings.device()
    return torch.device("cuda", world.local_rank) if dev.type == "cuda" else dev


def _train_data_parallel(args: argparse.Namespace, world: distributed.World) -> int:
    """``train --data shapes`` as one rank of a torchrun job; a failure names this rank and the checkpoint."""
    dev = _device_of(world)
    with distributed.process_group(world, dev):
        try:
            return _train(args, world, dev)
        except RuntimeError as err:      # a collective that failed: another rank died, hung or lost contact
            ckpt = Path(args.out) / "checkpoint.pt"
            try:
                at = f"{ckpt} (step {checkpoint.load_checkpoint(ckpt)['step']}) is intact: rerun the same " \
                     "torchrun command with --resume to continue from it"
            except (OSError, ValueError):
                at = f"no checkpoint was written to {ckpt} yet"
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            print(f"gan_lab train: rank {world.rank} of {world.size} stopped: {first}\n"
                  f"gan_lab train: if another rank failed first, torchrun's summary names it; the last checkpoint "
                  f"{at}", file=sys.stderr, flush=True)
            return 1


def _train(args: argparse.Namespace, world: Optional[distributed.World] = None,
           device: Optional[torch.device] = None) -> int:
    main = world is None or world.main
    if args.budget:
        settings.set_budget(args.budget)
    budget = settings.budget()
    progress = sys.stderr.isatty()
    if args.data in TOY_DATA:
        options = {**TOY_BUDGETS[budget], **_given(args, TrainConfig)}
        options.setdefault("log_every", max(1, options["steps"] // 20))
        cfg = TrainConfig(**options, seed=args.seed, progress=progress).resolved()   # validates, before writing
    elif args.data == "shapes":
        preset = SHAPES_BUDGETS[budget]
        given = _given(args, images.ImageTrainConfig)
        options = {**{k: v for k, v in preset.items() if k != "n_per_class"}, **given}
        options.setdefault("log_every", max(1, options["steps"] // 20))
        options.setdefault("sample_every", max(1, options["steps"] // 5))
        options.setdefault("snapshots", 64)
        cfg = images.ImageTrainConfig(**options, seed=args.seed, progress=progress)
    else:
        raise UsageError(f"--data {args.data!r}: use one of {', '.join(TOY_DATA + ('shapes',))}")
    if args.resume and args.data == "shapes" and not (Path(args.out) / "checkpoint.pt").exists():
        raise UsageError(f"--resume: there is no {Path(args.out) / 'checkpoint.pt'} to resume from")
    out = _check_out(Path(args.out))
    if main:
        (out / "config.json").write_text(json.dumps({"data": args.data, "budget": budget,
                                                     "seed_offset": settings.seed_offset(), **asdict(cfg)}, indent=1))
    if args.data in TOY_DATA:
        if settings.device().type == "cpu":
            torch.set_num_threads(1)   # as the chapters do: the toy nets are too small for more threads to help
        if args.resume and (out / "run.pt").exists():
            done, meta = runs.load_result(out / "run.pt")
            if asdict(done.config) == asdict(cfg):
                print(f"{out / 'run.pt'} is this run, finished: nothing to do")
                return 0
        result = train(args.data, cfg, on_log=None if progress else _plain_log)
    else:
        pictures = data.to_tensor(data.shapes_dataset(data.SHAPES_TRAIN, preset["n_per_class"], size=cfg.size,
                                                      seed=args.seed)[0])
        ckpt = out / "checkpoint.pt"
        result = images.train_images(pictures, cfg, checkpoint_path=ckpt, resume=bool(args.resume), device=device,
                                     on_log=None if progress else _plain_log)
    if not main:
        return 0
    runs.save_result(out / "run.pt", result, data=args.data, budget=budget)
    _write_history(out, result.history)
    _save_png(out / "samples.png", result, 64 if args.data == "shapes" else 2000, seed=0)
    last = {k: v[-1] for k, v in result.history.items() if v and isinstance(v[-1], (int, float))}
    ranks = f" on {world.size} processes (global batch {world.size * cfg.batch_size})" if world else ""
    print(f"trained {args.data} for {cfg.steps} generator steps{ranks} in {result.seconds:.1f} s; last log: "
          + ", ".join(f"{k} {v:.4g}" for k, v in last.items()))
    print(f"wrote {out}/run.pt, history.json, history.csv, samples.png, config.json")
    return 0


def _plain_log(result: Any) -> None:
    h = result.history
    step = h["step"][-1]
    value = h.get("w1", h.get("estimate", [float("nan")]))[-1]
    print(f"step {step}: {'W1' if 'w1' in h else 'estimate'} {value:.4g}", flush=True)


# ---- sample and evaluate ----------------------------------------------------------------------------------------

def _load(path: str) -> tuple[Any, dict]:
    if not os.path.exists(path):
        raise UsageError(f"no checkpoint at {path!r}")
    try:
        return runs.load_result(path)
    except checkpoint.CheckpointError as err:
        raise UsageError(str(err).splitlines()[0]) from None


def cmd_sample(args: argparse.Namespace) -> int:
    n = checks.integer("--n", args.n, 1)
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".csv"):
        raise UsageError(f"--out {args.out!r}: give a .png (image grid / scatter) or .csv (toy points) file")
    if out.exists() and out.is_dir():
        raise UsageError(f"--out {args.out!r} is a directory")
    result, meta = _load(args.checkpoint)
    if isinstance(result, list):
        result = result[0]
    if out.suffix.lower() == ".csv":
        if isinstance(result, images.ImageTrainResult):
            raise UsageError("image runs sample to a .png grid, not .csv")
        np.savetxt(out, result.sample(n, seed=args.seed).numpy(), delimiter=",", header="x,y", comments="")
    else:
        _save_png(out, result, n, args.seed)
    print(f"wrote {n} samples of {meta.get('data', 'the run')} to {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    checks.integer("--n", args.n, 1)
    result, meta = _load(args.checkpoint)
    if isinstance(result, list):
        result = result[0]
    name = meta.get("data")
    if isinstance(result, images.ImageTrainResult):
        size = result.config.size
        clf_x, clf_y = data.shapes_dataset(data.SHAPES_TRAIN, 100, size=size, seed=1)
        classifier = quality.train_classifier(clf_x, clf_y, epochs=10, seed=0)
        real, _ = data.shapes_dataset(data.SHAPES_TRAIN, max(1, args.n // len(data.SHAPES_TRAIN)), size=size,
                                      seed=3)
        fake = result.sample(len(real), seed=args.seed)
        kid, kid_std = quality.kernel_inception_distance(real, fake, classifier, subsets=20,
                                                         subset_size=min(100, len(real)))
        scores = {"data": name, "n": len(real), "fid": quality.frechet_distance(real, fake, classifier),
                  "kid": kid, "kid_std": kid_std}
    else:
        if name not in TOY_DATA:
            raise UsageError(f"{args.checkpoint!r} was trained on {name!r}; evaluate knows {TOY_DATA} and shapes")
        fake = result.sample(args.n, seed=args.seed)
        real = data.sample(name, args.n, seed=args.seed + 1)
        scores = {"data": name, "n": args.n, "w1": metrics.wasserstein1(fake, real)}
        if name != "swissroll":
            cov = metrics.mode_coverage(fake, name)
            scores.update(modes_covered=cov.modes_covered, n_modes=cov.n_modes, hq_fraction=cov.high_quality_fraction)
    for key, value in scores.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(scores, indent=1))
    return 0


# ---- the parser ------------------------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gan_lab", description="Train, sample and evaluate the book's GANs.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a GAN and write its run to --out")
    t.add_argument("--data", required=True, help=f"{', '.join(TOY_DATA)} or shapes")
    t.add_argument("--out", required=True, help="directory for run.pt, history, samples.png, config.json")
    t.add_argument("--budget", choices=settings.BUDGETS, help="defaults for steps etc. (default: GAN_LAB_BUDGET, else book)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue the run in --out (image runs: checkpoint.pt)")
    _add_config_options(t)
    t.set_defaults(run=cmd_train)
    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("checkpoint", help="a run.pt written by train")
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--out", required=True, help=".png (grid or scatter) or .csv (toy points)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(run=cmd_sample)
    e = sub.add_parser("evaluate", help="the book's scores for a trained run")
    e.add_argument("checkpoint")
    e.add_argument("--n", type=int, default=2000, help="samples to compare")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", help="also write the scores here")
    e.set_defaults(run=cmd_evaluate)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as err:
        p.exit(2, f"gan_lab {args.command}: error: {err}\n")
    except ValueError as err:      # the API's own validation (configs, seeds, data): the same messages
        p.exit(2, f"gan_lab {args.command}: error: {err}\n")
    return 1
