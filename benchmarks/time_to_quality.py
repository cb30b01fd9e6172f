"""Time to quality on 8 Gaussians: gan_lab's default WGAN-GP against a plain PyTorch loop.

A run reaches the bar when 2,000 generated points are within exact W1 0.10 of a fixed set of 2,000 real
points (``gl.metrics.wasserstein1``; two independent real sets of 2,000 score about 0.05, the floor, which
is reported) and cover all 8 modes with at least 20 high-quality samples each
(``gl.metrics.mode_coverage``). Both sides are checked every ``--eval-every`` generator steps with the same
rule; the score is the wall time of training until the first check that passes, *excluding* the time
spent evaluating (for gan_lab, the time inside the ``on_log`` callback, which raises ``gl.StopTraining``
once the bar is met). Network construction counts on both sides.

- gan_lab: ``gl.train("8gaussians", objective="wgan-gp", ...)`` with its defaults (plus any ``--set``).
- plain: the textbook loop at the WGAN-GP paper's toy settings (3x512 ReLU nets, batch 256, penalty 0.1,
  Adam 1e-4, betas (0.5, 0.9), 5 critic steps), ``PlainLoop`` of ``benchmarks/_plain_wgan_gp.py``.

Seeds 0..N-1 run alternately (gan_lab seed s, then plain seed s), so drift in the machine's load hits both
alike. A seed that has not reached the bar after ``--max-steps`` counts as the time of those steps and is
marked ``reached: false`` (a gan_lab run that diverges counts the same, its pace extrapolated to the cap).
The ratio is gan_lab's median seconds over the plain loop's (target <= 0.25). ``--set`` tries other gan_lab
settings, e.g. ``--set width=128 --set n_critic=3``.

    python benchmarks/time_to_quality.py [--seeds 5] [--eval-every 25] [--max-steps 5000] [--threads 1]
                                         [--only {gan_lab,plain,both}] [--set KEY=VALUE ...]

The plain loop takes about 380 s a seed on one thread, so the full run takes most of an hour; run it on an
otherwise idle machine. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import torch

import gan_lab as gl
from _plain_wgan_gp import SETTINGS as PLAIN_SETTINGS, NOISE, PlainLoop

DATA, N_EVAL, W1_BAR, MIN_MODES = "8gaussians", 2000, 0.10, 8
REAL_SEED, FLOOR_SEED, EVAL_SEED = 1_000_003, 1_000_004, 2_000_000   # streams apart from training's seeds
REPORTED = ("width", "depth", "batch_size", "n_critic", "penalty_weight", "optimizer", "lr_g", "lr_d", "betas",
            "noise_dim")


class Bar:
    """The quality check, with the time spent in it."""

    def __init__(self, real: torch.Tensor) -> None:
        self.real, self.seconds = real, 0.0

    @torch.no_grad()
    def check(self, G: torch.nn.Module, noise_dim: int, seed: int, step: int) -> dict:
        t = time.perf_counter()
        z = torch.randn(N_EVAL, noise_dim, generator=torch.Generator().manual_seed(EVAL_SEED + 100_000 * seed + step))
        gen = G(z.to(next(G.parameters()).device)).cpu()
        if not torch.isfinite(gen).all():
            out = dict(passed=False, w1=float("nan"), modes=0)
        else:
            modes = gl.metrics.mode_coverage(gen, DATA).modes_covered       # cheap: W1 only when it can pass
            w1 = gl.metrics.wasserstein1(gen, self.real) if modes >= MIN_MODES else None
            out = dict(passed=w1 is not None and w1 <= W1_BAR, w1=w1, modes=modes)
        self.seconds += time.perf_counter() - t
        return out


def run_gan_lab(seed: int, real: torch.Tensor, eval_every: int, max_steps: int,
                overrides: dict) -> tuple[dict, gl.TrainConfig]:
    bar, last = Bar(real), {}

    def on_log(result: gl.TrainResult) -> None:
        step = result.history["step"][-1]
        last.update(bar.check(result.generator, result.config.noise_dim, seed, step), steps=step)
        if last["passed"]:
            raise gl.StopTraining

    t = time.perf_counter()
    try:
        result = gl.train(DATA, objective="wgan-gp", seed=seed, eval_samples=0, progress=False,
                          log_every=eval_every, steps=max_steps, on_log=on_log, **overrides)
    except gl.TrainingDiverged as e:   # never reaches the bar: counts as the cap, at the pace it ran
        seconds = time.perf_counter() - t - bar.seconds
        m = re.search(r"step (\d+)", str(e))
        done = int(m.group(1)) if m else max(last.get("steps") or 1, 1)
        rec = _record(seed, seconds * max_steps / done, dict(last, steps=max_steps, passed=False), bar.seconds)
        return dict(rec, diverged_at=done), e.result.config
    seconds = time.perf_counter() - t - bar.seconds
    return _record(seed, seconds, last, eval_seconds=bar.seconds), result.config


def run_plain(seed: int, real: torch.Tensor, eval_every: int, max_steps: int) -> dict:
    bar, last = Bar(real), {}
    t = time.perf_counter()
    loop = PlainLoop(seed)
    for step in range(1, max_steps + 1):
        loop.iteration()
        if step % eval_every == 0 or step == max_steps:
            last.update(bar.check(loop.G, NOISE, seed, step), steps=step)
            if last["passed"]:
                break
    seconds = time.perf_counter() - t - bar.seconds
    return _record(seed, seconds, last, eval_seconds=bar.seconds)


def _record(seed: int, seconds: float, last: dict, eval_seconds: float) -> dict:
    w1 = last.get("w1")
    return dict(seed=seed, seconds=round(seconds, 2), steps=last.get("steps"), reached=bool(last.get("passed")),
                w1=None if w1 is None else round(w1, 4), modes=last.get("modes"), eval_seconds=round(eval_seconds, 2))


def summary(runs: list[dict]) -> dict:
    return dict(median_seconds=round(statistics.median(r["seconds"] for r in runs), 2),
                median_steps=statistics.median(r["steps"] for r in runs),
                reached=sum(r["reached"] for r in runs), seeds=runs)


def parse_set(items: list[str]) -> dict:
    """KEY=VALUE pairs for gl.train; VALUE is read as JSON where it parses (numbers, lists), else a string."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            v = json.loads(value)
        except json.JSONDecodeError:
            v = value
        out[key] = tuple(v) if isinstance(v, list) else v
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per side (median reported)")
    parser.add_argument("--eval-every", type=int, default=25, help="generator steps between quality checks")
    parser.add_argument("--max-steps", type=int, default=5000, help="cap on generator steps per seed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--only", choices=("gan_lab", "plain", "both"), default="both")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one of gan_lab's settings, e.g. --set width=128 --set 'betas=[0.5,0.9]'")
    args = parser.parse_args()
    if args.seeds < 1 or args.eval_every < 1 or args.max_steps < 1 or args.threads < 0:
        parser.error(f"seeds, eval-every and max-steps must be >= 1 and threads >= 0, got {vars(args)}")
    try:
        overrides = parse_set(args.set)
    except ValueError as e:
        parser.error(str(e))
    if args.threads:
        torch.set_num_threads(args.threads)

    real = gl.data.sample(DATA, N_EVAL, seed=REAL_SEED)
    floor = gl.metrics.wasserstein1(gl.data.sample(DATA, N_EVAL, seed=FLOOR_SEED), real)
    sides = ("gan_lab", "plain") if args.only == "both" else (args.only,)
    if "gan_lab" in sides:   # warm-up, and fails fast on a bad --set
        try:
            gl.train(DATA, objective="wgan-gp", steps=2, log_every=2, eval_samples=0, progress=False, **overrides)
        except ValueError as e:
            parser.error(str(e))
        except gl.TrainingDiverged:
            pass
    if "plain" in sides:
        PlainLoop(0).iteration()

    runs: dict[str, list] = {side: [] for side in sides}
    config = None
    for seed in range(args.seeds):
        if "gan_lab" in sides:
            rec, config = run_gan_lab(seed, real, args.eval_every, args.max_steps, overrides)
            runs["gan_lab"].append(rec)
        if "plain" in sides:
            runs["plain"].append(run_plain(seed, real, args.eval_every, args.max_steps))

    out: dict = dict(bar=dict(w1_max=W1_BAR, modes=MIN_MODES, min_count=20, n=N_EVAL), w1_floor=round(floor, 4))
    if "gan_lab" in sides:
        out["gan_lab"] = dict(settings={k: getattr(config, k) for k in REPORTED}, overrides=overrides,
                              **summary(runs["gan_lab"]))
    if "plain" in sides:
        out["plain"] = dict(settings=dict(PLAIN_SETTINGS, optimizer="adam"), **summary(runs["plain"]))
    if len(sides) == 2:
        out["ratio"] = round(out["gan_lab"]["median_seconds"] / out["plain"]["median_seconds"], 3)
        out["target_ratio"] = 0.25
    out.update(eval_every=args.eval_every, max_steps=args.max_steps, torch=torch.__version__,
               threads=torch.get_num_threads())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
